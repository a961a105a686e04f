//! Multi-key commands whose keys sit on several slots, computed by the proxy as one Redis would
//! answer them (`--cross-slot emulate`). Each family's order of effects is chosen so that a
//! failure halfway loses no acknowledged data, and a failed second step is reported as an
//! error, never as success (the README's "Across slots" section lists what a concurrent client
//! can observe).
//!
//! - Colocate (set and sorted-set algebra, the *STORE commands, LCS): the sources are copied
//!   with DUMP/RESTORE to temporary keys that share one slot (expiring after a minute should
//!   the proxy die halfway), the node runs the command itself on them, so replies are exactly
//!   Redis's, and a destination is written in one RESTORE ... REPLACE on its node (an empty
//!   result deletes it; like Redis, it loses its TTL unless it was also a source).
//! - RENAME/RENAMENX/COPY: value and absolute expiry copied first; RENAME then deletes the
//!   source in a MULTI under WATCH, copying again if the source changed meanwhile.
//! - SMOVE: added to the destination, then removed from the source (undone if another client
//!   removed it first). LMOVE/RPOPLPUSH: popped, pushed, pushed back if the push fails.
//! - A move waits for a replica of the destination's master to hold the copy before it deletes
//!   the source, and for one of the source's to hold the removal before it replies (where the
//!   masters have replicas), so a failover neither loses the value nor shows it twice.
//! - MSETNX: no key exists, then MSET per slot. LMPOP/ZMPOP: each key in turn.
//! - Blocking pops over several slots poll each key's node in the given order with the
//!   non-blocking form of the command; the first element popped ends the wait, so no element is
//!   taken twice or lost.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use protocol::command::{Gather, KeyUse};
use protocol::{key_slot, CommandSpec, Frame};

use crate::exec::{finish, InFlight, Sent};
use crate::pinned::Pinned;
use crate::state::{error_reply as error, Proxy, Session};

/// Temporary keys live this long should the proxy die before removing them.
const TEMP_TTL_MS: &str = "60000";
/// How often a source that changed under RENAME is copied again before giving up.
const RENAME_ATTEMPTS: usize = 16;

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

/// Sends requests, each to the master of its key's slot, all at once; replies in order.
async fn call_many(proxy: &Arc<Proxy>, s: &mut Session, reqs: Vec<(u16, Vec<Bytes>)>) -> Vec<Bytes> {
    let map = proxy.topo.snapshot();
    let mut flights = Vec::with_capacity(reqs.len());
    for (slot, args) in reqs {
        let Some(target) = map.master_of(slot) else {
            proxy.topo.refresh_soon();
            flights.push(Err(error("CLUSTERDOWN Hash slot not served")));
            continue;
        };
        let bytes = crate::backend::encode(&args);
        let rx = proxy.pools.send(target, s.resp3, s.id as usize, bytes.clone());
        // Only reads are sent again after a lost connection; the table says which.
        let readonly = protocol::lookup(&args[0]).is_some_and(|c| c.has(protocol::command::flags::READONLY));
        if !readonly {
            s.wrote_to(target);
        }
        let sent = Sent::Alone(rx, bytes);
        flights.push(Ok(InFlight { sent, slot: Some(slot), target, repeatable: readonly, writes: !readonly }));
    }
    let mut out = Vec::with_capacity(flights.len());
    for f in flights {
        out.push(match f {
            Ok(f) => finish(proxy, s, f).await,
            Err(e) => e,
        });
    }
    out
}

/// One request to the master of `key`'s slot.
async fn on_key(proxy: &Arc<Proxy>, s: &mut Session, key: &[u8], args: Vec<Bytes>) -> Bytes {
    call_many(proxy, s, vec![(key_slot(key), args)]).await.pop().unwrap_or_default()
}

fn words(w: &[&[u8]]) -> Vec<Bytes> {
    w.iter().map(|x| Bytes::copy_from_slice(x)).collect()
}

