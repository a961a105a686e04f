//! nodes.conf in Redis's shape: one CLUSTER NODES line per node plus
//! `vars currentEpoch N lastVoteEpoch M`. Written atomically (temp file, fsync, rename) on
//! every configuration change; loaded at start so a restarted node keeps its identity.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{flag, Cluster, Node, NodeId, SLOTS};
use crate::keyspace::now_ms;

/// The file's whole text.
pub fn render(cl: &Cluster) -> String {
    let mut text = cl.nodes_text(false);
    text.push_str(&format!("vars currentEpoch {} lastVoteEpoch {}\n", cl.current_epoch, cl.last_vote_epoch));
    text
}

/// Replaces the file atomically: a crash leaves either the old or the new file, never half.
pub fn save(cl: &Cluster) -> std::io::Result<()> {
    let path = &cl.conf_path;
    let tmp = path.with_file_name(format!(
        "{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("nodes.conf"),
        std::process::id()
    ));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(render(cl).as_bytes())?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

fn corrupted(line: &str) -> String {
    format!("Unrecoverable error: corrupted cluster config file \"{line}\".")
}

fn parse_flags(s: &str) -> Result<u16, ()> {
    let mut flags = 0;
    for f in s.split(',') {
        flags |= match f {
            "myself" => flag::MYSELF,
            "master" => flag::MASTER,
            "slave" => flag::SLAVE,
            "fail?" => flag::PFAIL,
            "fail" => flag::FAIL,
            "handshake" => flag::HANDSHAKE,
            "noaddr" => flag::NOADDR,
            "nofailover" => flag::NOFAILOVER,
            "noflags" => 0,
            _ => return Err(()),
        };
    }
    Ok(flags)
}

/// `ip:port@cport[,hostname]`.
fn parse_addr(s: &str) -> Option<(String, u16, u16, String)> {
    let (s, hostname) = s.split_once(',').unwrap_or((s, ""));
    let (hostport, cport) = s.split_once('@')?;
    let (ip, port) = hostport.rsplit_once(':')?;
    Some((ip.to_string(), port.parse().ok()?, cport.parse().ok()?, hostname.to_string()))
}

fn parse_slot(s: &str) -> Option<u16> {
    s.parse::<u16>().ok().filter(|s| (*s as usize) < SLOTS)
}

/// Loads the file: `Ok(None)` when it does not exist yet (a fresh node).
pub fn load(path: &Path, node_timeout: i64) -> Result<Option<Cluster>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("Unable to read the cluster config file {}: {e}", path.display())),
    };
    if text.trim().is_empty() {
        return Ok(None);
    }
    let mut cl = Cluster::new(PathBuf::from(path), node_timeout, String::new(), 0, 0);
    cl.nodes.clear();
    let mut myself: Option<NodeId> = None;
    let mut slot_claims: Vec<(u16, NodeId)> = Vec::new();
    let now = now_ms();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let fields: Vec<&str> = line.split(' ').collect();
        if fields[0] == "vars" {
            let mut it = fields[1..].chunks(2);
            for kv in it.by_ref() {
                let [k, v] = kv else { return Err(corrupted(line)) };
                let v: u64 = v.parse().map_err(|_| corrupted(line))?;
                match *k {
                    "currentEpoch" => cl.current_epoch = v,
                    "lastVoteEpoch" => cl.last_vote_epoch = v,
                    _ => {}
                }
            }
            continue;
        }
        if fields.len() < 8 || !super::valid_id(fields[0].as_bytes()) {
            return Err(corrupted(line));
        }
        let id: NodeId = fields[0].into();
        let (ip, port, cport, hostname) = parse_addr(fields[1]).ok_or_else(|| corrupted(line))?;
        let flags = parse_flags(fields[2]).map_err(|_| corrupted(line))?;
        let mut node = Node::new(id.clone(), ip, port, cport, flags & !flag::PFAIL);
        node.hostname = hostname;
        if fields[3] != "-" {
            if !super::valid_id(fields[3].as_bytes()) {
                return Err(corrupted(line));
            }
            node.master = Some(fields[3].into());
        }
        node.config_epoch = fields[6].parse().map_err(|_| corrupted(line))?;
        node.pong_received = now;
        if flags & flag::MYSELF != 0 {
            if myself.is_some() {
                return Err(corrupted(line));
            }
            myself = Some(id.clone());
        }
        for item in &fields[8..] {
            if let Some(open) = item.strip_prefix('[').and_then(|i| i.strip_suffix(']')) {
                if let Some((slot, to)) = open.split_once("->-") {
                    let slot = parse_slot(slot).ok_or_else(|| corrupted(line))?;
                    cl.migrating.insert(slot, to.into());
                } else if let Some((slot, from)) = open.split_once("-<-") {
                    let slot = parse_slot(slot).ok_or_else(|| corrupted(line))?;
                    cl.importing.insert(slot, from.into());
                } else {
                    return Err(corrupted(line));
                }
                continue;
            }
            let (start, end) = match item.split_once('-') {
                Some((a, b)) => (parse_slot(a), parse_slot(b)),
                None => (parse_slot(item), parse_slot(item)),
            };
            let (Some(start), Some(end)) = (start, end) else { return Err(corrupted(line)) };
            if start > end {
                return Err(corrupted(line));
            }
            slot_claims.extend((start..=end).map(|s| (s, id.clone())));
        }
        cl.nodes.insert(id, node);
    }
    let Some(myself) = myself else {
        return Err(format!("Unrecoverable error: no 'myself' node in {}", path.display()));
    };
    cl.myself = myself;
    for (slot, owner) in slot_claims {
        cl.slots[slot as usize] = Some(owner);
    }
    cl.todo_save = false;
    Ok(Some(cl))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let dir = std::env::temp_dir().join(format!("slotgate-nodes-conf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("nodes.conf");
        let mut cl = Cluster::new(path.clone(), 5000, "127.0.0.1".into(), 7000, 17000);
        let other: NodeId = "b".repeat(40).into();
        let mut node = Node::new(other.clone(), "127.0.0.1".into(), 7001, 17001, flag::MASTER);
        node.hostname = "node-1.slotgate".into();
        cl.add_node(node);
        for s in 0..100 {
            cl.slots[s] = Some(cl.myself.clone());
        }
        cl.slots[200] = Some(other.clone());
        cl.migrating.insert(5, other.clone());
        cl.current_epoch = 9;
        cl.me_mut().config_epoch = 4;
        save(&cl).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(" myself,master - 0 0 4 connected 0-99 [5->-bbbb"), "{text}");
        assert!(text.ends_with("vars currentEpoch 9 lastVoteEpoch 0\n"));
        assert!(text.contains(" 127.0.0.1:7001@17001,node-1.slotgate master "), "{text}");
        let loaded = load(&path, 5000).unwrap().unwrap();
        assert_eq!(loaded.myself, cl.myself);
        assert_eq!(loaded.slots, cl.slots);
        assert_eq!(loaded.migrating.get(&5), Some(&other));
        assert_eq!(loaded.current_epoch, 9);
        assert_eq!(loaded.me().config_epoch, 4);
        assert_eq!(loaded.nodes[&other].hostname, "node-1.slotgate");
        assert_eq!(loaded.me().hostname, "");
        std::fs::write(&path, "garbage line\n").unwrap();
        assert!(load(&path, 5000).err().unwrap().contains("corrupted cluster config file"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
