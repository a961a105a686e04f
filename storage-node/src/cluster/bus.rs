//! The cluster bus: a listener on the bus port for links other nodes open to us, an outbound
//! link to every known node, and the handling of each message, as Redis's cluster bus does
//! (PING/PONG with gossip, MEET, FAIL, PUBLISH, UPDATE) over our own wire format (`wire`).
//! With `tls-cluster yes` both directions speak TLS, and a link whose handshake fails is
//! dropped before anything it carries is read.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::wire::{self, Body, Gossip, Header, Message, Type};
use super::{failure, flag, Cluster, Link, Node, NodeId};
use crate::keyspace::now_ms;
use crate::server::{Server, Shared};
use crate::transport::Stream;

/// Where a message came from.
#[derive(Clone, Copy)]
pub enum Origin {
    /// A link the peer opened to us; `local` is our address on it (how we learn our own IP).
    Inbound { link: u64, peer: SocketAddr, local: SocketAddr },
    /// Our link to a node.
    Outbound { link: u64 },
}

/// The header every message starts with: who we are and what we serve.
pub fn header(cl: &Cluster) -> Header {
    let me = cl.me();
    let master = me.master.as_ref().map(|m| m.to_string());
    let served = cl.my_master().clone();
    let config_epoch = cl.nodes.get(&served).map_or(me.config_epoch, |n| n.config_epoch);
    Header {
        sender: me.id.to_string(),
        current_epoch: cl.current_epoch,
        config_epoch,
        repl_offset: me.repl_offset,
        flags: (me.flags & !(flag::MYSELF | flag::MIGRATE_TO))
            | if cl.mf_pause.is_some() { flag::MF_PAUSED } else { 0 },
        port: me.port,
        cport: me.cport,
        pport: me.pport,
        ip: cl.announce_ip.clone(),
        hostname: me.hostname.clone(),
        master,
        slots: cl.slot_bitmap(&served),
        state_ok: cl.state_ok,
    }
}

/// A PING, PONG or MEET with gossip about a few random nodes plus every node we suspect:
/// enough for failure reports to spread, bounded as the cluster grows.
pub fn ping(cl: &Cluster, kind: Type) -> Bytes {
    let candidates: Vec<&Node> =
        cl.nodes.values().filter(|n| !n.has(flag::MYSELF | flag::HANDSHAKE | flag::NOADDR) && !n.failing()).collect();
    let wanted = (cl.nodes.len() / 10).max(3).min(candidates.len());
    let mut picked: Vec<&Node> = Vec::with_capacity(wanted + 4);
    let mut tries = 0;
    while picked.len() < wanted && tries < wanted * 3 {
        tries += 1;
        let n = candidates[crate::keyspace::evict::rand() as usize % candidates.len()];
        if !picked.iter().any(|p| p.id == n.id) {
            picked.push(n);
        }
    }
    picked.extend(cl.nodes.values().filter(|n| n.failing() && !n.has(flag::MYSELF)));
    let entries = picked
        .into_iter()
        .map(|n| Gossip {
            id: n.id.to_string(),
            ip: n.ip.clone(),
            port: n.port,
            cport: n.cport,
            pport: n.pport,
            flags: n.flags,
        })
        .collect();
    wire::encode(&Message { kind, hdr: header(cl), body: Body::Gossip(entries) })
}

fn kind_index(kind: Type) -> usize {
    kind as usize
}

/// Queues a message on our link to a node (dropped when the link is down: the next PING
/// after reconnecting carries the state anyway).
pub fn send_to(cl: &mut Cluster, id: &str, kind: Type, bytes: Bytes) -> bool {
    let sent = cl.nodes.get(id).and_then(|n| n.link.as_ref()).is_some_and(|l| l.tx.send(bytes).is_ok());
    if sent {
        cl.sent[kind_index(kind)] += 1;
    }
    sent
}

