//! Shared by the integration tests: the fixture format written by fixtures/gen.py, value
//! normalization, and a deterministic generator of values of every type and size class.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::PathBuf;

use rdb::Value;

pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// One key captured from a real Redis 7.0.
pub struct Record {
    pub key: Vec<u8>,
    pub db: u32,
    pub expire_at_ms: Option<i64>,
    pub encoding: String,
    pub value: Value,
    pub dump: Vec<u8>,
}

fn unhex(s: &str) -> Vec<u8> {
    if s == "-" {
        return Vec::new();
    }
    if let Some((byte, n)) = s.split_once('*') {
        return vec![u8::from_str_radix(byte, 16).unwrap(); n.parse().unwrap()];
    }
    assert!(s.len().is_multiple_of(2), "odd hex {s:.20}");
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

pub fn load_records() -> Vec<Record> {
    let text = std::fs::read_to_string(fixture_path("values.txt")).unwrap();
    let mut out = Vec::new();
    let (mut key, mut db, mut expire, mut encoding, mut kind, mut dump) =
        (Vec::new(), 0, None, String::new(), String::new(), Vec::new());
    let (mut items, mut pairs, mut zitems) = (Vec::new(), Vec::new(), Vec::new());
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let mut f = line.split(' ');
        match f.next().unwrap() {
            "key" => key = unhex(f.next().unwrap()),
            "db" => db = f.next().unwrap().parse().unwrap(),
            "expire" => expire = Some(f.next().unwrap().parse().unwrap()),
            "encoding" => encoding = f.next().unwrap().to_string(),
            "type" => kind = f.next().unwrap().to_string(),
            "item" => items.push(unhex(f.next().unwrap())),
            "pair" => pairs.push((unhex(f.next().unwrap()), unhex(f.next().unwrap()))),
            "zitem" => zitems.push((unhex(f.next().unwrap()), f.next().unwrap().parse::<f64>().unwrap())),
            "dump" => dump = unhex(f.next().unwrap()),
            "end" => {
                let value = match kind.as_str() {
                    "string" => Value::String(items.pop().unwrap()),
                    "list" => Value::List(std::mem::take(&mut items)),
                    "set" => Value::Set(std::mem::take(&mut items)),
                    "hash" => Value::Hash(std::mem::take(&mut pairs)),
                    "zset" => Value::ZSet(std::mem::take(&mut zitems)),
                    other => panic!("unknown type {other}"),
                };
                assert!(items.is_empty() && pairs.is_empty() && zitems.is_empty());
                out.push(Record {
                    key: std::mem::take(&mut key),
                    db,
                    expire_at_ms: expire.take(),
                    encoding: std::mem::take(&mut encoding),
                    value,
                    dump: std::mem::take(&mut dump),
                });
            }
            other => panic!("bad fixture line {other}"),
        }
    }
    out
}

/// Order-insensitive form for unordered types: sets and hashes sorted, zsets by (score, member).
pub fn normalize(v: &Value) -> Value {
    let mut v = v.clone();
    match &mut v {
        Value::Set(m) => m.sort(),
        Value::Hash(p) => p.sort(),
        Value::ZSet(z) => z.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap().then(a.0.cmp(&b.0))),
        Value::String(_) | Value::List(_) | Value::Stream(_) => {}
    }
    v
}

