//! Consumer groups: XGROUP, XREADGROUP (with BLOCK), XACK, XPENDING, XCLAIM and XAUTOCLAIM, as
//! t_stream.c answers and propagates them (deliveries replicate as XCLAIM, the group's position
//! as XGROUP SETID ... ENTRIESREAD).

use bytes::Bytes;
use protocol::Reply;

use super::stream::{block_or_null, id_bytes, parse_read_args, reply_entry, strict_id, word, INVALID_ID};
use super::{arg_i64, err, get_stream, is, Ctx, Error, Handler};
use crate::keyspace::stream::{parse_id, Stream, StreamId};
use crate::keyspace::stream_cg::{Consumer, Group, Pending, ENTRIES_READ_UNKNOWN};
use crate::keyspace::Value;
use crate::server::notify::{notify, STREAM};

pub fn register(h: &mut Vec<(&'static str, Handler)>) {
    h.extend([
        ("xgroup|create", xgroup as Handler),
        ("xgroup|setid", xgroup),
        ("xgroup|destroy", xgroup),
        ("xgroup|createconsumer", xgroup),
        ("xgroup|delconsumer", xgroup),
        ("xgroup|help", xgroup_help),
        ("xreadgroup", xreadgroup),
        ("xack", xack),
        ("xpending", xpending),
    ]);
}

/// Wall-clock ms for delivery and seen times: real time even while the AOF loads (where the
/// command clock stands at 0 so keys do not expire).
pub fn clock(ctx: &Ctx) -> i64 {
    if ctx.now == 0 {
        crate::keyspace::now_ms()
    } else {
        ctx.now
    }
}

pub(super) fn text(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

pub(super) fn nogroup(key: &[u8], group: &[u8]) -> Error {
    Error::Msg(format!("NOGROUP No such key '{}' or consumer group '{}'", text(key), text(group)))
}

/// The consumer, created when missing; its seen-time refreshed (SLC_DEFAULT).
pub(super) fn consumer<'a>(g: &'a mut Group, name: &[u8], now: i64) -> &'a mut Consumer {
    let c = g.consumers.entry(name.into()).or_default();
    c.seen_time = now;
    c
}

/// Creates the consumer if missing, propagating its creation as Redis 7.0 does
/// (streamPropagateConsumerCreation), so replicas and the AOF keep consumers with nothing pending.
pub(super) fn ensure_consumer(
    g: &mut Group,
    key: &Bytes,
    gname: &Bytes,
    cname: &[u8],
    now: i64,
    prop: &mut Vec<Vec<Bytes>>,
) {
    if !g.consumers.contains_key(cname) {
        let form = [word("XGROUP"), word("CREATECONSUMER"), key.clone(), gname.clone(), Bytes::copy_from_slice(cname)];
        prop.push(form.to_vec());
    }
    consumer(g, cname, now);
}

/// XCLAIM as Redis propagates a delivery or a claim (streamPropagateXCLAIM).
pub(super) fn xclaim_form(key: &Bytes, group: &Bytes, g: &Group, id: StreamId, nack: &Pending) -> Vec<Bytes> {
    vec![
        word("XCLAIM"),
        key.clone(),
        group.clone(),
        Bytes::copy_from_slice(&nack.consumer),
        word("0"),
        id_bytes(id),
        word("TIME"),
        word(&nack.delivery_time.to_string()),
        word("RETRYCOUNT"),
        word(&nack.delivery_count.to_string()),
        word("FORCE"),
        word("JUSTID"),
        word("LASTID"),
        id_bytes(g.last_id),
    ]
}

/// XGROUP SETID ... ENTRIESREAD, as Redis propagates the group's position.
pub(super) fn setid_form(key: &Bytes, group: &Bytes, g: &Group) -> Vec<Bytes> {
    vec![
        word("XGROUP"),
        word("SETID"),
        key.clone(),
        group.clone(),
        id_bytes(g.last_id),
        word("ENTRIESREAD"),
        word(&g.entries_read.to_string()),
    ]
}

