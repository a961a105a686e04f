//! What the proxy measures, in lock-free counters, and their Prometheus text: per command
//! (only commands seen), per backend node (connections, requests in flight, errors, reply
//! latency), and the proxy's own counters. Served by `admin` on the admin port.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

/// Upper bounds of the latency buckets: 50 µs doubling to about 1.6 s, then +Inf.
const BUCKETS: usize = 16;
const FIRST_BOUND_US: u64 = 50;

/// A latency histogram of atomic buckets (no lock on the request path).
#[derive(Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS + 1],
    sum_us: AtomicU64,
}

impl Histogram {
    /// Counts one observation of `us` microseconds.
    pub fn observe_us(&self, us: u64) {
        self.buckets[bucket_of(us)].fetch_add(1, Relaxed);
        self.sum_us.fetch_add(us, Relaxed);
    }

    fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Relaxed)).sum()
    }

    /// `<name>_bucket/_sum/_count` lines with `labels` (`key="value",...`, may be empty).
    fn encode(&self, name: &str, labels: &str, out: &mut String) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            cumulative += b.load(Relaxed);
            let le = if i == BUCKETS { "+Inf".to_string() } else { format_seconds(bound_us(i)) };
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum_us.load(Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count{{{labels}}} {cumulative}");
    }
}

fn bound_us(i: usize) -> u64 {
    FIRST_BOUND_US << i
}

/// The first bucket whose bound holds `us`.
pub fn bucket_of(us: u64) -> usize {
    if us <= FIRST_BOUND_US {
        return 0;
    }
    // ceil(log2(us / 50)), by the position of the highest bit of (us - 1) / 50.
    let q = (us - 1) / FIRST_BOUND_US;
    let i = (64 - q.leading_zeros()) as usize;
    i.min(BUCKETS)
}

fn format_seconds(us: u64) -> String {
    let s = us as f64 / 1e6;
    format!("{s}")
}

/// One command's figures.
#[derive(Default)]
struct CommandStats {
    calls: AtomicU64,
    latency: Histogram,
}

/// Everything the proxy measures per command.
pub struct Metrics {
    /// In command-table order, "other" (unknown names) last: no lookup on the request path.
    commands: Vec<CommandStats>,
}

impl Default for Metrics {
    fn default() -> Self {
        let n = protocol::command::COMMANDS.len() + 1;
        Metrics { commands: (0..n).map(|_| CommandStats::default()).collect() }
    }
}

impl Metrics {
    /// Records one command and how long its reply took.
    pub fn observe(&self, command: Option<&protocol::CommandSpec>, seconds: f64) {
        // Unknown names are folded together so a client cannot grow the series without bound.
        let i = command.and_then(protocol::command::position).unwrap_or(self.commands.len() - 1);
        let Some(c) = self.commands.get(i) else { return };
        c.calls.fetch_add(1, Relaxed);
        c.latency.observe_us((seconds * 1e6) as u64);
    }

    /// Per-command series, for the commands seen only.
    pub fn encode(&self, out: &mut String) {
        let name_of = |i: usize| protocol::command::COMMANDS.get(i).map_or("other", |c| c.name);
        let seen: Vec<(usize, &CommandStats)> =
            self.commands.iter().enumerate().filter(|(_, c)| c.calls.load(Relaxed) > 0).collect();
        header(out, "slotgate_proxy_commands_total", "counter", "Commands served, by name");
        for (i, c) in &seen {
            let _ =
                writeln!(out, "slotgate_proxy_commands_total{{command=\"{}\"}} {}", name_of(*i), c.calls.load(Relaxed));
        }
        header(out, "slotgate_proxy_command_latency_seconds", "histogram", "Time to reply, by command");
        for (i, c) in &seen {
            c.latency.encode("slotgate_proxy_command_latency_seconds", &format!("command=\"{}\"", name_of(*i)), out);
        }
    }
}

