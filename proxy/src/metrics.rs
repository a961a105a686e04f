//! Prometheus metrics on an admin port (`GET /metrics`): per-command counts and latency
//! histograms, redirects followed, retries, backend errors and connected clients.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::state::Proxy;

/// The label of per-command series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CommandLabel {
    pub command: String,
}

/// Everything the proxy measures.
pub struct Metrics {
    pub commands: Family<CommandLabel, Counter>,
    pub latency: Family<CommandLabel, Histogram>,
    /// Handles of every known command's series, in command-table order with "other" last, made
    /// once so the hot path neither allocates a label, hashes a name nor takes the family's lock.
    handles: Vec<(Counter, Histogram)>,
}

impl Default for Metrics {
    fn default() -> Self {
        let commands: Family<CommandLabel, Counter> = Family::default();
        let latency: Family<CommandLabel, Histogram> =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.00005, 2.0, 16)));
        let names = protocol::command::COMMANDS.iter().map(|c| c.name).chain(std::iter::once("other"));
        let handles = names
            .map(|name| {
                let label = CommandLabel { command: name.to_string() };
                (commands.get_or_create(&label).clone(), latency.get_or_create(&label).clone())
            })
            .collect();
        Metrics { commands, latency, handles }
    }
}

impl Metrics {
    /// Records one command and how long its reply took.
    pub fn observe(&self, command: Option<&protocol::CommandSpec>, seconds: f64) {
        // Unknown names are folded together so a client cannot grow the series without bound.
        let i = command.and_then(protocol::command::position).unwrap_or(self.handles.len() - 1);
        let Some((count, hist)) = self.handles.get(i) else { return };
        count.inc();
        hist.observe(seconds);
    }
}

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
