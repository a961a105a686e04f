//! Keyspace notifications and the keyspace hit/miss statistics: Redis 7.0's notifyKeyspaceEvent
//! (notify.c) and the counting half of lookupKeyReadWithFlags (db.c).
//!
//! Handlers call `notify` where Redis calls notifyKeyspaceEvent. Events the keyspace itself
//! raises (`new` when a key is added, `expired` on lazy and active expiry, `keymiss` on a read
//! lookup that misses) are queued in `Db::events` and published before the next handler event,
//! or when the command ends, so the stream keeps Redis's order. Everything is published on
//! this node only (in a cluster each node reports its own keys). With notifications off the
//! cost is one test of the class mask.

use bytes::Bytes;
pub use config::notify::{
    EVICTED, EXPIRED, GENERIC, HASH, KEYEVENT, KEYSPACE, KEY_MISS, LIST, NEW, SET, STREAM, STRING, ZSET,
};
use protocol::command::{flags, CommandSpec};

use super::Server;
use crate::keyspace::Entry;

/// The database number in channel names: the one the command works on.
pub fn db_index(srv: &Server) -> usize {
    srv.db_index
}

/// Publishes `event` for `key` when its class is enabled (`__keyspace@<db>__:<key>` → event,
/// `__keyevent@<db>__:<event>` → key), after any event the keyspace queued before it.
#[inline]
pub fn notify(srv: &mut Server, class: u32, event: &'static str, key: &[u8]) {
    if srv.config.notify_keyspace_events & class == 0 {
        return;
    }
    publish_slow(srv, event, key);
}

#[cold]
#[inline(never)]
fn publish_slow(srv: &mut Server, event: &str, key: &[u8]) {
    flush(srv);
    publish(srv, db_index(srv), event, key);
}

/// As `notify`, for a key of another database (MOVE's `move_to`, COPY ... DB's `copy_to`).
pub fn notify_in(srv: &mut Server, db: usize, class: u32, event: &'static str, key: &[u8]) {
    if srv.config.notify_keyspace_events & class == 0 {
        return;
    }
    flush(srv);
    publish(srv, db, event, key);
}

/// Publishes the events the keyspace queued (new, expired, keymiss): the database in place
/// first (the command's own), then any other (active expiry walks them all).
pub fn flush(srv: &mut Server) {
    if !srv.db.events.is_empty() {
        let db = srv.db_index;
        publish_queued(srv, db);
    }
    if srv.config.notify_keyspace_events & (NEW | EXPIRED) != 0 {
        for db in 0..srv.db_count() {
            if !srv.db_ref(db).events.is_empty() {
                publish_queued(srv, db);
            }
        }
    }
}

fn publish_queued(srv: &mut Server, db: usize) {
    for (class, event, key) in std::mem::take(&mut srv.db_at(db).events) {
        if srv.config.notify_keyspace_events & class != 0 {
            publish(srv, db, event, &key);
        }
    }
}

fn publish(srv: &mut Server, db: usize, event: &str, key: &[u8]) {
    let flags = srv.config.notify_keyspace_events;
    let db = db.to_string();
    if flags & KEYSPACE != 0 {
        let mut chan = Vec::with_capacity(16 + db.len() + key.len());
        chan.extend_from_slice(b"__keyspace@");
        chan.extend_from_slice(db.as_bytes());
        chan.extend_from_slice(b"__:");
        chan.extend_from_slice(key);
        crate::commands::deliver_publish(srv, None, &chan, event.as_bytes());
    }
    if flags & KEYEVENT != 0 {
        let chan = format!("__keyevent@{db}__:{event}");
        crate::commands::deliver_publish(srv, None, chan.as_bytes(), key);
    }
}

/// Copies the classes the keyspace raises itself into `Db` (at start-up after loading, and on
/// CONFIG SET).
pub fn sync(srv: &mut Server) {
    let raised = srv.config.notify_keyspace_events & (NEW | EXPIRED);
    srv.each_db_mut(|db| db.notify = raised);
}

