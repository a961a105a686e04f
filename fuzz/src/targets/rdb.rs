//! RDB as the node reads it: whole `dump.rdb` files (`FileReader`, start-up and full resyncs)
//! and the DUMP/RESTORE payloads (`restore`, `decode_object`, function payloads). Whatever
//! decodes must dump again to a payload that restores.

pub const TOKENS: &[&[u8]] = &[b"REDIS0010", b"REDIS0009", b"\xff", b"\xfe\x00", b"\xfb", b"\xfc", b"\xfa", b"\xf5"];

/// Entries read from one file at most: enough to reach its end, bounded for speed.
const MAX_ENTRIES: usize = 10_000;

pub fn run(data: &[u8]) {
    if let Ok(mut reader) = rdb::FileReader::new(data) {
        for _ in 0..MAX_ENTRIES {
            match reader.next_entry() {
                Ok(Some(entry)) => redumps(&entry.value),
                Ok(None) | Err(_) => break,
            }
        }
        let _ = (reader.version(), reader.aux().len(), reader.functions().len());
        return;
    }
    // A DUMP payload's object is its bytes before the 10-byte footer (version, CRC64); a
    // mutated payload fails the CRC, so its object is also decoded without the footer.
    let object = data.len().checked_sub(10).map_or(data, |end| &data[..end]);
    for candidate in [data, object] {
        if let Ok(v) = rdb::decode_object(candidate) {
            redumps(&v);
        }
    }
    if let Ok(v) = rdb::restore(data) {
        redumps(&v);
    }
    let _ = rdb::restore_functions(data);
}

/// A decoded value dumps to a payload that restores to the same value, up to what DUMP fills
/// in: the order of a set, hash or zset (a corrupt payload may hold them unsorted, DUMP writes
/// them sorted) and the stream fields the Redis 5/6 format lacks (DUMP writes their defaults).
fn redumps(v: &rdb::Value) {
    let payload = rdb::dump(v);
    match rdb::restore(&payload) {
        Ok(back) => assert_eq!(canonical(back), canonical(v.clone()), "value changed through DUMP and RESTORE"),
        Err(e) => panic!("DUMP of a decoded value does not restore: {e:?}"),
    }
}

fn canonical(v: rdb::Value) -> rdb::Value {
    use rdb::Value;
    match v {
        Value::Set(mut m) => {
            m.sort();
            Value::Set(m)
        }
        Value::Hash(mut m) => {
            m.sort();
            Value::Hash(m)
        }
        Value::ZSet(mut m) => {
            m.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
            Value::ZSet(m)
        }
        Value::Stream(mut st) => {
            st.first_id = Some(st.first_id.unwrap_or_default());
            st.entries_added = Some(st.entries_added.unwrap_or(st.length));
            for g in &mut st.groups {
                g.entries_read = Some(g.entries_read.unwrap_or(-1));
            }
            Value::Stream(st)
        }
        other => other,
    }
}
