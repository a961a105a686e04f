//! Execution: awaiting a request's reply, following MOVED and ASK, and riding out failovers.
//!
//! Retry rule: a request is sent again only when it cannot have been applied (after MOVED, ASK,
//! TRYAGAIN or CLUSTERDOWN replies, or when it was never written), or when applying it twice
//! leaves the same data as applying it once: reads, and writes the command table marks as
//! idempotent (plain SET, MSET, DEL, HSET, SADD, EXPIREAT, ...) whose node stalled or dropped the
//! connection; those are sent again to the slot's new master once a failover replaced the old
//! one. Any other write in that situation gets an error, because it may have been applied.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::sync::oneshot;

use crate::backend::{BackendError, ReplyResult};
use crate::outbox::{Outcome, Ticket};
use crate::plan::{Part, PartArgs, SCAN_NODE_SHIFT};
use crate::state::{Proxy, Session};

/// A request sent to one node, with what is needed to send it again.
pub(crate) struct InFlight {
    pub(crate) sent: Sent,
    pub(crate) slot: Option<u16>,
    pub(crate) target: SocketAddr,
    /// Sending it twice leaves the same data as once (a read, or an idempotent write).
    pub(crate) repeatable: bool,
    /// A write: where it lands counts for the client's next WAIT, also after a resend.
    pub(crate) writes: bool,
}

/// How a request went out: in the batch's outbox, or alone (a resend after a redirect).
pub(crate) enum Sent {
    Queued(Ticket),
    Alone(oneshot::Receiver<ReplyResult>, Bytes),
}

/// Queues a planned part in the batch's outbox; `args` is the whole request, `keys` the plan's
/// key list for split parts.
pub(crate) fn push(s: &mut Session, part: Part, args: &[Bytes], keys: &[(u16, usize)], writes: bool) -> InFlight {
    let sent = match &part.args {
        PartArgs::Whole => s.outbox.push(part.target, s.resp3, args),
        PartArgs::Own(own) => s.outbox.push(part.target, s.resp3, own),
        PartArgs::Keys { stride, range } => {
            let picked = keys[range.clone()].iter().flat_map(|&(_, k)| &args[1 + k * stride..1 + (k + 1) * stride]);
            let count = 1 + range.len() * stride;
            s.outbox.push_of(part.target, s.resp3, count, std::iter::once(&args[0]).chain(picked).map(|a| &a[..]))
        }
    };
    if writes {
        s.wrote_to(part.target);
    }
    InFlight { sent: Sent::Queued(sent), slot: part.slot, target: part.target, repeatable: part.repeatable, writes }
}

/// Sends one request alone (outside the batch) and awaits its reply through `finish`.
pub(crate) async fn call<A: AsRef<[u8]>>(
    proxy: &Arc<Proxy>,
    s: &mut Session,
    target: SocketAddr,
    slot: Option<u16>,
    args: &[A],
    repeatable: bool,
) -> Bytes {
    let mut out = BytesMut::new();
    protocol::encode::write_command(&mut out, args);
    let bytes = out.freeze();
    let rx = proxy.pools.send(target, s.resp3, s.id as usize, bytes.clone());
    finish(proxy, s, InFlight { sent: Sent::Alone(rx, bytes), slot, target, repeatable, writes: false }).await
}

/// A queued request's reply when it is already in and needs none of `finish`'s machinery
/// (redirects, retries, timeouts).
pub(crate) fn ready_reply(s: &mut Session, f: &InFlight) -> Option<Bytes> {
    match &f.sent {
        Sent::Queued(t) => s.outbox.take_ready(t),
        Sent::Alone(..) => None,
    }
}