/// A read lookup as Redis's lookupKeyRead: expires the key if due, counts a hit or a miss,
/// and queues `keymiss` on a miss.
pub fn lookup_read<'a>(srv: &'a mut Server, key: &[u8], now: i64) -> Option<&'a mut Entry> {
    let keymiss = srv.config.notify_keyspace_events & KEY_MISS != 0;
    let found = srv.db.lookup(key, now, keymiss);
    if found.is_some() {
        srv.stats.keyspace_hits += 1;
    } else {
        srv.stats.keyspace_misses += 1;
    }
    found
}

/// Which keys of a command Redis looks up for reading (and so counts in keyspace_hits/misses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reads {
    /// No read lookup, or the handler counts itself (GET, MGET).
    None,
    /// Every key of the key specs.
    All,
    /// Every key, without `keymiss` (OBJECT's LOOKUP_NONOTIFY).
    AllNoNotify,
    /// The first key only.
    First,
    /// Every key but the first (the destination of a *STORE command).
    AllButFirst,
    /// Every key, twice (XREAD looks each stream up while parsing and again to serve it).
    Twice,
    /// XREADGROUP: each stream once, and again when it exists.
    ReadGroup,
    /// SET: the key, with the GET option only.
    SetGet,
    /// BITFIELD: the key, when no SET/INCRBY makes it a write.
    BitfieldRead,
}

/// How `spec`'s keys are looked up (what redis-server 7.0 counts, command by command).
pub fn reads_of(spec: &CommandSpec) -> Reads {
    match spec.name {
        // These count in their handlers, so the hot path does one lookup.
        "get" | "mget" => Reads::None,
        // Readonly commands that look keys up without the statistics (or not at all).
        "memory|usage" | "eval_ro" | "evalsha_ro" | "fcall_ro" => Reads::None,
        "xread" => Reads::Twice,
        _ if spec.name.starts_with("object|") => Reads::AllNoNotify,
        "xreadgroup" => Reads::ReadGroup,
        "set" => Reads::SetGet,
        "bitfield" => Reads::BitfieldRead,
        "getdel" | "getex" | "getset" | "sort" | "copy" | "georadius" | "georadiusbymember" | "xclaim"
        | "xautoclaim" | "xack" => Reads::First,
        "sinterstore" | "sunionstore" | "sdiffstore" | "zunionstore" | "zinterstore" | "zdiffstore" | "zrangestore"
        | "geosearchstore" | "bitop" => Reads::AllButFirst,
        "pfmerge" | "pfcount" => Reads::All,
        _ if spec.has(flags::READONLY) => Reads::All,
        _ => Reads::None,
    }
}

