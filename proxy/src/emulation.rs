//! Cluster emulation (`cluster-emulation`): the proxy answers the CLUSTER commands a cluster
//! client asks at start-up as a one-node cluster that owns every slot, so cluster-aware
//! clients (redis-cli -c, redis-rs cluster, ioredis Cluster) use it like a standalone proxy.

use std::net::SocketAddr;
use std::sync::OnceLock;

use bytes::Bytes;
use protocol::key_slot;
use protocol::Reply;

use crate::state::{Proxy, Session};

/// The emulated node's name: 40 hex digits, fixed for the life of the process.
fn node_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let seed = seed ^ u128::from(std::process::id()) << 64;
        format!("{:040x}", seed % (1u128 << 120))
    })
}

/// The address clients should use: the listen address, or the one this client reached when
/// listening on a wildcard.
fn announced(proxy: &Proxy, s: &Session) -> SocketAddr {
    let listen = proxy.cfg.listen;
    match s.local {
        Some(local) if listen.ip().is_unspecified() => SocketAddr::new(local.ip(), listen.port()),
        _ => listen,
    }
}

/// The reply to `CLUSTER <sub> ...`.
pub fn cluster(proxy: &Proxy, s: &Session, sub: &str, args: &[Bytes]) -> Bytes {
    let addr = announced(proxy, s);
    let ip = addr.ip().to_canonical().to_string();
    let mut r = Reply::new();
    if s.resp3 {
        r.proto = protocol::Proto::Resp3;
    }
    match (sub, args.len()) {
        ("slots", 2) => {
            r.array(1);
            r.array(3);
            r.int(0);
            r.int(16383);
            r.array(4);
            r.bulk(ip.as_bytes());
            r.int(addr.port() as i64);
            r.bulk(node_id().as_bytes());
            r.map(0);
        }
        ("nodes", 2) => {
            let line = format!("{} {ip}:{}@0 myself,master - 0 0 1 connected 0-16383\n", node_id(), addr.port());
            r.verbatim(line.as_bytes());
        }
        ("shards", 2) => {
            r.array(1);
            r.map(2);
            r.bulk(b"slots");
            r.array(2);
            r.int(0);
            r.int(16383);
            r.bulk(b"nodes");
            r.array(1);
            r.map(7);
            for (k, v) in [("id", node_id().to_string()), ("ip", ip.clone()), ("endpoint", ip.clone())] {
                r.bulk(k.as_bytes());
                r.bulk(v.as_bytes());
            }
            r.bulk(b"port");
            r.int(addr.port() as i64);
            r.bulk(b"role");
            r.bulk(b"master");
            r.bulk(b"replication-offset");
            r.int(0);
            r.bulk(b"health");
            r.bulk(b"online");
        }
        ("info", 2) => {
            let map = proxy.topo.snapshot();
            let state = if map.slots.iter().all(|i| *i != crate::topology::UNASSIGNED) { "ok" } else { "fail" };
            let text = format!(
                "cluster_state:{state}\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:16384\r\ncluster_slots_pfail:0\r\ncluster_slots_fail:0\r\ncluster_known_nodes:1\r\ncluster_size:1\r\ncluster_current_epoch:1\r\ncluster_my_epoch:1\r\ncluster_stats_messages_sent:0\r\ncluster_stats_messages_received:0\r\ntotal_cluster_links_buffer_limit_exceeded:0\r\n"
            );
            r.verbatim(text.as_bytes());
        }
        ("myid", 2) => r.bulk(node_id().as_bytes()),
        ("keyslot", 3) => r.int(key_slot(&args[2]) as i64),
        ("slots" | "nodes" | "shards" | "info" | "myid" | "keyslot", _) => {
            r.error(&format!("ERR wrong number of arguments for 'cluster|{sub}' command"))
        }
        _ => r.error(&format!("ERR CLUSTER {} is not supported through slotgate-proxy", sub.to_uppercase())),
    }
    r.buf.freeze()
}
