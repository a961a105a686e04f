//! List commands, including the non-blocking halves of the blocking pops.

use std::collections::VecDeque;

use bytes::Bytes;

use super::{arg_i64, arg_positive, delete_if_empty, err, get_list, is, list_or_create, Ctx, Error, Handler};
// List elements: inline up to 22 bytes, like keys.
use crate::keyspace::KeyBuf as Elem;
use crate::server::notify::{notify, GENERIC, LIST};

fn side_event(left: bool, pop: bool) -> &'static str {
    match (left, pop) {
        (true, true) => "lpop",
        (false, true) => "rpop",
        (true, false) => "lpush",
        (false, false) => "rpush",
    }
}

/// The pop event, then `del` when the pop emptied the key.
fn notify_pop(ctx: &mut Ctx, key: &[u8], left: bool, deleted: bool) {
    notify(ctx.srv, LIST, side_event(left, true), key);
    if deleted {
        notify(ctx.srv, GENERIC, "del", key);
    }
}

pub fn register(h: &mut Vec<(&'static str, Handler)>) {
    h.extend([
        ("lpush", lpush as Handler),
        ("rpush", rpush),
        ("lpushx", lpushx),
        ("rpushx", rpushx),
        ("lpop", lpop),
        ("rpop", rpop),
        ("lrange", lrange),
        ("llen", llen),
        ("lindex", lindex),
        ("lset", lset),
        ("linsert", linsert),
        ("lrem", lrem),
        ("ltrim", ltrim),
        ("lpos", lpos),
        ("lmove", lmove),
        ("rpoplpush", rpoplpush),
        ("lmpop", lmpop),
    ]);
}

fn push(ctx: &mut Ctx, left: bool, only_existing: bool) -> Result<(), Error> {
    let args = ctx.args;
    let key = &args[1];
    let list = if only_existing {
        match get_list(&mut ctx.srv.db, key, ctx.now)? {
            Some(l) => l,
            None => {
                ctx.out.int(0);
                return Ok(());
            }
        }
    } else {
        list_or_create(&mut ctx.srv.db, key, ctx.now)?
    };
    for e in &args[2..] {
        let e: Elem = e[..].into();
        if left {
            list.push_front(e);
        } else {
            list.push_back(e);
        }
    }
    let len = list.len();
    ctx.srv.dirty += (args.len() - 2) as u64;
    notify(ctx.srv, LIST, side_event(left, false), key);
    ctx.srv.key_ready(key);
    ctx.out.int(len as i64);
    Ok(())
}

fn lpush(ctx: &mut Ctx) -> Result<(), Error> {
    push(ctx, true, false)
}
fn rpush(ctx: &mut Ctx) -> Result<(), Error> {
    push(ctx, false, false)
}
fn lpushx(ctx: &mut Ctx) -> Result<(), Error> {
    push(ctx, true, true)
}
fn rpushx(ctx: &mut Ctx) -> Result<(), Error> {
    push(ctx, false, true)
}

/// Pops up to `count` elements from one end; `None` when the key is missing.
pub fn pop_elems(ctx: &mut Ctx, key: &[u8], left: bool, count: usize) -> Result<Option<Vec<Elem>>, Error> {
    let Some(list) = get_list(&mut ctx.srv.db, key, ctx.now)? else { return Ok(None) };
    let n = count.min(list.len());
    let out: Vec<Elem> = (0..n).filter_map(|_| if left { list.pop_front() } else { list.pop_back() }).collect();
    let deleted = delete_if_empty(&mut ctx.srv.db, key);
    ctx.srv.dirty += out.len() as u64;
    if !out.is_empty() {
        notify_pop(ctx, key, left, deleted);
    }
    Ok(Some(out))
}

fn pop(ctx: &mut Ctx, left: bool) -> Result<(), Error> {
    let args = ctx.args;
    if args.len() > 3 {
        let name = String::from_utf8_lossy(&args[0]).to_lowercase();
        return err(format!("ERR wrong number of arguments for '{name}' command"));
    }
    let count = args.get(2).map(|c| arg_positive(c)).transpose()?;
    match (pop_elems(ctx, &args[1], left, count.unwrap_or(1))?, count) {
        (None, None) => ctx.out.null(),
        (None, Some(_)) => ctx.out.null_array(),
        (Some(v), None) => match v.first() {
            Some(e) => ctx.out.bulk(e),
            None => ctx.out.null(),
        },
        (Some(v), Some(_)) => {
            ctx.out.array(v.len());
            for e in v {
                ctx.out.bulk(&e);
            }
        }
    }
    Ok(())
}

fn lpop(ctx: &mut Ctx) -> Result<(), Error> {
    pop(ctx, true)
}
fn rpop(ctx: &mut Ctx) -> Result<(), Error> {
    pop(ctx, false)
}

/// Normalises Redis `start`/`stop` indexes over a length into an inclusive range.
pub fn normalize_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 { (len + start).max(0) } else { start };
    let stop = if stop < 0 { len + stop } else { stop.min(len - 1) };
    if start > stop || start >= len || stop < 0 {
        return None;
    }
    Some((start as usize, stop as usize))
}