/// Counts the read lookups `reads` describes for one invocation, before its handler runs
/// (each lookup also expires a due key and queues `keymiss`, as Redis's does).
pub fn count_reads(srv: &mut Server, spec: &CommandSpec, reads: Reads, args: &[Bytes], now: i64) {
    let keys = spec.key_indexes(args.len(), |i| args.get(i).map(|a| &a[..])).unwrap_or_default();
    let keys: &[usize] = match reads {
        Reads::None => return,
        Reads::First => &keys[..keys.len().min(1)],
        Reads::AllButFirst => keys.get(1..).unwrap_or_default(),
        Reads::SetGet => {
            if !args[3.min(args.len())..].iter().any(|a| a.eq_ignore_ascii_case(b"get")) {
                return;
            }
            &keys[..keys.len().min(1)]
        }
        Reads::BitfieldRead => {
            let writes =
                args.iter().skip(2).any(|a| a.eq_ignore_ascii_case(b"set") || a.eq_ignore_ascii_case(b"incrby"));
            if writes {
                return;
            }
            &keys[..keys.len().min(1)]
        }
        Reads::AllNoNotify => {
            for &i in &keys {
                // LOOKUP_NOTOUCH: an expired key goes, a live one keeps its LRU/LFU stamp.
                let live = srv.db.peek(&args[i]).map(|e| e.expire_at == 0 || e.expire_at > now);
                if live == Some(false) {
                    srv.db.get(&args[i], now);
                }
                let found = live == Some(true);
                if found {
                    srv.stats.keyspace_hits += 1;
                } else {
                    srv.stats.keyspace_misses += 1;
                }
            }
            return;
        }
        Reads::All | Reads::Twice | Reads::ReadGroup => &keys,
    };
    // A multi-key command stops at the first key of the wrong type (its WRONGTYPE reply), so
    // the keys after it are never looked up.
    let expect = if keys.len() > 1 { multi_key_types(spec.name) } else { &[] };
    let mut complete = true;
    for &i in keys {
        let found = lookup_read(srv, &args[i], now);
        let kind = found.as_ref().map(|e| e.value.type_name());
        let mut wrong = kind.is_some_and(|k| !expect.is_empty() && !expect.contains(&k));
        if matches!(spec.name, "pfcount" | "pfmerge") && keys.len() > 1 {
            // PFCOUNT and PFMERGE also stop at a string that is no HyperLogLog.
            wrong |= found.as_ref().is_some_and(|e| !e.value.raw_bytes().is_some_and(crate::keyspace::hll::is_hll));
        }
        // XREADGROUP's first pass ends at a missing stream or group (NOGROUP).
        let no_group = reads == Reads::ReadGroup
            && !found.as_ref().is_some_and(|e| match &e.value {
                crate::keyspace::value::Value::Stream(st) => st.groups.contains_key(&args[2][..]),
                _ => true,
            });
        if wrong || no_group {
            complete = false;
            break;
        }
    }
    // XREAD and XREADGROUP look every stream up again to serve it.
    if complete && matches!(reads, Reads::Twice | Reads::ReadGroup) {
        for &i in keys {
            lookup_read(srv, &args[i], now);
        }
    }
}

/// The types a multi-key read command accepts for each key, when it stops at another one.
fn multi_key_types(name: &str) -> &'static [&'static str] {
    match name {
        "bitop" | "pfcount" | "pfmerge" => &["string"],
        "sinter" | "sunion" | "sdiff" | "sinterstore" | "sunionstore" | "sdiffstore" | "sintercard" => &["set"],
        "zunion" | "zinter" | "zdiff" | "zunionstore" | "zinterstore" | "zdiffstore" | "zintercard" => &["zset", "set"],
        "xread" | "xreadgroup" => &["stream"],
        _ => &[],
    }
}

/// The *STORE commands' ending (setKey or dbDelete in Redis): a non-empty result replaces
/// `dst` (`new` when it did not exist) and raises `event`; an empty one deletes `dst`, raising
/// `del` when there was one.
pub fn store_or_delete(
    srv: &mut Server,
    dst: &[u8],
    value: Option<crate::keyspace::Value>,
    class: u32,
    event: &'static str,
) {
    match value {
        Some(v) => {
            srv.db.set(dst, v, Some(0));
            notify(srv, class, event, dst);
        }
        None => {
            if srv.db.remove(dst).is_some() {
                notify(srv, GENERIC, "del", dst);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reads(name: &str) -> Reads {
        let spec = protocol::command::COMMANDS
            .iter()
            .flat_map(|c| std::iter::once(c).chain(c.subcommands.iter()))
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no spec {name}"));
        reads_of(spec)
    }

    #[test]
    fn read_lookups_follow_what_redis_counts() {
        // Read commands count every key; GET and MGET count in their handlers.
        assert_eq!(reads("exists"), Reads::All);
        assert_eq!(reads("type"), Reads::All);
        assert_eq!(reads("get"), Reads::None);
        // Writes look their keys up without the statistics, but for their read lookups.
        assert_eq!(reads("set"), Reads::SetGet);
        assert_eq!(reads("lpush"), Reads::None);
        assert_eq!(reads("del"), Reads::None);
        assert_eq!(reads("getdel"), Reads::First);
        assert_eq!(reads("sinterstore"), Reads::AllButFirst);
        assert_eq!(reads("object|encoding"), Reads::AllNoNotify);
        assert_eq!(reads("xread"), Reads::Twice);
        assert_eq!(multi_key_types("zunionstore"), &["zset", "set"]);
        assert!(multi_key_types("exists").is_empty());
    }
}
