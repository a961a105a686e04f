//! Hash commands.

use protocol::encode::format_human;
use protocol::Proto;

use super::server::key_matches;
use super::{
    arg_cursor, arg_f64, arg_i64, delete_if_empty, err, get_hash, hash_or_create, random_indexes, scan_options, Ctx,
    Error, Handler,
};
use crate::keyspace::value::canonical_int;
use crate::server::notify::{notify, GENERIC, HASH};

pub fn register(h: &mut Vec<(&'static str, Handler)>) {
    h.extend([
        ("hset", hset as Handler),
        ("hmset", hset),
        ("hsetnx", hsetnx),
        ("hget", hget),
        ("hmget", hmget),
        ("hgetall", hgetall),
        ("hdel", hdel),
        ("hexists", hexists),
        ("hincrby", hincrby),
        ("hincrbyfloat", hincrbyfloat),
        ("hlen", hlen),
        ("hkeys", hkeys),
        ("hvals", hvals),
        ("hstrlen", hstrlen),
        ("hrandfield", hrandfield),
        ("hscan", hscan),
    ]);
}

fn hset(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    if !args.len().is_multiple_of(2) {
        let name = String::from_utf8_lossy(&args[0]).to_lowercase();
        return err(format!("ERR wrong number of arguments for '{name}' command"));
    }
    let h = hash_or_create(&mut ctx.srv.db, &args[1], ctx.now)?;
    let added = args[2..].chunks(2).filter(|p| h.insert(&p[0], &p[1])).count();
    ctx.srv.dirty += 1;
    notify(ctx.srv, HASH, "hset", &args[1]);
    if super::is(&args[0], "hmset") {
        ctx.out.ok();
    } else {
        ctx.out.int(added as i64);
    }
    Ok(())
}

fn hsetnx(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let h = hash_or_create(&mut ctx.srv.db, &args[1], ctx.now)?;
    let added = h.get(&args[2]).is_none() && h.insert(&args[2], &args[3]);
    ctx.srv.dirty += added as u64;
    if added {
        notify(ctx.srv, HASH, "hset", &args[1]);
    }
    ctx.out.int(added as i64);
    Ok(())
}

fn hget(ctx: &mut Ctx) -> Result<(), Error> {
    match get_hash(&mut ctx.srv.db, &ctx.args[1], ctx.now)?.and_then(|h| h.get(&ctx.args[2])) {
        Some(v) => ctx.out.bulk(v),
        None => ctx.out.null(),
    }
    Ok(())
}

fn hmget(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let h = get_hash(&mut ctx.srv.db, &args[1], ctx.now)?;
    ctx.out.array(args.len() - 2);
    for f in &args[2..] {
        match h.as_ref().and_then(|h| h.get(f)) {
            Some(v) => ctx.out.bulk(v),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn hgetall(ctx: &mut Ctx) -> Result<(), Error> {
    let Some(h) = get_hash(&mut ctx.srv.db, &ctx.args[1], ctx.now)? else {
        ctx.out.map(0);
        return Ok(());
    };
    ctx.out.map(h.len());
    for (f, v) in h.iter() {
        ctx.out.bulk(f);
        ctx.out.bulk(v);
    }
    Ok(())
}

fn fields_reply(ctx: &mut Ctx, values: bool) -> Result<(), Error> {
    let Some(h) = get_hash(&mut ctx.srv.db, &ctx.args[1], ctx.now)? else {
        ctx.out.array(0);
        return Ok(());
    };
    ctx.out.array(h.len());
    for (f, v) in h.iter() {
        ctx.out.bulk(if values { v } else { f });
    }
    Ok(())
}

fn hkeys(ctx: &mut Ctx) -> Result<(), Error> {
    fields_reply(ctx, false)
}

fn hvals(ctx: &mut Ctx) -> Result<(), Error> {
    fields_reply(ctx, true)
}

fn hdel(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let Some(h) = get_hash(&mut ctx.srv.db, &args[1], ctx.now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let removed = args[2..].iter().filter(|f| h.remove(f)).count();
    let deleted = delete_if_empty(&mut ctx.srv.db, &args[1]);
    ctx.srv.dirty += removed as u64;
    if removed > 0 {
        notify(ctx.srv, HASH, "hdel", &args[1]);
        if deleted {
            notify(ctx.srv, GENERIC, "del", &args[1]);
        }
    }
    ctx.out.int(removed as i64);
    Ok(())
}

fn hexists(ctx: &mut Ctx) -> Result<(), Error> {
    let found = get_hash(&mut ctx.srv.db, &ctx.args[1], ctx.now)?.is_some_and(|h| h.get(&ctx.args[2]).is_some());
    ctx.out.int(found as i64);
    Ok(())
}

fn hincrby(ctx: &mut Ctx) -> Result<(), Error> {
    let by = arg_i64(&ctx.args[3])?;
    let h = hash_or_create(&mut ctx.srv.db, &ctx.args[1], ctx.now)?;
    let cur = match h.get(&ctx.args[2]) {
        None => 0,
        Some(v) => canonical_int(v).ok_or(Error::Msg("ERR hash value is not an integer".into()))?,
    };
    let next = cur.checked_add(by).ok_or(Error::Overflow)?;
    h.insert(&ctx.args[2], next.to_string().as_bytes());
    ctx.srv.dirty += 1;
    notify(ctx.srv, HASH, "hincrby", &ctx.args[1]);
    ctx.out.int(next);
    Ok(())
}

fn hincrbyfloat(ctx: &mut Ctx) -> Result<(), Error> {
    let by = arg_f64(&ctx.args[3])?;
    if !by.is_finite() {
        return err("ERR value is NaN or Infinity");
    }
    let h = hash_or_create(&mut ctx.srv.db, &ctx.args[1], ctx.now)?;
    let cur = match h.get(&ctx.args[2]) {
        None => 0.0,
        Some(v) => arg_f64(v).map_err(|_| Error::Msg("ERR hash value is not a float".into()))?,
    };
    let next = cur + by;
    if !next.is_finite() {
        delete_if_empty(&mut ctx.srv.db, &ctx.args[1]);
        return err("ERR increment would produce NaN or Infinity");
    }
    let text = format_human(next);
    h.insert(&ctx.args[2], text.as_bytes());
    ctx.srv.dirty += 1;
    notify(ctx.srv, HASH, "hincrbyfloat", &ctx.args[1]);
    ctx.out.bulk(text.as_bytes());
    Ok(())
}

fn hlen(ctx: &mut Ctx) -> Result<(), Error> {
    let n = get_hash(&mut ctx.srv.db, &ctx.args[1], ctx.now)?.map_or(0, |h| h.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn hstrlen(ctx: &mut Ctx) -> Result<(), Error> {
    let n = get_hash(&mut ctx.srv.db, &ctx.args[1], ctx.now)?.and_then(|h| h.get(&ctx.args[2])).map_or(0, |v| v.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn hrandfield(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let count = match args.len() {
        2 => None,
        3 => Some(arg_i64(&args[2])?),
        4 if super::is(&args[3], "withvalues") => Some(arg_i64(&args[2])?),
        _ => return Err(Error::Syntax),
    };
    let withvalues = args.len() == 4;
    let h = get_hash(&mut ctx.srv.db, &args[1], ctx.now)?;
    let Some(count) = count else {
        match h.and_then(|h| h.random(crate::keyspace::evict::rand())) {
            Some((f, _)) => ctx.out.bulk(f),
            None => ctx.out.null(),
        }
        return Ok(());
    };
    if count.checked_abs().is_none_or(|c| c > i64::MAX / 2) {
        return err("ERR value is out of range");
    }
    let Some(h) = h else {
        ctx.out.array(0);
        return Ok(());
    };
    let all: Vec<(&[u8], &[u8])> = h.iter().collect();
    let picks = random_indexes(all.len(), count);
    let resp3 = ctx.out.proto == Proto::Resp3;
    ctx.out.array(if withvalues && !resp3 { picks.len() * 2 } else { picks.len() });
    for i in picks {
        let (f, v) = all[i];
        if withvalues && resp3 {
            ctx.out.array(2);
        }
        ctx.out.bulk(f);
        if withvalues {
            ctx.out.bulk(v);
        }
    }
    Ok(())
}

fn hscan(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let cursor = arg_cursor(&args[2])?;
    let (pattern, count) = scan_options(args)?;
    let mut found: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let next = match get_hash(&mut ctx.srv.db, &args[1], ctx.now)? {
        None => 0,
        Some(crate::keyspace::hash::HashVal::Pack(v)) => {
            found.extend(v.iter().filter(|(f, _)| key_matches(pattern, f)).map(|(f, v)| (f.to_vec(), v.to_vec())));
            0
        }
        Some(crate::keyspace::hash::HashVal::Table(m)) => m.scan(cursor, count, |f, v| {
            if key_matches(pattern, f) {
                found.push((f.to_vec(), v.to_vec()));
            }
        }),
    };
    ctx.out.array(2);
    ctx.out.bulk(next.to_string().as_bytes());
    ctx.out.array(found.len() * 2);
    for (f, v) in found {
        ctx.out.bulk(&f);
        ctx.out.bulk(&v);
    }
    Ok(())
}
