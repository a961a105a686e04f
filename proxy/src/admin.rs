//! The admin port: Prometheus metrics at `GET /metrics`: the proxy's counters, the figures of
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
    let counters: [(&str, &str, &str, u64); 6] = [
        ("slotgate_proxy_connected_clients", "gauge", "Clients connected now", proxy.clients.load(Relaxed)),
        ("slotgate_proxy_redirects_total", "counter", "MOVED/ASK redirects followed", proxy.redirects.load(Relaxed)),
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
    out
}

/// Serves `/metrics` until the process ends.
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
            let (status, body) = if req.starts_with("GET /metrics") {
                ("200 OK", render(&proxy))
            } else {
                ("404 Not Found", "not found\n".to_string())
            };
            let resp = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = conn.write_all(resp.as_bytes()).await;
        });
    }
}
