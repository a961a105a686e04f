//! One client session: decode requests, plan each from one slot-map snapshot, send the
//! sub-requests to the backend lanes (pipelined across the whole batch), then collect replies
//! in request order, following redirects and riding out failovers, and write them at once.
//!
//! Retry rule: a request is sent again only when it cannot have been applied (after MOVED, ASK,
//! TRYAGAIN or CLUSTERDOWN replies, or when it was never written), or when applying it twice
//! leaves the same data as applying it once: reads, and idempotent writes (plain SET, MSET,
//! DEL, HSET, SADD, EXPIREAT, ...) whose node stalled or dropped the connection; those are
//! sent again to the slot's new master once a failover replaced the old one. Any other write in
//! that situation gets an error, because it may have been applied.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use protocol::command::flags;
use protocol::{key_slot, lookup, CommandDecoder, CommandSpec, DecodeLimits};
use tokio::io::AsyncReadExt;
use tokio::sync::oneshot;

use crate::backend::{encode, BackendError, Pools, ReplyResult};
use crate::config::{ProxyConfig, ReadPolicy};
use crate::merge;
use crate::outbox::{Outbox, Outcome, Ticket};
use crate::pinned::Pinned;
use crate::topology::Topology;

/// Shared state of the proxy.
pub struct Proxy {
    pub cfg: ProxyConfig,
    pub pools: Pools,
    pub topo: Arc<Topology>,
    pub next_id: AtomicU64,
    pub clients: AtomicU64,
    /// Clients connected that have not authenticated (when login is required).
    pub unauthenticated: AtomicU64,
    pub commands: AtomicU64,
    pub redirects: AtomicU64,
    pub retries: AtomicU64,
    pub backend_errors: AtomicU64,
    pub started: Instant,
    pub metrics: crate::metrics::Metrics,
    pub security: crate::acl::Security,
}

/// Per-client state.
pub(crate) struct Session {
    pub(crate) id: u64,
    pub(crate) resp3: bool,
    name: Option<Bytes>,
    pub(crate) close: bool,
    /// Commands queued since MULTI, the slot they share, and whether one was refused.
    multi: Option<Vec<Vec<Bytes>>>,
    multi_slot: Option<u16>,
    multi_error: bool,
    /// The connection holding this client's WATCHes.
    pinned: Option<Pinned>,
    /// Our address as this client reached it (what cluster emulation announces).
    pub(crate) local: Option<SocketAddr>,
    pub(crate) peer: Option<SocketAddr>,
    /// The ACL user, and whether the client has logged in (or `default` needs no password).
    pub(crate) user: String,
    pub(crate) authenticated: bool,
    /// The current batch's requests, grouped per node.
    outbox: Outbox,
    /// The last ACL revocation this session checked itself against.
    pub(crate) acl_epoch: u64,
}

impl Session {
    pub(crate) fn in_multi(&self) -> bool {
        self.multi.is_some()
    }
    pub(crate) fn peer_text(&self) -> String {
        self.peer.map(|a| a.to_string()).unwrap_or_default()
    }
    pub(crate) fn local_text(&self) -> String {
        self.local.map(|a| a.to_string()).unwrap_or_default()
    }
}

/// A request sent to one node, with what is needed to send it again.
struct InFlight {
    sent: Sent,
    slot: Option<u16>,
    target: SocketAddr,
    /// Sending it twice leaves the same data as once (a read, or an idempotent write).
    repeatable: bool,
}

/// How a request went out: in the batch's outbox, or alone (a resend after a redirect).
enum Sent {
    Queued(Ticket),
    Alone(oneshot::Receiver<ReplyResult>, Bytes),
}

/// Writes whose second application changes nothing (the reply may differ, the data does not).
fn idempotent<A: AsRef<[u8]>>(args: &[A]) -> bool {
    let first = args[0].as_ref();
    let mut lower = [0u8; 10];
    let Some(name) = lower.get_mut(..first.len()) else { return false };
    name.copy_from_slice(first);
    name.make_ascii_lowercase();
    let has_opt =
        |opts: &[&str]| args.iter().skip(2).any(|a| opts.iter().any(|o| a.as_ref().eq_ignore_ascii_case(o.as_bytes())));
    match std::str::from_utf8(name).unwrap_or("") {
        "set" => !has_opt(&["nx", "xx", "get", "keepttl"]),
        "zadd" => !has_opt(&["nx", "xx", "gt", "lt", "ch", "incr"]),
        "mset" | "del" | "unlink" | "hset" | "hmset" | "hdel" | "sadd" | "srem" | "zrem" | "expireat" | "pexpireat"
        | "persist" | "setex" | "psetex" => true,
        _ => false,
    }
}

/// How the replies of a planned request become one reply.
enum Pending {
    Ready(Bytes),
    Single(InFlight),
    Mget(usize, Vec<Vec<usize>>, Vec<InFlight>),
    Sum(Vec<InFlight>),
    AllOk(Vec<InFlight>),
    Concat(Vec<InFlight>),
    AllTrue(Vec<InFlight>),
    First(Vec<InFlight>),
    Info(String, Vec<InFlight>),
    Scan(usize, InFlight),
    /// EXEC of the queued commands (all on one slot, if any has keys).
    Exec(Vec<Vec<Bytes>>, Option<u16>),
    /// WATCH on the node of the slot; the connection stays with the client.
    Watch(Vec<Bytes>, Option<u16>),
    /// A blocking command on a connection of its own.
    Blocking(Vec<Bytes>, Option<u16>),
}

fn err(msg: &str) -> Pending {
    Pending::Ready(Bytes::from(format!("-{msg}\r\n")))
}

pub(crate) const CROSSSLOT: &str = "CROSSSLOT Keys in request don't hash to the same slot";
/// SCAN cursors carry the master's index in their top bits.
const SCAN_NODE_SHIFT: u32 = 54;

/// A client connection: plain TCP or TLS.
pub trait ClientStream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> ClientStream for T {}

