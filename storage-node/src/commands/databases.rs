//! Numbered databases: SELECT, MOVE, SWAPDB, FLUSHDB and FLUSHALL, as Redis 7.0's
//! selectCommand, moveCommand, swapdbCommand, flushdbCommand and flushallCommand (db.c), with
//! touchAllWatchedKeysInDb (multi.c) and scanDatabaseForReadyKeys (blocked.c) for the clients
//! watching or waiting on the databases a command empties or swaps.

use super::{arg_i64, err, is, Ctx, Error, Handler};
use crate::keyspace::Db;
use crate::server::notify;
use crate::server::Server;

pub fn register(h: &mut Vec<(&'static str, Handler)>) {
    h.extend([
        ("select", select as Handler),
        ("move", move_key),
        ("swapdb", swapdb),
        ("flushdb", flushdb),
        ("flushall", flushall),
    ]);
}

/// getIntFromObjectOrReply: an integer that fits a C int. Without `msg` the errors are
/// Redis's "not an integer" and "out of range" texts; with it, `msg` for both.
pub fn arg_int(b: &[u8], msg: Option<&str>) -> Result<i64, Error> {
    let custom = |m: &str| Error::Msg(format!("ERR {m}"));
    let n = arg_i64(b).map_err(|_| msg.map_or(Error::NotInteger, custom))?;
    if i32::try_from(n).is_err() {
        return Err(msg.map_or_else(
            || Error::Msg("ERR value is out of range, value must between -2147483648 and 2147483647".into()),
            custom,
        ));
    }
    Ok(n)
}

/// A database number that exists (selectDb's check), else Redis's out-of-range error.
fn existing_db(srv: &Server, n: i64) -> Result<usize, Error> {
    if n < 0 || n as usize >= srv.db_count() {
        return err("ERR DB index is out of range");
    }
    Ok(n as usize)
}

/// The database COPY writes to when it names one with `DB n` (for WATCH, which must not see
/// the destination key touched in the source database); `None` otherwise.
pub fn copy_target(args: &[bytes::Bytes]) -> Option<usize> {
    let mut found = None;
    let mut i = 3;
    while i + 1 < args.len() {
        if is(&args[i], "db") {
            found = arg_i64(&args[i + 1]).ok().and_then(|n| usize::try_from(n).ok());
            i += 1;
        }
        i += 1;
    }
    found
}

fn select(ctx: &mut Ctx) -> Result<(), Error> {
    let n = arg_int(&ctx.args[1], None)?;
    if ctx.srv.config.cluster_enabled && n != 0 {
        return err("ERR SELECT is not allowed in cluster mode");
    }
    let db = existing_db(ctx.srv, n)?;
    ctx.client.db = db;
    ctx.srv.select_db(db);
    ctx.out.ok();
    Ok(())
}

fn move_key(ctx: &mut Ctx) -> Result<(), Error> {
    if ctx.srv.config.cluster_enabled {
        return err("ERR MOVE is not allowed in cluster mode");
    }
    let dst = existing_db(ctx.srv, arg_int(&ctx.args[2], None)?)?;
    if dst == ctx.srv.db_index {
        return err("ERR source and destination objects are the same");
    }
    let (key, now) = (&ctx.args[1], ctx.now);
    if ctx.srv.db.get(key, now).is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    if ctx.srv.db_at(dst).get(key, now).is_some() {
        ctx.out.int(0);
        return Ok(());
    }
    let Some(entry) = ctx.srv.db.remove(key) else { return Err(Error::NoSuchKey) };
    let entry = *entry;
    let target = ctx.srv.db_at(dst);
    target.set(key, entry.value, Some(entry.expire_at));
    target.set_access(key, entry.access);
    // The source database's side is signalled by `execute`, like any written key.
    ctx.srv.touch_key_in(dst, key);
    ctx.srv.key_ready_in(dst, key);
    ctx.srv.dirty += 1;
    let src = ctx.srv.db_index;
    notify::notify_in(ctx.srv, src, notify::GENERIC, "move_from", key);
    notify::notify_in(ctx.srv, dst, notify::GENERIC, "move_to", key);
    ctx.out.int(1);
    Ok(())
}

fn swapdb(ctx: &mut Ctx) -> Result<(), Error> {
    if ctx.srv.config.cluster_enabled {
        return err("ERR SWAPDB is not allowed in cluster mode");
    }
    let a = arg_int(&ctx.args[1], Some("invalid first DB index"))?;
    let b = arg_int(&ctx.args[2], Some("invalid second DB index"))?;
    let (a, b) = (existing_db(ctx.srv, a)?, existing_db(ctx.srv, b)?);
    if a != b {
        touch_watched_in(ctx.srv, a, Some(b), ctx.now);
        touch_watched_in(ctx.srv, b, Some(a), ctx.now);
        ctx.srv.swap_dbs(a, b);
        // Clients blocked on keys that now hold data are served (scanDatabaseForReadyKeys).
        ready_blocked_in(ctx.srv, a, ctx.now);
        ready_blocked_in(ctx.srv, b, ctx.now);
    }
    ctx.srv.dirty += 1;
    ctx.out.ok();
    Ok(())
}

/// FLUSHDB and FLUSHALL take `[ASYNC|SYNC]`.
fn flush_mode(ctx: &Ctx) -> Result<bool, Error> {
    match ctx.args.len() {
        1 => Ok(false),
        2 if is(&ctx.args[1], "async") => Ok(true),
        2 if is(&ctx.args[1], "sync") => Ok(false),
        _ => Err(Error::Syntax),
    }
}

fn flushdb(ctx: &mut Ctx) -> Result<(), Error> {
    let asynchronous = flush_mode(ctx)?;
    // Tracking does not know databases: every client drops its whole cache.
    if ctx.srv.tracking.used {
        crate::server::tracking::invalidate_on_flush(ctx.srv);
    }
    let index = ctx.srv.db_index;
    empty_db(ctx.srv, index, asynchronous, ctx.now);
    // Propagated even when the database was empty already (forceCommandPropagation).
    ctx.propagate_as(vec![ctx.args.to_vec()]);
    ctx.out.ok();
    Ok(())
}

fn flushall(ctx: &mut Ctx) -> Result<(), Error> {
    let asynchronous = flush_mode(ctx)?;
    if ctx.srv.tracking.used {
        crate::server::tracking::invalidate_on_flush(ctx.srv);
    }
    for index in 0..ctx.srv.db_count() {
        empty_db(ctx.srv, index, asynchronous, ctx.now);
    }
    crate::persist::after_flushall(ctx.srv);
    ctx.propagate_as(vec![ctx.args.to_vec()]);
    ctx.out.ok();
    Ok(())
}

/// Empties database `index` (emptyData for one database): WATCHers of keys it held fail.
fn empty_db(srv: &mut Server, index: usize, asynchronous: bool, now: i64) {
    touch_watched_in(srv, index, None, now);
    let old: Db = srv.db_at(index).take_all();
    srv.dirty += old.len() as u64;
    if asynchronous && old.len() > 64 {
        // Freeing millions of allocations takes a while: do it off the serving thread.
        std::thread::spawn(move || drop(old));
    }
}

fn live(db: &Db, key: &[u8], now: i64) -> bool {
    db.peek(key).is_some_and(|e| e.expire_at == 0 || e.expire_at > now)
}

/// touchAllWatchedKeysInDb: clients watching a key of database `emptied` that exists there,
/// or in `replaced_with` (whose contents take its place), get their EXEC failed.
fn touch_watched_in(srv: &mut Server, emptied: usize, replaced_with: Option<usize>, now: i64) {
    if srv.watched.is_empty() {
        return;
    }
    let touched: Vec<Box<[u8]>> = srv
        .watched
        .keys()
        .filter(|(db, key)| {
            *db == emptied
                && (live(srv.db_ref(emptied), key, now) || replaced_with.is_some_and(|r| live(srv.db_ref(r), key, now)))
        })
        .map(|(_, key)| key.clone())
        .collect();
    for key in touched {
        srv.touch_key_in(emptied, &key);
    }
}

/// scanDatabaseForReadyKeys: keys of database `index` that clients wait on and that now exist.
fn ready_blocked_in(srv: &mut Server, index: usize, now: i64) {
    if srv.blocked.is_empty() {
        return;
    }
    let ready: Vec<Box<[u8]>> = srv
        .blocked
        .keys()
        .filter(|(db, key)| *db == index && live(srv.db_ref(index), key, now))
        .map(|(_, key)| key.clone())
        .collect();
    for key in ready {
        srv.key_ready_in(index, &key);
    }
}
