//! Numbered databases on slotgate-node against Debian's redis-server 7.0: randomised sequences
//! of SELECT, MOVE, SWAPDB, COPY ... DB, FLUSHDB, DBSIZE, KEYS, SCAN and INFO keyspace give the
//! same replies; WATCH and blocking pops tell a key of db 1 from the same name in db 0, and
//! SWAPDB/FLUSHDB touch watchers and serve waiters as Redis does; scripts keep the caller's
//! database; databases 0, 3 and 15 survive SAVE + restart, the AOF (with a rewrite) and
//! replication (node to node, node to redis-server, redis-server to node, and a partial
//! resync); RDB files with several databases move both ways between the node and redis-server;
//! cluster mode refuses SELECT/MOVE/SWAPDB/COPY DB with Redis's texts.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use redis::{cmd, Value};
use slotgate_tests::{q, require_tool, rng::Rng, run_tool, scratch_dir, value_snapshot, wait_until, Server};

/// A reply in comparable form: the value, or the error's full text.
fn run(c: &mut redis::Connection, args: &[&str]) -> Result<Value, String> {
    let mut command = cmd(args[0]);
    for a in &args[1..] {
        command.arg(*a);
    }
    command.query(c).map_err(|e| format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or("")))
}

fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// A node's and a redis-server's connections fed the same commands.
struct Pair {
    node: redis::Connection,
    redis: redis::Connection,
    lines: usize,
}

impl Pair {
    fn of(node: &Server, redis: &Server) -> Pair {
        Pair { node: node.conn(), redis: redis.conn(), lines: 0 }
    }

    /// Runs `line` on both, replies compared after `norm`.
    fn same_with(&mut self, line: &str, norm: impl Fn(Result<Value, String>) -> String) -> String {
        self.same_args(&words(line), norm)
    }

    /// `same_with` for arguments given one by one.
    fn same_args(&mut self, args: &[&str], norm: impl Fn(Result<Value, String>) -> String) -> String {
        self.lines += 1;
        let line = args.join(" ");
        let got = norm(run(&mut self.node, args));
        let want = norm(run(&mut self.redis, args));
        assert_eq!(got, want, "reply to `{line}` differs (line {}): node left, redis right", self.lines);
        got
    }

    fn same(&mut self, line: &str) -> String {
        self.same_with(line, |r| format!("{r:?}"))
    }
}

/// Bulk strings of an array reply, sorted (KEYS: the order is the hash table's).
fn sorted_strings(r: Result<Value, String>) -> String {
    match r {
        Ok(Value::Array(items)) => {
            let mut v: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
            v.sort();
            v.join(",")
        }
        other => format!("{other:?}"),
    }
}