/// `# HELP` and `# TYPE` of a metric.
pub fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// One backend node's figures, shared by its connections.
#[derive(Default)]
pub struct NodeStats {
    pub connections: AtomicI64,
    pub in_flight: AtomicI64,
    /// Connections that failed to open or were lost.
    pub errors: AtomicU64,
    /// Time from writing a request to its reply.
    pub replies: Histogram,
    /// Whether the last attempt to reach the node succeeded (1), failed (0), or none yet (-1).
    pub up: AtomicI64,
}

/// Every backend node's figures, by address.
#[derive(Default, Clone)]
pub struct NodeRegistry(Arc<Mutex<HashMap<SocketAddr, Arc<NodeStats>>>>);

impl NodeRegistry {
    /// The figures of `addr`, made on first use.
    pub fn get(&self, addr: SocketAddr) -> Arc<NodeStats> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(addr).or_insert_with(|| Arc::new(NodeStats { up: AtomicI64::new(-1), ..Default::default() })).clone()
    }

    /// Every node's figures, by address.
    pub fn all(&self) -> Vec<(SocketAddr, Arc<NodeStats>)> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<_> = map.iter().map(|(a, s)| (*a, s.clone())).collect();
        v.sort_by_key(|(a, _)| *a);
        v
    }

    /// Per-node series; `role_of` names each node's role and shard (its master's address).
    pub fn encode(&self, out: &mut String, role_of: impl Fn(SocketAddr) -> (&'static str, String)) {
        let nodes = self.all();
        let labels = |a: SocketAddr| {
            let (role, shard) = role_of(a);
            format!("node=\"{a}\",role=\"{role}\",shard=\"{shard}\"")
        };
        type Get = fn(&NodeStats) -> i64;
        let gauges: [(&str, &str, &str, Get); 4] = [
            ("slotgate_backend_up", "gauge", "Whether the proxy reached the node on its last attempt", |s| {
                s.up.load(Relaxed).max(0)
            }),
            ("slotgate_backend_connections", "gauge", "Connections open to the node", |s| s.connections.load(Relaxed)),
            ("slotgate_backend_in_flight", "gauge", "Requests sent to the node and not answered yet", |s| {
                s.in_flight.load(Relaxed)
            }),
            ("slotgate_backend_errors_total", "counter", "Connections to the node that failed or were lost", |s| {
                s.errors.load(Relaxed) as i64
            }),
        ];
        for (name, kind, help, get) in gauges {
            header(out, name, kind, help);
            for (a, s) in &nodes {
                let _ = writeln!(out, "{name}{{{}}} {}", labels(*a), get(s));
            }
        }
        let name = "slotgate_backend_reply_latency_seconds";
        header(out, name, "histogram", "Time from sending a request to a node to its reply");
        for (a, s) in &nodes {
            if s.replies.count() > 0 {
                s.replies.encode(name, &labels(*a), out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_hold_their_bounds() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(50), 0);
        assert_eq!(bucket_of(51), 1);
        assert_eq!(bucket_of(100), 1);
        assert_eq!(bucket_of(101), 2);
        assert_eq!(bucket_of(bound_us(15)), 15);
        assert_eq!(bucket_of(bound_us(15) + 1), BUCKETS);
        for us in [1, 49, 50, 77, 100, 399, 400, 401, 1_000_000] {
            let i = bucket_of(us);
            assert!(us <= bound_us(i) && (i == 0 || us > bound_us(i - 1)), "{us} in {i}");
        }
    }

    #[test]
    fn only_seen_commands_are_listed() {
        let m = Metrics::default();
        m.observe(protocol::command::lookup(b"get"), 0.0001);
        m.observe(protocol::command::lookup(b"get"), 0.003);
        m.observe(None, 0.0);
        let mut out = String::new();
        m.encode(&mut out);
        assert!(out.contains("slotgate_proxy_commands_total{command=\"get\"} 2"), "{out}");
        assert!(out.contains("slotgate_proxy_commands_total{command=\"other\"} 1"), "{out}");
        assert!(!out.contains("command=\"set\""), "{out}");
        assert!(
            out.contains("slotgate_proxy_command_latency_seconds_bucket{command=\"get\",le=\"0.0001\"} 1"),
            "{out}"
        );
        assert!(out.contains("slotgate_proxy_command_latency_seconds_count{command=\"get\"} 2"), "{out}");
    }
}
