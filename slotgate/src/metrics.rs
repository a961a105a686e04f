//! `slotgate metrics`: INFO of every master (every node with `--all`), per node and summed, with
//! ops/s over an interval; the proxy's counters from its admin port with `--proxy`; Prometheus
//! text with `--prometheus`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;

use crate::client::{Conn, ConnOpts};
use crate::output::{human_bytes, Table};
use crate::topology::{self, parse_info};
use crate::{Common, Status};

#[derive(Args)]
pub struct MetricsArgs {
    #[command(flatten)]
    pub common: Common,
    /// Every node, replicas included (the sums stay over masters).
    #[arg(long)]
    pub all: bool,
    /// Seconds between the two INFO samples that give ops/s.
    #[arg(long, default_value_t = 1.0)]
    pub interval: f64,
    /// The proxy's admin address (`--admin-listen`), for its redirections, retries, errors and latency.
    #[arg(long, value_name = "HOST:PORT")]
    pub proxy: Option<String>,
    /// Prometheus text format.
    #[arg(long)]
    pub prometheus: bool,
}

/// One node's figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NodeMetrics {
    pub addr: String,
    pub id: String,
    pub role: String,
    pub master_id: Option<String>,
    pub connected_clients: u64,
    pub used_memory: u64,
    pub maxmemory: u64,
    /// used_memory as a percentage of maxmemory (None without a limit).
    pub memory_pct: Option<f64>,
    pub total_commands_processed: u64,
    pub ops_per_sec: f64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub hit_ratio: Option<f64>,
    pub evicted_keys: u64,
    pub expired_keys: u64,
    pub keys: u64,
    /// master_repl_offset (masters) or slave_repl_offset (replicas).
    pub repl_offset: Option<i64>,
    /// Masters: bytes the slowest replica is behind; replicas: bytes behind the master.
    pub repl_lag: Option<i64>,
    pub error: Option<String>,
}

/// The proxy's figures from its `/metrics`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProxyMetrics {
    pub addr: String,
    pub connected_clients: f64,
    pub commands: f64,
    pub redirects: f64,
    pub retries: f64,
    pub backend_errors: f64,
    pub latency_p50_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    pub latency_p999_ms: Option<f64>,
}

/// Sums over the masters that answered.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    pub masters: usize,
    pub connected_clients: u64,
    pub used_memory: u64,
    pub maxmemory: u64,
    pub memory_pct: Option<f64>,
    pub total_commands_processed: u64,
    pub ops_per_sec: f64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub hit_ratio: Option<f64>,
    pub evicted_keys: u64,
    pub expired_keys: u64,
    pub keys: u64,
    pub max_repl_lag: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Metrics {
    pub totals: Totals,
    pub nodes: Vec<NodeMetrics>,
    pub proxy: Option<ProxyMetrics>,
}

fn num(kv: &[(String, String)], key: &str) -> u64 {
    kv.iter().find(|(k, _)| k == key).and_then(|(_, v)| v.parse().ok()).unwrap_or(0)
}

fn ratio(hits: u64, misses: u64) -> Option<f64> {
    (hits + misses > 0).then(|| hits as f64 / (hits + misses) as f64)
}