/// INFO keyspace as `dbN:keys=..,expires=..` lines; avg_ttl is an estimate on both sides.
fn keyspace_lines(r: Result<Value, String>) -> String {
    let text = match r {
        Ok(v) => redis::from_redis_value::<String>(&v).unwrap_or_default(),
        Err(e) => return e,
    };
    text.lines()
        .filter(|l| l.starts_with("db"))
        .map(|l| l.split(",avg_ttl").next().unwrap_or(l).to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every key of a full SCAN, sorted.
fn scan_all(c: &mut redis::Connection) -> Vec<String> {
    let mut cursor = "0".to_string();
    let mut keys = Vec::new();
    for _ in 0..10_000 {
        let (next, batch): (String, Vec<String>) = q(c, &["SCAN", &cursor, "COUNT", "3"]).unwrap();
        keys.extend(batch);
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    keys.sort();
    keys.dedup();
    keys
}

#[test]
fn randomised_database_commands_match_redis() {
    if !require_tool("redis-server") {
        return;
    }
    let node = Server::node(&[]);
    let redis = Server::redis(&[]);
    let mut p = Pair::of(&node, &redis);
    let seed = 0x5EED_DA7A_BA5E;
    let mut rng = Rng(seed);
    let keys = ["k0", "k1", "k2", "k3", "l0"];
    let dbs = ["0", "1", "2", "3", "15", "16", "-1", "x", "99999999999"];
    for _ in 0..600 {
        let k = *rng.pick(&keys);
        let k2 = *rng.pick(&keys);
        let n = if rng.chance(85) { 5 } else { dbs.len() };
        let db = *rng.pick(&dbs[..n]);
        let n = if rng.chance(90) { 5 } else { dbs.len() };
        let db2 = *rng.pick(&dbs[..n]);
        let v = rng.below(1000);
        match rng.below(22) {
            0 | 1 => drop(p.same(&format!("SELECT {db}"))),
            2 | 3 => drop(p.same(&format!("SET {k} v{v}"))),
            4 => drop(p.same(&format!("SET {k} t{v} EXAT 4000000000"))),
            5 => drop(p.same(&format!("GET {k}"))),
            6 => drop(p.same(&format!("MOVE {k} {db}"))),
            7 => drop(p.same(&format!("SWAPDB {db} {db2}"))),
            8 => drop(p.same(&format!("COPY {k} {k2} DB {db}"))),
            9 => drop(p.same(&format!("COPY {k} {k2} DB {db} REPLACE"))),
            10 => drop(p.same(&format!("COPY {k} {k2}"))),
            11 if rng.chance(25) => drop(p.same("FLUSHDB")),
            12 => drop(p.same("DBSIZE")),
            13 => drop(p.same_with("KEYS *", sorted_strings)),
            14 => drop(p.same_with("INFO keyspace", keyspace_lines)),
            15 => drop(p.same(&format!("RPUSH l0 e{v}"))),
            16 => drop(p.same("LRANGE l0 0 -1")),
            17 => drop(p.same(&format!("EXPIRETIME {k}"))),
            18 => drop(p.same(&format!("TYPE {k}"))),
            19 => {
                // RANDOMKEY picks differently; whether it finds a key must agree.
                p.same_with("RANDOMKEY", |r| format!("{}", matches!(r, Ok(Value::Nil))));
            }
            20 => assert_eq!(scan_all(&mut p.node), scan_all(&mut p.redis), "SCAN after {} lines", p.lines),
            _ => drop(p.same(&format!("DEL {k}"))),
        }
    }
    // A transaction switching databases, and the errors of the commands' argument checks.
    for line in [
        "SELECT 0",
        "MULTI",
        "SET m 1",
        "SELECT 2",
        "SET m 2",
        "MOVE m 0",
        "EXEC",
        "GET m",
        "SELECT 2",
        "DBSIZE",
        "MOVE m 2",
        "MOVE nosuch 3",
        "MOVE m x",
        "MOVE m 16",
        "SWAPDB x 1",
        "SWAPDB 1 x",
        "SWAPDB 1 16",
        "SWAPDB 3 3",
        "SWAPDB 1",
        "COPY m m",
        "COPY m m DB 2",
        "COPY m m DB 3",
        "COPY m m DB 3",
        "COPY m m DB 3 REPLACE",
        "COPY m m DB",
        "COPY m m DB 1 EXTRA",
        "SELECT 3",
        "GET m",
        "FLUSHALL",
        "INFO keyspace",
        "DBSIZE",
    ] {
        if line.starts_with("INFO") {
            p.same_with(line, keyspace_lines);
        } else {
            p.same(line);
        }
    }
    eprintln!("{} command lines compared (seed {seed:#x})", p.lines);
}

#[test]
fn client_list_reset_and_scripts_keep_databases() {
    if !require_tool("redis-server") {
        return;
    }
    let node = Server::node(&[]);
    let redis = Server::redis(&[]);
    let mut p = Pair::of(&node, &redis);
    let db_field = |r: Result<Value, String>| -> String {
        let text = r.ok().and_then(|v| redis::from_redis_value::<String>(&v).ok()).unwrap_or_default();
        text.split(' ').find(|f| f.starts_with("db=")).unwrap_or("none").to_string()
    };
    p.same_with("CLIENT INFO", db_field);
    p.same("SELECT 5");
    p.same_with("CLIENT INFO", db_field);
    p.same("SET a five");
    // SELECT inside a script moves the script only; the caller stays in db 5 afterwards.
    let script = "redis.call('SELECT','7'); redis.call('SET','a','seven'); return redis.call('GET','a')";
    p.same_args(&["EVAL", script, "0"], |r| format!("{r:?}"));
    p.same("GET a");
    p.same_with("CLIENT INFO", db_field);
    p.same("SELECT 7");
    p.same("GET a");
    p.same("SELECT 5");
    // (The client ids in HELLO's reply differ between the servers.)
    p.same_with("HELLO 2", |r| format!("{}", r.is_ok()));
    p.same_with("CLIENT INFO", db_field);
    p.same("RESET");
    p.same_with("CLIENT INFO", db_field);
    p.same("GET a");
}

/// Replies of a two-client WATCH scenario: `a` watches, `b` writes.
fn watch_scenario(a: &mut redis::Connection, b: &mut redis::Connection) -> Vec<String> {
    let mut out = Vec::new();
    let mut step = |c: &mut redis::Connection, line: &str| out.push(format!("{line} -> {:?}", run(c, &words(line))));
    // A write to the same name in another database leaves the watch alone.
    step(a, "SELECT 1");
    step(a, "WATCH k");
    step(b, "SET k from-db0");
    step(a, "MULTI");
    step(a, "SET k mine");
    step(a, "EXEC");
    // The same key in the same database breaks it.
    step(a, "WATCH k");
    step(b, "SELECT 1");
    step(b, "SET k other");
    step(a, "MULTI");
    step(a, "SET k mine");
    step(a, "EXEC");
    // SWAPDB: a watched key missing here but present in the other database counts as changed.
    step(b, "SELECT 2");
    step(b, "SET w there");
    step(a, "SELECT 0");
    step(a, "WATCH w");
    step(b, "SWAPDB 0 2");
    step(a, "MULTI");
    step(a, "GET w");
    step(a, "EXEC");
    // SWAPDB of two databases that do not hold the watched key touches nothing.
    step(a, "WATCH w");
    step(b, "SWAPDB 5 6");
    step(a, "MULTI");
    step(a, "GET w");
    step(a, "EXEC");
    // FLUSHDB of another database leaves the watch; of this one, breaks it.
    step(a, "SELECT 3");
    step(a, "SET f 1");
    step(a, "WATCH f");
    step(b, "SELECT 4");
    step(b, "FLUSHDB");
    step(a, "MULTI");
    step(a, "GET f");
    step(a, "EXEC");
    step(a, "WATCH f");
    step(b, "SELECT 3");
    step(b, "FLUSHDB");
    step(a, "MULTI");
    step(a, "GET f");
    step(a, "EXEC");
    // MOVE touches the key in both databases.
    step(a, "SET mv 1");
    step(a, "SELECT 9");
    step(a, "WATCH mv");
    step(b, "SELECT 3");
    step(b, "MOVE mv 9");
    step(a, "MULTI");
    step(a, "GET mv");
    step(a, "EXEC");
    // COPY into another database touches the destination there only.
    step(a, "SELECT 3");
    step(a, "WATCH cp");
    step(b, "SELECT 9");
    step(b, "COPY mv cp DB 4");
    step(a, "MULTI");
    step(a, "GET cp");
    step(a, "EXEC");
    step(a, "SELECT 4");
    step(a, "WATCH cp");
    step(b, "COPY mv cp DB 4 REPLACE");
    step(a, "MULTI");
    step(a, "GET cp");
    step(a, "EXEC");
    out
}

#[test]
fn watch_tells_databases_apart_like_redis() {
    if !require_tool("redis-server") {
        return;
    }
    let node = Server::node(&[]);
    let redis = Server::redis(&[]);
    let got = watch_scenario(&mut node.conn(), &mut node.conn());
    let want = watch_scenario(&mut redis.conn(), &mut redis.conn());
    assert_eq!(got, want);
}

/// Starts `BLPOP q 5` in database `db` on a thread; its reply comes back through the handle.
fn blpop_in(server: &Server, db: &str) -> std::thread::JoinHandle<Result<Value, String>> {
    let mut c = server.conn();
    let _: () = q(&mut c, &["SELECT", db]).unwrap();
    let before: i64 = q::<String>(&mut server.conn(), &["INFO", "clients"])
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("blocked_clients:").and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0);
    let handle = std::thread::spawn(move || run(&mut c, &["BLPOP", "q", "5"]));
    let blocked = wait_until(Duration::from_secs(5), || {
        q::<String>(&mut server.conn(), &["INFO", "clients"])
            .unwrap()
            .lines()
            .any(|l| l.strip_prefix("blocked_clients:").and_then(|v| v.trim().parse::<i64>().ok()) == Some(before + 1))
    });
    assert!(blocked, "BLPOP did not block");
    handle
}

/// Replies of the blocking scenario on one server.
fn blocking_scenario(server: &Server) -> Vec<String> {
    let mut out = Vec::new();
    let mut c = server.conn();
    // A push in db 0 does not serve a client blocked in db 1; a push in db 1 does.
    let waiter = blpop_in(server, "1");
    out.push(format!("{:?}", run(&mut c, &["RPUSH", "q", "zero"])));
    std::thread::sleep(Duration::from_millis(200));
    out.push(format!("finished early: {}", waiter.is_finished()));
    let _: () = q(&mut c, &["SELECT", "1"]).unwrap();
    out.push(format!("{:?}", run(&mut c, &["RPUSH", "q", "one"])));
    out.push(format!("{:?}", waiter.join().unwrap()));
    out.push(format!("{:?}", run(&mut c, &["LLEN", "q"])));
    let _: () = q(&mut c, &["SELECT", "0"]).unwrap();
    out.push(format!("{:?}", run(&mut c, &["LRANGE", "q", "0", "-1"])));
    // SWAPDB brings db 0's list into db 2, where a client waits on it.
    let waiter = blpop_in(server, "2");
    out.push(format!("{:?}", run(&mut c, &["SWAPDB", "0", "2"])));
    out.push(format!("{:?}", waiter.join().unwrap()));
    out.push(format!("{:?}", run(&mut c, &["DBSIZE"])));
    out
}

#[test]
fn blocking_pops_wait_in_their_database() {
    if !require_tool("redis-server") {
        return;
    }
    let node = Server::node(&[]);
    let redis = Server::redis(&[]);
    assert_eq!(blocking_scenario(&node), blocking_scenario(&redis));
}

/// Writes a bit of everything into databases 0, 3 and 15 (and a key of the same name in each).
fn fill(c: &mut redis::Connection) {
    for line in [
        "SELECT 0",
        "SET same zero",
        "SET only0 a",
        "RPUSH list0 a b c",
        "SET ttl0 x EXAT 4000000000",
        "SELECT 3",
        "SET same three",
        "HSET h3 f v g w",
        "SADD s3 m n",
        "SET ttl3 y EXAT 4000000001",
        "SELECT 15",
        "SET same fifteen",
        "ZADD z15 1 a 2.5 b",
        "RPUSH list15 x",
        "SELECT 7",
        "SET gone soon",
        "MOVE gone 15",
        "SELECT 15",
        "SET tmp 1",
        "COPY tmp tmp2 DB 3",
        "DEL tmp",
        "SELECT 0",
    ] {
        run(c, &words(line)).unwrap_or_else(|e| panic!("{line}: {e}"));
    }
}

/// A key, its value (type and contents) and its EXPIRETIME.
type KeyState = (String, (String, Vec<String>), i64);

/// Every database's keys with their values and expiry, for comparing two servers.
fn snapshot(c: &mut redis::Connection) -> BTreeMap<usize, Vec<KeyState>> {
    let mut all = BTreeMap::new();
    for db in 0..16 {
        let _: () = q(c, &["SELECT", &db.to_string()]).unwrap();
        let mut keys: Vec<String> = q(c, &["KEYS", "*"]).unwrap();
        keys.sort();
        let size: usize = q(c, &["DBSIZE"]).unwrap();
        assert_eq!(size, keys.len());
        let entries: Vec<_> = keys
            .iter()
            .map(|k| {
                let at: i64 = q(c, &["EXPIRETIME", k]).unwrap();
                (k.clone(), value_snapshot(c, k), at)
            })
            .collect();
        if !entries.is_empty() {
            all.insert(db, entries);
        }
    }
    let _: () = q(c, &["SELECT", "0"]).unwrap();
    all
}

#[test]
fn databases_survive_save_and_restart_and_move_to_redis() {
    if !require_tool("redis-server") || !require_tool("redis-check-rdb") {
        return;
    }
    let redis = Server::redis(&[]);
    fill(&mut redis.conn());
    let want = snapshot(&mut redis.conn());
    assert_eq!(want.keys().copied().collect::<Vec<_>>(), [0, 3, 15]);

    let dir = scratch_dir("dbs-save");
    let mut node = Server::node_in(&dir, &[]);
    fill(&mut node.conn());
    assert_eq!(snapshot(&mut node.conn()), want);
    let _: () = q(&mut node.conn(), &["SAVE"]).unwrap();
    node.kill();
    let rdb = dir.join("dump.rdb");
    run_tool("redis-check-rdb", &rdb);
    let node = Server::node_in(&dir, &[]);
    assert_eq!(snapshot(&mut node.conn()), want, "after SAVE and a restart");
    drop(node);

    // redis-server loads the node's file with the same databases.
    let from_node = Server::redis_in(&dir, &[]);
    assert_eq!(snapshot(&mut from_node.conn()), want, "redis-server reading the node's RDB");
    drop(from_node);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_rdb_of_redis_with_several_databases_loads_into_the_node() {
    if !require_tool("redis-server") {
        return;
    }
    let dir = scratch_dir("dbs-redis-rdb");
    let redis = Server::redis_in(&dir, &[]);
    fill(&mut redis.conn());
    let want = snapshot(&mut redis.conn());
    let _: () = q(&mut redis.conn(), &["SAVE"]).unwrap();
    drop(redis);
    let node = Server::node_in(&dir, &[]);
    assert_eq!(snapshot(&mut node.conn()), want);
    let info: String = q(&mut node.conn(), &["INFO", "keyspace"]).unwrap();
    let lines: Vec<&str> = info.lines().filter(|l| l.starts_with("db")).collect();
    assert_eq!(lines.len(), 3, "{info}");
    assert!(lines[1].starts_with("db3:keys=5,expires=1,"), "{info}");
    drop(node);
    // A node with fewer databases refuses the file instead of dropping keys.
    let mut small = std::process::Command::new(slotgate_tests::binary("slotgate-node"))
        .args(["--port", "0", "--databases", "4", "--save", "", "--dir"])
        .arg(&dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = small.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() > deadline {
            let _ = small.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.is_some_and(|s| !s.success()), "a node with 4 databases must refuse db 15");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn databases_survive_the_aof_and_its_rewrite() {
    if !require_tool("redis-server") {
        return;
    }
    let redis = Server::redis(&[]);
    let dir = scratch_dir("dbs-aof");
    let mut node = Server::node_in(&dir, &["--appendonly", "yes"]);
    let more = [
        "SELECT 3",
        "SWAPDB 3 4",
        "SWAPDB 4 3",
        "SELECT 5",
        "SET in5 x",
        "FLUSHDB",
        "SELECT 15",
        "RPUSH list15 y",
        "SELECT 0",
        "INCR counter",
    ];
    for server in [&redis, &node] {
        let mut c = server.conn();
        fill(&mut c);
        for line in more {
            run(&mut c, &words(line)).unwrap_or_else(|e| panic!("{line}: {e}"));
        }
    }
    let want = snapshot(&mut redis.conn());
    node.kill();
    let mut node = Server::node_in(&dir, &["--appendonly", "yes"]);
    assert_eq!(snapshot(&mut node.conn()), want, "after replaying the AOF");
    // A rewrite keeps every database in its base; commands after it name their database.
    let _: String = q(&mut node.conn(), &["BGREWRITEAOF"]).unwrap();
    let done = wait_until(Duration::from_secs(20), || {
        let info: String = q(&mut node.conn(), &["INFO", "persistence"]).unwrap();
        info.contains("aof_rewrite_in_progress:0") && info.contains("aof_rewrite_scheduled:0")
    });
    assert!(done, "the rewrite did not finish");
    for server in [&redis, &node] {
        let mut c = server.conn();
        for line in ["SELECT 15", "RPUSH list15 after-rewrite", "SELECT 3", "SET same three-again"] {
            run(&mut c, &words(line)).unwrap_or_else(|e| panic!("{line}: {e}"));
        }
    }
    let want = snapshot(&mut redis.conn());
    node.kill();
    let node = Server::node_in(&dir, &["--appendonly", "yes"]);
    assert_eq!(snapshot(&mut node.conn()), want, "after a rewrite and a restart");
    drop(node);
    // redis-server accepts the files and replays them into the same databases.
    if require_tool("redis-check-aof") {
        run_tool("redis-check-aof", &dir.join("appendonlydir/appendonly.aof.manifest"));
    }
    let from_node = Server::redis_in(&dir, &["--appendonly", "yes"]);
    assert_eq!(snapshot(&mut from_node.conn()), want, "redis-server replaying the node's AOF");
    drop(from_node);
    let _ = std::fs::remove_dir_all(&dir);
}

fn link_up(server: &Server) -> bool {
    q::<String>(&mut server.conn(), &["INFO", "replication"]).unwrap().contains("master_link_status:up")
}

/// Writes to `master` after the sync, in several databases, with a SELECT between them.
fn stream_writes(master: &Server, tag: &str) {
    let mut c = master.conn();
    for line in [
        "SELECT 3".to_string(),
        format!("SET streamed {tag}-3"),
        "SELECT 15".to_string(),
        format!("RPUSH list15 {tag}"),
        "MOVE same 1".to_string(),
        "SELECT 0".to_string(),
        format!("SET streamed {tag}-0"),
        "SWAPDB 1 2".to_string(),
    ] {
        run(&mut c, &words(&line)).unwrap_or_else(|e| panic!("{line}: {e}"));
    }
}

/// The replica of `master` ends with the master's databases.
fn replicate_and_compare(master: &Server, replica: &Server) {
    fill(&mut master.conn());
    let port = master.port.to_string();
    let _: String = q(&mut replica.conn(), &["REPLICAOF", "127.0.0.1", &port]).unwrap();
    assert!(wait_until(Duration::from_secs(20), || link_up(replica)), "the replica never synced");
    stream_writes(master, "a");
    let want = snapshot(&mut master.conn());
    let same = wait_until(Duration::from_secs(10), || snapshot(&mut replica.conn()) == want);
    assert!(same, "replica:\n{:?}\nmaster:\n{want:?}", snapshot(&mut replica.conn()));
}

#[test]
fn replicas_follow_select() {
    if !require_tool("redis-server") {
        return;
    }
    // Node to node, then a partial resync keeps the stream's database.
    let master = Server::node(&[]);
    let replica = Server::node(&[]);
    replicate_and_compare(&master, &replica);
    let mut m = master.conn();
    let _: () = q(&mut m, &["SELECT", "9"]).unwrap();
    let _: () = q(&mut m, &["SET", "before-drop", "1"]).unwrap();
    let killed: i64 = q(&mut m, &["CLIENT", "KILL", "TYPE", "replica"]).unwrap();
    assert_eq!(killed, 1);
    let _: () = q(&mut m, &["SET", "during-drop", "1"]).unwrap();
    assert!(wait_until(Duration::from_secs(10), || {
        q::<String>(&mut master.conn(), &["INFO", "stats"]).unwrap().contains("sync_partial_ok:1") && link_up(&replica)
    }));
    let _: () = q(&mut m, &["SET", "after-drop", "1"]).unwrap();
    let want = snapshot(&mut master.conn());
    assert!(want[&9].len() == 3, "{want:?}");
    assert!(wait_until(Duration::from_secs(10), || snapshot(&mut replica.conn()) == want), "after a partial resync");

    // redis-server replicating the node: the node's SELECTs are what Redis expects.
    let master = Server::node(&[]);
    let replica = Server::redis(&[]);
    replicate_and_compare(&master, &replica);

    // The node replicating redis-server applies Redis's stream.
    let master = Server::redis(&[]);
    let replica = Server::node(&[]);
    replicate_and_compare(&master, &replica);
}

#[test]
fn active_expiry_and_eviction_reach_every_database() {
    if !require_tool("redis-server") {
        return;
    }
    // Keys with a short TTL in databases nobody touches are reclaimed as in Redis.
    let node = Server::node(&[]);
    let redis = Server::redis(&[]);
    for server in [&node, &redis] {
        let mut c = server.conn();
        for db in ["0", "5", "15"] {
            let _: () = q(&mut c, &["SELECT", db]).unwrap();
            for i in 0..50 {
                let _: () = q(&mut c, &["SET", &format!("t{i}"), "v", "PX", "100"]).unwrap();
            }
            let _: () = q(&mut c, &["SET", "stays", "v"]).unwrap();
        }
    }
    let mut p = Pair::of(&node, &redis);
    for db in ["0", "5", "15"] {
        let _: () = q(&mut p.node, &["SELECT", db]).unwrap();
        let _: () = q(&mut p.redis, &["SELECT", db]).unwrap();
        for c in [&mut p.node, &mut p.redis] {
            let reclaimed = wait_until(Duration::from_secs(10), || q::<i64>(c, &["DBSIZE"]).unwrap() == 1);
            assert!(reclaimed, "db {db} still holds expired keys");
        }
    }
    p.same_with("INFO keyspace", keyspace_lines);
    let expired = |c: &mut redis::Connection| {
        q::<String>(c, &["INFO", "stats"]).unwrap().lines().find(|l| l.starts_with("expired_keys:")).map(str::to_string)
    };
    assert_eq!(expired(&mut p.node), expired(&mut p.redis));

    // Eviction takes keys from whichever database holds them (here db 3 only).
    let node = Server::node(&["--maxmemory", "20mb", "--maxmemory-policy", "allkeys-lru"]);
    let mut c = node.conn();
    let _: () = q(&mut c, &["SELECT", "3"]).unwrap();
    let value = "x".repeat(1000);
    for i in 0..40_000 {
        let _: () = q(&mut c, &["SET", &format!("big{i}"), &value]).unwrap_or_else(|e| panic!("SET {i}: {e}"));
    }
    let size: i64 = q(&mut c, &["DBSIZE"]).unwrap();
    assert!(size < 40_000, "nothing was evicted from db 3 ({size} keys)");
    let stats: String = q(&mut c, &["INFO", "stats"]).unwrap();
    assert!(!stats.contains("evicted_keys:0\r"), "{stats}");
}

#[test]
fn cluster_mode_refuses_other_databases_like_redis() {
    if !require_tool("redis-server") {
        return;
    }
    let args = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"];
    let node = Server::node(&args);
    let redis = Server::redis(&args);
    for server in [&node, &redis] {
        let mut c = server.conn();
        let _: () = q(&mut c, &["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]).unwrap();
        let ok = wait_until(Duration::from_secs(20), || {
            q::<String>(&mut server.conn(), &["CLUSTER", "INFO"]).is_ok_and(|i| i.contains("cluster_state:ok"))
        });
        assert!(ok, "cluster_state:ok");
    }
    let mut p = Pair::of(&node, &redis);
    for line in [
        "SELECT 0",
        "SELECT 1",
        "SELECT 16",
        "SELECT x",
        "SET k v",
        "MOVE k 1",
        "MOVE k 0",
        "MOVE k 99",
        "SWAPDB 0 1",
        "SWAPDB 0 0",
        "SET {a}x v",
        "COPY {a}x {a}y DB 1",
        "COPY {a}x {a}y DB 99",
        "COPY {a}x {a}y DB 0",
        "COPY {a}x {a}y DB x",
        "GET {a}y",
        "DBSIZE",
    ] {
        p.same(line);
    }
}
