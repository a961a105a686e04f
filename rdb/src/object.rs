//! Object bodies: picking and writing an encoding for each value the way Redis 7.0 would, and
//! reading back every encoding Redis 7.0 (or an older Redis) writes.

use crate::cursor::{Blob, Cursor};
use crate::encode::{canonical_int, format_score, write_double_bin, write_len, write_string};
use crate::listpack::{self, Elem};
use crate::{intset, ziplist, zipmap, Error, Pairs, Value};

/// RDB object type bytes.
pub(crate) mod ty {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const STREAM_LISTPACKS: u8 = 15;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const STREAM_LISTPACKS_2: u8 = 19;
    pub const SET_LISTPACK: u8 = 20;
}

// Redis 7.0's default size limits for compact encodings. Writing within them means a loaded
// value gets the same encoding Redis would give it, instead of being converted on load.
const SET_MAX_INTSET_ENTRIES: usize = 512;
const HASH_MAX_LISTPACK_ENTRIES: usize = 512;
const HASH_MAX_LISTPACK_VALUE: usize = 64;
const ZSET_MAX_LISTPACK_ENTRIES: usize = 128;
const ZSET_MAX_LISTPACK_VALUE: usize = 64;
/// `list-max-listpack-size -2`: quicklist nodes hold up to 8 KiB.
const LIST_NODE_MAX_BYTES: usize = 8192;
/// Elements this large get a PLAIN node of their own (Redis's default packed threshold).
const LIST_PLAIN_THRESHOLD: usize = 1 << 30;
/// Redis's per-element estimate when deciding whether another element fits in a node.
const LIST_ENTRY_OVERHEAD: usize = 8;

const QUICKLIST_PLAIN: u64 = 1;
const QUICKLIST_PACKED: u64 = 2;

/// Writes `<type>[<key>]<body>`. The key sits between type and body in files and is absent in
/// DUMP payloads.
pub(crate) fn write_object(out: &mut Vec<u8>, key: Option<&[u8]>, v: &Value) {
    let header = |out: &mut Vec<u8>, ty: u8| {
        out.push(ty);
        if let Some(k) = key {
            write_string(out, k);
        }
    };
    match v {
        Value::String(s) => {
            header(out, ty::STRING);
            write_string(out, s);
        }
        Value::List(items) => {
            header(out, ty::LIST_QUICKLIST_2);
            write_quicklist(out, items);
        }
        Value::Set(members) => match as_intset(members) {
            Some(ints) => {
                header(out, ty::SET_INTSET);
                write_string(out, &intset::build(&ints));
            }
            None => {
                header(out, ty::SET);
                write_len(out, members.len() as u64);
                for m in members {
                    write_string(out, m);
                }
            }
        },
        Value::Hash(pairs) => {
            let small = pairs.len() <= HASH_MAX_LISTPACK_ENTRIES
                && pairs.iter().all(|(f, v)| f.len() <= HASH_MAX_LISTPACK_VALUE && v.len() <= HASH_MAX_LISTPACK_VALUE);
            if small {
                header(out, ty::HASH_LISTPACK);
                let mut lp = listpack::Builder::new();
                for (f, v) in pairs {
                    lp.push(f);
                    lp.push(v);
                }
                write_string(out, &lp.finish());
            } else {
                header(out, ty::HASH);
                write_len(out, pairs.len() as u64);
                for (f, v) in pairs {
                    write_string(out, f);
                    write_string(out, v);
                }
            }
        }
        Value::ZSet(items) => {
            let small = items.len() <= ZSET_MAX_LISTPACK_ENTRIES
                && items.iter().all(|(m, _)| m.len() <= ZSET_MAX_LISTPACK_VALUE);
            if small {
                header(out, ty::ZSET_LISTPACK);
                // A listpack zset is kept in (score, member) order and Redis trusts that, so
                // the caller's order cannot be used as is.
                let mut sorted: Vec<&(Vec<u8>, f64)> = items.iter().collect();
                sorted.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal).then(a.0.cmp(&b.0)));
                let mut lp = listpack::Builder::new();
                for (m, score) in sorted {
                    lp.push(m);
                    lp.push(&format_score(*score));
                }
                write_string(out, &lp.finish());
            } else {
                header(out, ty::ZSET_2);
                write_len(out, items.len() as u64);
                // Redis writes skiplists from the highest score down so that each loaded element
                // goes in at the head; reverse the (usually ascending) input to match.
                for (m, score) in items.iter().rev() {
                    write_string(out, m);
                    write_double_bin(out, *score);
                }
            }
        }
        Value::Stream(st) => {
            header(out, ty::STREAM_LISTPACKS_2);
            crate::stream::write(out, st);
        }
    }
}

