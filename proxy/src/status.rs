//! The cluster as the status page shows it: every second, each node the proxy knows of is asked
//! for CLUSTER NODES, CLUSTER INFO and INFO; `clusterview` judges the answers (the same checks
//! and shape as `slotgate health --json`), and changes between two looks become events.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use clusterview::health::{assess, NodeReport, Observation, Report};
use clusterview::nodes::{host_of, parse_info, parse_nodes, shard_order, NodeLine, View};
use protocol::Frame;
use serde::Serialize;

use crate::state::Proxy;

/// How often the page's model is refreshed.
const EVERY: Duration = Duration::from_secs(1);
/// How long one node may take to answer before it counts as unreachable.
const NODE_TIMEOUT: Duration = Duration::from_millis(800);
/// Events kept for the page.
const EVENTS: usize = 50;

/// Something that changed between two looks at the cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Unix milliseconds.
    pub at: u64,
    pub node: String,
    pub text: String,
}

/// The latest report and recent events.
#[derive(Default)]
pub struct ClusterStatus {
    report: ArcSwapOption<Report>,
    events: Mutex<VecDeque<Event>>,
}

/// What `/cluster` serves: the health report, when it was made, and recent events.
#[derive(Serialize)]
struct Model<'a> {
    #[serde(flatten)]
    report: &'a Report,
    at: u64,
    events: Vec<Event>,
}

impl ClusterStatus {
    /// The latest report, if one was made.
    pub fn report(&self) -> Option<Arc<Report>> {
        self.report.load_full()
    }

    /// `/cluster`'s JSON.
    pub fn json(&self) -> String {
        let Some(report) = self.report() else { return "{\"status\":\"unknown\",\"nodes\":[],\"events\":[]}".into() };
        let events = self.events.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect();
        serde_json::to_string(&Model { report: &report, at: now_ms(), events }).unwrap_or_default()
    }

