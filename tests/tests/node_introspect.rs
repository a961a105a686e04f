//! Introspection on slotgate-node against Debian's redis-server 7.0: the same command lines on
//! both give replies of the same shape (types, lengths and texts, not timings): SLOWLOG
//! (entries, argument truncation and redaction, slowlog-max-len), LATENCY (LATEST, HISTORY,
//! HISTOGRAM, GRAPH, DOCTOR, RESET), MEMORY USAGE within 25% of redis-server's for every type
//! and encoding, MEMORY STATS, DEBUG DIGEST / DIGEST-VALUE (equal digests for the same data),
//! DEBUG PROTOCOL (equal bytes in RESP2 and RESP3), DEBUG RELOAD / OBJECT / SLEEP /
//! SET-ACTIVE-EXPIRE / CHANGE-REPL-ID, OBJECT FREQ, INFO commandstats and errorstats; and a
//! redis_exporter-style scrape (INFO ALL, SLOWLOG GET, LATENCY LATEST, CLIENT LIST, MEMORY
//! STATS) yields the same field names from both.

// Many lines run only to compare both servers' replies, which `same` does itself.
#![allow(unused_must_use)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use redis::{cmd, Value};
use slotgate_tests::{q, require_tool, Server};

/// A reply in comparable form: the value, or the error's full text.
fn run(c: &mut redis::Connection, args: &[&str]) -> Result<Value, String> {
    let mut command = cmd(args[0]);
    for a in &args[1..] {
        command.arg(*a);
    }
    command.query(c).map_err(|e| format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or("")))
}

/// A node and a redis-server started with the same arguments, and a connection to each.
struct Pair {
    node: Server,
    redis: Server,
    n: redis::Connection,
    r: redis::Connection,
}

impl Pair {
    fn start(args: &[&str]) -> Option<Pair> {
        if !require_tool("redis-server") {
            return None;
        }
        let node = Server::node(args);
        let redis = Server::redis(args);
        let (n, r) = (node.conn(), redis.conn());
        Some(Pair { node, redis, n, r })
    }

    /// Runs one line (words split on spaces) on both; returns (node, redis).
    fn both(&mut self, line: &str) -> (Result<Value, String>, Result<Value, String>) {
        let words: Vec<&str> = line.split(' ').collect();
        (run(&mut self.n, &words), run(&mut self.r, &words))
    }

    /// Runs one line on both and requires equal replies.
    fn same(&mut self, line: &str) -> Result<Value, String> {
        let (a, b) = self.both(line);
        assert_eq!(a, b, "{line}");
        a
    }

    fn same_args(&mut self, args: &[&str]) -> Result<Value, String> {
        let (a, b) = (run(&mut self.n, args), run(&mut self.r, args));
        assert_eq!(a, b, "{args:?}");
        a
    }
}

/// The shape of a reply: its types and lengths, with integers and strings left out.
fn shape(v: &Value) -> String {
    match v {
        Value::Nil => "nil".into(),
        Value::Int(_) => "int".into(),
        Value::BulkString(_) | Value::SimpleString(_) | Value::VerbatimString { .. } => "str".into(),
        Value::Okay => "ok".into(),
        Value::Double(_) => "double".into(),
        Value::Boolean(_) => "bool".into(),
        Value::Array(a) | Value::Set(a) => format!("[{}]", a.iter().map(shape).collect::<Vec<_>>().join(",")),
        Value::Map(m) => {
            format!("{{{}}}", m.iter().map(|(k, v)| format!("{}:{}", text(k), shape(v))).collect::<Vec<_>>().join(","))
        }
        other => format!("{other:?}"),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::VerbatimString { text, .. } => text.clone(),
        Value::Int(n) => n.to_string(),
        Value::Okay => "OK".into(),
        other => format!("{other:?}"),
    }
}

fn items(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) | Value::Set(a) => a.clone(),
        Value::Map(m) => m.iter().flat_map(|(k, v)| [k.clone(), v.clone()]).collect(),
        _ => Vec::new(),
    }
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Int(n) => *n,
        other => panic!("not an integer: {other:?}"),
    }
}

