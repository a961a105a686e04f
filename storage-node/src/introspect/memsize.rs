//! MEMORY USAGE: Redis 7.0's objectComputeSize, with the sizes of the structures Redis would
//! allocate for the same value (robj, sds headers, dict tables, listpacks, intsets, quicklist
//! and skiplist nodes, stream radix trees) rounded up to jemalloc's size classes, which is
//! what `zmalloc_size` reports. Collections are sampled as Redis samples them.

use rdb::listpack::{backlen_size, encode_int, encode_str};

use crate::keyspace::hash::HashVal;
use crate::keyspace::set::SetVal;
use crate::keyspace::stream::{rax_nodes_of, Stream};
use crate::keyspace::value::canonical_int;
use crate::keyspace::zset::ZSetVal;
use crate::keyspace::Value;

const ROBJ: usize = 16;
const DICT_ENTRY: usize = 24;
const DICT: usize = 56;
const QUICKLIST: usize = 40;
const QUICKLIST_NODE: usize = 40;
const ZSET: usize = 16;
const ZSKIPLIST: usize = 32;
/// The skiplist header node: 24 bytes plus 32 levels of 16.
const ZSL_HEADER: usize = 24 + 32 * 16;
/// A skiplist node's expected allocation: 24 + 16 per level, levels drawn with p = 1/4.
const ZSL_NODE_EXPECTED: f64 = 53.2;
const STREAM: usize = 80;
const STREAM_CG: usize = 40;
const STREAM_NACK: usize = 24;
const STREAM_CONSUMER: usize = 24;
/// The default sample count of MEMORY USAGE (OBJ_COMPUTE_SIZE_DEF_SAMPLES).
pub const DEFAULT_SAMPLES: usize = 5;
/// quicklist nodes hold up to 8 KB with the default `list-max-listpack-size -2`.
const LIST_SIZE_LIMITS: [usize; 5] = [4096, 8192, 16384, 32768, 65536];

/// jemalloc's usable size for a request of `n` bytes (its size classes with a 16-byte quantum).
pub fn jemalloc_size(n: usize) -> usize {
    if n <= 8 {
        return 8;
    }
    if n <= 128 {
        return n.div_ceil(16) * 16;
    }
    let p = usize::BITS - (n - 1).leading_zeros();
    let step = 1usize << (p - 3);
    n.div_ceil(step) * step
}

/// sdsZmallocSize of an sds holding `len` bytes created exactly (sdsnewlen).
pub fn sds_size(len: usize) -> usize {
    let hdr = match len {
        l if l < 32 => 1,
        l if l < 256 => 3,
        l if l < 65536 => 5,
        l if (l as u64) < (1u64 << 32) => 9,
        _ => 17,
    };
    jemalloc_size(hdr + len + 1)
}

/// The size of one listpack entry holding `e` (integers are stored natively).
fn lp_entry(e: &[u8]) -> usize {
    let enc = match canonical_int(e) {
        Some(v) => encode_int(v).len(),
        None => encode_str(e).len(),
    };
    enc + backlen_size(enc)
}

/// lpBytes of a listpack of these entries: the 6-byte header, the entries, the terminator.
fn lp_bytes<'a>(entries: impl Iterator<Item = &'a [u8]>) -> usize {
    7 + entries.map(lp_entry).sum::<usize>()
}

/// A dict's bucket count after `n` inserts: 4, doubling when full. Hashes and sorted sets
/// made by a many-field HSET/ZADD are presized in Redis 7.0 (`presized`); sets are not, and
/// their last doubling is rehashed one bucket per SADD, so for a while both tables count (a
/// rehash is done after about 63% of the old table's buckets, the non-empty ones).
fn dict_slots(n: usize, presized: bool) -> usize {
    let size = n.max(4).next_power_of_two();
    if n <= 4 || presized {
        return size;
    }
    let old = size / 2;
    let steps = n - old - 1;
    if (steps as f64) < old as f64 * 0.632 {
        size + old
    } else {
        size
    }
}

/// How many to sample: 0 means all.
fn sample_count(samples: usize, len: usize) -> usize {
    if samples == 0 {
        len
    } else {
        samples.min(len)
    }
}

/// Average of the first `samples` sizes times `len`, as objectComputeSize extrapolates.
fn extrapolate(sizes: impl Iterator<Item = usize>, samples: usize, len: usize) -> usize {
    let n = sample_count(samples, len);
    if n == 0 {
        return 0;
    }
    let total: usize = sizes.take(n).sum();
    (total as f64 / n as f64 * len as f64) as usize
}

