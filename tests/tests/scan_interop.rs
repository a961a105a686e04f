//! SCAN's guarantees (every key present for the whole iteration is returned, MATCH/TYPE filters,
//! cursor errors) and KEYS/SCAN MATCH glob semantics compared with a real redis-server on the
//! same data.

use std::collections::{BTreeSet, HashSet};

use redis::{cmd, RedisResult, Value};
use slotgate_tests::{q, require_tool, Server};

fn err_text(r: RedisResult<Value>) -> String {
    match r {
        Err(e) => e.to_string(),
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

/// A full SCAN iteration with extra options; `between` runs after every call (with the
/// call's index). Bounded: panics if the cursor never returns to 0.
fn full_scan(
    c: &mut redis::Connection,
    opts: &[&[u8]],
    mut between: impl FnMut(&mut redis::Connection, usize),
) -> Vec<Vec<u8>> {
    let mut cursor = "0".to_string();
    let mut all = Vec::new();
    for call in 0..200_000 {
        let mut command = cmd("SCAN");
        command.arg(&cursor);
        for o in opts {
            command.arg(*o);
        }
        let (next, keys): (String, Vec<Vec<u8>>) = command.query(c).expect("SCAN");
        all.extend(keys);
        if next == "0" {
            return all;
        }
        cursor = next;
        between(c, call);
    }
    panic!("SCAN did not finish within 200000 calls");
}

fn load(c: &mut redis::Connection, keys: impl IntoIterator<Item = Vec<u8>>) {
    let mut pipe = redis::pipe();
    let mut n = 0;
    for k in keys {
        pipe.cmd("SET").arg(k).arg("v").ignore();
        n += 1;
        if n % 1000 == 0 {
            pipe.query::<()>(c).expect("load");
            pipe = redis::pipe();
        }
    }
    pipe.query::<()>(c).expect("load");
}

#[test]
fn full_iteration_returns_every_key() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    let keys: Vec<Vec<u8>> = (0..5000).map(|i| format!("key:{i}").into_bytes()).collect();
    load(&mut c, keys.clone());
    let want: HashSet<Vec<u8>> = keys.into_iter().collect();
    for count in ["10", "100", "1000"] {
        let got = full_scan(&mut c, &[b"COUNT", count.as_bytes()], |_, _| {});
        let set: HashSet<Vec<u8>> = got.iter().cloned().collect();
        assert_eq!(set.len(), 5000, "COUNT {count}: distinct keys");
        assert_eq!(set, want, "COUNT {count}");
        assert!(got.len() >= 5000);
    }
    let got = full_scan(&mut c, &[], |_, _| {});
    assert_eq!(got.into_iter().collect::<HashSet<_>>(), want, "default COUNT");
}

#[test]
fn keys_present_throughout_are_returned_despite_changes() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    let stable: Vec<Vec<u8>> = (0..4000).map(|i| format!("stable:{i}").into_bytes()).collect();
    let doomed: Vec<Vec<u8>> = (0..1000).map(|i| format!("doomed:{i}").into_bytes()).collect();
    load(&mut c, stable.iter().cloned().chain(doomed.iter().cloned()));
    let mut added = 0usize;
    let mut removed = 0usize;
    let got = full_scan(&mut c, &[b"COUNT", b"20"], |c, _call| {
        // Between calls: add 20 new keys and delete 5 of the doomed ones.
        let mut pipe = redis::pipe();
        for _ in 0..20 {
            pipe.cmd("SET").arg(format!("new:{added}")).arg("v").ignore();
            added += 1;
        }
        for _ in 0..5 {
            if removed < doomed.len() {
                pipe.cmd("DEL").arg(&doomed[removed]).ignore();
                removed += 1;
            }
        }
        pipe.query::<()>(c).unwrap();
    });
    assert!(added > 0 && removed > 0, "the keyspace changed during the scan");
    let set: HashSet<Vec<u8>> = got.into_iter().collect();
    let missing: Vec<String> =
        stable.iter().filter(|k| !set.contains(*k)).map(|k| String::from_utf8_lossy(k).into_owned()).take(10).collect();
    assert!(missing.is_empty(), "stable keys not returned: {missing:?}");
    // Nothing that never existed is returned.
    for k in &set {
        let s = String::from_utf8_lossy(k);
        assert!(s.starts_with("stable:") || s.starts_with("doomed:") || s.starts_with("new:"), "{s}");
    }
}