/// streamEstimateDistanceFromFirstEverEntry: the entries_read counter an ID would have.
pub fn estimate_read(s: &Stream, id: StreamId) -> i64 {
    if s.entries_added == 0 {
        return 0;
    }
    if s.length == 0 && id <= s.last_id {
        return s.entries_added as i64;
    }
    if id == s.last_id {
        return s.entries_added as i64;
    } else if id > s.last_id {
        return ENTRIES_READ_UNKNOWN;
    }
    if s.max_deleted_id == StreamId::MIN || s.max_deleted_id < s.first_id {
        if id < s.first_id {
            return s.entries_added.wrapping_sub(s.length) as i64;
        } else if id == s.first_id {
            return s.entries_added.wrapping_sub(s.length).wrapping_add(1) as i64;
        }
    }
    ENTRIES_READ_UNKNOWN
}

fn subcommand_error(ctx: &Ctx) -> Error {
    Error::Msg(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try XGROUP HELP.",
        protocol::introspect::truncate(&text(&ctx.args[1]), 128)
    ))
}

fn xgroup(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let sub = args[1].to_ascii_lowercase();
    let (mut mkstream, mut entries_read) = (false, ENTRIES_READ_UNKNOWN);
    if sub == b"create" || sub == b"setid" {
        let mut i = 5;
        while i < args.len() {
            if sub == b"create" && is(&args[i], "mkstream") {
                mkstream = true;
                i += 1;
            } else if is(&args[i], "entriesread") && i + 1 < args.len() {
                entries_read = arg_i64(&args[i + 1])?;
                if entries_read < 0 && entries_read != ENTRIES_READ_UNKNOWN {
                    return err("ERR value for ENTRIESREAD must be positive or -1");
                }
                i += 2;
            } else {
                return Err(subcommand_error(ctx));
            }
        }
    }
    let (key, gname) = (&args[2], &args[3]);
    let now = clock(ctx);
    let exists = get_stream(&mut ctx.srv.db, key, ctx.now)?.is_some();
    if !exists && !mkstream {
        return err("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.");
    }
    let has_group = get_stream(&mut ctx.srv.db, key, ctx.now)?.is_some_and(|s| s.groups.contains_key(&gname[..]));
    if !has_group && matches!(&sub[..], b"setid" | b"createconsumer" | b"delconsumer") {
        return err(format!("NOGROUP No such consumer group '{}' for key name '{}'", text(gname), text(key)));
    }
    match &sub[..] {
        b"create" if (5..=8).contains(&args.len()) => {
            let id = if &args[4][..] == b"$" {
                get_stream(&mut ctx.srv.db, key, ctx.now)?.map_or(StreamId::MIN, |s| s.last_id)
            } else {
                strict_id(&args[4])?
            };
            if !exists {
                ctx.srv.db.set(key, Value::Stream(Box::default()), Some(0));
            }
            let Some(s) = get_stream(&mut ctx.srv.db, key, ctx.now)? else { return Err(Error::WrongType) };
            if s.groups.contains_key(&gname[..]) {
                return err("BUSYGROUP Consumer Group name already exists");
            }
            s.groups.insert(gname[..].into(), Group::new(id, entries_read));
            ctx.srv.dirty += 1;
            notify(ctx.srv, STREAM, "xgroup-create", key);
            ctx.out.ok();
        }
        b"setid" if args.len() == 5 || args.len() == 7 => {
            let Some(s) = get_stream(&mut ctx.srv.db, key, ctx.now)? else { return Err(Error::WrongType) };
            let id = if &args[4][..] == b"$" {
                s.last_id
            } else {
                parse_id(&args[4], 0, false, false).ok_or(Error::Msg(INVALID_ID.into()))?.0
            };
            if let Some(g) = s.groups.get_mut(&gname[..]) {
                g.last_id = id;
                g.entries_read = entries_read;
            }
            ctx.srv.dirty += 1;
            notify(ctx.srv, STREAM, "xgroup-setid", key);
            ctx.out.ok();
        }
        b"destroy" if args.len() == 4 => {
            let Some(s) = get_stream(&mut ctx.srv.db, key, ctx.now)? else { return Err(Error::WrongType) };
            if s.groups.remove(&gname[..]).is_some() {
                ctx.srv.dirty += 1;
                notify(ctx.srv, STREAM, "xgroup-destroy", key);
                // Blocked XREADGROUP readers of this group get their error.
                ctx.srv.key_ready(key);
                ctx.out.int(1);
            } else {
                ctx.out.int(0);
            }
        }
        b"createconsumer" if args.len() == 5 => {
            let Some(g) = get_stream(&mut ctx.srv.db, key, ctx.now)?.and_then(|s| s.groups.get_mut(&gname[..])) else {
                return Err(Error::WrongType);
            };
            let created = !g.consumers.contains_key(&args[4][..]);
            if created {
                consumer(g, &args[4], now);
                ctx.srv.dirty += 1;
                notify(ctx.srv, STREAM, "xgroup-createconsumer", key);
            }
            ctx.out.int(created as i64);
        }
        b"delconsumer" if args.len() == 5 => {
            let Some(g) = get_stream(&mut ctx.srv.db, key, ctx.now)?.and_then(|s| s.groups.get_mut(&gname[..])) else {
                return Err(Error::WrongType);
            };
            let removed = g.consumers.remove(&args[4][..]);
            let pending = match &removed {
                Some(c) => {
                    for id in &c.pel {
                        g.pel.remove(id);
                    }
                    c.pel.len()
                }
                None => 0,
            };
            ctx.srv.dirty += 1;
            if removed.is_some() {
                notify(ctx.srv, STREAM, "xgroup-delconsumer", key);
            }
            ctx.out.int(pending as i64);
        }
        _ => return Err(subcommand_error(ctx)),
    }
    Ok(())
}

