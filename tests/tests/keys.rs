//! Generic keyspace commands (DEL, EXISTS, TYPE, expiry, RENAME, COPY, RANDOMKEY, OBJECT) and
//! lazy/active expiry, checked against Redis 7.0's documented replies and error texts.

use std::time::Duration;

use redis::{RedisResult, Value};
use slotgate_tests::{q, wait_until, Server};

fn err_text(r: RedisResult<Value>) -> String {
    match r {
        Err(e) => e.to_string(),
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

fn int(c: &mut redis::Connection, args: &[&str]) -> i64 {
    q::<i64>(c, args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// One field of an INFO reply.
fn info_field(c: &mut redis::Connection, section: &str, field: &str) -> Option<String> {
    let text: String = q(c, &["INFO", section]).ok()?;
    text.lines().find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
}

#[test]
fn del_unlink_exists_touch_type() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    q::<()>(&mut c, &["MSET", "a", "1", "b", "2", "c", "3"]).unwrap();
    assert_eq!(int(&mut c, &["EXISTS", "a", "a", "b", "nope"]), 3, "duplicates count");
    assert_eq!(int(&mut c, &["TOUCH", "a", "b", "nope", "a"]), 3);
    assert_eq!(q::<String>(&mut c, &["TYPE", "a"]).unwrap(), "string");
    assert_eq!(q::<String>(&mut c, &["TYPE", "nope"]).unwrap(), "none");
    assert_eq!(int(&mut c, &["DEL", "a", "a", "nope"]), 1, "a key is deleted once");
    assert_eq!(int(&mut c, &["UNLINK", "b", "c", "b"]), 2);
    assert_eq!(int(&mut c, &["EXISTS", "a", "b", "c"]), 0);
    assert_eq!(int(&mut c, &["DBSIZE"]), 0);
    assert!(err_text(q(&mut c, &["DEL"])).contains("wrong number of arguments for 'del' command"));
    assert!(err_text(q(&mut c, &["EXISTS"])).contains("wrong number of arguments for 'exists' command"));
}

#[test]
fn expire_options_and_errors() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    q::<()>(&mut c, &["SET", "k", "v"]).unwrap();
    assert_eq!(int(&mut c, &["EXPIRE", "k", "100", "XX"]), 0, "XX needs a TTL");
    assert_eq!(int(&mut c, &["EXPIRE", "k", "100", "GT"]), 0, "GT: no TTL is infinite");
    assert_eq!(int(&mut c, &["TTL", "k"]), -1);
    assert_eq!(int(&mut c, &["EXPIRE", "k", "100", "NX"]), 1);
    assert_eq!(int(&mut c, &["EXPIRE", "k", "200", "NX"]), 0);
    assert_eq!(int(&mut c, &["EXPIRE", "k", "50", "GT"]), 0);
    assert_eq!(int(&mut c, &["EXPIRE", "k", "200", "GT"]), 1);
    assert!((199..=200).contains(&int(&mut c, &["TTL", "k"])));
    assert_eq!(int(&mut c, &["EXPIRE", "k", "300", "LT"]), 0);
    assert_eq!(int(&mut c, &["EXPIRE", "k", "150", "LT"]), 1);
    assert_eq!(int(&mut c, &["EXPIRE", "k", "160", "XX"]), 1);
    assert_eq!(int(&mut c, &["PEXPIRE", "k", "170000", "xx", "gt"]), 1);
    let pttl = int(&mut c, &["PTTL", "k"]);
    assert!((169_000..=170_000).contains(&pttl), "pttl {pttl}");
    q::<()>(&mut c, &["SET", "p", "v"]).unwrap();
    assert_eq!(int(&mut c, &["EXPIRE", "p", "100", "LT"]), 1, "LT: no TTL is infinite");
    assert_eq!(int(&mut c, &["EXPIRE", "missing", "100"]), 0);

    let e = err_text(q(&mut c, &["EXPIRE", "k", "10", "NX", "XX"]));
    assert!(e.contains("NX and XX, GT or LT options at the same time are not compatible"), "{e}");
    for (cmdname, amount) in
        [("EXPIRE", "10"), ("PEXPIRE", "10000"), ("EXPIREAT", "9999999999"), ("PEXPIREAT", "9999999999999")]
    {
        let e = err_text(q(&mut c, &[cmdname, "k", amount, "NX", "GT"]));
        assert!(e.contains("NX and XX, GT or LT options at the same time are not compatible"), "{cmdname}: {e}");
        let e = err_text(q(&mut c, &[cmdname, "k", amount, "GT", "LT"]));
        assert!(e.contains("GT and LT options at the same time are not compatible"), "{cmdname}: {e}");
        let e = err_text(q(&mut c, &[cmdname, "k", amount, "foo"]));
        assert!(e.contains("Unsupported option foo"), "{cmdname}: {e}");
    }
    let e = err_text(q(&mut c, &["EXPIRE", "k", "abc"]));
    assert!(e.contains("value is not an integer or out of range"), "{e}");
    let e = err_text(q(&mut c, &["EXPIRE", "k", "9223372036854775807"]));
    assert!(e.contains("invalid expire time in 'expire' command"), "{e}");
    // Failed commands changed nothing.
    assert!(int(&mut c, &["PTTL", "k"]) > 160_000);
}

#[test]
fn negative_and_past_expire_deletes() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    for (cmdname, amount) in
        [("EXPIRE", "-1"), ("PEXPIRE", "-100"), ("EXPIRE", "0"), ("EXPIREAT", "1"), ("PEXPIREAT", "1000")]
    {
        q::<()>(&mut c, &["SET", "k", "v"]).unwrap();
        assert_eq!(int(&mut c, &[cmdname, "k", amount]), 1, "{cmdname} {amount}");
        assert_eq!(int(&mut c, &["EXISTS", "k"]), 0, "{cmdname} {amount} deletes");
        assert_eq!(int(&mut c, &["TTL", "k"]), -2);
    }
}

#[test]
fn ttl_expiretime_persist() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    assert_eq!(int(&mut c, &["TTL", "missing"]), -2);
    assert_eq!(int(&mut c, &["PTTL", "missing"]), -2);
    assert_eq!(int(&mut c, &["EXPIRETIME", "missing"]), -2);
    assert_eq!(int(&mut c, &["PEXPIRETIME", "missing"]), -2);
    q::<()>(&mut c, &["SET", "k", "v"]).unwrap();
    assert_eq!(int(&mut c, &["TTL", "k"]), -1);
    assert_eq!(int(&mut c, &["PTTL", "k"]), -1);
    assert_eq!(int(&mut c, &["EXPIRETIME", "k"]), -1);
    assert_eq!(int(&mut c, &["PEXPIRETIME", "k"]), -1);
    assert_eq!(int(&mut c, &["PERSIST", "k"]), 0, "nothing to persist");

    let at_s = now_ms() / 1000 + 1000;
    assert_eq!(int(&mut c, &["EXPIREAT", "k", &at_s.to_string()]), 1);
    assert_eq!(int(&mut c, &["EXPIRETIME", "k"]), at_s);
    assert_eq!(int(&mut c, &["PEXPIRETIME", "k"]), at_s * 1000);
    let at_ms = now_ms() + 500_123;
    assert_eq!(int(&mut c, &["PEXPIREAT", "k", &at_ms.to_string()]), 1);
    assert_eq!(int(&mut c, &["PEXPIRETIME", "k"]), at_ms);
    assert_eq!(int(&mut c, &["EXPIRETIME", "k"]), at_ms / 1000);
    let ttl = int(&mut c, &["TTL", "k"]);
    assert!((499..=500).contains(&ttl), "ttl {ttl}");
    let pttl = int(&mut c, &["PTTL", "k"]);
    assert!((490_000..=500_123).contains(&pttl), "pttl {pttl}");

    assert_eq!(int(&mut c, &["PERSIST", "k"]), 1);
    assert_eq!(int(&mut c, &["TTL", "k"]), -1);
    assert_eq!(int(&mut c, &["PERSIST", "k"]), 0);
    assert_eq!(int(&mut c, &["PERSIST", "missing"]), 0);
    assert_eq!(q::<String>(&mut c, &["GET", "k"]).unwrap(), "v");
}