fn parse(raw: &[u8]) -> Option<Frame> {
    Frame::parse(raw).ok().flatten().map(|(f, _)| f)
}

fn is_error(raw: &[u8]) -> bool {
    raw.first() == Some(&b'-')
}

fn is_null(raw: &[u8]) -> bool {
    matches!(parse(raw), Some(Frame::Null)) || raw.starts_with(b"*-1") || raw.starts_with(b"$-1")
}

fn integer(raw: &[u8]) -> Option<i64> {
    match parse(raw)? {
        Frame::Integer(n) => Some(n),
        _ => None,
    }
}

fn bulk(raw: &[u8]) -> Option<Bytes> {
    match parse(raw)? {
        Frame::Bulk(b) => Some(b),
        _ => None,
    }
}

fn simple(raw: &[u8]) -> String {
    match parse(raw) {
        Some(Frame::Simple(b)) | Some(Frame::Bulk(b)) => String::from_utf8_lossy(&b).into_owned(),
        _ => String::new(),
    }
}

/// RESTORE of `payload` at `dst` with the expiry a `PEXPIRETIME` replied (`expiry`): absolute
/// when the source had one, none otherwise.
fn restore_at(dst: &Bytes, payload: Bytes, expiry: &[u8], replace: bool) -> Vec<Bytes> {
    let at = integer(expiry).filter(|&at| at > 0);
    let ttl = at.map_or(Bytes::from_static(b"0"), |at| Bytes::from(at.to_string()));
    let mut restore = vec![Bytes::from_static(b"RESTORE"), dst.clone(), ttl, payload];
    if replace {
        restore.push(Bytes::from_static(b"REPLACE"));
    }
    if at.is_some() {
        restore.push(Bytes::from_static(b"ABSTTL"));
    }
    restore
}

/// Computes a cross-slot command (`spec` is its table entry, already resolved).
pub(crate) async fn gather(
    proxy: &Arc<Proxy>,
    s: &mut Session,
    g: Gather,
    spec: &CommandSpec,
    args: Vec<Bytes>,
) -> Bytes {
    match g {
        Gather::Colocate => colocate(proxy, s, spec, &args).await,
        Gather::Rename => rename(proxy, s, &args, false).await,
        Gather::RenameNx => rename(proxy, s, &args, true).await,
        Gather::Copy => copy(proxy, s, &args).await,
        Gather::Smove => smove(proxy, s, &args).await,
        Gather::Lmove => lmove(proxy, s, &args).await,
        Gather::Msetnx => msetnx(proxy, s, &args).await,
        Gather::FirstNonEmpty => first_non_empty(proxy, s, spec, &args).await,
    }
}

fn key_positions(spec: &CommandSpec, args: &[Bytes]) -> Vec<usize> {
    spec.key_indexes(args.len(), |i| args.get(i).map(|a| &a[..])).unwrap_or_default()
}

/// A hash tag no other request uses, so temporary keys of concurrent requests never meet.
fn temp_tag(s: &Session) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!("{{slotgate:tmp:{}:{}:{}}}", std::process::id(), s.id, N.fetch_add(1, Ordering::Relaxed))
}

