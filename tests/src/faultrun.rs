//! One fault run: a cluster of 3 masters with a replica each, every node on a host of its own
//! (`netns`), slotgate-proxy on another, clients in the root namespace writing unique keys
//! through the proxy and reading some back while one scripted fault happens; then the fault
//! heals, every key is read, and `history::check` judges what the clients were told.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::history::{check, Kind as OpKind, Op, Report};
use crate::netns::Net;
use crate::{binary, scratch_dir, wait_until, Kind};

/// The faults a run can inject into the first master (host 0), or the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// SIGKILL the master; restart it once its replica took over.
    KillMaster,
    /// SIGSTOP the master for `length`, then SIGCONT.
    StopMaster,
    /// Cut the master from the other nodes (the proxy still reaches it: its clients' side).
    PartitionMaster,
    /// Cut the master from the proxy only.
    PartitionFromProxy,
    /// The master and the proxy on one side, the other five nodes on the other.
    MinorityWithProxy,
    /// The master's links to everyone cut and restored every 500 ms.
    FlapMaster,
    /// SIGKILL every node at once and start them all again.
    RestartCluster,
    /// SIGKILL the proxy and start it again on the same host.
    KillProxy,
}

/// How clients make sure of a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ack {
    /// A plain OK.
    Plain,
    /// The client sends `WAIT 1 1000` after each write; acknowledged when it answers >= 1.
    Wait,
    /// The proxy runs with `--write-ack replicas=1,1000`.
    ProxyWriteAck,
}

#[derive(Debug, Clone)]
pub struct Scenario {
    pub server: Kind,
    pub fault: Fault,
    pub ack: Ack,
    /// `appendfsync always` (else AOF off, as Redis's default).
    pub fsync_always: bool,
    pub writers: usize,
    /// Writes before the fault, the fault's length, and the writes after it heals.
    pub before: Duration,
    pub length: Duration,
    pub after: Duration,
    pub node_timeout_ms: u64,
}

impl Scenario {
    pub fn new(server: Kind, fault: Fault, ack: Ack) -> Scenario {
        Scenario {
            server,
            fault,
            ack,
            fsync_always: false,
            writers: 8,
            before: Duration::from_secs(2),
            length: Duration::from_secs(8),
            after: Duration::from_secs(4),
            node_timeout_ms: 2000,
        }
    }
}

const NODES: usize = 6;
const PROXY_HOST: usize = NODES;

struct Hosts {
    net: Net,
    dir: PathBuf,
    server: PathBuf,
    node_args: Vec<Vec<String>>,
    children: Vec<Option<Child>>,
    proxy_args: Vec<String>,
    proxy: Option<Child>,
}

impl Hosts {
    fn start_node(&mut self, h: usize) {
        let log = self.dir.join(format!("node{h}.log"));
        self.children[h] = Some(self.net.spawn(h, &self.server, &self.node_args[h], &log));
    }

    fn start_proxy(&mut self) {
        let log = self.dir.join("proxy.log");
        self.proxy = Some(self.net.spawn(PROXY_HOST, &binary("slotgate-proxy"), &self.proxy_args, &log));
    }

    fn signal(&self, h: usize, sig: &str) {
        if let Some(c) = &self.children[h] {
            let _ = std::process::Command::new("kill").args([sig, &c.id().to_string()]).status();
        }
    }

    fn kill(child: &mut Option<Child>) {
        if let Some(mut c) = child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn cli(&self, h: usize, args: &[&str]) -> Option<String> {
        let out = std::process::Command::new("redis-cli")
            .args(["-h", &self.net.ip(h), "-p", "6379"])
            .args(args)
            .output()
            .ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    fn logs(&self) -> String {
        let mut all = String::new();
        for f in std::fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            if f.path().extension().is_some_and(|e| e == "log") {
                let text = std::fs::read_to_string(f.path()).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(15).collect();
                all.push_str(&format!(
                    "--- {}\n{}\n",
                    f.path().display(),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                ));
            }
        }
        all
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        self.net.heal();
        for h in 0..NODES {
            self.signal(h, "-CONT");
            Hosts::kill(&mut self.children[h]);
        }
        Hosts::kill(&mut self.proxy);
    }
}

/// The outcome of a run, for the report.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub scenario: Scenario,
    pub report: Report,
}

