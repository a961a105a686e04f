//! Pub/Sub through the proxy. A subscribed client gets connections of its own: one to any
//! master for SUBSCRIBE/PSUBSCRIBE (a Redis Cluster delivers channel messages on every node)
//! and one per shard for SSUBSCRIBE (shard messages stay in their shard). Their streams merge
//! into the client's, with subscription counts rewritten to the client's own totals, as one
//! Redis would report them. When a shard channel's slot moves (its node says `sunsubscribe`
//! unasked, or answers MOVED) or its node goes away, the proxy subscribes again where the slot
//! now lives, and the client notices nothing. Keyspace notifications are subscribed on every
//! master (`mirror`).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use protocol::{key_slot, CommandDecoder, DecodeLimits, Frame};
use tokio::io::{AsyncReadExt, WriteHalf};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

mod mirror;

use crate::backend::{encode, NodeStream};
use crate::pinned::Pinned;
use crate::plan::{lower, CROSSSLOT};
use crate::state::{target_for, ClientStream, Proxy, Session};

/// What a node connection's reader reports.
enum Event {
    Frame(usize, Bytes),
    Closed(usize),
}

/// One of the client's node connections.
struct Link {
    addr: SocketAddr,
    writer: WriteHalf<NodeStream>,
    reader: JoinHandle<()>,
}

/// The client's subscriptions and the connections that hold them.
struct Subscriptions {
    links: Vec<Option<Link>>,
    /// The link for SUBSCRIBE/PSUBSCRIBE and every other command.
    global: Option<usize>,
    channels: HashSet<Bytes>,
    patterns: HashSet<Bytes>,
    /// Confirmed shard channels, by link.
    shard: HashMap<Bytes, usize>,
    /// SSUBSCRIBEs sent and not yet confirmed, by link.
    pending: HashMap<Bytes, usize>,
    /// Shard channels the client asked to leave.
    leaving: HashSet<Bytes>,
    /// Resubscriptions the client must not see confirmed (it never stopped being subscribed).
    hidden: HashSet<Bytes>,
    /// Shard channels waiting for their slot's node (and whether the client already saw them
    /// confirmed), since when.
    orphans: Vec<(Bytes, bool)>,
    orphaned_since: Option<Instant>,
    retry_at: Option<Instant>,
    events: mpsc::UnboundedSender<Event>,
    /// Links to the other masters holding the keyspace-notification subscriptions, and those
    /// subscriptions (see `mirror`).
    mirrors: Vec<usize>,
    notify_channels: HashSet<Bytes>,
    notify_patterns: HashSet<Bytes>,
}