async fn colocate(proxy: &Arc<Proxy>, s: &mut Session, spec: &CommandSpec, args: &[Bytes]) -> Bytes {
    let positions = key_positions(spec, args);
    let (first_use, rest_use) = spec.uses.unwrap_or((KeyUse::Read, KeyUse::Read));
    let tag = temp_tag(s);
    let temp_slot = key_slot(tag.as_bytes());
    // Distinct key names, each with its temporary name and whether its value is read.
    let mut keys: Vec<(Bytes, Bytes, bool)> = Vec::new();
    let mut rewritten = args.to_vec();
    for (n, &i) in positions.iter().enumerate() {
        let reads = (if n == 0 { first_use } else { rest_use }).needs().0;
        let j = match keys.iter().position(|(k, _, _)| *k == args[i]) {
            Some(j) => j,
            None => {
                keys.push((args[i].clone(), Bytes::from(format!("{tag}:{}", keys.len())), false));
                keys.len() - 1
            }
        };
        keys[j].2 |= reads;
        rewritten[i] = keys[j].1.clone();
    }
    // The destination is the key written: the first for the *STORE commands, the last one
    // after STORE/STOREDIST for GEORADIUS. One the command also reads (PFMERGE) keeps its
    // expiry; a *STORE's is replaced.
    let written =
        positions.iter().enumerate().rev().find(|(n, _)| (if *n == 0 { first_use } else { rest_use }).needs().1);
    let dest = written.map(|(n, &i)| {
        let usage = if n == 0 { first_use } else { rest_use };
        (args[i].clone(), rewritten[i].clone(), usage.needs().0)
    });
    let result = colocated_run(proxy, s, &keys, temp_slot, rewritten, dest).await;
    // The temporary keys go whatever happened (they expire on their own otherwise).
    let mut del = vec![Bytes::from_static(b"DEL")];
    del.extend(keys.iter().map(|(_, t, _)| t.clone()));
    call_many(proxy, s, vec![(temp_slot, del)]).await;
    result
}

async fn colocated_run(
    proxy: &Arc<Proxy>,
    s: &mut Session,
    keys: &[(Bytes, Bytes, bool)],
    temp_slot: u16,
    rewritten: Vec<Bytes>,
    dest: Option<(Bytes, Bytes, bool)>,
) -> Bytes {
    // Copy what is read: DUMP and the expiry (kept for a destination that is also a source).
    let sources: Vec<&(Bytes, Bytes, bool)> = keys.iter().filter(|k| k.2).collect();
    let mut reqs = Vec::new();
    for (key, _, _) in &sources {
        reqs.push((key_slot(key), vec![Bytes::from_static(b"DUMP"), key.clone()]));
        reqs.push((key_slot(key), vec![Bytes::from_static(b"PEXPIRETIME"), key.clone()]));
    }
    let dumped = call_many(proxy, s, reqs).await;
    if let Some(e) = dumped.iter().find(|r| is_error(r)) {
        return e.clone();
    }
    let mut restores = Vec::new();
    let mut dest_expiry = None;
    for ((key, temp, _), pair) in sources.iter().zip(dumped.chunks(2)) {
        if dest.as_ref().is_some_and(|(d, _, keeps_ttl)| *keeps_ttl && d == key) {
            dest_expiry = Some(pair[1].clone());
        }
        if let Some(payload) = bulk(&pair[0]) {
            let restore =
                vec![Bytes::from_static(b"RESTORE"), temp.clone(), Bytes::from_static(TEMP_TTL_MS.as_bytes()), payload];
            restores.push((temp_slot, restore));
        }
    }
    if let Some(e) = call_many(proxy, s, restores).await.into_iter().find(|r| is_error(r)) {
        return e;
    }
    let reply = call_many(proxy, s, vec![(temp_slot, rewritten)]).await.pop().unwrap_or_default();
    let Some((dest, temp_dest, _)) = dest else { return reply };
    if is_error(&reply) {
        return reply;
    }
    // The destination is replaced in one step on its own node.
    let payload = call_many(proxy, s, vec![(temp_slot, vec![Bytes::from_static(b"DUMP"), temp_dest])]).await;
    let written = match payload.first().and_then(|p| bulk(p)) {
        None => on_key(proxy, s, &dest, vec![Bytes::from_static(b"DEL"), dest.clone()]).await,
        Some(payload) => {
            let expiry = dest_expiry.unwrap_or_else(|| Bytes::from_static(b":-1\r\n"));
            on_key(proxy, s, &dest, restore_at(&dest, payload, &expiry, true)).await
        }
    };
    if is_error(&written) {
        return written;
    }
    reply
}

