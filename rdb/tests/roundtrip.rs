//! dump -> restore and FileWriter -> FileReader over generated values of every type and size.

mod common;

use common::{normalize, sample_values};
use rdb::{dump, restore, FileReader, FileWriter, Value};

#[test]
fn dump_restore_round_trips() {
    for (name, v) in sample_values() {
        let got = restore(&dump(&v)).unwrap_or_else(|e| panic!("{name}: {e}"));
        match &v {
            // Order is part of a list's value; and zsets given in ascending order come back as is.
            Value::List(_) | Value::String(_) => assert_eq!(got, v, "{name}"),
            _ => assert_eq!(normalize(&got), normalize(&v), "{name}"),
        }
    }
}

#[test]
fn picks_redis_encodings_by_size_class() {
    let values = sample_values();
    let type_of = |name: &str| dump(&values.iter().find(|(n, _)| n == name).unwrap().1)[0];
    let expect = [
        ("str-int-0", 0),
        ("str-large", 0),
        ("list-one", 18),
        ("list-many", 18),
        ("set-int16", 11),
        ("set-int64", 11),
        ("set-int-512", 11),
        ("set-int-513", 2),
        ("set-strings", 2),
        ("hash-small", 16),
        ("hash-64", 16),
        ("hash-65", 4),
        ("hash-512", 16),
        ("hash-513", 4),
        ("zset-small", 17),
        ("zset-128", 17),
        ("zset-129", 5),
        ("zset-long-member", 5),
    ];
    for (name, t) in expect {
        assert_eq!(type_of(name), t, "{name}");
    }
    // Integer strings use the 1/2/4-byte forms; longer ones stay raw; long ones compress.
    assert_eq!(dump(&Value::String(b"-128".to_vec()))[1], 0xc0);
    assert_eq!(dump(&Value::String(b"32767".to_vec()))[1], 0xc1);
    assert_eq!(dump(&Value::String(b"-2147483648".to_vec()))[1], 0xc2);
    assert_eq!(dump(&Value::String(b"2147483648".to_vec()))[1], 10);
    assert_eq!(dump(&Value::String(vec![b'a'; 21]))[1], 0xc3);
    assert_eq!(dump(&Value::String(vec![b'a'; 20]))[1], 20);
}

#[test]
fn large_lists_split_into_nodes() {
    let items: Vec<Vec<u8>> = (0..10_000).map(|i| format!("{i:0>20}").into_bytes()).collect();
    let payload = dump(&Value::List(items.clone()));
    // 10k entries of ~22 bytes cannot fit one 8 KiB node: node count (a 14-bit length) > 1.
    assert_eq!(payload[0], 18);
    assert!(payload[1] > 1 && payload[1] < 0x80, "node count byte {:#x}", payload[1]);
    assert_eq!(restore(&payload).unwrap(), Value::List(items));
}

#[test]
fn file_round_trip() {
    let values = sample_values();
    let mut w =
        FileWriter::new(Vec::new(), &[("redis-ver", b"7.0.15"), ("redis-bits", b"64"), ("ctime", b"1700000000")])
            .unwrap();
    w.select_db(0, values.len() as u64, 1).unwrap();
    for (i, (name, v)) in values.iter().enumerate() {
        w.entry(name.as_bytes(), v, (i == 3).then_some(1_900_000_000_123)).unwrap();
    }
    w.select_db(9, 1, 0).unwrap();
    w.entry(b"in-nine", &Value::String(b"9".to_vec()), None).unwrap();
    let file = w.finish().unwrap();

    let mut r = FileReader::new(&file).unwrap();
    for (i, (name, v)) in values.iter().enumerate() {
        let e = r.next_entry().unwrap().unwrap();
        assert_eq!((e.db, e.key.as_slice()), (0, name.as_bytes()));
        assert_eq!(normalize(&e.value), normalize(v), "{name}");
        assert_eq!(e.expire_at_ms, (i == 3).then_some(1_900_000_000_123));
    }
    let e = r.next_entry().unwrap().unwrap();
    assert_eq!((e.db, e.key), (9, b"in-nine".to_vec()));
    assert!(r.next_entry().unwrap().is_none());
    assert_eq!(r.aux().len(), 3);
    assert_eq!(r.aux()[2], (b"ctime".to_vec(), b"1700000000".to_vec()));
}
