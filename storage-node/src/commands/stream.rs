//! Stream commands: XADD, XLEN, XRANGE, XREVRANGE, XDEL, XTRIM, XSETID and XREAD (with BLOCK).
//! Consumer groups are in stream_group.rs, XINFO in stream_info.rs. Replies and error texts
//! follow t_stream.c.

use std::time::{Duration, Instant};

use bytes::Bytes;
use protocol::Reply;

use super::{arg_i64, err, get_stream, is, stream_or_create, Ctx, Error, Handler};
use crate::keyspace::stream::{parse_id, AppendError, Entry, NodeLimits, Stream, StreamId, Trim};
use crate::server::notify::{notify, STREAM};

pub fn register(h: &mut Vec<(&'static str, Handler)>) {
    h.extend([
        ("xadd", xadd as Handler),
        ("xlen", xlen),
        ("xrange", xrange),
        ("xrevrange", xrevrange),
        ("xdel", xdel),
        ("xtrim", xtrim),
        ("xsetid", xsetid),
        ("xread", xread),
    ]);
}

pub const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";

/// A strict ID argument (no `-`/`+`), missing sequence 0.
pub fn strict_id(b: &[u8]) -> Result<StreamId, Error> {
    parse_id(b, 0, true, false).map(|(id, _)| id).ok_or(Error::Msg(INVALID_ID.into()))
}

/// The node-size settings.
pub fn limits(ctx: &Ctx) -> NodeLimits {
    let c = &ctx.srv.config;
    NodeLimits {
        max_bytes: c.compat.stream_node_max_bytes.min(usize::MAX as u64) as usize,
        max_entries: c.compat.stream_node_max_entries.min(usize::MAX as u64) as usize,
    }
}

pub fn word(w: &str) -> Bytes {
    Bytes::copy_from_slice(w.as_bytes())
}

pub fn id_bytes(id: StreamId) -> Bytes {
    Bytes::from(id.to_bytes())
}

/// One entry: `[id, [field, value, ...]]`.
pub fn reply_entry(out: &mut Reply, (id, pairs): &Entry) {
    out.array(2);
    out.bulk(&id.to_bytes());
    out.array(pairs.len() * 2);
    for (f, v) in pairs {
        out.bulk(f);
        out.bulk(v);
    }
}

pub fn reply_entries(out: &mut Reply, entries: &[Entry]) {
    out.array(entries.len());
    for e in entries {
        reply_entry(out, e);
    }
}

/// Parsed trimming options of XADD and XTRIM (streamParseAddOrTrimArgsOrReply).
struct TrimArgs {
    trim: Option<Trim>,
    approx: bool,
    limit: u64,
    /// Index of the MAXLEN/MINID value argument.
    value_at: usize,
    /// Index of the `LIMIT` keyword, if given.
    limit_at: Option<usize>,
    nomkstream: bool,
    /// XADD's explicit ID and whether its sequence was given.
    id: Option<(StreamId, bool)>,
    /// Index of the ID argument (XADD).
    id_at: usize,
}

fn parse_trim_args(ctx: &Ctx, xadd: bool) -> Result<TrimArgs, Error> {
    let args = ctx.args;
    let mut t = TrimArgs {
        trim: None,
        approx: false,
        limit: 0,
        value_at: 0,
        limit_at: None,
        nomkstream: false,
        id: None,
        id_at: 0,
    };
    let mut limit_given = false;
    let mut i = 2;
    let incompatible = "ERR syntax error, MAXLEN and MINID options at the same time are not compatible";
    while i < args.len() {
        let more = args.len() - 1 - i;
        let opt = &args[i][..];
        if xadd && opt == b"*" {
            break;
        } else if (is(opt, "maxlen") || is(opt, "minid")) && more > 0 {
            if t.trim.is_some() {
                return err(incompatible);
            }
            t.approx = false;
            let next = &args[i + 1][..];
            if more >= 2 && (next == b"~" || next == b"=") {
                t.approx = next == b"~";
                i += 1;
            }
            let v = &args[i + 1][..];
            t.trim = Some(if is(opt, "maxlen") {
                let n = arg_i64(v)?;
                if n < 0 {
                    return err("ERR The MAXLEN argument must be >= 0.");
                }
                Trim::MaxLen(n as u64)
            } else {
                Trim::MinId(strict_id(v)?)
            });
            i += 1;
            t.value_at = i;
        } else if is(opt, "limit") && more > 0 {
            let n = arg_i64(&args[i + 1])?;
            if n < 0 {
                return err("ERR The LIMIT argument must be >= 0.");
            }
            t.limit = n as u64;
            limit_given = true;
            t.limit_at = Some(i);
            i += 1;
        } else if xadd && is(opt, "nomkstream") {
            t.nomkstream = true;
        } else if xadd {
            t.id = Some(parse_id(opt, 0, true, true).ok_or(Error::Msg(INVALID_ID.into()))?);
            break;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    t.id_at = i;
    if t.limit > 0 && t.trim.is_none() {
        return err("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy");
    }
    if !xadd && t.trim.is_none() {
        return err("ERR syntax error, XTRIM must be called with a trimming strategy");
    }
    if ctx.client.is_master || ctx.client.in_exec && ctx.now == 0 {
        // From our master or the AOF: the arguments were rewritten to be exact.
        t.limit = 0;
    } else if limit_given {
        if !t.approx {
            return err("ERR syntax error, LIMIT cannot be used without the special ~ option");
        }
    } else if t.approx {
        let n = ctx.srv.config.compat.stream_node_max_entries.saturating_mul(100);
        t.limit = if n == 0 || n > 10000 { 10000 } else { n };
    }
    Ok(t)
}

/// After an approximate trim, what replicas and the AOF get: `=` and the exact result, without
/// LIMIT, so replaying removes exactly what was removed here.
fn exact_trim_args(args: &[Bytes], t: &TrimArgs, s: &Stream) -> Vec<Bytes> {
    let mut out = Vec::with_capacity(args.len());
    let mut i = 0;
    while i < args.len() {
        if Some(i) == t.limit_at {
            i += 2;
            continue;
        }
        if i + 1 == t.value_at && &args[i][..] == b"~" {
            out.push(word("="));
        } else if i == t.value_at {
            out.push(match t.trim {
                Some(Trim::MinId(_)) => id_bytes(s.first_id),
                _ => word(&s.length.to_string()),
            });
        } else {
            out.push(args[i].clone());
        }
        i += 1;
    }
    out
}

fn xadd(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let t = parse_trim_args(ctx, true)?;
    let fields_at = t.id_at + 1;
    if args.len() < fields_at + 2 || (args.len() - fields_at) % 2 == 1 {
        return err("ERR wrong number of arguments for 'xadd' command");
    }
    if let Some((id, true)) = t.id {
        if id == StreamId::MIN {
            return err("ERR The ID specified in XADD must be greater than 0-0");
        }
    }
    let key = &args[1];
    let limits = limits(ctx);
    let now = super::stream_group::clock(ctx).max(0) as u64;
    let s = if t.nomkstream {
        match get_stream(&mut ctx.srv.db, key, ctx.now)? {
            Some(s) => s,
            None => {
                ctx.out.null();
                return Ok(());
            }
        }
    } else {
        stream_or_create(&mut ctx.srv.db, key, ctx.now)?
    };
    if s.last_id == StreamId::MAX {
        return err("ERR The stream has exhausted the last possible ID, unable to add more items");
    }
    let fields: Vec<(&[u8], &[u8])> = args[fields_at..].chunks(2).map(|p| (&p[0][..], &p[1][..])).collect();
    let id = match s.append(&fields, t.id, now, limits) {
        Ok(id) => id,
        Err(AppendError::NotGreater) => {
            return err("ERR The ID specified in XADD is equal or smaller than the target stream top item")
        }
        Err(AppendError::TooLarge) => return err("ERR Elements are too large to be stored"),
    };
    let mut prop: Option<Vec<Bytes>> = None;
    let mut trimmed = 0;
    if let Some(trim) = t.trim {
        trimmed = s.trim(trim, t.approx, t.limit);
        if t.approx {
            prop = Some(exact_trim_args(args, &t, s));
        }
    }
    if !matches!(t.id, Some((_, true))) {
        let mut p = prop.take().unwrap_or_else(|| args.to_vec());
        // LIMIT was dropped before the ID, so its index moved.
        let shift = if t.approx && t.limit_at.is_some_and(|l| l < t.id_at) { 2 } else { 0 };
        p[t.id_at - shift] = id_bytes(id);
        prop = Some(p);
    }
    if let Some(p) = prop {
        ctx.propagate_as(vec![p]);
    }
    ctx.srv.dirty += 1;
    notify(ctx.srv, STREAM, "xadd", key);
    if trimmed > 0 {
        notify(ctx.srv, STREAM, "xtrim", key);
    }
    ctx.srv.key_ready(key);
    ctx.out.bulk(&id.to_bytes());
    Ok(())
}

fn xlen(ctx: &mut Ctx) -> Result<(), Error> {
    let n = get_stream(&mut ctx.srv.db, &ctx.args[1], ctx.now)?.map_or(0, |s| s.length);
    ctx.out.int(n as i64);
    Ok(())
}

/// A range bound (streamParseIntervalIDOrReply): `(` makes it exclusive.
fn interval_id(b: &[u8], missing_seq: u64) -> Result<(StreamId, bool), Error> {
    let bad = || Error::Msg(INVALID_ID.into());
    if b.len() > 1 && b[0] == b'(' {
        let (id, _) = parse_id(&b[1..], missing_seq, true, false).ok_or_else(bad)?;
        return Ok((id, true));
    }
    let (id, _) = parse_id(b, missing_seq, false, false).ok_or_else(bad)?;
    Ok((id, false))
}

fn range_cmd(ctx: &mut Ctx, rev: bool) -> Result<(), Error> {
    let args = ctx.args;
    let (start_arg, end_arg) = if rev { (&args[3], &args[2]) } else { (&args[2], &args[3]) };
    let (mut start, ex) = interval_id(start_arg, 0)?;
    if ex {
        start = start.incr().ok_or(Error::Msg("ERR invalid start ID for the interval".into()))?;
    }
    let (mut end, ex) = interval_id(end_arg, u64::MAX)?;
    if ex {
        end = end.decr().ok_or(Error::Msg("ERR invalid end ID for the interval".into()))?;
    }
    let mut count: i64 = -1;
    let mut j = 4;
    while j < args.len() {
        if is(&args[j], "count") && j + 1 < args.len() {
            count = arg_i64(&args[j + 1])?.max(0);
            j += 2;
        } else {
            return Err(Error::Syntax);
        }
    }
    let Some(s) = get_stream(&mut ctx.srv.db, &args[1], ctx.now)? else {
        ctx.out.array(0);
        return Ok(());
    };
    if count == 0 {
        ctx.out.null_array();
        return Ok(());
    }
    let entries = s.range(start, end, rev, count.max(0) as usize);
    reply_entries(ctx.out, &entries);
    Ok(())
}

fn xrange(ctx: &mut Ctx) -> Result<(), Error> {
    range_cmd(ctx, false)
}
fn xrevrange(ctx: &mut Ctx) -> Result<(), Error> {
    range_cmd(ctx, true)
}

fn xdel(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let Some(s) = get_stream(&mut ctx.srv.db, &args[1], ctx.now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let ids = args[2..].iter().map(|a| strict_id(a)).collect::<Result<Vec<_>, _>>()?;
    let n = s.delete_ids(&ids);
    ctx.srv.dirty += n;
    if n > 0 {
        notify(ctx.srv, STREAM, "xdel", &args[1]);
    }
    ctx.out.int(n as i64);
    Ok(())
}

fn xtrim(ctx: &mut Ctx) -> Result<(), Error> {
    let t = parse_trim_args(ctx, false)?;
    let args = ctx.args;
    let Some(s) = get_stream(&mut ctx.srv.db, &args[1], ctx.now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let Some(trim) = t.trim else { return Err(Error::Syntax) };
    let n = s.trim(trim, t.approx, t.limit);
    if n > 0 && t.approx {
        let p = exact_trim_args(args, &t, s);
        ctx.propagate_as(vec![p]);
    }
    ctx.srv.dirty += n;
    if n > 0 {
        notify(ctx.srv, STREAM, "xtrim", &args[1]);
    }
    ctx.out.int(n as i64);
    Ok(())
}

fn xsetid(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let id = strict_id(&args[2])?;
    let (mut added, mut max_del) = (None, StreamId::MIN);
    let mut i = 3;
    while i < args.len() {
        let more = i + 1 < args.len();
        if is(&args[i], "entriesadded") && more {
            let n = arg_i64(&args[i + 1])?;
            if n < 0 {
                return err("ERR entries_added must be positive");
            }
            added = Some(n as u64);
        } else if is(&args[i], "maxdeletedid") && more {
            max_del = strict_id(&args[i + 1])?;
            if id < max_del {
                return err("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id");
            }
        } else {
            return Err(Error::Syntax);
        }
        i += 2;
    }
    let Some(s) = get_stream(&mut ctx.srv.db, &args[1], ctx.now)? else { return Err(Error::NoSuchKey) };
    // Redis 7.0 does not compare with the current max_deleted_entry_id (7.2 does).
    if s.length > 0 {
        if id < s.last_valid_id() {
            return err("ERR The ID specified in XSETID is smaller than the target stream top item");
        }
        if added.is_some_and(|a| s.length > a) {
            return err("ERR The entries_added specified in XSETID is smaller than the target stream length");
        }
    }
    s.last_id = id;
    if let Some(a) = added {
        s.entries_added = a;
    }
    if max_del != StreamId::MIN {
        s.max_deleted_id = max_del;
    }
    ctx.srv.dirty += 1;
    notify(ctx.srv, STREAM, "xsetid", &args[1]);
    ctx.out.ok();
    Ok(())
}

/// XREAD/XREADGROUP options.
pub struct ReadArgs {
    /// BLOCK timeout: `None` without BLOCK, `Some(None)` forever.
    pub block: Option<Option<Instant>>,
    pub count: usize,
    pub streams_at: usize,
    pub nstreams: usize,
    pub group: Option<(Bytes, Bytes)>,
    pub noack: bool,
}

/// Parses XREAD/XREADGROUP options up to STREAMS (the shared loop of xreadCommand).
pub fn parse_read_args(ctx: &Ctx, group: bool) -> Result<ReadArgs, Error> {
    let args = ctx.args;
    let mut r = ReadArgs { block: None, count: 0, streams_at: 0, nstreams: 0, group: None, noack: false };
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - i - 1;
        let o = &args[i];
        if is(o, "block") && more > 0 {
            if crate::scripting::script_running() {
                let name = String::from_utf8_lossy(&args[0]);
                return err(format!("ERR {name} command is not allowed with BLOCK option from scripts"));
            }
            i += 1;
            let ms =
                arg_i64(&args[i]).map_err(|_| Error::Msg("ERR timeout is not an integer or out of range".into()))?;
            if ms < 0 {
                return err("ERR timeout is negative");
            }
            r.block = Some((ms > 0).then(|| Instant::now() + Duration::from_millis(ms as u64)));
        } else if is(o, "count") && more > 0 {
            i += 1;
            r.count = arg_i64(&args[i])?.max(0) as usize;
        } else if is(o, "streams") && more > 0 {
            r.streams_at = i + 1;
            let n = args.len() - r.streams_at;
            if !n.is_multiple_of(2) {
                // Redis 7.0 names XREAD and `$` for both commands.
                return err(
                    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
                );
            }
            r.nstreams = n / 2;
            break;
        } else if is(o, "group") && more >= 2 {
            if !group {
                return err("ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.");
            }
            r.group = Some((args[i + 1].clone(), args[i + 2].clone()));
            i += 2;
        } else if is(o, "noack") {
            if !group {
                return err("ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.");
            }
            r.noack = true;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    if r.streams_at == 0 {
        return Err(Error::Syntax);
    }
    if group && r.group.is_none() {
        return err("ERR Missing GROUP option for XREADGROUP");
    }
    Ok(r)
}

/// The reply to XREAD/XREADGROUP: one `[key, entries]` per served stream (a map in RESP3).
pub fn reply_streams(out: &mut Reply, served: &[(Bytes, Vec<Entry>)]) {
    if out.proto == protocol::Proto::Resp2 {
        out.array(served.len());
    } else {
        out.map(served.len());
    }
    for (key, entries) in served {
        if out.proto == protocol::Proto::Resp2 {
            out.array(2);
        }
        out.bulk(key);
        reply_entries(out, entries);
    }
}

/// No data to serve: park the client on `keys` (with `args` rewritten so a re-run reads from
/// the same IDs), or answer the null array when blocking is not possible.
pub fn block_or_null(ctx: &mut Ctx, block: Option<Option<Instant>>, keys: &[Bytes], args: Vec<Bytes>) {
    if ctx.client.blocked.is_some() {
        return; // re-run for a parked client: keep waiting
    }
    match block {
        Some(deadline) if !ctx.client.in_exec => {
            let keys = keys.iter().map(|k| Box::from(&k[..])).collect();
            crate::server::blocking::block(ctx.srv, ctx.client, &args, keys, deadline, false);
        }
        _ => ctx.out.null_array(),
    }
}

fn xread(ctx: &mut Ctx) -> Result<(), Error> {
    let r = parse_read_args(ctx, false)?;
    let args = ctx.args;
    let keys = &args[r.streams_at..r.streams_at + r.nstreams];
    let mut ids = Vec::with_capacity(r.nstreams);
    let mut rewritten = args.to_vec();
    for (i, key) in keys.iter().enumerate() {
        let at = r.streams_at + r.nstreams + i;
        // A parked reader whose key changed type keeps waiting.
        let s = match get_stream(&mut ctx.srv.db, key, ctx.now) {
            Err(_) if ctx.client.blocked.is_some() => None,
            other => other?,
        };
        let a = &args[at][..];
        let id = if a == b"$" {
            let last = s.map_or(StreamId::MIN, |s| s.last_id);
            rewritten[at] = id_bytes(last);
            last
        } else if a == b">" {
            return err(
                "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
            );
        } else {
            strict_id(a)?
        };
        ids.push(id);
    }
    let mut served = Vec::new();
    for (key, after) in keys.iter().zip(&ids) {
        let Ok(Some(s)) = get_stream(&mut ctx.srv.db, key, ctx.now) else { continue };
        if s.length == 0 || s.last_valid_id() <= *after {
            continue;
        }
        let Some(start) = after.incr() else { continue };
        served.push((key.clone(), s.range(start, StreamId::MAX, false, r.count)));
    }
    if !served.is_empty() {
        reply_streams(ctx.out, &served);
        return Ok(());
    }
    block_or_null(ctx, r.block, keys, rewritten);
    Ok(())
}
