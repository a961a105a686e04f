//! The admin port: the status page at `/`, its model at `/cluster` (JSON), and Prometheus
//! metrics at `/metrics`: the proxy's counters, the figures of
//! `metrics` per command and per backend node, and the topology the proxy sees.

use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::metrics::header;
use crate::state::Proxy;

/// The whole Prometheus text: the proxy's counters, per command, per backend node, topology.
fn render(proxy: &Proxy) -> String {
    let mut out = String::new();
    let counters: [(&str, &str, &str, u64); 7] = [
        ("slotgate_proxy_connected_clients", "gauge", "Clients connected now", proxy.clients.load(Relaxed)),
        ("slotgate_proxy_redirects_total", "counter", "MOVED/ASK redirects followed", proxy.redirects.load(Relaxed)),
        (
            "slotgate_proxy_write_ack_failures_total",
            "counter",
            "batches of writes whose replicas did not confirm them in time (--write-ack)",
            proxy.write_ack_failures.load(Relaxed),
        ),
        (
            "slotgate_proxy_retries_total",
            "counter",
            "Requests sent again during failovers",
            proxy.retries.load(Relaxed),
        ),
        (
            "slotgate_proxy_backend_errors_total",
            "counter",
            "Connections to nodes lost with requests in flight",
            proxy.backend_errors.load(Relaxed),
        ),
        (
            "slotgate_topology_changes_total",
            "counter",
            "Topology refreshes that found a different slot map",
            proxy.topo.changes.load(Relaxed),
        ),
        (
            "slotgate_topology_failovers_total",
            "counter",
            "Failovers observed: a master's slots taken over by its replica",
            proxy.topo.failovers.load(Relaxed),
        ),
    ];
    for (name, kind, help, v) in counters {
        header(&mut out, name, kind, help);
        let _ = writeln!(out, "{name} {v}");
    }
    let map = proxy.topo.snapshot();
    let replicas: usize = map.replicas.iter().map(Vec::len).sum();
    for (name, help, v) in [
        ("slotgate_topology_masters", "Masters serving slots", map.masters.len()),
        ("slotgate_topology_replicas", "Replicas of those masters", replicas),
        ("slotgate_topology_slots_covered", "Slots a master serves (of 16384)", map.covered()),
    ] {
        header(&mut out, name, "gauge", help);
        let _ = writeln!(out, "{name} {v}");
    }
    proxy.metrics.encode(&mut out);
    proxy.pools.nodes.encode(&mut out, |a| map.role_of(a));
    if let Some(report) = proxy.status.report() {
        encode_report(&report, &mut out);
    }
    out
}