/// Fills a node's figures from two INFO samples `secs` apart.
pub fn from_info(m: &mut NodeMetrics, first: &[(String, String)], second: &[(String, String)], secs: f64) {
    m.connected_clients = num(second, "connected_clients");
    m.used_memory = num(second, "used_memory");
    m.maxmemory = num(second, "maxmemory");
    m.memory_pct = (m.maxmemory > 0).then(|| 100.0 * m.used_memory as f64 / m.maxmemory as f64);
    m.total_commands_processed = num(second, "total_commands_processed");
    let before = num(first, "total_commands_processed");
    // The second INFO is itself a command: it is not the clients' work.
    m.ops_per_sec = (m.total_commands_processed.saturating_sub(before).saturating_sub(1)) as f64 / secs.max(1e-3);
    m.keyspace_hits = num(second, "keyspace_hits");
    m.keyspace_misses = num(second, "keyspace_misses");
    m.hit_ratio = ratio(m.keyspace_hits, m.keyspace_misses);
    m.evicted_keys = num(second, "evicted_keys");
    m.expired_keys = num(second, "expired_keys");
    // db0:keys=1,expires=0,avg_ttl=0
    m.keys = second
        .iter()
        .filter(|(k, _)| k.starts_with("db"))
        .filter_map(|(_, v)| v.split(',').find_map(|p| p.strip_prefix("keys=")).and_then(|n| n.parse::<u64>().ok()))
        .sum();
    let offset_key = if m.role == "master" { "master_repl_offset" } else { "slave_repl_offset" };
    m.repl_offset = second.iter().find(|(k, _)| k == offset_key).and_then(|(_, v)| v.parse().ok());
    m.repl_lag = if m.role == "master" {
        let own = num(second, "master_repl_offset") as i64;
        // slaveN:ip=...,port=...,state=online,offset=N,lag=0
        second
            .iter()
            .filter(|(k, _)| k.starts_with("slave") && k[5..].bytes().all(|b| b.is_ascii_digit()))
            .filter_map(|(_, v)| {
                v.split(',').find_map(|p| p.strip_prefix("offset=")).and_then(|n| n.parse::<i64>().ok())
            })
            .map(|off| (own - off).max(0))
            .max()
    } else {
        None
    };
}

/// Sums over the masters.
pub fn totals(nodes: &[NodeMetrics]) -> Totals {
    let mut t = Totals::default();
    for m in nodes.iter().filter(|m| m.role == "master" && m.error.is_none()) {
        t.masters += 1;
        t.connected_clients += m.connected_clients;
        t.used_memory += m.used_memory;
        t.maxmemory += m.maxmemory;
        t.total_commands_processed += m.total_commands_processed;
        t.ops_per_sec += m.ops_per_sec;
        t.keyspace_hits += m.keyspace_hits;
        t.keyspace_misses += m.keyspace_misses;
        t.evicted_keys += m.evicted_keys;
        t.expired_keys += m.expired_keys;
        t.keys += m.keys;
    }
    t.memory_pct = (t.maxmemory > 0).then(|| 100.0 * t.used_memory as f64 / t.maxmemory as f64);
    t.hit_ratio = ratio(t.keyspace_hits, t.keyspace_misses);
    t.max_repl_lag = nodes.iter().filter_map(|m| m.repl_lag).max();
    t
}

/// INFO twice, `interval` apart, from every master (every node when `all`).
pub fn collect(common: &Common, all: bool, interval: f64) -> Result<Vec<NodeMetrics>, String> {
    let opts = common.conn_opts()?;
    let nodes = topology::discover(&common.seeds, &opts)?;
    let chosen: Vec<_> = nodes.into_iter().filter(|n| all || (n.is_master() && n.failing() != Some("fail"))).collect();
    let mut conns: Vec<(NodeMetrics, Result<Sample, String>)> = chosen
        .iter()
        .map(|n| {
            let m = NodeMetrics {
                addr: n.addr.clone(),
                id: n.id.clone(),
                role: if n.is_master() { "master" } else { "replica" }.into(),
                master_id: n.master_id.clone(),
                ..Default::default()
            };
            (m, sample(&n.addr, &opts, None))
        })
        .collect();
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(interval.clamp(0.0, 600.0)));
    let secs = started.elapsed().as_secs_f64();
    let mut out = Vec::new();
    for (mut m, first) in conns.drain(..) {
        match first.and_then(|(c, first)| sample(&m.addr, &opts, Some(c)).map(|(_, second)| (first, second))) {
            Ok((first, second)) => from_info(&mut m, &first, &second, secs),
            Err(e) => m.error = Some(e),
        }
        out.push(m);
    }
    // A replica's lag is its master's offset minus its own (when its master was sampled too).
    let offsets: Vec<(String, i64)> =
        out.iter().filter(|m| m.role == "master").filter_map(|m| Some((m.id.clone(), m.repl_offset?))).collect();
    for m in out.iter_mut().filter(|m| m.role == "replica") {
        let master = offsets.iter().find(|(id, _)| Some(id) == m.master_id.as_ref());
        if let (Some((_, mo)), Some(own)) = (master, m.repl_offset) {
            m.repl_lag = Some((mo - own).max(0));
        }
    }
    Ok(out)
}

/// A connection and the INFO it answered.
type Sample = (Conn, Vec<(String, String)>);

