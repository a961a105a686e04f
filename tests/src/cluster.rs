//! Clusters on loopback made of Debian `redis-server` processes or of `slotgate-node`
//! processes (both created with `redis-cli --cluster create`), and `slotgate-proxy` started in
//! front of one. Every process is killed on drop, also when a test fails.

use std::collections::HashSet;
use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{binary, free_port, scratch_dir, wait_until, RawConn};

/// Cluster bus ports are the client port plus this.
const BUS_OFFSET: u16 = 10000;

/// Picks a client port whose cluster bus port is free too. Candidates come from 15000..25000,
/// below the kernel's ephemeral range, so outgoing connections cannot take them meanwhile.
pub fn cluster_port(taken: &HashSet<u16>) -> u16 {
    static SALT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let salt = SALT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let mut x = nanos ^ (u64::from(std::process::id()) << 32) ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for _ in 0..2000 {
        // xorshift: cheap and good enough to spread candidates.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let port = 15000 + (x % 10000) as u16;
        if taken.contains(&port) {
            continue;
        }
        let free = |p: u16| TcpListener::bind(("127.0.0.1", p)).is_ok();
        if free(port) && free(port + BUS_OFFSET) {
            return port;
        }
    }
    panic!("no free port pair (port, port+{BUS_OFFSET}) below 25000+{BUS_OFFSET}");
}

/// Runs `redis-cli -p port <args>` and returns its stdout (trimmed), or `None` on failure.
pub fn redis_cli(port: u16, args: &[&str]) -> Option<String> {
    let out = Command::new("redis-cli").args(["-p", &port.to_string()]).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// One line of `CLUSTER NODES`.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    pub id: String,
    pub port: u16,
    /// e.g. `myself`, `master`, `slave`, `fail`, `fail?`.
    pub flags: Vec<String>,
    /// The master's id for a replica, `None` for a master.
    pub master_id: Option<String>,
    /// Number of slots the node serves.
    pub slots: usize,
    /// The slot ranges it serves, inclusive.
    pub ranges: Vec<(u16, u16)>,
}

impl NodeInfo {
    pub fn is_master(&self) -> bool {
        self.flags.iter().any(|f| f == "master")
    }

    pub fn is_failed(&self) -> bool {
        self.flags.iter().any(|f| f == "fail")
    }
}

/// `CLUSTER NODES` as seen by the node on `port` (`None` when it does not answer).
pub fn cluster_nodes(port: u16) -> Option<Vec<NodeInfo>> {
    parse_cluster_nodes(&redis_cli(port, &["cluster", "nodes"])?)
}

/// `CLUSTER NODES` of the node at `host:port` (another host than loopback).
pub fn cluster_nodes_at(host: &str, port: u16) -> Option<Vec<NodeInfo>> {
    let out =
        Command::new("redis-cli").args(["-h", host, "-p", &port.to_string(), "cluster", "nodes"]).output().ok()?;
    parse_cluster_nodes(String::from_utf8_lossy(&out.stdout).trim()).filter(|n| out.status.success() && !n.is_empty())
}

/// The lines of a `CLUSTER NODES` reply (`None` when one is malformed).
pub fn parse_cluster_nodes(text: &str) -> Option<Vec<NodeInfo>> {
    let mut nodes = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 {
            return None;
        }
        // Address: ip:port@busport[,hostname]
        let port = f[1].split('@').next()?.rsplit(':').next()?.parse().ok()?;
        let ranges: Vec<(u16, u16)> = f[8..]
            .iter()
            .filter(|r| !r.starts_with('['))
            .filter_map(|r| {
                let (a, b) = r.split_once('-').unwrap_or((r, r));
                Some((a.parse().ok()?, b.parse().ok()?))
            })
            .collect();
        let slots = ranges.iter().map(|(a, b)| (b - a) as usize + 1).sum();
        nodes.push(NodeInfo {
            id: f[0].to_string(),
            port,
            flags: f[2].split(',').map(str::to_string).collect(),
            master_id: (f[3] != "-").then(|| f[3].to_string()),
            slots,
            ranges,
        });
    }
    Some(nodes)
}

/// The port of the node serving `slot`, as the node on `via` sees it (nodes it considers
/// failing are skipped).
pub fn slot_owner(via: u16, slot: u16) -> Option<u16> {
    cluster_nodes(via)?
        .into_iter()
        .filter(|n| !n.flags.iter().any(|f| f.starts_with("fail")))
        .find(|n| n.ranges.iter().any(|(a, b)| (*a..=*b).contains(&slot)))
        .map(|n| n.port)
}

struct ClusterNode {
    port: u16,
    child: Option<Child>,
}

/// Which server the cluster is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Redis,
    Slotgate,
}

