//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH. Queueing happens in `dispatch`; EXEC runs
//! the queue in one go, which is atomic because the node is single-threaded.

use super::{err, run_queued, Clock, Ctx, Error, Handler};
use crate::server::{Client, Server};
use protocol::Reply;

pub fn register(h: &mut Vec<(&'static str, Handler)>) {
    h.extend([
        ("multi", multi as Handler),
        ("exec", exec),
        ("discard", discard),
        ("watch", watch),
        ("unwatch", unwatch),
    ]);
}

fn multi(ctx: &mut Ctx) -> Result<(), Error> {
    if ctx.client.multi.is_some() {
        return err("ERR MULTI calls can not be nested");
    }
    ctx.client.multi = Some(Vec::new());
    ctx.client.multi_error = false;
    ctx.out.ok();
    Ok(())
}

/// Forgets every WATCH of `client`.
pub fn unwatch_all(srv: &mut Server, client: &mut Client) {
    for (key, _) in client.watched.drain(..) {
        if let Some(ids) = srv.watched.get_mut(&key) {
            ids.retain(|id| *id != client.id);
            if ids.is_empty() {
                srv.watched.remove(&key);
            }
        }
    }
    srv.watch_dirty.remove(&client.id);
}

fn exec(ctx: &mut Ctx) -> Result<(), Error> {
    let Some(queue) = ctx.client.multi.take() else {
        return err("ERR EXEC without MULTI");
    };
    // A watched key that expired since WATCH counts as changed.
    let now = ctx.now;
    let expired = ctx.client.watched.iter().any(|(_, at)| *at != 0 && *at <= now);
    let dirty = ctx.srv.watch_dirty.contains(&ctx.client.id) || expired;
    unwatch_all(ctx.srv, ctx.client);
    if std::mem::take(&mut ctx.client.multi_error) {
        return err("EXECABORT Transaction discarded because of previous errors.");
    }
    if dirty {
        ctx.out.null_array();
        return Ok(());
    }
    ctx.out.array(queue.len());
    ctx.client.in_exec = true;
    let mut clock = Clock::start();
    for args in &queue {
        run_queued(ctx.srv, ctx.client, args, ctx.out, &mut clock);
    }
    ctx.client.in_exec = false;
    Ok(())
}

fn discard(ctx: &mut Ctx) -> Result<(), Error> {
    if ctx.client.multi.take().is_none() {
        return err("ERR DISCARD without MULTI");
    }
    ctx.client.multi_error = false;
    unwatch_all(ctx.srv, ctx.client);
    ctx.out.ok();
    Ok(())
}

fn watch(ctx: &mut Ctx) -> Result<(), Error> {
    if ctx.client.multi.is_some() {
        return err("ERR WATCH inside MULTI is not allowed");
    }
    let db = ctx.client.db;
    for key in &ctx.args[1..] {
        if ctx.client.watched.iter().any(|((d, k), _)| *d == db && **k == key[..]) {
            continue;
        }
        let at = ctx.srv.db.get(key, ctx.now).map_or(0, |e| e.expire_at);
        ctx.client.watched.push(((db, Box::from(&key[..])), at));
        ctx.srv.watched.entry((db, Box::from(&key[..]))).or_default().push(ctx.client.id);
    }
    ctx.out.ok();
    Ok(())
}

fn unwatch(ctx: &mut Ctx) -> Result<(), Error> {
    unwatch_all(ctx.srv, ctx.client);
    ctx.out.ok();
    Ok(())
}

/// EXEC refused by the precondition chain: the transaction is discarded, and the reply says
/// why (execCommandAbort); a cluster redirection is passed on as it is.
pub fn abort(srv: &mut Server, client: &mut Client, out: &mut Reply, msg: &str) {
    client.multi = None;
    client.multi_error = false;
    unwatch_all(srv, client);
    let code = msg.split(' ').next().unwrap_or("");
    if matches!(code, "MOVED" | "ASK" | "CROSSSLOT" | "TRYAGAIN" | "CLUSTERDOWN") {
        out.error(msg);
    } else {
        out.error(&format!("EXECABORT Transaction discarded because of: {msg}"));
    }
}

/// Whether the keys of the queued commands fall in more than one slot.
pub fn spans_slots(srv: &Server, queue: &[Vec<bytes::Bytes>]) -> bool {
    let mut slot = None;
    for args in queue {
        let Some(idx) = srv.commands.lookup(&args[0]) else { continue };
        let spec = srv.commands.commands[idx].spec;
        for i in spec.key_indexes(args.len(), |i| args.get(i).map(|a| &a[..])).unwrap_or_default() {
            let s = protocol::slot::key_slot(&args[i]);
            if *slot.get_or_insert(s) != s {
                return true;
            }
        }
    }
    false
}
