//! Streams in RDB (rdb.c's RDB_TYPE_STREAM_LISTPACKS_2, and the older STREAM_LISTPACKS): the
//! listpack nodes as they are, keyed by their 128-bit master IDs, then the stream's metadata
//! and its consumer groups with their pending entries and consumers.

use crate::cursor::Cursor;
use crate::encode::{write_len, write_string};
use crate::{listpack, Error};

/// A stream ID as `(ms, seq)`.
pub type Id = (u64, u64);

/// A stream as RDB carries it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StreamData {
    /// Nodes: master ID and the node's listpack bytes, in ID order.
    pub nodes: Vec<(Id, Vec<u8>)>,
    pub length: u64,
    pub last_id: Id,
    /// `None` in the Redis 5/6 format: computed by the loader.
    pub first_id: Option<Id>,
    pub max_deleted_id: Id,
    /// `None` in the Redis 5/6 format.
    pub entries_added: Option<u64>,
    pub groups: Vec<StreamGroup>,
}

/// A consumer group.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StreamGroup {
    pub name: Vec<u8>,
    pub last_id: Id,
    /// `None` in the Redis 5/6 format; -1 when unknown.
    pub entries_read: Option<i64>,
    /// Pending entries: ID, last delivery (unix ms), delivery count.
    pub pel: Vec<(Id, i64, u64)>,
    pub consumers: Vec<StreamConsumer>,
}

/// A consumer and the IDs pending for it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StreamConsumer {
    pub name: Vec<u8>,
    pub seen_time: i64,
    pub pel: Vec<Id>,
}

fn raw_id(out: &mut Vec<u8>, id: Id) {
    out.extend_from_slice(&id.0.to_be_bytes());
    out.extend_from_slice(&id.1.to_be_bytes());
}

fn write_id(out: &mut Vec<u8>, id: Id) {
    write_len(out, id.0);
    write_len(out, id.1);
}

/// Writes the body of an RDB_TYPE_STREAM_LISTPACKS_2 object.
pub(crate) fn write(out: &mut Vec<u8>, s: &StreamData) {
    write_len(out, s.nodes.len() as u64);
    for (id, lp) in &s.nodes {
        let mut key = Vec::with_capacity(16);
        raw_id(&mut key, *id);
        write_string(out, &key);
        write_string(out, lp);
    }
    write_len(out, s.length);
    write_id(out, s.last_id);
    write_id(out, s.first_id.unwrap_or_default());
    write_id(out, s.max_deleted_id);
    write_len(out, s.entries_added.unwrap_or(s.length));
    write_len(out, s.groups.len() as u64);
    for g in &s.groups {
        write_string(out, &g.name);
        write_id(out, g.last_id);
        write_len(out, g.entries_read.unwrap_or(-1) as u64);
        write_len(out, g.pel.len() as u64);
        for (id, time, count) in &g.pel {
            raw_id(out, *id);
            out.extend_from_slice(&time.to_le_bytes());
            write_len(out, *count);
        }
        write_len(out, g.consumers.len() as u64);
        for c in &g.consumers {
            write_string(out, &c.name);
            out.extend_from_slice(&c.seen_time.to_le_bytes());
            write_len(out, c.pel.len() as u64);
            for id in &c.pel {
                raw_id(out, *id);
            }
        }
    }
}

fn read_raw_id(c: &mut Cursor<'_>) -> Result<Id, Error> {
    let b: [u8; 16] = c.array("stream ID")?;
    let mut ms = [0u8; 8];
    let mut seq = [0u8; 8];
    ms.copy_from_slice(&b[..8]);
    seq.copy_from_slice(&b[8..]);
    Ok((u64::from_be_bytes(ms), u64::from_be_bytes(seq)))
}

fn read_id(c: &mut Cursor<'_>) -> Result<Id, Error> {
    Ok((c.length()?, c.length()?))
}