/// A cluster of server processes on loopback, killed on drop.
pub struct Cluster {
    nodes: Vec<ClusterNode>,
    dir: PathBuf,
    kind: Kind,
    node_timeout_ms: u64,
    taken: HashSet<u16>,
}

impl Cluster {
    /// A Redis Cluster of Debian `redis-server` processes (see `create`).
    pub fn redis(masters: usize, replicas: usize, node_timeout_ms: u64) -> Cluster {
        Cluster::create(Kind::Redis, masters, replicas, node_timeout_ms)
    }

    /// A cluster of `slotgate-node` processes (see `create`).
    pub fn slotgate(masters: usize, replicas: usize, node_timeout_ms: u64) -> Cluster {
        Cluster::create(Kind::Slotgate, masters, replicas, node_timeout_ms)
    }

    /// Started nodes that belong to no cluster yet.
    pub fn empty(kind: Kind, count: usize, node_timeout_ms: u64) -> Cluster {
        let dir = scratch_dir("cluster");
        let mut cluster = Cluster { nodes: Vec::new(), dir, kind, node_timeout_ms, taken: HashSet::new() };
        for _ in 0..count {
            cluster.add_node();
        }
        cluster
    }

    /// Starts `masters * (1 + replicas)` nodes, joins them with `redis-cli --cluster create`
    /// and waits until every node reports `cluster_state:ok` (and every replica is in sync).
    pub fn create(kind: Kind, masters: usize, replicas: usize, node_timeout_ms: u64) -> Cluster {
        assert!(masters >= 3, "redis-cli --cluster create needs at least 3 masters");
        let cluster = Cluster::empty(kind, masters * (1 + replicas), node_timeout_ms);
        let addrs: Vec<String> = cluster.ports().iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let out = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addrs)
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .output()
            .expect("redis-cli --cluster create");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let total = cluster.nodes.len();
        let ready = wait_until(Duration::from_secs(60), || {
            cluster.ports().iter().all(|&p| {
                let Some(info) = redis_cli(p, &["cluster", "info"]) else { return false };
                let replication = redis_cli(p, &["info", "replication"]).unwrap_or_default();
                // Every node also sees every replica as one (gossip settles the roles).
                let replicas_seen = cluster_nodes(p)
                    .is_some_and(|ns| ns.iter().filter(|n| n.master_id.is_some()).count() == masters * replicas);
                info.contains("cluster_state:ok")
                    && info.contains(&format!("cluster_known_nodes:{total}"))
                    && (replication.contains("role:master") || replication.contains("master_link_status:up"))
                    && replicas_seen
            })
        });
        assert!(ready, "the cluster did not reach cluster_state:ok within 60 s: {:?}", cluster.ports());
        cluster
    }

    /// Starts one more node (in no cluster yet) and returns its port.
    pub fn add_node(&mut self) -> u16 {
        for _attempt in 0..5 {
            let port = cluster_port(&self.taken);
            if let Some(child) = self.spawn(port) {
                self.taken.insert(port);
                self.nodes.push(ClusterNode { port, child: Some(child) });
                return port;
            }
        }
        panic!("cluster node did not start; logs under {}", self.dir.display());
    }

    /// Starts the server on `port` with its own directory (kept across restarts), and waits
    /// until it answers; `None` when it exits first (port taken meanwhile).
    fn spawn(&self, port: u16) -> Option<Child> {
        let dir = self.dir.join(port.to_string());
        std::fs::create_dir_all(&dir).expect("node dir");
        let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("redis.log")).expect("node log");
        let program = match self.kind {
            Kind::Redis => PathBuf::from("redis-server"),
            Kind::Slotgate => binary("slotgate-node"),
        };
        let mut child = Command::new(program)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"])
            .args(["--cluster-node-timeout", &self.node_timeout_ms.to_string()])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(&dir)
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start a cluster node");
        let up = wait_until(Duration::from_secs(10), || {
            matches!(child.try_wait(), Ok(Some(_))) || redis_cli(port, &["ping"]).as_deref() == Some("PONG")
        });
        if up && matches!(child.try_wait(), Ok(None)) {
            return Some(child);
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    fn node_mut(&mut self, port: u16) -> &mut ClusterNode {
        self.nodes.iter_mut().find(|n| n.port == port).expect("no node on that port")
    }

    /// SIGKILLs the node on `port` (it can be started again with `restart`).
    pub fn kill(&mut self, port: u16) {
        if let Some(mut child) = self.node_mut(port).child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the node on `port` with SIGTERM and waits for it to exit.
    pub fn stop(&mut self, port: u16) {
        if let Some(mut child) = self.node_mut(port).child.take() {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            let exited = wait_until(Duration::from_secs(10), || matches!(child.try_wait(), Ok(Some(_))));
            if !exited {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }

    /// Starts a stopped node again on its port, from its directory (and nodes.conf).
    pub fn restart(&mut self, port: u16) {
        let child = (0..50).find_map(|_| {
            // The old process's sockets may linger for a moment.
            self.spawn(port).or_else(|| {
                std::thread::sleep(Duration::from_millis(100));
                None
            })
        });
        self.node_mut(port).child = Some(child.expect("the node did not start again"));
    }

    /// Removes a node from the set this cluster manages (after `--cluster del-node`); it is killed.
    pub fn forget_process(&mut self, port: u16) {
        self.kill(port);
        self.nodes.retain(|n| n.port != port);
    }

    /// True when every running node reports `cluster_state:ok`.
    pub fn all_ok(&self) -> bool {
        self.ports().iter().all(|&p| redis_cli(p, &["cluster", "info"]).is_some_and(|i| i.contains("cluster_state:ok")))
    }

    /// Client ports of every running node, in start order.
    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().filter(|n| n.child.is_some()).map(|n| n.port).collect()
    }

    /// Process ids of every node, in the order of `ports()` (for signals); 0 for a stopped one.
    pub fn pids(&self) -> Vec<u32> {
        self.nodes.iter().map(|n| n.child.as_ref().map_or(0, |c| c.id())).collect()
    }

    /// `CLUSTER NODES` as seen by the first node that answers.
    pub fn nodes(&self) -> Vec<NodeInfo> {
        self.ports().iter().find_map(|&p| cluster_nodes(p)).expect("no cluster node answers CLUSTER NODES")
    }

    /// Ports of the current masters that serve slots.
    pub fn master_ports(&self) -> Vec<u16> {
        self.nodes().into_iter().filter(|n| n.is_master() && n.slots > 0).map(|n| n.port).collect()
    }

    /// The node id of the node on `port` (`CLUSTER MYID`).
    pub fn node_id(&self, port: u16) -> String {
        redis_cli(port, &["cluster", "myid"]).expect("cluster myid")
    }

    /// Log file of the node on `port`.
    pub fn log(&self, port: u16) -> String {
        std::fs::read_to_string(self.dir.join(port.to_string()).join("redis.log")).unwrap_or_default()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            // SIGKILL also ends a SIGSTOPped node.
            if let Some(child) = n.child.as_mut() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `slotgate-proxy` on a free loopback port in front of a cluster, killed on drop.
pub struct Proxy {
    pub port: u16,
    child: Child,
    dir: PathBuf,
}

impl Proxy {
    /// Starts the proxy with `--seed 127.0.0.1:<seed_port>` and `extra_args`, and waits until
    /// it answers PING.
    pub fn start(seed_port: u16, extra_args: &[&str]) -> Proxy {
        let mut last_log = String::new();
        for _attempt in 0..5 {
            let dir = scratch_dir("proxy");
            let port = free_port();
            let log = File::create(dir.join("proxy.log")).expect("proxy log");
            let child = Command::new(binary("slotgate-proxy"))
                .args(["--listen", &format!("127.0.0.1:{port}"), "--seed", &format!("127.0.0.1:{seed_port}")])
                .args(extra_args)
                .stdout(log.try_clone().expect("log handle"))
                .stderr(log)
                .spawn()
                .expect("cannot start slotgate-proxy");
            let mut proxy = Proxy { port, child, dir };
            if wait_until(Duration::from_secs(10), || proxy.exited() || ping(port)) && !proxy.exited() {
                return proxy;
            }
            // Most likely the port was taken meanwhile: try another one.
            let _ = proxy.child.kill();
            let _ = proxy.child.wait();
            last_log = proxy.log();
        }
        panic!("slotgate-proxy did not start: {last_log}");
    }

    fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// A redis-rs connection (a plain, non-cluster client).
    pub fn conn(&self) -> redis::Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))
            .and_then(|c| c.get_connection())
            .expect("redis-rs connect to the proxy")
    }

    /// A raw socket for protocol-level tests.
    pub fn raw(&self) -> RawConn {
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to the proxy");
        s.set_read_timeout(Some(Duration::from_secs(5))).ok();
        RawConn(s)
    }

    /// Process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the proxy printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("proxy.log")).unwrap_or_default()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// True when something on `port` answers a PING (`+PONG`, or `-NOAUTH`) within half a second.
fn ping(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let mut buf = [0u8; 16];
    let deadline = Instant::now() + Duration::from_millis(500);
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut got = Vec::new();
    while Instant::now() < deadline && got.len() < 7 {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    // A proxy whose default user needs a password answers too, just not with PONG.
    got.starts_with(b"+PONG") || got.starts_with(b"-NOAUTH")
}
