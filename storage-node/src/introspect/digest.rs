//! DEBUG DIGEST and DIGEST-VALUE: Redis 7.0's computeDatasetDigest / xorObjectDigest. Unordered
//! collections (the keyspace, sets, hashes, sorted sets) xor their elements' SHA1 digests so
//! order does not matter; lists and streams feed the digest back into itself (mixDigest) so it
//! does.

use crate::keyspace::stream::StreamId;
use crate::keyspace::{Entry, Value};

/// A 20-byte digest.
pub type Digest = [u8; 20];

fn sha1(data: &[u8]) -> Digest {
    sha1_smol::Sha1::from(data).digest().bytes()
}

/// xorDigest: xor the SHA1 of `data` into `d`.
pub fn xor_digest(d: &mut Digest, data: &[u8]) {
    for (x, h) in d.iter_mut().zip(sha1(data)) {
        *x ^= h;
    }
}

/// mixDigest: xor the SHA1 of `data` in, then replace `d` by its own SHA1.
pub fn mix_digest(d: &mut Digest, data: &[u8]) {
    xor_digest(d, data);
    *d = sha1(d);
}

/// Redis's object type codes (OBJ_STRING ... OBJ_STREAM).
fn type_code(v: &Value) -> u32 {
    match v {
        Value::Hash(_) => 4,
        Value::List(_) => 1,
        Value::Set(_) => 2,
        Value::ZSet(_) => 3,
        Value::Stream(_) => 6,
        _ => 0,
    }
}

/// A sorted-set score as debug.c prints it (`%.17g`).
fn score_text(s: f64) -> String {
    protocol::encode::format_g17(s)
}

/// xorObjectDigest: mixes the value (and whether it has a TTL) into `d`.
pub fn object_digest(d: &mut Digest, value: &Value, has_expire: bool) {
    mix_digest(d, &type_code(value).to_be_bytes());
    match value {
        Value::Hash(h) => {
            for (f, v) in h.iter() {
                let mut e = [0u8; 20];
                mix_digest(&mut e, f);
                mix_digest(&mut e, v);
                xor_digest(d, &e);
            }
        }
        Value::List(l) => l.iter().for_each(|e| mix_digest(d, e)),
        Value::Set(s) => s.members().iter().for_each(|m| xor_digest(d, m)),
        Value::ZSet(z) => {
            for (m, s) in z.iter() {
                let mut e = [0u8; 20];
                mix_digest(&mut e, m);
                mix_digest(&mut e, score_text(s).as_bytes());
                xor_digest(d, &e);
            }
        }
        Value::Stream(s) => {
            s.visit(StreamId::MIN, StreamId::MAX, false, |(id, fields)| {
                mix_digest(d, format!("{}.{}", id.ms, id.seq).as_bytes());
                for (f, v) in &fields {
                    mix_digest(d, f);
                    mix_digest(d, v);
                }
                true
            });
        }
        other => {
            if let Some(b) = other.as_bytes() {
                mix_digest(d, &b);
            }
        }
    }
    if has_expire {
        xor_digest(d, b"!!expire!!");
    }
}

/// One key's digest as DIGEST-VALUE shows it (zeros for a missing key).
pub fn value_digest(entry: Option<&Entry>) -> Digest {
    let mut d = [0u8; 20];
    if let Some(e) = entry {
        object_digest(&mut d, &e.value, e.expire_at != 0);
    }
    d
}

/// computeDatasetDigest over numbered databases given as (index, entries).
pub fn dataset_digest<'a>(dbs: impl Iterator<Item = (u32, Vec<&'a Entry>)>) -> Digest {
    let mut fin = [0u8; 20];
    for (id, entries) in dbs {
        if entries.is_empty() {
            continue;
        }
        mix_digest(&mut fin, &id.to_be_bytes());
        for e in entries {
            let mut d = [0u8; 20];
            mix_digest(&mut d, &e.key);
            object_digest(&mut d, &e.value, e.expire_at != 0);
            xor_digest(&mut fin, &d);
        }
    }
    fin
}

/// Lowercase hex, as the replies print it.
pub fn hex(d: &Digest) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::KeyBuf;

    fn entry(key: &[u8], value: Value) -> Entry {
        Entry { key: KeyBuf::new(key), value, expire_at: 0, access: 0 }
    }

    #[test]
    fn matches_redis_server() {
        // redis-server 7.0.15 after `SET foo bar`: DEBUG DIGEST-VALUE foo and DEBUG DIGEST.
        let e = entry(b"foo", Value::string(b"bar"));
        assert_eq!(hex(&value_digest(Some(&e))), "68467c70ae30376e7ce005bcc8827f5ba7fd67dc");
        assert_eq!(hex(&value_digest(None)), "0".repeat(40));
    }

    #[test]
    fn empty_dataset_and_order_independence() {
        assert_eq!(dataset_digest(std::iter::empty()), [0u8; 20]);
        let (a, b) = (entry(b"a", Value::string(b"1")), entry(b"b", Value::string(b"2")));
        let one = dataset_digest(std::iter::once((0, vec![&a, &b])));
        let two = dataset_digest(std::iter::once((0, vec![&b, &a])));
        assert_eq!(one, two);
        assert_ne!(one, dataset_digest(std::iter::once((1, vec![&a, &b]))));
    }
}