fn sample(addr: &str, opts: &ConnOpts, conn: Option<Conn>) -> Result<Sample, String> {
    let mut c = match conn {
        Some(c) => c,
        None => Conn::open(addr, opts).map_err(|e| e.to_string())?,
    };
    let text = c.call_text(&["INFO", "everything"]).map_err(|e| e.to_string())?;
    Ok((c, parse_info(&text)))
}

/// GET /metrics from the proxy's admin port.
pub fn fetch_proxy(addr: &str, timeout: Duration) -> Result<ProxyMetrics, String> {
    let err = |e: std::io::Error| format!("proxy {addr}: {e}");
    let sock = std::net::ToSocketAddrs::to_socket_addrs(addr)
        .map_err(err)?
        .next()
        .ok_or(format!("proxy {addr}: no address"))?;
    let mut s = TcpStream::connect_timeout(&sock, timeout).map_err(err)?;
    s.set_read_timeout(Some(timeout)).map_err(err)?;
    // One write: a server may answer (and close) as soon as it has the request line.
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(request.as_bytes()).map_err(err)?;
    let mut body = String::new();
    s.take(64 << 20).read_to_string(&mut body).map_err(err)?;
    let Some((head, text)) = body.split_once("\r\n\r\n") else {
        return Err(format!("proxy {addr}: not an HTTP reply"));
    };
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!("proxy {addr}: {}", head.lines().next().unwrap_or("")));
    }
    Ok(parse_proxy(addr, text))
}

/// The proxy's figures from Prometheus text; counters are read with or without `_total`.
pub fn parse_proxy(addr: &str, text: &str) -> ProxyMetrics {
    let mut p = ProxyMetrics { addr: addr.to_string(), ..Default::default() };
    // (upper bound, cumulative count) summed over the commands' histograms.
    let mut buckets: Vec<(f64, f64)> = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else { continue };
        let Ok(v) = value.parse::<f64>() else { continue };
        let name = series.split('{').next().unwrap_or(series);
        let base = name.strip_suffix("_total").unwrap_or(name);
        match base {
            "slotgate_proxy_connected_clients" => p.connected_clients += v,
            "slotgate_proxy_commands" => p.commands += v,
            "slotgate_proxy_redirects" => p.redirects += v,
            "slotgate_proxy_retries" => p.retries += v,
            "slotgate_proxy_backend_errors" => p.backend_errors += v,
            "slotgate_proxy_command_latency_seconds_bucket" => {
                let le = series.split("le=\"").nth(1).and_then(|s| s.split('"').next()).unwrap_or("+Inf");
                let le = if le == "+Inf" { f64::INFINITY } else { le.parse().unwrap_or(f64::INFINITY) };
                match buckets.iter_mut().find(|(b, _)| *b == le) {
                    Some((_, c)) => *c += v,
                    None => buckets.push((le, v)),
                }
            }
            _ => {}
        }
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let q = |q: f64| quantile(&buckets, q).map(|s| s * 1000.0);
    (p.latency_p50_ms, p.latency_p99_ms, p.latency_p999_ms) = (q(0.5), q(0.99), q(0.999));
    p
}

/// A quantile from cumulative histogram buckets, interpolated inside the bucket it falls in
/// (as Prometheus's histogram_quantile does).
pub fn quantile(buckets: &[(f64, f64)], q: f64) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut prev = (0.0, 0.0);
    for &(le, count) in buckets {
        if count >= rank {
            if le.is_infinite() {
                return Some(prev.0);
            }
            let inside = count - prev.1;
            let frac = if inside > 0.0 { (rank - prev.1) / inside } else { 1.0 };
            return Some(prev.0 + (le - prev.0) * frac);
        }
        prev = (le, count);
    }
    Some(prev.0)
}

