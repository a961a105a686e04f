//! The cluster's slot map: discovered from the seeds with CLUSTER SLOTS, held as one immutable
//! snapshot swapped whole (arc-swap), refreshed on MOVED, on connection errors and periodically.
//! Every request is planned from a single snapshot.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use protocol::{Frame, SLOT_COUNT};

use crate::backend::{encode, Pools};

/// Marks a slot no master serves.
pub const UNASSIGNED: u16 = u16::MAX;

/// One snapshot of the cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotMap {
    /// Master index per slot.
    pub slots: Vec<u16>,
    /// Masters, sorted by address (stable across refreshes, used by SCAN cursors).
    pub masters: Vec<SocketAddr>,
    /// Replicas per master index.
    pub replicas: Vec<Vec<SocketAddr>>,
}

impl SlotMap {
    fn empty() -> SlotMap {
        SlotMap { slots: vec![UNASSIGNED; SLOT_COUNT], masters: Vec::new(), replicas: Vec::new() }
    }

    /// The replicas of the master serving `slot`.
    pub fn replicas_of(&self, slot: u16) -> Option<&[SocketAddr]> {
        let idx = self.slots[slot as usize];
        self.replicas.get(idx as usize).map(Vec::as_slice)
    }

    /// A node's role and shard (its master's address) in this map; `unknown` when absent.
    pub fn role_of(&self, addr: SocketAddr) -> (&'static str, String) {
        if self.masters.contains(&addr) {
            return ("master", addr.to_string());
        }
        match self.replicas.iter().position(|r| r.contains(&addr)) {
            Some(i) => ("replica", self.masters[i].to_string()),
            None => ("unknown", String::new()),
        }
    }

    /// Slots some master serves.
    pub fn covered(&self) -> usize {
        self.slots.iter().filter(|&&i| i != UNASSIGNED).count()
    }

    /// Failovers seen between two snapshots: masters whose slots a replica of theirs now serves.
    pub fn failovers_since(&self, before: &SlotMap) -> usize {
        let mut seen: Vec<SocketAddr> = Vec::new();
        for slot in 0..SLOT_COUNT as u16 {
            let (Some(old), Some(new)) = (before.master_of(slot), self.master_of(slot)) else { continue };
            let promoted = before.replicas_of(slot).is_some_and(|r| r.contains(&new));
            if old != new && promoted && !seen.contains(&old) {
                seen.push(old);
            }
        }
        seen.len()
    }

    /// The master serving `slot`.
    pub fn master_of(&self, slot: u16) -> Option<SocketAddr> {
        self.slots.get(slot as usize).and_then(|&i| self.masters.get(i as usize)).copied()
    }

