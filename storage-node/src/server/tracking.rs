//! Server-assisted client-side caching, as Redis 7.0's tracking.c: the table of keys tracking
//! clients read (`trackingRememberKeys`), invalidation when a key changes
//! (`trackingInvalidateKey`) or everything is flushed (`trackingInvalidateKeysOnFlush`), the
//! broadcast prefixes (`trackingRememberKeyToBroadcast`, `trackingBroadcastInvalidationMessages`)
//! and the table's size limit (`trackingLimitUsedSlots`). Messages are RESP3 pushes, or pub/sub
//! messages on `__redis__:invalidate` for a redirection target speaking RESP2
//! (`sendTrackingMessage`).
//!
//! Nothing here runs until a client first enables tracking (`Tracking::used`), so the command
//! path pays one branch when nobody tracks.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use bytes::{Bytes, BytesMut};
use hashbrown::HashMap;
use protocol::command::{flags, CommandSpec, KeyUse};
use protocol::{Proto, Reply};

use super::{Client, Server};

/// The channel RESP2 redirection targets receive invalidations on.
const CHANNEL: &[u8] = b"__redis__:invalidate";

/// A client's tracking mode (CLIENT TRACKING's options and CLIENT CACHING), shared between the
/// client and the server's table, so messages are routed without borrowing the client.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Track {
    pub on: bool,
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
    /// CLIENT CACHING was given for the next command (or transaction).
    pub caching: bool,
    /// The redirection target went away (CLIENT LIST flag `R`, `broken_redirect`).
    pub broken_redirect: bool,
    /// The client invalidations go to (0: the client itself).
    pub redirect: u64,
}

/// A client's tracking mode, as the client and the server's table share it.
pub type TrackCell = Rc<Cell<Track>>;

/// One broadcast prefix: the keys under it changed since the last broadcast (with the client
/// that changed each last, 0 for none, for NOLOOP) and the clients subscribed to it.
#[derive(Default)]
struct Bcast {
    keys: BTreeMap<Box<[u8]>, u64>,
    clients: BTreeSet<u64>,
}

/// The tracking state of the node.
#[derive(Default)]
pub struct Tracking {
    /// A client enabled tracking at least once (Redis then creates its tables).
    pub used: bool,
    /// Clients with tracking on, by id.
    clients: HashMap<u64, TrackCell>,
    /// Each remembered key and the clients that may cache it.
    table: HashMap<Box<[u8]>, Vec<u64>>,
    /// Client ids over all keys of `table` (`tracking_total_items`).
    items: u64,
    prefixes: BTreeMap<Box<[u8]>, Bcast>,
    /// The prefixes of each BCAST client, ordered as CLIENT TRACKINGINFO lists them.
    client_prefixes: HashMap<u64, BTreeSet<Box<[u8]>>>,
    /// Some prefix has keys to broadcast.
    bcast_pending: bool,
    /// The client whose command runs (0 outside a client's command).
    current: u64,
    /// Whether that client is subscribed (a RESP2 redirection target takes pub/sub messages).
    current_pubsub: bool,
    /// Invalidations for the running client, sent after its reply (`None`: a flush).
    pending: Vec<Option<Box<[u8]>>>,
    /// Messages for the running client as another client's redirection target.
    self_out: BytesMut,
    /// Nesting of commands run by scripts.
    script_depth: u32,
    /// A script ran a read-only command: its caller remembers the script's declared keys.
    script_read: bool,
    /// Consecutive limit passes that left the table over `tracking-table-max-keys`.
    limit_misses: u32,
}