/// Runs one scenario and returns what the checker found (panics when the cluster cannot be
/// set up; a run's findings are for the caller to judge).
pub fn run(sc: &Scenario) -> Outcome {
    let net = Net::new(NODES + 1);
    let dir = scratch_dir("faults");
    let server = match sc.server {
        Kind::Redis => PathBuf::from("redis-server"),
        Kind::Slotgate => binary("slotgate-node"),
    };
    let node_args = (0..NODES)
        .map(|h| {
            let d = dir.join(format!("n{h}"));
            std::fs::create_dir_all(&d).unwrap();
            let mut a: Vec<String> = [
                "--port",
                "6379",
                "--bind",
                "0.0.0.0",
                "--protected-mode",
                "no",
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--save",
                "",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            a.extend(["--cluster-node-timeout".into(), sc.node_timeout_ms.to_string()]);
            a.extend(["--cluster-announce-ip".into(), net.ip(h), "--dir".into(), d.display().to_string()]);
            let aof = if sc.fsync_always {
                ["--appendonly", "yes", "--appendfsync", "always"]
            } else {
                ["--appendonly", "no", "--appendfsync", "everysec"]
            };
            a.extend(aof.iter().map(|s| s.to_string()));
            a
        })
        .collect();
    let mut proxy_args: Vec<String> =
        ["--listen", "0.0.0.0:6379", "--retry-deadline-ms", "15000", "--refresh-interval-ms", "1000"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    for h in 0..3 {
        proxy_args.extend(["--seed".into(), format!("{}:6379", net.ip(h))]);
    }
    if sc.ack == Ack::ProxyWriteAck {
        proxy_args.extend(["--write-ack".into(), "replicas=1,1000".into()]);
    }
    let mut hosts =
        Hosts { net, dir, server, node_args, children: (0..NODES).map(|_| None).collect(), proxy_args, proxy: None };
    for h in 0..NODES {
        hosts.start_node(h);
    }
    for h in 0..NODES {
        assert!(
            wait_until(Duration::from_secs(10), || hosts.cli(h, &["PING"]).as_deref() == Some("PONG")),
            "node {h} is not up:\n{}",
            hosts.logs()
        );
    }
    // Host i < 3 are masters, i + 3 their replicas.
    let addrs: Vec<String> = (0..NODES).map(|h| format!("{}:6379", hosts.net.ip(h))).collect();
    let out = std::process::Command::new("redis-cli")
        .args(["--cluster", "create"])
        .args(&addrs)
        .args(["--cluster-replicas", "1", "--cluster-yes"])
        .output()
        .expect("redis-cli");
    assert!(out.status.success(), "cluster create: {}", String::from_utf8_lossy(&out.stdout));
    let ok = wait_until(Duration::from_secs(60), || {
        (0..NODES).all(|h| {
            hosts.cli(h, &["CLUSTER", "INFO"]).is_some_and(|i| i.contains("cluster_state:ok"))
                && (h < 3
                    || hosts.cli(h, &["INFO", "replication"]).is_some_and(|i| i.contains("master_link_status:up")))
        })
    });
    assert!(ok, "the cluster did not form:\n{}", hosts.logs());
    let slots = crate::cluster_nodes_at(&hosts.net.ip(0), 6379).expect("CLUSTER NODES");
    hosts.start_proxy();
    let proxy_addr = format!("redis://{}:6379/", hosts.net.ip(PROXY_HOST));
    let up = wait_until(Duration::from_secs(20), || {
        redis::Client::open(proxy_addr.as_str())
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(1)))
            .and_then(|mut c| redis::cmd("SET").arg("probe").arg(1).query::<String>(&mut c))
            .is_ok()
    });
    assert!(up, "the proxy does not serve:\n{}", hosts.logs());

    let t0 = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(Mutex::new(Vec::new()));
    let writers: Vec<_> = (0..sc.writers)
        .map(|w| {
            let (stop, ops, addr, ack) = (stop.clone(), ops.clone(), proxy_addr.clone(), sc.ack);
            std::thread::spawn(move || workload(w, &addr, ack, t0, &stop, &ops))
        })
        .collect();
    std::thread::sleep(sc.before);
    inject(&mut hosts, sc);
    std::thread::sleep(sc.after);
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let span = t0.elapsed().as_secs_f64();
    // Every key as the healed cluster has it (reads through the proxy, retried until ok).
    let settled = wait_until(Duration::from_secs(60), || {
        (0..NODES).all(|h| hosts.cli(h, &["CLUSTER", "INFO"]).is_some_and(|i| i.contains("cluster_state:ok")))
    });
    assert!(settled, "the cluster did not heal:\n{}", hosts.logs());
    let ops = std::mem::take(&mut *ops.lock().unwrap());
    let mut finals = HashMap::new();
    let mut c = redis::Client::open(proxy_addr.as_str()).unwrap().get_connection().expect("proxy after the run");
    for op in &ops {
        if let OpKind::Write { .. } = op.kind {
            let v = (0..50).find_map(|_| {
                redis::cmd("GET").arg(&op.key).query::<Option<String>>(&mut c).ok().or_else(|| {
                    std::thread::sleep(Duration::from_millis(100));
                    None
                })
            });
            finals.insert(op.key.clone(), v.expect("a final read through the proxy"));
        }
    }
    let shard_of = |key: &str| {
        let slot = protocol::key_slot(key.as_bytes());
        let masters: Vec<&crate::NodeInfo> = slots.iter().filter(|n| n.is_master()).collect();
        masters.iter().position(|n| n.ranges.iter().any(|(a, b)| (*a..=*b).contains(&slot))).unwrap_or(0)
    };
    let report = check(&ops, &finals, shard_of, 3, span);
    Outcome { scenario: sc.clone(), report }
}