#[test]
fn match_type_and_cursor_errors() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    load(
        &mut c,
        (0..500).map(|i| format!("user:{i}").into_bytes()).chain((0..500).map(|i| format!("item:{i}").into_bytes())),
    );
    let users: HashSet<Vec<u8>> =
        full_scan(&mut c, &[b"MATCH", b"user:*", b"COUNT", b"50"], |_, _| {}).into_iter().collect();
    assert_eq!(users.len(), 500);
    assert!(users.iter().all(|k| k.starts_with(b"user:")));
    let ones: HashSet<Vec<u8>> = full_scan(&mut c, &[b"MATCH", b"item:1?"], |_, _| {}).into_iter().collect();
    let want: HashSet<Vec<u8>> = (10..20).map(|i| format!("item:{i}").into_bytes()).collect();
    assert_eq!(ones, want);
    let strings = full_scan(&mut c, &[b"TYPE", b"string", b"COUNT", b"100"], |_, _| {});
    assert_eq!(strings.into_iter().collect::<HashSet<_>>().len(), 1000);
    let hashes = full_scan(&mut c, &[b"TYPE", b"hash", b"COUNT", b"100"], |_, _| {});
    assert!(hashes.is_empty(), "no hash keys: {}", hashes.len());
    let both = full_scan(&mut c, &[b"MATCH", b"user:4*", b"TYPE", b"STRING"], |_, _| {});
    assert_eq!(both.into_iter().collect::<HashSet<_>>().len(), 111);

    for bad in ["abc", "1.5", " 1", "18446744073709551616"] {
        let e = err_text(q(&mut c, &["SCAN", bad]));
        assert!(e.contains("invalid cursor"), "SCAN {bad}: {e}");
    }
    let e = err_text(q(&mut c, &["SCAN", "0", "COUNT", "0"]));
    assert!(e.contains("syntax error"), "{e}");
    let e = err_text(q(&mut c, &["SCAN", "0", "MATCH"]));
    assert!(e.contains("syntax error"), "{e}");
    let e = err_text(q(&mut c, &["SCAN", "0", "BOGUS", "1"]));
    assert!(e.contains("syntax error"), "{e}");
    let e = err_text(q(&mut c, &["SCAN", "0", "COUNT", "x"]));
    assert!(e.contains("value is not an integer"), "{e}");
}

