//! One client session: decode requests, plan each from one slot-map snapshot (`plan`), send
//! the sub-requests to the backend lanes (pipelined across the whole batch), then collect
//! replies in request order (`exec`) and write them at once. Transactions are queued here and
//! sent to one node at EXEC; commands whose keys span slots go to `crossslot`.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use protocol::command::{flags, Merge, Pin, Route};
use protocol::{lookup, CommandDecoder, CommandSpec, DecodeLimits};
use tokio::io::AsyncReadExt;

use crate::backend::encode;
use crate::exec::{finish, finish_all, push, ready_reply, scan_onwards, InFlight};
use crate::merge;
use crate::pinned::Pinned;
use crate::plan::{command_slot, PartArgs, Plan, CROSSSLOT};
use crate::state::{error_reply as error_bytes, target_for, Session};
pub use crate::state::{ClientStream, Proxy};

/// How the replies of a planned request become one reply.
enum Pending {
    Ready(Bytes),
    Single(InFlight),
    Mget(usize, Vec<Vec<usize>>, Vec<InFlight>),
    Merged(Merge, Vec<InFlight>),
    Info(String, Vec<InFlight>),
    Scan(usize, InFlight, Vec<Bytes>),
    /// EXEC of the queued commands (all on one slot, if any has keys).
    Exec(Vec<Vec<Bytes>>, Option<u16>),
    /// WATCH on the node of the slot; the connection stays with the client.
    Watch(Vec<Bytes>, Option<u16>),
    /// A blocking command on a connection of its own.
    Blocking(Vec<Bytes>, Option<u16>),
    /// A blocking command over several slots, polled.
    BlockingAcross(&'static CommandSpec, Vec<Bytes>),
    /// Keys across slots, computed by the proxy.
    Gather(protocol::command::Gather, &'static CommandSpec, Vec<Bytes>),
    /// RANDOMKEY after every master's DBSIZE.
    RandomKey(Vec<InFlight>),
    /// WAIT on the nodes the client wrote to.
    Wait(Vec<Bytes>, Vec<SocketAddr>),
}

fn err(msg: &str) -> Pending {
    Pending::Ready(error_bytes(msg))
}

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
    let mut s = Session::new(id, &proxy, local, peer);
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
    // Under --write-ack: each reply's place in `out`, and whether its command writes.
    let mut replies: Vec<(usize, usize, bool)> = Vec::new();
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
                    let subscribes = spec.is_some_and(|c| c.route == Route::Subscribe);
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
                    let p = plan(proxy, s, spec, &args);
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
        let write_ack = proxy.cfg.write_ack.filter(|_| s.multi.is_none());
        for (spec, p) in batch.drain(..) {
            // Most replies are in once their group's first one is: copied out without the
            // machinery of `finish` (redirects, retries, timeouts).
            let ready = match &p {
                Pending::Single(f) => ready_reply(s, f),
                _ => None,
            };
            let start = out.len();
            match ready {
                Some(reply) => out.extend_from_slice(&reply),
                None => out.extend_from_slice(&resolve(proxy, &mut *s, p).await),
            }
            if write_ack.is_some() {
                replies.push((start, out.len(), spec.is_some_and(may_write)));
            }
            specs.push(spec);
        }
        s.outbox.clear();
        // Only batches that wrote wait (a PING alone must not pay for a WAIT).
        if let Some(ack) = write_ack.filter(|_| !s.written.is_empty() && replies.iter().any(|r| r.2)) {
            let nodes = std::mem::take(&mut s.written);
            if let Some(failed) = crate::wait::confirm(proxy, s, nodes, ack).await {
                out = unconfirmed(&out, &replies, &failed);
            }
        }
        replies.clear();
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

/// Whether a command's success may mean a write a replica must hold (`--write-ack`).
fn may_write(spec: &CommandSpec) -> bool {
    spec.has(flags::WRITE) || spec.has(flags::MAY_REPLICATE)
}

/// The batch's replies with every successful write's reply replaced by `failed`: the client
/// must not take for done what the replicas did not confirm.
fn unconfirmed(out: &[u8], replies: &[(usize, usize, bool)], failed: &[u8]) -> BytesMut {
    let mut rebuilt = BytesMut::with_capacity(out.len());
    let mut at = 0;
    for &(start, end, writes) in replies {
        rebuilt.extend_from_slice(&out[at..start]);
        let reply = &out[start..end];
        rebuilt.extend_from_slice(if writes && reply.first() != Some(&b'-') { failed } else { reply });
        at = end;
    }
    rebuilt.extend_from_slice(&out[at..]);
    rebuilt
}

fn plan(proxy: &Arc<Proxy>, s: &mut Session, spec: Option<&'static CommandSpec>, args: &[Bytes]) -> Pending {
    // Access control comes first: nothing a user may not run reaches a node (or a queue).
    if let Some(denied) = crate::acl::gate_spec(proxy, s, spec, args) {
        s.multi_error |= s.multi.is_some();
        return Pending::Ready(denied);
    }
    let spec = spec.map(|c| crate::plan::resolve(c, args));
    if s.multi.is_some() && queued(spec) {
        return queue(s, spec, args);
    }
    let map = proxy.topo.snapshot();
    let planned = crate::plan::plan(&proxy.plan_ctx(&map, s), spec, args);
    let writes = spec.is_none_or(|c| !c.has(flags::READONLY));
    match planned {
        Plan::Error(e) => {
            if e.starts_with("CLUSTERDOWN") {
                proxy.topo.refresh_soon();
            }
            err(&e)
        }
        Plan::Reply(r) => Pending::Ready(Bytes::from_static(r)),
        Plan::Local => {
            let name = spec.map_or("", |c| c.name.split('|').next().unwrap_or(c.name));
            Pending::Ready(crate::local::answer(proxy, s, name, args))
        }
        Plan::One(part) => Pending::Single(push(s, part, args, &[], writes)),
        Plan::Split(Merge::InKeyOrder, parts, keys) => {
            let positions = parts
                .iter()
                .map(|p| match &p.args {
                    PartArgs::Keys { range, .. } => keys[range.clone()].iter().map(|&(_, k)| k).collect(),
                    _ => Vec::new(),
                })
                .collect();
            let parts = parts.into_iter().map(|p| push(s, p, args, &keys, writes)).collect();
            Pending::Mget(args.len() - 1, positions, parts)
        }
        Plan::Split(merge, parts, keys) => {
            Pending::Merged(merge, parts.into_iter().map(|p| push(s, p, args, &keys, writes)).collect())
        }
        Plan::Fanout(Merge::Info, parts) => {
            Pending::Info(own_info(proxy), parts.into_iter().map(|p| push(s, p, args, &[], false)).collect())
        }
        Plan::Fanout(Merge::RandomKey, parts) => {
            Pending::RandomKey(parts.into_iter().map(|p| push(s, p, args, &[], false)).collect())
        }
        Plan::Fanout(merge, parts) => {
            Pending::Merged(merge, parts.into_iter().map(|p| push(s, p, args, &[], writes)).collect())
        }
        Plan::Scan(node, part) => Pending::Scan(node, push(s, part, args, &[], false), args.to_vec()),
        Plan::Gather(g) => match spec {
            Some(spec) => Pending::Gather(g, spec, args.to_vec()),
            None => err(CROSSSLOT),
        },
        Plan::Pinned(Pin::Transaction, _) => transaction(s, spec.map_or("", |c| c.name)),
        Plan::Pinned(Pin::Watch, _) if s.multi.is_some() => err("ERR WATCH inside MULTI is not allowed"),
        Plan::Pinned(Pin::Watch, slot) => Pending::Watch(args.to_vec(), slot),
        Plan::Pinned(Pin::Blocking | Pin::BlockOption, slot) => match (slot, spec) {
            (None, Some(spec)) if spec.keys != protocol::KeySpec::None => Pending::BlockingAcross(spec, args.to_vec()),
            _ => Pending::Blocking(args.to_vec(), slot),
        },
        Plan::Wait => Pending::Wait(args.to_vec(), std::mem::take(&mut s.written)),
        // Handled before planning; inside MULTI it was queued.
        Plan::Subscribe => err("ERR SUBSCRIBE is not allowed here"),
    }
}

/// RANDOMKEY on a master picked by its share of the keys (`sizes`: each master's DBSIZE); nil
/// only when every master is empty.
async fn random_key(proxy: &Arc<Proxy>, s: &mut Session, sizes: Vec<InFlight>) -> Bytes {
    let targets: Vec<SocketAddr> = sizes.iter().map(|f| f.target).collect();
    let mut counts: Vec<u64> = Vec::with_capacity(targets.len());
    for reply in finish_all(proxy, s, sizes).await {
        match protocol::Frame::parse(&reply) {
            Ok(Some((protocol::Frame::Integer(n), _))) => counts.push(n.max(0) as u64),
            _ => return reply,
        }
    }
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let mut seed = u64::from(nanos) ^ s.id.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    // A master emptied since its DBSIZE answers nil: the others are asked in turn.
    while counts.iter().any(|&c| c > 0) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut pick = seed % counts.iter().sum::<u64>();
        let mut i = 0;
        while pick >= counts[i] {
            pick -= counts[i];
            i += 1;
        }
        let reply = crate::exec::call(proxy, s, targets[i], None, &[&b"RANDOMKEY"[..]], true).await;
        let nil = reply.starts_with(b"$-1") || reply.starts_with(b"_");
        if !nil {
            return reply;
        }
        counts[i] = 0;
    }
    let mut r = s.reply();
    r.null();
    r.buf.freeze()
}

/// Whether a command is queued inside MULTI: all but the transaction's own commands, and QUIT
/// and RESET (which Redis's processCommand also runs at once).
fn queued(spec: Option<&CommandSpec>) -> bool {
    match spec {
        Some(c) => {
            !matches!(c.route, Route::Pinned(Pin::Transaction) | Route::Pinned(Pin::Watch))
                && !matches!(c.name, "quit" | "reset")
        }
        None => true,
    }
}

/// Queues a command of a transaction. The whole transaction goes to one node at EXEC, so every
/// key must share one slot (an error here dooms the transaction, as Redis's EXECABORT does).
fn queue(s: &mut Session, spec: Option<&CommandSpec>, args: &[Bytes]) -> Pending {
    let slot = match spec {
        Some(spec) => command_slot(spec, args),
        None => Ok(args.get(1).map(|k| protocol::key_slot(k))),
    };
    match slot {
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
            Pending::Ready(Bytes::from_static(b"+QUEUED\r\n"))
        }
        Err(e) => {
            s.multi_error = true;
            err(&e)
        }
    }
}

