//! Generic keyspace commands: DEL, EXISTS, TYPE, expiry, RENAME, COPY, KEYS, SCAN, RANDOMKEY,
//! TOUCH and OBJECT.

use protocol::SLOT_COUNT;

use super::server::key_matches;
use super::{arg_i64, err, help_reply, is, Ctx, Error, Handler};
use crate::keyspace::{evict, Value};
use crate::server::notify::{notify, GENERIC};

pub fn register(h: &mut Vec<(&'static str, Handler)>) {
    h.extend([
        ("del", del as Handler),
        ("unlink", del),
        ("exists", exists),
        ("touch", exists),
        ("type", type_),
        ("expire", expire),
        ("pexpire", pexpire),
        ("expireat", expireat),
        ("pexpireat", pexpireat),
        ("ttl", ttl),
        ("pttl", pttl),
        ("expiretime", expiretime),
        ("pexpiretime", pexpiretime),
        ("persist", persist),
        ("rename", rename),
        ("renamenx", renamenx),
        ("copy", copy),
        ("keys", keys),
        ("scan", scan),
        ("randomkey", randomkey),
        ("object|encoding", object_encoding),
        ("object|freq", object_freq),
        ("object|idletime", object_idletime),
        ("object|refcount", object_refcount),
        ("object|help", object_help),
    ]);
}

fn del(ctx: &mut Ctx) -> Result<(), Error> {
    let mut n = 0;
    for key in &ctx.args[1..] {
        // Reclaim an expired key as missing, as a lookup would.
        if ctx.srv.db.get(key, ctx.now).is_some() && ctx.srv.db.remove(key).is_some() {
            n += 1;
            notify(ctx.srv, GENERIC, "del", key);
        }
    }
    ctx.srv.dirty += n;
    ctx.out.int(n as i64);
    Ok(())
}

/// EXISTS and TOUCH: count the keys present (repeats count again).
fn exists(ctx: &mut Ctx) -> Result<(), Error> {
    let now = ctx.now;
    let n = ctx.args[1..].iter().filter(|k| ctx.srv.db.get(k, now).is_some()).count();
    ctx.out.int(n as i64);
    Ok(())
}

fn type_(ctx: &mut Ctx) -> Result<(), Error> {
    let name = ctx.srv.db.get(&ctx.args[1], ctx.now).map_or("none", |e| e.value.type_name());
    ctx.out.simple(name);
    Ok(())
}

fn expire_generic(ctx: &mut Ctx, seconds: bool, absolute: bool, cmd: &str) -> Result<(), Error> {
    let args = ctx.args;
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for a in &args[3..] {
        if is(a, "nx") {
            nx = true;
        } else if is(a, "xx") {
            xx = true;
        } else if is(a, "gt") {
            gt = true;
        } else if is(a, "lt") {
            lt = true;
        } else {
            return err(format!("ERR Unsupported option {}", String::from_utf8_lossy(a)));
        }
    }
    if nx && (xx || gt || lt) {
        return err("ERR NX and XX, GT or LT options at the same time are not compatible");
    }
    if gt && lt {
        return err("ERR GT and LT options at the same time are not compatible");
    }
    let amount = arg_i64(&args[2])?;
    let invalid = || Error::Msg(format!("ERR invalid expire time in '{cmd}' command"));
    let ms = if seconds { amount.checked_mul(1000).ok_or_else(invalid)? } else { amount };
    let at = if absolute { ms } else { ms.checked_add(ctx.now).ok_or_else(invalid)? };
    let key = &args[1];
    let Some(e) = ctx.srv.db.get(key, ctx.now) else {
        ctx.out.int(0);
        return Ok(());
    };
    let cur = e.expire_at;
    let allowed = if nx {
        cur == 0
    } else if xx && cur == 0 {
        false
    } else if gt {
        cur != 0 && at > cur
    } else if lt {
        cur == 0 || at < cur
    } else {
        true
    };
    if !allowed {
        ctx.out.int(0);
        return Ok(());
    }
    if at <= ctx.now {
        ctx.srv.db.remove(key);
        notify(ctx.srv, GENERIC, "del", key);
    } else {
        ctx.srv.db.set_expire(key, at);
        notify(ctx.srv, GENERIC, "expire", key);
    }
    ctx.srv.dirty += 1;
    ctx.out.int(1);
    Ok(())
}

fn expire(ctx: &mut Ctx) -> Result<(), Error> {
    expire_generic(ctx, true, false, "expire")
}
fn pexpire(ctx: &mut Ctx) -> Result<(), Error> {
    expire_generic(ctx, false, false, "pexpire")
}
fn expireat(ctx: &mut Ctx) -> Result<(), Error> {
    expire_generic(ctx, true, true, "expireat")
}
fn pexpireat(ctx: &mut Ctx) -> Result<(), Error> {
    expire_generic(ctx, false, true, "pexpireat")
}

/// The TTL state of a key: `None` when missing, `Some(0)` when persistent, else the expiry.
fn expiry_of(ctx: &mut Ctx) -> Option<i64> {
    ctx.srv.db.get(&ctx.args[1], ctx.now).map(|e| e.expire_at)
}

fn ttl_generic(ctx: &mut Ctx, seconds: bool) -> Result<(), Error> {
    let reply = match expiry_of(ctx) {
        None => -2,
        Some(0) => -1,
        Some(at) => {
            let left = (at - ctx.now).max(0);
            if seconds {
                (left + 500) / 1000
            } else {
                left
            }
        }
    };
    ctx.out.int(reply);
    Ok(())
}

fn ttl(ctx: &mut Ctx) -> Result<(), Error> {
    ttl_generic(ctx, true)
}
fn pttl(ctx: &mut Ctx) -> Result<(), Error> {
    ttl_generic(ctx, false)
}

fn expiretime_generic(ctx: &mut Ctx, seconds: bool) -> Result<(), Error> {
    let reply = match expiry_of(ctx) {
        None => -2,
        Some(0) => -1,
        Some(at) if seconds => at / 1000,
        Some(at) => at,
    };
    ctx.out.int(reply);
    Ok(())
}

fn expiretime(ctx: &mut Ctx) -> Result<(), Error> {
    expiretime_generic(ctx, true)
}
fn pexpiretime(ctx: &mut Ctx) -> Result<(), Error> {
    expiretime_generic(ctx, false)
}

fn persist(ctx: &mut Ctx) -> Result<(), Error> {
    let done = matches!(expiry_of(ctx), Some(at) if at != 0) && ctx.srv.db.set_expire(&ctx.args[1], 0);
    ctx.srv.dirty += done as u64;
    if done {
        notify(ctx.srv, GENERIC, "persist", &ctx.args[1]);
    }
    ctx.out.int(done as i64);
    Ok(())
}

/// Moves `src` to `dst`; `Ok(false)` when `nx` and `dst` exists.
fn rename_generic(ctx: &mut Ctx, nx: bool) -> Result<bool, Error> {
    let (src, dst) = (&ctx.args[1], &ctx.args[2]);
    if ctx.srv.db.get(src, ctx.now).is_none() {
        return Err(Error::NoSuchKey);
    }
    if src == dst {
        return Ok(!nx);
    }
    if nx && ctx.srv.db.get(dst, ctx.now).is_some() {
        return Ok(false);
    }
    let Some(entry) = ctx.srv.db.remove(src) else {
        return Err(Error::NoSuchKey);
    };
    ctx.srv.db.remove(dst);
    ctx.srv.db.set(dst, entry.value, Some(entry.expire_at));
    ctx.srv.dirty += 1;
    notify(ctx.srv, GENERIC, "rename_from", src);
    notify(ctx.srv, GENERIC, "rename_to", dst);
    Ok(true)
}

fn rename(ctx: &mut Ctx) -> Result<(), Error> {
    rename_generic(ctx, false)?;
    ctx.out.ok();
    Ok(())
}

fn renamenx(ctx: &mut Ctx) -> Result<(), Error> {
    let done = rename_generic(ctx, true)?;
    ctx.out.int(done as i64);
    Ok(())
}

fn copy(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let mut replace = false;
    let src_db = ctx.srv.db_index;
    let mut dst_db = src_db;
    let mut i = 3;
    while i < args.len() {
        if is(&args[i], "replace") {
            replace = true;
        } else if is(&args[i], "db") && i + 1 < args.len() {
            // As copyCommand: the index must exist before the cluster check applies.
            let n = super::databases::arg_int(&args[i + 1], None)?;
            if n < 0 || n as usize >= ctx.srv.db_count() {
                return err("ERR DB index is out of range");
            }
            dst_db = n as usize;
            i += 1;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    if ctx.srv.config.cluster_enabled && (src_db != 0 || dst_db != 0) {
        return err("ERR Copying to another database is not allowed in cluster mode");
    }
    let (src, dst) = (&args[1], &args[2]);
    if src_db == dst_db && src == dst {
        return err("ERR source and destination objects are the same");
    }
    let Some((value, expire)) = ctx.srv.db.get(src, ctx.now).map(|e| (e.value.clone(), e.expire_at)) else {
        ctx.out.int(0);
        return Ok(());
    };
    let now = ctx.now;
    let target = ctx.srv.db_at(dst_db);
    if target.get(dst, now).is_some() {
        if !replace {
            ctx.out.int(0);
            return Ok(());
        }
        target.remove(dst);
    }
    target.set(dst, value, Some(expire));
    if dst_db != src_db {
        // `execute` signals keys of the source database only.
        ctx.srv.key_ready_in(dst_db, dst);
    }
    ctx.srv.dirty += 1;
    crate::server::notify::notify_in(ctx.srv, dst_db, GENERIC, "copy_to", dst);
    ctx.out.int(1);
    Ok(())
}

fn keys(ctx: &mut Ctx) -> Result<(), Error> {
    let pattern = &ctx.args[1];
    let now = ctx.now;
    let found: Vec<&[u8]> = ctx
        .srv
        .db
        .entries()
        .filter(|e| e.expire_at == 0 || e.expire_at > now)
        .filter(|e| key_matches(Some(pattern), &e.key))
        .map(|e| &*e.key)
        .collect();
    ctx.out.array(found.len());
    for k in found {
        ctx.out.bulk(k);
    }
    Ok(())
}

/// SCAN walks whole slots: the cursor is the next slot to visit. A key present for the whole
/// iteration lives in one slot the whole time, so it is returned (Redis's guarantee).
fn scan(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let cursor = super::arg_cursor(&args[1])?;
    let (pattern, count, type_filter) = super::scan_options_from(args, 2, true)?;
    let now = ctx.now;
    let mut found: Vec<Box<[u8]>> = Vec::new();
    let mut slot = cursor as usize;
    let mut visited = 0;
    // Visit slots until COUNT keys were looked at (empty slots count a little too, so a sparse
    // keyspace still finishes in few calls).
    while slot < SLOT_COUNT && visited < count {
        for e in ctx.srv.db.slot_entries(slot) {
            visited += 1;
            if e.expire_at != 0 && e.expire_at <= now {
                continue;
            }
            if type_filter.as_deref().is_some_and(|t| t != e.value.type_name()) {
                continue;
            }
            if key_matches(pattern, &e.key) {
                found.push(Box::from(&*e.key));
            }
        }
        slot += 1;
        if ctx.srv.db.count_in_slot(slot.min(SLOT_COUNT - 1)) == 0 {
            visited += count.div_ceil(256).max(1) / 4;
        }
    }
    let next = if slot >= SLOT_COUNT { 0 } else { slot };
    ctx.out.array(2);
    ctx.out.bulk(next.to_string().as_bytes());
    ctx.out.array(found.len());
    for k in found {
        ctx.out.bulk(&k);
    }
    Ok(())
}

fn randomkey(ctx: &mut Ctx) -> Result<(), Error> {
    for _ in 0..100 {
        let Some(key) = ctx.srv.db.random_entry(evict::rand()).map(|e| e.key.clone()) else {
            break;
        };
        if ctx.srv.db.get(&key, ctx.now).is_some() {
            ctx.out.bulk(&key);
            return Ok(());
        }
    }
    ctx.out.null();
    Ok(())
}

/// Runs `f` on the entry named by OBJECT's key argument, replying null when missing.
fn object_generic(
    ctx: &mut Ctx,
    f: impl FnOnce(&mut Ctx, &crate::keyspace::Entry) -> Result<(), Error>,
) -> Result<(), Error> {
    let key = &ctx.args[2];
    let now = ctx.now;
    // A live key is looked at without a lookup, which would count as an access (OBJECT FREQ
    // must not move); only an expired one goes through `get`, which removes it.
    let live = ctx.srv.db.peek(key).is_some_and(|e| e.expire_at == 0 || e.expire_at > now)
        || ctx.srv.db.get(key, now).is_some();
    if !live {
        ctx.out.null();
        return Ok(());
    }
    let Some(entry) = ctx.srv.db.remove(key) else {
        return Ok(());
    };
    // Re-inserted untouched: OBJECT must not count as an access.
    let r = f(ctx, &entry);
    let entry = *entry;
    // Not a new key: no `new` event.
    let mask = std::mem::take(&mut ctx.srv.db.notify);
    ctx.srv.db.set(key, entry.value, Some(entry.expire_at));
    ctx.srv.db.notify = mask;
    if let Some(e) = ctx.srv.db.get(key, now) {
        e.access = entry.access;
    }
    r
}

fn object_encoding(ctx: &mut Ctx) -> Result<(), Error> {
    object_generic(ctx, |ctx, e| {
        ctx.out.bulk(e.value.encoding().as_bytes());
        Ok(())
    })
}

fn object_freq(ctx: &mut Ctx) -> Result<(), Error> {
    object_generic(ctx, |ctx, e| {
        if !ctx.srv.db.lfu {
            return err("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
        }
        ctx.out.int(evict::lfu_counter(e.access, ctx.srv.db.access_clock) as i64);
        Ok(())
    })
}

fn object_idletime(ctx: &mut Ctx) -> Result<(), Error> {
    object_generic(ctx, |ctx, e| {
        if ctx.srv.db.lfu {
            return err("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
        }
        ctx.out.int(evict::idle_seconds(e, ctx.srv.db.access_clock) as i64);
        Ok(())
    })
}

fn object_refcount(ctx: &mut Ctx) -> Result<(), Error> {
    object_generic(ctx, |ctx, e| {
        // Redis shares the integers 0..9999 and reports them with INT_MAX references.
        let shared = matches!(e.value, Value::Int(n) if (0..10000).contains(&n));
        ctx.out.int(if shared { i32::MAX as i64 } else { 1 });
        Ok(())
    })
}

fn object_help(ctx: &mut Ctx) -> Result<(), Error> {
    help_reply(
        ctx.out,
        "OBJECT",
        &[
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access logarithmic access frequency counter of a <key>.",
            "IDLETIME <key>",
            "    Return the idle time of a <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
        ],
    );
    Ok(())
}