fn xgroup_help(ctx: &mut Ctx) -> Result<(), Error> {
    // Redis's stream help says "Prints", unlike the shared helper.
    let lines = [
        "CREATE <key> <groupname> <id|$> [option]",
        "    Create a new consumer group. Options are:",
        "    * MKSTREAM",
        "      Create the empty stream if it does not exist.",
        "    * ENTRIESREAD entries_read",
        "      Set the group's entries_read counter (internal use).",
        "CREATECONSUMER <key> <groupname> <consumer>",
        "    Create a new consumer in the specified group.",
        "DELCONSUMER <key> <groupname> <consumer>",
        "    Remove the specified consumer.",
        "DESTROY <key> <groupname>",
        "    Remove the specified group.",
        "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
        "    Set the current group ID and entries_read counter.",
    ];
    let out = &mut *ctx.out;
    out.array(lines.len() + 3);
    out.simple("XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
    for l in lines {
        out.simple(l);
    }
    out.simple("HELP");
    out.simple("    Prints this help.");
    Ok(())
}

/// What one stream gives an XREADGROUP: entries (`None` fields for a pending entry that was
/// deleted meanwhile).
type Served = Vec<(StreamId, Option<Vec<(Vec<u8>, Vec<u8>)>>)>;

/// Delivers new entries after `start` to `cname` (streamReplyWithRange with a group).
#[allow(clippy::too_many_arguments)]
fn deliver(
    s: &Stream,
    g: &mut Group,
    key: &Bytes,
    gname: &Bytes,
    cname: &[u8],
    start: StreamId,
    count: usize,
    noack: bool,
    now: i64,
    prop: &mut Vec<Vec<Bytes>>,
) -> Served {
    let mut out = Vec::new();
    let mut moved = false;
    for (id, pairs) in s.range(start, StreamId::MAX, false, count) {
        if id > g.last_id {
            if g.entries_read != ENTRIES_READ_UNKNOWN && !s.range_has_tombstones(id, StreamId::MAX) {
                g.entries_read = g.entries_read.wrapping_add(1);
            } else if s.entries_added > 0 {
                g.entries_read = estimate_read(s, id);
            }
            g.last_id = id;
            moved = true;
        }
        if !noack {
            if let Some(old) = g.pel.get(&id).map(|p| p.consumer.clone()) {
                if let Some(c) = g.consumers.get_mut(&old) {
                    c.pel.remove(&id);
                }
            }
            let nack = Pending { delivery_time: now, delivery_count: 1, consumer: cname.into() };
            g.pel.insert(id, nack.clone());
            consumer(g, cname, now).pel.insert(id);
            prop.push(xclaim_form(key, gname, g, id, &nack));
        }
        out.push((id, Some(pairs)));
    }
    // Redis 7.0 propagates the group's position only with NOACK; otherwise the XCLAIMs carry
    // it as LASTID (and the replica's entries_read is left as it was, as in Redis).
    if moved && noack {
        prop.push(setid_form(key, gname, g));
    }
    out
}

/// Re-reads the consumer's own pending entries from `start` (streamReplyWithRangeFromConsumerPEL).
fn history(s: &Stream, g: &mut Group, cname: &[u8], start: StreamId, count: usize, now: i64) -> Served {
    let ids: Vec<StreamId> = g
        .consumers
        .get(cname)
        .map(|c| c.pel.range(start..).take(if count == 0 { usize::MAX } else { count }).copied().collect())
        .unwrap_or_default();
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        match s.get(id) {
            Some((_, pairs)) => {
                if let Some(p) = g.pel.get_mut(&id) {
                    p.delivery_time = now;
                    p.delivery_count = p.delivery_count.wrapping_add(1);
                }
                out.push((id, Some(pairs)));
            }
            None => out.push((id, None)),
        }
    }
    out
}