#[test]
fn rename_and_renamenx() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    assert!(err_text(q(&mut c, &["RENAME", "nokey", "nokey"])).contains("no such key"));
    assert!(err_text(q(&mut c, &["RENAME", "nokey", "x"])).contains("no such key"));
    assert!(err_text(q(&mut c, &["RENAMENX", "nokey", "x"])).contains("no such key"));

    q::<()>(&mut c, &["SET", "src", "v", "EX", "1000"]).unwrap();
    q::<()>(&mut c, &["SET", "dst", "old"]).unwrap();
    assert_eq!(q::<String>(&mut c, &["RENAME", "src", "dst"]).unwrap(), "OK");
    assert_eq!(int(&mut c, &["EXISTS", "src"]), 0);
    assert_eq!(q::<String>(&mut c, &["GET", "dst"]).unwrap(), "v");
    let ttl = int(&mut c, &["TTL", "dst"]);
    assert!((999..=1000).contains(&ttl), "the TTL moves with the key: {ttl}");

    q::<()>(&mut c, &["SET", "p", "persistent"]).unwrap();
    assert_eq!(q::<String>(&mut c, &["RENAME", "p", "dst"]).unwrap(), "OK");
    assert_eq!(int(&mut c, &["TTL", "dst"]), -1, "the old destination's TTL is gone");
    assert_eq!(q::<String>(&mut c, &["RENAME", "dst", "dst"]).unwrap(), "OK", "renaming onto itself is fine");

    q::<()>(&mut c, &["SET", "x", "1"]).unwrap();
    assert_eq!(int(&mut c, &["RENAMENX", "x", "dst"]), 0);
    assert_eq!(q::<String>(&mut c, &["GET", "x"]).unwrap(), "1");
    assert_eq!(int(&mut c, &["RENAMENX", "x", "y"]), 1);
    assert_eq!(int(&mut c, &["EXISTS", "x"]), 0);
    assert_eq!(q::<String>(&mut c, &["GET", "y"]).unwrap(), "1");
    assert_eq!(int(&mut c, &["RENAMENX", "y", "y"]), 0);
}

