//! Access tracking and eviction: Redis's approximated LRU (sampled idle time) and LFU
//! (logarithmic counter with decay), plus random and TTL policies.

use std::cell::Cell;

use config::EvictionPolicy;

use super::{Db, Entry};

/// Counter given to new keys under LFU, so they are not evicted before they had a chance.
const LFU_INIT: u32 = 5;
const LFU_LOG_FACTOR: f64 = 10.0;

thread_local! {
    static RNG: Cell<u64> = const { Cell::new(0x9E37_79B9_7F4A_7C15) };
}

/// A fast thread-local pseudo-random number (sampling only, never security).
pub fn rand() -> u64 {
    RNG.with(|r| {
        let mut x = r.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        r.set(x);
        x
    })
}

/// Seeds the sampling generator (once at start).
pub fn seed(s: u64) {
    RNG.with(|r| r.set(s | 1));
}

pub fn lfu_minutes(clock: u32) -> u32 {
    (clock / 60) & 0xFFFF
}

/// Access field for a new key.
pub fn initial_access(clock: u32, lfu: bool) -> u32 {
    if lfu {
        (lfu_minutes(clock) << 8) | LFU_INIT
    } else {
        clock
    }
}

/// The LFU counter after decay (one step per elapsed minute).
pub fn lfu_counter(access: u32, clock: u32) -> u32 {
    let last = access >> 8;
    let now = lfu_minutes(clock);
    let elapsed = if now >= last { now - last } else { 0x10000 - last + now };
    (access & 0xFF).saturating_sub(elapsed)
}

/// Records an access to `e`.
pub fn touch(e: &mut Entry, clock: u32, lfu: bool) {
    if !lfu {
        e.access = clock;
        return;
    }
    let mut counter = lfu_counter(e.access, clock);
    if counter < 255 {
        let base = counter.saturating_sub(LFU_INIT) as f64;
        let p = 1.0 / (base * LFU_LOG_FACTOR + 1.0);
        if (rand() as f64 / u64::MAX as f64) < p {
            counter += 1;
        }
    }
    e.access = (lfu_minutes(clock) << 8) | counter;
}

/// Seconds since the entry was last touched (LRU mode).
pub fn idle_seconds(e: &Entry, clock: u32) -> u32 {
    clock.saturating_sub(e.access)
}

/// Picks a key to evict over every database, as Redis's performEvictions does: the random
/// policies take the databases in turn, the others the best-scored candidate of all of them.
/// Returns the database and the key.
pub fn pick_victim_in(srv: &mut crate::server::Server, samples: usize, now: i64) -> Option<(usize, Box<[u8]>)> {
    use EvictionPolicy::*;
    let policy = srv.config.maxmemory_policy;
    let n = srv.db_count();
    let random = matches!(policy, AllKeysRandom | VolatileRandom);
    let mut best: Option<(usize, Box<[u8]>, i64)> = None;
    for step in 0..n {
        let index = (srv.evict_next_db + step) % n;
        let Some((key, score)) = pick_victim_scored(srv.db_ref(index), policy, samples, now) else { continue };
        if random {
            srv.evict_next_db = (index + 1) % n;
            return Some((index, key));
        }
        if best.as_ref().is_none_or(|b| score < b.2) {
            best = Some((index, key, score));
        }
    }
    best.map(|(i, k, _)| (i, k))
}

/// Picks a key to evict under `policy`, or `None` when nothing qualifies.
#[cfg(test)]
fn pick_victim(db: &Db, policy: EvictionPolicy, samples: usize, now: i64) -> Option<Box<[u8]>> {
    pick_victim_scored(db, policy, samples, now).map(|(k, _)| k)
}

/// `pick_victim` with the candidate's score (lower is a better victim), for comparing the
/// candidates of several databases.
fn pick_victim_scored(db: &Db, policy: EvictionPolicy, samples: usize, now: i64) -> Option<(Box<[u8]>, i64)> {
    use EvictionPolicy::*;
    let volatile_only = matches!(policy, VolatileLru | VolatileLfu | VolatileRandom | VolatileTtl);
    if db.is_empty() || (volatile_only && db.volatile_len() == 0) {
        return None;
    }
    match policy {
        NoEviction => None,
        VolatileTtl => db.soonest_expiring().map(|k| (k.into(), db.peek(k).map_or(0, |e| e.expire_at))),
        AllKeysRandom => db.random_entry(rand()).map(|e| (Box::from(&*e.key), 0)),
        VolatileRandom => db.random_volatile(rand()).map(|k| (k.into(), 0)),
        AllKeysLru | VolatileLru | AllKeysLfu | VolatileLfu => {
            let lfu = matches!(policy, AllKeysLfu | VolatileLfu);
            // Lower score = better victim: LFU counter, or the negated idle time for LRU.
            let score = |e: &Entry| -> i64 {
                if lfu {
                    lfu_counter(e.access, db.access_clock) as i64
                } else {
                    -(idle_seconds(e, db.access_clock) as i64)
                }
            };
            let mut best: Option<(&Entry, i64)> = None;
            for _ in 0..samples.max(1) {
                let candidate = if volatile_only {
                    db.random_volatile(rand()).and_then(|k| db.peek(k))
                } else {
                    db.random_entry(rand())
                };
                let Some(e) = candidate else { continue };
                let s = if e.expire_at != 0 && e.expire_at <= now { i64::MIN } else { score(e) };
                if best.is_none_or(|(_, b)| s < b) {
                    best = Some((e, s));
                }
            }
            best.map(|(e, s)| (Box::from(&*e.key), s))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::Value;

    #[test]
    fn lru_prefers_idle_keys() {
        let mut db = Db::new();
        db.access_clock = 0;
        db.set(b"old", Value::Int(1), None);
        db.access_clock = 100;
        db.set(b"new", Value::Int(2), None);
        let victim = pick_victim(&db, EvictionPolicy::AllKeysLru, 20, 0).unwrap();
        assert_eq!(&*victim, b"old");
    }

    #[test]
    fn volatile_policies_only_pick_volatile_keys() {
        let mut db = Db::new();
        db.set(b"persistent", Value::Int(1), None);
        assert!(pick_victim(&db, EvictionPolicy::VolatileLru, 5, 0).is_none());
        db.set(b"ttl", Value::Int(1), Some(i64::MAX / 2));
        assert_eq!(&*pick_victim(&db, EvictionPolicy::VolatileRandom, 5, 0).unwrap(), b"ttl");
        assert_eq!(&*pick_victim(&db, EvictionPolicy::VolatileTtl, 5, 0).unwrap(), b"ttl");
        assert!(pick_victim(&db, EvictionPolicy::NoEviction, 5, 0).is_none());
    }

    #[test]
    fn lfu_counter_grows_and_decays() {
        let mut e = Entry {
            key: crate::keyspace::KeyBuf::new(b"k"),
            value: Value::Int(1),
            expire_at: 0,
            access: initial_access(0, true),
        };
        for _ in 0..1000 {
            touch(&mut e, 0, true);
        }
        let c = lfu_counter(e.access, 0);
        assert!(c > LFU_INIT, "counter {c}");
        assert!(lfu_counter(e.access, 60 * 3) < c);
    }
}