fn reply_served(out: &mut Reply, served: &[(Bytes, Served)]) {
    let resp2 = out.proto == protocol::Proto::Resp2;
    if resp2 {
        out.array(served.len());
    } else {
        out.map(served.len());
    }
    for (key, entries) in served {
        if resp2 {
            out.array(2);
        }
        out.bulk(key);
        out.array(entries.len());
        for (id, pairs) in entries {
            match pairs {
                Some(p) => reply_entry(out, &(*id, p.clone())),
                None => {
                    out.array(2);
                    out.bulk(&id.to_bytes());
                    out.null_array();
                }
            }
        }
    }
}

fn xreadgroup(ctx: &mut Ctx) -> Result<(), Error> {
    let r = parse_read_args(ctx, true)?;
    let Some((gname, cname)) = r.group.clone() else { return Err(Error::Syntax) };
    let args = ctx.args;
    let now = clock(ctx);
    let keys = &args[r.streams_at..r.streams_at + r.nstreams];
    let mut ids = Vec::with_capacity(keys.len());
    for (i, key) in keys.iter().enumerate() {
        let parked = ctx.client.blocked.is_some();
        let s = match get_stream(&mut ctx.srv.db, key, ctx.now) {
            Ok(Some(s)) => Some(s),
            Ok(None) | Err(_) if parked => return err("UNBLOCKED the stream key no longer exists"),
            other => other?,
        };
        if !s.is_some_and(|s| s.groups.contains_key(&gname[..])) {
            if ctx.client.blocked.is_some() {
                return err("NOGROUP the consumer group this client was blocked on no longer exists");
            }
            return err(format!(
                "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                text(key),
                text(&gname)
            ));
        }
        let a = &args[r.streams_at + r.nstreams + i][..];
        ids.push(if a == b"$" {
            return err("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.");
        } else if a == b">" {
            None
        } else {
            Some(strict_id(a)?)
        });
    }
    let mut served = Vec::new();
    let mut prop = Vec::new();
    let mut new_consumer = false;
    for (key, id) in keys.iter().zip(ids) {
        let Some(s) = get_stream(&mut ctx.srv.db, key, ctx.now)? else { continue };
        let Some(mut g) = s.groups.remove(&gname[..]) else { continue };
        let from = match id {
            Some(id) => Some((id, true)),
            None if s.length > 0 && s.last_valid_id() > g.last_id => Some((g.last_id, false)),
            None => None,
        };
        if let Some((after, hist)) = from {
            // Redis creates (or refreshes) the consumer only when it serves it.
            // Redis 7.0 propagates the creation only with NOACK (otherwise the XCLAIMs
            // create the consumer on the replica).
            let mut created = Vec::new();
            ensure_consumer(&mut g, key, &gname, &cname, now, &mut created);
            new_consumer |= !created.is_empty();
            if r.noack {
                prop.extend(created);
            }
            let start = after.incr().unwrap_or(StreamId::MIN);
            let entries = if hist {
                history(s, &mut g, &cname, start, r.count, now)
            } else {
                deliver(s, &mut g, key, &gname, &cname, start, r.count, r.noack, now, &mut prop)
            };
            served.push((key.clone(), entries));
            ctx.srv.dirty += 1;
        }
        if let Some(s) = get_stream(&mut ctx.srv.db, key, ctx.now)? {
            s.groups.insert(gname[..].into(), g);
        }
        if std::mem::take(&mut new_consumer) {
            notify(ctx.srv, STREAM, "xgroup-createconsumer", key);
        }
    }
    ctx.propagate_as(prop);
    if !served.is_empty() {
        reply_served(ctx.out, &served);
        return Ok(());
    }
    block_or_null(ctx, r.block, keys, args.to_vec());
    Ok(())
}

