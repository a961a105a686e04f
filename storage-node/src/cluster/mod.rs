//! Cluster mode: the node's view of the cluster (nodes, slot owners, epochs), kept consistent
//! by the bus (`bus`), judged by failure detection (`failure`) and persisted in nodes.conf
//! (`nodes_conf`). Everything here runs on the server's one thread, like the keyspace.

pub mod bus;
pub mod failover;
pub mod failure;
pub mod migration;
pub mod nodes_conf;
pub mod routing;
pub mod wire;

use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::keyspace::{evict, now_ms};

pub const SLOTS: usize = 16384;

/// A node's 40-character hex name, shared between the node table and the slot table.
pub type NodeId = Rc<str>;

/// Node flags, as CLUSTER NODES names them.
pub mod flag {
    pub const MYSELF: u16 = 1;
    pub const MASTER: u16 = 2;
    pub const SLAVE: u16 = 4;
    pub const PFAIL: u16 = 8;
    pub const FAIL: u16 = 16;
    pub const HANDSHAKE: u16 = 32;
    pub const NOADDR: u16 = 64;
    pub const MEET: u16 = 128;
    /// Local only: a master meant to have replicas (it had one, or took over from a master
    /// that had them), so replicas may migrate to it when it has none left.
    pub const MIGRATE_TO: u16 = 256;
    pub const NOFAILOVER: u16 = 512;
    /// Header-only: the sender paused its writes for a manual failover (its offset is final).
    pub const MF_PAUSED: u16 = 1 << 12;
}

/// The outbound bus connection to a node: messages queued here are written in order.
#[derive(Debug)]
pub struct Link {
    pub id: u64,
    pub tx: mpsc::UnboundedSender<Bytes>,
    pub ctime: i64,
    pub connected: bool,
}

/// The client port the cluster knows this node by (the TLS one under `tls-cluster`, as in
/// Redis) and the bus port bound for it: `cluster-port`, or that port + 10000.
pub fn bound_ports(config: &config::NodeConfig, port: u16, tls_port: u16) -> (u16, u16) {
    let client_port = if config.tls_cluster { tls_port } else { port };
    let cport = if config.cluster_port != 0 { config.cluster_port } else { client_port.wrapping_add(10000) };
    (client_port, cport)
}

/// What we tell other nodes and clients about ourselves: the announced addresses win over
/// the bound ones. Under `tls-cluster` the TLS port is the node's port and the plaintext one
/// its `pport`, shown to plaintext clients (Redis's deriveAnnouncedPorts). Runs at start and
/// after CONFIG SET, so a changed `cluster-announce-*` is announced at once, as in Redis.
pub fn announce(cl: &mut Cluster, config: &config::NodeConfig, port: u16, tls_port: u16) {
    let (_, cport) = bound_ports(config, port, tls_port);
    let plain = if config.cluster_announce_port != 0 { config.cluster_announce_port } else { port };
    let (announced, pport) = if config.tls_cluster {
        let tls = if config.cluster_announce_tls_port != 0 { config.cluster_announce_tls_port } else { tls_port };
        (tls, plain)
    } else {
        (plain, 0)
    };
    let cport = if config.cluster_announce_bus_port != 0 { config.cluster_announce_bus_port } else { cport };
    let me = cl.me_mut();
    let changed = (me.port, me.pport, me.cport) != (announced, pport, cport);
    (me.port, me.pport, me.cport) = (announced, pport, cport);
    if !config.cluster_announce_ip.is_empty() && cl.announce_ip != config.cluster_announce_ip {
        cl.me_mut().ip = config.cluster_announce_ip.clone();
        cl.announce_ip = config.cluster_announce_ip.clone();
        cl.todo_save = true;
    }
    if cl.me().hostname != config.cluster_announce_hostname {
        cl.me_mut().hostname = config.cluster_announce_hostname.clone();
        cl.todo_save = true;
    }
    cl.todo_save |= changed;
}