/// Prometheus text of the figures: per node (labels node, role) and the masters' sums.
pub fn prometheus(m: &Metrics) -> String {
    let mut out = String::new();
    type Series = (&'static str, &'static str, &'static str, fn(&NodeMetrics) -> f64);
    let per_node: [Series; 10] = [
        ("slotgate_node_up", "gauge", "Whether the node answered INFO", |n| f64::from(u8::from(n.error.is_none()))),
        ("slotgate_node_connected_clients", "gauge", "Clients connected", |n| n.connected_clients as f64),
        ("slotgate_node_used_memory_bytes", "gauge", "used_memory", |n| n.used_memory as f64),
        ("slotgate_node_maxmemory_bytes", "gauge", "maxmemory (0: no limit)", |n| n.maxmemory as f64),
        ("slotgate_node_commands_processed_total", "counter", "total_commands_processed", |n| {
            n.total_commands_processed as f64
        }),
        ("slotgate_node_ops_per_second", "gauge", "Commands per second over the sampling interval", |n| n.ops_per_sec),
        ("slotgate_node_keyspace_hits_total", "counter", "keyspace_hits", |n| n.keyspace_hits as f64),
        ("slotgate_node_keyspace_misses_total", "counter", "keyspace_misses", |n| n.keyspace_misses as f64),
        ("slotgate_node_evicted_keys_total", "counter", "evicted_keys", |n| n.evicted_keys as f64),
        ("slotgate_node_expired_keys_total", "counter", "expired_keys", |n| n.expired_keys as f64),
    ];
    for (name, kind, help, get) in per_node {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for n in &m.nodes {
            out.push_str(&format!("{name}{{node=\"{}\",role=\"{}\"}} {}\n", n.addr, n.role, get(n)));
        }
    }
    out.push_str("# HELP slotgate_node_replication_lag_bytes Bytes a replica is behind (masters: the slowest replica)\n# TYPE slotgate_node_replication_lag_bytes gauge\n");
    for n in m.nodes.iter().filter(|n| n.repl_lag.is_some()) {
        out.push_str(&format!(
            "slotgate_node_replication_lag_bytes{{node=\"{}\",role=\"{}\"}} {}\n",
            n.addr,
            n.role,
            n.repl_lag.unwrap_or(0)
        ));
    }
    let t = &m.totals;
    let cluster = [
        ("slotgate_cluster_masters", "gauge", t.masters as f64),
        ("slotgate_cluster_connected_clients", "gauge", t.connected_clients as f64),
        ("slotgate_cluster_used_memory_bytes", "gauge", t.used_memory as f64),
        ("slotgate_cluster_ops_per_second", "gauge", t.ops_per_sec),
        ("slotgate_cluster_keys", "gauge", t.keys as f64),
        ("slotgate_cluster_keyspace_hit_ratio", "gauge", t.hit_ratio.unwrap_or(0.0)),
    ];
    for (name, kind, v) in cluster {
        out.push_str(&format!("# TYPE {name} {kind}\n{name} {v}\n"));
    }
    if let Some(p) = &m.proxy {
        for (name, kind, v) in [
            ("slotgate_proxy_redirects_total", "counter", p.redirects),
            ("slotgate_proxy_retries_total", "counter", p.retries),
            ("slotgate_proxy_backend_errors_total", "counter", p.backend_errors),
        ] {
            out.push_str(&format!("# TYPE {name} {kind}\n{name}{{proxy=\"{}\"}} {v}\n", p.addr));
        }
    }
    out
}

fn render(m: &Metrics) -> String {
    let pct = |p: Option<f64>| p.map_or("-".to_string(), |p| format!("{p:.1}%"));
    let mut t = Table::new(&[
        "node", "role", "clients", "memory", "mem%", "ops/s", "hits", "misses", "hit%", "evicted", "expired", "keys",
        "lag",
    ]);
    for n in &m.nodes {
        if n.error.is_some() {
            // The reason goes below the table, so the columns stay readable.
            let mut row = vec![n.addr.clone(), n.role.clone()];
            row.extend(std::iter::repeat_n("-".to_string(), 11));
            t.plain(row);
            continue;
        }
        t.plain(vec![
            n.addr.clone(),
            n.role.clone(),
            n.connected_clients.to_string(),
            human_bytes(n.used_memory),
            pct(n.memory_pct),
            format!("{:.0}", n.ops_per_sec),
            n.keyspace_hits.to_string(),
            n.keyspace_misses.to_string(),
            pct(n.hit_ratio.map(|r| r * 100.0)),
            n.evicted_keys.to_string(),
            n.expired_keys.to_string(),
            n.keys.to_string(),
            n.repl_lag.map_or("-".into(), |l| l.to_string()),
        ]);
    }
    let s = &m.totals;
    t.plain(vec![
        format!("total ({} masters)", s.masters),
        String::new(),
        s.connected_clients.to_string(),
        human_bytes(s.used_memory),
        pct(s.memory_pct),
        format!("{:.0}", s.ops_per_sec),
        s.keyspace_hits.to_string(),
        s.keyspace_misses.to_string(),
        pct(s.hit_ratio.map(|r| r * 100.0)),
        s.evicted_keys.to_string(),
        s.expired_keys.to_string(),
        s.keys.to_string(),
        s.max_repl_lag.map_or("-".into(), |l| l.to_string()),
    ]);
    let mut out = t.render();
    for n in m.nodes.iter().filter(|n| n.error.is_some()) {
        out.push_str(&format!("{}\n", n.error.as_deref().unwrap_or("")));
    }
    if let Some(p) = &m.proxy {
        let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3} ms"));
        out.push_str(&format!(
            "\nproxy {}: {} clients, {} commands, {} redirects, {} retries, {} backend errors, latency p50 {} p99 {} p99.9 {}\n",
            p.addr, p.connected_clients, p.commands, p.redirects, p.retries, p.backend_errors,
            ms(p.latency_p50_ms), ms(p.latency_p99_ms), ms(p.latency_p999_ms)
        ));
    }
    out
}