fn xack(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let Some(g) = get_stream(&mut ctx.srv.db, &args[1], ctx.now)?.and_then(|s| s.groups.get_mut(&args[2][..])) else {
        ctx.out.int(0);
        return Ok(());
    };
    let ids = args[3..].iter().map(|a| strict_id(a)).collect::<Result<Vec<_>, _>>()?;
    let mut acked = 0;
    for id in ids {
        if let Some(p) = g.pel.remove(&id) {
            if let Some(c) = g.consumers.get_mut(&p.consumer) {
                c.pel.remove(&id);
            }
            acked += 1;
        }
    }
    ctx.srv.dirty += acked;
    ctx.out.int(acked as i64);
    Ok(())
}

/// A range bound as XPENDING/XAUTOCLAIM read it (`(` exclusive).
pub(super) fn interval(b: &[u8], missing_seq: u64) -> Result<(StreamId, bool), Error> {
    let bad = || Error::Msg(INVALID_ID.into());
    if b.len() > 1 && b[0] == b'(' {
        return Ok((parse_id(&b[1..], missing_seq, true, false).ok_or_else(bad)?.0, true));
    }
    Ok((parse_id(b, missing_seq, false, false).ok_or_else(bad)?.0, false))
}

fn xpending(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let n = args.len();
    if n != 3 && !(6..=9).contains(&n) {
        return Err(Error::Syntax);
    }
    let mut range = None;
    if n >= 6 {
        let mut at = 3;
        let mut min_idle = 0;
        if is(&args[3], "idle") {
            min_idle = arg_i64(&args[4])?;
            if n < 8 {
                return Err(Error::Syntax);
            }
            at += 2;
        }
        let count = arg_i64(&args[at + 2])?.max(0) as usize;
        let (mut start, ex) = interval(&args[at], 0)?;
        if ex {
            start = start.incr().ok_or(Error::Msg("ERR invalid start ID for the interval".into()))?;
        }
        let (mut end, ex) = interval(&args[at + 1], u64::MAX)?;
        if ex {
            end = end.decr().ok_or(Error::Msg("ERR invalid end ID for the interval".into()))?;
        }
        range = Some((min_idle, start, end, count, args.get(at + 3)));
    }
    let now = clock(ctx);
    let Some(g) = get_stream(&mut ctx.srv.db, &args[1], ctx.now)?.and_then(|s| s.groups.get(&args[2][..])) else {
        return Err(nogroup(&args[1], &args[2]));
    };
    let out = &mut *ctx.out;
    let Some((min_idle, start, end, count, cname)) = range else {
        out.array(4);
        out.int(g.pel.len() as i64);
        match (g.pel.keys().next(), g.pel.keys().next_back()) {
            (Some(first), Some(last)) => {
                out.bulk(&first.to_bytes());
                out.bulk(&last.to_bytes());
                let with: Vec<_> = g.consumers.iter().filter(|(_, c)| !c.pel.is_empty()).collect();
                out.array(with.len());
                for (name, c) in with {
                    out.array(2);
                    out.bulk(name);
                    out.bulk(c.pel.len().to_string().as_bytes());
                }
            }
            _ => {
                out.null();
                out.null();
                out.null_array();
            }
        }
        return Ok(());
    };
    let ids: Vec<StreamId> = match cname {
        Some(name) => match g.consumers.get(&name[..]) {
            Some(c) if start <= end => c.pel.range(start..=end).copied().collect(),
            Some(_) => Vec::new(),
            None => {
                out.array(0);
                return Ok(());
            }
        },
        None if start <= end => g.pel.range(start..=end).map(|(id, _)| *id).collect(),
        None => Vec::new(),
    };
    let mut rows = Vec::new();
    for id in ids {
        if rows.len() >= count {
            break;
        }
        let Some(p) = g.pel.get(&id) else { continue };
        if min_idle != 0 && now.wrapping_sub(p.delivery_time) < min_idle {
            continue;
        }
        rows.push((id, p));
    }
    out.array(rows.len());
    for (id, p) in rows {
        out.array(4);
        out.bulk(&id.to_bytes());
        out.bulk(&p.consumer);
        out.int(now.wrapping_sub(p.delivery_time).max(0));
        out.int(p.delivery_count as i64);
    }
    Ok(())
}