/// Serves one client until it disconnects; `local` and `peer` are its TCP addresses.
pub async fn serve<S: ClientStream>(
    proxy: Arc<Proxy>,
    mut stream: S,
    local: Option<SocketAddr>,
    peer: Option<SocketAddr>,
    cert_user: Option<String>,
) {
    proxy.clients.fetch_add(1, Ordering::Relaxed);
    let id = proxy.next_id.fetch_add(1, Ordering::Relaxed);
    let mut s = Session {
        id,
        resp3: false,
        name: None,
        close: false,
        multi: None,
        multi_slot: None,
        multi_error: false,
        pinned: None,
        local,
        peer,
        user: "default".into(),
        authenticated: proxy.security.default_login(),
        outbox: Outbox::default(),
        acl_epoch: proxy.security.epoch(),
    };
    if let Some(user) = cert_user {
        if proxy.security.certificate_login(&user) {
            tracing::info!(peer = ?peer, user, "logged in by client certificate");
            s.user = user;
            s.authenticated = true;
        }
    }
    // Clients that must log in first are capped in number, so unauthenticated connections
    // cannot exhaust memory or descriptors that logged-in clients need.
    let mut counted = false;
    if !s.authenticated {
        if proxy.unauthenticated.fetch_add(1, Ordering::Relaxed) >= proxy.cfg.max_unauthenticated as u64 {
            proxy.unauthenticated.fetch_sub(1, Ordering::Relaxed);
            tracing::warn!(peer = ?peer, "too many unauthenticated clients; connection closed");
            let _ = crate::backend::write_flush(&mut stream, b"-ERR max number of unauthenticated clients reached\r\n")
                .await;
        } else {
            counted = true;
        }
    }
    if s.authenticated || counted {
        let _ = session_loop(&proxy, &mut s, &mut stream, &mut counted).await;
    }
    if counted {
        proxy.unauthenticated.fetch_sub(1, Ordering::Relaxed);
    }
    proxy.clients.fetch_sub(1, Ordering::Relaxed);
}

/// Reads more from the client; before login, only until the auth deadline.
async fn read_more<S: ClientStream>(
    proxy: &Proxy,
    s: &Session,
    stream: &mut S,
    inbuf: &mut BytesMut,
    deadline: Option<Instant>,
) -> std::io::Result<usize> {
    match deadline {
        Some(at) if !s.authenticated => match tokio::time::timeout_at(at.into(), stream.read_buf(inbuf)).await {
            Ok(r) => r,
            Err(_) => {
                tracing::info!(peer = ?s.peer, timeout = ?proxy.cfg.auth_timeout, "client did not authenticate in time");
                Ok(0)
            }
        },
        _ => stream.read_buf(inbuf).await,
    }
}