/// One node as this node sees it.
#[derive(Debug)]
pub struct Node {
    pub id: NodeId,
    pub ip: String,
    pub port: u16,
    pub cport: u16,
    /// Under `tls-cluster`, the plaintext client port (`port` is the TLS one); 0 when none.
    pub pport: u16,
    /// `cluster-announce-hostname` as the node itself announces it; empty when none.
    pub hostname: String,
    pub flags: u16,
    pub master: Option<NodeId>,
    pub config_epoch: u64,
    /// When our unanswered PING went out (0: none in flight).
    pub ping_sent: i64,
    pub pong_received: i64,
    pub fail_time: i64,
    pub ctime: i64,
    /// Masters that said this node is failing, with when they said it.
    pub fail_reports: Vec<(NodeId, i64)>,
    pub link: Option<Link>,
    pub repl_offset: u64,
    /// Since when this master has had no working replica (0: it has one, or needs none).
    pub orphaned_time: i64,
}

impl Node {
    /// What clients are told to connect to, as `cluster-preferred-endpoint-type` asks (Redis's
    /// getPreferredEndpoint): the IP, the announced hostname (`?` when the node has none), or
    /// nothing for `unknown-endpoint` (the client reuses the address it used).
    pub fn endpoint(&self, kind: config::EndpointType) -> &str {
        match kind {
            config::EndpointType::Ip => &self.ip,
            config::EndpointType::Hostname if !self.hostname.is_empty() => &self.hostname,
            config::EndpointType::Hostname => "?",
            config::EndpointType::UnknownEndpoint => "",
        }
    }

    /// The port a client is shown: under `tls-cluster`, a plaintext client gets the node's
    /// plaintext port when it has one, as in Redis 7.0.
    pub fn client_port(&self, plaintext_client: bool) -> u16 {
        if plaintext_client && self.pport != 0 {
            self.pport
        } else {
            self.port
        }
    }

    pub fn new(id: NodeId, ip: String, port: u16, cport: u16, flags: u16) -> Node {
        Node {
            id,
            ip,
            port,
            cport,
            pport: 0,
            hostname: String::new(),
            flags,
            master: None,
            config_epoch: 0,
            ping_sent: 0,
            pong_received: 0,
            fail_time: 0,
            ctime: now_ms(),
            fail_reports: Vec::new(),
            link: None,
            repl_offset: 0,
            orphaned_time: 0,
        }
    }

    pub fn has(&self, f: u16) -> bool {
        self.flags & f != 0
    }

    pub fn is_master(&self) -> bool {
        self.has(flag::MASTER)
    }

    /// Seen failing by us (PFAIL) or by the cluster (FAIL).
    pub fn failing(&self) -> bool {
        self.has(flag::PFAIL | flag::FAIL)
    }

    /// `myself,master`, `slave,fail?`, ... as CLUSTER NODES prints them.
    pub fn flag_names(&self) -> String {
        const NAMES: [(u16, &str); 8] = [
            (flag::MYSELF, "myself"),
            (flag::MASTER, "master"),
            (flag::SLAVE, "slave"),
            (flag::PFAIL, "fail?"),
            (flag::FAIL, "fail"),
            (flag::HANDSHAKE, "handshake"),
            (flag::NOADDR, "noaddr"),
            (flag::NOFAILOVER, "nofailover"),
        ];
        let names: Vec<&str> = NAMES.iter().filter(|(f, _)| self.has(*f)).map(|(_, n)| *n).collect();
        if names.is_empty() {
            "noflags".into()
        } else {
            names.join(",")
        }
    }
}

/// Messages counted per type for CLUSTER INFO.
pub const MSG_NAMES: [&str; 9] =
    ["ping", "pong", "meet", "fail", "publish", "update", "auth-req", "auth-ack", "mfstart"];

/// The whole cluster view.
pub struct Cluster {
    pub myself: NodeId,
    pub nodes: HashMap<NodeId, Node>,
    /// The owner of each slot.
    pub slots: Vec<Option<NodeId>>,
    pub migrating: HashMap<u16, NodeId>,
    pub importing: HashMap<u16, NodeId>,
    pub current_epoch: u64,
    pub last_vote_epoch: u64,
    pub state_ok: bool,
    /// Masters serving at least one slot.
    pub size: usize,
    pub sent: [u64; 9],
    pub received: [u64; 9],
    /// Nodes forgotten recently: gossip must not bring them back (CLUSTER FORGET).
    pub blacklist: HashMap<String, i64>,
    pub conf_path: PathBuf,
    /// The configuration changed: rewrite nodes.conf before replying / at the next tick.
    pub todo_save: bool,
    pub node_timeout: i64,
    pub next_link_id: u64,
    /// Inbound bus connections, for CLUSTER LINKS: link id -> (peer node if known, created).
    pub inbound: HashMap<u64, (Option<NodeId>, i64)>,
    /// `cluster-announce-ip`: sent in every header; empty lets peers use the address they see.
    pub announce_ip: String,
    /// Whether a link since start told us our own address (nodes.conf's may be stale).
    pub own_ip_seen: bool,
    /// A replica's election: when it may start, whether it asked, for which epoch, the votes.
    pub election: failover::Election,
    /// When this master last voted for a replica of each master.
    pub voted_for: HashMap<NodeId, i64>,
    /// A master pausing writes for its replica's manual failover: until when, and for whom.
    pub mf_pause: Option<(i64, NodeId)>,
    /// Why this replica last could not fail over, for the log.
    pub cant_failover: failover::CantFailover,
    /// Lines for the node's log, written out by `failure::flush`.
    pub notes: Vec<String>,
}

