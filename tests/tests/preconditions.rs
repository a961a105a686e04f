//! The precondition chain against Debian's redis-server 7.0: each check Redis makes before a
//! command runs (READONLY on a replica, NOREPLICAS, OOM, MISCONF, NOAUTH, commands refused in
//! MULTI or while subscribed, ACL rules changed before EXEC) gives the same replies on the
//! three paths a command takes — sent by a client, queued and run by EXEC, called by a script
//! with `redis.call` and `redis.pcall` — including when the state changes between queueing and
//! EXEC. And `replicaof` in a config file or on the command line starts a replica that syncs.

use std::process::Command;
use std::time::Duration;

use redis::{cmd, Value};
use slotgate_tests::{binary, q, require_tool, scratch_dir, wait_until, Server};

/// A reply in comparable form: the value, or the error's full text.
fn run(c: &mut redis::Connection, args: &[&str]) -> Result<Value, String> {
    let mut command = cmd(args[0]);
    for a in &args[1..] {
        command.arg(*a);
    }
    command.query(c).map_err(|e| format!("{:?} {} {}", e.kind(), e.code().unwrap_or(""), e.detail().unwrap_or("")))
}

/// The same scenario on slotgate-node and redis-server: `setup` builds the system (and returns
/// the server commands are sent to), then every step's reply must match.
struct Both {
    node: Vec<Server>,
    redis: Vec<Server>,
}

impl Both {
    fn start(args: &[&str]) -> Both {
        Both { node: vec![Server::node(args)], redis: vec![Server::redis(args)] }
    }

    /// Connections to the first server of each system.
    fn conns(&self) -> (redis::Connection, redis::Connection) {
        (self.node[0].conn(), self.redis[0].conn())
    }
}

/// Runs every line on both connections; panics at the first difference.
fn same(node: &mut redis::Connection, redis: &mut redis::Connection, lines: &[&[&str]]) {
    for line in lines {
        let got = run(node, line);
        let want = run(redis, line);
        assert_eq!(got, want, "{line:?}: slotgate-node vs redis-server");
    }
}

/// One command line on both, and the reply must match (for steps that interleave two clients).
fn one(node: &mut redis::Connection, redis: &mut redis::Connection, line: &[&str]) -> Result<Value, String> {
    let got = run(node, line);
    assert_eq!(got, run(redis, line), "{line:?}: slotgate-node vs redis-server");
    got
}

const WRITE_SCRIPT: &str = "return redis.call('set','x','1')";
const WRITE_PSCRIPT: &str = "return redis.pcall('set','x','1')";
const READ_SCRIPT: &str = "return redis.call('get','x')";

/// What every write-refusing state is checked with: a plain write, a ping, the script paths and
/// transactions with and without writes.
fn write_paths(node: &mut redis::Connection, redis: &mut redis::Connection) {
    same(
        node,
        redis,
        &[
            &["SET", "a", "1"],
            &["GET", "a"],
            &["EVAL", WRITE_SCRIPT, "0"],
            &["EVAL", WRITE_PSCRIPT, "0"],
            &["EVAL", READ_SCRIPT, "0"],
            &["EVAL_RO", READ_SCRIPT, "0"],
            &["MULTI"],
            &["SET", "a", "1"],
            &["EXEC"],
            &["MULTI"],
            &["GET", "a"],
            &["EXEC"],
            &["MULTI"],
            &["EVAL", WRITE_SCRIPT, "0"],
            &["EXEC"],
        ],
    );
}

/// A change of state between queueing and EXEC: the transaction is queued while writes are
/// fine, `change` (on a second connection) makes them refused, then EXEC runs.
fn changed_before_exec(both: &Both, change: &[&str], undo: &[&str]) {
    let (mut node, mut redis) = both.conns();
    let (mut node_admin, mut redis_admin) = both.conns();
    for queued in [&["SET", "q", "1"][..], &["GET", "q"], &["EVAL", WRITE_SCRIPT, "0"]] {
        same(&mut node, &mut redis, &[&["MULTI"], queued]);
        one(&mut node_admin, &mut redis_admin, change).ok();
        same(&mut node, &mut redis, &[&["EXEC"]]);
        one(&mut node_admin, &mut redis_admin, undo).ok();
    }
}

