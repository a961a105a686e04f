//! Test harness for the end-to-end suites: starts `slotgate-node` (and Debian's `redis-server`
//! as a reference) on free loopback ports, hands out real clients, and cleans up on drop, also
//! when a test fails. `cluster` adds a real Redis Cluster and `slotgate-proxy` in front of it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod cluster;
pub mod docker;
pub mod faultrun;
pub mod history;
pub mod k8s;
pub mod netns;
pub mod pki;
pub mod rng;
pub use cluster::{
    cluster_nodes, cluster_nodes_at, cluster_port, parse_cluster_nodes, redis_cli, slot_owner, Cluster, Kind, NodeInfo,
    Proxy,
};

/// Runs each named test body (`fn name(kind: Kind)`) twice: against a Redis 7.0 cluster and
/// against a slotgate-node cluster.
#[macro_export]
macro_rules! on_both_clusters {
    ($($name:ident),*) => {$(
        mod $name {
            #[test]
            fn redis() {
                super::$name($crate::Kind::Redis)
            }
            #[test]
            fn slotgate() {
                super::$name($crate::Kind::Slotgate)
            }
        }
    )*};
}

/// Where the workspace's build output is.
fn target_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("target")
}

/// Path of a workspace binary: in `SLOTGATE_BIN_DIR` when set (scripts/test.sh builds the
/// release binaries and points there), else in the profile directory this test was built in
/// (target/debug for `cargo test`, target/release for `cargo test --release`). A binary older
/// than the workspace's sources fails the test: suites must run what was just built.
pub fn binary(name: &str) -> PathBuf {
    let dir = match std::env::var("SLOTGATE_BIN_DIR") {
        Ok(dir) => PathBuf::from(dir),
        Err(_) => {
            // target/<profile>/deps/<test binary>
            let exe = std::env::current_exe().expect("test binary path");
            let profile = exe.parent().and_then(Path::parent).and_then(Path::file_name).map(|p| p.to_os_string());
            target_dir().join(profile.unwrap_or_else(|| "debug".into()))
        }
    };
    let path = dir.join(name);
    let built = std::fs::metadata(&path).and_then(|m| m.modified()).unwrap_or_else(|_| {
        panic!("{name} is not built: run `cargo build --bins` (or --release) first ({} missing)", path.display())
    });
    if let Some((source, changed)) = newest_source(&path) {
        assert!(
            built >= changed,
            "{} is older than {} (changed since the build): run `cargo build --bins` (or --release) again",
            path.display(),
            source.display()
        );
    }
    path
}

/// The most recently changed of the sources a binary was built from, as cargo's dep-info file
/// next to it (`<binary>.d`) lists them; None without one.
fn newest_source(binary: &Path) -> Option<(PathBuf, std::time::SystemTime)> {
    let info = std::fs::read_to_string(binary.with_extension("d")).ok()?;
    let (_, deps) = info.lines().next()?.split_once(": ")?;
    deps.split_whitespace()
        .filter_map(|d| Some((PathBuf::from(d), std::fs::metadata(d).and_then(|m| m.modified()).ok()?)))
        .max_by_key(|(_, t)| *t)
}

/// Marks a test as skipped: in CI (`CI` set) that fails it, since a skipped test proves
/// nothing; elsewhere the reason is printed and the test returns.
pub fn skip(reason: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("skipped in CI: {reason}");
    }
    eprintln!("SKIPPED: {reason}");
}

/// A key named `prefix` plus a number whose slot is in `slots`.
pub fn key_in(slots: std::ops::Range<u16>, prefix: &str) -> String {
    (0..).map(|n| format!("{prefix}{n}")).find(|k| slots.contains(&protocol::key_slot(k.as_bytes()))).unwrap()
}

/// A key named `prefix` plus a number whose slot lies in the `third` of the slot space that
/// `redis-cli --cluster create` gives the `third` master of three.
pub fn key_on(third: usize, prefix: &str) -> String {
    let range = [0..5461, 5461..10923, 10923..16384][third].clone();
    (0..).map(|n| format!("{prefix}{n}")).find(|k| range.contains(&protocol::key_slot(k.as_bytes()))).unwrap()
}

/// A free TCP port on loopback (bound and released; the race with other tests is tolerated by retries).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("no free port")
}

/// Whether an external tool is on PATH. In CI (`CI` set) a missing tool fails the test loudly;
/// locally the test is skipped with a printed reason.
pub fn require_tool(tool: &str) -> bool {
    let found =
        Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output().is_ok_and(|o| o.status.success());
    if !found {
        skip(&format!("{tool} is not installed (scripts/test.sh installs what the suites need)"));
    }
    found
}