/// ≈300 keys with names that exercise glob corner cases.
fn interop_keys() -> Vec<Vec<u8>> {
    let mut keys: Vec<Vec<u8>> = [
        "hello",
        "hallo",
        "hxllo",
        "hllo",
        "heello",
        "hbllo",
        "h?llo",
        "h*llo",
        "h[a]llo",
        "hAllo",
        "HELLO",
        "a*b",
        "a**b",
        "ab",
        "a",
        "b",
        "*",
        "?",
        "[",
        "]",
        "[x]",
        "x",
        "[]",
        "a\\",
        "a\\b",
        "\\",
        "\\\\",
        "a\\*b",
        "-",
        "a-b",
        "^",
        "h^llo",
        "!",
        "user:{1}:a",
        "user:{1}:b",
        "user:{2}:a",
        "user:",
        "user",
        "{user}",
        "{}",
        " ",
        "  ",
        "a b",
        "\t",
        "\u{e9}t\u{e9}",
        "h\u{e9}llo",
        "\u{65e5}\u{672c}",
        "\u{1f600}",
        "naïve",
        ".",
        "..",
        "a.b",
        "0",
        "00",
        "-1",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    keys.push(Vec::new());
    keys.push(b"bin\x00ary".to_vec());
    keys.push(vec![0xff, 0xfe]);
    for i in 0..120 {
        keys.push(format!("user:{}:{}", i % 17, i).into_bytes());
    }
    for i in 0..60 {
        keys.push(format!("k:{i}").into_bytes());
    }
    for i in 0..40 {
        keys.push(format!("obj[{i}]").into_bytes());
    }
    for i in 0..30 {
        keys.push(format!("h{}llo", (b'a' + (i % 26) as u8) as char).into_bytes());
    }
    keys.sort();
    keys.dedup();
    keys
}

const PATTERNS: &[&str] = &[
    "*",
    "**",
    "h?llo",
    "h*llo",
    "h[ae]llo",
    "h[^e]llo",
    "h[a-b]llo",
    "h[b-a]llo",
    "h[!e]llo",
    "h\\?llo",
    "h\\*llo",
    "*\\**",
    "*\\?*",
    "user:*",
    "user:{1}:*",
    "user:?:*",
    "user:1?:*",
    "[",
    "[x",
    "[x]",
    "\\[x\\]",
    "a\\",
    "a\\\\",
    "a\\\\*",
    "\\\\",
    "?",
    "??",
    "",
    " ",
    "*b",
    "a*",
    "a*b",
    "a?b",
    "k:[0-3]*",
    "k:[^0-3]",
    "obj\\[*",
    "obj[[]1*",
    "[a-]*",
    "[-a]*",
    "[]]",
    "[\\]]",
    "[^]",
    "*[",
    "h[a-z",
    "h\u{e9}*",
    "?t?",
    "\u{65e5}*",
    "*o",
    "H*",
    "h[A-Z]llo",
    "[[]",
    "user:{*}*",
];

fn sorted(mut v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    v.sort();
    v
}

fn show(v: &BTreeSet<Vec<u8>>) -> Vec<String> {
    v.iter().map(|k| String::from_utf8_lossy(k).into_owned()).collect()
}

#[test]
fn keys_and_scan_match_agree_with_redis() {
    if !require_tool("redis-server") {
        return;
    }
    let node = Server::node(&[]);
    let redis = Server::redis(&[]);
    let mut nc = node.conn();
    let mut rc = redis.conn();
    let keys = interop_keys();
    assert!(keys.len() >= 280, "{} keys", keys.len());
    load(&mut nc, keys.clone());
    load(&mut rc, keys.clone());
    assert_eq!(q::<i64>(&mut nc, &["DBSIZE"]).unwrap(), q::<i64>(&mut rc, &["DBSIZE"]).unwrap());
    let mut mismatches = Vec::new();
    for pat in PATTERNS {
        let nk: Vec<Vec<u8>> = cmd("KEYS").arg(*pat).query(&mut nc).unwrap();
        let rk: Vec<Vec<u8>> = cmd("KEYS").arg(*pat).query(&mut rc).unwrap();
        let (nk, rk) = (sorted(nk), sorted(rk));
        if nk != rk {
            let n: BTreeSet<_> = nk.into_iter().collect();
            let r: BTreeSet<_> = rk.into_iter().collect();
            mismatches.push(format!(
                "KEYS {pat:?}: only node {:?}, only redis {:?}",
                show(&n.difference(&r).cloned().collect()),
                show(&r.difference(&n).cloned().collect())
            ));
        }
        let opts: [&[u8]; 4] = [b"MATCH", pat.as_bytes(), b"COUNT", b"7"];
        let ns: BTreeSet<Vec<u8>> = full_scan(&mut nc, &opts, |_, _| {}).into_iter().collect();
        let rs: BTreeSet<Vec<u8>> = full_scan(&mut rc, &opts, |_, _| {}).into_iter().collect();
        if ns != rs {
            mismatches.push(format!(
                "SCAN MATCH {pat:?}: only node {:?}, only redis {:?}",
                show(&ns.difference(&rs).cloned().collect()),
                show(&rs.difference(&ns).cloned().collect())
            ));
        }
    }
    assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
}