/// Random 40-hex-digit node names, as Redis makes them.
pub fn random_id() -> NodeId {
    let mut s = String::with_capacity(40);
    while s.len() < 40 {
        s.push_str(&format!("{:016x}", evict::rand()));
    }
    s.truncate(40);
    s.into()
}

pub fn valid_id(id: &[u8]) -> bool {
    id.len() == 40 && id.iter().all(|c| c.is_ascii_hexdigit())
}

impl Cluster {
    /// A fresh cluster of one: this node, master of nothing.
    pub fn new(conf_path: PathBuf, node_timeout: i64, ip: String, port: u16, cport: u16) -> Cluster {
        let id = random_id();
        let mut nodes = HashMap::new();
        nodes.insert(id.clone(), Node::new(id.clone(), ip, port, cport, flag::MYSELF | flag::MASTER));
        Cluster {
            myself: id,
            nodes,
            slots: vec![None; SLOTS],
            migrating: HashMap::new(),
            importing: HashMap::new(),
            current_epoch: 0,
            last_vote_epoch: 0,
            state_ok: false,
            size: 0,
            sent: [0; 9],
            received: [0; 9],
            blacklist: HashMap::new(),
            conf_path,
            todo_save: true,
            node_timeout,
            next_link_id: 1,
            inbound: HashMap::new(),
            announce_ip: String::new(),
            own_ip_seen: false,
            election: failover::Election::default(),
            voted_for: HashMap::new(),
            mf_pause: None,
            cant_failover: failover::CantFailover::default(),
            notes: Vec::new(),
        }
    }

    /// Queues a line for the node's log.
    pub fn note(&mut self, line: String) {
        self.notes.push(line);
    }

    pub fn me(&self) -> &Node {
        &self.nodes[&self.myself]
    }

    pub fn me_mut(&mut self) -> &mut Node {
        self.nodes.get_mut(&self.myself).expect("myself is always known")
    }

    /// The master whose slots this node serves (itself, or the master it replicates).
    pub fn my_master(&self) -> &NodeId {
        self.me().master.as_ref().unwrap_or(&self.myself)
    }

    pub fn owns(&self, slot: u16) -> bool {
        self.slots[slot as usize].as_deref() == Some(&*self.myself)
    }

    /// The slots a node owns, as a bitmap (the bus carries it in every header).
    pub fn slot_bitmap(&self, id: &str) -> Vec<u8> {
        let mut map = vec![0u8; SLOTS / 8];
        for (slot, owner) in self.slots.iter().enumerate() {
            if owner.as_deref() == Some(id) {
                map[slot / 8] |= 1 << (slot % 8);
            }
        }
        map
    }

    /// The owned slots of a node as `(start, end)` ranges.
    pub fn slot_ranges(&self, id: &str) -> Vec<(u16, u16)> {
        let mut ranges: Vec<(u16, u16)> = Vec::new();
        for (slot, owner) in self.slots.iter().enumerate() {
            if owner.as_deref() != Some(id) {
                continue;
            }
            let slot = slot as u16;
            match ranges.last_mut() {
                Some((_, end)) if *end + 1 == slot => *end = slot,
                _ => ranges.push((slot, slot)),
            }
        }
        ranges
    }

    pub fn slot_count(&self, id: &str) -> usize {
        self.slots.iter().filter(|o| o.as_deref() == Some(id)).count()
    }

