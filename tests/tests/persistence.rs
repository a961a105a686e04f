//! Persistence: the AOF keeps every acknowledged write across a SIGKILL (`always`) or all but
//! the last second (`everysec`); a SIGKILL during BGSAVE or BGREWRITEAOF leaves the previous
//! files loadable; RDB and AOF files move both ways between slotgate-node and redis-server 7.0;
//! corrupted files are refused with the offset named, a cut-off AOF tail is repaired only when
//! `aof-load-truncated yes`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use slotgate_tests::{binary, free_port, q, require_tool, scratch_dir, wait_until, Server};

/// Acknowledged writes of the load generator: `(op index, when acknowledged)`.
type Acks = Arc<Mutex<Vec<(u64, Instant)>>>;

/// Runs writes cycling through SET/INCR/RPUSH/HSET/ZADD until the server goes away, at most
/// `max` of them or for `limit`, recording each acknowledgement.
fn write_load(port: u16, max: u64, limit: Duration, acks: Acks, only_set: bool) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let Ok(client) = redis::Client::open(format!("redis://127.0.0.1:{port}/")) else { return };
        let Ok(mut c) = client.get_connection() else { return };
        let deadline = Instant::now() + limit;
        for i in 0..max {
            if Instant::now() > deadline {
                break;
            }
            let op = if only_set { 0 } else { i % 5 };
            let mut cmd = match op {
                0 => redis::cmd("SET"),
                1 => redis::cmd("INCR"),
                2 => redis::cmd("RPUSH"),
                3 => redis::cmd("HSET"),
                _ => redis::cmd("ZADD"),
            };
            match op {
                0 => cmd.arg(format!("k{i}")).arg(format!("v{i}")),
                1 => cmd.arg("counter"),
                2 => cmd.arg("list").arg(i),
                3 => cmd.arg("hash").arg(format!("f{i}")).arg(i),
                _ => cmd.arg("zset").arg(i).arg(format!("m{i}")),
            };
            if cmd.query::<redis::Value>(&mut c).is_err() {
                break;
            }
            acks.lock().unwrap().push((i, Instant::now()));
        }
    })
}

/// The acknowledged ops of `write_load` missing from the restarted server.
fn missing_writes(c: &mut redis::Connection, acked: &[u64], only_set: bool) -> Vec<u64> {
    let list: Vec<u64> = q(c, &["LRANGE", "list", "0", "-1"]).unwrap();
    let hash: BTreeMap<String, u64> = q(c, &["HGETALL", "hash"]).unwrap();
    let zset: Vec<(String, f64)> = q(c, &["ZRANGE", "zset", "0", "-1", "WITHSCORES"]).unwrap();
    let zset: BTreeMap<String, f64> = zset.into_iter().collect();
    let counter: u64 = q::<Option<u64>>(c, &["GET", "counter"]).unwrap().unwrap_or(0);
    let incrs = acked.iter().filter(|i| !only_set && *i % 5 == 1).count() as u64;
    let mut missing = Vec::new();
    let set_keys: Vec<u64> = acked.iter().copied().filter(|i| only_set || i % 5 == 0).collect();
    for chunk in set_keys.chunks(1000) {
        let keys: Vec<String> = chunk.iter().map(|i| format!("k{i}")).collect();
        let mut cmd = redis::cmd("MGET");
        cmd.arg(&keys);
        let values: Vec<Option<String>> = cmd.query(c).unwrap();
        for (i, v) in chunk.iter().zip(values) {
            if v.as_deref() != Some(&format!("v{i}")) {
                missing.push(*i);
            }
        }
    }
    if only_set {
        return missing;
    }
    for &i in acked {
        let present = match i % 5 {
            2 => list.contains(&i),
            3 => hash.get(&format!("f{i}")) == Some(&i),
            4 => zset.get(&format!("m{i}")) == Some(&(i as f64)),
            _ => true,
        };
        if !present {
            missing.push(i);
        }
    }
    // Each acknowledged INCR counted (one unacknowledged one may have made it too).
    if counter < incrs {
        missing.extend((0..incrs - counter).map(|_| u64::MAX));
    }
    let acked_list: Vec<u64> = acked.iter().copied().filter(|i| i % 5 == 2).collect();
    assert_eq!(
        &list[..acked_list.len().min(list.len())],
        &acked_list[..acked_list.len().min(list.len())],
        "list order"
    );
    missing
}