/// Reads a stream body; `v2` for RDB_TYPE_STREAM_LISTPACKS_2 (Redis 7.0), else the 5/6 form.
pub(crate) fn read(c: &mut Cursor<'_>, v2: bool) -> Result<StreamData, Error> {
    let mut s = StreamData::default();
    let n = c.count("stream node")?;
    for _ in 0..n {
        let at = c.pos();
        let key = c.string()?;
        if key.data.len() != 16 {
            return Err(Error::new(at, "stream node key is not 16 bytes"));
        }
        let id = read_raw_id(&mut Cursor::new(&key.data))?;
        let lp_at = c.pos();
        let lp = c.string()?;
        // The structure must hold; the stream layout inside is the loader's to check.
        let count = lp.parse(|b| listpack::parse(b).map(|e| e.len()))?;
        if count == 0 {
            return Err(Error::new(lp_at, "empty listpack inside stream"));
        }
        if s.nodes.last().is_some_and(|(prev, _)| *prev >= id) {
            return Err(Error::new(at, "stream node keys out of order"));
        }
        s.nodes.push((id, lp.into_vec()));
    }
    s.length = c.length()?;
    s.last_id = read_id(c)?;
    if v2 {
        s.first_id = Some(read_id(c)?);
        s.max_deleted_id = read_id(c)?;
        s.entries_added = Some(c.length()?);
    }
    let groups = c.count("consumer group")?;
    for _ in 0..groups {
        let mut g = StreamGroup { name: c.string()?.into_vec(), last_id: read_id(c)?, ..Default::default() };
        if v2 {
            g.entries_read = Some(c.length()? as i64);
        }
        let pel = c.count("pending entry")?;
        for _ in 0..pel {
            let id = read_raw_id(c)?;
            let time = i64::from_le_bytes(c.array("delivery time")?);
            g.pel.push((id, time, c.length()?));
        }
        let consumers = c.count("consumer")?;
        for _ in 0..consumers {
            let name = c.string()?.into_vec();
            let seen_time = i64::from_le_bytes(c.array("seen time")?);
            let n = c.count("consumer pending entry")?;
            let mut pel = Vec::with_capacity(n);
            for _ in 0..n {
                let at = c.pos();
                let id = read_raw_id(c)?;
                if g.pel.binary_search_by(|p| p.0.cmp(&id)).is_err() {
                    return Err(Error::new(at, "consumer pending entry missing from the group's PEL"));
                }
                pel.push(id);
            }
            g.consumers.push(StreamConsumer { name, seen_time, pel });
        }
        s.groups.push(g);
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> Vec<u8> {
        // count 1, deleted 0, 1 master field "f", terminator, then one same-fields entry.
        let mut b = listpack::Builder::new();
        for e in [&b"1"[..], b"0", b"1", b"f", b"0", b"2", b"0", b"0", b"v", b"4"] {
            b.push(e);
        }
        b.finish()
    }

    fn sample() -> StreamData {
        StreamData {
            nodes: vec![((5, 0), node())],
            length: 1,
            last_id: (5, 0),
            first_id: Some((5, 0)),
            max_deleted_id: (0, 0),
            entries_added: Some(1),
            groups: vec![StreamGroup {
                name: b"g".to_vec(),
                last_id: (5, 0),
                entries_read: Some(-1),
                pel: vec![((5, 0), 1_700_000_000_000, 2)],
                consumers: vec![StreamConsumer {
                    name: b"c".to_vec(),
                    seen_time: 1_700_000_000_001,
                    pel: vec![(5, 0)],
                }],
            }],
        }
    }

    #[test]
    fn round_trips_the_7_0_form() {
        let s = sample();
        let mut out = Vec::new();
        write(&mut out, &s);
        assert_eq!(read(&mut Cursor::new(&out), true).unwrap(), s);
    }

    #[test]
    fn reads_the_redis_5_form() {
        // Type 15 has no first ID, tombstone, counters nor entries_read.
        let mut out = Vec::new();
        write_len(&mut out, 1);
        write_string(&mut out, &[0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0]);
        write_string(&mut out, &node());
        write_len(&mut out, 1);
        write_id(&mut out, (5, 0));
        write_len(&mut out, 0);
        let s = read(&mut Cursor::new(&out), false).unwrap();
        assert_eq!((s.length, s.first_id, s.entries_added), (1, None, None));
        // A consumer PEL entry the group does not have is corrupt.
        let mut bad = sample();
        bad.groups[0].consumers[0].pel = vec![(6, 0)];
        let mut out = Vec::new();
        write(&mut out, &bad);
        assert!(read(&mut Cursor::new(&out), true).is_err());
    }
}
