//! The cluster as its nodes describe it: CLUSTER NODES parsed into one record per node,
//! INFO-style text into fields, and the orderings and formats every view of it shares.

use serde::Serialize;

/// A slot left half-moved: `migrating` on its owner, `importing` on the node taking it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpenSlot {
    pub slot: u16,
    /// The other node's id.
    pub peer: String,
    pub importing: bool,
}

/// One line of CLUSTER NODES.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeLine {
    pub id: String,
    /// `host:port` clients use (the host of the seed when the node does not know its own).
    pub addr: String,
    pub flags: Vec<String>,
    pub master_id: Option<String>,
    pub config_epoch: u64,
    pub connected: bool,
    /// Inclusive ranges.
    pub slots: Vec<(u16, u16)>,
    pub open_slots: Vec<OpenSlot>,
}

impl NodeLine {
    pub fn has_flag(&self, f: &str) -> bool {
        self.flags.iter().any(|x| x == f)
    }

    pub fn is_master(&self) -> bool {
        self.has_flag("master")
    }

    pub fn is_myself(&self) -> bool {
        self.has_flag("myself")
    }

    /// `fail` or `fail?` (pfail) as seen by the node that printed the line.
    pub fn failing(&self) -> Option<&'static str> {
        if self.has_flag("fail") {
            Some("fail")
        } else if self.has_flag("fail?") {
            Some("pfail")
        } else {
            None
        }
    }

    pub fn slot_count(&self) -> usize {
        self.slots.iter().map(|&(a, b)| usize::from(b - a) + 1).sum()
    }

    pub fn host(&self) -> &str {
        host_of(&self.addr)
    }
}

/// The host part of `host:port` (IPv6 brackets removed).
pub fn host_of(addr: &str) -> &str {
    addr.rsplit_once(':').map_or(addr, |(h, _)| h).trim_matches(['[', ']'])
}

/// Parses CLUSTER NODES. `seed_host` stands in for a node that prints no address of its own.
pub fn parse_nodes(text: &str, seed_host: &str) -> Result<Vec<NodeLine>, String> {
    text.lines().filter(|l| !l.trim().is_empty()).map(|l| parse_line(l, seed_host)).collect()
}

fn parse_line(line: &str, seed_host: &str) -> Result<NodeLine, String> {
    let bad = |what: &str| format!("CLUSTER NODES line {line:?}: {what}");
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 8 {
        return Err(bad("fewer than 8 fields"));
    }
    // ip:port@cport[,hostname]
    let endpoint = f[1].split([',', '@']).next().unwrap_or("");
    let (host, port) = endpoint.rsplit_once(':').ok_or_else(|| bad("no port in the address"))?;
    port.parse::<u16>().map_err(|_| bad("bad port"))?;
    let host = if host.is_empty() { seed_host } else { host };
    let addr = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
    let mut slots = Vec::new();
    let mut open_slots = Vec::new();
    for s in &f[8..] {
        if let Some(inner) = s.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            let (slot, dir, peer) = if let Some((a, b)) = inner.split_once("->-") {
                (a, false, b)
            } else if let Some((a, b)) = inner.split_once("-<-") {
                (a, true, b)
            } else {
                return Err(bad("bad open slot"));
            };
            let slot = slot.parse().map_err(|_| bad("bad open slot number"))?;
            open_slots.push(OpenSlot { slot, peer: peer.to_string(), importing: dir });
            continue;
        }
        let (a, b) = s.split_once('-').unwrap_or((s, s));
        let (a, b): (u16, u16) = (a.parse().map_err(|_| bad("bad slot"))?, b.parse().map_err(|_| bad("bad slot"))?);
        if a > b || usize::from(b) >= protocol::SLOT_COUNT {
            return Err(bad("slot out of range"));
        }
        slots.push((a, b));
    }
    Ok(NodeLine {
        id: f[0].to_string(),
        addr,
        flags: f[2].split(',').map(str::to_string).collect(),
        master_id: (f[3] != "-").then(|| f[3].to_string()),
        config_epoch: f[6].parse().map_err(|_| bad("bad config epoch"))?,
        connected: f[7] == "connected",
        slots,
        open_slots,
    })
}

/// What one node says about the cluster.
#[derive(Debug, Clone)]
pub struct View {
    pub nodes: Vec<NodeLine>,
    pub info: Vec<(String, String)>,
}

impl View {
    /// The line the node prints about itself.
    pub fn myself(&self) -> Option<&NodeLine> {
        self.nodes.iter().find(|n| n.is_myself())
    }

