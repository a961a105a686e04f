//! Decoding payloads and a dump.rdb produced by a real Redis 7.0 (see fixtures/gen.py).

mod common;

use common::{fixture_path, load_records, normalize};
use rdb::{restore, FileReader, Value};

#[test]
fn restores_every_dump_payload_from_redis() {
    let records = load_records();
    assert!(records.len() >= 35);
    // The fixture set is meant to exercise every encoding Redis 7.0 writes.
    for enc in ["int", "embstr", "raw", "quicklist", "intset", "hashtable", "listpack", "skiplist"] {
        assert!(records.iter().any(|r| r.encoding == enc), "no fixture with encoding {enc}");
    }
    for r in &records {
        let name = String::from_utf8_lossy(&r.key);
        let got = restore(&r.dump).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(normalize(&got), normalize(&r.value), "{name}");
        if let Value::List(_) = r.value {
            assert_eq!(got, r.value, "{name}: list order");
        }
    }
}

#[test]
fn dumps_use_the_encodings_redis_uses() {
    // Our encoder should pick the same RDB type byte Redis did for every fixture.
    for r in load_records() {
        let ours = rdb::dump(&r.value);
        assert_eq!(ours[0], r.dump[0], "{}: type byte", String::from_utf8_lossy(&r.key));
        assert_eq!(normalize(&restore(&ours).unwrap()), normalize(&r.value));
    }
}

#[test]
fn reads_redis_dump_rdb() {
    let data = std::fs::read(fixture_path("dump.rdb")).unwrap();
    let mut reader = FileReader::new(&data).unwrap();
    assert_eq!(reader.version(), 10);
    let mut entries = Vec::new();
    while let Some(e) = reader.next_entry().unwrap() {
        entries.push(e);
    }
    let aux: Vec<&[u8]> = reader.aux().iter().map(|(k, _)| k.as_slice()).collect();
    for k in [&b"redis-ver"[..], b"redis-bits", b"ctime", b"used-mem", b"aof-base"] {
        assert!(aux.contains(&k), "aux {}", String::from_utf8_lossy(k));
    }
    let ver = &reader.aux().iter().find(|(k, _)| k == b"redis-ver").unwrap().1;
    assert!(ver.starts_with(b"7.0."));

    let records = load_records();
    assert_eq!(entries.len(), records.len());
    for r in &records {
        let e = entries
            .iter()
            .find(|e| e.key == r.key && e.db == r.db)
            .unwrap_or_else(|| panic!("{} missing", String::from_utf8_lossy(&r.key)));
        assert_eq!(e.expire_at_ms, r.expire_at_ms, "{}", String::from_utf8_lossy(&r.key));
        assert_eq!(normalize(&e.value), normalize(&r.value), "{}", String::from_utf8_lossy(&r.key));
    }
    assert!(entries.iter().any(|e| e.db == 1));
}
