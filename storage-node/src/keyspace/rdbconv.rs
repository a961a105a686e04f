//! Between stored values and RDB's neutral values (DUMP/RESTORE/MIGRATE, and RDB files).

use std::collections::VecDeque;

use super::hash::HashVal;
use super::set::SetVal;
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
    })
}