/// The members as sorted distinct integers, if the set qualifies for an intset.
fn as_intset(members: &[Vec<u8>]) -> Option<Vec<i64>> {
    if members.is_empty() || members.len() > SET_MAX_INTSET_ENTRIES {
        return None;
    }
    let mut ints = members.iter().map(|m| canonical_int(m)).collect::<Option<Vec<i64>>>()?;
    ints.sort_unstable();
    ints.dedup();
    Some(ints)
}

/// Quicklist (RDB_TYPE_LIST_QUICKLIST_2): `<node count>` then per node `<container><blob>`,
/// where a PACKED blob is a listpack and a PLAIN blob is one oversized element.
fn write_quicklist(out: &mut Vec<u8>, items: &[Vec<u8>]) {
    // The node count comes first, so nodes are staged and counted before being emitted.
    let mut nodes = Vec::new();
    let mut count = 0u64;
    let mut lp = listpack::Builder::new();
    let flush = |lp: &mut listpack::Builder, nodes: &mut Vec<u8>, count: &mut u64| {
        if lp.count() > 0 {
            let full = std::mem::replace(lp, listpack::Builder::new());
            write_len(nodes, QUICKLIST_PACKED);
            write_string(nodes, &full.finish());
            *count += 1;
        }
    };
    for item in items {
        if item.len() >= LIST_PLAIN_THRESHOLD {
            flush(&mut lp, &mut nodes, &mut count);
            write_len(&mut nodes, QUICKLIST_PLAIN);
            write_string(&mut nodes, item);
            count += 1;
            continue;
        }
        if lp.count() > 0 && lp.size() + item.len() + LIST_ENTRY_OVERHEAD > LIST_NODE_MAX_BYTES {
            flush(&mut lp, &mut nodes, &mut count);
        }
        lp.push(item);
    }
    flush(&mut lp, &mut nodes, &mut count);
    write_len(out, count);
    out.extend_from_slice(&nodes);
}

/// Reads `<type><body>`.
pub(crate) fn read_object(c: &mut Cursor<'_>) -> Result<Value, Error> {
    let at = c.pos();
    let t = c.u8("object type")?;
    read_body(c, t, at)
}

/// Reads the body of an object of type `t` (whose type byte was at `t_at`).
pub(crate) fn read_body(c: &mut Cursor<'_>, t: u8, t_at: usize) -> Result<Value, Error> {
    let string = |c: &mut Cursor<'_>| c.string().map(Blob::into_vec);
    Ok(match t {
        ty::STRING => Value::String(string(c)?),
        ty::LIST | ty::SET => {
            let n = c.count("element")?;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                items.push(string(c)?);
            }
            if t == ty::LIST {
                Value::List(items)
            } else {
                Value::Set(items)
            }
        }
        ty::HASH => {
            let n = c.count("field")?;
            let mut pairs = Vec::with_capacity(n);
            for _ in 0..n {
                pairs.push((string(c)?, string(c)?));
            }
            Value::Hash(pairs)
        }
        ty::ZSET | ty::ZSET_2 => {
            let n = c.count("member")?;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                let m = string(c)?;
                let at = c.pos();
                let score = if t == ty::ZSET { c.double_str()? } else { c.double_bin()? };
                if score.is_nan() {
                    return Err(Error::new(at, "zset score is NaN"));
                }
                items.push((m, score));
            }
            if t == ty::ZSET_2 {
                // Stored highest first (see write_object); hand back ascending order.
                items.reverse();
            }
            Value::ZSet(items)
        }
        ty::HASH_ZIPMAP => Value::Hash(c.string()?.parse(zipmap::parse)?),
        ty::LIST_ZIPLIST => Value::List(c.string()?.parse(|b| Ok(bytes(ziplist::parse(b)?)))?),
        ty::SET_INTSET => {
            let ints = c.string()?.parse(intset::parse)?;
            Value::Set(ints.into_iter().map(|v| v.to_string().into_bytes()).collect())
        }
        ty::SET_LISTPACK => Value::Set(c.string()?.parse(|b| Ok(bytes(listpack::parse(b)?)))?),
        ty::HASH_ZIPLIST => Value::Hash(c.string()?.parse(|b| hash_pairs(ziplist::parse(b)?))?),
        ty::HASH_LISTPACK => Value::Hash(c.string()?.parse(|b| hash_pairs(listpack::parse(b)?))?),
        ty::ZSET_ZIPLIST => Value::ZSet(c.string()?.parse(|b| zset_pairs(ziplist::parse(b)?))?),
        ty::ZSET_LISTPACK => Value::ZSet(c.string()?.parse(|b| zset_pairs(listpack::parse(b)?))?),
        ty::LIST_QUICKLIST => {
            let n = c.count("quicklist node")?;
            let mut items = Vec::new();
            for _ in 0..n {
                items.extend(c.string()?.parse(|b| Ok(bytes(ziplist::parse(b)?)))?);
            }
            Value::List(items)
        }
        ty::LIST_QUICKLIST_2 => {
            let n = c.count("quicklist node")?;
            let mut items = Vec::new();
            for _ in 0..n {
                let at = c.pos();
                match c.length()? {
                    QUICKLIST_PLAIN => items.push(string(c)?),
                    QUICKLIST_PACKED => items.extend(c.string()?.parse(|b| Ok(bytes(listpack::parse(b)?)))?),
                    other => return Err(Error::new(at, format!("unknown quicklist container {other}"))),
                }
            }
            Value::List(items)
        }
        ty::STREAM_LISTPACKS | ty::STREAM_LISTPACKS_2 => {
            Value::Stream(Box::new(crate::stream::read(c, t == ty::STREAM_LISTPACKS_2)?))
        }
        other => return Err(Error::new(t_at, format!("unsupported type {other}"))),
    })
}