#[test]
fn slowlog_entries_truncation_and_max_len() {
    let Some(mut p) = Pair::start(&[]) else { return };
    p.same("CONFIG SET slowlog-log-slower-than 0");
    p.same("SLOWLOG RESET");
    // 33 arguments past the name: the 32nd kept slot says how many more there were.
    let mut sadd = vec!["SADD", "set"];
    let nums: Vec<String> = (3..=33).map(|i| i.to_string()).collect();
    sadd.extend(nums.iter().map(String::as_str));
    p.same_args(&sadd);
    let long = "A".repeat(129);
    p.same_args(&["SADD", "set2", "foo", &long]);
    p.same("CLIENT SETNAME reporter");
    p.same("MULTI");
    p.same("SET x 1");
    p.same("EXEC");
    p.same("AUTH nosuchuser wrongpassword");
    p.same("CONFIG SET requirepass \"\"").ok();
    let (n, r) = p.both("SLOWLOG GET -1");
    let (n, r) = (n.unwrap(), r.unwrap());
    assert_eq!(shape(&n), shape(&r), "SLOWLOG GET shapes\n{n:?}\n{r:?}");
    let args = |v: &Value| -> Vec<Vec<String>> {
        items(v).iter().map(|e| items(&items(e)[3]).iter().map(text).collect()).collect()
    };
    assert_eq!(args(&n), args(&r));
    let first = items(&n);
    let last_sadd = args(&n).into_iter().find(|a| a[0] == "SADD" && a[1] == "set").expect("SADD logged");
    assert_eq!(last_sadd.len(), 32);
    assert_eq!(last_sadd[31], "... (2 more arguments)");
    // Every entry: id, time, duration, arguments, peer and the client's name.
    for e in &first {
        let f = items(e);
        assert_eq!(f.len(), 6);
        assert!(text(&f[4]).starts_with("127.0.0.1:"), "{f:?}");
    }
    let named = first.iter().map(items).find(|f| text(&items(&f[3])[0]) == "SET").expect("SET inside EXEC logged");
    assert_eq!(text(&named[5]), "reporter");
    // Ids count up from 0 since start on both.
    assert_eq!(int(&items(&first[0])[0]), int(&items(&items(&r)[0])[0]));

    p.same("CONFIG SET slowlog-max-len 5");
    for _ in 0..10 {
        p.same("PING");
    }
    assert_eq!(p.same("SLOWLOG LEN"), Ok(Value::Int(5)));
    assert_eq!(p.same("SLOWLOG GET 0"), Ok(Value::Array(vec![])));
    let (n, r) = p.both("SLOWLOG GET 2");
    assert_eq!(items(&n.unwrap()).len(), items(&r.unwrap()).len());
    p.same("SLOWLOG GET -2").unwrap_err();
    p.same("SLOWLOG GET abc").unwrap_err();
    p.same("SLOWLOG GET 1 2").unwrap_err();
    p.same("SLOWLOG HELP").unwrap();
    p.same("SLOWLOG NOSUCH").unwrap_err();
    // Off: nothing more is logged.
    p.same("CONFIG SET slowlog-log-slower-than -1");
    p.same("SLOWLOG RESET");
    p.same("PING");
    assert_eq!(p.same("SLOWLOG LEN"), Ok(Value::Int(0)));
}

/// A blocked command reaches the slow log when it is served (with the time serving took, not
/// the wait), not when it blocks, and not when it times out: as Redis's updateStatsOnUnblock.
#[test]
fn blocked_commands_reach_the_slowlog_when_served() {
    let Some(mut p) = Pair::start(&[]) else { return };
    p.same("CONFIG SET slowlog-log-slower-than 0");
    let mut logged = Vec::new();
    for server in [&p.node, &p.redis] {
        let mut admin = server.conn();
        q::<()>(&mut admin, &["SLOWLOG", "RESET"]).unwrap();
        let port = server.port;
        let waiter = std::thread::spawn(move || {
            let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap().get_connection().unwrap();
            let served: Option<Vec<String>> = cmd("BLPOP").arg("L").arg(5).query(&mut c).unwrap();
            let timed_out: Option<Vec<String>> = cmd("BLPOP").arg("L2").arg(0.2).query(&mut c).unwrap();
            (served, timed_out)
        });
        // The waiter is blocked before the push (CLIENT LIST shows the blocking command).
        assert!(slotgate_tests::wait_until(Duration::from_secs(5), || {
            q::<String>(&mut admin, &["CLIENT", "LIST"]).is_ok_and(|l| l.contains("cmd=blpop"))
        }));
        q::<i64>(&mut admin, &["LPUSH", "L", "a"]).unwrap();
        let (served, timed_out) = waiter.join().unwrap();
        assert_eq!((served, timed_out), (Some(vec!["L".to_string(), "a".to_string()]), None));
        let log = run(&mut admin, &["SLOWLOG", "GET", "-1"]).unwrap();
        let names: Vec<Vec<String>> = items(&log)
            .iter()
            .map(|e| items(&items(e)[3]).iter().map(text).collect::<Vec<_>>())
            .filter(|a| a[0] != "CLIENT" && a[0] != "SLOWLOG")
            .collect();
        logged.push(names);
    }
    assert_eq!(logged[0], logged[1], "slotgate-node vs redis-server");
    assert!(logged[0].contains(&vec!["BLPOP".to_string(), "L".into(), "5".into()]), "{:?}", logged[0]);
}

