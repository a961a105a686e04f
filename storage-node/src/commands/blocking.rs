//! Blocking pops: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP. Each
//! tries the non-blocking operation; with no data it parks the client (see server::blocking),
//! and when re-run for a parked client it stays parked until data is there.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::list::{arg_side, move_elem, mpop_args, mpop_reply, pop_elems};
use super::zset::{pop_members, zmpop_args, zmpop_reply};
use super::{err, Ctx, Error, Handler};
use crate::server::blocking;

pub fn register(h: &mut Vec<(&'static str, Handler)>) {
    h.extend([
        ("blpop", blpop as Handler),
        ("brpop", brpop),
        ("blmove", blmove),
        ("brpoplpush", brpoplpush),
        ("blmpop", blmpop),
        ("bzpopmin", bzpopmin),
        ("bzpopmax", bzpopmax),
        ("bzmpop", bzmpop),
    ]);
}

fn word(w: &'static str) -> Bytes {
    Bytes::from_static(w.as_bytes())
}

/// Parses a blocking timeout in (fractional) seconds; 0 means forever.
fn deadline(arg: &[u8]) -> Result<Option<Instant>, Error> {
    let bad = || Error::Msg("ERR timeout is not a float or out of range".into());
    let s = std::str::from_utf8(arg).map_err(|_| bad())?;
    let secs: f64 = s.parse().map_err(|_| bad())?;
    if !secs.is_finite() {
        return Err(bad());
    }
    if secs < 0.0 {
        return err("ERR timeout is negative");
    }
    if secs == 0.0 {
        return Ok(None);
    }
    Ok(Some(Instant::now() + Duration::from_secs_f64(secs.min(1e9))))
}

/// No data: park the client, or (inside EXEC) answer the timeout reply right away.
fn block(ctx: &mut Ctx, keys: &[Bytes], deadline: Option<Instant>, null_bulk: bool) -> Result<(), Error> {
    if ctx.client.blocked.is_some() {
        return Ok(()); // re-run for a parked client: keep waiting
    }
    if ctx.client.in_exec {
        if null_bulk {
            ctx.out.null();
        } else {
            ctx.out.null_array();
        }
        return Ok(());
    }
    let keys = keys.iter().map(|k| Box::from(&k[..])).collect();
    blocking::block(ctx.srv, ctx.client, ctx.args, keys, deadline, null_bulk);
    Ok(())
}

fn bpop_list(ctx: &mut Ctx, left: bool) -> Result<(), Error> {
    let args = ctx.args;
    let deadline = deadline(&args[args.len() - 1])?;
    let keys = &args[1..args.len() - 1];
    for key in keys {
        if let Some(e) = pop_elems(ctx, key, left, 1)?.and_then(|v| v.into_iter().next()) {
            ctx.propagate_as(vec![vec![word(if left { "LPOP" } else { "RPOP" }), key.clone()]]);
            ctx.out.array(2);
            ctx.out.bulk(key);
            ctx.out.bulk(&e);
            return Ok(());
        }
    }
    block(ctx, keys, deadline, false)
}

fn blpop(ctx: &mut Ctx) -> Result<(), Error> {
    bpop_list(ctx, true)
}
fn brpop(ctx: &mut Ctx) -> Result<(), Error> {
    bpop_list(ctx, false)
}

fn bmove(ctx: &mut Ctx, from: bool, to: bool, timeout_at: usize) -> Result<(), Error> {
    let args = ctx.args;
    let deadline = deadline(&args[timeout_at])?;
    match move_elem(ctx, &args[1], &args[2], from, to)? {
        Some(e) => {
            let side = |left: bool| word(if left { "LEFT" } else { "RIGHT" });
            ctx.propagate_as(vec![vec![word("LMOVE"), args[1].clone(), args[2].clone(), side(from), side(to)]]);
            ctx.out.bulk(&e);
            Ok(())
        }
        None => block(ctx, &args[1..2], deadline, true),
    }
}

fn blmove(ctx: &mut Ctx) -> Result<(), Error> {
    let (from, to) = (arg_side(&ctx.args[3])?, arg_side(&ctx.args[4])?);
    bmove(ctx, from, to, 5)
}

fn brpoplpush(ctx: &mut Ctx) -> Result<(), Error> {
    bmove(ctx, false, true, 3)
}

fn blmpop(ctx: &mut Ctx) -> Result<(), Error> {
    let deadline = deadline(&ctx.args[1])?;
    let (keys, left, count) = mpop_args(ctx.args, 2)?;
    if mpop_reply(ctx, &keys, left, count)? {
        // At this point of the stream LMPOP picks the same key: drop the timeout.
        ctx.propagate_as(vec![std::iter::once(word("LMPOP")).chain(ctx.args[2..].iter().cloned()).collect()]);
        return Ok(());
    }
    block(ctx, &keys, deadline, false)
}

fn bzpop(ctx: &mut Ctx, max: bool) -> Result<(), Error> {
    let args = ctx.args;
    let deadline = deadline(&args[args.len() - 1])?;
    let keys = &args[1..args.len() - 1];
    for key in keys {
        if let Some((m, s)) = pop_members(ctx, key, max, 1)?.and_then(|v| v.into_iter().next()) {
            ctx.propagate_as(vec![vec![word(if max { "ZPOPMAX" } else { "ZPOPMIN" }), key.clone()]]);
            ctx.out.array(3);
            ctx.out.bulk(key);
            ctx.out.bulk(&m);
            ctx.out.double(s);
            return Ok(());
        }
    }
    block(ctx, keys, deadline, false)
}

fn bzpopmin(ctx: &mut Ctx) -> Result<(), Error> {
    bzpop(ctx, false)
}
fn bzpopmax(ctx: &mut Ctx) -> Result<(), Error> {
    bzpop(ctx, true)
}

fn bzmpop(ctx: &mut Ctx) -> Result<(), Error> {
    let deadline = deadline(&ctx.args[1])?;
    let (keys, max, count) = zmpop_args(ctx.args, 2)?;
    if zmpop_reply(ctx, &keys, max, count)? {
        ctx.propagate_as(vec![std::iter::once(word("ZMPOP")).chain(ctx.args[2..].iter().cloned()).collect()]);
        return Ok(());
    }
    block(ctx, &keys, deadline, false)
}