async fn session_loop<S: ClientStream>(
    proxy: &Arc<Proxy>,
    s: &mut Session,
    stream: &mut S,
    counted: &mut bool,
) -> std::io::Result<()> {
    let mut inbuf = BytesMut::with_capacity(16 * 1024);
    let mut decoder = CommandDecoder::new();
    let mut limits = DecodeLimits::default();
    let auth_deadline = proxy.cfg.auth_timeout.map(|t| Instant::now() + t);
    let mut out = BytesMut::new();
    // Reused from batch to batch: the requests planned, then their commands for the metrics.
    let mut batch = Vec::new();
    let mut specs = Vec::new();
    loop {
        if inbuf.capacity() - inbuf.len() < 4096 {
            inbuf.reserve(16 * 1024);
        }
        if *counted && s.authenticated {
            proxy.unauthenticated.fetch_sub(1, Ordering::Relaxed);
            *counted = false;
        }
        if s.authenticated && proxy.security.revoked(&s.user, &mut s.acl_epoch) {
            tracing::info!(peer = ?s.peer, user = s.user, "closing a session whose user ACL DELUSER or ACL LOAD removed");
            return Ok(());
        }
        if read_more(proxy, s, stream, &mut inbuf, auth_deadline).await? == 0 {
            return Ok(());
        }
        // Revoked while this session waited: nothing it sent now runs.
        if s.authenticated && proxy.security.revoked(&s.user, &mut s.acl_epoch) {
            tracing::info!(peer = ?s.peer, user = s.user, "closing a session whose user ACL DELUSER or ACL LOAD removed");
            return Ok(());
        }
        // Plan the whole batch first and send it per node, so one client's pipeline is
        // pipelined upstream. Every reply is written at the end, so the batch's start is each
        // command's start.
        let started = Instant::now();
        let mut protocol_error = None;
        loop {
            // Before login only small frames are read (Redis's CVE-2021-32675 limits).
            limits.unauthenticated = !s.authenticated;
            match decoder.decode(&mut inbuf, &limits) {
                Ok(Some(args)) => {
                    proxy.commands.fetch_add(1, Ordering::Relaxed);
                    let spec = lookup(&args[0]);
                    let name = spec.map_or_else(|| Cow::Owned(lower(&args[0])), |c| Cow::Borrowed(c.name));
                    let subscribes = matches!(&*name, "subscribe" | "psubscribe" | "ssubscribe");
                    if subscribes && s.multi.is_none() {
                        if let Some(denied) = crate::acl::gate(proxy, s, &args) {
                            batch.push((spec, Pending::Ready(denied)));
                            continue;
                        }
                        // Earlier replies first, then the session streams from a subscriber connection.
                        s.outbox.flush(&proxy.pools, s.id as usize);
                        for (_, p) in batch.drain(..) {
                            let reply = resolve(proxy, &mut *s, p).await;
                            out.extend_from_slice(&reply);
                        }
                        s.outbox.clear();
                        crate::backend::write_flush(&mut *stream, &out).await?;
                        out.clear();
                        crate::pubsub::subscribed(proxy, s, stream, &mut inbuf, &mut decoder, &args).await?;
                        if s.close {
                            return Ok(());
                        }
                        continue;
                    }
                    let p = plan(proxy, s, spec, &name, &args);
                    batch.push((spec, p));
                    if s.close {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    protocol_error = Some(format!("-ERR Protocol error: {e}\r\n"));
                    break;
                }
            }
        }
        s.outbox.flush(&proxy.pools, s.id as usize);
        for (spec, p) in batch.drain(..) {
            // Most replies are in once their group's first one is: copied out without the
            // machinery of `finish` (redirects, retries, timeouts).
            let ready = match &p {
                Pending::Single(f) => ready_reply(s, f),
                _ => None,
            };
            match ready {
                Some(reply) => out.extend_from_slice(&reply),
                None => out.extend_from_slice(&resolve(proxy, &mut *s, p).await),
            }
            specs.push(spec);
        }
        s.outbox.clear();
        let elapsed = started.elapsed().as_secs_f64();
        for spec in specs.drain(..) {
            proxy.metrics.observe(spec, elapsed);
        }
        if let Some(e) = &protocol_error {
            out.extend_from_slice(e.as_bytes());
        }
        if !out.is_empty() {
            // Let the other ready sessions run first, so replies leave in a burst and a client
            // woken by one finds the others there (as the nodes do, and Redis in beforeSleep).
            tokio::task::yield_now().await;
            crate::backend::write_flush(&mut *stream, &out).await?;
            out.clear();
        }
        if s.close || protocol_error.is_some() {
            return Ok(());
        }
    }
}

pub(crate) fn lower(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_ascii_lowercase()
}

fn send<A: AsRef<[u8]>>(
    s: &mut Session,
    target: SocketAddr,
    slot: Option<u16>,
    args: &[A],
    readonly: bool,
) -> InFlight {
    let ticket = s.outbox.push(target, s.resp3, args);
    InFlight { sent: Sent::Queued(ticket), slot, target, repeatable: readonly || idempotent(args) }
}

/// Sends a request to the master of `slot`, or a read to one of its replicas under
/// `read-policy prefer-replica` (each client sticks to one replica, keeping its reads in order).
fn to_slot(proxy: &Proxy, s: &mut Session, slot: u16, args: &[Bytes], readonly: bool) -> Result<InFlight, Pending> {
    to_slot_in(proxy, &proxy.topo.snapshot(), s, slot, args, readonly)
}

/// `to_slot` on a map the caller already holds (one snapshot for all parts of a command).
fn to_slot_in<A: AsRef<[u8]>>(
    proxy: &Proxy,
    map: &crate::topology::SlotMap,
    s: &mut Session,
    slot: u16,
    args: &[A],
    readonly: bool,
) -> Result<InFlight, Pending> {
    let Some(target) = map.master_of(slot) else {
        proxy.topo.refresh_soon();
        return Err(err("CLUSTERDOWN Hash slot not served"));
    };
    let target = match map.replicas_of(slot) {
        Some(replicas) if readonly && proxy.cfg.read_policy == ReadPolicy::PreferReplica && !replicas.is_empty() => {
            replicas[s.id as usize % replicas.len()]
        }
        _ => target,
    };
    Ok(send(s, target, Some(slot), args, readonly))
}

/// Sends the same request to every master.
fn to_all(proxy: &Proxy, s: &mut Session, args: &[Bytes], readonly: bool) -> Result<Vec<InFlight>, Pending> {
    let map = proxy.topo.snapshot();
    if map.masters.is_empty() {
        proxy.topo.refresh_soon();
        return Err(err("CLUSTERDOWN The cluster is down"));
    }
    Ok(map.masters.iter().map(|m| send(s, *m, None, args, readonly)).collect())
}

/// Splits a multi-key command into one sub-request per slot (Redis Cluster needs one slot
/// per command), keys in their order: `stride` arguments per key (MSET's key and value).
/// With `positions`, also which keys each sub-request carries (MGET merges by them).
fn split_by_slot(
    proxy: &Proxy,
    s: &mut Session,
    args: &[Bytes],
    stride: usize,
    readonly: bool,
    mut positions: Option<&mut Vec<Vec<usize>>>,
) -> Result<Vec<InFlight>, Pending> {
    let n = (args.len() - 1) / stride;
    let slots: Vec<u16> = (0..n).map(|i| key_slot(&args[1 + i * stride])).collect();
    let map = proxy.topo.snapshot();
    // Keys sharing a slot (hash tags) need no split: the command goes as it came.
    if slots.iter().all(|&x| x == slots[0]) {
        if let Some(p) = positions {
            p.push((0..n).collect());
        }
        return Ok(vec![to_slot_in(proxy, &map, s, slots[0], args, readonly)?]);
    }
    let mut parts = Vec::with_capacity(n);
    let mut taken = vec![false; n];
    let mut sub: Vec<&[u8]> = Vec::with_capacity(args.len());
    for i in 0..n {
        if taken[i] {
            continue;
        }
        sub.clear();
        sub.push(&args[0]);
        let mut pos = Vec::new();
        for j in i..n {
            if !taken[j] && slots[j] == slots[i] {
                taken[j] = true;
                sub.extend(args[1 + j * stride..1 + (j + 1) * stride].iter().map(|a| &a[..]));
                if positions.is_some() {
                    pos.push(j);
                }
            }
        }
        parts.push(to_slot_in(proxy, &map, s, slots[i], &sub, readonly)?);
        if let Some(p) = positions.as_deref_mut() {
            p.push(pos);
        }
    }
    Ok(parts)
}

/// The one slot all keys of a command hash to: `Ok(None)` without keys, `Err` on CROSSSLOT or a
/// bad argument count.
fn command_slot(spec: Option<&CommandSpec>, args: &[Bytes]) -> Result<Option<u16>, String> {
    let mut slot = None;
    let mut crossslot = false;
    let mut add = |i: usize| {
        let k = key_slot(&args[i]);
        crossslot |= slot.is_some_and(|x| x != k);
        slot = Some(k);
    };
    match spec {
        Some(spec) => {
            if !spec.arity_ok(args.len()) {
                return Err(format!("ERR wrong number of arguments for '{}' command", spec.name));
            }
            spec.for_each_key(
                args.len(),
                |i| args.get(i).and_then(|a| std::str::from_utf8(a).ok()?.parse().ok()),
                &mut add,
            )
            .map_err(str::to_string)?;
        }
        // A command the table does not describe: its first argument is taken as the key, and
        // a MOVED reply corrects the guess.
        None if args.len() > 1 => add(1),
        None => {}
    }
    if crossslot {
        return Err(CROSSSLOT.to_string());
    }
    Ok(slot)
}

/// Commands of the table the proxy does not pass on: a replication stream, a node's own
/// replication or lifecycle, or a redirect handshake would break a shared backend connection
/// or act on one arbitrary node. They get Redis's unknown-command error.
const NOT_SERVED: &[&str] =
    &["psync", "sync", "replconf", "replicaof", "slaveof", "failover", "shutdown", "restore-asking", "asking"];

/// Whether the proxy serves a command of the table (what COMMAND describes).
fn serves(proxy: &Proxy, spec: &protocol::CommandSpec) -> bool {
    let top = spec.name.split('|').next().unwrap_or(spec.name);
    match top {
        "cluster" | "asking" | "readonly" | "readwrite" => proxy.cfg.cluster_emulation,
        "monitor" | "wait" => false,
        _ => !NOT_SERVED.contains(&top),
    }
}

/// Commands that act on the transaction instead of being queued.
const TX_CONTROL: &[&str] = &["exec", "discard", "multi", "watch", "quit", "reset"];
/// Commands that block: they get a connection of their own.
const BLOCKING: &[&str] = &["blpop", "brpop", "blmove", "brpoplpush", "blmpop", "bzpopmin", "bzpopmax", "bzmpop"];

fn plan(proxy: &Arc<Proxy>, s: &mut Session, spec: Option<&CommandSpec>, name: &str, args: &[Bytes]) -> Pending {
    // Access control comes first: nothing a user may not run reaches a node (or a queue).
    if let Some(denied) = crate::acl::gate_spec(proxy, s, spec, args) {
        s.multi_error |= s.multi.is_some();
        return Pending::Ready(denied);
    }
    // Only containers (SCRIPT, CLIENT) look at the subcommand; others skip the allocation.
    let sub = if matches!(name, "script" | "client" | "cluster") {
        args.get(1).map(|a| lower(a)).unwrap_or_default()
    } else {
        String::new()
    };
    if s.multi.is_some() && !TX_CONTROL.contains(&name) {
        // Queued locally; the whole transaction goes to one node at EXEC, so every key must
        // share one slot (an error here dooms the transaction, as Redis's EXECABORT does).
        match command_slot(spec, args) {
            Ok(slot) => {
                if let (Some(a), Some(b)) = (s.multi_slot, slot) {
                    if a != b {
                        s.multi_error = true;
                        return err(CROSSSLOT);
                    }
                }
                s.multi_slot = s.multi_slot.or(slot);
                if let Some(q) = s.multi.as_mut() {
                    q.push(args.to_vec());
                }
                return Pending::Ready(Bytes::from_static(b"+QUEUED\r\n"));
            }
            Err(e) => {
                s.multi_error = true;
                return err(&e);
            }
        }
    }
    match name {
        "multi" => {
            if s.multi.is_some() {
                return err("ERR MULTI calls can not be nested");
            }
            s.multi = Some(Vec::new());
            s.multi_error = false;
            Pending::Ready(Bytes::from_static(b"+OK\r\n"))
        }
        "exec" => {
            let Some(queue) = s.multi.take() else { return err("ERR EXEC without MULTI") };
            let slot = s.multi_slot.take();
            if std::mem::take(&mut s.multi_error) {
                s.pinned = None;
                return err("EXECABORT Transaction discarded because of previous errors.");
            }
            Pending::Exec(queue, slot)
        }
        "discard" => {
            if s.multi.take().is_none() {
                return err("ERR DISCARD without MULTI");
            }
            s.multi_slot = None;
            s.multi_error = false;
            // Dropping the pinned connection drops its WATCHes too.
            s.pinned = None;
            Pending::Ready(Bytes::from_static(b"+OK\r\n"))
        }
        "watch" => {
            if s.multi.is_some() {
                return err("ERR WATCH inside MULTI is not allowed");
            }
            match command_slot(spec, args) {
                Ok(slot) => Pending::Watch(args.to_vec(), slot),
                Err(e) => err(&e),
            }
        }
        "unwatch" => {
            s.pinned = None;
            Pending::Ready(Bytes::from_static(b"+OK\r\n"))
        }
        n if BLOCKING.contains(&n) => match command_slot(spec, args) {
            Ok(slot) => Pending::Blocking(args.to_vec(), slot),
            Err(e) => err(&e),
        },
        _ => plan_plain(proxy, s, spec, name, &sub, args),
    }
}

fn plan_plain(
    proxy: &Arc<Proxy>,
    s: &mut Session,
    spec: Option<&CommandSpec>,
    name: &str,
    sub: &str,
    args: &[Bytes],
) -> Pending {
    match name {
        "ping" => match args.len() {
            1 => Pending::Ready(Bytes::from_static(b"+PONG\r\n")),
            2 => Pending::Ready(bulk(&args[1])),
            _ => err("ERR wrong number of arguments for 'ping' command"),
        },
        "echo" if args.len() == 2 => Pending::Ready(bulk(&args[1])),
        "quit" => {
            s.close = true;
            Pending::Ready(Bytes::from_static(b"+OK\r\n"))
        }
        "select" if args.len() == 2 => {
            if &args[1][..] == b"0" {
                Pending::Ready(Bytes::from_static(b"+OK\r\n"))
            } else {
                err("ERR DB index is out of range")
            }
        }
        "hello" => hello(proxy, s, args),
        "auth" => Pending::Ready(crate::acl::auth(proxy, s, args)),
        "acl" => Pending::Ready(crate::acl::command(proxy, s, args)),
        "reset" => {
            s.resp3 = false;
            s.name = None;
            Pending::Ready(Bytes::from_static(b"+RESET\r\n"))
        }
        "client" => client_cmd(proxy, s, sub, args),
        "cluster" if proxy.cfg.cluster_emulation => Pending::Ready(crate::emulation::cluster(proxy, s, sub, args)),
        "cluster" => err("ERR This instance has cluster support disabled"),
        "readonly" | "readwrite" | "asking" if proxy.cfg.cluster_emulation => {
            Pending::Ready(Bytes::from_static(b"+OK\r\n"))
        }
        "mget" if args.len() >= 2 => {
            let mut positions = Vec::new();
            match split_by_slot(proxy, s, args, 1, true, Some(&mut positions)) {
                Ok(parts) => Pending::Mget(args.len() - 1, positions, parts),
                Err(e) => e,
            }
        }
        "mset" if args.len() >= 3 && args.len() % 2 == 1 => match split_by_slot(proxy, s, args, 2, false, None) {
            Ok(parts) => Pending::AllOk(parts),
            Err(e) => e,
        },
        "del" | "unlink" | "exists" | "touch" if args.len() >= 2 => {
            let readonly = name == "exists" || name == "touch";
            match split_by_slot(proxy, s, args, 1, readonly, None) {
                Ok(parts) => Pending::Sum(parts),
                Err(e) => e,
            }
        }
        "dbsize" => fan(proxy, s, args, true, Pending::Sum),
        "keys" => fan(proxy, s, args, true, Pending::Concat),
        "flushall" | "flushdb" => fan(proxy, s, args, false, Pending::AllOk),
        "script" if sub == "load" => fan(proxy, s, args, false, Pending::First),
        "script" if sub == "flush" => fan(proxy, s, args, false, Pending::AllOk),
        "script" if sub == "exists" => fan(proxy, s, args, true, Pending::AllTrue),
        "info" => {
            let own = own_info(proxy);
            let keyspace = [Bytes::from_static(b"INFO"), Bytes::from_static(b"keyspace")];
            match to_all(proxy, s, &keyspace, true) {
                Ok(parts) => Pending::Info(own, parts),
                Err(e) => e,
            }
        }
        "command" => {
            let mut out = protocol::Reply::new();
            out.proto = if s.resp3 { protocol::Proto::Resp3 } else { protocol::Proto::Resp2 };
            match protocol::introspect::command(&mut out, args, &|spec| serves(proxy, spec)) {
                Ok(()) => Pending::Ready(out.buf.freeze()),
                Err(e) => err(&e),
            }
        }
        n if NOT_SERVED.contains(&n) && !(n == "asking" && proxy.cfg.cluster_emulation) => {
            err(&protocol::introspect::unknown_command(args))
        }
        "randomkey" | "time" | "lastsave" => {
            let map = proxy.topo.snapshot();
            if map.masters.is_empty() {
                return err("CLUSTERDOWN The cluster is down");
            }
            let pick = map.masters[(s.id as usize) % map.masters.len()];
            Pending::Single(send(s, pick, None, args, true))
        }
        "scan" => scan(proxy, s, args),
        "unsubscribe" | "punsubscribe" | "sunsubscribe" => {
            // Not subscribed: answer as Redis does for a client with no subscriptions.
            let kind = Bytes::copy_from_slice(name.as_bytes());
            Pending::Ready(merge::unsubscribed(&kind, args.len() > 1, &args[1..], s.resp3))
        }
        // WAIT counts replicas of the node the client last wrote to; across nodes it has no
        // meaning, and MONITOR would need every node's stream.
        "monitor" | "wait" => err(&format!("ERR '{name}' is not supported through slotgate-proxy")),
        _ => keyed(proxy, s, spec, args),
    }
}

fn fan(proxy: &Proxy, s: &mut Session, args: &[Bytes], readonly: bool, make: fn(Vec<InFlight>) -> Pending) -> Pending {
    match to_all(proxy, s, args, readonly) {
        Ok(parts) => make(parts),
        Err(e) => e,
    }
}

/// A command with keys goes to the node of its slot; all keys must share it.
fn keyed(proxy: &Proxy, s: &mut Session, spec: Option<&CommandSpec>, args: &[Bytes]) -> Pending {
    let readonly = spec.is_some_and(|c| c.has(flags::READONLY));
    match command_slot(spec, args) {
        Err(e) => err(&e),
        Ok(Some(slot)) => match to_slot(proxy, s, slot, args, readonly) {
            Ok(f) => Pending::Single(f),
            Err(e) => e,
        },
        Ok(None) => {
            let map = proxy.topo.snapshot();
            match map.masters.get((s.id as usize) % map.masters.len().max(1)) {
                Some(&m) => Pending::Single(send(s, m, None, args, readonly)),
                None => err("CLUSTERDOWN The cluster is down"),
            }
        }
    }
}

fn scan(proxy: &Proxy, s: &mut Session, args: &[Bytes]) -> Pending {
    let Some(cursor) = args.get(1).and_then(|c| std::str::from_utf8(c).ok()?.parse::<u64>().ok()) else {
        return err("ERR invalid cursor");
    };
    let map = proxy.topo.snapshot();
    let node = (cursor >> SCAN_NODE_SHIFT) as usize;
    let Some(&target) = map.masters.get(node) else {
        return Pending::Ready(Bytes::from_static(b"*2\r\n$1\r\n0\r\n*0\r\n"));
    };
    let mut sub_args = args.to_vec();
    sub_args[1] = Bytes::from((cursor & ((1 << SCAN_NODE_SHIFT) - 1)).to_string());
    Pending::Scan(node, send(s, target, None, &sub_args, true))
}

fn bulk(b: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(b.len() + 16);
    out.extend_from_slice(format!("${}\r\n", b.len()).as_bytes());
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
    out.freeze()
}

fn hello(proxy: &Proxy, s: &mut Session, args: &[Bytes]) -> Pending {
    let proto = match args.get(1).map(|v| &v[..]) {
        None => s.resp3,
        Some(b"2") => false,
        Some(b"3") => true,
        Some(_) => return err("NOPROTO unsupported protocol version"),
    };
    let mut i = 2;
    let mut name = None;
    while i < args.len() {
        let opt = lower(&args[i]);
        if opt == "setname" && i + 1 < args.len() {
            name = Some(args[i + 1].clone());
            i += 2;
        } else if opt == "auth" && i + 2 < args.len() {
            let user = String::from_utf8_lossy(&args[i + 1]).into_owned();
            if let Err(e) = crate::acl::login(proxy, s, &user, &args[i + 2]) {
                return Pending::Ready(e);
            }
            i += 3;
        } else {
            return err(&format!("ERR Syntax error in HELLO option '{}'", String::from_utf8_lossy(&args[i])));
        }
    }
    if !s.authenticated {
        return err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
    }
    s.resp3 = proto;
    if name.is_some() {
        s.name = name;
    }
    let fields: [(&str, Bytes); 6] = [
        ("server", bulk(b"redis")),
        ("version", bulk(b"7.0.15")),
        ("proto", Bytes::from(format!(":{}\r\n", if s.resp3 { 3 } else { 2 }))),
        ("id", Bytes::from(format!(":{}\r\n", s.id))),
        ("mode", bulk(b"standalone")),
        ("role", bulk(b"master")),
    ];
    let mut out = BytesMut::new();
    out.extend_from_slice(if s.resp3 { b"%7\r\n" } else { b"*14\r\n" });
    for (k, v) in fields {
        out.extend_from_slice(&bulk(k.as_bytes()));
        out.extend_from_slice(&v);
    }
    out.extend_from_slice(&bulk(b"modules"));
    out.extend_from_slice(b"*0\r\n");
    Pending::Ready(out.freeze())
}

fn client_cmd(proxy: &Proxy, s: &mut Session, sub: &str, args: &[Bytes]) -> Pending {
    match sub {
        "id" => Pending::Ready(Bytes::from(format!(":{}\r\n", s.id))),
        "setname" if args.len() == 3 => {
            if args[2].iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
                return err("ERR Client names cannot contain spaces, newlines or special characters.");
            }
            s.name = (!args[2].is_empty()).then(|| args[2].clone());
            Pending::Ready(Bytes::from_static(b"+OK\r\n"))
        }
        "getname" => match &s.name {
            Some(n) => Pending::Ready(bulk(n)),
            None => Pending::Ready(Bytes::from_static(b"$-1\r\n")),
        },
        "list" | "info" => {
            let line = format!(
                "id={} name={} resp={} connected_clients={}\n",
                s.id,
                s.name.as_ref().map(|n| String::from_utf8_lossy(n).into_owned()).unwrap_or_default(),
                if s.resp3 { 3 } else { 2 },
                proxy.clients.load(Ordering::Relaxed)
            );
            Pending::Ready(bulk(line.as_bytes()))
        }
        _ => err(&format!("ERR unknown subcommand '{sub}'. Try CLIENT HELP.")),
    }
}