pub(crate) async fn finish_all(proxy: &Arc<Proxy>, s: &mut Session, parts: Vec<InFlight>) -> Vec<Bytes> {
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
/// the master index above. A node that is done hands over to the next master at once while the
/// call has fewer keys than COUNT, so a small keyspace is scanned in one call, as on one Redis.
pub(crate) async fn scan_onwards(
    proxy: &Arc<Proxy>,
    s: &mut Session,
    mut node: usize,
    mut raw: Bytes,
    args: &[Bytes],
) -> Bytes {
    let count = args
        .iter()
        .position(|a| a.eq_ignore_ascii_case(b"count"))
        .and_then(|i| std::str::from_utf8(args.get(i + 1)?).ok()?.parse::<usize>().ok())
        .unwrap_or(10);
    let mut keys = Vec::new();
    let next = loop {
        let Ok(Some((protocol::Frame::Array(mut parts), _))) = protocol::Frame::parse(&raw) else { return raw };
        let (Some(protocol::Frame::Array(items)), Some(protocol::Frame::Bulk(c))) = (parts.pop(), parts.pop()) else {
            return raw;
        };
        keys.extend(items);
        let node_cursor: u64 = std::str::from_utf8(&c).ok().and_then(|c| c.parse().ok()).unwrap_or(0);
        let masters = proxy.topo.snapshot().masters.clone();
        if node_cursor != 0 {
            break ((node as u64) << SCAN_NODE_SHIFT) | node_cursor;
        }
        if node + 1 >= masters.len() {
            break 0;
        }
        node += 1;
        if keys.len() >= count {
            break (node as u64) << SCAN_NODE_SHIFT;
        }
        let mut sub = args.to_vec();
        sub[1] = Bytes::from_static(b"0");
        raw = call(proxy, s, masters[node], None, &sub, true).await;
    };
    let reply = protocol::Frame::Array(vec![
        protocol::Frame::Bulk(Bytes::from(next.to_string())),
        protocol::Frame::Array(keys),
    ]);
    let mut out = BytesMut::new();
    if s.resp3 {
        reply.encode(&mut out);
    } else {
        reply.encode_resp2(&mut out);
    }
    out.freeze()
}

/// How often a request without a reply checks whether its slot moved to a new master.
const STALL_CHECK: Duration = Duration::from_millis(250);

/// Awaits a request's reply, following MOVED/ASK and retrying through failovers until the
/// retry deadline.
pub(crate) async fn finish(proxy: &Arc<Proxy>, s: &mut Session, mut f: InFlight) -> Bytes {
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
                    let Some((ask, target)) = proxy.topo.redirect_target(&reply, f.target).await else { return reply };
                    redirects += 1;
                    proxy.redirects.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(to = %target, ask, "following a redirect");
                    if redirects > 16 {
                        return reply;
                    }
                    if ask {
                        return ask_once(proxy, s, target, &sent_bytes(s, &f)).await;
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
fn resend(proxy: &Proxy, s: &mut Session, f: &mut InFlight, target: SocketAddr) {
    let bytes = sent_bytes(s, f);
    if f.writes {
        s.wrote_to(target);
    }
    f.target = target;
    f.sent = Sent::Alone(proxy.pools.send(target, s.resp3, s.id as usize, bytes.clone()), bytes);
}

/// Polls the topology until `slot` is served by a master other than `old`; `None` at the deadline.
pub(crate) async fn await_new_master(
    proxy: &Proxy,
    slot: u16,
    old: SocketAddr,
    deadline: Instant,
) -> Option<SocketAddr> {
    while Instant::now() < deadline {
        let _ = proxy.topo.refresh().await;
        match proxy.topo.snapshot().master_of(slot) {
            Some(m) if m != old => return Some(m),
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    None
}

/// ASK: `ASKING` and the command as one group on the client's pooled connection to the
/// target, in the client's protocol, so nothing else slips between them.
async fn ask_once(proxy: &Proxy, s: &Session, target: SocketAddr, cmd: &Bytes) -> Bytes {
    let mut both = BytesMut::with_capacity(cmd.len() + 16);
    both.extend_from_slice(b"*1\r\n$6\r\nASKING\r\n");
    both.extend_from_slice(cmd);
    let rx = proxy.pools.send_group(target, s.resp3, s.id as usize, both.freeze(), 2);
    match tokio::time::timeout(proxy.cfg.command_timeout, rx).await {
        Ok(Ok(replies)) => match (replies.frames.into_iter().nth(1), replies.error) {
            (Some(reply), _) => reply,
            (None, Some(e)) => Bytes::from(format!("-ERR ASK redirection failed: {e:?}\r\n")),
            (None, None) => Bytes::from_static(b"-ERR ASK redirection failed\r\n"),
        },
        Ok(Err(_)) => Bytes::from_static(b"-ERR ASK redirection failed: connection dropped\r\n"),
        Err(_) => Bytes::from_static(b"-ERR ASK redirection timed out\r\n"),
    }
}