/// The value's size (objectComputeSize).
pub fn value_size(v: &Value, samples: usize, list_fill: i64) -> usize {
    match v {
        Value::Int(_) => ROBJ,
        Value::Inline { len, .. } => embstr_or_raw(*len as usize),
        Value::Str(b) => embstr_or_raw(b.len()),
        // A string grown by APPEND/SETRANGE keeps sdsMakeRoomFor's spare room.
        Value::Growable(b) => ROBJ + sds_size(b.capacity().max(b.len())),
        Value::Hash(h) => hash_size(h, samples),
        Value::List(l) => list_size(l.iter().map(|e| &e[..]), samples, list_fill),
        Value::Set(s) => set_size(s, samples),
        Value::ZSet(z) => zset_size(z, samples),
        Value::Stream(s) => stream_size(s, samples),
    }
}

/// embstr strings (up to 44 bytes) share one allocation with their robj.
fn embstr_or_raw(len: usize) -> usize {
    if len <= 44 {
        jemalloc_size(ROBJ + 3 + len + 1)
    } else {
        ROBJ + sds_size(len)
    }
}

fn hash_size(h: &HashVal, samples: usize) -> usize {
    match h {
        HashVal::Pack(pairs) => ROBJ + jemalloc_size(lp_bytes(pairs.iter().flat_map(|(f, v)| [&f[..], &v[..]]))),
        HashVal::Table(_) => {
            let n = h.len();
            let base = ROBJ + DICT + 8 * dict_slots(n, true);
            base + extrapolate(h.iter().map(|(f, v)| sds_size(f.len()) + sds_size(v.len()) + DICT_ENTRY), samples, n)
        }
    }
}

fn set_size(s: &SetVal, samples: usize) -> usize {
    match s {
        SetVal::Ints(v) => {
            let width = v.iter().map(|&x| intset_width(x)).max().unwrap_or(2);
            ROBJ + jemalloc_size(8 + width * v.len())
        }
        SetVal::Table(t) => {
            let n = t.len();
            ROBJ + DICT
                + 8 * dict_slots(n, false)
                + extrapolate(t.iter().map(|(m, _)| DICT_ENTRY + sds_size(m.len())), samples, n)
        }
    }
}

fn intset_width(x: i64) -> usize {
    if i16::try_from(x).is_ok() {
        2
    } else if i32::try_from(x).is_ok() {
        4
    } else {
        8
    }
}

fn zset_size(z: &ZSetVal, samples: usize) -> usize {
    if z.is_packed() {
        let scores: Vec<String> = z.iter().map(|(_, s)| protocol::encode::format_g17(s)).collect();
        let bytes = 7 + z.iter().zip(&scores).map(|((m, _), s)| lp_entry(m) + lp_entry(s.as_bytes())).sum::<usize>();
        return ROBJ + jemalloc_size(bytes);
    }
    let n = z.len();
    let base = ROBJ + ZSET + ZSKIPLIST + DICT + 8 * dict_slots(n, true) + jemalloc_size(ZSL_HEADER);
    let node = ZSL_NODE_EXPECTED as usize;
    base + extrapolate(z.iter().map(|(m, _)| sds_size(m.len()) + DICT_ENTRY + node), samples, n)
}

/// The listpack sizes (lpBytes) of the quicklist nodes Redis 7.0 would build for a list
/// pushed element by element: nodes filled up to `list-max-listpack-size` (a size limit when
/// negative, an entry count when positive), judged with _quicklistNodeAllowInsert's estimate.
pub fn quicklist_nodes<'a>(items: impl Iterator<Item = &'a [u8]>, fill: i64) -> Vec<usize> {
    let mut nodes: Vec<usize> = Vec::new();
    let (mut cur, mut count) = (0usize, 0usize);
    let limit_bytes = if fill < 0 { LIST_SIZE_LIMITS[((-fill - 1) as usize).min(4)] } else { usize::MAX };
    for e in items {
        let overhead = if e.len() < 254 { 1 } else { 5 }
            + match e.len() {
                l if l < 64 => 1,
                l if l < 16384 => 2,
                _ => 5,
            };
        let new_sz = cur + e.len() + overhead;
        let fits =
            count > 0 && if fill < 0 { new_sz <= limit_bytes } else { new_sz <= 8192 && count < fill.max(1) as usize };
        if !fits && count > 0 {
            nodes.push(cur);
            (cur, count) = (0, 0);
        }
        if count == 0 {
            cur = 7;
        }
        cur += lp_entry(e);
        count += 1;
    }
    if count > 0 {
        nodes.push(cur);
    }
    nodes
}