/// MULTI, EXEC, DISCARD.
fn transaction(s: &mut Session, name: &str) -> Pending {
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
        _ => {
            if s.multi.take().is_none() {
                return err("ERR DISCARD without MULTI");
            }
            s.multi_slot = None;
            s.multi_error = false;
            // Dropping the pinned connection drops its WATCHes too.
            s.pinned = None;
            Pending::Ready(Bytes::from_static(b"+OK\r\n"))
        }
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
            // Under --write-ack the transaction's writes are confirmed on its own connection
            // (WAIT counts what that connection wrote).
            let ack = proxy.cfg.write_ack;
            if let Some(ack) = ack {
                let (n, ms) = (ack.replicas.to_string(), ack.timeout.as_millis().to_string());
                reqs.push(encode(&[Bytes::from_static(b"WAIT"), Bytes::from(n), Bytes::from(ms)]));
            }
            let n = reqs.len();
            let timeout = proxy.cfg.command_timeout + ack.map_or(Duration::ZERO, |a| a.timeout);
            match pinned.call(&reqs, n, Some(timeout)).await {
                Ok(mut replies) => {
                    let waited = if ack.is_some() { replies.pop() } else { None };
                    let exec = replies.pop().unwrap_or_default();
                    match (ack, waited) {
                        (Some(ack), Some(w)) => crate::wait::exec_confirmed(proxy, exec, &w, ack),
                        _ => exec,
                    }
                }
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
        Pending::Blocking(args, slot) => crate::blocking::single_slot(proxy, s, args, slot).await,
        Pending::Ready(b) => b,
        Pending::Single(f) => finish(proxy, s, f).await,
        Pending::Mget(n, pos, parts) => merge::mget(n, &pos, &finish_all(proxy, s, parts).await, s.resp3),
        Pending::Merged(how, parts) => {
            let all = finish_all(proxy, s, parts).await;
            match how {
                Merge::Sum => merge::sum(&all),
                Merge::AllOk => merge::all_ok(&all),
                Merge::Concat => merge::concat(&all, s.resp3),
                Merge::AllTrue => merge::all_true(&all, s.resp3),
                Merge::FirstReply | Merge::InKeyOrder | Merge::Info | Merge::RandomKey => {
                    all.iter().find(|p| p.first() == Some(&b'-')).or(all.first()).cloned().unwrap_or_default()
                }
            }
        }
        Pending::RandomKey(parts) => random_key(proxy, s, parts).await,
        Pending::Gather(g, spec, args) => crate::crossslot::gather(proxy, s, g, spec, args).await,
        Pending::BlockingAcross(spec, args) => crate::crossslot::blocking(proxy, s, spec, args).await,
        Pending::Wait(args, nodes) => crate::wait::wait(proxy, s, &args, nodes).await,
        Pending::Info(own, parts) => merge::info(&own, &finish_all(proxy, s, parts).await),
        Pending::Scan(node, f, args) => {
            let raw = finish(proxy, s, f).await;
            scan_onwards(proxy, s, node, raw, &args).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::unconfirmed;

    /// Only successful writes lose their reply; reads and errors keep theirs, in place.
    #[test]
    fn unconfirmed_writes_get_the_error() {
        let out = b"+OK\r\n$1\r\nv\r\n-ERR wrong\r\n:5\r\n";
        let replies = [(0, 5, true), (5, 12, false), (12, 24, true), (24, 28, true)];
        let failed = b"-NOREPLICAS x\r\n";
        let rebuilt = unconfirmed(out, &replies, failed);
        assert_eq!(&rebuilt[..], &b"-NOREPLICAS x\r\n$1\r\nv\r\n-ERR wrong\r\n-NOREPLICAS x\r\n"[..]);
    }
}
