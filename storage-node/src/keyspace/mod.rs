//! The keyspace: one small hash table per cluster slot, an ordered index of expiry times, and
//! the bookkeeping for eviction and per-slot queries.
//!
//! Why per slot: COUNTKEYSINSLOT and GETKEYSINSLOT are direct lookups, growth rehashes one small
//! table at a time (no latency spike at a million keys), and SCAN can walk whole slots, which
//! gives Redis's guarantee (every key present for the whole iteration is returned) for free.

pub mod bits;
pub mod evict;
pub mod geohash;
pub mod hash;
pub mod hashed;
pub mod hll;
pub mod keybuf;
pub mod limits;
pub mod pqsort;
pub mod rdbconv;
pub mod set;
pub mod skiplist;
pub mod stream;
pub mod stream_cg;
pub mod stream_lp;
pub mod value;
pub mod zset;

use std::collections::BTreeSet;
use std::hash::BuildHasher;

use config::notify::{EXPIRED as NOTIFY_EXPIRED, NEW as NOTIFY_NEW};
use hashbrown::{DefaultHashBuilder, HashTable};
use protocol::{key_slot, SLOT_COUNT};

pub use keybuf::KeyBuf;
pub use value::Value;

/// One key and its value, boxed so tables hold one pointer per key.
#[derive(Debug)]
pub struct Entry {
    pub key: KeyBuf,
    pub value: Value,
    /// Absolute expiry in unix milliseconds, 0 when the key is persistent.
    pub expire_at: i64,
    /// LRU clock (seconds) or LFU counter, depending on the eviction policy.
    pub access: u32,
}

/// The keyspace of one database.
pub struct Db {
    slots: Box<[HashTable<Box<Entry>>]>,
    hasher: DefaultHashBuilder,
    len: usize,
    /// `(expire_at, key)` for every key with a TTL.
    expires: BTreeSet<(i64, Box<[u8]>)>,
    /// Keys removed by expiry since start (INFO `expired_keys`).
    pub expired_keys: u64,
    /// Access stamp given to keys touched by reads and writes.
    pub access_clock: u32,
    /// Whether `access` holds an LFU counter instead of an LRU clock.
    pub lfu: bool,
    /// Whether keys removed by expiry are noted in `expired_log` (for propagation).
    pub track_expired: bool,
    /// Keys removed by expiry since the propagation hook last looked.
    pub expired_log: Vec<Box<[u8]>>,
    /// The notification classes the keyspace raises itself (`new`, `expired`) that are on.
    pub notify: u32,
    /// Events raised here, waiting to be published in order (`server::notify`).
    pub events: Vec<Queued>,
}