/// Polls `f` until it returns true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

/// A server process on loopback, killed on drop.
pub struct Server {
    pub port: u16,
    child: Child,
    pub dir: PathBuf,
    /// A directory given by the test outlives the server (restart scenarios).
    keep_dir: bool,
}

impl Server {
    /// Starts `slotgate-node` with extra redis-server style arguments.
    pub fn node(args: &[&str]) -> Server {
        Self::start(&binary("slotgate-node"), args)
    }

    /// Starts Debian's `redis-server` with the same kind of arguments (reference behaviour).
    pub fn redis(args: &[&str]) -> Server {
        Self::start(Path::new("redis-server"), args)
    }

    /// Starts `slotgate-node` with a config file, which redis-server's command line wants
    /// first, followed by the harness's `--port`/`--bind`/`--dir` and then `args`.
    pub fn node_with_config(config: &Path, args: &[&str]) -> Server {
        Self::start_with(&binary("slotgate-node"), Some(config), args)
    }

    /// Starts `redis-server` with a config file, as `node_with_config` does.
    pub fn redis_with_config(config: &Path, args: &[&str]) -> Server {
        Self::start_with(Path::new("redis-server"), Some(config), args)
    }

    /// Starts `slotgate-node` working in `dir`, which is kept when the server goes (so a test
    /// can start it again on the same files).
    pub fn node_in(dir: &Path, args: &[&str]) -> Server {
        Self::start_in(&binary("slotgate-node"), None, Some(dir), args)
    }

    /// Starts `redis-server` working in `dir`, which is kept when the server goes.
    pub fn redis_in(dir: &Path, args: &[&str]) -> Server {
        Self::start_in(Path::new("redis-server"), None, Some(dir), args)
    }

    fn start(bin: &Path, args: &[&str]) -> Server {
        Self::start_with(bin, None, args)
    }

    fn start_with(bin: &Path, config: Option<&Path>, args: &[&str]) -> Server {
        Self::start_in(bin, config, None, args)
    }

    fn start_in(bin: &Path, config: Option<&Path>, given_dir: Option<&Path>, args: &[&str]) -> Server {
        let keep_dir = given_dir.is_some();
        let dir = given_dir.map_or_else(|| scratch_dir("srv"), Path::to_path_buf);
        for _attempt in 0..5 {
            let port = free_port();
            let mut cmd = Command::new(bin);
            if let Some(config) = config {
                cmd.arg(config);
            }
            cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--dir"])
                .arg(&dir)
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
            let mut server = Server { port, child, dir: dir.clone(), keep_dir };
            if wait_until(Duration::from_secs(10), || server.ping() || server.exited()) && !server.exited() {
                return server;
            }
        }
        panic!("{} did not start", bin.display());
    }

    fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    fn ping(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        let mut buf = [0u8; 64];
        s.write_all(b"PING\r\n").is_ok() && s.read(&mut buf).is_ok_and(|n| n > 0)
    }

    /// A redis-rs connection.
    pub fn conn(&self) -> redis::Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))
            .and_then(|c| c.get_connection())
            .expect("redis-rs connect")
    }

    /// A raw socket for protocol-level tests.
    pub fn raw(&self) -> RawConn {
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5))).ok();
        RawConn(s)
    }

    /// Runs `redis-cli -p port <args>` and returns its output.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new("redis-cli").args(["-p", &self.port.to_string()]).args(args).output().expect("redis-cli")
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        !self.exited()
    }

    /// Kills the process with SIGKILL (a crash) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Process id (for signals).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for exit and returns the status code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status.code().unwrap_or(-1));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !self.keep_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A unique, empty scratch directory under the system temp dir.
pub fn scratch_dir(tag: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("slotgate-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// A plain TCP connection speaking raw bytes.
pub struct RawConn(pub TcpStream);

impl RawConn {
    /// Sends bytes.
    pub fn send(&mut self, data: &[u8]) {
        self.0.write_all(data).expect("send");
    }

    /// Reads until `expected` bytes arrived or the connection closed / timed out.
    pub fn read_exact_len(&mut self, expected: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 65536];
        while out.len() < expected {
            match self.0.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
        out
    }

    /// Sends `data` and reads exactly as many bytes as `expected` holds, comparing them.
    pub fn roundtrip(&mut self, data: &[u8], expected: &str) {
        self.send(data);
        let got = self.read_exact_len(expected.len());
        assert_eq!(String::from_utf8_lossy(&got), expected, "reply to {:?}", String::from_utf8_lossy(data));
    }

    /// True when the server closed the connection (read returns 0 within the timeout).
    pub fn closed(&mut self) -> bool {
        let mut buf = [0u8; 1024];
        loop {
            match self.0.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) => return e.kind() == std::io::ErrorKind::ConnectionReset,
            }
        }
    }
}

