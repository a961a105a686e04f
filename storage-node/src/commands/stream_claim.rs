//! XCLAIM and XAUTOCLAIM: pending entries of a consumer group change owner (t_stream.c's
//! xclaimCommand and xautoclaimCommand).

use super::stream::{reply_entry, strict_id};
use super::stream_group::{clock, consumer, interval, nogroup, setid_form, text, xclaim_form};
use super::{arg_i64, err, get_stream, is, Ctx, Error, Handler};
use crate::keyspace::stream::{parse_id, StreamId};
use crate::keyspace::stream_cg::{Group, Pending};
use crate::server::notify::{notify, STREAM};

pub fn register(h: &mut Vec<(&'static str, Handler)>) {
    h.extend([("xclaim", xclaim as Handler), ("xautoclaim", xautoclaim)]);
}

/// Moves (or creates) a pending entry to `cname` with this delivery time and count.
fn claim_to(g: &mut Group, id: StreamId, cname: &[u8], now: i64) {
    let old = g.pel.get(&id).map(|p| p.consumer.clone());
    if old.as_deref() != Some(cname) {
        if let Some(c) = old.and_then(|o| g.consumers.get_mut(&o)) {
            c.pel.remove(&id);
        }
    }
    consumer(g, cname, now).pel.insert(id);
    if let Some(p) = g.pel.get_mut(&id) {
        p.consumer = cname.into();
    }
}

/// Drops a pending entry whose stream entry is gone.
fn drop_pending(g: &mut Group, id: StreamId) {
    if let Some(p) = g.pel.remove(&id) {
        if let Some(c) = g.consumers.get_mut(&p.consumer) {
            c.pel.remove(&id);
        }
    }
}

fn xclaim(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let (key, gname, cname) = (&args[1], &args[2], &args[3]);
    let now = clock(ctx);
    if get_stream(&mut ctx.srv.db, key, ctx.now)?.and_then(|s| s.groups.get(&gname[..])).is_none() {
        return Err(nogroup(key, gname));
    }
    let min_idle =
        arg_i64(&args[4]).map_err(|_| Error::Msg("ERR Invalid min-idle-time argument for XCLAIM".into()))?.max(0);
    let mut ids = Vec::new();
    let mut j = 5;
    while j < args.len() {
        match parse_id(&args[j], 0, true, false) {
            Some((id, _)) => ids.push(id),
            None => break,
        }
        j += 1;
    }
    let (mut force, mut justid, mut retry, mut time, mut last) = (false, false, None, None, StreamId::MIN);
    while j < args.len() {
        let more = j + 1 < args.len();
        let opt = &args[j];
        let num = |what: &str| {
            arg_i64(&args[j + 1]).map_err(|_| Error::Msg(format!("ERR Invalid {what} option argument for XCLAIM")))
        };
        if is(opt, "force") {
            force = true;
        } else if is(opt, "justid") {
            justid = true;
        } else if is(opt, "idle") && more {
            time = Some(now.wrapping_sub(num("IDLE")?));
            j += 1;
        } else if is(opt, "time") && more {
            time = Some(num("TIME")?);
            j += 1;
        } else if is(opt, "retrycount") && more {
            retry = Some(num("RETRYCOUNT")?);
            j += 1;
        } else if is(opt, "lastid") && more {
            last = strict_id(&args[j + 1])?;
            j += 1;
        } else {
            return err(format!("ERR Unrecognized XCLAIM option '{}'", text(opt)));
        }
        j += 1;
    }
    let delivery = match time {
        Some(t) if (0..=now).contains(&t) => t,
        _ => now,
    };
    let Some(s) = get_stream(&mut ctx.srv.db, key, ctx.now)? else { return Err(nogroup(key, gname)) };
    let Some(mut g) = s.groups.remove(&gname[..]) else { return Err(nogroup(key, gname)) };
    let mut prop = Vec::new();
    let mut new_consumer = false;
    let mut moved = false;
    if last > g.last_id {
        g.last_id = last;
        moved = true;
    }
    let mut replies = Vec::new();
    for id in ids {
        let entry = s.get(id);
        if entry.is_none() {
            if let Some(p) = g.pel.get(&id) {
                prop.push(xclaim_form(key, gname, &g, id, p));
                moved = false;
                ctx.srv.dirty += 1;
                drop_pending(&mut g, id);
            }
            continue;
        }
        let created = force && !g.pel.contains_key(&id);
        if created {
            g.pel.insert(id, Pending { delivery_time: now, delivery_count: 1, consumer: Box::default() });
        }
        let Some(p) = g.pel.get(&id) else { continue };
        if !created && min_idle > 0 && now.wrapping_sub(p.delivery_time) < min_idle {
            continue;
        }
        // A consumer made by a claim is not propagated: the XCLAIM forms create it.
        new_consumer |= !g.consumers.contains_key(&cname[..]);
        consumer(&mut g, cname, now);
        claim_to(&mut g, id, cname, now);
        if let Some(p) = g.pel.get_mut(&id) {
            p.delivery_time = delivery;
            match retry {
                Some(n) if n >= 0 => p.delivery_count = n as u64,
                _ if !justid => p.delivery_count = p.delivery_count.wrapping_add(1),
                _ => {}
            }
        }
        if let Some(p) = g.pel.get(&id) {
            prop.push(xclaim_form(key, gname, &g, id, p));
        }
        moved = false;
        ctx.srv.dirty += 1;
        replies.push(if justid { (id, None) } else { (id, entry.map(|e| e.1)) });
    }
    if moved {
        prop.push(setid_form(key, gname, &g));
        ctx.srv.dirty += 1;
    }
    s.groups.insert(gname[..].into(), g);
    if new_consumer {
        notify(ctx.srv, STREAM, "xgroup-createconsumer", key);
    }
    ctx.propagate_as(prop);
    ctx.out.array(replies.len());
    for (id, pairs) in replies {
        match pairs {
            Some(p) => reply_entry(ctx.out, &(id, p)),
            None => ctx.out.bulk(&id.to_bytes()),
        }
    }
    Ok(())
}

fn xautoclaim(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let (key, gname, cname) = (&args[1], &args[2], &args[3]);
    let now = clock(ctx);
    let mut new_consumer = false;
    let min_idle =
        arg_i64(&args[4]).map_err(|_| Error::Msg("ERR Invalid min-idle-time argument for XAUTOCLAIM".into()))?.max(0);
    let (mut start, ex) = interval(&args[5], 0)?;
    if ex {
        start = start.incr().ok_or(Error::Msg("ERR invalid start ID for the interval".into()))?;
    }
    let (mut count, mut justid) = (100i64, false);
    let mut j = 6;
    while j < args.len() {
        if is(&args[j], "count") && j + 1 < args.len() {
            let max = i64::MAX / 16;
            count = arg_i64(&args[j + 1])
                .ok()
                .filter(|c| (1..=max).contains(c))
                .ok_or(Error::Msg("ERR COUNT must be > 0".into()))?;
            j += 1;
        } else if is(&args[j], "justid") {
            justid = true;
        } else {
            return Err(Error::Syntax);
        }
        j += 1;
    }
    let Some(s) = get_stream(&mut ctx.srv.db, key, ctx.now)? else { return Err(nogroup(key, gname)) };
    let Some(mut g) = s.groups.remove(&gname[..]) else { return Err(nogroup(key, gname)) };
    let mut attempts = count.saturating_mul(10);
    let ids: Vec<StreamId> = g.pel.range(start..).map(|(id, _)| *id).collect();
    let (mut i, mut claimed, mut deleted, mut prop) = (0, Vec::new(), Vec::new(), Vec::new());
    while attempts > 0 && count > 0 && i < ids.len() {
        attempts -= 1;
        let id = ids[i];
        i += 1;
        let Some(entry) = s.get(id) else {
            if let Some(p) = g.pel.get(&id) {
                prop.push(xclaim_form(key, gname, &g, id, p));
            }
            drop_pending(&mut g, id);
            ctx.srv.dirty += 1;
            deleted.push(id);
            count -= 1;
            continue;
        };
        let Some(p) = g.pel.get(&id) else { continue };
        if min_idle > 0 && now.wrapping_sub(p.delivery_time) < min_idle {
            continue;
        }
        // A consumer made by a claim is not propagated: the XCLAIM forms create it.
        new_consumer |= !g.consumers.contains_key(&cname[..]);
        consumer(&mut g, cname, now);
        claim_to(&mut g, id, cname, now);
        if let Some(p) = g.pel.get_mut(&id) {
            p.delivery_time = now;
            if !justid {
                p.delivery_count = p.delivery_count.wrapping_add(1);
            }
        }
        if let Some(p) = g.pel.get(&id) {
            prop.push(xclaim_form(key, gname, &g, id, p));
        }
        ctx.srv.dirty += 1;
        claimed.push(entry);
        count -= 1;
    }
    let next = ids.get(i).copied().unwrap_or(StreamId::MIN);
    s.groups.insert(gname[..].into(), g);
    if new_consumer {
        notify(ctx.srv, STREAM, "xgroup-createconsumer", key);
    }
    ctx.propagate_as(prop);
    let out = &mut *ctx.out;
    out.array(3);
    out.bulk(&next.to_bytes());
    out.array(claimed.len());
    for e in &claimed {
        if justid {
            out.bulk(&e.0.to_bytes());
        } else {
            reply_entry(out, e);
        }
    }
    out.array(deleted.len());
    for id in deleted {
        out.bulk(&id.to_bytes());
    }
    Ok(())
}