    /// Looks a node up by its name given as bytes (from a command argument).
    pub fn node_by_name(&self, name: &[u8]) -> Option<&Node> {
        std::str::from_utf8(name).ok().and_then(|n| self.nodes.get(n))
    }

    /// Gives `slot` to `owner` (or nobody).
    pub fn assign(&mut self, slot: u16, owner: Option<NodeId>) {
        self.slots[slot as usize] = owner;
        self.todo_save = true;
    }

    /// Replicas of a master.
    pub fn replicas_of<'a>(&'a self, master: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.nodes.values().filter(move |n| n.master.as_deref() == Some(master))
    }

    /// Adds a node learnt from MEET, gossip or nodes.conf.
    pub fn add_node(&mut self, node: Node) {
        self.nodes.insert(node.id.clone(), node);
        self.todo_save = true;
    }

    /// Removes a node and every reference to it (slots, failure reports, replicas' master).
    pub fn del_node(&mut self, id: &str) {
        let Some(node) = self.nodes.remove(id) else { return };
        for owner in self.slots.iter_mut() {
            if owner.as_deref() == Some(id) {
                *owner = None;
            }
        }
        self.migrating.retain(|_, n| &**n != id);
        self.importing.retain(|_, n| &**n != id);
        for n in self.nodes.values_mut() {
            n.fail_reports.retain(|(r, _)| &**r != id);
            if n.master.as_deref() == Some(id) {
                n.master = None;
            }
        }
        drop(node);
        self.todo_save = true;
    }

    /// Renames a node met during a handshake to the name it announced.
    pub fn rename(&mut self, old: &str, new: &str) {
        if let Some(mut node) = self.nodes.remove(old) {
            let new: NodeId = new.into();
            node.id = new.clone();
            for owner in self.slots.iter_mut() {
                if owner.as_deref() == Some(old) {
                    *owner = Some(new.clone());
                }
            }
            self.nodes.insert(new, node);
            self.todo_save = true;
        }
    }

    /// Makes `id` a replica of `master` (losing any slots), or a master when `master` is None.
    pub fn set_role(&mut self, id: &str, master: Option<NodeId>) {
        let Some(node) = self.nodes.get_mut(id) else { return };
        let changed = node.master != master || node.is_master() != master.is_none();
        if !changed {
            return;
        }
        node.master = master.clone();
        if master.is_some() {
            node.flags = (node.flags & !flag::MASTER) | flag::SLAVE;
            for owner in self.slots.iter_mut() {
                if owner.as_deref() == Some(id) {
                    *owner = None;
                }
            }
        } else {
            // A promoted replica takes over a master that had replicas.
            if node.has(flag::SLAVE) && !node.has(flag::MYSELF) {
                node.flags |= flag::MIGRATE_TO;
            }
            node.flags = (node.flags & !flag::SLAVE) | flag::MASTER;
        }
        self.todo_save = true;
    }

    /// Takes a new config epoch without asking the cluster (SETSLOT NODE on the importing
    /// node, as Redis does): only if ours is not already the unique greatest.
    pub fn bump_epoch_without_consensus(&mut self) -> bool {
        let max = self.nodes.values().map(|n| n.config_epoch).max().unwrap_or(0);
        let mine = self.me().config_epoch;
        let unique = self.nodes.values().filter(|n| n.config_epoch == mine).count() == 1;
        if mine == 0 || mine != max || !unique {
            self.current_epoch += 1;
            let e = self.current_epoch;
            self.me_mut().config_epoch = e;
            self.todo_save = true;
            true
        } else {
            false
        }
    }

    /// Applies a master's claim on slots with its config epoch: a slot moves to the claimant
    /// when it is unowned or its owner's epoch is older ("last failover wins"). Returns the
    /// slots this node lost, whose keys must go.
    pub fn update_slots_with(&mut self, sender: &NodeId, sender_epoch: u64, claimed: &[u8]) -> Vec<u16> {
        let mut lost = Vec::new();
        for slot in 0..SLOTS {
            if claimed[slot / 8] & (1 << (slot % 8)) == 0 {
                continue;
            }
            let owner = &self.slots[slot];
            if owner.as_ref() == Some(sender) || self.importing.contains_key(&(slot as u16)) {
                continue;
            }
            let owner_epoch = owner.as_ref().and_then(|o| self.nodes.get(o)).map_or(0, |n| n.config_epoch);
            if owner.is_none() || owner_epoch < sender_epoch {
                if owner.as_deref() == Some(&*self.myself) {
                    lost.push(slot as u16);
                }
                self.slots[slot] = Some(sender.clone());
                self.todo_save = true;
            }
        }
        lost
    }

    /// Two masters with the same config epoch: the one with the smaller name takes a new
    /// epoch, so every slot ends up with one unambiguous owner.
    pub fn handle_epoch_collision(&mut self, sender: &str) {
        let Some(other) = self.nodes.get(sender) else { return };
        let me = self.me();
        if other.config_epoch != me.config_epoch || !other.is_master() || !me.is_master() {
            return;
        }
        if *other.id <= *self.myself {
            return;
        }
        self.current_epoch += 1;
        let e = self.current_epoch;
        self.me_mut().config_epoch = e;
        self.todo_save = true;
    }

    /// Recomputes `cluster_state` and the cluster size.
    pub fn update_state(&mut self, require_full_coverage: bool) {
        let mut ok = true;
        if require_full_coverage {
            ok = self
                .slots
                .iter()
                .all(|o| o.as_ref().and_then(|o| self.nodes.get(o)).is_some_and(|n| !n.has(flag::FAIL)));
        }
        let mut owners: Vec<&NodeId> = self.slots.iter().flatten().collect();
        owners.sort_unstable();
        owners.dedup();
        self.size = owners.len();
        let reachable = owners.iter().filter(|o| self.nodes.get(**o).is_some_and(|n| !n.failing())).count();
        // A master cut off from the majority stops serving (the documented lost-write bound).
        if self.me().is_master() && reachable < self.size / 2 + 1 {
            ok = false;
        }
        self.state_ok = ok;
    }

    /// CLUSTER NODES (and nodes.conf) line of one node, with the ports a plaintext or a TLS
    /// client is shown (nodes.conf keeps the TLS ones, as Redis does).
    pub fn node_line(&self, n: &Node, plaintext_client: bool) -> String {
        // Redis 7.0 appends the announced hostname to the address: `ip:port@cport,hostname`.
        let hostname = if n.hostname.is_empty() { String::new() } else { format!(",{}", n.hostname) };
        let mut line = format!(
            "{} {}:{}@{}{hostname} {} {} {} {} {} {}",
            n.id,
            n.ip,
            n.client_port(plaintext_client),
            n.cport,
            n.flag_names(),
            n.master.as_deref().unwrap_or("-"),
            n.ping_sent,
            if n.has(flag::MYSELF) { 0 } else { n.pong_received },
            n.config_epoch,
            if n.has(flag::MYSELF) || n.link.as_ref().is_some_and(|l| l.connected) {
                "connected"
            } else {
                "disconnected"
            },
        );
        for (start, end) in self.slot_ranges(&n.id) {
            if start == end {
                line.push_str(&format!(" {start}"));
            } else {
                line.push_str(&format!(" {start}-{end}"));
            }
        }
        if n.has(flag::MYSELF) {
            let mut open: Vec<(u16, String)> = Vec::new();
            for (slot, to) in &self.migrating {
                open.push((*slot, format!(" [{slot}->-{to}]")));
            }
            for (slot, from) in &self.importing {
                open.push((*slot, format!(" [{slot}-<-{from}]")));
            }
            open.sort();
            for (_, s) in open {
                line.push_str(&s);
            }
        }
        line
    }

    /// CLUSTER NODES: myself first is not required; Redis prints in table order.
    pub fn nodes_text(&self, plaintext_client: bool) -> String {
        let mut ids: Vec<&NodeId> = self.nodes.keys().collect();
        ids.sort();
        let mut out = String::new();
        for id in ids {
            out.push_str(&self.node_line(&self.nodes[id], plaintext_client));
            out.push('\n');
        }
        out
    }

    /// Forgets a node for a minute (gossip from others would re-add it otherwise).
    pub fn blacklist_add(&mut self, id: &str) {
        let now = now_ms();
        self.blacklist.retain(|_, until| *until > now);
        self.blacklist.insert(id.to_string(), now + 60_000);
    }

    pub fn blacklisted(&self, id: &str) -> bool {
        self.blacklist.get(id).is_some_and(|until| *until > now_ms())
    }

    /// A fresh link id.
    pub fn link_id(&mut self) -> u64 {
        self.next_link_id += 1;
        self.next_link_id
    }
}
