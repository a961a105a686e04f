//! Redis's encoding thresholds (`hash-max-listpack-*`, `set-max-intset-entries`,
//! `zset-max-listpack-*`): process-wide, as Redis's `server.*` fields are, and read by the
//! value types on every insert. Set from the config at start and by CONFIG SET.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use config::NodeConfig;

static HASH_ENTRIES: AtomicUsize = AtomicUsize::new(512);
static HASH_VALUE: AtomicUsize = AtomicUsize::new(64);
static SET_INTSET_ENTRIES: AtomicUsize = AtomicUsize::new(512);
static ZSET_ENTRIES: AtomicUsize = AtomicUsize::new(128);
static ZSET_VALUE: AtomicUsize = AtomicUsize::new(64);

/// Takes the thresholds of `c` (values past usize saturate).
pub fn apply(c: &NodeConfig) {
    let n = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
    HASH_ENTRIES.store(n(c.hash_max_listpack_entries), Relaxed);
    HASH_VALUE.store(n(c.hash_max_listpack_value), Relaxed);
    SET_INTSET_ENTRIES.store(n(c.set_max_intset_entries), Relaxed);
    ZSET_ENTRIES.store(n(c.zset_max_listpack_entries), Relaxed);
    ZSET_VALUE.store(n(c.zset_max_listpack_value), Relaxed);
}

pub fn hash_entries() -> usize {
    HASH_ENTRIES.load(Relaxed)
}

pub fn hash_value() -> usize {
    HASH_VALUE.load(Relaxed)
}

pub fn set_intset_entries() -> usize {
    SET_INTSET_ENTRIES.load(Relaxed)
}

pub fn zset_entries() -> usize {
    ZSET_ENTRIES.load(Relaxed)
}

pub fn zset_value() -> usize {
    ZSET_VALUE.load(Relaxed)
}