#[test]
fn copy_command() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    assert_eq!(int(&mut c, &["COPY", "nokey", "dst"]), 0);
    q::<()>(&mut c, &["SET", "src", "v", "PX", "900000"]).unwrap();
    assert_eq!(int(&mut c, &["COPY", "src", "dst"]), 1);
    assert_eq!(q::<String>(&mut c, &["GET", "dst"]).unwrap(), "v");
    assert_eq!(q::<String>(&mut c, &["GET", "src"]).unwrap(), "v");
    assert!(int(&mut c, &["PTTL", "dst"]) > 800_000, "COPY copies the TTL");
    q::<()>(&mut c, &["SET", "src", "w"]).unwrap();
    assert_eq!(int(&mut c, &["COPY", "src", "dst"]), 0, "no REPLACE");
    assert_eq!(q::<String>(&mut c, &["GET", "dst"]).unwrap(), "v");
    assert_eq!(int(&mut c, &["COPY", "src", "dst", "REPLACE"]), 1);
    assert_eq!(q::<String>(&mut c, &["GET", "dst"]).unwrap(), "w");
    assert_eq!(int(&mut c, &["TTL", "dst"]), -1);
    // The copy is independent of the source.
    q::<()>(&mut c, &["APPEND", "dst", "x"]).unwrap();
    assert_eq!(q::<String>(&mut c, &["GET", "src"]).unwrap(), "w");
    let e = err_text(q(&mut c, &["COPY", "src", "src"]));
    assert!(e.contains("source and destination objects are the same"), "{e}");
    let e = err_text(q(&mut c, &["COPY", "src", "d2", "BOGUS"]));
    assert!(e.contains("syntax error"), "{e}");
}

#[test]
fn randomkey() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    assert_eq!(q::<Option<String>>(&mut c, &["RANDOMKEY"]).unwrap(), None);
    q::<()>(&mut c, &["MSET", "a", "1", "b", "2", "c", "3"]).unwrap();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..300 {
        let k: String = q(&mut c, &["RANDOMKEY"]).unwrap();
        assert!(["a", "b", "c"].contains(&k.as_str()), "{k}");
        seen.insert(k);
    }
    assert_eq!(seen.len(), 3, "RANDOMKEY reaches every key: {seen:?}");
}