/// A BGSAVE's fork is a `fork` latency event of as many milliseconds as INFO's
/// latest_fork_usec says, when that reaches the threshold (2M keys make it take a few ms).
#[test]
fn fork_is_a_latency_event() {
    let dir = slotgate_tests::scratch_dir("fork-latency");
    let node = Server::node_in(&dir, &["--enable-debug-command", "yes"]);
    let mut c = node.conn();
    q::<()>(&mut c, &["CONFIG", "SET", "latency-monitor-threshold", "1"]).unwrap();
    q::<()>(&mut c, &["DEBUG", "POPULATE", "2000000"]).unwrap();
    q::<String>(&mut c, &["BGSAVE"]).unwrap();
    let field = |c: &mut redis::Connection, name: &str| -> i64 {
        let info: String = q(c, &["INFO", "ALL"]).unwrap();
        info.lines().find_map(|l| l.strip_prefix(&format!("{name}:"))).and_then(|v| v.trim().parse().ok()).unwrap()
    };
    assert!(slotgate_tests::wait_until(Duration::from_secs(60), || field(&mut c, "rdb_bgsave_in_progress") == 0));
    let fork_ms = field(&mut c, "latest_fork_usec") / 1000;
    let history = run(&mut c, &["LATENCY", "HISTORY", "fork"]).unwrap();
    let samples: Vec<i64> = items(&history).iter().map(|e| int(&items(e)[1])).collect();
    if fork_ms >= 1 {
        assert_eq!(samples, vec![fork_ms], "fork took {fork_ms} ms");
    } else {
        assert!(samples.is_empty(), "a fork under 1 ms is no event: {samples:?}");
    }
}