/// Writes under load, SIGKILLs the node once `kill_after` writes were acknowledged (or 3 s
/// passed), restarts it on the same files; returns the acks, the kill time and the server.
fn crash_under_load(fsync: &str, only_set: bool) -> (Vec<(u64, Instant)>, Instant, Server) {
    let dir = scratch_dir("aof-crash");
    let args = ["--appendonly", "yes", "--appendfsync", fsync];
    let mut node = Server::node_in(&dir, &args);
    let acks: Acks = Arc::default();
    let writer = write_load(node.port, 20_000, Duration::from_secs(5), acks.clone(), only_set);
    wait_until(Duration::from_secs(3), || acks.lock().unwrap().len() >= 3_000);
    node.kill();
    let killed = Instant::now();
    writer.join().unwrap();
    let acks = acks.lock().unwrap().clone();
    assert!(acks.len() > 100, "the load generator barely ran ({} writes)", acks.len());
    let node = Server::node_in(&dir, &args);
    (acks, killed, node)
}

#[test]
fn appendfsync_always_keeps_every_acknowledged_write_across_sigkill() {
    let (acks, _, node) = crash_under_load("always", false);
    let acked: Vec<u64> = acks.iter().map(|(i, _)| *i).collect();
    let missing = missing_writes(&mut node.conn(), &acked, false);
    println!("appendfsync always: {} acknowledged writes, {} missing after SIGKILL", acked.len(), missing.len());
    assert!(missing.is_empty(), "acknowledged writes lost: {:?}", &missing[..missing.len().min(20)]);
    let _ = std::fs::remove_dir_all(&node.dir);
}

#[test]
fn appendfsync_everysec_loses_at_most_the_last_second() {
    let (acks, killed, node) = crash_under_load("everysec", true);
    let acked: Vec<u64> = acks.iter().map(|(i, _)| *i).collect();
    let missing = missing_writes(&mut node.conn(), &acked, true);
    // Generous: the last two seconds of acknowledgements may be gone, nothing older.
    let recent = acks.iter().filter(|(_, at)| killed.duration_since(*at) < Duration::from_secs(2)).count();
    println!(
        "appendfsync everysec: {} acknowledged writes, {} missing after SIGKILL ({} acknowledged in the last 2 s)",
        acked.len(),
        missing.len(),
        recent
    );
    assert!(missing.len() <= recent, "{} writes missing, more than the last 2 s ({recent})", missing.len());
    let oldest_ok = acks.iter().filter(|(_, at)| killed.duration_since(*at) >= Duration::from_secs(2));
    let old: Vec<u64> = oldest_ok.map(|(i, _)| *i).collect();
    assert!(missing.iter().all(|m| !old.contains(m)), "a write older than 2 s is missing");
    let _ = std::fs::remove_dir_all(&node.dir);
}

/// Loads `n` keys `key:<i>` through pipelines.
fn fill(c: &mut redis::Connection, prefix: &str, n: usize) {
    for start in (0..n).step_by(10_000) {
        let mut p = redis::pipe();
        for i in start..(start + 10_000).min(n) {
            p.cmd("SET").arg(format!("{prefix}:{i}")).arg(format!("value-{i}-{}", "x".repeat(40))).ignore();
        }
        p.query::<()>(c).unwrap();
    }
}

fn info_field(c: &mut redis::Connection, field: &str) -> String {
    let info: String = q(c, &["INFO", "persistence"]).unwrap();
    info.lines().find_map(|l| l.strip_prefix(&format!("{field}:"))).unwrap_or_default().trim().to_string()
}

