//! The admin port: Prometheus metrics at `GET /metrics`, from the proxy's counters and the
//! per-command figures of `metrics`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::state::Proxy;

fn render(proxy: &Proxy) -> String {
    let mut registry = Registry::default();
    registry.register("slotgate_proxy_commands", "Commands served, by name", proxy.metrics.commands.clone());
    registry.register(
        "slotgate_proxy_command_latency_seconds",
        "Time to reply, by command",
        proxy.metrics.latency.clone(),
    );
    let gauge = |v: u64| {
        let g: Gauge = Gauge::default();
        g.set(v as i64);
        g
    };
    registry.register(
        "slotgate_proxy_connected_clients",
        "Clients connected now",
        gauge(proxy.clients.load(Ordering::Relaxed)),
    );
    registry.register(
        "slotgate_proxy_redirects",
        "MOVED/ASK redirects followed",
        gauge(proxy.redirects.load(Ordering::Relaxed)),
    );
    registry.register(
        "slotgate_proxy_retries",
        "Requests sent again during failovers",
        gauge(proxy.retries.load(Ordering::Relaxed)),
    );
    registry.register(
        "slotgate_proxy_backend_errors",
        "Connections to nodes lost with requests in flight",
        gauge(proxy.backend_errors.load(Ordering::Relaxed)),
    );
    let mut out = String::new();
    let _ = encode(&mut out, &registry);
    out
}

/// Serves `/metrics` until the process ends.
pub async fn serve(proxy: Arc<Proxy>, listener: TcpListener) {
    loop {
        let Ok((mut conn, _)) = listener.accept().await else { continue };
        let proxy = proxy.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            let n = match tokio::time::timeout(std::time::Duration::from_secs(5), conn.read(&mut buf)).await {
                Ok(Ok(n)) => n,
                _ => return,
            };
            let req = String::from_utf8_lossy(&buf[..n]);
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
