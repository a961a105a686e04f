//! Between stored values and RDB's neutral values (DUMP/RESTORE/MIGRATE, and RDB files).

use std::collections::VecDeque;

use super::hash::HashVal;
use super::set::SetVal;
use super::stream::{Stream, StreamId};
use super::stream_cg::{Consumer, Group, Pending};
use super::stream_lp::Lp;
use super::zset::ZSetVal;
use super::{KeyBuf, Value};

/// The RDB form of a stored value.
pub fn to_rdb(v: &Value) -> rdb::Value {
    match v {
        Value::Hash(h) => rdb::Value::Hash(h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect()),
        Value::List(l) => rdb::Value::List(l.iter().map(|e| e.to_vec()).collect()),
        Value::Set(s) => rdb::Value::Set(s.members()),
        Value::ZSet(z) if z.is_empty() => rdb::Value::ZSet(Vec::new()),
        Value::ZSet(z) => rdb::Value::ZSet(z.range_by_rank(0, z.len() - 1, false)),
        Value::Stream(st) => stream_to_rdb(st),
        s => rdb::Value::String(s.as_bytes().map(|b| b.into_owned()).unwrap_or_default()),
    }
}

/// A stored value from its RDB form; `None` for an empty collection (Redis never stores one).
pub fn from_rdb(v: rdb::Value) -> Option<Value> {
    Some(match v {
        rdb::Value::String(s) => Value::string(&s),
        rdb::Value::List(items) if items.is_empty() => return None,
        rdb::Value::List(items) => Value::List(Box::new(items.iter().map(|e| KeyBuf::new(e)).collect::<VecDeque<_>>())),
        rdb::Value::Set(members) if members.is_empty() => return None,
        rdb::Value::Set(members) => Value::Set(Box::new(SetVal::from_members(members.iter().map(|m| &m[..])))),
        rdb::Value::Hash(fields) if fields.is_empty() => return None,
        rdb::Value::Hash(fields) => {
            let mut h = HashVal::default();
            for (f, v) in &fields {
                h.insert(f, v);
            }
            Value::Hash(Box::new(h))
        }
        rdb::Value::ZSet(members) if members.is_empty() => return None,
        rdb::Value::ZSet(members) => {
            let mut z = ZSetVal::default();
            for (m, s) in &members {
                z.insert(m, *s);
            }
            Value::ZSet(Box::new(z))
        }
        rdb::Value::Stream(d) => return stream_from_rdb(*d),
    })
}

/// A stream's RDB form: nodes as they are, metadata, groups with their PELs and consumers.
fn stream_to_rdb(s: &Stream) -> rdb::Value {
    let id = |i: StreamId| (i.ms, i.seq);
    let groups = s
        .groups
        .iter()
        .map(|(name, g)| rdb::StreamGroup {
            name: name.to_vec(),
            last_id: id(g.last_id),
            entries_read: Some(g.entries_read),
            pel: g.pel.iter().map(|(pid, p)| (id(*pid), p.delivery_time, p.delivery_count)).collect(),
            consumers: g
                .consumers
                .iter()
                .map(|(cname, c)| rdb::StreamConsumer {
                    name: cname.to_vec(),
                    seen_time: c.seen_time,
                    pel: c.pel.iter().map(|p| id(*p)).collect(),
                })
                .collect(),
        })
        .collect();
    rdb::Value::Stream(Box::new(rdb::StreamData {
        nodes: s.nodes().map(|(m, lp)| (id(*m), lp.as_bytes().to_vec())).collect(),
        length: s.length,
        last_id: id(s.last_id),
        first_id: Some(id(s.first_id)),
        max_deleted_id: id(s.max_deleted_id),
        entries_added: Some(s.entries_added),
        groups,
    }))
}