fn lrange(ctx: &mut Ctx) -> Result<(), Error> {
    let (start, stop) = (arg_i64(&ctx.args[2])?, arg_i64(&ctx.args[3])?);
    let Some(list) = get_list(&mut ctx.srv.db, &ctx.args[1], ctx.now)? else {
        ctx.out.array(0);
        return Ok(());
    };
    match normalize_range(start, stop, list.len()) {
        None => ctx.out.array(0),
        Some((a, b)) => {
            ctx.out.array(b - a + 1);
            for e in list.range(a..=b) {
                ctx.out.bulk(e);
            }
        }
    }
    Ok(())
}

fn llen(ctx: &mut Ctx) -> Result<(), Error> {
    let n = get_list(&mut ctx.srv.db, &ctx.args[1], ctx.now)?.map_or(0, |l| l.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn index_of(idx: i64, len: usize) -> Option<usize> {
    let i = if idx < 0 { len as i64 + idx } else { idx };
    (0..len as i64).contains(&i).then_some(i as usize)
}

fn lindex(ctx: &mut Ctx) -> Result<(), Error> {
    let idx = arg_i64(&ctx.args[2])?;
    match get_list(&mut ctx.srv.db, &ctx.args[1], ctx.now)?.and_then(|l| index_of(idx, l.len()).map(|i| &l[i])) {
        Some(e) => ctx.out.bulk(e),
        None => ctx.out.null(),
    }
    Ok(())
}

fn lset(ctx: &mut Ctx) -> Result<(), Error> {
    let idx = arg_i64(&ctx.args[2])?;
    let Some(list) = get_list(&mut ctx.srv.db, &ctx.args[1], ctx.now)? else {
        return Err(Error::NoSuchKey);
    };
    let Some(i) = index_of(idx, list.len()) else {
        return err("ERR index out of range");
    };
    list[i] = ctx.args[3][..].into();
    ctx.srv.dirty += 1;
    notify(ctx.srv, LIST, "lset", &ctx.args[1]);
    ctx.out.ok();
    Ok(())
}

fn linsert(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let after = if is(&args[2], "after") {
        true
    } else if is(&args[2], "before") {
        false
    } else {
        return Err(Error::Syntax);
    };
    let Some(list) = get_list(&mut ctx.srv.db, &args[1], ctx.now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let Some(pos) = list.iter().position(|e| **e == args[3][..]) else {
        ctx.out.int(-1);
        return Ok(());
    };
    list.insert(if after { pos + 1 } else { pos }, args[4][..].into());
    let len = list.len();
    ctx.srv.dirty += 1;
    notify(ctx.srv, LIST, "linsert", &args[1]);
    ctx.out.int(len as i64);
    Ok(())
}

fn lrem(ctx: &mut Ctx) -> Result<(), Error> {
    let count = arg_i64(&ctx.args[2])?;
    let target = &ctx.args[3][..];
    let Some(list) = get_list(&mut ctx.srv.db, &ctx.args[1], ctx.now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let limit = if count == 0 { usize::MAX } else { count.unsigned_abs() as usize };
    let mut removed = 0;
    if count >= 0 {
        let mut i = 0;
        while i < list.len() && removed < limit {
            if *list[i] == *target {
                list.remove(i);
                removed += 1;
            } else {
                i += 1;
            }
        }
    } else {
        let mut i = list.len();
        while i > 0 && removed < limit {
            i -= 1;
            if *list[i] == *target {
                list.remove(i);
                removed += 1;
            }
        }
    }
    let deleted = delete_if_empty(&mut ctx.srv.db, &ctx.args[1]);
    ctx.srv.dirty += removed as u64;
    if removed > 0 {
        notify(ctx.srv, LIST, "lrem", &ctx.args[1]);
    }
    if deleted {
        notify(ctx.srv, GENERIC, "del", &ctx.args[1]);
    }
    ctx.out.int(removed as i64);
    Ok(())
}

fn ltrim(ctx: &mut Ctx) -> Result<(), Error> {
    let (start, stop) = (arg_i64(&ctx.args[2])?, arg_i64(&ctx.args[3])?);
    if let Some(list) = get_list(&mut ctx.srv.db, &ctx.args[1], ctx.now)? {
        match normalize_range(start, stop, list.len()) {
            None => list.clear(),
            Some((a, b)) => {
                list.truncate(b + 1);
                list.drain(..a);
            }
        }
        let deleted = delete_if_empty(&mut ctx.srv.db, &ctx.args[1]);
        ctx.srv.dirty += 1;
        notify(ctx.srv, LIST, "ltrim", &ctx.args[1]);
        if deleted {
            notify(ctx.srv, GENERIC, "del", &ctx.args[1]);
        }
    }
    ctx.out.ok();
    Ok(())
}

fn lpos(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let (mut rank, mut count, mut maxlen) = (1i64, None, 0usize);
    let mut i = 3;
    while i < args.len() {
        if i + 1 >= args.len() {
            return Err(Error::Syntax);
        }
        let v = arg_i64(&args[i + 1])?;
        if is(&args[i], "rank") {
            if v == 0 {
                return err("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list");
            }
            if v == i64::MIN {
                return err("ERR value is out of range");
            }
            rank = v;
        } else if is(&args[i], "count") {
            if v < 0 {
                return err("ERR COUNT can't be negative");
            }
            count = Some(v as usize);
        } else if is(&args[i], "maxlen") {
            if v < 0 {
                return err("ERR MAXLEN can't be negative");
            }
            maxlen = v as usize;
        } else {
            return Err(Error::Syntax);
        }
        i += 2;
    }
    let target = &args[2][..];
    let mut found = Vec::new();
    if let Some(list) = get_list(&mut ctx.srv.db, &args[1], ctx.now)? {
        let want = match count {
            Some(0) => usize::MAX,
            Some(n) => n,
            None => 1,
        };
        let mut skip = rank.unsigned_abs() as usize - 1;
        let len = list.len();
        let limit = if maxlen == 0 { len } else { maxlen.min(len) };
        for step in 0..limit {
            let idx = if rank > 0 { step } else { len - 1 - step };
            if *list[idx] == *target {
                if skip > 0 {
                    skip -= 1;
                    continue;
                }
                found.push(idx as i64);
                if found.len() >= want {
                    break;
                }
            }
        }
    }
    if count.is_some() {
        ctx.out.array(found.len());
        for i in found {
            ctx.out.int(i);
        }
    } else {
        match found.first() {
            Some(i) => ctx.out.int(*i),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// Parses LEFT/RIGHT.
pub fn arg_side(b: &[u8]) -> Result<bool, Error> {
    if is(b, "left") {
        Ok(true)
    } else if is(b, "right") {
        Ok(false)
    } else {
        Err(Error::Syntax)
    }
}

/// Moves one element between lists; `Ok(None)` when the source is empty.
pub fn move_elem(ctx: &mut Ctx, src: &[u8], dst: &[u8], from_left: bool, to_left: bool) -> Result<Option<Elem>, Error> {
    let now = ctx.now;
    // Check the destination's type first so a WRONGTYPE changes nothing.
    get_list(&mut ctx.srv.db, dst, now)?;
    let Some(list) = get_list(&mut ctx.srv.db, src, now)? else { return Ok(None) };
    let Some(e) = (if from_left { list.pop_front() } else { list.pop_back() }) else { return Ok(None) };
    // A one-element list rotated onto itself is never empty (nor deleted) in between.
    let emptied = list.is_empty() && src != dst;
    if emptied {
        ctx.srv.db.remove(src);
    }
    let target: &mut VecDeque<Elem> = list_or_create(&mut ctx.srv.db, dst, now)?;
    if to_left {
        target.push_front(e.clone());
    } else {
        target.push_back(e.clone());
    }
    ctx.srv.dirty += 1;
    // Redis's order (lmoveGenericCommand): the push, then the pop, then the source's `del`.
    notify(ctx.srv, LIST, side_event(to_left, false), dst);
    notify_pop(ctx, src, from_left, emptied);
    ctx.srv.key_ready(dst);
    Ok(Some(e))
}

fn lmove(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let (from, to) = (arg_side(&args[3])?, arg_side(&args[4])?);
    match move_elem(ctx, &args[1], &args[2], from, to)? {
        Some(e) => ctx.out.bulk(&e),
        None => ctx.out.null(),
    }
    Ok(())
}

fn rpoplpush(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    match move_elem(ctx, &args[1], &args[2], false, true)? {
        Some(e) => ctx.out.bulk(&e),
        None => ctx.out.null(),
    }
    Ok(())
}

/// Parses `numkeys key... LEFT|RIGHT [COUNT n]` starting at `args[at]` (LMPOP/BLMPOP).
pub fn mpop_args(args: &[Bytes], at: usize) -> Result<(Vec<Bytes>, bool, usize), Error> {
    let (keys, where_, count) = super::mpop_shape(args, at)?;
    Ok((keys, arg_side(where_)?, count))
}

/// Pops from the first non-empty list of `keys`, replying `[key, [elems]]`; false when all empty.
pub fn mpop_reply(ctx: &mut Ctx, keys: &[Bytes], left: bool, count: usize) -> Result<bool, Error> {
    for key in keys {
        if let Some(v) = pop_elems(ctx, key, left, count)? {
            if v.is_empty() {
                continue;
            }
            ctx.out.array(2);
            ctx.out.bulk(key);
            ctx.out.array(v.len());
            for e in v {
                ctx.out.bulk(&e);
            }
            return Ok(true);
        }
    }
    Ok(false)
}

fn lmpop(ctx: &mut Ctx) -> Result<(), Error> {
    let (keys, left, count) = mpop_args(ctx.args, 1)?;
    if !mpop_reply(ctx, &keys, left, count)? {
        ctx.out.null_array();
    }
    Ok(())
}