fn bytes(elems: Vec<Elem<'_>>) -> Vec<Vec<u8>> {
    elems.into_iter().map(Elem::to_vec).collect()
}

fn hash_pairs(elems: Vec<Elem<'_>>) -> Result<Pairs, Error> {
    if !elems.len().is_multiple_of(2) {
        return Err(Error::new(0, "hash blob has an odd number of entries"));
    }
    Ok(elems.chunks_exact(2).map(|p| (p[0].to_vec(), p[1].to_vec())).collect())
}

fn zset_pairs(elems: Vec<Elem<'_>>) -> Result<Vec<(Vec<u8>, f64)>, Error> {
    if !elems.len().is_multiple_of(2) {
        return Err(Error::new(0, "zset blob has an odd number of entries"));
    }
    elems
        .chunks_exact(2)
        .map(|p| match p[1].to_f64() {
            Some(s) if !s.is_nan() => Ok((p[0].to_vec(), s)),
            _ => Err(Error::new(0, "zset blob has an invalid score")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode_object;

    fn with_blob(t: u8, blob: &[u8]) -> Vec<u8> {
        let mut p = vec![t];
        write_string(&mut p, blob);
        p
    }

    #[test]
    fn set_listpack_from_redis_7_2() {
        let mut lp = listpack::Builder::new();
        for m in [&b"a"[..], b"17", b"-5000"] {
            lp.push(m);
        }
        let v = decode_object(&with_blob(ty::SET_LISTPACK, &lp.finish())).unwrap();
        assert_eq!(v, Value::Set(vec![b"a".to_vec(), b"17".to_vec(), b"-5000".to_vec()]));
    }

    #[test]
    fn nested_errors_point_into_the_input() {
        let mut lp = listpack::Builder::new();
        lp.push(b"field");
        let lp = lp.finish();
        // Odd entry count: the error names the blob's first byte (after type and length).
        let e = decode_object(&with_blob(ty::HASH_LISTPACK, &lp)).unwrap_err();
        assert_eq!(e.offset, 2);
        // A corrupt byte inside the listpack is reported at its own position.
        let mut bad = lp.clone();
        bad[6] = 0xf9;
        assert_eq!(decode_object(&with_blob(ty::HASH_LISTPACK, &bad)).unwrap_err().offset, 2 + 6);
    }

    #[test]
    fn nan_scores_and_unknown_containers_are_rejected() {
        let mut p = vec![ty::ZSET_2, 1];
        write_string(&mut p, b"m");
        write_double_bin(&mut p, f64::NAN);
        assert_eq!(decode_object(&p).unwrap_err().offset, 4);
        let p = [ty::ZSET, 1, 1, b'm', 253];
        assert!(decode_object(&p).is_err());
        let p = [ty::LIST_QUICKLIST_2, 1, 3, 1, b'x'];
        assert_eq!(decode_object(&p).unwrap_err().offset, 2);
    }

    #[test]
    fn zset_listpack_is_written_sorted() {
        let v = Value::ZSet(vec![(b"b".to_vec(), 2.0), (b"z".to_vec(), 1.0), (b"a".to_vec(), 2.0)]);
        let mut out = Vec::new();
        write_object(&mut out, None, &v);
        let got = decode_object(&out).unwrap();
        assert_eq!(got, Value::ZSet(vec![(b"z".to_vec(), 1.0), (b"a".to_vec(), 2.0), (b"b".to_vec(), 2.0)]));
    }
}