#[test]
fn replica_refuses_writes_on_every_path() {
    let master_node = Server::node(&[]);
    let master_redis = Server::redis(&[]);
    let (np, rp) = (master_node.port.to_string(), master_redis.port.to_string());
    let both = Both {
        node: vec![Server::node(&["--replicaof", "127.0.0.1", &np])],
        redis: vec![Server::redis(&["--replicaof", "127.0.0.1", &rp])],
    };
    for s in [&both.node[0], &both.redis[0]] {
        let mut c = s.conn();
        assert!(
            wait_until(Duration::from_secs(10), || q::<String>(&mut c, &["INFO", "replication"])
                .is_ok_and(|i| i.contains("master_link_status:up"))),
            "replica on {} never linked",
            s.port
        );
    }
    let (mut node, mut redis) = both.conns();
    write_paths(&mut node, &mut redis);
    // A function that writes is refused as a whole (FCALL takes its function's flags).
    let lib = "#!lua name=lib\nredis.register_function('w', function() return redis.call('set','y','1') end)";
    for (m, _) in [(&master_node, ()), (&master_redis, ())] {
        let _: String = q(&mut m.conn(), &["FUNCTION", "LOAD", lib]).expect("function load");
    }
    for s in [&both.node[0], &both.redis[0]] {
        let mut c = s.conn();
        assert!(wait_until(Duration::from_secs(5), || q::<Vec<Value>>(&mut c, &["FUNCTION", "LIST"])
            .is_ok_and(|l| !l.is_empty())));
    }
    same(&mut node, &mut redis, &[&["FCALL", "w", "0"], &["MULTI"], &["FCALL", "w", "0"], &["EXEC"]]);
    // A master turned replica between MULTI and EXEC aborts the transaction.
    let masters = Both { node: vec![Server::node(&[])], redis: vec![Server::redis(&[])] };
    changed_before_exec(&masters, &["REPLICAOF", "127.0.0.1", "1"], &["REPLICAOF", "NO", "ONE"]);
}

#[test]
fn min_replicas_refuses_writes_on_every_path() {
    let both = Both::start(&["--min-replicas-to-write", "2"]);
    let (mut node, mut redis) = both.conns();
    write_paths(&mut node, &mut redis);
    let both = Both::start(&[]);
    changed_before_exec(
        &both,
        &["CONFIG", "SET", "min-replicas-to-write", "2"],
        &["CONFIG", "SET", "min-replicas-to-write", "0"],
    );
}

#[test]
fn out_of_memory_refuses_on_every_path() {
    let both = Both::start(&["--maxmemory", "1", "--maxmemory-policy", "noeviction"]);
    let (mut node, mut redis) = both.conns();
    write_paths(&mut node, &mut redis);
    // Commands that free memory still run; a script may delete.
    same(&mut node, &mut redis, &[&["DEL", "a"], &["EVAL", "return redis.call('del','a')", "0"]]);
    // allow-oom functions run; others are refused before they start.
    let lib = "#!lua name=m\nredis.register_function{function_name='big', callback=function() return redis.call('set','z','1') end, flags={'allow-oom'}}\nredis.register_function('small', function() return redis.call('set','z','1') end)";
    same(&mut node, &mut redis, &[&["FUNCTION", "LOAD", lib], &["FCALL", "big", "0"], &["FCALL", "small", "0"]]);
    let both = Both::start(&[]);
    changed_before_exec(&both, &["CONFIG", "SET", "maxmemory", "1"], &["CONFIG", "SET", "maxmemory", "0"]);
}