#[test]
fn latency_monitor_and_histograms() {
    let Some(mut p) = Pair::start(&["--enable-debug-command", "yes"]) else { return };
    // Disabled and empty: the same refusal text.
    p.same("LATENCY DOCTOR");
    assert_eq!(p.same("LATENCY LATEST"), Ok(Value::Array(vec![])));
    p.same("LATENCY HELP");
    p.same("LATENCY GRAPH command").unwrap_err();
    p.same("LATENCY HISTORY command");
    p.same("CONFIG SET latency-monitor-threshold 10");
    p.same("DEBUG SLEEP 0.03");
    let (n, r) = p.both("LATENCY LATEST");
    assert_eq!(shape(&n.clone().unwrap()), shape(&r.unwrap()));
    let latest = items(&items(&n.unwrap())[0]);
    assert_eq!(text(&latest[0]), "command");
    assert!(int(&latest[2]) >= 30 && int(&latest[3]) >= 30, "{latest:?}");
    let (n, r) = p.both("LATENCY HISTORY command");
    assert_eq!(shape(&n.unwrap()), shape(&r.unwrap()));
    let (n, r) = p.both("LATENCY GRAPH command");
    let (gn, gr) = (text(&n.unwrap()), text(&r.unwrap()));
    assert_eq!(gn.lines().count(), gr.lines().count(), "{gn}\n{gr}");
    assert_eq!(gn.lines().nth(1), gr.lines().nth(1));
    let (n, r) = p.both("LATENCY DOCTOR");
    let (dn, dr) = (text(&n.unwrap()), text(&r.unwrap()));
    assert_eq!(dn.lines().next(), dr.lines().next());
    assert_eq!(dn.lines().filter(|l| l.starts_with("- ")).count(), dr.lines().filter(|l| l.starts_with("- ")).count());
    assert_eq!(p.same("LATENCY RESET nosuch command"), Ok(Value::Int(1)));
    assert_eq!(p.same("LATENCY RESET"), Ok(Value::Int(0)));
    p.same("CONFIG SET latency-monitor-threshold 0");
    p.same("DEBUG SLEEP 0.02");
    assert_eq!(p.same("LATENCY LATEST"), Ok(Value::Array(vec![])));

    // Per-command histograms: calls and cumulative buckets.
    p.same("CONFIG RESETSTAT");
    for i in 0..3 {
        p.same(&format!("SET k{i} v"));
    }
    p.both("CLIENT ID");
    let (n, r) = p.both("LATENCY HISTOGRAM set client|id nosuch");
    let (n, r) = (n.unwrap(), r.unwrap());
    let calls = |v: &Value| -> BTreeMap<String, i64> {
        let it = items(v);
        it.chunks(2).map(|kv| (text(&kv[0]), int(&items(&kv[1])[1]))).collect()
    };
    assert_eq!(calls(&n), calls(&r));
    let set = items(&n);
    let buckets = items(&items(&set[1])[3]);
    assert_eq!(int(buckets.last().unwrap()), 3, "cumulative to the last bucket: {buckets:?}");
    let (n, r) = p.both("LATENCY HISTOGRAM");
    assert_eq!(calls(&n.unwrap()).keys().collect::<Vec<_>>(), calls(&r.unwrap()).keys().collect::<Vec<_>>());
    // INFO latencystats: one line per command with p50, p99 and p99.9.
    let names = |info: String| -> BTreeSet<String> {
        info.lines()
            .filter(|l| l.starts_with("latency_percentiles_usec_"))
            .map(|l| {
                let (k, v) = l.split_once(':').unwrap();
                let ps: Vec<&str> = v.split(',').map(|p| p.split('=').next().unwrap()).collect();
                format!("{k}:{}", ps.join(","))
            })
            .collect()
    };
    let ni: String = q(&mut p.n, &["INFO", "latencystats"]).unwrap();
    let ri: String = q(&mut p.r, &["INFO", "latencystats"]).unwrap();
    assert_eq!(names(ni), names(ri));
    p.same_args(&["CONFIG", "SET", "latency-tracking-info-percentiles", "50 99.99"]).unwrap();
    p.same_args(&["CONFIG", "GET", "latency-tracking-info-percentiles"]).unwrap();
    let ni: String = q(&mut p.n, &["INFO", "latencystats"]).unwrap();
    let ri: String = q(&mut p.r, &["INFO", "latencystats"]).unwrap();
    assert_eq!(names(ni), names(ri));
}