/// The Node.js client folder (tests/js).
pub fn js_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/js"))
}

/// The redis-py scripts.
pub fn py_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/py"))
}

/// Installs redis-py from tests/py/requirements.txt unless it is importable already.
pub fn ensure_redis_py() {
    let importable = || Command::new("python3").args(["-c", "import redis"]).output().is_ok_and(|o| o.status.success());
    if importable() {
        return;
    }
    let status = Command::new("python3")
        .args(["-m", "pip", "install", "-q", "-r", "requirements.txt"])
        .current_dir(py_dir())
        .status()
        .expect("pip");
    assert!(status.success() && importable(), "pip install -r tests/py/requirements.txt failed");
}

/// Installs ioredis once from the vendored tarballs (scripts/test.sh does it up front in CI).
pub fn ensure_ioredis() {
    if js_dir().join("node_modules/ioredis").exists() {
        return;
    }
    let status = Command::new(js_dir().join("install.sh")).status().expect("tests/js/install.sh");
    assert!(status.success(), "tests/js/install.sh (npm ci --offline from tests/js/vendor) failed");
}

/// Runs one command given as words through a redis-rs connection.
pub fn q<T: redis::FromRedisValue>(c: &mut redis::Connection, args: &[&str]) -> redis::RedisResult<T> {
    let mut command = redis::cmd(args[0]);
    for a in &args[1..] {
        command.arg(*a);
    }
    command.query(c)
}

/// Commands writing one key of every type and encoding class: integer, short and long strings;
/// small and big lists; integer, string and big sets; small and big hashes; small and big sorted
/// sets (with an infinite score). Suites that move data around (DUMP/RESTORE, RDB, AOF) start
/// from these and add their own.
pub fn every_type_commands() -> Vec<Vec<String>> {
    let big: Vec<String> = (0..600).map(|i| format!("member-{i}")).collect();
    let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<String>>();
    vec![
        words(&["SET", "s:int", "12345"]),
        words(&["SET", "s:short", "hello"]),
        vec!["SET".into(), "s:long".into(), "abc".repeat(400)],
        words(&["RPUSH", "l:small", "a", "1", "c"]),
        [words(&["RPUSH", "l:big"]), big.clone()].concat(),
        words(&["SADD", "set:ints", "1", "2", "300000"]),
        words(&["SADD", "set:strs", "x", "y"]),
        [words(&["SADD", "set:big"]), big.clone()].concat(),
        words(&["HSET", "h:small", "f", "v", "n", "7"]),
        [words(&["HSET", "h:big"]), big.iter().flat_map(|m| [m.clone(), "x".repeat(70)]).collect()].concat(),
        words(&["ZADD", "z:small", "1.5", "a", "-inf", "b"]),
        [
            words(&["ZADD", "z:big"]),
            big.iter().enumerate().flat_map(|(i, m)| [format!("{}", i as f64 / 3.0), m.clone()]).collect(),
        ]
        .concat(),
    ]
    .into_iter()
    .chain(new_type_commands())
    .collect()
}