/// Sends a PING to a node and starts its timer if none is running.
pub fn send_ping(cl: &mut Cluster, id: &str) {
    let bytes = ping(cl, Type::Ping);
    if send_to(cl, id, Type::Ping, bytes) {
        if let Some(n) = cl.nodes.get_mut(id) {
            if n.ping_sent == 0 {
                n.ping_sent = now_ms();
            }
        }
    }
}

/// Sends a message to every node we have a link to.
pub fn broadcast(cl: &mut Cluster, kind: Type, bytes: Bytes) {
    let ids: Vec<NodeId> =
        cl.nodes.values().filter(|n| !n.has(flag::MYSELF | flag::HANDSHAKE)).map(|n| n.id.clone()).collect();
    for id in ids {
        send_to(cl, &id, kind, bytes.clone());
    }
}

pub fn broadcast_publish(cl: &mut Cluster, channel: &[u8], message: &[u8]) {
    let body = Body::Publish { channel: Bytes::copy_from_slice(channel), message: Bytes::copy_from_slice(message) };
    let bytes = wire::encode(&Message { kind: Type::Publish, hdr: header(cl), body });
    broadcast(cl, Type::Publish, bytes);
}

pub fn broadcast_fail(cl: &mut Cluster, id: &str) {
    let bytes = wire::encode(&Message { kind: Type::Fail, hdr: header(cl), body: Body::Fail { id: id.to_string() } });
    broadcast(cl, Type::Fail, bytes);
}