/// The nodes' own figures (their INFO, refreshed every second) and the cluster's state.
fn encode_report(r: &clusterview::health::Report, out: &mut String) {
    type Get = fn(&clusterview::health::NodeReport) -> Option<i64>;
    let series: [(&str, &str, &str, Get); 11] = [
        ("slotgate_node_used_memory_bytes", "gauge", "used_memory", |n| n.used_memory.map(|v| v as i64)),
        ("slotgate_node_maxmemory_bytes", "gauge", "maxmemory (0: no limit)", |n| n.maxmemory.map(|v| v as i64)),
        ("slotgate_node_connected_clients", "gauge", "connected_clients", |n| n.connected_clients.map(|v| v as i64)),
        ("slotgate_node_ops_per_second", "gauge", "instantaneous_ops_per_sec", |n| n.ops_per_sec.map(|v| v as i64)),
        ("slotgate_node_commands_processed_total", "counter", "total_commands_processed", |n| {
            n.commands_processed.map(|v| v as i64)
        }),
        ("slotgate_node_keyspace_hits_total", "counter", "keyspace_hits", |n| n.keyspace_hits.map(|v| v as i64)),
        ("slotgate_node_keyspace_misses_total", "counter", "keyspace_misses", |n| n.keyspace_misses.map(|v| v as i64)),
        ("slotgate_node_evicted_keys_total", "counter", "evicted_keys", |n| n.evicted_keys.map(|v| v as i64)),
        ("slotgate_node_expired_keys_total", "counter", "expired_keys", |n| n.expired_keys.map(|v| v as i64)),
        ("slotgate_node_replication_offset", "gauge", "master_repl_offset or slave_repl_offset", |n| n.repl_offset),
        ("slotgate_node_replication_lag_bytes", "gauge", "Bytes a replica is behind its master", |n| n.lag),
    ];
    let shard = |n: &clusterview::health::NodeReport| -> String {
        let master = if n.role == "master" { Some(n.id.as_str()) } else { n.master_id.as_deref() };
        master.and_then(|id| r.nodes.iter().find(|m| m.id == id)).map_or(String::new(), |m| m.addr.clone())
    };
    for (name, kind, help, get) in series {
        header(out, name, kind, help);
        for n in &r.nodes {
            if let Some(v) = get(n) {
                let _ = writeln!(out, "{name}{{node=\"{}\",role=\"{}\",shard=\"{}\"}} {v}", n.addr, n.role, shard(n));
            }
        }
    }
    header(out, "slotgate_node_healthy", "gauge", "Whether the node answers and no node flags it failing");
    for n in &r.nodes {
        let _ = writeln!(
            out,
            "slotgate_node_healthy{{node=\"{}\",role=\"{}\",shard=\"{}\"}} {}",
            n.addr,
            n.role,
            shard(n),
            u8::from(n.health == "ok")
        );
    }
    let state = match r.status {
        clusterview::Status::Ok => 0,
        clusterview::Status::Degraded => 1,
        clusterview::Status::Failed => 2,
    };
    for (name, help, v) in [
        ("slotgate_cluster_status", "0 ok, 1 degraded, 2 failed (slotgate health's verdict)", state),
        ("slotgate_cluster_slots_assigned", "Slots some master serves, by the nodes' own view", r.slots_assigned),
        ("slotgate_cluster_problems", "Problems slotgate health would report", r.problems.len()),
    ] {
        header(out, name, "gauge", help);
        let _ = writeln!(out, "{name} {v}");
    }
}

/// The status page: one self-contained file (no CDN, no font), reading `/cluster` every second.
const PAGE: &str = include_str!("status.html");

/// Serves `/`, `/cluster` and `/metrics` until the process ends.
pub async fn serve(proxy: Arc<Proxy>, listener: TcpListener) {
    loop {
        let Ok((mut conn, _)) = listener.accept().await else { continue };
        let proxy = proxy.clone();
        tokio::spawn(async move {
            // The whole request head, however it was split into segments (answering after the
            // first one would reset a client still writing the rest).
            let mut buf = Vec::with_capacity(1024);
            let head = async {
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
                    match conn.read(&mut chunk).await {
                        Ok(0) | Err(_) => return false,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                true
            };
            if !matches!(tokio::time::timeout(std::time::Duration::from_secs(5), head).await, Ok(true)) {
                return;
            }
            let req = String::from_utf8_lossy(&buf);
            let path = req.split_whitespace().nth(1).unwrap_or("");
            let path = path.split('?').next().unwrap_or("");
            let (status, kind, body) = if !req.starts_with("GET ") {
                ("405 Method Not Allowed", "text/plain", "only GET\n".to_string())
            } else {
                match path {
                    "/metrics" => ("200 OK", "text/plain; version=0.0.4", render(&proxy)),
                    "/cluster" => ("200 OK", "application/json", proxy.status.json()),
                    "/" | "/index.html" => ("200 OK", "text/html; charset=utf-8", PAGE.to_string()),
                    _ => ("404 Not Found", "text/plain", "not found\n".to_string()),
                }
            };
            let resp = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nCache-Control: no-store\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = conn.write_all(resp.as_bytes()).await;
        });
    }
}
