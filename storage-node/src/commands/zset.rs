//! Sorted-set commands.

use bytes::Bytes;
use protocol::encode::format_g17;
use protocol::Proto;

use super::server::key_matches;
use super::{
    arg_cursor, arg_f64, arg_i64, arg_positive, delete_if_empty, err, get_zset, is, random_indexes, scan_options,
    zset_or_create, Ctx, Error, Handler,
};
use crate::commands::list::normalize_range;
use crate::keyspace::skiplist::{LexBound, LexRange, ScoreRange};
use crate::keyspace::zset::{Lookup, ZSetVal};
use crate::keyspace::Value;
use crate::server::notify::{notify, store_or_delete, GENERIC, ZSET};

pub fn register(h: &mut Vec<(&'static str, Handler)>) {
    h.extend([
        ("zadd", zadd as Handler),
        ("zincrby", zincrby),
        ("zscore", zscore),
        ("zmscore", zmscore),
        ("zcard", zcard),
        ("zcount", zcount),
        ("zlexcount", zlexcount),
        ("zrange", zrange),
        ("zrangestore", zrangestore),
        ("zrangebyscore", zrangebyscore),
        ("zrevrangebyscore", zrevrangebyscore),
        ("zrangebylex", zrangebylex),
        ("zrevrangebylex", zrevrangebylex),
        ("zrevrange", zrevrange),
        ("zrank", zrank),
        ("zrevrank", zrevrank),
        ("zrem", zrem),
        ("zremrangebyscore", zremrangebyscore),
        ("zremrangebyrank", zremrangebyrank),
        ("zremrangebylex", zremrangebylex),
        ("zpopmin", zpopmin),
        ("zpopmax", zpopmax),
        ("zmpop", zmpop),
        ("zrandmember", zrandmember),
        ("zscan", zscan),
    ]);
}

/// Members with their scores, in order.
pub type Scored = Vec<(Vec<u8>, f64)>;

/// Parses a score bound: `1.5`, `(1.5`, `-inf`, `+inf`.
fn score_bound(b: &[u8]) -> Result<(f64, bool), Error> {
    let bad = || Error::Msg("ERR min or max is not a float".into());
    let (ex, num) = if b.first() == Some(&b'(') { (true, &b[1..]) } else { (false, b) };
    // strtod of an empty string is 0, so a bare `(` means "above 0", as in Redis.
    let v = if ex && num.is_empty() { 0.0 } else { arg_f64(num).map_err(|_| bad())? };
    Ok((v, ex))
}

/// Parses a score range from its two bounds.
pub fn score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, Error> {
    let ((min, minex), (max, maxex)) = (score_bound(min)?, score_bound(max)?);
    Ok(ScoreRange { min, max, minex, maxex })
}

fn lex_bound(b: &[u8]) -> Result<LexBound, Error> {
    match b.first() {
        Some(b'-') if b.len() == 1 => Ok(LexBound::NegInf),
        Some(b'+') if b.len() == 1 => Ok(LexBound::PosInf),
        Some(b'[') => Ok(LexBound::Incl(b[1..].to_vec())),
        Some(b'(') => Ok(LexBound::Excl(b[1..].to_vec())),
        _ => err("ERR min or max not valid string range item"),
    }
}

/// Parses a lexicographic range from its two bounds.
pub fn lex_range(min: &[u8], max: &[u8]) -> Result<LexRange, Error> {
    Ok(LexRange { min: lex_bound(min)?, max: lex_bound(max)? })
}

pub(super) fn zadd(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let (mut nx, mut xx, mut gt, mut lt, mut ch, mut incr) = (false, false, false, false, false, false);
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        match () {
            _ if is(a, "nx") => nx = true,
            _ if is(a, "xx") => xx = true,
            _ if is(a, "gt") => gt = true,
            _ if is(a, "lt") => lt = true,
            _ if is(a, "ch") => ch = true,
            _ if is(a, "incr") => incr = true,
            _ => break,
        }
        i += 1;
    }
    let pairs = &args[i..];
    if pairs.is_empty() || !pairs.len().is_multiple_of(2) {
        return Err(Error::Syntax);
    }
    if nx && xx {
        return err("ERR XX and NX options at the same time are not compatible");
    }
    if (nx && (gt || lt)) || (gt && lt) {
        return err("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if incr && pairs.len() > 2 {
        return err("ERR INCR option supports a single increment-element pair");
    }
    let scores: Vec<f64> = pairs.chunks(2).map(|p| arg_f64(&p[0])).collect::<Result<_, _>>()?;
    let key = &args[1];
    let now = ctx.now;
    if xx && get_zset(&mut ctx.srv.db, key, now)?.is_none() {
        if incr {
            ctx.out.null();
        } else {
            ctx.out.int(0);
        }
        return Ok(());
    }
    let z = zset_or_create(&mut ctx.srv.db, key, now)?;
    let (mut added, mut changed) = (0, 0);
    let mut incr_result = None;
    for (pair, score) in pairs.chunks(2).zip(scores) {
        let m = &pair[1];
        match z.lookup(m) {
            Lookup::Found(x, cur) => {
                if nx {
                    continue;
                }
                let new = if incr { cur + score } else { score };
                if new.is_nan() {
                    delete_if_empty(&mut ctx.srv.db, key);
                    return err("ERR resulting score is not a number (NaN)");
                }
                if (lt && new >= cur) || (gt && new <= cur) {
                    continue;
                }
                if new != cur {
                    z.set_score(x, new);
                    changed += 1;
                }
                incr_result = Some(new);
            }
            Lookup::Absent(hash) => {
                if xx {
                    continue;
                }
                z.add(hash, m, score);
                added += 1;
                incr_result = Some(score);
            }
        }
    }
    if z.is_empty() {
        delete_if_empty(&mut ctx.srv.db, key);
    }
    if added + changed > 0 {
        ctx.srv.dirty += (added + changed) as u64;
        notify(ctx.srv, ZSET, if incr { "zincr" } else { "zadd" }, key);
        ctx.srv.key_ready(key);
    }
    if incr {
        match incr_result {
            Some(s) => ctx.out.double(s),
            None => ctx.out.null(),
        }
    } else {
        ctx.out.int(if ch { added + changed } else { added });
    }
    Ok(())
}

fn zincrby(ctx: &mut Ctx) -> Result<(), Error> {
    let by = arg_f64(&ctx.args[2])?;
    let (key, m) = (&ctx.args[1], &ctx.args[3]);
    let z = zset_or_create(&mut ctx.srv.db, key, ctx.now)?;
    let old = z.score(m);
    let new = old.unwrap_or(0.0) + by;
    if new.is_nan() {
        delete_if_empty(&mut ctx.srv.db, key);
        return err("ERR resulting score is not a number (NaN)");
    }
    z.insert(m, new);
    ctx.srv.dirty += 1;
    // ZINCRBY is ZADD INCR in Redis: an unchanged score is no event.
    if old != Some(new) {
        notify(ctx.srv, ZSET, "zincr", key);
    }
    ctx.srv.key_ready(key);
    ctx.out.double(new);
    Ok(())
}

fn zscore(ctx: &mut Ctx) -> Result<(), Error> {
    match get_zset(&mut ctx.srv.db, &ctx.args[1], ctx.now)?.and_then(|z| z.score(&ctx.args[2])) {
        Some(s) => ctx.out.double(s),
        None => ctx.out.null(),
    }
    Ok(())
}

fn zmscore(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let scores: Vec<Option<f64>> = {
        let z = get_zset(&mut ctx.srv.db, &args[1], ctx.now)?;
        args[2..].iter().map(|m| z.as_ref().and_then(|z| z.score(m))).collect()
    };
    ctx.out.array(scores.len());
    for s in scores {
        match s {
            Some(s) => ctx.out.double(s),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn zcard(ctx: &mut Ctx) -> Result<(), Error> {
    let n = get_zset(&mut ctx.srv.db, &ctx.args[1], ctx.now)?.map_or(0, |z| z.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn zcount(ctx: &mut Ctx) -> Result<(), Error> {
    let r = score_range(&ctx.args[2], &ctx.args[3])?;
    let n = get_zset(&mut ctx.srv.db, &ctx.args[1], ctx.now)?.map_or(0, |z| z.count_in_score(&r));
    ctx.out.int(n as i64);
    Ok(())
}

fn zlexcount(ctx: &mut Ctx) -> Result<(), Error> {
    let r = lex_range(&ctx.args[2], &ctx.args[3])?;
    let n = get_zset(&mut ctx.srv.db, &ctx.args[1], ctx.now)?.map_or(0, |z| z.count_in_lex(&r));
    ctx.out.int(n as i64);
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum By {
    Rank,
    Score,
    Lex,
}

/// A parsed range request shared by ZRANGE and its older forms.
struct RangeSpec<'a> {
    by: By,
    rev: bool,
    start: &'a [u8],
    stop: &'a [u8],
    offset: i64,
    count: i64,
    withscores: bool,
    has_limit: bool,
}

impl<'a> RangeSpec<'a> {
    /// A range without LIMIT or WITHSCORES.
    fn new(by: By, rev: bool, start: &'a [u8], stop: &'a [u8]) -> Self {
        RangeSpec { by, rev, start, stop, offset: 0, count: -1, withscores: false, has_limit: false }
    }

    /// Reads `LIMIT offset count` at `args[i]`; false when that is not a LIMIT clause.
    fn take_limit(&mut self, args: &[Bytes], i: usize) -> Result<bool, Error> {
        if !(is(&args[i], "limit") && i + 2 < args.len()) {
            return Ok(false);
        }
        self.offset = arg_i64(&args[i + 1])?;
        self.count = arg_i64(&args[i + 2])?;
        self.has_limit = true;
        Ok(true)
    }
}

fn parse_limit_opts(
    spec: &mut RangeSpec,
    opts: &[Bytes],
    allow_withscores: bool,
    allow_limit: bool,
) -> Result<(), Error> {
    let mut i = 0;
    while i < opts.len() {
        if allow_withscores && is(&opts[i], "withscores") {
            spec.withscores = true;
        } else if allow_limit && spec.take_limit(opts, i)? {
            i += 2;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    Ok(())
}

/// Computes a range over `z` as `(member, score)` pairs.
fn run_range(z: &ZSetVal, spec: &RangeSpec) -> Result<Vec<(Vec<u8>, f64)>, Error> {
    let (offset, count) = (spec.offset, spec.count);
    if spec.has_limit && offset < 0 {
        return Ok(Vec::new());
    }
    let offset = offset.max(0) as usize;
    match spec.by {
        By::Rank => {
            let (start, stop) = (arg_i64(spec.start)?, arg_i64(spec.stop)?);
            Ok(match normalize_range(start, stop, z.len()) {
                Some((a, b)) => z.range_by_rank(a, b, spec.rev),
                None => Vec::new(),
            })
        }
        By::Score => {
            let r = if spec.rev { score_range(spec.stop, spec.start)? } else { score_range(spec.start, spec.stop)? };
            Ok(z.range_by_score(&r, spec.rev, offset, count))
        }
        By::Lex => {
            let r = if spec.rev { lex_range(spec.stop, spec.start)? } else { lex_range(spec.start, spec.stop)? };
            Ok(z.range_by_lex(&r, spec.rev, offset, count))
        }
    }
}

/// Writes members (and scores) as Redis does: flat in RESP2, pairs in RESP3.
pub fn reply_pairs(ctx: &mut Ctx, items: &[(Vec<u8>, f64)], withscores: bool) {
    let resp3 = ctx.out.proto == Proto::Resp3;
    if withscores && !resp3 {
        ctx.out.array(items.len() * 2);
    } else {
        ctx.out.array(items.len());
    }
    for (m, s) in items {
        if withscores && resp3 {
            ctx.out.array(2);
        }
        ctx.out.bulk(m);
        if withscores {
            ctx.out.double(*s);
        }
    }
}

fn range_reply(ctx: &mut Ctx, spec: RangeSpec) -> Result<(), Error> {
    let items = match get_zset(&mut ctx.srv.db, &ctx.args[1], ctx.now)? {
        Some(z) => run_range(z, &spec)?,
        None => {
            // Still validate the arguments, as Redis does.
            run_range(&ZSetVal::default(), &spec)?;
            Vec::new()
        }
    };
    reply_pairs(ctx, &items, spec.withscores);
    Ok(())
}

/// Parses ZRANGE's modern syntax from `args[at..]` (at = index of start).
fn parse_zrange<'a>(args: &'a [Bytes], at: usize, store: bool) -> Result<RangeSpec<'a>, Error> {
    let mut spec = RangeSpec::new(By::Rank, false, &args[at], &args[at + 1]);
    let mut i = at + 2;
    while i < args.len() {
        let a = &args[i];
        if is(a, "byscore") && spec.by != By::Lex {
            spec.by = By::Score;
        } else if is(a, "bylex") && spec.by != By::Score {
            spec.by = By::Lex;
        } else if is(a, "rev") {
            spec.rev = true;
        } else if !store && is(a, "withscores") {
            spec.withscores = true;
        } else if spec.take_limit(args, i)? {
            i += 2;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    if spec.has_limit && spec.by == By::Rank {
        return err("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX");
    }
    if spec.withscores && spec.by == By::Lex {
        return err("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
    }
    Ok(spec)
}

fn zrange(ctx: &mut Ctx) -> Result<(), Error> {
    let spec = parse_zrange(ctx.args, 2, false)?;
    range_reply(ctx, spec)
}

fn zrangestore(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let spec = parse_zrange(args, 3, true)?;
    let items = match get_zset(&mut ctx.srv.db, &args[2], ctx.now)? {
        Some(z) => run_range(z, &spec)?,
        None => Vec::new(),
    };
    store_result(ctx, &args[1], &items, "zrangestore");
    ctx.out.int(items.len() as i64);
    Ok(())
}

/// Replaces `dst` with a sorted set of `items` (deleting it when empty), raising `event`.
pub fn store_result(ctx: &mut Ctx, dst: &[u8], items: &[(Vec<u8>, f64)], event: &'static str) {
    let value = (!items.is_empty()).then(|| {
        let mut z = ZSetVal::default();
        for (m, s) in items {
            z.insert(m, *s);
        }
        Value::ZSet(Box::new(z))
    });
    store_or_delete(ctx.srv, dst, value, ZSET, event);
    if !items.is_empty() {
        ctx.srv.key_ready(dst);
    }
    ctx.srv.dirty += 1;
}

fn old_range(ctx: &mut Ctx, by: By, rev: bool) -> Result<(), Error> {
    let args = ctx.args;
    let mut spec = RangeSpec::new(by, rev, &args[2], &args[3]);
    parse_limit_opts(&mut spec, &args[4..], by != By::Lex, by != By::Rank)?;
    range_reply(ctx, spec)
}

fn zrangebyscore(ctx: &mut Ctx) -> Result<(), Error> {
    old_range(ctx, By::Score, false)
}
fn zrevrangebyscore(ctx: &mut Ctx) -> Result<(), Error> {
    old_range(ctx, By::Score, true)
}
fn zrangebylex(ctx: &mut Ctx) -> Result<(), Error> {
    old_range(ctx, By::Lex, false)
}
fn zrevrangebylex(ctx: &mut Ctx) -> Result<(), Error> {
    old_range(ctx, By::Lex, true)
}
fn zrevrange(ctx: &mut Ctx) -> Result<(), Error> {
    old_range(ctx, By::Rank, true)
}

fn rank(ctx: &mut Ctx, rev: bool) -> Result<(), Error> {
    match get_zset(&mut ctx.srv.db, &ctx.args[1], ctx.now)?.and_then(|z| z.rank(&ctx.args[2], rev)) {
        Some(r) => ctx.out.int(r as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

fn zrank(ctx: &mut Ctx) -> Result<(), Error> {
    rank(ctx, false)
}
fn zrevrank(ctx: &mut Ctx) -> Result<(), Error> {
    rank(ctx, true)
}

fn zrem(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let Some(z) = get_zset(&mut ctx.srv.db, &args[1], ctx.now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let n = args[2..].iter().filter(|m| z.remove(m)).count();
    let deleted = delete_if_empty(&mut ctx.srv.db, &args[1]);
    ctx.srv.dirty += n as u64;
    if n > 0 {
        notify(ctx.srv, ZSET, "zrem", &args[1]);
        if deleted {
            notify(ctx.srv, GENERIC, "del", &args[1]);
        }
    }
    ctx.out.int(n as i64);
    Ok(())
}

fn remove_range(ctx: &mut Ctx, by: By) -> Result<(), Error> {
    let args = ctx.args;
    let spec = RangeSpec::new(by, false, &args[2], &args[3]);
    // Parse before looking at the key so bad ranges are reported on missing keys too.
    run_range(&ZSetVal::default(), &spec)?;
    let Some(z) = get_zset(&mut ctx.srv.db, &args[1], ctx.now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let items = run_range(z, &spec)?;
    for (m, _) in &items {
        z.remove(m);
    }
    let deleted = delete_if_empty(&mut ctx.srv.db, &args[1]);
    ctx.srv.dirty += items.len() as u64;
    if !items.is_empty() {
        let event = match by {
            By::Rank => "zremrangebyrank",
            By::Score => "zremrangebyscore",
            By::Lex => "zremrangebylex",
        };
        notify(ctx.srv, ZSET, event, &args[1]);
        if deleted {
            notify(ctx.srv, GENERIC, "del", &args[1]);
        }
    }
    ctx.out.int(items.len() as i64);
    Ok(())
}

fn zremrangebyscore(ctx: &mut Ctx) -> Result<(), Error> {
    remove_range(ctx, By::Score)
}
fn zremrangebyrank(ctx: &mut Ctx) -> Result<(), Error> {
    remove_range(ctx, By::Rank)
}
fn zremrangebylex(ctx: &mut Ctx) -> Result<(), Error> {
    remove_range(ctx, By::Lex)
}

/// Pops up to `count` members from `key`; `None` when the key is missing.
pub fn pop_members(ctx: &mut Ctx, key: &[u8], max: bool, count: usize) -> Result<Option<Scored>, Error> {
    let Some(z) = get_zset(&mut ctx.srv.db, key, ctx.now)? else { return Ok(None) };
    let items = z.pop(count, max);
    let deleted = delete_if_empty(&mut ctx.srv.db, key);
    ctx.srv.dirty += items.len() as u64;
    if !items.is_empty() {
        notify(ctx.srv, ZSET, if max { "zpopmax" } else { "zpopmin" }, key);
    }
    if deleted {
        notify(ctx.srv, GENERIC, "del", key);
    }
    Ok(Some(items))
}

fn zpop(ctx: &mut Ctx, max: bool) -> Result<(), Error> {
    let args = ctx.args;
    if args.len() > 3 {
        return Err(Error::Syntax);
    }
    let count = args.get(2).map(|c| arg_positive(c)).transpose()?;
    let items = pop_members(ctx, &args[1], max, count.unwrap_or(1))?.unwrap_or_default();
    if count.is_some() {
        reply_pairs(ctx, &items, true);
    } else {
        // A single pop is a flat [member, score] in both protocols.
        ctx.out.array(items.len() * 2);
        for (m, s) in &items {
            ctx.out.bulk(m);
            ctx.out.double(*s);
        }
    }
    Ok(())
}

fn zpopmin(ctx: &mut Ctx) -> Result<(), Error> {
    zpop(ctx, false)
}
fn zpopmax(ctx: &mut Ctx) -> Result<(), Error> {
    zpop(ctx, true)
}

/// Parses `numkeys key... MIN|MAX [COUNT n]` from `args[at..]` (ZMPOP/BZMPOP).
pub fn zmpop_args(args: &[Bytes], at: usize) -> Result<(Vec<Bytes>, bool, usize), Error> {
    let (keys, where_, count) = super::mpop_shape(args, at)?;
    let max = if is(where_, "max") {
        true
    } else if is(where_, "min") {
        false
    } else {
        return Err(Error::Syntax);
    };
    Ok((keys, max, count))
}

/// Pops from the first non-empty sorted set, replying `[key, [[member, score], ...]]`.
pub fn zmpop_reply(ctx: &mut Ctx, keys: &[Bytes], max: bool, count: usize) -> Result<bool, Error> {
    for key in keys {
        if let Some(items) = pop_members(ctx, key, max, count)? {
            if items.is_empty() {
                continue;
            }
            ctx.out.array(2);
            ctx.out.bulk(key);
            ctx.out.array(items.len());
            for (m, s) in &items {
                ctx.out.array(2);
                ctx.out.bulk(m);
                ctx.out.double(*s);
            }
            return Ok(true);
        }
    }
    Ok(false)
}

fn zmpop(ctx: &mut Ctx) -> Result<(), Error> {
    let (keys, max, count) = zmpop_args(ctx.args, 1)?;
    if !zmpop_reply(ctx, &keys, max, count)? {
        ctx.out.null_array();
    }
    Ok(())
}

fn zrandmember(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let count = match args.len() {
        2 => None,
        3 => Some(arg_i64(&args[2])?),
        4 if is(&args[3], "withscores") => Some(arg_i64(&args[2])?),
        _ => return Err(Error::Syntax),
    };
    if count.is_some_and(|c| c.checked_abs().is_none_or(|c| c > i64::MAX / 2)) {
        return err("ERR value is out of range");
    }
    let withscores = args.len() == 4;
    let z = get_zset(&mut ctx.srv.db, &args[1], ctx.now)?;
    let Some(count) = count else {
        match z.and_then(|z| z.random(crate::keyspace::evict::rand()).map(<[u8]>::to_vec)) {
            Some(m) => ctx.out.bulk(&m),
            None => ctx.out.null(),
        }
        return Ok(());
    };
    let all: Vec<(Vec<u8>, f64)> = z.map(|z| z.iter().map(|(m, s)| (m.to_vec(), s)).collect()).unwrap_or_default();
    if all.is_empty() {
        ctx.out.array(0);
        return Ok(());
    }
    let picks: Vec<(Vec<u8>, f64)> = random_indexes(all.len(), count).into_iter().map(|i| all[i].clone()).collect();
    reply_pairs(ctx, &picks, withscores);
    Ok(())
}

fn zscan(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let cursor = arg_cursor(&args[2])?;
    let (pattern, count) = scan_options(args)?;
    let mut found = Vec::new();
    let next = match get_zset(&mut ctx.srv.db, &args[1], ctx.now)? {
        None => 0,
        // A listpack is scanned whole, in its (score) order, as Redis does.
        Some(z) if z.is_packed() => {
            found.extend(z.iter().filter(|(m, _)| key_matches(pattern, m)).map(|(m, s)| (m.to_vec(), s)));
            0
        }
        Some(z) => z.scan(cursor, count, |m, s| {
            if key_matches(pattern, m) {
                found.push((m.to_vec(), s));
            }
        }),
    };
    ctx.out.array(2);
    ctx.out.bulk(next.to_string().as_bytes());
    ctx.out.array(found.len() * 2);
    for (m, s) in found {
        ctx.out.bulk(&m);
        ctx.out.bulk(format_g17(s).as_bytes());
    }
    Ok(())
}