fn own_info(proxy: &Proxy) -> String {
    let map = proxy.topo.snapshot();
    format!(
        "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\nslotgate_proxy:{}\r\nuptime_in_seconds:{}\r\n\r\n# Clients\r\nconnected_clients:{}\r\n\r\n# Stats\r\ntotal_commands_processed:{}\r\nredirects_followed:{}\r\nretries:{}\r\nbackend_errors:{}\r\ntopology_refreshes:{}\r\n\r\n# Cluster\r\ncluster_enabled:0\r\nmasters:{}\r\nreplicas:{}\r\n",
        env!("CARGO_PKG_VERSION"),
        proxy.started.elapsed().as_secs(),
        proxy.clients.load(Ordering::Relaxed),
        proxy.commands.load(Ordering::Relaxed),
        proxy.redirects.load(Ordering::Relaxed),
        proxy.retries.load(Ordering::Relaxed),
        proxy.backend_errors.load(Ordering::Relaxed),
        proxy.topo.refreshes.load(Ordering::Relaxed),
        map.masters.len(),
        map.replicas.iter().map(Vec::len).sum::<usize>(),
    )
}

/// The master for `slot` (any master without one).
pub(crate) fn target_for(proxy: &Proxy, s: &Session, slot: Option<u16>) -> Option<SocketAddr> {
    let map = proxy.topo.snapshot();
    match slot {
        Some(slot) => map.master_of(slot),
        None => map.masters.get((s.id as usize) % map.masters.len().max(1)).copied(),
    }
}