/// Accepts links from other nodes.
pub async fn listen(shared: Shared, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                tokio::task::spawn_local(inbound(shared.clone(), stream, peer));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

async fn inbound(shared: Shared, tcp: TcpStream, peer: SocketAddr) {
    let _ = tcp.set_nodelay(true);
    let Ok(local) = tcp.local_addr() else { return };
    let tls = shared.borrow().cluster_tls();
    let mut stream = match tls {
        None => Stream::Plain(tcp),
        Some(tls) => match tls.accept_peer(tcp).await {
            Ok(s) => s,
            Err(e) => {
                let srv = shared.borrow();
                crate::log_verbose(&srv.config, &format!("Error accepting cluster node connection: {e} (addr={peer})"));
                return;
            }
        },
    };
    let link = {
        let mut srv = shared.borrow_mut();
        let Some(cl) = srv.cluster.as_mut() else { return };
        let id = cl.link_id();
        cl.inbound.insert(id, (None, now_ms()));
        id
    };
    let mut buf = BytesMut::with_capacity(4096);
    'conn: loop {
        match stream.read_buf(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        loop {
            let msg = match wire::decode(&mut buf) {
                Ok(Some(m)) => m,
                Ok(None) => break,
                // Not our protocol: drop the link, keep the state untouched.
                Err(_) => break 'conn,
            };
            let reply = {
                let mut srv = shared.borrow_mut();
                let reply = process(&mut srv, msg, Origin::Inbound { link, peer, local });
                failure::flush(&mut srv);
                reply
            };
            if let Some(bytes) = reply {
                if stream.write_all(&bytes).await.is_err() || stream.flush().await.is_err() {
                    break 'conn;
                }
            }
        }
    }
    if let Some(cl) = shared.borrow_mut().cluster.as_mut() {
        cl.inbound.remove(&link);
    }
}

/// Opens our link to a node (in the background); cron calls it for every node without one.
pub fn connect(shared: &Shared, cl: &mut Cluster, id: &NodeId) {
    let link = cl.link_id();
    let Some(node) = cl.nodes.get_mut(id) else { return };
    let (tx, rx) = mpsc::unbounded_channel();
    let now = now_ms();
    node.link = Some(Link { id: link, tx, ctime: now, connected: false });
    // The timer runs from the first attempt: a node that never answers is suspected in time.
    if node.ping_sent == 0 {
        node.ping_sent = now;
    }
    let (ip, cport) = (node.ip.clone(), node.cport);
    let timeout = Duration::from_millis(cl.node_timeout.max(100) as u64);
    tokio::task::spawn_local(outbound(shared.clone(), link, ip, cport, timeout, rx));
}

fn link_owner(cl: &Cluster, link: u64) -> Option<NodeId> {
    cl.nodes.values().find(|n| n.link.as_ref().is_some_and(|l| l.id == link)).map(|n| n.id.clone())
}

/// Opens a TCP (and with `tls-cluster yes`, TLS) connection to a node's bus port.
async fn dial(shared: &Shared, ip: &str, cport: u16, timeout: Duration) -> Option<Stream> {
    let tcp = match tokio::time::timeout(timeout, TcpStream::connect((ip, cport))).await {
        Ok(Ok(s)) => s,
        _ => return None,
    };
    let _ = tcp.set_nodelay(true);
    let tls = shared.borrow().cluster_tls();
    match tls {
        None => Some(Stream::Plain(tcp)),
        Some(tls) => match tls.connect(tcp, ip).await {
            Ok(s) => Some(s),
            Err(e) => {
                crate::log_verbose(&shared.borrow().config, &format!("Cluster bus link to {ip}:{cport}: {e}"));
                None
            }
        },
    }
}

async fn outbound(
    shared: Shared,
    link: u64,
    ip: String,
    cport: u16,
    timeout: Duration,
    mut rx: mpsc::UnboundedReceiver<Bytes>,
) {
    if let Some(mut stream) = dial(&shared, &ip, cport, timeout).await {
        let first = {
            let mut srv = shared.borrow_mut();
            srv.cluster.as_mut().and_then(|cl| {
                let id = link_owner(cl, link)?;
                let node = cl.nodes.get_mut(&id)?;
                let meet = node.has(flag::MEET);
                node.flags &= !flag::MEET;
                if let Some(l) = node.link.as_mut() {
                    l.connected = true;
                }
                let kind = if meet { Type::Meet } else { Type::Ping };
                cl.sent[kind_index(kind)] += 1;
                Some(ping(cl, kind))
            })
        };
        if let Some(first) = first {
            let _ = run_outbound(&shared, link, &mut stream, first, &mut rx).await;
        }
    } else {
        // Keep retrying at the cron's pace, not in a tight loop.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut srv = shared.borrow_mut();
    if let Some(cl) = srv.cluster.as_mut() {
        if let Some(id) = link_owner(cl, link) {
            if let Some(n) = cl.nodes.get_mut(&id) {
                n.link = None;
            }
        }
    }
}

async fn run_outbound(
    shared: &Shared,
    link: u64,
    stream: &mut Stream,
    first: Bytes,
    rx: &mut mpsc::UnboundedReceiver<Bytes>,
) -> std::io::Result<()> {
    stream.write_all(&first).await?;
    stream.flush().await?;
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(bytes) => {
                    stream.write_all(&bytes).await?;
                    stream.flush().await?;
                }
                // The link was dropped by cron (stale) or the node was forgotten.
                None => return Ok(()),
            },
            n = stream.read_buf(&mut buf) => {
                if n? == 0 {
                    return Ok(());
                }
                loop {
                    let msg = match wire::decode(&mut buf) {
                        Ok(Some(m)) => m,
                        Ok(None) => break,
                        Err(e) => return Err(std::io::Error::other(e)),
                    };
                    let mut srv = shared.borrow_mut();
                    process(&mut srv, msg, Origin::Outbound { link });
                    failure::flush(&mut srv);
                }
            }
        }
    }
}