    fn publish(&self, report: Report) {
        let at = now_ms();
        let new = match self.report() {
            Some(before) => changes(&before, &report, at),
            None => Vec::new(),
        };
        if !new.is_empty() {
            let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
            for e in new {
                tracing::info!(node = %e.node, "{}", e.text);
                events.push_front(e);
            }
            events.truncate(EVENTS);
        }
        self.report.store(Some(Arc::new(report)));
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Events between two reports: nodes failing and recovering, failovers, slots moving.
pub fn changes(before: &Report, after: &Report, at: u64) -> Vec<Event> {
    let mut out = Vec::new();
    let mut event = |node: &NodeReport, text: String| out.push(Event { at, node: node.addr.clone(), text });
    for n in &after.nodes {
        let Some(b) = before.nodes.iter().find(|b| b.id == n.id) else {
            event(n, format!("node joined as {}", n.role));
            continue;
        };
        if b.health != n.health {
            if n.health == "ok" {
                event(n, format!("recovered (was {})", b.health));
            } else {
                event(n, format!("is {} (was {})", n.health, b.health));
            }
        }
        if b.role != n.role {
            if n.role == "master" {
                event(n, "promoted to master (failover)".into());
            } else {
                event(n, "became a replica".into());
            }
        }
        if b.slot_count != n.slot_count {
            event(n, format!("serves {} slots (was {})", n.slot_count, b.slot_count));
        }
        for o in n.open_slots.iter().filter(|o| !b.open_slots.contains(o)) {
            event(n, format!("slot {} is moving", o.split(['<', '>']).next().unwrap_or(o)));
        }
    }
    for b in before.nodes.iter().filter(|b| !after.nodes.iter().any(|n| n.id == b.id)) {
        event(b, "left the cluster".into());
    }
    out
}

/// One command to one node through the proxy's pools: its text reply, or why there is none.
async fn ask(proxy: &Proxy, addr: std::net::SocketAddr, words: &[&'static [u8]]) -> Result<String, String> {
    let args: Vec<Bytes> = words.iter().map(|w| Bytes::from_static(w)).collect();
    let rx = proxy.pools.send(addr, false, 0, crate::backend::encode(&args));
    let raw = match tokio::time::timeout(NODE_TIMEOUT, rx).await {
        Ok(Ok(Ok(raw))) => raw,
        Ok(Ok(Err(crate::backend::BackendError::NotSent(e) | crate::backend::BackendError::Lost(e)))) => return Err(e),
        _ => return Err(format!("{addr}: no reply within {} ms", NODE_TIMEOUT.as_millis())),
    };
    match Frame::parse(&raw) {
        Ok(Some((Frame::Bulk(b) | Frame::Simple(b) | Frame::Verbatim(_, b), _))) => {
            Ok(String::from_utf8_lossy(&b).into_owned())
        }
        Ok(Some((Frame::Error(e), _))) => Err(format!("{addr}: {}", String::from_utf8_lossy(&e))),
        _ => Err(format!("{addr}: unexpected reply")),
    }
}

async fn observe(proxy: &Proxy, addr: std::net::SocketAddr) -> Result<Observation, String> {
    let nodes = ask(proxy, addr, &[b"CLUSTER", b"NODES"]).await?;
    let info = ask(proxy, addr, &[b"CLUSTER", b"INFO"]).await?;
    let all = ask(proxy, addr, &[b"INFO"]).await?;
    let host = addr.ip().to_string();
    let nodes = parse_nodes(&nodes, host_of(&format!("{host}:0")))?;
    Ok(Observation { view: View { nodes, info: parse_info(&info) }, info: parse_info(&all) })
}

/// Looks at the cluster every second, for as long as the proxy runs.
pub async fn run(proxy: Arc<Proxy>) {
    // Nodes seen once stay listed (a dead master must show as such).
    let mut known: Vec<NodeLine> = Vec::new();
    loop {
        let map = proxy.topo.snapshot();
        let mut addrs: Vec<std::net::SocketAddr> = map.masters.clone();
        addrs.extend(map.replicas.iter().flatten().copied());
        for n in &known {
            if let Ok(a) = n.addr.parse() {
                if !addrs.contains(&a) {
                    addrs.push(a);
                }
            }
        }
        let mut looks = Vec::with_capacity(addrs.len());
        for a in &addrs {
            looks.push((*a, observe(&proxy, *a).await));
        }
        // The node list: what the first node that answered says, plus nodes known before.
        if let Some(Ok(o)) = looks.iter().map(|(_, o)| o).find(|o| o.is_ok()) {
            let mut fresh = o.view.nodes.clone();
            for n in &known {
                if !fresh.iter().any(|f| f.id == n.id) {
                    fresh.push(n.clone());
                }
            }
            shard_order(&mut fresh);
            known = fresh;
        }
        if !known.is_empty() {
            let obs: Vec<Result<Observation, String>> = known
                .iter()
                .map(|n| {
                    let at = looks.iter().position(|(a, _)| a.to_string() == n.addr);
                    match at {
                        Some(i) => looks[i].1.clone(),
                        None => Err(format!("{}: not asked", n.addr)),
                    }
                })
                .collect();
            proxy.status.publish(assess(&known, &obs, 1 << 20));
        }
        tokio::time::sleep(EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clusterview::health::Observation;

    const NODES: &str = "\
aaaa 127.0.0.1:7000@17000 master - 0 0 1 connected 0-16383
bbbb 127.0.0.1:7001@17001 slave aaaa 0 0 1 connected
";

    fn report(text: &str, reachable: [bool; 2]) -> Report {
        let nodes = parse_nodes(text, "127.0.0.1").unwrap();
        let obs: Vec<Result<Observation, String>> = reachable
            .iter()
            .map(|&up| {
                if up {
                    Ok(Observation {
                        view: View { nodes: nodes.clone(), info: parse_info("cluster_state:ok") },
                        info: parse_info("used_memory:100"),
                    })
                } else {
                    Err("refused".into())
                }
            })
            .collect();
        assess(&nodes, &obs, 1 << 20)
    }

    #[test]
    fn failing_failover_and_recovery_are_events() {
        let before = report(NODES, [true, true]);
        assert!(changes(&before, &before, 1).is_empty());
        let dead = report(NODES, [false, true]);
        let e = changes(&before, &dead, 2);
        assert_eq!(e, vec![Event { at: 2, node: "127.0.0.1:7000".into(), text: "is unreachable (was ok)".into() }]);
        let promoted = "aaaa 127.0.0.1:7000@17000 master,fail - 0 0 1 disconnected\n\
bbbb 127.0.0.1:7001@17001 myself,master - 0 0 2 connected 0-16383\n";
        let after = report(promoted, [false, true]);
        let texts: Vec<String> =
            changes(&dead, &after, 3).into_iter().map(|e| format!("{} {}", e.node, e.text)).collect();
        assert!(texts.contains(&"127.0.0.1:7001 promoted to master (failover)".to_string()), "{texts:?}");
        assert!(texts.contains(&"127.0.0.1:7001 serves 16384 slots (was 0)".to_string()), "{texts:?}");
        assert!(texts.contains(&"127.0.0.1:7000 serves 0 slots (was 16384)".to_string()), "{texts:?}");
    }
}