#[test]
fn failed_save_refuses_writes_on_every_path() {
    let both = Both::start(&["--enable-protected-configs", "yes"]);
    let (mut node, mut redis) = both.conns();
    // A background save into a directory that is gone fails; with `save` set, writes stop.
    for (c, s) in [(&mut node, &both.node[0]), (&mut redis, &both.redis[0])] {
        let gone = scratch_dir("misconf");
        let _: () = q(c, &["CONFIG", "SET", "dir", gone.to_str().unwrap_or_default()]).expect("config set dir");
        std::fs::remove_dir_all(&gone).expect("remove dir");
        let _: () = q(c, &["CONFIG", "SET", "save", "3600 1"]).expect("config set save");
        let _: Value = q(c, &["BGSAVE"]).expect("bgsave");
        assert!(
            wait_until(Duration::from_secs(10), || q::<String>(c, &["INFO", "persistence"])
                .is_ok_and(|i| i.contains("rdb_last_bgsave_status:err") && i.contains("rdb_bgsave_in_progress:0"))),
            "the save on port {} did not fail",
            s.port
        );
    }
    write_paths(&mut node, &mut redis);
    same(&mut node, &mut redis, &[&["PING"], &["MULTI"], &["PING"], &["EXEC"]]);
}

#[test]
fn client_state_checks_on_every_path() {
    let both = Both::start(&[]);
    let (mut node, mut redis) = both.conns();
    same(
        &mut node,
        &mut redis,
        &[
            // Arity, commands scripts may not call, commands refused inside MULTI.
            &["GET"],
            &["EVAL", "return redis.call('get')", "0"],
            &["EVAL", "return redis.pcall('get')", "0"],
            &["EVAL", "return redis.call('save')", "0"],
            &["EVAL", "return redis.call('multi')", "0"],
            &["EVAL", "return redis.call('nosuchcommand')", "0"],
            &["MULTI"],
            &["SAVE"],
            &["GET"],
            &["EXEC"],
            &["MULTI"],
            &["SET", "k", "v"],
            &["MULTI"],
            &["WATCH", "k"],
            &["EXEC"],
            // A read-only script must not write.
            &["EVAL_RO", WRITE_SCRIPT, "0"],
            &["EVAL_RO", "return redis.call('pfcount','h')", "0"],
        ],
    );
    // ACL rules changed between queueing and EXEC refuse that command, not the transaction.
    for (s, c) in [(&both.node[0], &mut node), (&both.redis[0], &mut redis)] {
        let _: () = q(c, &["ACL", "SETUSER", "u", "on", "nopass", "+@all", "~*"]).expect("setuser");
        let _ = s;
    }
    let (mut un, mut ur) = both.conns();
    same(&mut un, &mut ur, &[&["AUTH", "u", "x"], &["MULTI"], &["SET", "k", "1"], &["GET", "k"]]);
    same(&mut node, &mut redis, &[&["ACL", "SETUSER", "u", "-set"]]);
    same(&mut un, &mut ur, &[&["EXEC"], &["EVAL", WRITE_SCRIPT, "0"], &["EVAL", WRITE_PSCRIPT, "0"]]);
    // A client that must authenticate; a RESP2 client while subscribed.
    let both = Both::start(&["--requirepass", "pw"]);
    let (mut node, mut redis) = both.conns();
    same(
        &mut node,
        &mut redis,
        &[
            &["GET", "k"],
            &["EVAL", READ_SCRIPT, "0"],
            &["MULTI"],
            &["AUTH", "pw"],
            &["MULTI"],
            &["GET", "k"],
            &["EXEC"],
        ],
    );
    let mut raws = [both.node[0].raw(), both.redis[0].raw()];
    let mut replies = Vec::new();
    for raw in &mut raws {
        raw.send(b"AUTH pw\r\nSUBSCRIBE ch\r\nGET k\r\nEVAL \"return 1\" 0\r\nMULTI\r\nPING\r\n");
        std::thread::sleep(Duration::from_millis(300));
        let mut buf = vec![0u8; 4096];
        let n = std::io::Read::read(&mut raw.0, &mut buf).unwrap_or(0);
        replies.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert_eq!(replies[0], replies[1], "subscribed RESP2 client: slotgate-node vs redis-server");
}

/// `redis-server`'s first lines for a config that fails, without the product banner.
fn fatal_message(bin: &str, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(bin).args(args).output().expect("start server");
    let text = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> =
        text.lines().filter(|l| !l.contains("FATAL CONFIG FILE ERROR") && !l.trim().is_empty()).collect();
    (out.status.code(), lines.last().map(|l| l.to_string()).unwrap_or_default())
}

#[test]
fn replicaof_directive_starts_a_syncing_replica() {
    assert!(require_tool("redis-server"));
    let master = Server::node(&[]);
    let mut m = master.conn();
    for i in 0..100 {
        let _: () = q(&mut m, &["SET", &format!("k{i}"), &i.to_string()]).expect("set");
    }
    let port = master.port.to_string();
    let dir = scratch_dir("replicaof");
    let conf = dir.join("replica.conf");
    std::fs::write(&conf, format!("replicaof 127.0.0.1 {port}\n")).expect("write conf");
    let joined = format!("127.0.0.1 {port}");
    let replicas = [
        Server::node(&["--replicaof", "127.0.0.1", &port]),
        Server::node(&["--replicaof", &joined]),
        Server::node(&["--slaveof", "127.0.0.1", &port]),
        Server::node_with_config(&conf, &[]),
    ];
    for r in &replicas {
        let mut c = r.conn();
        assert!(
            wait_until(Duration::from_secs(10), || q::<i64>(&mut c, &["DBSIZE"]).is_ok_and(|n| n == 100)),
            "replica on {} did not sync",
            r.port
        );
        let info: String = q(&mut c, &["INFO", "replication"]).expect("info");
        assert!(info.contains("role:slave") && info.contains(&format!("master_port:{port}")), "{info}");
        let got: Vec<String> = q(&mut c, &["CONFIG", "GET", "replicaof"]).expect("config get");
        assert_eq!(got, ["replicaof".to_string(), joined.clone()]);
        let role: Vec<Value> = q(&mut c, &["ROLE"]).expect("role");
        assert_eq!(
            role[..4],
            [
                Value::BulkString(b"slave".to_vec()),
                Value::BulkString(b"127.0.0.1".to_vec()),
                Value::Int(master.port.into()),
                Value::BulkString(b"connected".to_vec())
            ]
        );
        assert!(run(&mut c, &["SET", "x", "1"]).is_err_and(|e| e.contains("READONLY")));
    }
    // The master lists its four replicas (ip, port, acknowledged offset), as redis-server does.
    let listed_ports = |m: &mut redis::Connection| -> Vec<String> {
        let role: Vec<Value> = q(m, &["ROLE"]).unwrap_or_default();
        assert_eq!(role.first(), Some(&Value::BulkString(b"master".to_vec())), "{role:?}");
        let Some(Value::Array(listed)) = role.get(2) else { return Vec::new() };
        let mut ports: Vec<String> = listed
            .iter()
            .filter_map(|r| match r {
                Value::Array(f) => match f.get(1) {
                    Some(Value::BulkString(p)) => Some(String::from_utf8_lossy(p).into_owned()),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        ports.sort();
        ports
    };
    let mut want: Vec<String> = replicas.iter().map(|r| r.port.to_string()).collect();
    want.sort();
    assert!(wait_until(Duration::from_secs(5), || listed_ports(&mut m) == want), "ROLE on the master");
    // The replica's config file keeps the master across CONFIG REWRITE; REPLICAOF NO ONE drops it.
    let mut c = replicas[3].conn();
    let _: () = q(&mut c, &["CONFIG", "REWRITE"]).expect("rewrite");
    let text = std::fs::read_to_string(&conf).expect("read conf");
    assert!(text.contains(&format!("replicaof 127.0.0.1 {port}")), "{text}");
    let _: () = q(&mut c, &["REPLICAOF", "NO", "ONE"]).expect("replicaof no one");
    let _: () = q(&mut c, &["CONFIG", "REWRITE"]).expect("rewrite");
    assert!(!std::fs::read_to_string(&conf).expect("read conf").contains("replicaof"));
    let got: Vec<String> = q(&mut c, &["CONFIG", "GET", "replicaof"]).expect("config get");
    assert_eq!(got, ["replicaof".to_string(), String::new()]);
    let set = run(&mut c, &["CONFIG", "SET", "replicaof", "127.0.0.1 1"]);
    let redis = Server::redis(&[]);
    assert_eq!(set, run(&mut redis.conn(), &["CONFIG", "SET", "replicaof", "127.0.0.1 1"]));

    // Bad values fail start-up as redis-server's do.
    let node = binary("slotgate-node");
    let node = node.to_str().unwrap_or_default();
    for bad in [
        &["--port", "0", "--replicaof", "127.0.0.1", "99999"][..],
        &["--port", "0", "--replicaof", "127.0.0.1"],
        &["--port", "0", "--replicaof", "127.0.0.1 x"],
        &["--port", "0", "--cluster-enabled", "yes", "--replicaof", "127.0.0.1", "7000"],
    ] {
        let (code, msg) = fatal_message(node, bad);
        let (want_code, want_msg) = fatal_message("redis-server", bad);
        assert_eq!(code, want_code, "{bad:?}: exit status");
        // Ours names where the line came from ("command line: ..."), as its other errors do.
        assert!(!want_msg.is_empty() && msg.ends_with(&want_msg), "{bad:?}: message {msg:?} vs {want_msg:?}");
    }
}

#[test]
fn cluster_checks_on_every_path() {
    let both = Both::start(&["--cluster-enabled", "yes"]);
    let (mut node, mut redis) = both.conns();
    let state = |c: &mut redis::Connection, want: &str| {
        wait_until(Duration::from_secs(10), || {
            q::<String>(c, &["CLUSTER", "INFO"]).is_ok_and(|i| i.contains(&format!("cluster_state:{want}")))
        })
    };
    // Half the slots: `b` (3300) and `c` (7365) are served, `a` (15495) is not; the cluster is down.
    same(&mut node, &mut redis, &[&["CLUSTER", "ADDSLOTSRANGE", "0", "8000"]]);
    assert!(state(&mut node, "fail") && state(&mut redis, "fail"));
    let lines: &[&[&str]] = &[
        &["GET", "b"],
        &["GET", "a"],
        &["EVAL", "return redis.call('get','b')", "0"],
        &["EVAL", "return redis.call('get','a')", "0"],
        &["EVAL", "return redis.call('get','a')", "1", "a"],
        &["EVAL", "return redis.pcall('get','a')", "1", "b"],
        &["MULTI"],
        &["GET", "b"],
        &["GET", "a"],
        &["EXEC"],
        &["MULTI"],
        &["GET", "b"],
        &["GET", "c"],
        &["EXEC"],
    ];
    same(&mut node, &mut redis, lines);
    // Every slot: the cluster is up, keys of other slots are fine for a script without flags,
    // but one command's keys must share a slot.
    same(&mut node, &mut redis, &[&["CLUSTER", "ADDSLOTSRANGE", "8001", "16383"]]);
    assert!(state(&mut node, "ok") && state(&mut redis, "ok"));
    same(&mut node, &mut redis, lines);
    same(
        &mut node,
        &mut redis,
        &[
            &["EVAL", "return {redis.call('set','b',1), redis.call('set','c',2)}", "0"],
            &["EVAL", "return {redis.call('set','b',1), redis.call('set','c',2)}", "1", "b"],
            &["EVAL", "return redis.call('mset','b',1,'c',2)", "0"],
            &["EVAL", "return redis.pcall('mset','b',1,'c',2)", "0"],
            &["MULTI"],
            &["SET", "b", "1"],
            &["SET", "c", "1"],
            &["EXEC"],
        ],
    );
}

/// Scripts with a `#!lua` shebang: flags parsed as Redis does, and checked before the script
/// runs (scriptPrepareForRun) on a master, a replica, over maxmemory and in a cluster.
#[test]
fn script_shebang_flags() {
    let write = "#!lua\nreturn redis.call('set','x','1')";
    let no_writes = "#!lua flags=no-writes\nreturn redis.call('get','x')";
    let no_writes_but_writes = "#!lua flags=no-writes\nreturn redis.call('set','x','1')";
    let allow_oom = "#!lua flags=allow-oom\nreturn redis.call('set','x','1')";
    let lines: &[&[&str]] = &[
        &["EVAL", write, "0"],
        &["EVAL", no_writes, "0"],
        &["EVAL", no_writes_but_writes, "0"],
        &["EVAL_RO", write, "0"],
        &["EVAL_RO", no_writes, "0"],
        &["EVAL", allow_oom, "0"],
        &["EVAL", "#!lua\nerror('line two')", "0"],
        &["EVAL", "#!lua", "0"],
        &["EVAL", "#!python\nreturn 1", "0"],
        &["EVAL", "#!lua flags=no-writes,bogus\nreturn 1", "0"],
        &["EVAL", "#!lua name=x\nreturn 1", "0"],
        &["EVAL", "#!lua flags=no-cluster\nreturn 1", "0"],
        &["SCRIPT", "LOAD", write],
        &["EVALSHA", "d9eb1c2f0b05d75c3c4cd2d7a8a0b4ec3bd8cd8a", "0"],
        &["MULTI"],
        &["EVAL", write, "0"],
        &["EVAL", no_writes, "0"],
        &["EXEC"],
    ];
    let both = Both::start(&[]);
    let (mut node, mut redis) = both.conns();
    same(&mut node, &mut redis, lines);
    let both = Both::start(&["--maxmemory", "1"]);
    let (mut node, mut redis) = both.conns();
    same(&mut node, &mut redis, lines);
    let both = Both::start(&["--min-replicas-to-write", "1"]);
    let (mut node, mut redis) = both.conns();
    same(&mut node, &mut redis, lines);
    let masters = [Server::node(&[]), Server::redis(&[])];
    let both = Both {
        node: vec![Server::node(&["--replicaof", "127.0.0.1", &masters[0].port.to_string()])],
        redis: vec![Server::redis(&["--replicaof", "127.0.0.1", &masters[1].port.to_string()])],
    };
    let (mut node, mut redis) = both.conns();
    same(&mut node, &mut redis, lines);
    // In a cluster a flagged script may not touch keys of two slots unless it says so.
    let both = Both::start(&["--cluster-enabled", "yes"]);
    let (mut node, mut redis) = both.conns();
    same(&mut node, &mut redis, &[&["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]]);
    for c in [&mut node, &mut redis] {
        assert!(wait_until(Duration::from_secs(10), || {
            q::<String>(c, &["CLUSTER", "INFO"]).is_ok_and(|i| i.contains("cluster_state:ok"))
        }));
    }
    same(&mut node, &mut redis, lines);
    same(
        &mut node,
        &mut redis,
        &[
            &["EVAL", "#!lua\nreturn {redis.call('set','b',1), redis.call('set','c',2)}", "0"],
            &[
                "EVAL",
                "#!lua flags=allow-cross-slot-keys\nreturn {redis.call('set','b',1), redis.call('set','c',2)}",
                "0",
            ],
        ],
    );
}

/// Sends `line` on a raw connection and returns its reply if one arrives within `wait`.
fn reply_within(c: &mut std::net::TcpStream, line: &[&str], wait: Duration) -> Option<String> {
    use std::io::Write;
    let mut out = format!("*{}\r\n", line.len());
    for a in line {
        out.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    c.write_all(out.as_bytes()).expect("send");
    read_frame(c, wait)
}

/// One whole RESP reply read within `wait`, as its raw text.
fn read_frame(c: &mut std::net::TcpStream, wait: Duration) -> Option<String> {
    use std::io::Read;
    c.set_read_timeout(Some(wait)).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Ok(Some((_, used))) = protocol::Frame::parse(&buf) {
            return Some(String::from_utf8_lossy(&buf[..used]).into_owned());
        }
        match c.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// What a client sees of `steps` while another client holds a CLIENT PAUSE of `mode`: the
/// replies of the steps answered at once, then `held at <step>` for the first step that waits,
/// then that step's reply once the pause is lifted.
fn under_pause(port: u16, mode: &str, steps: &[&[&str]]) -> Vec<String> {
    let mut admin = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let quick = Duration::from_millis(300);
    // An ALL pause holds CLIENT UNPAUSE too: it is left to end by itself.
    let all = mode == "ALL";
    let ms = if all { "1500" } else { "20000" };
    let ok = reply_within(&mut admin, &["CLIENT", "PAUSE", ms, mode], quick);
    assert_eq!(ok.as_deref(), Some("+OK\r\n"), "CLIENT PAUSE on {port}");
    let mut seen = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        match reply_within(&mut c, step, quick) {
            Some(r) => seen.push(r),
            None => {
                seen.push(format!("held at {i}"));
                if !all {
                    let ok = reply_within(&mut admin, &["CLIENT", "UNPAUSE"], quick);
                    assert_eq!(ok.as_deref(), Some("+OK\r\n"), "CLIENT UNPAUSE on {port}");
                }
                seen.push(
                    read_frame(&mut c, Duration::from_secs(5)).unwrap_or_else(|| "no reply after UNPAUSE".into()),
                );
                return seen;
            }
        }
    }
    if !all {
        reply_within(&mut admin, &["CLIENT", "UNPAUSE"], quick).expect("CLIENT UNPAUSE");
    }
    seen
}

/// CLIENT PAUSE WRITE holds what may replicate on every path — a write, a script that may
/// write, a function that writes, EXEC of queued writes, PUBLISH — and lets reads, EVAL_RO,
/// read-only functions and `no-writes` scripts through; CLIENT PAUSE ALL holds everything.
/// The failover pause of FAILOVER is the same WRITE pause. Compared with redis-server.
#[test]
fn pause_holds_what_may_replicate_on_every_path() {
    let both = Both::start(&[]);
    let lib = "#!lua name=plib\nredis.register_function('w', function() return redis.call('set','y','1') end)\n\
redis.register_function{function_name='r', callback=function() return redis.call('get','y') end, flags={'no-writes'}}";
    for s in [&both.node[0], &both.redis[0]] {
        let _: String = q(&mut s.conn(), &["FUNCTION", "LOAD", lib]).expect("function load");
    }
    let scenarios: &[(&str, &[&[&str]])] = &[
        ("WRITE", &[&["GET", "a"], &["SET", "a", "1"]]),
        ("WRITE", &[&["PING"], &["EVAL", WRITE_SCRIPT, "0"]]),
        ("WRITE", &[&["EVAL", READ_SCRIPT, "0"]]),
        ("WRITE", &[&["EVAL_RO", READ_SCRIPT, "0"], &["EVAL", "#!lua flags=no-writes\nreturn 1", "0"]]),
        ("WRITE", &[&["EVAL", "#!lua\nreturn redis.call('set','x','2')", "0"]]),
        ("WRITE", &[&["FCALL_RO", "r", "0"], &["FCALL", "r", "0"], &["FCALL", "w", "0"]]),
        ("WRITE", &[&["MULTI"], &["GET", "a"], &["EXEC"], &["MULTI"], &["SET", "a", "2"], &["EXEC"]]),
        ("WRITE", &[&["MULTI"], &["EVAL", WRITE_SCRIPT, "0"], &["EXEC"]]),
        ("WRITE", &[&["PUBLISH", "ch", "m"]]),
        ("ALL", &[&["GET", "a"]]),
    ];
    // The pause command's own errors.
    let (mut node, mut redis) = both.conns();
    same(
        &mut node,
        &mut redis,
        &[
            &["CLIENT", "PAUSE", "10", "bad"],
            &["CLIENT", "PAUSE", "abc"],
            &["CLIENT", "PAUSE", "-1"],
            &["CLIENT", "PAUSE", "10", "WRITE", "x"],
            &["CLIENT", "PAUSE"],
            &["CLIENT", "UNPAUSE", "x"],
            &["CLIENT", "UNPAUSE"],
        ],
    );
    for (mode, steps) in scenarios {
        let node = under_pause(both.node[0].port, mode, steps);
        let redis = under_pause(both.redis[0].port, mode, steps);
        assert_eq!(node, redis, "CLIENT PAUSE {mode} then {steps:?}: slotgate-node vs redis-server");
        assert!(node.iter().all(|r| !r.contains("no reply")), "{node:?}");
    }
}