/// Applies one message to the cluster view; returns the reply (a PONG to PING and MEET).
pub fn process(srv: &mut Server, msg: Message, origin: Origin) -> Option<Bytes> {
    let now = now_ms();
    let mut lost_slots = Vec::new();
    let mut publish = None;
    let reply = {
        let cl = srv.cluster.as_mut()?;
        let h = &msg.hdr;
        cl.received[kind_index(msg.kind)] += 1;
        if *h.sender == *cl.myself {
            return None;
        }
        if h.current_epoch > cl.current_epoch {
            cl.current_epoch = h.current_epoch;
            cl.todo_save = true;
        }
        if let Origin::Inbound { local, link, .. } = origin {
            // We learn our own address from the links others open to us: on a MEET, when we
            // have none, and once after a restart (a container may come back with a new IP).
            if cl.announce_ip.is_empty() && (msg.kind == Type::Meet || cl.me().ip.is_empty() || !cl.own_ip_seen) {
                let ip = local.ip().to_canonical().to_string();
                cl.own_ip_seen = true;
                // (An announced IP always wins.)
                if cl.me().ip != ip {
                    cl.me_mut().ip = ip;
                    cl.todo_save = true;
                }
            }
            if let Some(entry) = cl.inbound.get_mut(&link) {
                entry.0 = Some(h.sender.as_str().into());
            }
        }
        let known = |cl: &Cluster| cl.nodes.get(h.sender.as_str()).is_some_and(|n| !n.has(flag::HANDSHAKE));
        if msg.kind == Type::Meet && !known(cl) && !cl.blacklisted(&h.sender) {
            let ip = match origin {
                Origin::Inbound { peer, .. } if h.ip.is_empty() => peer.ip().to_canonical().to_string(),
                _ => h.ip.clone(),
            };
            let mut node = Node::new(h.sender.as_str().into(), ip, h.port, h.cport, flag::MASTER);
            node.pport = h.pport;
            node.hostname = h.hostname.clone();
            node.pong_received = now;
            cl.add_node(node);
        }
        let reply = matches!(msg.kind, Type::Ping | Type::Meet).then(|| ping(cl, Type::Pong));
        if reply.is_some() {
            cl.sent[kind_index(Type::Pong)] += 1;
        }
        if let Origin::Outbound { link } = origin {
            if let Some(owner) = link_owner(cl, link) {
                if !outbound_reply(cl, &owner, h, msg.kind, now) {
                    return reply;
                }
            }
        }
        if known(cl) {
            let peer = match origin {
                Origin::Inbound { peer, .. } => Some(peer.ip().to_canonical().to_string()),
                Origin::Outbound { .. } => None,
            };
            lost_slots = from_known_sender(cl, &msg, peer, now);
        }
        if let Body::Publish { channel, message } = msg.body {
            publish = Some((channel, message));
        }
        reply
    };
    if !lost_slots.is_empty() {
        // Another master took these slots with a newer epoch: our keys there are stale.
        for slot in lost_slots {
            let keys: Vec<Vec<u8>> = srv.db.slot_entries(slot as usize).map(|e| e.key.to_vec()).collect();
            for k in keys {
                srv.db.remove(&k);
            }
        }
    }
    if let Some((channel, message)) = publish {
        crate::commands::deliver_publish(srv, None, &channel, &message);
    }
    // A replica that just won its election (or a master demoted by an UPDATE) takes its new
    // replication role at once: the others route writes to it from our next header on.
    failure::follow_master(srv);
    reply
}

/// A reply on our own link: resolves handshakes and proves the node alive. False when the
/// link turned out to lead somewhere else and the message must be ignored.
fn outbound_reply(cl: &mut Cluster, owner: &NodeId, h: &Header, kind: Type, now: i64) -> bool {
    let handshake = cl.nodes.get(owner).is_some_and(|n| n.has(flag::HANDSHAKE));
    if handshake {
        if cl.nodes.contains_key(h.sender.as_str()) {
            // We already knew it under its real name: the handshake entry is a duplicate.
            cl.del_node(owner);
            return false;
        }
        cl.rename(owner, &h.sender);
        if let Some(n) = cl.nodes.get_mut(h.sender.as_str()) {
            n.flags = (n.flags & !flag::HANDSHAKE) | flag::MASTER;
        }
    } else if **owner != *h.sender {
        // The node at this address changed its name (CLUSTER RESET HARD): stop using it.
        if let Some(n) = cl.nodes.get_mut(owner) {
            n.flags |= flag::NOADDR;
            n.link = None;
        }
        cl.todo_save = true;
        return false;
    }
    if kind == Type::Pong {
        if let Some(n) = cl.nodes.get_mut(h.sender.as_str()) {
            n.pong_received = now;
            n.ping_sent = 0;
            if n.has(flag::PFAIL) {
                n.flags &= !flag::PFAIL;
            } else if n.has(flag::FAIL) {
                failure::clear_failure_if_needed(cl, &h.sender, now);
            }
        }
    }
    true
}

