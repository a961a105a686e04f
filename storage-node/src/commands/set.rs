//! Set commands.

use bytes::Bytes;

use super::server::key_matches;
use super::{
    arg_cursor, arg_i64, arg_positive, delete_if_empty, err, get_set, is, random_indexes, scan_options, set_or_create,
    Ctx, Error, Handler,
};
use crate::keyspace::evict::rand;
use crate::keyspace::set::SetVal;
use crate::keyspace::Value;
use crate::server::notify::{notify, store_or_delete, GENERIC, SET};

pub fn register(h: &mut Vec<(&'static str, Handler)>) {
    h.extend([
        ("sadd", sadd as Handler),
        ("srem", srem),
        ("smembers", smembers),
        ("sismember", sismember),
        ("smismember", smismember),
        ("scard", scard),
        ("spop", spop),
        ("srandmember", srandmember),
        ("smove", smove),
        ("sinter", sinter),
        ("sintercard", sintercard),
        ("sunion", sunion),
        ("sdiff", sdiff),
        ("sinterstore", sinterstore),
        ("sunionstore", sunionstore),
        ("sdiffstore", sdiffstore),
        ("sscan", sscan),
    ]);
}

fn sadd(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let set = set_or_create(&mut ctx.srv.db, &args[1], ctx.now)?;
    let added = args[2..].iter().filter(|m| set.insert(m)).count();
    ctx.srv.dirty += added as u64;
    if added > 0 {
        notify(ctx.srv, SET, "sadd", &args[1]);
    }
    ctx.out.int(added as i64);
    Ok(())
}

fn srem(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let Some(set) = get_set(&mut ctx.srv.db, &args[1], ctx.now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let removed = args[2..].iter().filter(|m| set.remove(m)).count();
    let deleted = delete_if_empty(&mut ctx.srv.db, &args[1]);
    ctx.srv.dirty += removed as u64;
    if removed > 0 {
        notify(ctx.srv, SET, "srem", &args[1]);
        if deleted {
            notify(ctx.srv, GENERIC, "del", &args[1]);
        }
    }
    ctx.out.int(removed as i64);
    Ok(())
}

fn reply_members(ctx: &mut Ctx, members: &[Vec<u8>]) {
    ctx.out.set(members.len());
    for m in members {
        ctx.out.bulk(m);
    }
}

fn smembers(ctx: &mut Ctx) -> Result<(), Error> {
    let members = get_set(&mut ctx.srv.db, &ctx.args[1], ctx.now)?.map(|s| s.members()).unwrap_or_default();
    reply_members(ctx, &members);
    Ok(())
}

fn sismember(ctx: &mut Ctx) -> Result<(), Error> {
    let yes = get_set(&mut ctx.srv.db, &ctx.args[1], ctx.now)?.is_some_and(|s| s.contains(&ctx.args[2]));
    ctx.out.int(yes as i64);
    Ok(())
}

fn smismember(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let set = get_set(&mut ctx.srv.db, &args[1], ctx.now)?;
    let flags: Vec<bool> = args[2..].iter().map(|m| set.as_ref().is_some_and(|s| s.contains(m))).collect();
    ctx.out.array(flags.len());
    for f in flags {
        ctx.out.int(f as i64);
    }
    Ok(())
}

fn scard(ctx: &mut Ctx) -> Result<(), Error> {
    let n = get_set(&mut ctx.srv.db, &ctx.args[1], ctx.now)?.map_or(0, |s| s.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn spop(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    if args.len() > 3 {
        return Err(Error::Syntax);
    }
    let count = args.get(2).map(|c| arg_positive(c)).transpose()?;
    let Some(set) = get_set(&mut ctx.srv.db, &args[1], ctx.now)? else {
        match count {
            None => ctx.out.null(),
            Some(_) => ctx.out.set(0),
        }
        return Ok(());
    };
    if count.is_some_and(|c| c > 0 && c >= set.len()) {
        // Redis answers "the whole set" through SUNION, whose lookup counts as a hit.
        ctx.srv.stats.keyspace_hits += 1;
    }
    let Some(set) = get_set(&mut ctx.srv.db, &args[1], ctx.now)? else { return Ok(()) };
    let mut popped = Vec::new();
    for _ in 0..count.unwrap_or(1).min(set.len()) {
        if let Some(m) = set.random(rand()) {
            set.remove(&m);
            popped.push(m);
        }
    }
    let deleted = delete_if_empty(&mut ctx.srv.db, &args[1]);
    ctx.srv.dirty += popped.len() as u64;
    if !popped.is_empty() {
        notify(ctx.srv, SET, "spop", &args[1]);
        if deleted {
            notify(ctx.srv, GENERIC, "del", &args[1]);
        }
        // Random choices replay as the removals they were.
        let mut srem = vec![Bytes::from_static(b"SREM"), args[1].clone()];
        srem.extend(popped.iter().map(|m| Bytes::copy_from_slice(m)));
        ctx.propagate_as(vec![srem]);
    }
    match count {
        None => ctx.out.bulk(&popped[0]),
        Some(_) => reply_members(ctx, &popped),
    }
    Ok(())
}

fn srandmember(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    if args.len() > 3 {
        return Err(Error::Syntax);
    }
    let count = args.get(2).map(|c| arg_i64(c)).transpose()?;
    if count.is_some_and(|c| c.checked_abs().is_none_or(|c| c > i64::MAX / 2)) {
        return err("ERR value is out of range");
    }
    let set = get_set(&mut ctx.srv.db, &args[1], ctx.now)?;
    match (set, count) {
        (None, None) => ctx.out.null(),
        (None, Some(_)) => ctx.out.array(0),
        (Some(s), None) => match s.random(rand()) {
            Some(m) => ctx.out.bulk(&m),
            None => ctx.out.null(),
        },
        (Some(s), Some(c)) => {
            let all = s.members();
            let picks = random_indexes(all.len(), c);
            ctx.out.array(picks.len());
            for i in picks {
                ctx.out.bulk(&all[i]);
            }
        }
    }
    Ok(())
}

fn smove(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let (src, dst, m) = (&args[1], &args[2], &args[3]);
    let now = ctx.now;
    get_set(&mut ctx.srv.db, dst, now)?;
    let Some(set) = get_set(&mut ctx.srv.db, src, now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    if src == dst {
        let here = set.contains(m);
        ctx.out.int(here as i64);
        return Ok(());
    }
    if !set.remove(m) {
        ctx.out.int(0);
        return Ok(());
    }
    let deleted = delete_if_empty(&mut ctx.srv.db, src);
    notify(ctx.srv, SET, "srem", src);
    if deleted {
        notify(ctx.srv, GENERIC, "del", src);
    }
    if set_or_create(&mut ctx.srv.db, dst, now)?.insert(m) {
        notify(ctx.srv, SET, "sadd", dst);
    }
    ctx.srv.dirty += 1;
    ctx.out.int(1);
    Ok(())
}

/// Reads the sets named by `keys` (missing = empty); WRONGTYPE if any is not a set.
fn load_sets(ctx: &mut Ctx, keys: &[Bytes]) -> Result<Vec<SetVal>, Error> {
    keys.iter().map(|k| Ok(get_set(&mut ctx.srv.db, k, ctx.now)?.map(|s| s.clone()).unwrap_or_default())).collect()
}

#[derive(Clone, Copy)]
enum Op {
    Inter,
    Union,
    Diff,
}

fn compute(sets: &[SetVal], op: Op, limit: usize) -> Vec<Vec<u8>> {
    let Some((first, rest)) = sets.split_first() else { return Vec::new() };
    match op {
        Op::Inter => {
            // Walk the smallest set, check membership in the others.
            let mut order: Vec<&SetVal> = sets.iter().collect();
            order.sort_by_key(|s| s.len());
            let mut out = Vec::new();
            for m in order[0].members() {
                if order[1..].iter().all(|s| s.contains(&m)) {
                    out.push(m);
                    if out.len() >= limit {
                        break;
                    }
                }
            }
            out
        }
        Op::Union => {
            let mut acc = first.clone();
            for s in rest {
                for m in s.members() {
                    acc.insert(&m);
                }
            }
            acc.members()
        }
        Op::Diff => first.members().into_iter().filter(|m| !rest.iter().any(|s| s.contains(m))).collect(),
    }
}

fn set_op(ctx: &mut Ctx, op: Op) -> Result<(), Error> {
    let sets = load_sets(ctx, &ctx.args[1..])?;
    let members = compute(&sets, op, usize::MAX);
    reply_members(ctx, &members);
    Ok(())
}

fn set_op_store(ctx: &mut Ctx, op: Op) -> Result<(), Error> {
    let args = ctx.args;
    let sets = load_sets(ctx, &args[2..])?;
    let members = compute(&sets, op, usize::MAX);
    let dst = &args[1];
    let value =
        (!members.is_empty()).then(|| Value::Set(Box::new(SetVal::from_members(members.iter().map(|m| &m[..])))));
    let event = match op {
        Op::Inter => "sinterstore",
        Op::Union => "sunionstore",
        Op::Diff => "sdiffstore",
    };
    store_or_delete(ctx.srv, dst, value, SET, event);
    ctx.srv.dirty += 1;
    ctx.out.int(members.len() as i64);
    Ok(())
}

fn sinter(ctx: &mut Ctx) -> Result<(), Error> {
    set_op(ctx, Op::Inter)
}
fn sunion(ctx: &mut Ctx) -> Result<(), Error> {
    set_op(ctx, Op::Union)
}
fn sdiff(ctx: &mut Ctx) -> Result<(), Error> {
    set_op(ctx, Op::Diff)
}
fn sinterstore(ctx: &mut Ctx) -> Result<(), Error> {
    set_op_store(ctx, Op::Inter)
}
fn sunionstore(ctx: &mut Ctx) -> Result<(), Error> {
    set_op_store(ctx, Op::Union)
}
fn sdiffstore(ctx: &mut Ctx) -> Result<(), Error> {
    set_op_store(ctx, Op::Diff)
}

/// Parses `numkeys key... [LIMIT n]` (SINTERCARD, ZINTERCARD); returns keys and limit.
/// `zset` selects ZINTERCARD's error texts, which differ from SINTERCARD's in Redis.
pub fn card_args(args: &[Bytes], zset: bool) -> Result<(Vec<Bytes>, usize), Error> {
    let n = arg_i64(&args[1]).map_err(|_| Error::Msg("ERR numkeys should be greater than 0".into()))?;
    if n <= 0 {
        return err(if zset {
            "ERR at least 1 input key is needed for 'zintercard' command"
        } else {
            "ERR numkeys should be greater than 0"
        });
    }
    let n = n as usize;
    if 2 + n > args.len() {
        if zset {
            return Err(Error::Syntax);
        }
        return err("ERR Number of keys can't be greater than number of args");
    }
    let keys = args[2..2 + n].to_vec();
    let rest = &args[2 + n..];
    let limit = match rest.len() {
        0 => 0,
        2 if is(&rest[0], "limit") => {
            let l = arg_i64(&rest[1])?;
            if l < 0 {
                return err("ERR LIMIT can't be negative");
            }
            l as usize
        }
        _ => return Err(Error::Syntax),
    };
    Ok((keys, if limit == 0 { usize::MAX } else { limit }))
}

fn sintercard(ctx: &mut Ctx) -> Result<(), Error> {
    let (keys, limit) = card_args(ctx.args, false)?;
    let sets = load_sets(ctx, &keys)?;
    let n = compute(&sets, Op::Inter, limit).len();
    ctx.out.int(n as i64);
    Ok(())
}

fn sscan(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let cursor = arg_cursor(&args[2])?;
    let (pattern, count) = scan_options(args)?;
    let mut found = Vec::new();
    let next = match get_set(&mut ctx.srv.db, &args[1], ctx.now)? {
        None => 0,
        Some(s) => s.scan(cursor, count, |m| {
            if key_matches(pattern, m) {
                found.push(m.to_vec());
            }
        }),
    };
    ctx.out.array(2);
    ctx.out.bulk(next.to_string().as_bytes());
    ctx.out.array(found.len());
    for m in found {
        ctx.out.bulk(&m);
    }
    Ok(())
}