/// A stream from RDB, checking every node and that the metadata agrees with them; `None` when
/// anything is inconsistent (Redis refuses such a payload).
fn stream_from_rdb(d: rdb::StreamData) -> Option<Value> {
    let id = |(ms, seq): (u64, u64)| StreamId::new(ms, seq);
    let mut s = Stream::default();
    for (master, bytes) in d.nodes {
        let lp = Lp::from_bytes(bytes)?;
        if !s.load_node(id(master), lp) {
            return None;
        }
    }
    let live = s.range(StreamId::MIN, StreamId::MAX, false, 0);
    if live.len() as u64 != d.length || live.last().is_some_and(|e| e.0 > id(d.last_id)) {
        return None;
    }
    s.length = d.length;
    s.last_id = id(d.last_id);
    s.max_deleted_id = id(d.max_deleted_id);
    s.first_id = match d.first_id {
        Some(f) => id(f),
        None => live.first().map_or(StreamId::MIN, |e| e.0),
    };
    s.entries_added = d.entries_added.unwrap_or(d.length);
    for g in d.groups {
        let mut group = Group::new(id(g.last_id), 0);
        group.entries_read = match g.entries_read {
            Some(n) => n,
            None => crate::commands::estimate_read(&s, group.last_id),
        };
        for (pid, time, count) in g.pel {
            group.pel.insert(id(pid), Pending { delivery_time: time, delivery_count: count, consumer: Box::default() });
        }
        for c in g.consumers {
            let mut consumer = Consumer { seen_time: c.seen_time, ..Default::default() };
            for pid in c.pel {
                let p = group.pel.get_mut(&id(pid))?;
                // An entry pending for two consumers is corrupt.
                if !p.consumer.is_empty() {
                    return None;
                }
                p.consumer = c.name.as_slice().into();
                consumer.pel.insert(id(pid));
            }
            if group.consumers.insert(c.name.into(), consumer).is_some() {
                return None;
            }
        }
        // Every pending entry must belong to a consumer.
        if group.pel.values().any(|p| p.consumer.is_empty()) {
            return None;
        }
        if s.groups.insert(g.name.into(), group).is_some() {
            return None;
        }
    }
    Some(Value::Stream(Box::new(s)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::stream::NodeLimits;

    fn sample() -> Stream {
        let mut s = Stream::default();
        for i in 1..=150u64 {
            let v = i.to_string();
            let f: &[u8] = if i % 4 == 0 { b"other" } else { b"f" };
            s.append(&[(f, v.as_bytes()), (b"g", b"x")], Some((StreamId::new(i, 0), true)), 0, NodeLimits::default())
                .unwrap();
        }
        s.delete_ids(&[StreamId::new(3, 0)]);
        let mut g = Group::new(StreamId::new(10, 0), 10);
        g.pel.insert(StreamId::new(5, 0), Pending { delivery_time: 7, delivery_count: 2, consumer: (*b"c").into() });
        let mut c = Consumer { seen_time: 9, ..Default::default() };
        c.pel.insert(StreamId::new(5, 0));
        g.consumers.insert((*b"c").into(), c);
        s.groups.insert((*b"g").into(), g);
        s
    }

    #[test]
    fn streams_round_trip_through_rdb() {
        let s = sample();
        let back = from_rdb(to_rdb(&Value::Stream(Box::new(s.clone())))).unwrap();
        assert_eq!(back, Value::Stream(Box::new(s)));
    }

    /// Corrupted payloads are refused or loaded, never a panic.
    #[test]
    fn corrupt_stream_payloads_do_not_panic() {
        let payload = rdb::dump(&to_rdb(&Value::Stream(Box::new(sample()))));
        let body = &payload[..payload.len() - 10];
        let mut seed = 0x1234_5678_9abc_def0u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..3000 {
            let mut b = body.to_vec();
            for _ in 0..1 + next() % 3 {
                let at = (next() as usize) % b.len();
                b[at] = next() as u8;
            }
            if let Ok(v) = rdb::decode_object(&b) {
                if let Some(Value::Stream(s)) = from_rdb(v) {
                    let _ = s.range(StreamId::MIN, StreamId::MAX, true, 0);
                    let mut s = *s;
                    s.trim(crate::keyspace::stream::Trim::MaxLen(10), false, 0);
                }
            }
        }
    }
}