/// Streams the client's subscriptions until none is left (or the client leaves). `first` is
/// the SUBSCRIBE, PSUBSCRIBE or SSUBSCRIBE that started it.
pub(crate) async fn subscribed<S: ClientStream>(
    proxy: &Arc<Proxy>,
    s: &mut Session,
    client: &mut S,
    inbuf: &mut BytesMut,
    decoder: &mut CommandDecoder,
    first: &[Bytes],
) -> std::io::Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut subs = Subscriptions {
        links: Vec::new(),
        global: None,
        channels: HashSet::new(),
        patterns: HashSet::new(),
        shard: HashMap::new(),
        pending: HashMap::new(),
        leaving: HashSet::new(),
        hidden: HashSet::new(),
        orphans: Vec::new(),
        orphaned_since: None,
        retry_at: None,
        events: tx,
        mirrors: Vec::new(),
        notify_channels: HashSet::new(),
        notify_patterns: HashSet::new(),
    };
    let mut out = BytesMut::new();
    subs.command(proxy, s, first, &mut out).await;
    crate::backend::write_flush(&mut *client, &out).await?;
    if subs.links.iter().all(Option::is_none) {
        return Ok(());
    }
    let limits = DecodeLimits::default();
    let mut acl_changes = proxy.security.changes();
    // Commands may already wait in the buffer (pipelined behind the first SUBSCRIBE).
    let mut input = true;
    loop {
        out.clear();
        if std::mem::take(&mut input) {
            loop {
                match decoder.decode(inbuf, &limits) {
                    Ok(Some(args)) => {
                        if lower(&args[0]) == "quit" {
                            crate::backend::write_flush(&mut *client, &out).await?;
                            crate::backend::write_flush(&mut *client, b"+OK\r\n").await?;
                            s.close = true;
                            return Ok(());
                        }
                        // The same access rules as outside (channels of further SUBSCRIBEs).
                        if let Some(denied) = crate::acl::gate(proxy, s, &args) {
                            out.extend_from_slice(&denied);
                            continue;
                        }
                        if subs.command(proxy, s, &args, &mut out).await {
                            crate::backend::write_flush(&mut *client, &out).await?;
                            return Ok(());
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        out.extend_from_slice(format!("-ERR Protocol error: {e}\r\n").as_bytes());
                        crate::backend::write_flush(&mut *client, &out).await?;
                        s.close = true;
                        return Ok(());
                    }
                }
            }
            if !out.is_empty() {
                crate::backend::write_flush(&mut *client, &out).await?;
            }
            continue;
        }
        let retry = subs.retry_at;
        tokio::select! {
            Ok(()) = acl_changes.changed() => {
                // ACL DELUSER/LOAD of this user, or channels taken away that a subscription
                // needs: Redis closes the client, and so does the proxy.
                if proxy.security.subscriber_revoked(&s.user, &mut s.acl_epoch, |g| subs.lost(g)) {
                    tracing::info!(peer = ?s.peer, user = s.user, "closing a subscriber whose ACL no longer covers it");
                    s.close = true;
                    return Ok(());
                }
            }
            r = client.read_buf(inbuf) => {
                if r? == 0 {
                    s.close = true;
                    return Ok(());
                }
                input = true;
            }
            ev = rx.recv() => match ev {
                Some(Event::Frame(link, frame)) => {
                    if subs.node_frame(proxy, s, link, frame, &mut out) {
                        crate::backend::write_flush(&mut *client, &out).await?;
                        return Ok(());
                    }
                }
                Some(Event::Closed(link)) => {
                    if subs.link_closed(proxy, link) {
                        crate::backend::write_flush(&mut *client, b"-ERR the subscription's cluster node closed the connection\r\n").await?;
                        s.close = true;
                        return Ok(());
                    }
                }
                None => return Ok(()),
            },
            _ = sleep_until(retry) => {
                if subs.resubscribe(proxy, s, &mut out).await {
                    crate::backend::write_flush(&mut *client, &out).await?;
                    return Ok(());
                }
            }
        }
        if !out.is_empty() {
            crate::backend::write_flush(&mut *client, &out).await?;
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// The kind of a subscription notice (`subscribe`, `smessage`, ...), lowercased.
fn notice_kind(items: &[Frame]) -> Option<String> {
    match items.first() {
        Some(Frame::Bulk(k)) | Some(Frame::Simple(k)) => Some(lower(k)),
        _ => None,
    }
}

/// `[kind, channel, count]` in the client's protocol.
fn notice(kind: &[u8], channel: Option<&Bytes>, count: usize, resp3: bool) -> Bytes {
    let channel = channel.map_or(Frame::Null, |c| Frame::Bulk(c.clone()));
    let items = vec![Frame::Bulk(Bytes::copy_from_slice(kind)), channel, Frame::Integer(count as i64)];
    let mut out = BytesMut::new();
    if resp3 {
        Frame::Push(items).encode(&mut out);
    } else {
        Frame::Array(items).encode_resp2(&mut out);
    }
    out.freeze()
}

impl Drop for Subscriptions {
    /// The readers end with the session's subscriptions, whichever way it leaves.
    fn drop(&mut self) {
        for link in self.links.iter().flatten() {
            link.reader.abort();
        }
    }
}

impl Subscriptions {
    /// Whether a subscription is left uncovered by `grant`: a pattern must be granted as
    /// written, a channel (plain or shard) must match a granted pattern, as Redis checks.
    fn lost(&self, grant: &config::acl::ChannelGrant) -> bool {
        grant.leaves_uncovered(&self.patterns, self.channels.iter().chain(self.shard.keys()).chain(self.pending.keys()))
    }

    fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    fn nothing_left(&self) -> bool {
        self.count() == 0 && self.shard.is_empty() && self.pending.is_empty() && self.orphans.is_empty()
    }

    /// A connection to `addr` of the client's own; `shard` links are shared by channels of
    /// that node.
    async fn open(&mut self, proxy: &Proxy, s: &Session, addr: SocketAddr) -> Result<usize, String> {
        let pinned = Pinned::open(addr, s.resp3, proxy.pools.opts()).await?;
        let (mut read, writer) = tokio::io::split(pinned.conn);
        let id = self.links.len();
        let events = self.events.clone();
        let mut buf = pinned.buf;
        let reader = tokio::spawn(async move {
            loop {
                while let Ok(Some(len)) = protocol::frame::frame_len(&buf) {
                    if events.send(Event::Frame(id, buf.split_to(len).freeze())).is_err() {
                        return;
                    }
                }
                if protocol::frame::frame_len(&buf).is_err() || !matches!(read.read_buf(&mut buf).await, Ok(n) if n > 0)
                {
                    let _ = events.send(Event::Closed(id));
                    return;
                }
            }
        });
        self.links.push(Some(Link { addr, writer, reader }));
        Ok(id)
    }

    /// The shard link for `addr`, opened if there is none.
    async fn shard_link(&mut self, proxy: &Proxy, s: &Session, addr: SocketAddr) -> Result<usize, String> {
        let existing = self.links.iter().enumerate().position(|(i, l)| {
            Some(i) != self.global && !self.mirrors.contains(&i) && l.as_ref().is_some_and(|l| l.addr == addr)
        });
        match existing {
            Some(i) => Ok(i),
            None => self.open(proxy, s, addr).await,
        }
    }

    async fn send(&mut self, link: usize, args: &[Bytes]) -> bool {
        match self.links.get_mut(link).and_then(Option::as_mut) {
            Some(l) => crate::backend::write_flush(&mut l.writer, &encode(args)).await.is_ok(),
            None => false,
        }
    }

    /// Handles one client command; true when the client has left subscribed mode.
    async fn command(&mut self, proxy: &Proxy, s: &Session, args: &[Bytes], out: &mut BytesMut) -> bool {
        let name = lower(&args[0]);
        match name.as_str() {
            "ssubscribe" => self.ssubscribe(proxy, s, args, out).await,
            "sunsubscribe" => return self.sunsubscribe(s, args, out).await,
            _ => {
                // Channels, patterns, PING and anything else go to the global link.
                let link = match self.global {
                    Some(l) => l,
                    None => match target_for(proxy, s, None) {
                        None => {
                            out.extend_from_slice(b"-CLUSTERDOWN The cluster is down\r\n");
                            return false;
                        }
                        Some(addr) => match self.open(proxy, s, addr).await {
                            Ok(l) => {
                                self.global = Some(l);
                                l
                            }
                            Err(e) => {
                                out.extend_from_slice(format!("-ERR cluster node unreachable: {e}\r\n").as_bytes());
                                return false;
                            }
                        },
                    },
                };
                if !self.send(link, args).await {
                    out.extend_from_slice(b"-ERR the subscription's cluster node closed the connection\r\n");
                } else if matches!(name.as_str(), "subscribe" | "psubscribe" | "unsubscribe" | "punsubscribe") {
                    self.mirror(proxy, s, &name, args).await;
                }
            }
        }
        false
    }

    async fn ssubscribe(&mut self, proxy: &Proxy, s: &Session, args: &[Bytes], out: &mut BytesMut) {
        if args.len() < 2 {
            out.extend_from_slice(b"-ERR wrong number of arguments for 'ssubscribe' command\r\n");
            return;
        }
        let slot = key_slot(&args[1]);
        if args[2..].iter().any(|c| key_slot(c) != slot) {
            out.extend_from_slice(format!("-{CROSSSLOT}\r\n").as_bytes());
            return;
        }
        let Some(addr) = target_for(proxy, s, Some(slot)) else {
            out.extend_from_slice(b"-CLUSTERDOWN Hash slot not served\r\n");
            return;
        };
        let link = match self.shard_link(proxy, s, addr).await {
            Ok(l) => l,
            Err(e) => {
                out.extend_from_slice(format!("-ERR cluster node unreachable: {e}\r\n").as_bytes());
                return;
            }
        };
        for ch in &args[1..] {
            self.leaving.remove(ch);
            self.pending.insert(ch.clone(), link);
        }
        if !self.send(link, args).await {
            out.extend_from_slice(b"-ERR the subscription's cluster node closed the connection\r\n");
        }
    }

    /// SUNSUBSCRIBE goes to the links holding the channels; channels not held are answered
    /// here. True when nothing is left subscribed.
    async fn sunsubscribe(&mut self, s: &Session, args: &[Bytes], out: &mut BytesMut) -> bool {
        let named: Vec<Bytes> = if args.len() > 1 {
            args[1..].to_vec()
        } else {
            self.shard.keys().chain(self.pending.keys()).chain(self.orphans.iter().map(|(c, _)| c)).cloned().collect()
        };
        if named.is_empty() {
            out.extend_from_slice(&notice(b"sunsubscribe", None, self.shard.len(), s.resp3));
            return self.nothing_left();
        }
        // One SUNSUBSCRIBE per node and slot: a cluster node refuses channels of several slots.
        let mut per_link: HashMap<(usize, u16), Vec<Bytes>> = HashMap::new();
        for ch in named {
            match self.shard.get(&ch).or(self.pending.get(&ch)) {
                Some(&link) => {
                    self.leaving.insert(ch.clone());
                    per_link.entry((link, key_slot(&ch))).or_default().push(ch);
                }
                None => {
                    self.orphans.retain(|(o, _)| *o != ch);
                    out.extend_from_slice(&notice(b"sunsubscribe", Some(&ch), self.shard.len(), s.resp3));
                }
            }
        }
        for ((link, _), channels) in per_link {
            let mut cmd = vec![Bytes::from_static(b"SUNSUBSCRIBE")];
            cmd.extend(channels);
            self.send(link, &cmd).await;
        }
        self.nothing_left()
    }

    /// Handles one frame from a node; true when the client has left subscribed mode.
    fn node_frame(&mut self, proxy: &Proxy, s: &Session, link: usize, frame: Bytes, out: &mut BytesMut) -> bool {
        if self.mirrors.contains(&link) {
            self.mirror_frame(frame, out);
            return false;
        }
        if frame.starts_with(b"-MOVED ") || frame.starts_with(b"-ASK ") {
            // An SSUBSCRIBE reached a node that no longer serves the slot.
            let slot = std::str::from_utf8(&frame[1..]).ok().and_then(|t| t.split_whitespace().nth(1)?.parse().ok());
            let moved: Vec<Bytes> = self
                .pending
                .iter()
                .filter(|(ch, l)| **l == link && Some(key_slot(ch)) == slot)
                .map(|(ch, _)| ch.clone())
                .collect();
            if !moved.is_empty() {
                for ch in moved {
                    self.pending.remove(&ch);
                    let seen = self.hidden.remove(&ch);
                    self.orphan(proxy, ch, seen);
                }
                return false;
            }
        }
        let Ok(Some((Frame::Array(items) | Frame::Push(items), _))) = Frame::parse(&frame) else {
            out.extend_from_slice(&frame);
            return false;
        };
        let Some(kind) = notice_kind(&items) else {
            out.extend_from_slice(&frame);
            return false;
        };
        let channel = match items.get(1) {
            Some(Frame::Bulk(c)) => Some(c.clone()),
            _ => None,
        };
        match kind.as_str() {
            "subscribe" | "psubscribe" | "unsubscribe" | "punsubscribe" => {
                if let Some(ch) = &channel {
                    let set = if kind.starts_with('p') { &mut self.patterns } else { &mut self.channels };
                    if kind.ends_with("unsubscribe") {
                        set.remove(ch);
                    } else {
                        set.insert(ch.clone());
                    }
                }
                out.extend_from_slice(&notice(kind.as_bytes(), channel.as_ref(), self.count(), s.resp3));
                kind.ends_with("unsubscribe") && self.nothing_left()
            }
            "ssubscribe" => {
                let Some(ch) = channel else { return false };
                self.pending.remove(&ch);
                self.shard.insert(ch.clone(), link);
                if !self.hidden.remove(&ch) {
                    out.extend_from_slice(&notice(b"ssubscribe", Some(&ch), self.shard.len(), s.resp3));
                }
                false
            }
            "sunsubscribe" => {
                let Some(ch) = channel else {
                    out.extend_from_slice(&notice(b"sunsubscribe", None, self.shard.len(), s.resp3));
                    return self.nothing_left();
                };
                if self.leaving.remove(&ch) {
                    self.shard.remove(&ch);
                    self.pending.remove(&ch);
                    out.extend_from_slice(&notice(b"sunsubscribe", Some(&ch), self.shard.len(), s.resp3));
                    return self.nothing_left();
                }
                if self.shard.get(&ch) == Some(&link) {
                    // Unasked: the slot moved away from that node. Follow it.
                    self.shard.remove(&ch);
                    self.orphan(proxy, ch, true);
                }
                false
            }
            _ => {
                out.extend_from_slice(&frame);
                false
            }
        }
    }

    fn orphan(&mut self, proxy: &Proxy, ch: Bytes, seen: bool) {
        self.orphans.push((ch, seen));
        self.orphaned_since.get_or_insert_with(Instant::now);
        self.retry_at = Some(Instant::now());
        proxy.topo.refresh_soon();
    }

    /// A node connection ended. Its shard channels wait for their slots' new nodes; true when
    /// the global link went while channels or patterns were subscribed there.
    fn link_closed(&mut self, proxy: &Proxy, link: usize) -> bool {
        if let Some(l) = self.links.get_mut(link).and_then(Option::take) {
            l.reader.abort();
        }
        if self.mirrors.contains(&link) {
            self.mirror_closed(link);
            return false;
        }
        if self.global == Some(link) {
            self.global = None;
            if self.count() > 0 {
                return true;
            }
        }
        let lost: Vec<Bytes> = self
            .shard
            .iter()
            .chain(self.pending.iter())
            .filter(|(_, l)| **l == link)
            .map(|(ch, _)| ch.clone())
            .collect();
        for ch in lost {
            let seen = self.shard.remove(&ch).is_some() || self.hidden.remove(&ch);
            self.pending.remove(&ch);
            if !self.leaving.remove(&ch) {
                self.orphan(proxy, ch, seen);
            }
        }
        false
    }

    /// Subscribes orphaned shard channels again on their slots' current nodes. Until the
    /// retry deadline it keeps trying; after it the client is told they are gone. True when
    /// that leaves nothing subscribed.
    async fn resubscribe(&mut self, proxy: &Proxy, s: &Session, out: &mut BytesMut) -> bool {
        self.retry_at = None;
        // Mirrors follow the periodic topology refresh; orphans ask for a fresh map.
        if !self.orphans.is_empty() {
            let _ = proxy.topo.refresh().await;
        }
        self.follow_masters(proxy, s).await;
        let mut waiting = Vec::new();
        for (ch, seen) in std::mem::take(&mut self.orphans) {
            let sent = match target_for(proxy, s, Some(key_slot(&ch))) {
                Some(addr) => match self.shard_link(proxy, s, addr).await {
                    Ok(link) => {
                        if seen {
                            self.hidden.insert(ch.clone());
                        }
                        self.pending.insert(ch.clone(), link);
                        self.send(link, &[Bytes::from_static(b"SSUBSCRIBE"), ch.clone()]).await
                    }
                    Err(_) => false,
                },
                None => false,
            };
            if !sent {
                self.pending.remove(&ch);
                self.hidden.remove(&ch);
                waiting.push((ch, seen));
            }
        }
        if waiting.is_empty() {
            self.orphaned_since = None;
            return false;
        }
        let since = *self.orphaned_since.get_or_insert_with(Instant::now);
        if since.elapsed() < proxy.cfg.retry_deadline {
            self.orphans = waiting;
            self.retry_at = Some(Instant::now() + Duration::from_millis(200));
            false
        } else {
            self.orphaned_since = None;
            for (ch, _) in waiting {
                out.extend_from_slice(&notice(b"sunsubscribe", Some(&ch), self.shard.len(), s.resp3));
            }
            self.nothing_left()
        }
    }
}