fn error_bytes(msg: &str) -> Bytes {
    Bytes::from(format!("-{msg}\r\n"))
}

async fn resolve(proxy: &Arc<Proxy>, s: &mut Session, p: Pending) -> Bytes {
    match p {
        Pending::Exec(queue, slot) => {
            let pinned = match s.pinned.take() {
                Some(p) => p,
                None => {
                    let Some(addr) = target_for(proxy, s, slot) else {
                        return error_bytes("CLUSTERDOWN The cluster is down");
                    };
                    match Pinned::open(addr, s.resp3, proxy.pools.opts()).await {
                        Ok(p) => p,
                        Err(e) => return error_bytes(&format!("ERR cluster node unreachable: {e}")),
                    }
                }
            };
            let mut pinned = pinned;
            if slot.is_some() && target_for(proxy, s, slot) != Some(pinned.addr) {
                return error_bytes(CROSSSLOT);
            }
            let mut reqs = vec![encode(&[Bytes::from_static(b"MULTI")])];
            reqs.extend(queue.iter().map(|c| encode(c)));
            reqs.push(encode(&[Bytes::from_static(b"EXEC")]));
            let n = reqs.len();
            match pinned.call(&reqs, n, Some(proxy.cfg.command_timeout)).await {
                Ok(mut replies) => replies.pop().unwrap_or_default(),
                Err(e) => error_bytes(&format!("ERR transaction failed on the cluster node: {e}")),
            }
        }
        Pending::Watch(args, slot) => {
            let Some(addr) = target_for(proxy, s, slot) else { return error_bytes("CLUSTERDOWN The cluster is down") };
            if s.pinned.as_ref().is_some_and(|p| p.addr != addr) {
                return error_bytes(CROSSSLOT);
            }
            if s.pinned.is_none() {
                match Pinned::open(addr, s.resp3, proxy.pools.opts()).await {
                    Ok(p) => s.pinned = Some(p),
                    Err(e) => return error_bytes(&format!("ERR cluster node unreachable: {e}")),
                }
            }
            let Some(pinned) = s.pinned.as_mut() else { return error_bytes("ERR no connection") };
            match pinned.call(&[encode(&args)], 1, Some(proxy.cfg.command_timeout)).await {
                Ok(mut r) => r.pop().unwrap_or_default(),
                Err(e) => {
                    s.pinned = None;
                    error_bytes(&format!("ERR WATCH failed on the cluster node: {e}"))
                }
            }
        }
        Pending::Blocking(args, slot) => {
            let mut target = target_for(proxy, s, slot);
            // One redirect is followed (the slot may have just moved).
            for _ in 0..2 {
                let Some(addr) = target else { return error_bytes("CLUSTERDOWN The cluster is down") };
                let mut conn = match Pinned::open(addr, s.resp3, proxy.pools.opts()).await {
                    Ok(p) => p,
                    Err(e) => return error_bytes(&format!("ERR cluster node unreachable: {e}")),
                };
                let reply = match conn.call(&[encode(&args)], 1, None).await {
                    Ok(mut r) => r.pop().unwrap_or_default(),
                    Err(e) => return error_bytes(&format!("ERR blocking command failed: {e}")),
                };
                match redirect_target(&reply) {
                    Some((false, moved)) => {
                        proxy.topo.refresh_soon();
                        target = Some(moved);
                    }
                    _ => return reply,
                }
            }
            error_bytes("ERR too many redirections")
        }
        Pending::Ready(b) => b,
        Pending::Single(f) => finish(proxy, s, f).await,
        Pending::Mget(n, pos, parts) => merge::mget(n, &pos, &finish_all(proxy, s, parts).await, s.resp3),
        Pending::Sum(parts) => merge::sum(&finish_all(proxy, s, parts).await),
        Pending::AllOk(parts) => merge::all_ok(&finish_all(proxy, s, parts).await),
        Pending::Concat(parts) => merge::concat(&finish_all(proxy, s, parts).await, s.resp3),
        Pending::AllTrue(parts) => merge::all_true(&finish_all(proxy, s, parts).await, s.resp3),
        Pending::First(parts) => {
            let all = finish_all(proxy, s, parts).await;
            all.iter().find(|p| p.first() == Some(&b'-')).or(all.first()).cloned().unwrap_or_default()
        }
        Pending::Info(own, parts) => merge::info(&own, &finish_all(proxy, s, parts).await),
        Pending::Scan(node, f) => {
            let raw = finish(proxy, s, f).await;
            rewrite_scan_cursor(proxy, node, raw)
        }
    }
}