/// A tiny deterministic PRNG so generated cases are reproducible without dependencies.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// Named values covering every type, each size class around Redis's encoding thresholds, and
/// awkward contents (empty, integer-like, binary, compressible, huge).
pub fn sample_values() -> Vec<(String, Value)> {
    let mut rng = Rng::new(7);
    let s = |x: &str| x.as_bytes().to_vec();
    let ints: Vec<i64> = vec![
        0,
        1,
        -1,
        127,
        128,
        -128,
        -129,
        4095,
        -4096,
        4096,
        32767,
        -32768,
        65535,
        8_388_607,
        -8_388_608,
        i32::MAX as i64,
        i32::MIN as i64,
        1 << 40,
        i64::MAX,
        i64::MIN,
    ];
    let mut v: Vec<(String, Value)> = Vec::new();
    for (i, x) in ints.iter().enumerate() {
        v.push((format!("str-int-{i}"), Value::String(x.to_string().into_bytes())));
    }
    for (name, x) in [
        ("empty", Vec::new()),
        ("hello", s("hello")),
        ("lead0", s("007")),
        ("negzero", s("-0")),
        ("plus", s("+5")),
        ("space", s(" 5")),
        ("float", s("1.5")),
        ("binary", (0..=255u8).collect()),
        ("compressible", s(&"abcdefgh".repeat(500))),
        ("noise", rng.bytes(1000)),
        ("len20", vec![b'a'; 20]),
        ("len21", vec![b'a'; 21]),
        ("large", s(&"large value ".repeat(100_000))),
    ] {
        v.push((format!("str-{name}"), Value::String(x)));
    }
    let numeric: Vec<Vec<u8>> = ints.iter().map(|x| x.to_string().into_bytes()).collect();
    v.push(("list-one".into(), Value::List(vec![s("x")])));
    v.push(("list-mixed".into(), Value::List([numeric.clone(), vec![Vec::new(), s("007"), s("a b")]].concat())));
    v.push(("list-many".into(), Value::List((0..5000).map(|i| format!("element-{i}").into_bytes()).collect())));
    v.push((
        "list-big-elements".into(),
        Value::List(vec![s("a"), vec![b'x'; 9000], s("b"), rng.bytes(20000), vec![b'y'; 70000], s("c")]),
    ));
    v.push(("list-dups".into(), Value::List(vec![s("same"); 10])));
    v.push(("set-int16".into(), Value::Set(vec![s("3"), s("-2"), s("1")])));
    v.push(("set-int32".into(), Value::Set(vec![s("1"), s("70000"), s("-70000")])));
    v.push(("set-int64".into(), Value::Set(numeric.clone())));
    v.push(("set-int-512".into(), Value::Set((0..512).map(|i| (i * 3).to_string().into_bytes()).collect())));
    v.push(("set-int-513".into(), Value::Set((0..513).map(|i| (i * 3).to_string().into_bytes()).collect())));
    v.push(("set-strings".into(), Value::Set(vec![s("a"), s("b"), s("1"), s("007"), Vec::new()])));
    v.push(("set-large".into(), Value::Set((0..2000).map(|i| format!("member:{i}").into_bytes()).collect())));
    let pairs = |n: usize, vlen: usize| -> Vec<(Vec<u8>, Vec<u8>)> {
        (0..n).map(|i| (format!("f{i}").into_bytes(), format!("{i:0>vlen$}").into_bytes())).collect()
    };
    v.push(("hash-small".into(), Value::Hash(vec![(s("a"), s("1")), (s("b"), s("-300")), (Vec::new(), s("empty"))])));
    v.push(("hash-64".into(), Value::Hash(vec![(vec![b'k'; 64], vec![b'v'; 64])])));
    v.push(("hash-65".into(), Value::Hash(vec![(s("k"), vec![b'v'; 65])])));
    v.push(("hash-512".into(), Value::Hash(pairs(512, 5))));
    v.push(("hash-513".into(), Value::Hash(pairs(513, 5))));
    v.push(("hash-large-values".into(), Value::Hash(pairs(50, 5000))));
    v.push((
        "zset-small".into(),
        Value::ZSet(vec![
            (s("a"), 1.0),
            (s("b"), -2.5),
            (s("c"), f64::INFINITY),
            (s("d"), f64::NEG_INFINITY),
            (s("e"), 0.1),
            (s("f"), 1e-300),
            (s("g"), 3e20),
            (s("h"), 0.0),
            (s("i"), 1.0 / 3.0),
            (s("j"), -1e15),
            (s("12"), 12.0),
        ]),
    ));
    v.push(("zset-ties".into(), Value::ZSet(vec![(s("b"), 1.0), (s("a"), 1.0), (s("c"), 1.0)])));
    let zs = |n: usize| -> Vec<(Vec<u8>, f64)> {
        (0..n).map(|i| (format!("m{i}").into_bytes(), i as f64 / 3.0 - 7.0)).collect()
    };
    v.push(("zset-128".into(), Value::ZSet(zs(128))));
    v.push(("zset-129".into(), Value::ZSet(zs(129))));
    v.push(("zset-long-member".into(), Value::ZSet(vec![(vec![b'm'; 65], 2.0), (s("x"), f64::NEG_INFINITY)])));
    let mut big = zs(3000);
    big.push((s("top"), f64::INFINITY));
    big.push((s("bottom"), f64::NEG_INFINITY));
    v.push(("zset-large".into(), Value::ZSet(big)));
    v
}