/// The values built the same way on both, one per type and encoding.
fn build_values(p: &mut Pair) -> Vec<(&'static str, &'static str)> {
    let mut run_both = |args: Vec<String>| {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        p.same_args(&a).unwrap();
    };
    run_both(vec!["SET".into(), "s:int".into(), "123456".into()]);
    run_both(vec!["SET".into(), "s:embstr".into(), "hello world".into()]);
    run_both(vec!["SET".into(), "s:raw".into(), "x".repeat(300)]);
    run_both(vec!["SET".into(), "s:big".into(), "y".repeat(20000)]);
    let list_small: Vec<String> =
        ["RPUSH", "l:small", "a", "b", "c", "12", "-7"].iter().map(|s| s.to_string()).collect();
    run_both(list_small);
    for chunk in 0..10 {
        let mut a = vec!["RPUSH".to_string(), "l:big".to_string()];
        a.extend((0..200).map(|i| format!("element-{chunk}-{i}")));
        run_both(a);
    }
    run_both(vec!["RPUSH".into(), "l:wide".into(), "z".repeat(5000), "w".repeat(5000), "v".repeat(100)]);
    run_both(["HSET", "h:lp", "f1", "v1", "f2", "22"].iter().map(|s| s.to_string()).collect());
    let mut h = vec!["HSET".to_string(), "h:ht".to_string()];
    for i in 0..600 {
        h.push(format!("field:{i}"));
        h.push(format!("value:{i}"));
    }
    run_both(h);
    run_both(vec!["SADD".into(), "set:int".into(), "1".into(), "2".into(), "3".into(), "70000".into()]);
    let mut s = vec!["SADD".to_string(), "set:ht".to_string()];
    s.extend((0..300).map(|i| format!("member:{i}")));
    run_both(s);
    run_both(["ZADD", "z:lp", "1", "a", "2.5", "b", "3", "c"].iter().map(|s| s.to_string()).collect());
    let mut z = vec!["ZADD".to_string(), "z:sl".to_string()];
    for i in 0..400 {
        z.push(i.to_string());
        z.push(format!("zmember:{i}"));
    }
    run_both(z);
    for i in 1..=3 {
        run_both(vec!["XADD".into(), "x:small".into(), format!("{i}-1"), "f".into(), "v".into()]);
    }
    for i in 1..=500 {
        run_both(vec!["XADD".into(), "x:big".into(), format!("{i}-1"), "field".into(), format!("value{i}")]);
    }
    run_both(["XGROUP", "CREATE", "x:big", "g", "0"].iter().map(|s| s.to_string()).collect());
    run_both(
        ["XREADGROUP", "GROUP", "g", "alice", "COUNT", "50", "STREAMS", "x:big", ">"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
    );
    vec![
        ("s:int", "int"),
        ("s:embstr", "embstr"),
        ("s:raw", "raw"),
        ("s:big", "raw"),
        ("l:small", "quicklist"),
        ("l:big", "quicklist"),
        ("l:wide", "quicklist"),
        ("h:lp", "listpack"),
        ("h:ht", "hashtable"),
        ("set:int", "intset"),
        ("set:ht", "hashtable"),
        ("z:lp", "listpack"),
        ("z:sl", "skiplist"),
        ("x:small", "stream"),
        ("x:big", "stream"),
    ]
}

#[test]
fn memory_usage_within_a_quarter_of_redis() {
    let Some(mut p) = Pair::start(&[]) else { return };
    let keys = build_values(&mut p);
    let mut report = Vec::new();
    for (key, encoding) in &keys {
        assert_eq!(p.same(&format!("OBJECT ENCODING {key}")), Ok(Value::BulkString(encoding.as_bytes().to_vec())));
        for samples in ["", " SAMPLES 0", " SAMPLES 2"] {
            let (n, r) = p.both(&format!("MEMORY USAGE {key}{samples}"));
            let (n, r) = (int(&n.unwrap()), int(&r.unwrap()));
            report.push(format!("{key} ({encoding}){samples}: node {n}, redis {r}"));
            let off = (n - r).abs() as f64 / r as f64;
            assert!(
                off <= 0.25,
                "MEMORY USAGE {key}{samples} ({encoding}): node {n}, redis {r}\n{}",
                report.join("\n")
            );
        }
    }
    println!("{}", report.join("\n"));
    assert_eq!(p.same("MEMORY USAGE nosuchkey"), Ok(Value::Nil));
    p.same("MEMORY USAGE s:int SAMPLES").unwrap_err();
    p.same("MEMORY USAGE s:int SAMPLES -1").unwrap_err();
    p.same("MEMORY USAGE s:int SAMPLES x").unwrap_err();
    p.same("MEMORY USAGE s:int FOO 1").unwrap_err();
    p.same("MEMORY HELP").unwrap();
    p.same("MEMORY NOSUCH").unwrap_err();
    p.same("MEMORY PURGE").unwrap();
}

/// Field names of MEMORY STATS, nested maps as `outer/inner`.
fn stat_names(v: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for kv in items(v).chunks(2) {
        let k = text(&kv[0]);
        let nested = items(&kv[1]);
        if nested.is_empty() {
            out.insert(k);
        } else {
            for inner in nested.chunks(2) {
                out.insert(format!("{k}/{}", text(&inner[0])));
            }
        }
    }
    out
}

/// INFO field names by section; the per-command, per-error and per-db lines by their prefix.
fn info_names(info: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut section = String::new();
    for line in info.lines() {
        if let Some(s) = line.strip_prefix("# ") {
            section = s.to_string();
            out.entry(section.clone()).or_default();
        } else if let Some((k, v)) = line.split_once(':') {
            // The per-command lines carry their own fields after the name.
            let fields: Vec<&str> = v.split(',').filter_map(|f| f.split_once('=').map(|x| x.0)).collect();
            out.entry(section.clone()).or_default().insert(format!("{k}:{}", fields.join(",")));
        }
    }
    out
}

/// Errorstats and the counting columns of commandstats are equal, not just named alike.
fn same_error_counts(ni: &str, ri: &str) {
    let lines = |info: &str, prefix: &str| -> Vec<String> {
        info.lines()
            .filter(|l| l.starts_with(prefix))
            .map(|l| l.split(',').filter(|f| !f.starts_with("usec")).collect::<Vec<_>>().join(","))
            .map(|l| l.split(":usec=").next().unwrap_or(&l).to_string())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    assert_eq!(lines(ni, "errorstat_"), lines(ri, "errorstat_"));
    assert_eq!(lines(ni, "total_error_replies"), lines(ri, "total_error_replies"));
    let calls = |info: &str| -> BTreeSet<String> {
        info.lines()
            .filter(|l| l.starts_with("cmdstat_"))
            .map(|l| l.split(',').filter(|f| !f.starts_with("usec")).collect::<Vec<_>>().join(","))
            .collect()
    };
    let strip_usec = |s: BTreeSet<String>| -> BTreeSet<String> {
        s.into_iter()
            .map(|l| {
                let (name, rest) = l.split_once(':').unwrap();
                let rest: Vec<&str> =
                    rest.split(',').filter(|f| f.starts_with("calls") || f.contains("_calls")).collect();
                format!("{name}:{}", rest.join(","))
            })
            .collect()
    };
    assert_eq!(strip_usec(calls(ni)), strip_usec(calls(ri)));
}

/// Errors inside scripts count as Redis counts them: a called command's error once, where
/// it happened (failed or rejected), not again when the script passes it on; other script
/// errors when EVAL replies with them.
#[test]
fn script_errors_count_as_redis_counts_them() {
    let Some(mut p) = Pair::start(&[]) else { return };
    let lines: &[&[&str]] = &[
        &["SET", "s", "x"],
        &["EVAL", "return redis.call('incr','s')", "0"],
        &["EVAL", "return redis.pcall('incr','s')", "0"],
        &["EVAL", "local t = redis.pcall('incr','s') return 1", "0"],
        &["EVAL", "local t = redis.pcall('incr','s'); return t['ignore_error_stats_update']", "0"],
        &["EVAL", "return redis.pcall('nosuch')", "0"],
        &["EVAL", "redis.pcall('nosuch') return 1", "0"],
        &["EVAL", "return redis.pcall('set','s')", "0"],
        &["EVAL", "return redis.call('get','s','x')", "0"],
        &["EVAL", "return redis.pcall('set', {}, 'x')", "0"],
        &["EVAL_RO", "return redis.call('set','a','1')", "0"],
        &["EVAL_RO", "redis.pcall('set','a','1') return 2", "0"],
        &["EVAL", "return {err='MYERR x'}", "0"],
        &["EVAL", "return redis.error_reply('OTHER y')", "0"],
        &["EVAL", "error('boom')", "0"],
        &["EVAL", "return {1, redis.pcall('incr','s')}", "0"],
        &["EVAL", "return {redis.pcall('incr','s'), redis.pcall('incr','s')}", "0"],
        &["EVAL", "return {redis.error_reply('AAA x'), {redis.error_reply('BBB y')}}", "0"],
        &["CLIENT", "NOSUCH"],
        &["MULTI"],
        &["EVAL", "return redis.call('incr','s')", "0"],
        &["CONFIG", "NOSUCH"],
        &["EXEC"],
        &["FCALL", "nosuch", "0"],
    ];
    for line in lines {
        p.same_args(line);
    }
    let ni = text(&run(&mut p.n, &["INFO", "ALL"]).unwrap());
    let ri = text(&run(&mut p.r, &["INFO", "ALL"]).unwrap());
    same_error_counts(&ni, &ri);
}

#[test]
fn scrape_field_names_match_redis() {
    let Some(mut p) = Pair::start(&[]) else { return };
    build_values(&mut p);
    p.same("SET ttl v EX 100");
    p.same("CONFIG RESETSTAT");
    // The same traffic on both, errors of several codes included.
    p.same("GET s:int");
    p.same("INCR s:embstr").unwrap_err();
    p.same("LPUSH s:int x").unwrap_err();
    p.same("NOSUCHCOMMAND a b").unwrap_err();
    p.same("GET").unwrap_err();
    p.both("CLIENT LIST");
    p.same("MULTI");
    p.same("NOSUCHCOMMAND").unwrap_err();
    p.same("EXEC").unwrap_err();
    p.same("SLOWLOG GET");
    p.same("LATENCY LATEST");
    let ni: String = q(&mut p.n, &["INFO", "ALL"]).unwrap();
    let ri: String = q(&mut p.r, &["INFO", "ALL"]).unwrap();
    let (nn, rn) = (info_names(&ni), info_names(&ri));
    assert_eq!(nn.keys().collect::<Vec<_>>(), rn.keys().collect::<Vec<_>>(), "INFO ALL sections");
    for (section, want) in &rn {
        let got = &nn[section];
        let missing: Vec<_> = want.difference(got).collect();
        let extra: Vec<_> = got.difference(want).collect();
        assert!(missing.is_empty() && extra.is_empty(), "INFO {section}: missing {missing:?}, extra {extra:?}");
    }
    // INFO itself was counted once before this scrape on both.
    same_error_counts(&ni, &ri);

    let (n, r) = p.both("MEMORY STATS");
    assert_eq!(stat_names(&n.unwrap()), stat_names(&r.unwrap()));
    let client_fields = |v: Value| -> BTreeSet<String> {
        text(&v)
            .lines()
            .next()
            .unwrap_or("")
            .split(' ')
            .filter_map(|f| f.split_once('=').map(|x| x.0.to_string()))
            .collect()
    };
    let (n, r) = p.both("CLIENT LIST");
    assert_eq!(client_fields(n.unwrap()), client_fields(r.unwrap()));
    let (n, r) = p.both("SLOWLOG GET 1");
    assert_eq!(shape(&n.unwrap()), shape(&r.unwrap()));
    let (n, r) = p.both("LATENCY LATEST");
    assert_eq!(shape(&n.unwrap()), shape(&r.unwrap()));
}

#[test]
fn debug_digests_protocol_and_reload() {
    let Some(mut p) = Pair::start(&["--enable-debug-command", "yes"]) else { return };
    let empty = p.same("DEBUG DIGEST").unwrap();
    assert_eq!(text(&empty), "0".repeat(40));
    let keys = build_values(&mut p);
    p.same("SET with:ttl v EX 1000");
    p.same("HSET h:ht2 a 1");
    p.same("DEBUG DIGEST").unwrap();
    // DEBUG POPULATE: the same keys and values (the digest says so), existing keys kept.
    p.same("SET key:3 mine");
    for line in [
        "DEBUG POPULATE 50",
        "DEBUG POPULATE 20 pre",
        "DEBUG POPULATE 5 sized 12",
        "DEBUG POPULATE 5 short 3",
        "DEBUG POPULATE -1",
        "DEBUG POPULATE x",
        "DEBUG POPULATE 1 a 2 3",
        "DBSIZE",
        "GET key:3",
        "GET sized:4",
        "STRLEN short:1",
        "DEBUG DIGEST",
    ] {
        p.same(line).ok();
    }
    let mut line = String::from("DEBUG DIGEST-VALUE nosuch with:ttl");
    for (k, _) in &keys {
        line.push(' ');
        line.push_str(k);
    }
    p.same(&line).unwrap();
    // DEBUG OBJECT: the same encoding, serialized length and quicklist figures.
    for (k, _) in &keys {
        let (n, r) = p.both(&format!("DEBUG OBJECT {k}"));
        let fields = |v: Value| -> Vec<String> {
            text(&v)
                .split(' ')
                .filter(|f| {
                    f.starts_with("encoding:")
                        || f.starts_with("serializedlength:")
                        || f.starts_with("ql_")
                        || f.starts_with("refcount:")
                })
                .map(str::to_string)
                .collect()
        };
        let (fnode, fredis) = (fields(n.unwrap()), fields(r.unwrap()));
        let names = |f: &[String]| f.iter().map(|x| x.split(':').next().unwrap_or("").to_string()).collect::<Vec<_>>();
        assert_eq!(names(&fnode), names(&fredis), "DEBUG OBJECT {k}");
        let enc = |f: &[String]| {
            f.iter().filter(|x| x.starts_with("encoding") || x.starts_with("refcount")).cloned().collect::<Vec<_>>()
        };
        assert_eq!(enc(&fnode), enc(&fredis), "DEBUG OBJECT {k}");
        println!("DEBUG OBJECT {k}: node {fnode:?} redis {fredis:?}");
    }
    p.same("DEBUG OBJECT nosuch").unwrap_err();
    // RELOAD keeps the dataset: the digest does not move.
    let before = p.same("DEBUG DIGEST").unwrap();
    assert_eq!(p.same("DEBUG RELOAD"), Ok(Value::Okay));
    assert_eq!(p.same("DEBUG DIGEST").unwrap(), before);
    assert_eq!(p.same("DEBUG SLEEP 0"), Ok(Value::Okay));
    p.same("DEBUG SET-ACTIVE-EXPIRE 0");
    p.same("SET short v PX 50");
    std::thread::sleep(Duration::from_millis(300));
    // Not expired in the background: still counted by DBSIZE until looked up.
    p.same("DBSIZE");
    p.same("DEBUG SET-ACTIVE-EXPIRE 1");
    let id_before: String = q(&mut p.n, &["INFO", "replication"]).unwrap();
    p.same("DEBUG CHANGE-REPL-ID");
    let id_after: String = q(&mut p.n, &["INFO", "replication"]).unwrap();
    let replid = |s: &str| s.lines().find(|l| l.starts_with("master_replid:")).map(str::to_string);
    assert_ne!(replid(&id_before), replid(&id_after));
    p.same("DEBUG NOSUCH").unwrap_err();
    p.same("DEBUG PROTOCOL nosuch").unwrap_err();

    // DEBUG PROTOCOL, byte for byte, in RESP2 and RESP3.
    for resp3 in [false, true] {
        let mut rn = p.node.raw();
        let mut rr = p.redis.raw();
        if resp3 {
            let hello = b"HELLO 3\r\n";
            rn.send(hello);
            rr.send(hello);
            std::thread::sleep(Duration::from_millis(100));
            let _ = rn.read_exact_len(1);
            let _ = rr.read_exact_len(1);
            drain(&mut rn);
            drain(&mut rr);
        }
        for t in [
            "string", "integer", "double", "bignum", "null", "array", "set", "map", "attrib", "push", "verbatim",
            "true", "false",
        ] {
            let line = format!("DEBUG PROTOCOL {t}\r\n");
            rn.send(line.as_bytes());
            rr.send(line.as_bytes());
            std::thread::sleep(Duration::from_millis(30));
            let (a, b) = (drain(&mut rn), drain(&mut rr));
            assert_eq!(String::from_utf8_lossy(&a), String::from_utf8_lossy(&b), "DEBUG PROTOCOL {t} resp3={resp3}");
        }
    }
}

/// Whatever has arrived on a raw connection within a short wait.
fn drain(c: &mut slotgate_tests::RawConn) -> Vec<u8> {
    use std::io::Read;
    let _ = c.0.set_read_timeout(Some(Duration::from_millis(200)));
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = c.0.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
        let _ = c.0.set_read_timeout(Some(Duration::from_millis(50)));
    }
    out
}

#[test]
fn debug_refused_unless_enabled_and_object_freq() {
    let Some(mut p) = Pair::start(&[]) else { return };
    p.same("DEBUG DIGEST").unwrap_err();
    p.same("DEBUG HELP").unwrap_err();
    p.same("SET k v");
    // LRU policy: OBJECT FREQ is refused, IDLETIME answers.
    p.same("OBJECT FREQ k").unwrap_err();
    p.same("OBJECT IDLETIME k");
    p.same("CONFIG SET maxmemory-policy allkeys-lfu");
    p.same("SET k2 v");
    // A new key starts at LFU_INIT_VAL; IDLETIME is refused under LFU.
    assert_eq!(p.same("OBJECT FREQ k2"), Ok(Value::Int(5)));
    p.same("OBJECT IDLETIME k2").unwrap_err();
    p.same("OBJECT FREQ nosuch");
    let local = Pair::start(&["--enable-debug-command", "local"]);
    if let Some(mut l) = local {
        l.same("DEBUG SLEEP 0");
    }
}