/// A queued request's reply when it is already in and needs none of `finish`'s machinery
/// (redirects, retries, timeouts).
fn ready_reply(s: &mut Session, f: &InFlight) -> Option<Bytes> {
    match &f.sent {
        Sent::Queued(t) => s.outbox.take_ready(t),
        Sent::Alone(..) => None,
    }
}

async fn finish_all(proxy: &Arc<Proxy>, s: &mut Session, parts: Vec<InFlight>) -> Vec<Bytes> {
    let mut out = Vec::with_capacity(parts.len());
    for f in parts {
        match ready_reply(s, &f) {
            Some(reply) => out.push(reply),
            None => out.push(finish(proxy, s, f).await),
        }
    }
    out
}

/// Turns a node's SCAN reply into the proxy's cursor space: the node cursor in the low bits,
/// the master index above, moving to the next master when a node is done.
fn rewrite_scan_cursor(proxy: &Proxy, node: usize, raw: Bytes) -> Bytes {
    let Ok(Some((protocol::Frame::Array(mut parts), _))) = protocol::Frame::parse(&raw) else { return raw };
    let Some(protocol::Frame::Bulk(c)) = parts.first() else { return raw };
    let node_cursor: u64 = std::str::from_utf8(c).ok().and_then(|c| c.parse().ok()).unwrap_or(0);
    let masters = proxy.topo.snapshot().masters.len();
    let next = if node_cursor != 0 {
        ((node as u64) << SCAN_NODE_SHIFT) | node_cursor
    } else if node + 1 < masters {
        ((node + 1) as u64) << SCAN_NODE_SHIFT
    } else {
        0
    };
    parts[0] = protocol::Frame::Bulk(Bytes::from(next.to_string()));
    let mut out = BytesMut::new();
    protocol::Frame::Array(parts).encode_resp2(&mut out);
    out.freeze()
}