/// What an invalidation message carries.
enum Msg<'a> {
    /// One key.
    Key(&'a [u8]),
    /// An array of keys, already encoded (a broadcast).
    Encoded(&'a [u8]),
    /// A null: every key (a flush).
    Flush,
}

impl Tracking {
    /// `tracking_clients`.
    pub fn clients(&self) -> usize {
        self.clients.len()
    }

    /// `tracking_total_keys`.
    pub fn total_keys(&self) -> usize {
        self.table.len()
    }

    /// `tracking_total_items`.
    pub fn total_items(&self) -> u64 {
        self.items
    }

    /// `tracking_total_prefixes`.
    pub fn total_prefixes(&self) -> usize {
        self.prefixes.len()
    }

    /// The BCAST prefixes of client `id`, in order.
    pub fn prefixes_of(&self, id: u64) -> Vec<Box<[u8]>> {
        self.client_prefixes.get(&id).map(|p| p.iter().cloned().collect()).unwrap_or_default()
    }
}

/// Turns tracking on for `client` (`enableTracking`); `opts` holds the requested mode.
pub fn enable(srv: &mut Server, client: &Client, opts: Track, prefixes: &[Bytes]) {
    // Lazily expired keys must reach the table too.
    srv.each_db_mut(|db| db.track_expired = true);
    let t = &mut srv.tracking;
    t.used = true;
    let mut st = client.track.get();
    if !st.on {
        t.clients.insert(client.id, client.track.clone());
    }
    st.on = true;
    st.broken_redirect = false;
    st.redirect = opts.redirect;
    st.bcast = opts.bcast;
    st.optin = opts.optin;
    st.optout = opts.optout;
    st.noloop = opts.noloop;
    client.track.set(st);
    if opts.bcast {
        let mut add = |p: &[u8]| {
            let bs = t.prefixes.entry(p.into()).or_default();
            if bs.clients.insert(client.id) {
                t.client_prefixes.entry(client.id).or_default().insert(p.into());
            }
        };
        if prefixes.is_empty() {
            add(b"");
        }
        for p in prefixes {
            add(p);
        }
    }
}

/// Turns tracking off for client `id` (`disableTracking`). Its entries in the key table go
/// lazily, when those keys are invalidated.
pub fn disable(srv: &mut Server, id: u64, cell: &TrackCell) {
    let t = &mut srv.tracking;
    let mut st = cell.get();
    if st.bcast {
        for p in t.client_prefixes.remove(&id).unwrap_or_default() {
            if let Some(bs) = t.prefixes.get_mut(&p) {
                bs.clients.remove(&id);
                if bs.clients.is_empty() {
                    t.prefixes.remove(&p);
                }
            }
        }
    }
    if st.on {
        t.clients.remove(&id);
        st = Track { redirect: st.redirect, ..Track::default() };
        cell.set(st);
    }
}

/// Checks the prefixes CLIENT TRACKING ... BCAST asks for against each other and the client's
/// (`checkPrefixCollisionsOrReply`): the error text when two would cover the same key.
pub fn prefix_collision(srv: &Server, id: u64, prefixes: &[Bytes]) -> Option<String> {
    let overlap = |a: &[u8], b: &[u8]| {
        let n = a.len().min(b.len());
        a[..n] == b[..n]
    };
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let existing = srv.tracking.client_prefixes.get(&id);
    for (i, p) in prefixes.iter().enumerate() {
        for e in existing.into_iter().flatten() {
            if overlap(e, p) {
                return Some(format!(
                    "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                    text(p),
                    text(e)
                ));
            }
        }
        for q in &prefixes[i + 1..] {
            if overlap(p, q) {
                return Some(format!(
                    "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                    text(p),
                    text(q)
                ));
            }
        }
    }
    None
}

/// A client's command is about to run (`processCommand`): it becomes the current client, and
/// the table is kept within `tracking-table-max-keys` (what that invalidates reaches the
/// client ahead of the command's reply, as from Redis).
pub fn before_command(srv: &mut Server, client: &Client, out: &mut Reply) {
    srv.tracking.current = client.id;
    srv.tracking.current_pubsub = client.subscribed();
    if !srv.tracking.clients.is_empty() {
        limit_used_slots(srv);
        flush_pending(srv, client, out);
    }
}

/// A client's top-level command ended (`afterCommand`, `resetClient`): its own invalidations
/// follow its reply, and the CLIENT CACHING flag lasts only for the next command or
/// transaction.
pub fn after_command(srv: &mut Server, client: &Client, args: &[Bytes], out: &mut Reply) {
    flush_pending(srv, client, out);
    let st = client.track.get();
    if st.caching && client.multi.is_none() && !args[0].eq_ignore_ascii_case(b"client") {
        client.track.set(Track { caching: false, ..st });
    }
    srv.tracking.current = 0;
}

/// The end of a client's batch of commands (Redis's `beforeSleep`): broadcast invalidations go
/// out, the client's own in order with its replies.
pub fn end_batch(srv: &mut Server, client: &Client, out: &mut Reply) {
    srv.tracking.current = client.id;
    srv.tracking.current_pubsub = client.subscribed();
    broadcast(srv);
    flush_pending(srv, client, out);
    srv.tracking.current = 0;
}

/// Outside any client (cron): the size limit, then the broadcasts.
pub fn cron(srv: &mut Server) {
    srv.tracking.current = 0;
    if !srv.tracking.clients.is_empty() {
        limit_used_slots(srv);
    }
    broadcast(srv);
}

/// Commands whose key list names keys they may leave alone: DEL and UNLINK change the keys
/// that existed, the pops that take several keys change the first that existed.
fn changes_existing(name: &str) -> Option<bool> {
    match name {
        "del" | "unlink" => Some(false),
        "lmpop" | "zmpop" | "blmpop" | "bzmpop" | "blpop" | "brpop" | "bzpopmin" | "bzpopmax" => Some(true),
        _ => None,
    }
}

/// Right before a handler runs: for the commands of `changes_existing`, which of their keys
/// exist (a bitmask in key order), so only those are taken as modified.
pub fn before_handler(srv: &Server, spec: &CommandSpec, args: &[Bytes], now: i64) -> Option<u64> {
    changes_existing(spec.name)?;
    let keys = spec.key_indexes(args.len(), |i| args.get(i).map(|a| &a[..])).ok()?;
    if keys.len() > 64 {
        return None;
    }
    let mut mask = 0u64;
    for (n, i) in keys.into_iter().enumerate() {
        if srv.db.peek(&args[i]).is_some_and(|e| e.expire_at == 0 || e.expire_at > now) {
            mask |= 1 << n;
        }
    }
    Some(mask)
}

/// What a command run through `commands::execute` means for tracking, right after its
/// handler: keys it found expired are invalidated, then the keys a write changed
/// (`signalModifiedKey`, with the client as the writer for NOLOOP), and the keys a read-only
/// command read are remembered for the client (`call`'s `trackingRememberKeys`). `existed`
/// comes from `before_handler`.
pub fn after_handler(
    srv: &mut Server,
    client: &Client,
    spec: &CommandSpec,
    args: &[Bytes],
    dirty_before: u64,
    existed: Option<u64>,
) {
    expired_keys(srv);
    if srv.dirty != dirty_before && spec.has(flags::WRITE) {
        modified_keys(srv, client.id, spec, args, existed);
    }
    let t = &mut srv.tracking;
    let remember = if t.script_depth > 0 {
        // Redis 7.0 remembers the keys of the script's command, not those of what it calls.
        t.script_read |= spec.has(flags::READONLY);
        false
    } else {
        spec.has(flags::READONLY) | std::mem::take(&mut t.script_read)
    };
    if remember {
        remember_keys(srv, client, spec, args);
    }
}

/// Invalidates the keys a write changed: those its key specs let it write (not the sources
/// of BITOP or ZUNIONSTORE), narrowed by `existed` for the commands of `changes_existing`.
fn modified_keys(srv: &mut Server, writer: u64, spec: &CommandSpec, args: &[Bytes], existed: Option<u64>) {
    let Ok(keys) = spec.key_indexes(args.len(), |i| args.get(i).map(|a| &a[..])) else { return };
    let (first, rest) = spec.uses.unwrap_or((KeyUse::ReadWrite, KeyUse::ReadWrite));
    let only_first = changes_existing(spec.name) == Some(true);
    let mut order: Vec<(usize, usize)> = keys.into_iter().enumerate().collect();
    if matches!(spec.name, "lmove" | "blmove" | "rpoplpush" | "brpoplpush") {
        // Redis signals the destination (the push) before the source.
        order.reverse();
    }
    for (n, i) in order {
        let usage = if n == 0 { first } else { rest };
        if usage == KeyUse::Read {
            continue;
        }
        if let Some(mask) = existed {
            if n >= 64 || mask & (1 << n) == 0 {
                continue;
            }
        }
        invalidate_key(srv, writer, &args[i], true);
        if only_first && existed.is_some() {
            break;
        }
    }
}

/// A script starts or ends running a command (`redis.call`).
pub fn script_call(srv: &mut Server, entering: bool) {
    let t = &mut srv.tracking;
    if entering {
        t.script_depth += 1;
    } else {
        t.script_depth = t.script_depth.saturating_sub(1);
    }
}

/// Keys removed by expiry since the last look: each is invalidated as modified by nobody.
/// The propagation hook drains the log when it is active; otherwise nobody needs it.
pub fn expired_keys(srv: &mut Server) {
    // The table is shared by every database, so is the expiry of any of them.
    for db in 0..srv.db_count() {
        if srv.db_ref(db).expired_log.is_empty() {
            continue;
        }
        let propagating = srv.prop.active();
        let log = &mut srv.db_at(db).expired_log;
        let keys = if propagating { log.clone() } else { std::mem::take(log) };
        for k in keys {
            invalidate_key(srv, 0, &k, true);
        }
    }
}

fn remember_keys(srv: &mut Server, client: &Client, spec: &CommandSpec, args: &[Bytes]) {
    let st = client.track.get();
    if !st.on || st.bcast || (st.optin && !st.caching) || (st.optout && st.caching) || spec.has(flags::PUBSUB) {
        return;
    }
    let Ok(keys) = spec.key_indexes(args.len(), |i| args.get(i).map(|a| &a[..])) else { return };
    let t = &mut srv.tracking;
    for i in keys {
        let ids = t.table.entry_ref(&args[i][..]).or_default();
        if !ids.contains(&client.id) {
            ids.push(client.id);
            t.items += 1;
        }
    }
}

/// `key` changed (`trackingInvalidateKey`): the clients that may cache it are told, except
/// the writer when it asked for NOLOOP. `writer` is 0 when no client changed it (expiry,
/// eviction); `bcast` is false when the key did not change but leaves the table.
pub fn invalidate_key(srv: &mut Server, writer: u64, key: &[u8], bcast: bool) {
    let t = &mut srv.tracking;
    if bcast && !t.prefixes.is_empty() {
        for (p, bs) in t.prefixes.iter_mut() {
            if key.starts_with(p) {
                bs.keys.insert(key.into(), writer);
                t.bcast_pending = true;
            }
        }
    }
    let Some(ids) = t.table.remove(key) else { return };
    t.items -= ids.len() as u64;
    for id in ids {
        let Some(cell) = srv.tracking.clients.get(&id).cloned() else { continue };
        let st = cell.get();
        if st.bcast || (st.noloop && id == writer) {
            continue;
        }
        if id == srv.tracking.current {
            // After the command's reply, not inside it.
            srv.tracking.pending.push(Some(key.into()));
        } else {
            send(srv, id, &cell, Msg::Key(key));
        }
    }
}

/// Everything was flushed (`trackingInvalidateKeysOnFlush`): every tracking client gets a
/// null invalidation, and the table starts over.
pub fn invalidate_on_flush(srv: &mut Server) {
    let mut ids: Vec<u64> = srv.tracking.clients.keys().copied().collect();
    ids.sort_unstable();
    for id in ids {
        if id == srv.tracking.current {
            srv.tracking.pending.push(None);
        } else if let Some(cell) = srv.tracking.clients.get(&id).cloned() {
            send(srv, id, &cell, Msg::Flush);
        }
    }
    srv.tracking.table = HashMap::new();
    srv.tracking.items = 0;
}

/// Keeps the table within `tracking-table-max-keys` by invalidating keys picked at random,
/// with an effort that grows while it stays over (`trackingLimitUsedSlots`).
fn limit_used_slots(srv: &mut Server) {
    let max = srv.config.tracking_table_max_keys as usize;
    if max == 0 || srv.tracking.table.len() <= max {
        srv.tracking.limit_misses = 0;
        return;
    }
    let effort = 100 * (srv.tracking.limit_misses as usize + 1);
    for _ in 0..effort {
        let len = srv.tracking.table.len();
        if len == 0 {
            break;
        }
        let skip = crate::keyspace::evict::rand() as usize % len.min(64);
        let Some(key) = srv.tracking.table.keys().nth(skip).cloned() else { break };
        invalidate_key(srv, 0, &key, false);
        if srv.tracking.table.len() <= max {
            srv.tracking.limit_misses = 0;
            return;
        }
    }
    srv.tracking.limit_misses += 1;
}

/// Sends every prefix's changed keys to its clients, one message per prefix, without the keys
/// a NOLOOP client changed itself (`trackingBroadcastInvalidationMessages`).
pub fn broadcast(srv: &mut Server) {
    if !std::mem::take(&mut srv.tracking.bcast_pending) {
        return;
    }
    let mut messages: Vec<(u64, TrackCell, BytesMut)> = Vec::new();
    for bs in srv.tracking.prefixes.values_mut() {
        let keys = std::mem::take(&mut bs.keys);
        if keys.is_empty() {
            continue;
        }
        let common = encode_keys(&keys, 0);
        for id in &bs.clients {
            let Some(cell) = srv.tracking.clients.get(id) else { continue };
            let proto = if cell.get().noloop {
                match keys.values().any(|w| w == id) {
                    true => encode_keys(&keys, *id),
                    false => common.clone(),
                }
            } else {
                common.clone()
            };
            if !proto.is_empty() {
                messages.push((*id, cell.clone(), proto));
            }
        }
    }
    for (id, cell, proto) in messages {
        send(srv, id, &cell, Msg::Encoded(&proto));
    }
}

/// The keys as a RESP array, leaving out those `skip` changed last (empty when none is left).
fn encode_keys(keys: &BTreeMap<Box<[u8]>, u64>, skip: u64) -> BytesMut {
    let count = keys.values().filter(|w| skip == 0 || **w != skip).count();
    let mut r = Reply::new();
    if count == 0 {
        return r.buf;
    }
    r.array(count);
    for (k, _) in keys.iter().filter(|(_, w)| skip == 0 || **w != skip) {
        r.bulk(k);
    }
    r.buf
}

/// Sends the running client's pending invalidations and the messages it received as a
/// redirection target into its reply buffer (`trackingHandlePendingKeyInvalidations`).
fn flush_pending(srv: &mut Server, client: &Client, out: &mut Reply) {
    let t = &mut srv.tracking;
    if !t.pending.is_empty() {
        let cell = client.track.clone();
        for key in std::mem::take(&mut srv.tracking.pending) {
            match &key {
                Some(k) => send(srv, client.id, &cell, Msg::Key(k)),
                None => send(srv, client.id, &cell, Msg::Flush),
            }
        }
    }
    let t = &mut srv.tracking;
    if !t.self_out.is_empty() {
        out.raw(&t.self_out);
        t.self_out.clear();
    }
}

/// Sends one invalidation on behalf of tracking client `owner` (`sendTrackingMessage`): to it
/// when it speaks RESP3, or to its redirection target, as a push (RESP3) or a message on
/// `__redis__:invalidate` (RESP2, when subscribed). A missing target marks the redirection
/// broken and tells a RESP3 owner so.
fn send(srv: &mut Server, owner: u64, cell: &TrackCell, msg: Msg) {
    let st = cell.get();
    let owner_proto = proto_of(srv, owner);
    let target = if st.redirect != 0 { st.redirect } else { owner };
    let handle = srv.clients.borrow().get(&target).cloned();
    let Some(handle) = handle else {
        if st.redirect != 0 {
            cell.set(Track { broken_redirect: true, ..st });
            if owner_proto == Proto::Resp3 {
                let mut r = Reply { buf: BytesMut::new(), proto: Proto::Resp3 };
                r.push(2);
                r.bulk(b"tracking-redir-broken");
                r.int(st.redirect as i64);
                deliver(srv, owner, &r.buf);
            }
        }
        return;
    };
    let is_current = target == srv.tracking.current;
    let proto = handle.proto.get();
    let mut r = Reply { buf: BytesMut::new(), proto };
    if proto == Proto::Resp3 {
        r.push(2);
        r.bulk(b"invalidate");
    } else {
        let subscribed = if is_current {
            srv.tracking.current_pubsub
        } else {
            handle.state.try_borrow().is_ok_and(|c| c.subscribed())
        };
        if st.redirect == 0 || !subscribed {
            // A RESP2 connection cannot take pushes.
            return;
        }
        r.array(3);
        r.bulk(b"message");
        r.bulk(CHANNEL);
    }
    match msg {
        Msg::Key(k) => {
            r.array(1);
            r.bulk(k);
        }
        Msg::Encoded(b) => r.raw(b),
        // The null is the tracking client's, as Redis encodes it.
        Msg::Flush => r.raw(if owner_proto == Proto::Resp3 { b"_\r\n" } else { b"$-1\r\n" }),
    }
    if is_current {
        srv.tracking.self_out.extend_from_slice(&r.buf);
    } else {
        handle.deliver(&r.buf);
    }
}

fn proto_of(srv: &Server, id: u64) -> Proto {
    srv.clients.borrow().get(&id).map_or(Proto::Resp2, |h| h.proto.get())
}

fn deliver(srv: &mut Server, id: u64, frame: &[u8]) {
    if id == srv.tracking.current {
        srv.tracking.self_out.extend_from_slice(frame);
    } else if let Some(h) = srv.clients.borrow().get(&id) {
        h.deliver(frame);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_arrays_leave_out_a_noloop_clients_own_keys() {
        let mut keys = BTreeMap::new();
        keys.insert(Box::from(&b"p:2"[..]), 7u64);
        keys.insert(Box::from(&b"p:1"[..]), 0u64);
        assert_eq!(&encode_keys(&keys, 0)[..], b"*2\r\n$3\r\np:1\r\n$3\r\np:2\r\n");
        assert_eq!(&encode_keys(&keys, 7)[..], b"*1\r\n$3\r\np:1\r\n");
        keys.remove(&b"p:1"[..]);
        assert!(encode_keys(&keys, 7).is_empty(), "nothing left: no message");
    }

    #[test]
    fn prefixes_overlap_when_one_starts_the_other() {
        let srv = Server::new(config::NodeConfig::default());
        let p = |v: &[&str]| v.iter().map(|s| Bytes::copy_from_slice(s.as_bytes())).collect::<Vec<_>>();
        assert_eq!(prefix_collision(&srv, 1, &p(&["a", "b", "c:"])), None);
        let msg = prefix_collision(&srv, 1, &p(&["ab", "a"])).unwrap_or_default();
        assert!(msg.starts_with("ERR Prefix 'ab' overlaps with another provided prefix 'a'."), "{msg}");
        assert!(prefix_collision(&srv, 1, &p(&["", "x"])).is_some(), "the empty prefix covers every key");
    }
}