    pub fn info(&self, key: &str) -> Option<&str> {
        self.info.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// `key:value` lines of INFO-style text (CLUSTER INFO, INFO), sections and comments skipped.
pub fn parse_info(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.trim_end().split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Orders nodes by shard: masters by their first slot (those without slots last), each
/// followed by its replicas; nodes whose master is unknown come last.
pub fn shard_order(nodes: &mut Vec<NodeLine>) {
    let mut masters: Vec<NodeLine> = nodes.iter().filter(|n| n.is_master()).cloned().collect();
    masters.sort_by_key(|m| (m.slots.first().map_or(u32::MAX, |r| u32::from(r.0)), m.addr.clone()));
    let mut out = Vec::with_capacity(nodes.len());
    for m in masters {
        let mut replicas: Vec<NodeLine> =
            nodes.iter().filter(|r| !r.is_master() && r.master_id.as_deref() == Some(m.id.as_str())).cloned().collect();
        replicas.sort_by(|a, b| a.addr.cmp(&b.addr));
        out.push(m);
        out.extend(replicas);
    }
    let rest: Vec<NodeLine> = nodes.iter().filter(|n| !out.iter().any(|o| o.id == n.id)).cloned().collect();
    out.extend(rest);
    *nodes = out;
}

/// The inclusive runs of slots `pick` selects, in order.
pub fn slot_runs(pick: impl Fn(usize) -> bool) -> Vec<(u16, u16)> {
    let mut out: Vec<(u16, u16)> = Vec::new();
    for s in (0..protocol::SLOT_COUNT).filter(|&s| pick(s)) {
        let s = s as u16;
        match out.last_mut() {
            Some(last) if last.1 + 1 == s => last.1 = s,
            _ => out.push((s, s)),
        }
    }
    out
}

/// Inclusive ranges as Redis prints them: `0-5460 10923`.
pub fn format_ranges(ranges: &[(u16, u16)]) -> String {
    let parts: Vec<String> =
        ranges.iter().map(|&(a, b)| if a == b { a.to_string() } else { format!("{a}-{b}") }).collect();
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODES: &str = "\
07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004,host-a slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected
67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 127.0.0.1:30002@31002 master - 0 1426238316232 2 connected 5461-10922 [10923->-e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca]
e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca :30001@31001 myself,master - 0 0 1 connected 0-5460 16000
6ec23923021cf3ffec47632106199cb7f496ce01 127.0.0.1:30005@31005 slave,fail? 67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 0 1426238316232 5 disconnected
";

    #[test]
    fn parses_every_field() {
        let n = parse_nodes(NODES, "10.0.0.9").unwrap();
        assert_eq!(n.len(), 4);
        assert_eq!(n[0].addr, "127.0.0.1:30004");
        assert_eq!(n[0].master_id.as_deref(), Some("e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca"));
        assert_eq!(n[1].slots, vec![(5461, 10922)]);
        assert_eq!(n[1].open_slots[0].slot, 10923);
        assert!(!n[1].open_slots[0].importing);
        assert_eq!(n[2].addr, "10.0.0.9:30001");
        assert!(n[2].is_myself() && n[2].is_master());
        assert_eq!(n[2].slot_count(), 5462);
        assert_eq!(n[3].failing(), Some("pfail"));
        assert!(!n[3].connected);
        assert_eq!(format_ranges(&n[2].slots), "0-5460 16000");
        let mut ordered = n.clone();
        shard_order(&mut ordered);
        let addrs: Vec<&str> = ordered.iter().map(|n| n.addr.as_str()).collect();
        assert_eq!(addrs, ["10.0.0.9:30001", "127.0.0.1:30004", "127.0.0.1:30002", "127.0.0.1:30005"]);
    }

    #[test]
    fn runs_of_slots() {
        assert_eq!(
            slot_runs(|s| s < 10 || (100..=200).contains(&s) || s == 16383),
            vec![(0, 9), (100, 200), (16383, 16383)]
        );
        assert!(slot_runs(|_| false).is_empty());
    }

    #[test]
    fn refuses_garbage() {
        assert!(parse_nodes("hello world", "h").is_err());
        assert!(parse_nodes("a 1.2.3.4:x@1 master - 0 0 1 connected", "h").is_err());
        assert!(parse_nodes("a 1.2.3.4:1@1 master - 0 0 1 connected 16384", "h").is_err());
    }

    #[test]
    fn info_lines() {
        let i = parse_info("# Server\r\nredis_version:7.0.15\r\n\r\ncluster_state:ok\r\n");
        assert_eq!(i, vec![("redis_version".into(), "7.0.15".into()), ("cluster_state".into(), "ok".into())]);
    }
}