fn redirect_target(reply: &[u8]) -> Option<(bool, SocketAddr)> {
    let text = std::str::from_utf8(reply).ok()?.trim_end();
    let (ask, rest) =
        if let Some(r) = text.strip_prefix("-MOVED ") { (false, r) } else { (true, text.strip_prefix("-ASK ")?) };
    let addr = rest.split_whitespace().nth(1)?;
    use std::net::ToSocketAddrs;
    Some((ask, addr.to_socket_addrs().ok()?.next()?))
}

/// How often a request without a reply checks whether its slot moved to a new master.
const STALL_CHECK: Duration = Duration::from_millis(250);

/// Awaits a request's reply, following MOVED/ASK and retrying through failovers until the
/// retry deadline.
async fn finish(proxy: &Arc<Proxy>, s: &mut Session, mut f: InFlight) -> Bytes {
    // The retry deadline starts at the first sign of trouble (a stall, a failure), so a reply
    // that arrives at once costs no clock read.
    let mut trouble: Option<Instant> = None;
    let mut deadline = || *trouble.get_or_insert_with(Instant::now) + proxy.cfg.retry_deadline;
    let mut backoff = Duration::from_millis(20);
    let mut redirects = 0;
    loop {
        // Only a resend sent alone keeps its own clock (a queued one has its group's).
        let mut waited: Option<Instant> = None;
        let outcome = loop {
            let outcome = match &mut f.sent {
                Sent::Queued(t) => s.outbox.reply(t, STALL_CHECK, proxy.cfg.command_timeout).await,
                Sent::Alone(rx, _) => {
                    let now = Instant::now();
                    let timeout_at = *waited.get_or_insert(now) + proxy.cfg.command_timeout;
                    match crate::tick::until(timeout_at.min(now + STALL_CHECK), rx).await {
                        None if Instant::now() < timeout_at => Outcome::Waiting,
                        None => Outcome::TimedOut,
                        Some(Err(_)) => Outcome::Failed(BackendError::Lost("backend connection dropped".into())),
                        Some(Ok(Ok(reply))) => Outcome::Reply(reply),
                        Some(Ok(Err(e))) => Outcome::Failed(e),
                    }
                }
            };
            if !matches!(outcome, Outcome::Waiting) {
                break outcome;
            }
            deadline();
            // No reply yet: the node may be frozen. Look for a newer map; a repeatable request
            // goes to the slot's new master as soon as a failover has put one there.
            proxy.topo.refresh_soon();
            if let (true, Some(slot)) = (f.repeatable, f.slot) {
                if let Some(m) = proxy.topo.snapshot().master_of(slot).filter(|m| *m != f.target) {
                    break Outcome::Rerouted(m);
                }
            }
        };
        let retry_reason = match outcome {
            Outcome::Rerouted(target) => {
                proxy.retries.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(to = %target, "a stalled request goes to the slot's new master");
                resend(proxy, s, &mut f, target);
                continue;
            }
            Outcome::Waiting => unreachable!("waiting is handled above"),
            Outcome::TimedOut => {
                // A stalled node: a repeatable request waits for a failover to give its slot to
                // another master, then goes there.
                match (f.repeatable, f.slot) {
                    (true, Some(slot)) => match await_new_master(proxy, slot, f.target, deadline()).await {
                        Some(target) => {
                            proxy.retries.fetch_add(1, Ordering::Relaxed);
                            resend(proxy, s, &mut f, target);
                            continue;
                        }
                        None => return Bytes::from_static(b"-ERR command timed out waiting for a cluster node\r\n"),
                    },
                    _ => return Bytes::from_static(b"-ERR command timed out waiting for a cluster node\r\n"),
                }
            }
            Outcome::Reply(reply) => {
                if reply.starts_with(b"-MOVED ") || reply.starts_with(b"-ASK ") {
                    let Some((ask, target)) = redirect_target(&reply) else { return reply };
                    redirects += 1;
                    proxy.redirects.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(to = %target, ask, "following a redirect");
                    if redirects > 16 {
                        return reply;
                    }
                    if ask {
                        return ask_once(proxy, target, &sent_bytes(s, &f)).await;
                    }
                    proxy.topo.refresh_soon();
                    resend(proxy, s, &mut f, target);
                    continue;
                }
                if reply.starts_with(b"-TRYAGAIN") || reply.starts_with(b"-CLUSTERDOWN") {
                    reply
                } else {
                    return reply;
                }
            }
            Outcome::Failed(BackendError::NotSent(e)) => Bytes::from(format!("-ERR cluster node unreachable: {e}\r\n")),
            Outcome::Failed(BackendError::Lost(e)) => {
                proxy.backend_errors.fetch_add(1, Ordering::Relaxed);
                if !f.repeatable {
                    // The write may have been applied: sending it again could apply it twice.
                    return Bytes::from(format!(
                        "-ERR connection to the cluster node was lost; the command may have been applied ({e})\r\n"
                    ));
                }
                Bytes::from(format!("-ERR connection to the cluster node was lost ({e})\r\n"))
            }
        };
        if Instant::now() + backoff > deadline() {
            return retry_reason;
        }
        proxy.retries.fetch_add(1, Ordering::Relaxed);
        proxy.topo.refresh_soon();
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_millis(500));
        let target = f.slot.and_then(|slot| proxy.topo.snapshot().master_of(slot)).unwrap_or(f.target);
        resend(proxy, s, &mut f, target);
    }
}