/// A move's two steps should survive either master's failure: the copy before the source loses
/// the value, the removal before the move is acknowledged (else a promoted replica would show it
/// twice). When the key's master has replicas, WAIT until one holds the step (up to the command
/// timeout). Without a live replica there is no such guarantee, as on one Redis. False when a
/// replica exists but none confirmed the step (its master may be failing).
async fn replicated(proxy: &Arc<Proxy>, s: &mut Session, dst: &[u8]) -> bool {
    let slot = key_slot(dst);
    let map = proxy.topo.snapshot();
    let (Some(master), Some(replicas)) = (map.master_of(slot), map.replicas_of(slot)) else { return true };
    if replicas.is_empty() {
        return true;
    }
    let timeout = Bytes::from(proxy.cfg.command_timeout.as_millis().to_string());
    let wait = [Bytes::from_static(b"WAIT"), Bytes::from_static(b"1"), timeout];
    integer(&crate::wait::wait(proxy, s, &wait, vec![master]).await).is_some_and(|n| n >= 1)
}

/// The reply of a move whose copy no replica confirmed: the value was put back where it came
/// from, and may also be in the destination.
const UNCONFIRMED: &str =
    "ERR the destination's master did not confirm the move to a replica; the value is kept in the source";

/// Whether a reply asks to try again once the topology settles (a slot moving or failing over).
fn transient(raw: &[u8]) -> bool {
    [&b"-MOVED"[..], b"-ASK", b"-TRYAGAIN", b"-CLUSTERDOWN", b"-LOADING"].iter().any(|p| raw.starts_with(p))
}