    /// The hostnames a CLUSTER SLOTS reply names as endpoints (`cluster-preferred-endpoint-type
    /// hostname`), to be resolved before `from_cluster_slots`.
    pub fn hostnames(frame: &Frame) -> Vec<String> {
        let Frame::Array(ranges) = frame else { return Vec::new() };
        let mut names: Vec<String> = ranges
            .iter()
            .filter_map(|r| if let Frame::Array(parts) = r { parts.get(2..) } else { None })
            .flatten()
            .filter_map(|node| match node {
                Frame::Array(parts) => match parts.first() {
                    Some(Frame::Bulk(b)) => std::str::from_utf8(b).ok().filter(|h| is_hostname(h)).map(str::to_string),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Parses a CLUSTER SLOTS reply. Endpoints are IPs, hostnames (looked up in `hosts`, else
    /// the node's `ip` metadata), or empty, `?` or null, which mean the address that was
    /// `asked`, as Redis documents for `unknown-endpoint`.
    pub fn from_cluster_slots(frame: &Frame, asked: SocketAddr, hosts: &HashMap<String, IpAddr>) -> Option<SlotMap> {
        let Frame::Array(ranges) = frame else { return None };
        let node = |f: &Frame| -> Option<SocketAddr> {
            let Frame::Array(parts) = f else { return None };
            let ip = match parts.first()? {
                Frame::Null => asked.ip(),
                Frame::Bulk(b) => match std::str::from_utf8(b).ok()? {
                    "" | "?" => asked.ip(),
                    text => match text.parse::<IpAddr>() {
                        Ok(ip) => ip,
                        Err(_) => hosts.get(text).copied().or_else(|| metadata_ip(parts.get(3)))?,
                    },
                },
                _ => return None,
            };
            let port = match parts.get(1)? {
                Frame::Integer(p) => u16::try_from(*p).ok()?,
                _ => return None,
            };
            Some(SocketAddr::new(ip, port))
        };
        let mut entries = Vec::new();
        for r in ranges {
            let Frame::Array(parts) = r else { return None };
            let (Some(Frame::Integer(start)), Some(Frame::Integer(end))) = (parts.first(), parts.get(1)) else {
                return None;
            };
            let master = node(parts.get(2)?)?;
            let replicas: Vec<SocketAddr> = parts[3..].iter().filter_map(node).collect();
            entries.push((*start as usize, *end as usize, master, replicas));
        }
        let mut map = SlotMap::empty();
        let mut masters: Vec<SocketAddr> = entries.iter().map(|e| e.2).collect();
        masters.sort();
        masters.dedup();
        map.replicas = vec![Vec::new(); masters.len()];
        for (start, end, master, replicas) in entries {
            let idx = masters.binary_search(&master).ok()?;
            for s in start..=end.min(SLOT_COUNT - 1) {
                map.slots[s] = idx as u16;
            }
            map.replicas[idx] = replicas;
        }
        map.masters = masters;
        Some(map)
    }
}

/// An endpoint that must be resolved: not an IP, not one of the "same address" markers.
fn is_hostname(s: &str) -> bool {
    !matches!(s, "" | "?") && s.parse::<IpAddr>().is_err()
}

/// The `ip` of a CLUSTER SLOTS node's metadata (a flat array in RESP2, a map in RESP3).
fn metadata_ip(meta: Option<&Frame>) -> Option<IpAddr> {
    let text = |f: &Frame| if let Frame::Bulk(b) = f { std::str::from_utf8(b).ok().map(str::to_string) } else { None };
    let pairs: Vec<(String, String)> = match meta? {
        Frame::Array(items) => items.chunks(2).filter_map(|kv| Some((text(kv.first()?)?, text(kv.get(1)?)?))).collect(),
        Frame::Map(items) => items.iter().filter_map(|(k, v)| Some((text(k)?, text(v)?))).collect(),
        _ => return None,
    };
    pairs.into_iter().find(|(k, _)| k == "ip").and_then(|(_, v)| v.parse().ok())
}

/// Resolves `host:port` (or a name alone) now, bounded: DNS that does not answer must not hold
/// a refresh up. Names are never cached here, so a node back at a new IP is found there.
pub async fn resolve(host: &str, port: u16) -> Vec<SocketAddr> {
    let lookup = tokio::net::lookup_host((host, port));
    match tokio::time::timeout(Duration::from_millis(1000), lookup).await {
        Ok(Ok(addrs)) => addrs.collect(),
        _ => Vec::new(),
    }
}

/// `-MOVED slot host:port` or `-ASK ...`: whether it is an ASK, the host and the port.
fn parse_redirect(reply: &[u8]) -> Option<(bool, &str, u16)> {
    let text = std::str::from_utf8(reply).ok()?.trim_end();
    let (ask, rest) =
        if let Some(r) = text.strip_prefix("-MOVED ") { (false, r) } else { (true, text.strip_prefix("-ASK ")?) };
    let (host, port) = rest.split_whitespace().nth(1)?.rsplit_once(':')?;
    Some((ask, host.trim_matches(['[', ']']), port.parse().ok()?))
}

/// The live topology.
pub struct Topology {
    map: ArcSwap<SlotMap>,
    /// `host:port` of the seeds, resolved at each refresh.
    seeds: Vec<String>,
    /// The addresses the last refresh resolved hostnames to (for MOVED replies naming them).
    hosts: ArcSwap<HashMap<String, IpAddr>>,
    pools: Pools,
    refreshing: AtomicBool,
    /// Redirects and refreshes, for INFO and metrics.
    pub refreshes: std::sync::atomic::AtomicU64,
    /// Refreshes that found a different map, and failovers among those changes.
    pub changes: std::sync::atomic::AtomicU64,
    pub failovers: std::sync::atomic::AtomicU64,
}

impl Topology {
    /// A topology that knows nothing yet.
    pub fn new(seeds: Vec<String>, pools: Pools) -> Arc<Topology> {
        Arc::new(Topology {
            map: ArcSwap::from_pointee(SlotMap::empty()),
            seeds,
            hosts: ArcSwap::from_pointee(HashMap::new()),
            pools,
            refreshing: AtomicBool::new(false),
            refreshes: Default::default(),
            changes: Default::default(),
            failovers: Default::default(),
        })
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<SlotMap> {
        self.map.load_full()
    }

    /// Asks the known masters, then the seeds, for CLUSTER SLOTS until one answers.
    pub async fn refresh(&self) -> Result<(), String> {
        let mut candidates: Vec<SocketAddr> = self.snapshot().masters.clone();
        for seed in &self.seeds {
            let (host, port) = seed.rsplit_once(':').unwrap_or((seed, "6379"));
            let host = host.trim_matches(['[', ']']);
            candidates.extend(resolve(host, port.parse().unwrap_or(6379)).await);
        }
        let mut last = String::from("no node to ask");
        for addr in candidates {
            let rx = self.pools.send(
                addr,
                false,
                0,
                encode(&[Bytes::from_static(b"CLUSTER"), Bytes::from_static(b"SLOTS")]),
            );
            // A frozen node must not hold the refresh up long: a healthy one answers in
            // milliseconds.
            match tokio::time::timeout(Duration::from_millis(500), rx).await {
                Ok(Ok(Ok(raw))) => match Frame::parse(&raw) {
                    Ok(Some((frame, _))) => match self.parse_resolving(&frame, addr).await {
                        Some(map) if !map.masters.is_empty() => {
                            let before = self.snapshot();
                            if *before != map {
                                let replicas: usize = map.replicas.iter().map(Vec::len).sum();
                                tracing::info!(masters = ?map.masters, replicas, from = %addr, "topology changed");
                                self.changes.fetch_add(1, Ordering::Relaxed);
                                let failovers = map.failovers_since(&before) as u64;
                                self.failovers.fetch_add(failovers, Ordering::Relaxed);
                            }
                            self.map.store(Arc::new(map));
                            self.refreshes.fetch_add(1, Ordering::Relaxed);
                            return Ok(());
                        }
                        _ => last = format!("{addr}: no slots in CLUSTER SLOTS"),
                    },
                    _ => last = format!("{addr}: unreadable CLUSTER SLOTS reply"),
                },
                Ok(Ok(Err(e))) => last = format!("{addr}: {e:?}"),
                _ => last = format!("{addr}: no reply"),
            }
        }
        tracing::warn!("topology refresh failed: {last}");
        Err(last)
    }

    /// A CLUSTER SLOTS reply as a map, its hostnames resolved now (and kept for redirects).
    async fn parse_resolving(&self, frame: &Frame, asked: SocketAddr) -> Option<SlotMap> {
        let mut hosts = HashMap::new();
        for name in SlotMap::hostnames(frame) {
            match resolve(&name, 0).await.first() {
                Some(a) => drop(hosts.insert(name, a.ip())),
                None => tracing::warn!(host = %name, "a cluster node's hostname does not resolve"),
            }
        }
        let map = SlotMap::from_cluster_slots(frame, asked, &hosts)?;
        self.hosts.store(Arc::new(hosts));
        Some(map)
    }

    /// Where a MOVED or ASK reply from `from` sends a request: an IP, a hostname the last
    /// refresh resolved (else resolved now), or the same host for an unknown endpoint.
    pub async fn redirect_target(&self, reply: &[u8], from: SocketAddr) -> Option<(bool, SocketAddr)> {
        let (ask, host, port) = parse_redirect(reply)?;
        let ip = match host {
            "" | "?" => from.ip(),
            h => match h.parse::<IpAddr>() {
                Ok(ip) => ip,
                Err(_) => match self.hosts.load().get(h) {
                    Some(ip) => *ip,
                    None => resolve(h, port).await.first()?.ip(),
                },
            },
        };
        Some((ask, SocketAddr::new(ip, port)))
    }

    /// Starts a refresh in the background unless one is running.
    pub fn refresh_soon(self: &Arc<Self>) {
        if self.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            let _ = me.refresh().await;
            me.refreshing.store(false, Ordering::Release);
        });
    }

    /// Refreshes every `every` forever.
    pub async fn refresh_periodically(self: Arc<Self>, every: Duration) {
        loop {
            tokio::time::sleep(every).await;
            let _ = self.refresh().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Frame {
        Frame::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn parses_cluster_slots() {
        let reply = Frame::Array(vec![
            Frame::Array(vec![
                Frame::Integer(0),
                Frame::Integer(8191),
                Frame::Array(vec![bulk("127.0.0.1"), Frame::Integer(7001), bulk("id1")]),
                Frame::Array(vec![bulk("127.0.0.1"), Frame::Integer(7003), bulk("id3")]),
            ]),
            Frame::Array(vec![
                Frame::Integer(8192),
                Frame::Integer(16383),
                Frame::Array(vec![bulk(""), Frame::Integer(7000), bulk("id0")]),
            ]),
        ]);
        let asked: SocketAddr = "127.0.0.1:7000".parse().unwrap();
        let map = SlotMap::from_cluster_slots(&reply, asked, &HashMap::new()).unwrap();
        assert_eq!(map.masters.len(), 2);
        assert_eq!(map.master_of(0).unwrap().port(), 7001);
        assert_eq!(map.master_of(16383).unwrap().port(), 7000);
        let idx = map.masters.iter().position(|a| a.port() == 7001).unwrap();
        assert_eq!(map.replicas[idx][0].port(), 7003);
    }
}

#[cfg(test)]
mod endpoints {
    use super::*;

    fn bulk(s: &str) -> Frame {
        Frame::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    fn node(endpoint: Frame, port: i64, meta: &[(&str, &str)]) -> Frame {
        let meta = meta.iter().flat_map(|(k, v)| [bulk(k), bulk(v)]).collect();
        Frame::Array(vec![endpoint, Frame::Integer(port), bulk("id"), Frame::Array(meta)])
    }

    /// Hostname endpoints resolve through `hosts`, else the node's `ip` metadata; `?`, empty
    /// and null endpoints mean the address asked.
    #[test]
    fn hostnames_unknown_endpoints_and_metadata() {
        let reply = Frame::Array(vec![
            Frame::Array(vec![
                Frame::Integer(0),
                Frame::Integer(99),
                node(bulk("node-0.slotgate"), 6379, &[("ip", "10.0.0.9")]),
                node(bulk("node-3.slotgate"), 6379, &[("ip", "10.0.0.3")]),
            ]),
            Frame::Array(vec![Frame::Integer(100), Frame::Integer(199), node(Frame::Null, 7001, &[])]),
            Frame::Array(vec![Frame::Integer(200), Frame::Integer(299), node(bulk("?"), 7002, &[])]),
            Frame::Array(vec![Frame::Integer(300), Frame::Integer(16383), node(bulk(""), 7003, &[])]),
        ]);
        assert_eq!(SlotMap::hostnames(&reply), vec!["node-0.slotgate".to_string(), "node-3.slotgate".to_string()]);
        let hosts = HashMap::from([("node-0.slotgate".to_string(), "10.0.0.20".parse().unwrap())]);
        let asked: SocketAddr = "192.168.1.5:7000".parse().unwrap();
        let map = SlotMap::from_cluster_slots(&reply, asked, &hosts).unwrap();
        // Resolved now wins over the metadata, which is the fallback when DNS has no answer.
        assert_eq!(map.master_of(0), Some("10.0.0.20:6379".parse().unwrap()));
        assert_eq!(map.replicas_of(0).unwrap(), &["10.0.0.3:6379".parse::<SocketAddr>().unwrap()]);
        assert_eq!(map.master_of(100), Some("192.168.1.5:7001".parse().unwrap()));
        assert_eq!(map.master_of(200), Some("192.168.1.5:7002".parse().unwrap()));
        assert_eq!(map.master_of(300), Some("192.168.1.5:7003".parse().unwrap()));
        // A hostname with neither an answer nor metadata makes the reply unusable.
        let bare = Frame::Array(vec![Frame::Array(vec![
            Frame::Integer(0),
            Frame::Integer(16383),
            node(bulk("gone.slotgate"), 6379, &[]),
        ])]);
        assert_eq!(SlotMap::from_cluster_slots(&bare, asked, &hosts), None);
    }

    #[test]
    fn redirect_texts() {
        assert_eq!(parse_redirect(b"-MOVED 12182 node-2.slotgate:6379\r\n"), Some((false, "node-2.slotgate", 6379)));
        assert_eq!(parse_redirect(b"-ASK 5 10.0.0.1:7000\r\n"), Some((true, "10.0.0.1", 7000)));
        assert_eq!(parse_redirect(b"-MOVED 5 :7000\r\n"), Some((false, "", 7000)));
        assert_eq!(parse_redirect(b"-MOVED 5 [::1]:7000\r\n"), Some((false, "::1", 7000)));
        assert_eq!(parse_redirect(b"-ERR MOVED\r\n"), None);
        assert_eq!(parse_redirect(b"-MOVED 5 host\r\n"), None);
    }
}

#[cfg(test)]
mod real_reply {
    use super::*;

    #[test]
    fn replicas_from_a_redis_7_reply() {
        let raw = b"*1\r\n*4\r\n:0\r\n:5460\r\n*4\r\n$9\r\n127.0.0.1\r\n:7400\r\n$3\r\nabc\r\n*0\r\n*4\r\n$9\r\n127.0.0.1\r\n:7403\r\n$3\r\ndef\r\n*0\r\n";
        let (frame, _) = Frame::parse(raw).unwrap().unwrap();
        let map = SlotMap::from_cluster_slots(&frame, "127.0.0.1:7400".parse().unwrap(), &HashMap::new()).unwrap();
        assert_eq!(map.replicas_of(0).unwrap(), &["127.0.0.1:7403".parse::<SocketAddr>().unwrap()]);
    }

    #[test]
    fn roles_coverage_and_failovers() {
        let a: SocketAddr = "127.0.0.1:7000".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:7001".parse().unwrap();
        let ra: SocketAddr = "127.0.0.1:7002".parse().unwrap();
        let mut before = SlotMap::empty();
        before.masters = vec![a, b];
        before.replicas = vec![vec![ra], vec![]];
        for s in 0..8192 {
            before.slots[s] = 0;
        }
        for s in 8192..16000 {
            before.slots[s] = 1;
        }
        assert_eq!(before.covered(), 16000);
        assert_eq!(before.role_of(ra), ("replica", a.to_string()));
        assert_eq!(before.role_of(b), ("master", b.to_string()));
        // ra took over a's slots: one failover; b losing slots to a master is no failover.
        let mut after = before.clone();
        after.masters = vec![ra, b];
        after.replicas = vec![vec![], vec![]];
        assert_eq!(after.failovers_since(&before), 1);
        assert_eq!(before.failovers_since(&before), 0);
        let mut moved = before.clone();
        moved.slots[9000] = 0;
        assert_eq!(moved.failovers_since(&before), 0);
    }
}