/// What a known sender's message tells us: its role, slots, epochs and its gossip. `peer` is
/// the address a link the sender opened to us comes from.
fn from_known_sender(cl: &mut Cluster, msg: &Message, peer: Option<String>, now: i64) -> Vec<u16> {
    let h = &msg.hdr;
    let sender: NodeId = cl.nodes.get_key_value(h.sender.as_str()).map(|(k, _)| k.clone()).expect("known sender");
    let mut lost = Vec::new();
    {
        let n = cl.nodes.get_mut(&sender).expect("known sender");
        if h.master.is_none() && h.config_epoch > n.config_epoch {
            n.config_epoch = h.config_epoch;
            cl.todo_save = true;
        }
        let n = cl.nodes.get_mut(&sender).expect("known sender");
        n.repl_offset = h.repl_offset;
        n.pport = h.pport;
        // A node that announces other ports now (CONFIG SET cluster-announce-port or
        // -bus-port) is shown there. A new bus port, told by a ping on a link the node opened
        // to us, drops our link to it: cron reconnects to the new port (Redis's
        // nodeUpdateAddressIfNeeded).
        if n.port != h.port {
            n.port = h.port;
            cl.todo_save = true;
        }
        if n.hostname != h.hostname {
            n.hostname = h.hostname.clone();
            cl.todo_save = true;
        }
        if let Some(peer) = peer.filter(|_| msg.kind == Type::Ping) {
            // A node that restarted elsewhere (a pod or container with a new IP) is reached at
            // its new address from now on: its announced IP, else where its link comes from.
            let ip = if h.ip.is_empty() { peer } else { h.ip.clone() };
            let cport = if h.cport != 0 { h.cport } else { n.cport };
            if (n.ip.as_str(), n.cport) != (ip.as_str(), cport) {
                (n.ip, n.cport) = (ip, cport);
                n.link = None;
                cl.todo_save = true;
            }
        }
        if (n.flags & flag::NOFAILOVER) != (h.flags & flag::NOFAILOVER) {
            n.flags ^= flag::NOFAILOVER;
        }
        let paused = h.flags & flag::MF_PAUSED != 0;
        super::failover::master_offset_seen(cl, &sender, h.repl_offset, paused);
    }
    if matches!(msg.kind, Type::Ping | Type::Pong | Type::Meet) {
        let master: Option<NodeId> = h.master.as_deref().map(Into::into);
        cl.set_role(&sender, master);
    }
    if h.master.is_none() && matches!(msg.kind, Type::Ping | Type::Pong | Type::Meet) {
        let had_slots = cl.me().is_master() && cl.slot_count(&cl.myself) > 0;
        lost = cl.update_slots_with(&sender, h.config_epoch, &h.slots);
        if !lost.is_empty() {
            super::failover::follow_if_emptied(cl, had_slots, &sender);
        }
        send_update_if_stale(cl, &sender, h);
        cl.handle_epoch_collision(&sender);
    }
    match &msg.body {
        Body::Gossip(entries) => gossip(cl, &sender, entries, now),
        Body::Fail { id } => {
            if let Some(n) = cl.nodes.get_mut(id.as_str()) {
                if !n.has(flag::MYSELF | flag::FAIL) {
                    n.flags = (n.flags & !flag::PFAIL) | flag::FAIL;
                    n.fail_time = now;
                    cl.todo_save = true;
                    cl.note(format!("FAIL message received from {sender} about {id}"));
                }
            }
        }
        Body::Update { id, config_epoch, slots } => {
            let Some(target) = cl.nodes.get_key_value(id.as_str()).map(|(k, _)| k.clone()) else { return lost };
            if cl.nodes[&target].config_epoch >= *config_epoch {
                return lost;
            }
            if let Some(n) = cl.nodes.get_mut(&target) {
                n.config_epoch = *config_epoch;
            }
            cl.set_role(&target, None);
            let had_slots = cl.me().is_master() && cl.slot_count(&cl.myself) > 0;
            lost.extend(cl.update_slots_with(&target, *config_epoch, slots));
            if !lost.is_empty() {
                super::failover::follow_if_emptied(cl, had_slots, &target);
            }
        }
        Body::AuthRequest { force } => super::failover::vote(cl, &sender, h, *force, now),
        Body::AuthAck => super::failover::count_vote(cl, &sender, h),
        Body::MfStart => super::failover::pause_for(cl, &sender, now),
        Body::Publish { .. } => {}
    }
    lost
}