/// A list's size: the quicklist, then sampled nodes (a node struct and its listpack each).
pub fn list_size<'a>(items: impl Iterator<Item = &'a [u8]>, samples: usize, fill: i64) -> usize {
    let nodes = quicklist_nodes(items, fill);
    let n = sample_count(samples, nodes.len()).max(1);
    let sampled: usize = nodes.iter().take(n).map(|&b| QUICKLIST_NODE + jemalloc_size(b)).sum();
    ROBJ + QUICKLIST + (sampled as f64 / n as f64 * nodes.len() as f64) as usize
}

/// streamRadixTreeMemoryUsage (with its quirk: the rax struct itself is not counted).
fn rax_usage(elements: usize, nodes: usize) -> usize {
    elements * 16 + nodes * 4 + nodes * 8 * 30
}

fn stream_size(s: &Stream, samples: usize) -> usize {
    let keys: Vec<[u8; 16]> = s.nodes().map(|(id, _)| id.encode()).collect();
    let mut size = ROBJ + STREAM + rax_usage(keys.len(), s.rax_nodes());
    let allocs: Vec<usize> = s.nodes().map(|(_, lp)| jemalloc_size(lp.allocated().max(lp.bytes()))).collect();
    let n = sample_count(samples, allocs.len());
    let sampled: usize = allocs.iter().take(n).sum();
    if allocs.len() <= n {
        size += sampled;
    } else if let Some(last) = allocs.last() {
        size += sampled / n.max(1) * (allocs.len() - 1) + last;
    }
    for g in s.groups.values() {
        let pel: Vec<[u8; 16]> = g.pel.keys().map(|id| id.encode()).collect();
        size += STREAM_CG + rax_usage(pel.len(), rax_nodes_of(&pel)) + STREAM_NACK * pel.len();
        for (name, c) in &g.consumers {
            let ids: Vec<[u8; 16]> = c.pel.iter().map(|id| id.encode()).collect();
            size += STREAM_CONSUMER + name.len() + rax_usage(ids.len(), rax_nodes_of(&ids));
        }
    }
    size
}

/// MEMORY USAGE's total: the value, the key's sds and its dict entry (plus the cluster's
/// per-key slot links, dictMetadataSize, in cluster mode).
pub fn key_usage(key: &[u8], v: &Value, samples: usize, list_fill: i64, cluster: bool) -> usize {
    value_size(v, samples, list_fill) + sds_size(key.len()) + DICT_ENTRY + if cluster { 16 } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jemalloc_classes() {
        let got: Vec<usize> = [1, 8, 9, 17, 23, 128, 129, 300, 513, 4096, 4097, 20000].map(jemalloc_size).to_vec();
        assert_eq!(got, vec![8, 8, 16, 32, 32, 128, 160, 320, 640, 4096, 5120, 20480]);
    }

    #[test]
    fn strings_as_redis_counts_them() {
        // redis-server 7.0: SET foo bar -> 64, SET i 12345 -> 48, a 100-byte value -> 160.
        assert_eq!(key_usage(b"foo", &Value::string(b"bar"), 5, -2, false), 64);
        assert_eq!(key_usage(b"i", &Value::string(b"12345"), 5, -2, false), 48);
        assert_eq!(key_usage(b"r", &Value::string(&[b'x'; 100]), 5, -2, false), 160);
    }

    #[test]
    fn dict_tables_while_rehashing() {
        // 300 SADDs: the table doubled to 512 at the 257th and is still rehashing from 256.
        assert_eq!(dict_slots(300, false), 768);
        assert_eq!(dict_slots(600, true), 1024);
        assert_eq!(dict_slots(3, false), 4);
    }

    #[test]
    fn small_list() {
        // RPUSH l a b c -> 144 on redis-server 7.0.
        let items: [&[u8]; 3] = [b"a", b"b", b"c"];
        assert_eq!(list_size(items.into_iter(), 5, -2) + sds_size(1) + DICT_ENTRY, 144);
    }
}
