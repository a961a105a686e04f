//! Pub/sub: SUBSCRIBE/PSUBSCRIBE/PUBLISH through redis-rs, PUBLISH receiver counts, the RESP2
//! subscribed-mode restrictions and RESP3 push frames byte for byte on raw sockets, the PUBSUB
//! introspection subcommands, sharded channels, UNSUBSCRIBE without arguments, and a slow
//! subscriber being disconnected by `client-output-buffer-limit pubsub` while the server stays
//! responsive and its memory bounded.

use std::time::{Duration, Instant};

use redis::Value;
use slotgate_tests::{q, resp, wait_until, RawConn, Server};

fn int(c: &mut redis::Connection, args: &[&str]) -> i64 {
    q::<i64>(c, args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

/// Reads from a raw socket until the received bytes end with `suffix` (or 5 s pass).
fn read_until(raw: &mut RawConn, suffix: &str) -> String {
    use std::io::Read;
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !out.ends_with(suffix.as_bytes()) && Instant::now() < deadline {
        match raw.0.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Number of subscribers of `channel` as PUBSUB NUMSUB reports it.
fn numsub(c: &mut redis::Connection, channel: &str) -> i64 {
    let v: Vec<Value> = q(c, &["PUBSUB", "NUMSUB", channel]).unwrap();
    match &v[..] {
        [_, Value::Int(n)] => *n,
        other => panic!("PUBSUB NUMSUB gave {other:?}"),
    }
}

#[test]
fn subscribe_psubscribe_publish_through_redis_rs() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    let mut sub_conn = node.conn();
    let mut sub = sub_conn.as_pubsub();
    sub.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    sub.subscribe("news").unwrap();
    sub.psubscribe("ne*").unwrap();
    let mut other = node.conn();
    let mut other_sub = other.as_pubsub();
    other_sub.subscribe("news").unwrap();

    assert_eq!(int(&mut c, &["PUBLISH", "news", "hello"]), 3, "two channel subscribers and one pattern");
    assert_eq!(int(&mut c, &["PUBLISH", "nest", "x"]), 1, "pattern only");
    assert_eq!(int(&mut c, &["PUBLISH", "nobody", "x"]), 0);

    let mut got = Vec::new();
    for _ in 0..3 {
        let m = sub.get_message().unwrap();
        got.push((
            m.get_channel_name().to_string(),
            m.get_pattern::<Option<String>>().unwrap(),
            m.get_payload::<String>().unwrap(),
        ));
    }
    got.sort();
    assert_eq!(
        got,
        vec![
            ("nest".to_string(), Some("ne*".to_string()), "x".to_string()),
            ("news".to_string(), None, "hello".to_string()),
            ("news".to_string(), Some("ne*".to_string()), "hello".to_string()),
        ]
    );
    let m = other_sub.get_message().unwrap();
    assert_eq!((m.get_channel_name(), m.get_payload::<String>().unwrap().as_str()), ("news", "hello"));

    sub.unsubscribe("news").unwrap();
    sub.punsubscribe("ne*").unwrap();
    assert!(wait_until(Duration::from_secs(5), || numsub(&mut c, "news") == 1));
    assert_eq!(int(&mut c, &["PUBLISH", "news", "again"]), 1);
}

#[test]
fn resp2_subscribed_mode_restrictions() {
    let node = Server::node(&[]);
    let mut raw = node.raw();
    raw.roundtrip(&resp(&[b"SUBSCRIBE", b"ch"]), "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n");
    raw.roundtrip(
        &resp(&[b"GET", b"k"]),
        "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n",
    );
    raw.roundtrip(&resp(&[b"PING"]), "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    raw.roundtrip(&resp(&[b"PING", b"hi"]), "*2\r\n$4\r\npong\r\n$2\r\nhi\r\n");
    raw.roundtrip(&resp(&[b"PSUBSCRIBE", b"p*"]), "*3\r\n$10\r\npsubscribe\r\n$2\r\np*\r\n:2\r\n");
    raw.roundtrip(&resp(&[b"UNSUBSCRIBE", b"ch"]), "*3\r\n$11\r\nunsubscribe\r\n$2\r\nch\r\n:1\r\n");
    raw.roundtrip(&resp(&[b"PUNSUBSCRIBE"]), "*3\r\n$12\r\npunsubscribe\r\n$2\r\np*\r\n:0\r\n");
    // Out of subscribed mode: normal commands work again.
    raw.roundtrip(&resp(&[b"GET", b"k"]), "$-1\r\n");
    raw.roundtrip(&resp(&[b"PING"]), "+PONG\r\n");
}

#[test]
fn unsubscribe_without_arguments() {
    let node = Server::node(&[]);
    let mut raw = node.raw();
    raw.roundtrip(&resp(&[b"UNSUBSCRIBE"]), "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n");
    raw.roundtrip(
        &resp(&[b"SUBSCRIBE", b"a", b"b"]),
        "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n",
    );
    raw.send(&resp(&[b"UNSUBSCRIBE"]));
    let frame = |ch: &str, n: u8| format!("*3\r\n$11\r\nunsubscribe\r\n$1\r\n{ch}\r\n:{n}\r\n");
    let got = String::from_utf8_lossy(&raw.read_exact_len(frame("a", 1).len() * 2)).into_owned();
    // Which channel goes first is unspecified; the counts go down 1, 0.
    assert!(got == frame("a", 1) + &frame("b", 0) || got == frame("b", 1) + &frame("a", 0), "got {got:?}");
    let mut c = node.conn();
    assert_eq!(int(&mut c, &["PUBLISH", "a", "x"]), 0);
    raw.roundtrip(&resp(&[b"PING"]), "+PONG\r\n");
}

#[test]
fn resp3_push_frames() {
    let node = Server::node(&[]);
    let mut raw = node.raw();
    raw.send(&resp(&[b"HELLO", b"3"]));
    raw.send(&resp(&[b"PING"]));
    let hello = read_until(&mut raw, "+PONG\r\n");
    assert!(hello.starts_with('%'), "HELLO 3 answers a map: {hello:?}");
    raw.roundtrip(&resp(&[b"SUBSCRIBE", b"ch"]), ">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n");
    let mut c = node.conn();
    assert_eq!(int(&mut c, &["PUBLISH", "ch", "hello"]), 1);
    let msg = ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n";
    assert_eq!(String::from_utf8_lossy(&raw.read_exact_len(msg.len())), msg);
    // RESP3 clients may run any command while subscribed.
    raw.roundtrip(&resp(&[b"GET", b"k"]), "_\r\n");
    raw.roundtrip(&resp(&[b"PING"]), "+PONG\r\n");
    raw.roundtrip(&resp(&[b"PSUBSCRIBE", b"c*"]), ">3\r\n$10\r\npsubscribe\r\n$2\r\nc*\r\n:2\r\n");
    assert_eq!(int(&mut c, &["PUBLISH", "ch", "x"]), 2);
    let a = ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nx\r\n";
    let b = ">4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\nch\r\n$1\r\nx\r\n";
    let got = String::from_utf8_lossy(&raw.read_exact_len(a.len() + b.len())).into_owned();
    assert_eq!(got, format!("{a}{b}"));
}

#[test]
fn pubsub_introspection_and_sharded_channels() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    let mut s1 = node.raw();
    let mut s2 = node.raw();
    s1.roundtrip(
        &resp(&[b"SUBSCRIBE", b"news", b"sport"]),
        "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$5\r\nsport\r\n:2\r\n",
    );
    s2.roundtrip(&resp(&[b"SUBSCRIBE", b"news"]), "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n");
    s2.roundtrip(&resp(&[b"PSUBSCRIBE", b"n*"]), "*3\r\n$10\r\npsubscribe\r\n$2\r\nn*\r\n:2\r\n");
    let mut chans: Vec<String> = q(&mut c, &["PUBSUB", "CHANNELS"]).unwrap();
    chans.sort();
    assert_eq!(chans, vec!["news", "sport"]);
    assert_eq!(q::<Vec<String>>(&mut c, &["PUBSUB", "CHANNELS", "s*"]).unwrap(), vec!["sport"]);
    let v: Value = q(&mut c, &["PUBSUB", "NUMSUB", "news", "sport", "none"]).unwrap();
    assert_eq!(
        v,
        Value::Array(vec![bulk("news"), Value::Int(2), bulk("sport"), Value::Int(1), bulk("none"), Value::Int(0)])
    );
    assert_eq!(q::<Value>(&mut c, &["PUBSUB", "NUMSUB"]).unwrap(), Value::Array(vec![]));
    assert_eq!(int(&mut c, &["PUBSUB", "NUMPAT"]), 1);

    // Sharded channels are separate from the classic ones.
    let mut s3 = node.raw();
    s3.roundtrip(&resp(&[b"SSUBSCRIBE", b"sch"]), "*3\r\n$10\r\nssubscribe\r\n$3\r\nsch\r\n:1\r\n");
    assert_eq!(q::<Vec<String>>(&mut c, &["PUBSUB", "SHARDCHANNELS"]).unwrap(), vec!["sch"]);
    assert_eq!(q::<Vec<String>>(&mut c, &["PUBSUB", "SHARDCHANNELS", "x*"]).unwrap(), Vec::<String>::new());
    let v: Value = q(&mut c, &["PUBSUB", "SHARDNUMSUB", "sch", "news"]).unwrap();
    assert_eq!(v, Value::Array(vec![bulk("sch"), Value::Int(1), bulk("news"), Value::Int(0)]));
    assert_eq!(int(&mut c, &["PUBLISH", "sch", "x"]), 0, "PUBLISH does not reach shard subscribers");
    assert_eq!(int(&mut c, &["SPUBLISH", "sch", "hi"]), 1);
    let msg = "*3\r\n$8\r\nsmessage\r\n$3\r\nsch\r\n$2\r\nhi\r\n";
    assert_eq!(String::from_utf8_lossy(&s3.read_exact_len(msg.len())), msg);
    assert_eq!(int(&mut c, &["SPUBLISH", "news", "x"]), 0, "SPUBLISH does not reach classic subscribers");
    s3.roundtrip(&resp(&[b"SUNSUBSCRIBE", b"sch"]), "*3\r\n$12\r\nsunsubscribe\r\n$3\r\nsch\r\n:0\r\n");
    assert!(q::<Vec<String>>(&mut c, &["PUBSUB", "SHARDCHANNELS"]).unwrap().is_empty());

    // A disconnected subscriber is removed from the registries.
    drop(s1);
    assert!(wait_until(Duration::from_secs(5), || numsub(&mut c, "news") == 1), "closed subscriber still counted");
    assert_eq!(q::<Vec<String>>(&mut c, &["PUBSUB", "CHANNELS"]).unwrap(), vec!["news"]);
}

#[test]
fn slow_subscriber_is_disconnected_by_output_buffer_limit() {
    let node = Server::node(&["--client-output-buffer-limit", "pubsub 1mb 512kb 60"]);
    let mut c = node.conn();
    let cfg: Vec<String> = q(&mut c, &["CONFIG", "GET", "client-output-buffer-limit"]).unwrap();
    assert!(cfg[1].contains("pubsub 1048576 524288 60"), "config: {cfg:?}");

    let mut slow = node.raw();
    slow.roundtrip(&resp(&[b"SUBSCRIBE", b"firehose"]), "*3\r\n$9\r\nsubscribe\r\n$8\r\nfirehose\r\n:1\r\n");
    // The slow subscriber never reads from here on. Publish 10 KB messages in batches until it is
    // dropped: 5 MB at least (as asked), at most 64 MB so kernel socket buffers cannot hide it.
    let payload = "x".repeat(10 * 1024);
    let mut sent = 0usize;
    let mut dropped = false;
    for _batch in 0..64 {
        let mut pipe = redis::pipe();
        for _ in 0..100 {
            pipe.cmd("PUBLISH").arg("firehose").arg(&payload).ignore();
        }
        pipe.query::<()>(&mut c).unwrap();
        sent += 100 * payload.len();
        if sent >= 5 << 20 && numsub(&mut c, "firehose") == 0 {
            dropped = true;
            break;
        }
    }
    assert!(
        dropped || wait_until(Duration::from_secs(10), || numsub(&mut c, "firehose") == 0),
        "the slow subscriber was never disconnected ({} MB published)",
        sent >> 20
    );
    let clients: String = q(&mut c, &["CLIENT", "LIST"]).unwrap();
    assert_eq!(clients.lines().count(), 1, "only the publisher is left: {clients}");
    assert_eq!(q::<String>(&mut c, &["PING"]).unwrap(), "PONG");
    let info: String = q(&mut c, &["INFO", "memory"]).unwrap();
    let used: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory in INFO memory");
    assert!(used < 64 << 20, "used_memory {used} after dropping the slow subscriber");
    assert!(slow.closed(), "the slow subscriber's socket is closed");
}
