//! Pure merge functions for split and fanned-out requests: they take the raw sub-replies and
//! build the one reply a standalone Redis would have given. Unit-tested without sockets.

use bytes::{Bytes, BytesMut};
use protocol::Frame;

fn parse(raw: &[u8]) -> Frame {
    match Frame::parse(raw) {
        Ok(Some((f, _))) => f,
        _ => Frame::Error(Bytes::from_static(b"ERR unreadable reply from a cluster node")),
    }
}

fn encode(f: &Frame, resp3: bool) -> Bytes {
    let mut out = BytesMut::new();
    if resp3 {
        f.encode(&mut out);
    } else {
        f.encode_resp2(&mut out);
    }
    out.freeze()
}

/// The first error among sub-replies, if any (a split request fails as a whole).
fn first_error(parts: &[Bytes]) -> Option<Bytes> {
    parts.iter().find(|p| p.first() == Some(&b'-')).cloned()
}

/// MGET: `parts[i]` answered the keys at `positions[i]` of an `n`-key request.
pub fn mget(n: usize, positions: &[Vec<usize>], parts: &[Bytes], resp3: bool) -> Bytes {
    if let Some(e) = first_error(parts) {
        return e;
    }
    let mut out = vec![Frame::Null; n];
    for (pos, raw) in positions.iter().zip(parts) {
        if let Frame::Array(items) = parse(raw) {
            for (p, item) in pos.iter().zip(items) {
                out[*p] = item;
            }
        }
    }
    encode(&Frame::Array(out), resp3)
}

/// DEL, UNLINK, EXISTS, TOUCH, DBSIZE: the integer replies summed.
pub fn sum(parts: &[Bytes]) -> Bytes {
    if let Some(e) = first_error(parts) {
        return e;
    }
    let total: i64 = parts.iter().map(|p| if let Frame::Integer(n) = parse(p) { n } else { 0 }).sum();
    Bytes::from(format!(":{total}\r\n"))
}

/// MSET, FLUSHALL, SCRIPT FLUSH: OK when every part said OK, else the first error.
pub fn all_ok(parts: &[Bytes]) -> Bytes {
    first_error(parts).unwrap_or_else(|| Bytes::from_static(b"+OK\r\n"))
}

/// KEYS: the arrays concatenated.
pub fn concat(parts: &[Bytes], resp3: bool) -> Bytes {
    if let Some(e) = first_error(parts) {
        return e;
    }
    let mut all = Vec::new();
    for p in parts {
        if let Frame::Array(items) | Frame::Set(items) = parse(p) {
            all.extend(items);
        }
    }
    encode(&Frame::Array(all), resp3)
}

/// SCRIPT EXISTS: a script exists only where every master has it.
pub fn all_true(parts: &[Bytes], resp3: bool) -> Bytes {
    if let Some(e) = first_error(parts) {
        return e;
    }
    let mut acc: Option<Vec<i64>> = None;
    for p in parts {
        if let Frame::Array(items) = parse(p) {
            let flags: Vec<i64> =
                items.iter().map(|f| matches!(f, Frame::Integer(1) | Frame::Boolean(true)) as i64).collect();
            acc = Some(match acc {
                None => flags,
                Some(a) => a.iter().zip(&flags).map(|(x, y)| x & y).collect(),
            });
        }
    }
    encode(&Frame::Array(acc.unwrap_or_default().into_iter().map(Frame::Integer).collect()), resp3)
}

/// INFO: the proxy's own sections, then each master's keyspace line summed into one.
pub fn info(own: &str, parts: &[Bytes]) -> Bytes {
    let (mut keys, mut expires) = (0u64, 0u64);
    for p in parts {
        let text = match parse(p) {
            Frame::Bulk(b) | Frame::Verbatim(_, b) => b,
            _ => continue,
        };
        for line in String::from_utf8_lossy(&text).lines() {
            if let Some(rest) = line.strip_prefix("db0:") {
                for field in rest.split(',') {
                    if let Some(v) = field.strip_prefix("keys=") {
                        keys += v.parse::<u64>().unwrap_or(0);
                    } else if let Some(v) = field.strip_prefix("expires=") {
                        expires += v.parse::<u64>().unwrap_or(0);
                    }
                }
            }
        }
    }
    let mut text = own.to_string();
    text.push_str("\r\n# Keyspace\r\n");
    if keys > 0 {
        text.push_str(&format!("db0:keys={keys},expires={expires},avg_ttl=0\r\n"));
    }
    Bytes::from(format!("${}\r\n{}\r\n", text.len(), text))
}

/// The reply of an UNSUBSCRIBE family command from a client with no subscriptions.
pub fn unsubscribed(kind: &Bytes, named: bool, channels: &[Bytes], resp3: bool) -> Bytes {
    let mut out = BytesMut::new();
    let frame = |ch: Frame| Frame::Push(vec![Frame::Bulk(kind.clone()), ch, Frame::Integer(0)]);
    let frames: Vec<Frame> =
        if named { channels.iter().map(|c| frame(Frame::Bulk(c.clone()))).collect() } else { vec![frame(Frame::Null)] };
    for f in frames {
        if resp3 {
            f.encode(&mut out)
        } else {
            f.encode_resp2(&mut out)
        }
    }
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mget_restores_key_order() {
        let parts = [Bytes::from_static(b"*2\r\n$1\r\na\r\n$-1\r\n"), Bytes::from_static(b"*1\r\n$1\r\nc\r\n")];
        let merged = mget(3, &[vec![0, 2], vec![1]], &parts, false);
        assert_eq!(&merged[..], b"*3\r\n$1\r\na\r\n$1\r\nc\r\n$-1\r\n");
    }

    #[test]
    fn errors_win() {
        let parts = [Bytes::from_static(b":1\r\n"), Bytes::from_static(b"-ERR boom\r\n")];
        assert_eq!(&sum(&parts)[..], b"-ERR boom\r\n");
        assert_eq!(&all_ok(&parts)[..], b"-ERR boom\r\n");
        assert_eq!(&sum(&[Bytes::from_static(b":2\r\n"), Bytes::from_static(b":3\r\n")])[..], b":5\r\n");
    }

    #[test]
    fn keyspace_is_summed() {
        let a = Bytes::from_static(b"$36\r\n# Keyspace\r\ndb0:keys=2,expires=1,avg\r\n");
        let b = Bytes::from_static(b"$36\r\n# Keyspace\r\ndb0:keys=3,expires=0,avg\r\n");
        let merged = info("# Proxy\r\nx:1\r\n", &[a, b]);
        assert!(String::from_utf8_lossy(&merged).contains("db0:keys=5,expires=1"));
    }
}