/// The sender claims a slot we know another master owns with a newer epoch: tell it.
fn send_update_if_stale(cl: &mut Cluster, sender: &NodeId, h: &Header) {
    let mut newer: Option<NodeId> = None;
    for slot in 0..super::SLOTS {
        if h.slots[slot / 8] & (1 << (slot % 8)) == 0 {
            continue;
        }
        if let Some(owner) = &cl.slots[slot] {
            if owner != sender && cl.nodes.get(owner).is_some_and(|o| o.config_epoch > h.config_epoch) {
                newer = Some(owner.clone());
                break;
            }
        }
    }
    if let Some(owner) = newer {
        let body = Body::Update {
            id: owner.to_string(),
            config_epoch: cl.nodes[&owner].config_epoch,
            slots: cl.slot_bitmap(&owner),
        };
        let bytes = wire::encode(&Message { kind: Type::Update, hdr: header(cl), body });
        send_to(cl, sender, Type::Update, bytes);
    }
}

/// Gossip: failure reports from masters, and nodes we did not know yet.
fn gossip(cl: &mut Cluster, sender: &NodeId, entries: &[Gossip], now: i64) {
    let sender_is_master = cl.nodes.get(sender).is_some_and(|n| n.is_master());
    for g in entries {
        if let Some((id, _)) = cl.nodes.get_key_value(g.id.as_str()) {
            let id = id.clone();
            if id == cl.myself {
                continue;
            }
            if sender_is_master {
                if g.flags & (flag::PFAIL | flag::FAIL) != 0 {
                    failure::add_report(cl, &id, sender, now);
                    failure::mark_failing_if_needed(cl, &id, now);
                } else {
                    failure::del_report(cl, &id, sender);
                }
            }
            // A node we cannot reach that a peer reaches at another address moved there (a
            // replaced container): try the new address.
            let reachable = g.flags & (flag::NOADDR | flag::PFAIL | flag::FAIL) == 0 && !g.ip.is_empty();
            if let Some(n) = cl.nodes.get_mut(&id).filter(|n| n.failing() && reachable) {
                if (n.ip.as_str(), n.port, n.cport) != (g.ip.as_str(), g.port, g.cport) {
                    (n.ip, n.port, n.cport, n.pport) = (g.ip.clone(), g.port, g.cport, g.pport);
                    n.flags &= !flag::NOADDR;
                    n.link = None;
                    cl.todo_save = true;
                }
            }
            continue;
        }
        if g.flags & (flag::NOADDR | flag::HANDSHAKE) != 0 || g.ip.is_empty() || cl.blacklisted(&g.id) {
            continue;
        }
        let role = if g.flags & flag::SLAVE != 0 { flag::SLAVE } else { flag::MASTER };
        let mut node = Node::new(g.id.as_str().into(), g.ip.clone(), g.port, g.cport, role);
        node.pport = g.pport;
        node.pong_received = now;
        cl.add_node(node);
    }
}