/// One client: unique keys, written once each; every third operation reads back an earlier
/// key of its own.
fn workload(w: usize, addr: &str, ack: Ack, t0: Instant, stop: &AtomicBool, ops: &Mutex<Vec<Op>>) {
    let connect = || {
        redis::Client::open(addr).and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2))).inspect(|c| {
            let _ = c.set_read_timeout(Some(Duration::from_secs(20)));
        })
    };
    let mut conn = connect().ok();
    let mut mine: Vec<String> = Vec::new();
    let now = || t0.elapsed().as_secs_f64();
    for i in 0..1_000_000u64 {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let Some(c) = conn.as_mut() else {
            std::thread::sleep(Duration::from_millis(50));
            conn = connect().ok();
            continue;
        };
        let invoke = now();
        // A connection that failed (reset, refused, timed out) is replaced; any error backs
        // off a little, so a dead proxy does not turn into a flood of recorded failures.
        let mut broken = false;
        let mut note = |e: redis::RedisError| {
            broken |= e.is_io_error() || e.is_connection_dropped() || e.is_timeout() || e.is_connection_refusal();
            e.to_string()
        };
        let op = if i % 3 == 2 && !mine.is_empty() {
            let key = mine[(i as usize * 7919) % mine.len()].clone();
            let seen = redis::cmd("GET").arg(&key).query::<Option<String>>(c).map_err(&mut note);
            Op { key, invoke, complete: now(), kind: OpKind::Read { seen } }
        } else {
            let key = format!("f:{w}:{i}");
            let value = format!("{w}-{i}");
            let set = redis::cmd("SET").arg(&key).arg(&value).query::<String>(c).map_err(&mut note);
            let (acked, error) = match (set, ack) {
                (Ok(_), Ack::Wait) => match redis::cmd("WAIT").arg(1).arg(1000).query::<i64>(c) {
                    Ok(n) => (n >= 1, None),
                    Err(e) => (false, Some(note(e))),
                },
                (Ok(_), _) => (true, None),
                (Err(e), _) => (false, Some(e)),
            };
            mine.push(key.clone());
            Op { key, invoke, complete: now(), kind: OpKind::Write { value, acked, error } }
        };
        let failed = matches!(&op.kind, OpKind::Write { error: Some(_), .. } | OpKind::Read { seen: Err(_) });
        ops.lock().unwrap().push(op);
        if broken {
            conn = None;
        }
        if failed {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Applies the scenario's fault to host 0 (the first master) or the proxy, and heals it.
fn inject(hosts: &mut Hosts, sc: &Scenario) {
    let others: Vec<usize> = (1..NODES).collect();
    match sc.fault {
        Fault::KillMaster => {
            Hosts::kill(&mut hosts.children[0]);
            std::thread::sleep(sc.length);
            hosts.start_node(0);
        }
        Fault::StopMaster => {
            hosts.signal(0, "-STOP");
            std::thread::sleep(sc.length);
            hosts.signal(0, "-CONT");
        }
        Fault::PartitionMaster => {
            others.iter().for_each(|&h| hosts.net.cut(0, h));
            std::thread::sleep(sc.length);
            hosts.net.heal();
        }
        Fault::PartitionFromProxy => {
            hosts.net.cut(0, PROXY_HOST);
            std::thread::sleep(sc.length);
            hosts.net.heal();
        }
        Fault::MinorityWithProxy => {
            for &h in &others {
                hosts.net.cut(0, h);
                hosts.net.cut(PROXY_HOST, h);
            }
            std::thread::sleep(sc.length);
            hosts.net.heal();
        }
        Fault::FlapMaster => {
            let end = Instant::now() + sc.length;
            while Instant::now() < end {
                others.iter().chain(&[PROXY_HOST]).for_each(|&h| hosts.net.cut(0, h));
                std::thread::sleep(Duration::from_millis(500));
                hosts.net.heal();
                std::thread::sleep(Duration::from_millis(500));
            }
        }
        Fault::RestartCluster => {
            for h in 0..NODES {
                Hosts::kill(&mut hosts.children[h]);
            }
            std::thread::sleep(Duration::from_millis(500));
            for h in 0..NODES {
                hosts.start_node(h);
            }
            std::thread::sleep(sc.length);
        }
        Fault::KillProxy => {
            Hosts::kill(&mut hosts.proxy);
            std::thread::sleep(Duration::from_millis(500));
            hosts.start_proxy();
            std::thread::sleep(sc.length);
        }
    }
}

/// One line of the report table.
pub fn table_line(o: &Outcome) -> String {
    let r = &o.report;
    let per_shard: Vec<String> = r.longest_unavailable.iter().map(|s| format!("{s:.1}")).collect();
    format!(
        "{:<9} {:<19} {:<16} {:>7} {:>7} {:>7} {:>14} {:>6} {:>9} {:>7}",
        format!("{:?}", o.scenario.server),
        format!("{:?}", o.scenario.fault),
        format!("{:?}{}", o.scenario.ack, if o.scenario.fsync_always { "+fsync" } else { "" }),
        r.ops,
        r.writes_acked,
        r.client_errors,
        per_shard.join("/"),
        r.acked_lost,
        r.unacked_present,
        r.non_linearizable
    )
}

/// The header of `table_line`.
pub const TABLE_HEADER: &str =
    "server    fault               ack                  ops   acked  errors  unavailable s   lost  unacked+  nonlin";