/// WATCHes `key` on a connection of its own to the key's master and sends `reads` there. A node
/// that fails (a failover under way) or a slot on the move is asked again, on the slot's master
/// of the moment, until `deadline`: reading changes nothing. The replies exclude WATCH's.
async fn watched_read(
    proxy: &Arc<Proxy>,
    key: &Bytes,
    reads: &[Vec<Bytes>],
    deadline: Instant,
    what: &str,
) -> Result<(Pinned, Vec<Bytes>), Bytes> {
    loop {
        let Some(node) = proxy.topo.snapshot().master_of(key_slot(key)) else {
            return Err(error("CLUSTERDOWN Hash slot not served"));
        };
        let mut reqs = vec![crate::backend::encode(&words(&[b"WATCH", key]))];
        reqs.extend(reads.iter().map(|r| crate::backend::encode(r)));
        let attempt = match Pinned::open(node, false, proxy.pools.opts()).await {
            Ok(mut conn) => conn.call(&reqs, reqs.len(), Some(proxy.cfg.command_timeout)).await.map(|r| (conn, r)),
            Err(e) => Err(e),
        };
        let (conn, mut read) = match attempt {
            Ok(done) => done,
            Err(e) if Instant::now() > deadline => {
                return Err(error(&format!("ERR {what} could not read the source: {e}")));
            }
            Err(_) => {
                proxy.topo.refresh_soon();
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if let Some(t) = read.iter().find(|r| transient(r)) {
            if Instant::now() > deadline {
                return Err(t.clone());
            }
            proxy.topo.refresh_soon();
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        if let Some(e) = read.iter().find(|r| is_error(r)) {
            return Err(e.clone());
        }
        read.remove(0);
        return Ok((conn, read));
    }
}

/// How removing a copied value from its WATCHed source ended.
enum Removal {
    Done,
    /// The source changed after it was read (EXEC nil) or its slot began moving (the queued
    /// command was redirected, EXECABORT): nothing was removed; copy again.
    Retry,
    /// Nothing was removed, and the move ends with this reply.
    Refused(Bytes),
    /// The connection failed: the removal may or may not have happened.
    Unknown(Bytes),
}

/// Runs `cmd` (the removal) in MULTI on the connection that WATCHes the source. `changes`
/// counts the times the source changed, up to RENAME_ATTEMPTS; a moving slot is waited for
/// until `deadline`.
async fn remove_watched(
    proxy: &Arc<Proxy>,
    conn: &mut Pinned,
    cmd: Vec<Bytes>,
    changes: &mut usize,
    deadline: Instant,
    what: &str,
) -> Removal {
    let reqs = [
        crate::backend::encode(&words(&[b"MULTI"])),
        crate::backend::encode(&cmd),
        crate::backend::encode(&words(&[b"EXEC"])),
    ];
    let done = match conn.call(&reqs, 3, Some(proxy.cfg.command_timeout)).await {
        Ok(r) => r,
        Err(e) => {
            return Removal::Unknown(error(&format!(
                "ERR {what} copied the value but could not remove it from the source: {e}"
            )))
        }
    };
    let exec = done.last().cloned().unwrap_or_default();
    let moving = exec.starts_with(b"-EXECABORT") || done.iter().any(|r| transient(r));
    if is_null(&exec) || moving {
        *changes += usize::from(!moving);
        if *changes >= RENAME_ATTEMPTS {
            return Removal::Refused(error(&format!(
                "ERR {what} gave up: the source kept changing while it was copied"
            )));
        }
        if moving {
            if Instant::now() > deadline {
                return Removal::Refused(exec);
            }
            proxy.topo.refresh_soon();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        return Removal::Retry;
    }
    if is_error(&exec) {
        return Removal::Refused(exec);
    }
    Removal::Done
}

async fn rename(proxy: &Arc<Proxy>, s: &mut Session, args: &[Bytes], nx: bool) -> Bytes {
    let (src, dst) = (&args[1], &args[2]);
    if nx {
        let exists = on_key(proxy, s, dst, vec![Bytes::from_static(b"EXISTS"), dst.clone()]).await;
        match integer(&exists) {
            Some(0) => {}
            Some(_) => return Bytes::from_static(b":0\r\n"),
            None => return exists,
        }
    }
    let deadline = Instant::now() + proxy.cfg.retry_deadline;
    // RENAMENX replaces nothing, until its own first copy is in the destination.
    let mut replace = !nx;
    let mut changes = 0;
    loop {
        // The source is read under WATCH on a connection of its own, so deleting it fails if
        // another client changed it after it was copied; then it is copied again.
        let reads = [words(&[b"DUMP", src]), words(&[b"PEXPIRETIME", src])];
        let (mut conn, read) = match watched_read(proxy, src, &reads, deadline, "RENAME").await {
            Ok(done) => done,
            Err(e) => return e,
        };
        let Some(payload) = bulk(&read[0]) else { return error("ERR no such key") };
        let restored = on_key(proxy, s, dst, restore_at(dst, payload, &read[1], replace)).await;
        if restored.starts_with(b"-BUSYKEY") && !replace {
            return Bytes::from_static(b":0\r\n");
        }
        if is_error(&restored) {
            return restored;
        }
        replicated(proxy, s, dst).await;
        match remove_watched(proxy, &mut conn, words(&[b"DEL", src]), &mut changes, deadline, "RENAME").await {
            Removal::Done => {}
            // Copied again, replacing our earlier copy.
            Removal::Retry => {
                replace = true;
                continue;
            }
            Removal::Refused(e) | Removal::Unknown(e) => return e,
        }
        replicated(proxy, s, src).await;
        return if nx { Bytes::from_static(b":1\r\n") } else { Bytes::from_static(b"+OK\r\n") };
    }
}

async fn copy(proxy: &Arc<Proxy>, s: &mut Session, args: &[Bytes]) -> Bytes {
    let (src, dst) = (&args[1], &args[2]);
    let mut replace = false;
    let mut i = 3;
    while i < args.len() {
        if args[i].eq_ignore_ascii_case(b"replace") {
            replace = true;
            i += 1;
        } else if args[i].eq_ignore_ascii_case(b"db") && i + 1 < args.len() {
            if &args[i + 1][..] != b"0" {
                return error("ERR DB index is out of range");
            }
            i += 2;
        } else {
            return error("ERR syntax error");
        }
    }
    let read = call_many(
        proxy,
        s,
        vec![(key_slot(src), words(&[b"DUMP", src])), (key_slot(src), words(&[b"PEXPIRETIME", src]))],
    )
    .await;
    if let Some(e) = read.iter().find(|r| is_error(r)) {
        return e.clone();
    }
    let Some(payload) = bulk(&read[0]) else { return Bytes::from_static(b":0\r\n") };
    let restored = on_key(proxy, s, dst, restore_at(dst, payload, &read[1], replace)).await;
    if restored.starts_with(b"-BUSYKEY") {
        return Bytes::from_static(b":0\r\n");
    }
    if is_error(&restored) {
        return restored;
    }
    Bytes::from_static(b":1\r\n")
}

/// TYPE of both keys; an error when either holds another type than `want` (or nothing).
async fn check_types(proxy: &Arc<Proxy>, s: &mut Session, keys: [&Bytes; 2], want: &str) -> Option<Bytes> {
    let reqs = keys.iter().map(|k| (key_slot(k), words(&[b"TYPE", k]))).collect();
    for t in call_many(proxy, s, reqs).await {
        if is_error(&t) {
            return Some(t);
        }
        let t = simple(&t);
        if t != "none" && t != want {
            return Some(error(WRONGTYPE));
        }
    }
    None
}

async fn smove(proxy: &Arc<Proxy>, s: &mut Session, args: &[Bytes]) -> Bytes {
    let (src, dst, member) = (&args[1], &args[2], &args[3]);
    if let Some(e) = check_types(proxy, s, [src, dst], "set").await {
        return e;
    }
    let present = on_key(proxy, s, src, words(&[b"SISMEMBER", src, member])).await;
    match integer(&present) {
        Some(1) => {}
        Some(_) => return Bytes::from_static(b":0\r\n"),
        None => return present,
    }
    // Added first, removed second: a failure in between leaves the member in both, never in
    // neither.
    let added = on_key(proxy, s, dst, words(&[b"SADD", dst, member])).await;
    let Some(added) = integer(&added) else { return added };
    if !replicated(proxy, s, dst).await {
        // The source keeps it: a failover of the destination's master cannot lose it.
        return error(UNCONFIRMED);
    }
    let removed = on_key(proxy, s, src, words(&[b"SREM", src, member])).await;
    match integer(&removed) {
        Some(1) => {
            replicated(proxy, s, src).await;
            Bytes::from_static(b":1\r\n")
        }
        Some(_) => {
            // Another client removed it first: as on one Redis, this SMOVE found nothing.
            if added == 1 {
                on_key(proxy, s, dst, words(&[b"SREM", dst, member])).await;
            }
            Bytes::from_static(b":0\r\n")
        }
        None => removed,
    }
}

async fn lmove(proxy: &Arc<Proxy>, s: &mut Session, args: &[Bytes]) -> Bytes {
    let (src, dst) = (&args[1], &args[2]);
    // RPOPLPUSH is LMOVE RIGHT LEFT.
    let (from, to): (&[u8], &[u8]) = if args.len() == 3 { (b"RIGHT", b"LEFT") } else { (&args[3], &args[4]) };
    let side = |w: &[u8]| {
        if w.eq_ignore_ascii_case(b"left") {
            Some(true)
        } else if w.eq_ignore_ascii_case(b"right") {
            Some(false)
        } else {
            None
        }
    };
    let (Some(from_left), Some(to_left)) = (side(from), side(to)) else { return error("ERR syntax error") };
    if let Some(e) = check_types(proxy, s, [src, dst], "list").await {
        return e;
    }
    // Copied first, removed second, as RENAME does: the element is read under WATCH, pushed
    // to the destination and confirmed by a replica there, and only then popped from the source
    // in MULTI. A master dying at any step leaves the element in the source, or in both with an
    // error, never in neither (a pop first could be applied by a master whose reply is lost).
    let (at, pop): (&[u8], &[u8]) = if from_left { (b"0", b"LPOP") } else { (b"-1", b"RPOP") };
    let push: &[u8] = if to_left { b"LPUSH" } else { b"RPUSH" };
    // LREM from the side it was pushed to takes our copy back.
    let unpush = |elem: &Bytes| words(&[b"LREM", dst, if to_left { b"1" } else { b"-1" }, elem]);
    let deadline = Instant::now() + proxy.cfg.retry_deadline;
    let mut changes = 0;
    loop {
        let (mut conn, read) = match watched_read(proxy, src, &[words(&[b"LINDEX", src, at])], deadline, "LMOVE").await
        {
            Ok(done) => done,
            Err(e) => return e,
        };
        let Some(elem) = bulk(&read[0]) else {
            let mut r = s.reply();
            r.null();
            return r.buf.freeze();
        };
        let pushed = on_key(proxy, s, dst, words(&[push, dst, &elem])).await;
        if is_error(&pushed) {
            return pushed;
        }
        if !replicated(proxy, s, dst).await {
            on_key(proxy, s, dst, unpush(&elem)).await;
            return error(UNCONFIRMED);
        }
        match remove_watched(proxy, &mut conn, words(&[pop, src]), &mut changes, deadline, "LMOVE").await {
            Removal::Done => {}
            // The source is as it was: our copy is taken back (and the move starts over).
            Removal::Retry => {
                on_key(proxy, s, dst, unpush(&elem)).await;
                continue;
            }
            Removal::Refused(e) => {
                on_key(proxy, s, dst, unpush(&elem)).await;
                return e;
            }
            // The pop may have happened: the copy stays.
            Removal::Unknown(e) => return e,
        }
        replicated(proxy, s, src).await;
        let mut r = s.reply();
        r.bulk(&elem);
        return r.buf.freeze();
    }
}

/// Key-value pairs grouped by slot, as `(slot, [name, k1, v1, k2, v2...])` requests.
fn per_slot(name: &'static [u8], args: &[Bytes], stride: usize) -> Vec<(u16, Vec<Bytes>)> {
    let mut groups: Vec<(u16, Vec<Bytes>)> = Vec::new();
    for chunk in args[1..].chunks(stride) {
        let slot = key_slot(&chunk[0]);
        match groups.iter_mut().find(|(s, _)| *s == slot) {
            Some((_, g)) => g.extend_from_slice(chunk),
            None => {
                let mut g = vec![Bytes::from_static(name)];
                g.extend_from_slice(chunk);
                groups.push((slot, g));
            }
        }
    }
    groups
}

async fn msetnx(proxy: &Arc<Proxy>, s: &mut Session, args: &[Bytes]) -> Bytes {
    if args.len().is_multiple_of(2) {
        return error("ERR wrong number of arguments for 'msetnx' command");
    }
    let keys: Vec<Bytes> = std::iter::once(args[0].clone()).chain(args[1..].iter().step_by(2).cloned()).collect();
    let mut found = 0;
    for reply in call_many(proxy, s, per_slot(b"EXISTS", &keys, 1)).await {
        match integer(&reply) {
            Some(n) => found += n,
            None => return reply,
        }
    }
    if found > 0 {
        return Bytes::from_static(b":0\r\n");
    }
    if let Some(e) = call_many(proxy, s, per_slot(b"MSET", args, 2)).await.into_iter().find(|r| is_error(r)) {
        return e;
    }
    Bytes::from_static(b":1\r\n")
}

/// LMPOP/ZMPOP numkeys key... rest: each key in turn with `numkeys` 1; the first that pops.
async fn first_non_empty(proxy: &Arc<Proxy>, s: &mut Session, spec: &CommandSpec, args: &[Bytes]) -> Bytes {
    let positions = key_positions(spec, args);
    let (Some(&first), Some(&last)) = (positions.first(), positions.last()) else {
        return error("ERR syntax error");
    };
    let numkeys_at = first - 1;
    for &i in &positions {
        let mut one = args[..numkeys_at].to_vec();
        one.push(Bytes::from_static(b"1"));
        one.push(args[i].clone());
        one.extend_from_slice(&args[last + 1..]);
        let reply = on_key(proxy, s, &args[i], one).await;
        if is_error(&reply) || !is_null(&reply) {
            return reply;
        }
    }
    let mut r = s.reply();
    r.null_array();
    r.buf.freeze()
}

/// A blocking pop or move whose keys span slots: the non-blocking form of the command is tried
/// on each key's node in the order given until one yields or the timeout passes.
pub(crate) async fn blocking(proxy: &Arc<Proxy>, s: &mut Session, spec: &CommandSpec, args: Vec<Bytes>) -> Bytes {
    let name = spec.name;
    let multi = matches!(name, "blmpop" | "bzmpop");
    let timeout_arg = if multi { &args[1] } else { &args[args.len() - 1] };
    let timeout = match std::str::from_utf8(timeout_arg).ok().and_then(|t| t.parse::<f64>().ok()) {
        Some(t) if t.is_finite() && t < 0.0 => return error("ERR timeout is negative"),
        Some(t) if t.is_finite() => t,
        _ => return error("ERR timeout is not a float or out of range"),
    };
    let deadline = (timeout > 0.0).then(|| Instant::now() + Duration::from_secs_f64(timeout));
    let mut pause = Duration::from_millis(2);
    loop {
        let got = match name {
            "blpop" | "brpop" | "bzpopmin" | "bzpopmax" => {
                let pop: &[u8] = match name {
                    "blpop" => b"LPOP",
                    "brpop" => b"RPOP",
                    "bzpopmin" => b"ZPOPMIN",
                    _ => b"ZPOPMAX",
                };
                pop_each(proxy, s, pop, &args[1..args.len() - 1]).await
            }
            "blmpop" | "bzmpop" => {
                let mut nonblocking = vec![Bytes::from_static(if name == "blmpop" { b"LMPOP" } else { b"ZMPOP" })];
                nonblocking.extend_from_slice(&args[2..]);
                let spec = protocol::lookup(&nonblocking[0]).expect("LMPOP and ZMPOP are in the table");
                Some(first_non_empty(proxy, s, spec, &nonblocking).await)
            }
            _ => {
                // BLMOVE src dst from to timeout, BRPOPLPUSH src dst timeout.
                let moved = lmove(proxy, s, &args[..args.len() - 1]).await;
                Some(moved)
            }
        };
        if let Some(reply) = got.filter(|r| is_error(r) || !is_null(r)) {
            return reply;
        }
        if deadline.is_some_and(|d| Instant::now() + pause > d) {
            let mut r = s.reply();
            if matches!(name, "blmove" | "brpoplpush") {
                r.null();
            } else {
                r.null_array();
            }
            return r.buf.freeze();
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// BLPOP-style: `pop key` on each key in order; the first element (or error) wins, given back
/// in the blocking command's shape: `[key, element]` or `[key, member, score]`.
async fn pop_each(proxy: &Arc<Proxy>, s: &mut Session, pop: &'static [u8], keys: &[Bytes]) -> Option<Bytes> {
    for key in keys {
        let reply = on_key(proxy, s, key, words(&[pop, key])).await;
        if is_error(&reply) {
            return Some(reply);
        }
        let mut r = s.reply();
        match parse(&reply) {
            Some(Frame::Bulk(elem)) => {
                r.array(2);
                r.bulk(key);
                r.bulk(&elem);
            }
            Some(Frame::Array(items)) if !items.is_empty() => {
                // ZPOPMIN's [member, score] after the key.
                r.array(items.len() + 1);
                r.bulk(key);
                for item in &items {
                    if s.resp3 {
                        item.encode(&mut r.buf);
                    } else {
                        item.encode_resp2(&mut r.buf);
                    }
                }
            }
            _ => continue,
        }
        return Some(r.buf.freeze());
    }
    None
}