/// Metrics of the cluster (and proxy) the options name.
pub fn gather(a: &MetricsArgs) -> Result<Metrics, String> {
    let nodes = collect(&a.common, a.all, a.interval)?;
    let proxy = match &a.proxy {
        Some(addr) => Some(fetch_proxy(addr, Duration::from_secs_f64(a.common.timeout))?),
        None => None,
    };
    Ok(Metrics { totals: totals(&nodes), nodes, proxy })
}

pub fn run(a: &MetricsArgs) -> Result<Status, String> {
    let m = gather(a)?;
    if a.prometheus {
        print!("{}", prometheus(&m));
    } else if a.common.json {
        println!("{}", serde_json::to_string_pretty(&m).map_err(|e| e.to_string())?);
    } else {
        print!("{}", render(&m));
    }
    Ok(if m.nodes.iter().any(|n| n.error.is_some()) { Status::Degraded } else { Status::Ok })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate() {
        let b = [(0.001, 50.0), (0.002, 99.0), (0.004, 100.0), (f64::INFINITY, 100.0)];
        assert_eq!(quantile(&b, 0.5), Some(0.001));
        assert!((quantile(&b, 0.99).unwrap() - 0.002).abs() < 1e-12);
        assert!(quantile(&[], 0.5).is_none());
    }

    #[test]
    fn proxy_text() {
        let text = "# TYPE x counter\nslotgate_proxy_redirects_total 4\nslotgate_proxy_retries 2\n\
slotgate_proxy_command_latency_seconds_bucket{command=\"get\",le=\"0.001\"} 10\n\
slotgate_proxy_command_latency_seconds_bucket{command=\"set\",le=\"0.001\"} 10\n\
slotgate_proxy_command_latency_seconds_bucket{command=\"get\",le=\"+Inf\"} 10\n\
slotgate_proxy_command_latency_seconds_bucket{command=\"set\",le=\"+Inf\"} 10\n";
        let p = parse_proxy("h:1", text);
        assert_eq!((p.redirects, p.retries), (4.0, 2.0));
        assert!((p.latency_p50_ms.unwrap() - 0.5).abs() < 1e-9);
    }

    #[test]
    fn info_figures() {
        let kv = |s: &str| parse_info(s);
        let mut m = NodeMetrics { role: "master".into(), ..Default::default() };
        let first = kv("total_commands_processed:100\n");
        let second = kv("total_commands_processed:301\nconnected_clients:3\nused_memory:50\nmaxmemory:200\nkeyspace_hits:3\nkeyspace_misses:1\ndb0:keys=7,expires=0,avg_ttl=0\nmaster_repl_offset:1000\nslave0:ip=1.2.3.4,port=1,state=online,offset=900,lag=0\n");
        from_info(&mut m, &first, &second, 2.0);
        assert_eq!(m.ops_per_sec, 100.0);
        assert_eq!(m.memory_pct, Some(25.0));
        assert_eq!(m.hit_ratio, Some(0.75));
        assert_eq!(m.keys, 7);
        assert_eq!(m.repl_lag, Some(100));
    }
}