#[test]
fn sigkill_during_bgsave_leaves_the_previous_snapshot() {
    let dir = scratch_dir("bgsave-kill");
    let mut node = Server::node_in(&dir, &[]);
    let mut c = node.conn();
    fill(&mut c, "old", 200_000);
    assert_eq!(q::<String>(&mut c, &["SAVE"]).unwrap(), "OK");
    fill(&mut c, "new", 1_000);
    assert_eq!(q::<String>(&mut c, &["BGSAVE"]).unwrap(), "Background saving started");
    let in_progress = info_field(&mut c, "rdb_bgsave_in_progress") == "1";
    node.kill();
    println!("SIGKILL with the BGSAVE child running: {in_progress}");
    let node = Server::node_in(&dir, &[]);
    let mut c = node.conn();
    let n: usize = q(&mut c, &["DBSIZE"]).unwrap();
    // The old snapshot, or (if the child finished before the kill) the whole new one.
    assert!(n == 200_000 || n == 201_000, "loaded {n} keys: a partial file?");
    let v: String = q(&mut c, &["GET", "old:199999"]).unwrap();
    assert!(v.starts_with("value-199999-"));
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigkill_during_bgrewriteaof_keeps_every_write() {
    let dir = scratch_dir("rewrite-kill");
    let args = ["--appendonly", "yes", "--appendfsync", "always"];
    let mut node = Server::node_in(&dir, &args);
    let mut c = node.conn();
    fill(&mut c, "old", 200_000);
    let started: String = q(&mut c, &["BGREWRITEAOF"]).unwrap();
    assert!(started.contains("rewriting started"), "{started}");
    // Writes while the child runs go to the new incremental file.
    let mut during = 0;
    while during < 20 && info_field(&mut c, "aof_rewrite_in_progress") == "1" {
        q::<()>(&mut c, &["SET", &format!("during:{during}"), "x"]).unwrap();
        during += 1;
    }
    let in_progress = info_field(&mut c, "aof_rewrite_in_progress") == "1";
    node.kill();
    println!("SIGKILL with the rewrite child running: {in_progress}; {during} writes during the rewrite");
    let node = Server::node_in(&dir, &args);
    let mut c = node.conn();
    let n: usize = q(&mut c, &["DBSIZE"]).unwrap();
    assert_eq!(n, 200_000 + during, "every acknowledged write is back");
    let manifest = std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest")).unwrap();
    assert!(manifest.contains("type b"), "{manifest}");
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bgrewriteaof_compacts_and_the_rewritten_aof_loads() {
    let dir = scratch_dir("rewrite-ok");
    let args = ["--appendonly", "yes"];
    let node = Server::node_in(&dir, &args);
    let mut c = node.conn();
    for i in 0..100 {
        q::<()>(&mut c, &["INCR", "n"]).unwrap();
        q::<()>(&mut c, &["SET", &format!("k{}", i % 10), &i.to_string()]).unwrap();
    }
    q::<String>(&mut c, &["BGREWRITEAOF"]).unwrap();
    assert!(wait_until(Duration::from_secs(10), || info_field(&mut c, "aof_rewrites") == "1"));
    assert_eq!(info_field(&mut c, "aof_last_bgrewrite_status"), "ok");
    q::<()>(&mut c, &["INCR", "n"]).unwrap();
    let manifest = std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest")).unwrap();
    assert_eq!(manifest, "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n");
    assert!(!dir.join("appendonlydir/appendonly.aof.1.incr.aof").exists(), "the old incr file is deleted");
    drop(node);
    let node = Server::node_in(&dir, &args);
    let mut c = node.conn();
    assert_eq!(q::<u64>(&mut c, &["GET", "n"]).unwrap(), 101);
    assert_eq!(q::<u64>(&mut c, &["GET", "k9"]).unwrap(), 99);
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Writes a key of every type and encoding class (and some TTLs).
fn populate(c: &mut redis::Connection) {
    let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<String>>();
    let mut cmds = slotgate_tests::every_type_commands();
    cmds.extend([
        words(&["SET", "s:neg", "-99"]),
        words(&["SET", "s:ttl", "v", "EX", "5000"]),
        words(&["PEXPIRE", "h:small", "9000000"]),
        words(&["EXPIRE", "z:big", "9000"]),
    ]);
    cmds.extend((0..300).map(|i| vec!["SET".into(), format!("many:{i}"), i.to_string()]));
    slotgate_tests::run_all(c, &cmds);
}

/// Every key with its type, contents (sorted where the type has no order) and absolute expiry.
fn snapshot(c: &mut redis::Connection) -> BTreeMap<String, (String, Vec<String>, i64)> {
    let keys: Vec<String> = q(c, &["KEYS", "*"]).unwrap();
    let mut all = BTreeMap::new();
    for k in keys {
        let (t, v) = slotgate_tests::value_snapshot(c, &k);
        let at: i64 = q(c, &["PEXPIRETIME", &k]).unwrap();
        all.insert(k, (t, v, at));
    }
    all
}

#[test]
fn redis_dump_rdb_loads_into_slotgate() {
    if !require_tool("redis-server") {
        return;
    }
    let redis = Server::redis(&[]);
    let mut rc = redis.conn();
    populate(&mut rc);
    assert_eq!(q::<String>(&mut rc, &["SAVE"]).unwrap(), "OK");
    let expected = snapshot(&mut rc);
    let dir = scratch_dir("from-redis");
    std::fs::copy(redis.dir.join("dump.rdb"), dir.join("dump.rdb")).unwrap();
    let node = Server::node_in(&dir, &[]);
    let got = snapshot(&mut node.conn());
    assert_eq!(got.len(), expected.len());
    for (k, v) in &expected {
        assert_eq!(got.get(k), Some(v), "key {k}");
    }
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn slotgate_rdb_and_aof_load_into_redis() {
    if !require_tool("redis-server") || !require_tool("redis-check-rdb") || !require_tool("redis-check-aof") {
        return;
    }
    let dir = scratch_dir("to-redis");
    let node = Server::node_in(&dir, &["--appendonly", "yes"]);
    let mut c = node.conn();
    populate(&mut c);
    // Commands that are rewritten when propagated: their AOF form must replay to the same data.
    for cmd in [
        vec!["SADD", "popped", "a", "b", "c", "d"],
        vec!["SPOP", "popped"],
        vec!["INCRBYFLOAT", "float", "1.25"],
        vec!["HINCRBYFLOAT", "hf", "f", "2.5"],
        vec!["SETEX", "setex", "1000", "v"],
        vec!["GETEX", "s:short", "PX", "777777"],
        vec!["RPUSH", "src", "1", "2", "3"],
        vec!["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"],
    ] {
        q::<redis::Value>(&mut c, &cmd).unwrap();
    }
    q::<redis::Value>(&mut c, &["EVAL", "redis.call('SET','lua','1'); redis.call('INCR','lua'); return 1", "0"])
        .unwrap();
    assert_eq!(q::<String>(&mut c, &["SAVE"]).unwrap(), "OK");
    let expected = snapshot(&mut c);
    drop(c);
    drop(node); // SIGKILL: the AOF must stand on its own
    slotgate_tests::run_tool("redis-check-rdb", &dir.join("dump.rdb"));
    slotgate_tests::run_tool("redis-check-aof", &dir.join("appendonlydir/appendonly.aof.manifest"));

    let rdb_dir = scratch_dir("to-redis-rdb");
    std::fs::copy(dir.join("dump.rdb"), rdb_dir.join("dump.rdb")).unwrap();
    let redis = Server::redis_in(&rdb_dir, &[]);
    assert_eq!(snapshot(&mut redis.conn()), expected, "redis-server loading our dump.rdb");
    drop(redis);

    let aof_dir = scratch_dir("to-redis-aof");
    let from = dir.join("appendonlydir");
    std::fs::create_dir_all(aof_dir.join("appendonlydir")).unwrap();
    for f in std::fs::read_dir(&from).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), aof_dir.join("appendonlydir").join(f.file_name())).unwrap();
    }
    let redis = Server::redis_in(&aof_dir, &["--appendonly", "yes"]);
    // Replayed commands carry no stream group's entries-read and lag (as with Redis's own AOF).
    let replayed = |all: BTreeMap<String, (String, Vec<String>, i64)>| -> BTreeMap<String, (String, Vec<String>, i64)> {
        all.into_iter()
            .map(|(k, (t, v, at))| {
                let (t, v) = slotgate_tests::propagated_only((t, v));
                (k, (t, v, at))
            })
            .collect()
    };
    assert_eq!(replayed(snapshot(&mut redis.conn())), replayed(expected), "redis-server loading our AOF");
    drop(redis);
    for d in [dir, rdb_dir, aof_dir] {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// Starts the node in `dir` expecting it to refuse; returns its exit code and stderr.
fn start_refused(dir: &Path, args: &[&str]) -> (i32, String) {
    let mut child = Command::new(binary("slotgate-node"))
        .args(["--port", &free_port().to_string(), "--bind", "127.0.0.1", "--save", "", "--dir"])
        .arg(dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the node started although its files are bad");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    use std::io::Read;
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    (status.code().unwrap_or(-1), err)
}

/// A dump.rdb written by the node with a few keys, and its bytes.
fn saved_rdb(dir: &Path) -> Vec<u8> {
    let node = Server::node_in(dir, &[]);
    let mut c = node.conn();
    for i in 0..50 {
        q::<()>(&mut c, &["SET", &format!("key:{i}"), &"v".repeat(30)]).unwrap();
    }
    q::<String>(&mut c, &["SAVE"]).unwrap();
    std::fs::read(dir.join("dump.rdb")).unwrap()
}

#[test]
fn corrupted_rdb_is_refused_with_the_offset() {
    let dir = scratch_dir("bad-rdb");
    let good = saved_rdb(&dir);
    let mut flipped = good.clone();
    let mid = good.len() / 2;
    flipped[mid] ^= 0x5a;
    flipped[mid + 1] ^= 0xa5;
    std::fs::write(dir.join("dump.rdb"), &flipped).unwrap();
    let (code, err) = start_refused(&dir, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("dump.rdb") && err.contains("offset"), "{err}");

    let mut bad_crc = good.clone();
    let n = bad_crc.len();
    bad_crc[n - 1] ^= 0xff;
    std::fs::write(dir.join("dump.rdb"), &bad_crc).unwrap();
    let (code, err) = start_refused(&dir, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.to_lowercase().contains("checksum") && err.contains("offset"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// An AOF dir with 20 SETs in its incr file; returns the incr file's path.
fn aof_with_writes(dir: &Path) -> PathBuf {
    let node = Server::node_in(dir, &["--appendonly", "yes", "--appendfsync", "always"]);
    let mut c = node.conn();
    for i in 0..20 {
        q::<()>(&mut c, &["SET", &format!("k{i}"), "v"]).unwrap();
    }
    drop(node);
    dir.join("appendonlydir/appendonly.aof.1.incr.aof")
}

/// Where each command of an AOF of SETs starts.
fn command_starts(data: &[u8]) -> Vec<usize> {
    let marker = b"*3\r\n$3\r\nSET\r\n";
    (0..data.len()).filter(|i| data[*i..].starts_with(marker)).collect()
}

#[test]
fn aof_with_garbage_in_the_middle_is_refused_with_the_offset() {
    let dir = scratch_dir("bad-aof");
    let incr = aof_with_writes(&dir);
    let data = std::fs::read(&incr).unwrap();
    let at = command_starts(&data)[10];
    let mut bad = data[..at].to_vec();
    bad.extend_from_slice(b"this is not resp\r\n");
    bad.extend_from_slice(&data[at..]);
    std::fs::write(&incr, &bad).unwrap();
    for truncated in ["yes", "no"] {
        let (code, err) = start_refused(&dir, &["--appendonly", "yes", "--aof-load-truncated", truncated]);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains(&format!("offset {at}")) && err.contains("appendonly.aof.1.incr.aof"), "{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn truncated_aof_tail_is_repaired_only_with_aof_load_truncated() {
    let dir = scratch_dir("short-aof");
    let incr = aof_with_writes(&dir);
    let data = std::fs::read(&incr).unwrap();
    let last = command_starts(&data)[19];
    std::fs::write(&incr, &data[..data.len() - 5]).unwrap();
    let (code, err) = start_refused(&dir, &["--appendonly", "yes", "--aof-load-truncated", "no"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&format!("offset {last}")), "{err}");
    assert_eq!(std::fs::read(&incr).unwrap().len(), data.len() - 5, "refusing leaves the file alone");

    let log = dir.join("node.log");
    let node = Server::node_in(&dir, &["--appendonly", "yes", "--logfile", log.to_str().unwrap()]);
    let mut c = node.conn();
    assert_eq!(q::<usize>(&mut c, &["DBSIZE"]).unwrap(), 19);
    assert!(std::fs::read_to_string(&log).unwrap().contains("short read while loading the AOF"));
    assert_eq!(std::fs::read(&incr).unwrap().len(), last, "truncated at the last whole command");
    q::<()>(&mut c, &["SET", "after", "1"]).unwrap();
    drop(c);
    drop(node);
    let node = Server::node_in(&dir, &["--appendonly", "yes"]);
    assert_eq!(q::<usize>(&mut node.conn(), &["DBSIZE"]).unwrap(), 20);
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn save_points_bgsave_and_shutdown_write_dump_rdb() {
    let dir = scratch_dir("savepoints");
    let node = Server::node_in(&dir, &["--save", "1 3"]);
    let mut c = node.conn();
    let before: i64 = q(&mut c, &["LASTSAVE"]).unwrap();
    for i in 0..5 {
        q::<()>(&mut c, &["SET", &format!("k{i}"), "v"]).unwrap();
    }
    assert!(
        wait_until(Duration::from_secs(10), || q::<i64>(&mut c, &["LASTSAVE"]).unwrap() > before
            || info_field(&mut c, "rdb_saves") != "0"),
        "the save point fired"
    );
    assert!(wait_until(Duration::from_secs(5), || info_field(&mut c, "rdb_changes_since_last_save") == "0"));
    assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");
    q::<()>(&mut c, &["SET", "last", "1"]).unwrap();
    // SHUTDOWN saves when save points exist.
    let _ = q::<redis::Value>(&mut c, &["SHUTDOWN"]);
    drop(node);
    let node = Server::node_in(&dir, &[]);
    assert_eq!(q::<usize>(&mut node.conn(), &["DBSIZE"]).unwrap(), 6);
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shutdown_nosave_and_save_and_bgsave_errors() {
    let dir = scratch_dir("shutdown");
    let mut node = Server::node_in(&dir, &[]);
    let mut c = node.conn();
    q::<()>(&mut c, &["SET", "a", "1"]).unwrap();
    let _ = q::<redis::Value>(&mut c, &["SHUTDOWN", "NOSAVE"]);
    assert_eq!(node.wait_exit(Duration::from_secs(5)), Some(0));
    assert!(!dir.join("dump.rdb").exists());
    let mut node = Server::node_in(&dir, &[]);
    let mut c = node.conn();
    q::<()>(&mut c, &["SET", "a", "1"]).unwrap();
    assert!(q::<String>(&mut c, &["BGSAVE", "nonsense"]).is_err());
    let e = q::<String>(&mut c, &["BGREWRITEAOF"]).unwrap_err();
    assert!(e.to_string().contains("appendonly"), "{e}");
    let _ = q::<redis::Value>(&mut c, &["SHUTDOWN", "SAVE"]);
    assert_eq!(node.wait_exit(Duration::from_secs(5)), Some(0));
    assert!(dir.join("dump.rdb").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Relative TTLs are logged as absolute times; keys removed by expiry are logged as DEL.
#[test]
fn expired_keys_are_deleted_in_the_aof_and_ttls_are_absolute() {
    let dir = scratch_dir("aof-expire");
    let args = ["--appendonly", "yes"];
    let node = Server::node_in(&dir, &args);
    let mut c = node.conn();
    q::<()>(&mut c, &["SET", "short", "v", "PX", "50"]).unwrap();
    q::<()>(&mut c, &["SET", "long", "v", "EX", "1000"]).unwrap();
    q::<()>(&mut c, &["EXPIRE", "long", "2000"]).unwrap();
    let at: i64 = q(&mut c, &["PEXPIRETIME", "long"]).unwrap();
    assert!(wait_until(Duration::from_secs(5), || q::<usize>(&mut c, &["DBSIZE"]).unwrap() == 1));
    let incr = std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.1.incr.aof")).unwrap();
    assert!(incr.contains("PEXPIREAT\r\n$4\r\nlong\r\n"), "{incr}");
    assert!(incr.contains("DEL\r\n$5\r\nshort"), "{incr}");
    assert!(!incr.contains("EXPIRE\r\n$4\r\nlong\r\n$4\r\n2000"), "{incr}");
    drop(c);
    drop(node);
    let node = Server::node_in(&dir, &args);
    assert_eq!(q::<i64>(&mut node.conn(), &["PEXPIRETIME", "long"]).unwrap(), at);
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The load generator and its checker agree on a server that lost nothing.
#[test]
fn write_load_counts_acknowledgements() {
    let node = Server::node(&[]);
    let acks: Acks = Arc::default();
    write_load(node.port, 50, Duration::from_secs(5), acks.clone(), false).join().unwrap();
    let acked: Vec<u64> = acks.lock().unwrap().iter().map(|(i, _)| *i).collect();
    assert_eq!(acked.len(), 50);
    assert!(missing_writes(&mut node.conn(), &acked, false).is_empty());
}

#[test]
fn a_failed_background_save_stops_writes_as_redis_does() {
    if !require_tool("redis-server") {
        return;
    }
    // `dir` is a protected config: CONFIG SET takes it only when enabled.
    for server in [Server::node(&[]), Server::redis(&[])] {
        let e = q::<String>(&mut server.conn(), &["CONFIG", "SET", "dir", "/tmp"]).unwrap_err();
        assert!(e.to_string().contains("can't set protected config"), "{e}");
    }
    let args = ["--save", "3600 1", "--enable-protected-configs", "local"];
    for server in [Server::node(&args), Server::redis(&args)] {
        let mut c = server.conn();
        assert_eq!(q::<String>(&mut c, &["SET", "a", "1"]).unwrap(), "OK");
        // The save directory disappears: the next background save fails.
        let gone = server.dir.join("gone");
        std::fs::create_dir(&gone).unwrap();
        assert_eq!(q::<String>(&mut c, &["CONFIG", "SET", "dir", gone.to_str().unwrap()]).unwrap(), "OK");
        std::fs::remove_dir(&gone).unwrap();
        let _ = q::<String>(&mut c, &["BGSAVE"]);
        assert!(
            wait_until(Duration::from_secs(10), || info_field(&mut c, "rdb_last_bgsave_status") == "err"),
            "the background save did not fail"
        );
        let e = q::<String>(&mut c, &["SET", "a", "2"]).unwrap_err();
        assert_eq!(e.code(), Some("MISCONF"), "{e}");
        assert!(e.to_string().contains("stop-writes-on-bgsave-error option"), "{e}");
        assert_eq!(q::<String>(&mut c, &["PING"]).unwrap_err().code(), Some("MISCONF"));
        assert_eq!(q::<String>(&mut c, &["GET", "a"]).unwrap(), "1", "reads go on");
        assert_eq!(q::<String>(&mut c, &["CONFIG", "SET", "stop-writes-on-bgsave-error", "no"]).unwrap(), "OK");
        assert_eq!(q::<String>(&mut c, &["SET", "a", "3"]).unwrap(), "OK");
    }
}

/// FLUSHALL with save points saves the empty dataset at once (flushAllDataAndResetRDB), and
/// without them writes nothing: the same files and INFO persistence counters as redis-server.
#[test]
fn flushall_saves_when_save_points_exist() {
    if !slotgate_tests::require_tool("redis-server") {
        return;
    }
    let mut seen = Vec::new();
    for node in [true, false] {
        for save in ["3600 1", ""] {
            let dir = slotgate_tests::scratch_dir("flushall-save");
            let args = ["--save", save];
            let server = if node { Server::node_in(&dir, &args) } else { Server::redis_in(&dir, &args) };
            let mut c = server.conn();
            fill(&mut c, "k", 10);
            let _: () = redis::cmd("FLUSHALL").query(&mut c).unwrap();
            let saved = dir.join("dump.rdb").exists();
            let counters = (info_field(&mut c, "rdb_changes_since_last_save"), info_field(&mut c, "rdb_saves"));
            if saved {
                let check = std::process::Command::new("redis-check-rdb").arg(dir.join("dump.rdb")).output();
                assert!(check.is_ok_and(|o| o.status.success()), "redis-check-rdb refused the FLUSHALL save");
            }
            seen.push((node, save, saved, counters));
        }
    }
    let (node, redis) = seen.split_at(2);
    for (n, r) in node.iter().zip(redis) {
        assert_eq!((n.1, n.2, &n.3), (r.1, r.2, &r.3), "slotgate-node vs redis-server");
    }
    assert!(node[0].2 && !node[1].2, "{seen:?}");
}