/// A keyspace event waiting for `server::notify::flush`: class, event name, key.
pub type Queued = (u32, &'static str, Box<[u8]>);

impl Default for Db {
    fn default() -> Self {
        Self::new()
    }
}

/// Hints the CPU to load the cache line at `x`.
#[inline(always)]
pub fn prefetch<T>(x: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch hint has no effect on memory; the pointer comes from a reference.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>((x as *const T).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}

/// Counts a removed key out of the keyspace and its expiry (`at`, 0 for none) out of the index.
fn count_out(len: &mut usize, expires: &mut BTreeSet<(i64, Box<[u8]>)>, at: i64, key: &[u8]) {
    *len -= 1;
    if at != 0 {
        expires.remove(&(at, Box::from(key)));
    }
}

/// Milliseconds since the unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

impl Db {
    /// An empty keyspace.
    pub fn new() -> Db {
        Db {
            // The slot tables are made at the first insert: a database never written to (most
            // of the numbered ones) costs no memory.
            slots: Box::default(),
            hasher: DefaultHashBuilder::default(),
            len: 0,
            expires: BTreeSet::new(),
            expired_keys: 0,
            access_clock: 0,
            lfu: false,
            track_expired: false,
            expired_log: Vec::new(),
            notify: 0,
            events: Vec::new(),
        }
    }

    /// Number of keys, counting expired ones not yet reclaimed.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there are no keys.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of keys with a TTL.
    pub fn volatile_len(&self) -> usize {
        self.expires.len()
    }

    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The entry for `key` if present and not expired; an expired entry is removed on the way.
    pub fn get(&mut self, key: &[u8], now: i64) -> Option<&mut Entry> {
        self.lookup(key, now, false)
    }

    /// As `get`, queueing a `keymiss` event when the key is missing and `keymiss` is set.
    #[inline]
    pub fn lookup(&mut self, key: &[u8], now: i64, keymiss: bool) -> Option<&mut Entry> {
        let slot = key_slot(key) as usize;
        let hash = self.hash(key);
        // One probe: the found entry is either handed out or, expired, removed through it.
        // Fields borrowed apart, so the entry handed out borrows the tables alone.
        let Db {
            slots, len, expires, expired_keys, track_expired, expired_log, access_clock, lfu, notify, events, ..
        } = self;
        let Some(Ok(found)) = slots.get_mut(slot).map(|t| t.find_entry(hash, |e| &*e.key == key)) else {
            if keymiss {
                events.push((config::notify::KEY_MISS, "keymiss", key.into()));
            }
            return None;
        };
        let at = found.get().expire_at;
        if at == 0 || at > now {
            let entry = found.into_mut();
            evict::touch(entry, *access_clock, *lfu);
            return Some(entry);
        }
        found.remove();
        count_out(len, expires, at, key);
        *expired_keys += 1;
        if *track_expired {
            expired_log.push(key.into());
        }
        if *notify & NOTIFY_EXPIRED != 0 {
            events.push((NOTIFY_EXPIRED, "expired", key.into()));
        }
        if keymiss {
            events.push((config::notify::KEY_MISS, "keymiss", key.into()));
        }
        None
    }

    /// Bookkeeping after `entry` left the table of `slot`.
    fn forget(&mut self, slot: usize, entry: &Entry) {
        let table = &mut self.slots[slot];
        // Give memory back once a table is mostly empty, as Redis shrinks its dicts.
        if table.capacity() > 64 && table.len() * 8 < table.capacity() {
            let hasher = &self.hasher;
            table.shrink_to_fit(|e| hasher.hash_one(&*e.key));
        }
        count_out(&mut self.len, &mut self.expires, entry.expire_at, &entry.key);
    }

    /// Starts loading the entries of `keys` into the cache, so a pipeline's lookups overlap
    /// their cache misses instead of taking them one after another: first every table header,
    /// then every table's probe group, whose match hands out the entry's address to prefetch.
    pub fn prefetch(&self, keys: &[&[u8]]) {
        let mut at = [(0usize, 0u64); 32];
        let n = keys.len().min(at.len());
        for (slot_hash, key) in at.iter_mut().zip(keys) {
            *slot_hash = (key_slot(key) as usize, self.hash(key));
            if let Some(t) = self.slots.get(slot_hash.0) {
                prefetch(t);
            }
        }
        for &(slot, hash) in &at[..n] {
            let Some(t) = self.slots.get(slot) else { break };
            t.find(hash, |e| {
                prefetch(&**e);
                false
            });
        }
    }

    /// Looks at an entry without expiring it or touching its access time (OBJECT, SCAN TYPE).
    pub fn peek(&self, key: &[u8]) -> Option<&Entry> {
        let slot = key_slot(key) as usize;
        self.slots.get(slot)?.find(self.hash(key), |e| &*e.key == key).map(|e| &**e)
    }

    /// Stores `value` under `key`: an existing entry keeps its TTL when `expire_at` is `None`
    /// and gets it replaced otherwise (`Some(0)` clears it).
    pub fn set(&mut self, key: &[u8], value: Value, expire_at: Option<i64>) {
        let slot = key_slot(key) as usize;
        let hash = self.hash(key);
        if self.slots.is_empty() {
            self.slots = (0..SLOT_COUNT).map(|_| HashTable::new()).collect();
        }
        let (clock, lfu) = (self.access_clock, self.lfu);
        let hasher = &self.hasher;
        // One probe whether the key exists or not.
        match self.slots[slot].entry(hash, |e| &*e.key == key, |e| hasher.hash_one(&*e.key)) {
            hashbrown::hash_table::Entry::Occupied(mut occupied) => {
                let e = occupied.get_mut();
                if self.notify != 0 && e.expire_at != 0 && e.expire_at <= now_ms() {
                    // Redis finds the old key expired (and deletes it) before adding the new one.
                    for (class, event) in [(NOTIFY_EXPIRED, "expired"), (NOTIFY_NEW, "new")] {
                        if self.notify & class != 0 {
                            self.events.push((class, event, key.into()));
                        }
                    }
                }
                e.value = value;
                evict::touch(e, clock, lfu);
                if let Some(at) = expire_at {
                    let old = std::mem::replace(&mut e.expire_at, at);
                    if old != at {
                        if old != 0 {
                            self.expires.remove(&(old, key.into()));
                        }
                        if at != 0 {
                            self.expires.insert((at, key.into()));
                        }
                    }
                }
            }
            hashbrown::hash_table::Entry::Vacant(vacant) => {
                let at = expire_at.unwrap_or(0);
                let access = evict::initial_access(clock, lfu);
                vacant.insert(Box::new(Entry { key: KeyBuf::new(key), value, expire_at: at, access }));
                self.len += 1;
                if self.notify & NOTIFY_NEW != 0 {
                    self.events.push((NOTIFY_NEW, "new", key.into()));
                }
                if at != 0 {
                    self.expires.insert((at, key.into()));
                }
            }
        }
    }

    /// Removes a key, returning its entry.
    pub fn remove(&mut self, key: &[u8]) -> Option<Box<Entry>> {
        let slot = key_slot(key) as usize;
        let hash = self.hash(key);
        let entry = self.slots.get_mut(slot)?.find_entry(hash, |e| &*e.key == key).ok()?.remove().0;
        self.forget(slot, &entry);
        Some(entry)
    }

    /// Sets the LRU/LFU stamp of a key as given (RESTORE IDLETIME/FREQ), without touching it.
    pub fn set_access(&mut self, key: &[u8], access: u32) {
        let slot = key_slot(key) as usize;
        let hash = self.hash(key);
        if let Some(e) = self.slots.get_mut(slot).and_then(|t| t.find_mut(hash, |e| &*e.key == key)) {
            e.access = access;
        }
    }

    /// Sets or clears (`0`) the expiry of an existing key; false when the key is missing.
    pub fn set_expire(&mut self, key: &[u8], at: i64) -> bool {
        let slot = key_slot(key) as usize;
        let hash = self.hash(key);
        let Some(e) = self.slots.get_mut(slot).and_then(|t| t.find_mut(hash, |e| &*e.key == key)) else {
            return false;
        };
        let old = std::mem::replace(&mut e.expire_at, at);
        if old != 0 {
            self.expires.remove(&(old, key.into()));
        }
        if at != 0 {
            self.expires.insert((at, key.into()));
        }
        true
    }

    /// Removes every key; returns the old contents so the caller may free them elsewhere.
    pub fn take_all(&mut self) -> Db {
        let mut fresh = Db::new();
        fresh.expired_keys = self.expired_keys;
        fresh.access_clock = self.access_clock;
        fresh.lfu = self.lfu;
        fresh.track_expired = self.track_expired;
        fresh.notify = self.notify;
        std::mem::replace(self, fresh)
    }

    /// Reclaims keys whose TTL passed, at most `limit` of them; returns how many.
    pub fn expire_due(&mut self, now: i64, limit: usize) -> usize {
        let mut done = 0;
        while done < limit {
            let Some((at, key)) = self.expires.first().cloned() else {
                break;
            };
            if at > now {
                break;
            }
            self.remove(&key);
            self.expired_keys += 1;
            done += 1;
            if self.notify & NOTIFY_EXPIRED != 0 {
                self.events.push((NOTIFY_EXPIRED, "expired", key.clone()));
            }
            if self.track_expired {
                self.expired_log.push(key);
            }
        }
        done
    }

    /// Number of keys in a slot.
    pub fn count_in_slot(&self, slot: usize) -> usize {
        self.slots.get(slot).map_or(0, |t| t.len())
    }

    /// Iterates the entries of one slot.
    pub fn slot_entries(&self, slot: usize) -> impl Iterator<Item = &Entry> {
        self.slots.get(slot).into_iter().flat_map(|t| t.iter().map(|e| &**e))
    }

    /// Iterates every entry (expired ones included; callers check `expire_at`).
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.slots.iter().flat_map(|t| t.iter().map(|e| &**e))
    }

    /// A uniformly chosen entry of a random non-empty slot, `None` when empty.
    pub fn random_entry(&self, rand: u64) -> Option<&Entry> {
        if self.len == 0 {
            return None;
        }
        let start = (rand as usize) % SLOT_COUNT;
        for i in 0..SLOT_COUNT {
            let table = &self.slots[(start + i) % SLOT_COUNT];
            if !table.is_empty() {
                let nth = (rand >> 14) as usize % table.len();
                return table.iter().nth(nth).map(|e| &**e);
            }
        }
        None
    }

    /// The key with the nearest expiry (volatile-ttl eviction).
    pub fn soonest_expiring(&self) -> Option<&[u8]> {
        self.expires.first().map(|(_, k)| &**k)
    }

    /// A key with a TTL picked from a random point of the expiry order.
    pub fn random_volatile(&self, rand: u64) -> Option<&[u8]> {
        let (first, last) = (self.expires.first()?.0, self.expires.last()?.0);
        let span = (last - first).max(0) as u64 + 1;
        let pivot = first + (rand % span) as i64;
        self.expires.range((pivot, Box::default())..).next().or(self.expires.first()).map(|(_, k)| &**k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_remove_and_expiry_index() {
        let mut db = Db::new();
        db.set(b"a", Value::string(b"1"), None);
        db.set(b"b", Value::string(b"x"), Some(1000));
        assert_eq!(db.len(), 2);
        assert_eq!(db.volatile_len(), 1);
        assert!(db.get(b"a", 2000).is_some());
        assert!(db.get(b"b", 2000).is_none(), "expired on access");
        assert_eq!(db.len(), 1);
        assert_eq!(db.volatile_len(), 0);
        assert_eq!(db.expired_keys, 1);
        db.set(b"c", Value::string(b"y"), Some(500));
        db.set(b"c", Value::string(b"z"), None);
        assert_eq!(db.peek(b"c").unwrap().expire_at, 500, "None keeps the TTL");
        db.set(b"c", Value::string(b"z"), Some(0));
        assert_eq!(db.volatile_len(), 0);
        assert!(db.remove(b"a").is_some());
        assert!(db.remove(b"a").is_none());
    }

    #[test]
    fn active_expiry_and_slots() {
        let mut db = Db::new();
        for i in 0..100 {
            db.set(format!("k{i}").as_bytes(), Value::Int(i), Some(if i < 60 { 10 } else { 0 }));
        }
        assert_eq!(db.expire_due(20, 50), 50);
        assert_eq!(db.expire_due(20, 50), 10);
        assert_eq!(db.len(), 40);
        let slot = key_slot(b"k99") as usize;
        assert!(db.slot_entries(slot).any(|e| &*e.key == b"k99"));
        assert_eq!((0..SLOT_COUNT).map(|s| db.count_in_slot(s)).sum::<usize>(), 40);
        assert!(db.random_entry(12345).is_some());
    }
}