/// Keys of the types built on strings and sorted sets (a bitmap, a sparse and a dense
/// HyperLogLog, a geo set) and streams: plain, trimmed, with deletions, and with a consumer
/// group holding pending entries of two consumers.
pub fn new_type_commands() -> Vec<Vec<String>> {
    let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<String>>();
    let many = |n: usize, f: &dyn Fn(usize) -> Vec<String>| (0..n).flat_map(f).collect::<Vec<String>>();
    let mut cmds = vec![
        words(&["SETBIT", "bits", "1000", "1"]),
        words(&["SETBIT", "bits", "7", "1"]),
        words(&["PFADD", "hll:sparse", "a", "b", "c"]),
        [words(&["PFADD", "hll:dense"]), many(5000, &|i| vec![format!("e{i}")])].concat(),
        words(&["GEOADD", "geo", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"]),
        words(&["XADD", "st:small", "1-1", "f", "v"]),
        words(&["XADD", "st:small", "2-0", "f", "w", "g", "7"]),
    ];
    // Three hundred entries span several of Redis's 100-entry nodes; some are deleted.
    for i in 1..=300 {
        cmds.push(vec!["XADD".into(), "st:big".into(), format!("{i}-0"), "n".into(), i.to_string()]);
    }
    cmds.push(words(&["XDEL", "st:big", "5-0", "150-0", "151-0"]));
    cmds.push(words(&["XTRIM", "st:big", "MINID", "3"]));
    for i in 1..=10 {
        cmds.push(vec!["XADD".into(), "st:group".into(), format!("{i}-1"), "job".into(), i.to_string()]);
    }
    cmds.extend([
        words(&["XGROUP", "CREATE", "st:group", "workers", "0"]),
        words(&["XGROUP", "CREATE", "st:group", "idle", "$"]),
        words(&["XREADGROUP", "GROUP", "workers", "alice", "COUNT", "3", "STREAMS", "st:group", ">"]),
        words(&["XREADGROUP", "GROUP", "workers", "bob", "COUNT", "2", "STREAMS", "st:group", ">"]),
        words(&["XACK", "st:group", "workers", "2-1"]),
        words(&["XGROUP", "CREATECONSUMER", "st:group", "workers", "carol"]),
    ]);
    cmds
}

/// A key's type and contents as comparable strings (sets and hashes sorted; a stream's
/// entries, groups and pending summaries), the same on any server holding the same value.
pub fn value_snapshot(c: &mut redis::Connection, key: &str) -> (String, Vec<String>) {
    let t: String = q(c, &["TYPE", key]).unwrap();
    let mut v: Vec<String> = match t.as_str() {
        // Byte for byte (a HyperLogLog is binary).
        "string" => vec![q::<Vec<u8>>(c, &["GET", key]).unwrap().escape_ascii().to_string()],
        "list" => q(c, &["LRANGE", key, "0", "-1"]).unwrap(),
        "set" => q(c, &["SMEMBERS", key]).unwrap(),
        "hash" => q(c, &["HGETALL", key]).unwrap(),
        "zset" => q(c, &["ZRANGE", key, "0", "-1", "WITHSCORES"]).unwrap(),
        "stream" => {
            let mut v = vec![format!("{:?}", q::<redis::Value>(c, &["XRANGE", key, "-", "+"]).unwrap())];
            let groups: Vec<std::collections::HashMap<String, redis::Value>> = q(c, &["XINFO", "GROUPS", key]).unwrap();
            for g in groups {
                let name: String = redis::from_redis_value(&g["name"]).unwrap();
                let mut fields: Vec<String> = g.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
                fields.sort();
                v.push(fields.join(" "));
                v.push(format!("{:?}", q::<redis::Value>(c, &["XPENDING", key, &name]).unwrap()));
                let consumers: Vec<std::collections::HashMap<String, redis::Value>> =
                    q(c, &["XINFO", "CONSUMERS", key, &name]).unwrap();
                let mut names: Vec<String> =
                    consumers.iter().map(|c| format!("{:?} {:?}", c["name"], c["pending"])).collect();
                names.sort();
                v.extend(names);
            }
            let info: std::collections::HashMap<String, redis::Value> = q(c, &["XINFO", "STREAM", key]).unwrap();
            for field in ["length", "last-generated-id", "max-deleted-entry-id", "entries-added"] {
                v.push(format!("{field}={:?}", info.get(field)));
            }
            v
        }
        other => panic!("unexpected type {other}"),
    };
    if t == "set" {
        v.sort();
    }
    if t == "hash" {
        let mut pairs: Vec<String> = v.chunks(2).map(|p| p.join("=")).collect();
        pairs.sort();
        v = pairs;
    }
    (t, v)
}

/// A value snapshot without a stream group's entries-read and lag: Redis 7.0 propagates a
/// group read as XCLAIMs that do not carry them, so its replicas and AOF replays differ there.
pub fn propagated_only((t, v): (String, Vec<String>)) -> (String, Vec<String>) {
    let strip = |line: String| {
        line.split(' ')
            .filter(|f| !f.starts_with("entries-read=") && !f.starts_with("lag="))
            .collect::<Vec<_>>()
            .join(" ")
    };
    (t, v.into_iter().map(strip).collect())
}

/// Runs a checking tool (redis-check-rdb, redis-check-aof) on a file; fails with its output.
pub fn run_tool(tool: &str, arg: &Path) {
    let out = std::process::Command::new(tool).arg(arg).output().unwrap_or_else(|e| panic!("{tool}: {e}"));
    assert!(
        out.status.success(),
        "{tool} {} failed:\n{}{}",
        arg.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs commands given as owned words, panicking on an error reply.
pub fn run_all(c: &mut redis::Connection, cmds: &[Vec<String>]) {
    for cmd in cmds {
        let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
        q::<redis::Value>(c, &args).unwrap_or_else(|e| panic!("{} failed: {e}", cmd[0]));
    }
}

/// Encodes a command as a RESP multibulk request.
pub fn resp(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}