/// The encoded command of a request.
fn sent_bytes(s: &Session, f: &InFlight) -> Bytes {
    match &f.sent {
        Sent::Queued(t) => s.outbox.bytes(t),
        Sent::Alone(_, bytes) => bytes.clone(),
    }
}

/// Sends a request again, alone, to `target`.
fn resend(proxy: &Proxy, s: &Session, f: &mut InFlight, target: SocketAddr) {
    let bytes = sent_bytes(s, f);
    f.target = target;
    f.sent = Sent::Alone(proxy.pools.send(target, s.resp3, s.id as usize, bytes.clone()), bytes);
}

/// Polls the topology until `slot` is served by a master other than `old`; `None` at the deadline.
async fn await_new_master(proxy: &Proxy, slot: u16, old: SocketAddr, deadline: Instant) -> Option<SocketAddr> {
    while Instant::now() < deadline {
        let _ = proxy.topo.refresh().await;
        match proxy.topo.snapshot().master_of(slot) {
            Some(m) if m != old => return Some(m),
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    None
}

/// ASK: `ASKING` and the command on a connection of their own, so nothing else slips between.
async fn ask_once(proxy: &Proxy, target: SocketAddr, cmd: &Bytes) -> Bytes {
    let attempt = async {
        // The same handshake as every backend connection (TLS, credentials), RESP2.
        let mut conn = crate::backend::connect(target, false, proxy.pools.opts()).await?;
        crate::backend::write_flush(&mut conn, b"*1\r\n$6\r\nASKING\r\n").await.map_err(|e| e.to_string())?;
        crate::backend::write_flush(&mut conn, cmd).await.map_err(|e| e.to_string())?;
        let frames = read_frames(&mut conn, 2).await?;
        Ok::<Bytes, String>(frames.into_iter().nth(1).unwrap_or_default())
    };
    match tokio::time::timeout(proxy.cfg.command_timeout, attempt).await {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => Bytes::from(format!("-ERR ASK redirection failed: {e}\r\n")),
        Err(_) => Bytes::from_static(b"-ERR ASK redirection timed out\r\n"),
    }
}

async fn read_frames(conn: &mut crate::backend::NodeStream, n: usize) -> Result<Vec<Bytes>, String> {
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    while frames.len() < n {
        match protocol::frame::frame_len(&buf).map_err(|e| e.to_string())? {
            Some(len) => frames.push(buf.split_to(len).freeze()),
            None => {
                if conn.read_buf(&mut buf).await.map_err(|e| e.to_string())? == 0 {
                    return Err("closed".into());
                }
            }
        }
    }
    Ok(frames)
}