#[test]
fn object_subcommands() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    q::<()>(&mut c, &["SET", "n", "123"]).unwrap();
    q::<()>(&mut c, &["SET", "s", "hello"]).unwrap();
    q::<()>(&mut c, &["SET", "long", &"x".repeat(100)]).unwrap();
    assert_eq!(q::<String>(&mut c, &["OBJECT", "ENCODING", "n"]).unwrap(), "int");
    assert_eq!(q::<String>(&mut c, &["OBJECT", "ENCODING", "s"]).unwrap(), "embstr");
    assert_eq!(q::<String>(&mut c, &["OBJECT", "ENCODING", "long"]).unwrap(), "raw");
    assert_eq!(q::<Option<String>>(&mut c, &["OBJECT", "ENCODING", "missing"]).unwrap(), None);
    assert_eq!(int(&mut c, &["OBJECT", "REFCOUNT", "n"]), i32::MAX as i64, "shared integer");
    assert_eq!(int(&mut c, &["OBJECT", "REFCOUNT", "s"]), 1);
    let idle = int(&mut c, &["OBJECT", "IDLETIME", "s"]);
    assert!((0..=2).contains(&idle), "idle {idle}");
    let e = err_text(q(&mut c, &["OBJECT", "FREQ", "s"]));
    assert!(e.contains("An LFU maxmemory policy is not selected, access frequency not tracked"), "{e}");
    assert_eq!(q::<String>(&mut c, &["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"]).unwrap(), "OK");
    for _ in 0..50 {
        q::<String>(&mut c, &["GET", "s"]).unwrap();
    }
    let freq = int(&mut c, &["OBJECT", "FREQ", "s"]);
    assert!((1..=255).contains(&freq), "freq {freq}");
    let e = err_text(q(&mut c, &["OBJECT", "IDLETIME", "s"]));
    assert!(e.contains("An LFU maxmemory policy is selected"), "{e}");
    let e = err_text(q(&mut c, &["OBJECT", "NOSUCH", "s"]));
    assert!(e.contains("unknown subcommand"), "{e}");
}

#[test]
fn lazy_expiry() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    q::<()>(&mut c, &["SET", "k", "v", "PX", "50"]).unwrap();
    q::<()>(&mut c, &["SET", "keep", "v"]).unwrap();
    assert_eq!(int(&mut c, &["EXISTS", "k"]), 1);
    assert!(
        wait_until(Duration::from_secs(5), || q::<Option<String>>(&mut c, &["GET", "k"]).unwrap().is_none()),
        "a PX 50 key disappears"
    );
    assert_eq!(int(&mut c, &["TTL", "k"]), -2);
    assert_eq!(int(&mut c, &["EXISTS", "k"]), 0);
    assert_eq!(int(&mut c, &["DEL", "k"]), 0, "an expired key is not deleted again");
    let keys: Vec<String> = q(&mut c, &["KEYS", "*"]).unwrap();
    assert_eq!(keys, vec!["keep".to_string()]);
}

#[test]
fn active_expiry_reclaims_unread_keys() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    let mut pipe = redis::pipe();
    for i in 0..2000 {
        pipe.cmd("SET").arg(format!("vol:{i}")).arg("x").arg("PX").arg(100).ignore();
    }
    for i in 0..100 {
        pipe.cmd("SET").arg(format!("keep:{i}")).arg("y").ignore();
    }
    pipe.query::<()>(&mut c).unwrap();
    // The volatile keys are never read again: only the active expiry cycle can remove them.
    let mut last = (0, String::new());
    let done = wait_until(Duration::from_secs(15), || {
        let size = int(&mut c, &["DBSIZE"]);
        let expired = info_field(&mut c, "stats", "expired_keys").unwrap_or_default();
        last = (size, expired.clone());
        size == 100 && expired.parse::<i64>().is_ok_and(|n| n >= 2000)
    });
    assert!(done, "DBSIZE {} expired_keys {:?} (want 100 and >= 2000)", last.0, last.1);
    let ks = info_field(&mut c, "keyspace", "db0").unwrap_or_default();
    assert!(ks.starts_with("keys=100,expires=0,"), "{ks}");
}
