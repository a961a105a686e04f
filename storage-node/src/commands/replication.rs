//! Replication commands: REPLICAOF/SLAVEOF, the master's side of PSYNC/SYNC and REPLCONF, and
//! WAIT.

use std::time::{Duration, Instant};

use super::{arg_i64, err, is, Ctx, Error, Handler};
use crate::replication::{self, link, MasterAddr, SyncState};
use crate::server::Server;

pub fn register(h: &mut Vec<(&'static str, Handler)>) {
    h.extend([
        ("replicaof", replicaof as Handler),
        ("slaveof", replicaof),
        ("role", role),
        ("psync", psync),
        ("sync", psync),
        ("replconf", replconf),
        ("wait", wait),
    ]);
}

fn replicaof(ctx: &mut Ctx) -> Result<(), Error> {
    if ctx.srv.cluster.is_some() {
        return err("ERR REPLICAOF not allowed in cluster mode.");
    }
    let (host, port) = (&ctx.args[1], &ctx.args[2]);
    let master = if is(host, "no") && is(port, "one") {
        None
    } else {
        let port = arg_i64(port)
            .ok()
            .filter(|p| (1..=65535).contains(p))
            .ok_or(Error::Msg("ERR Invalid master port".into()))?;
        Some(MasterAddr { host: String::from_utf8_lossy(host).into_owned(), port: port as u16 })
    };
    if let (Some(new), Some(old)) = (&master, &ctx.srv.repl.master) {
        if new.host == old.host && new.port == old.port {
            ctx.out.simple("OK Already connected to specified master");
            return Ok(());
        }
    }
    set_master(ctx.srv, master);
    ctx.out.ok();
    Ok(())
}

/// ROLE: this node's place in replication, as Redis's roleCommand gives it.
fn role(ctx: &mut Ctx) -> Result<(), Error> {
    let repl = &ctx.srv.repl;
    let out = &mut *ctx.out;
    match &repl.master {
        Some(m) => {
            out.array(5);
            out.bulk(b"slave");
            out.bulk(m.host.as_bytes());
            out.int(m.port.into());
            out.bulk(if repl.link_up { b"connected" } else { b"connect" });
            out.int(if repl.link_up { repl.offset as i64 } else { -1 });
        }
        None => {
            out.array(3);
            out.bulk(b"master");
            out.int(repl.offset as i64);
            // Only replicas done with their full sync are listed.
            let online: Vec<_> = repl.replicas.iter().filter(|r| r.state == SyncState::Online).collect();
            out.array(online.len());
            for r in online {
                out.array(3);
                out.bulk(r.ip.as_bytes());
                out.bulk_int(r.port.into());
                out.bulk_int(r.ack_offset as i64);
            }
        }
    }
    Ok(())
}

/// Points this node at a master (or makes it one), starting the link task.
pub fn set_master(srv: &mut Server, master: Option<MasterAddr>) {
    // CONFIG GET replicaof and CONFIG REWRITE follow the command.
    srv.config.replicaof = master.as_ref().map(|m| (m.host.clone(), m.port));
    let Some(shared) = srv.self_ref.upgrade() else { return };
    link::set_master(&shared, srv, master);
}

fn psync(ctx: &mut Ctx) -> Result<(), Error> {
    if ctx.client.multi.is_some() {
        return err("ERR Command is not allowed in MULTI");
    }
    if ctx.srv.repl.master.is_some() && !ctx.srv.repl.link_up {
        return err("NOMASTERLINK Can't SYNC while not connected with my master");
    }
    let legacy_sync = ctx.args.len() == 1;
    let repl = &ctx.srv.repl;
    if !legacy_sync {
        let (id, from) = (&ctx.args[1], std::str::from_utf8(&ctx.args[2]).ok().and_then(|o| o.parse::<i64>().ok()));
        let known_history = *id == repl.replid.as_bytes()
            || (*id == repl.replid2.as_bytes() && from.is_some_and(|f| f <= repl.second_offset));
        if let Some(from) = from.filter(|f| *f > 0 && known_history) {
            if let Some(missing) = repl.backlog_from(from as u64) {
                let reply = format!("+CONTINUE {}\r\n", repl.replid);
                ctx.out.raw(reply.as_bytes());
                ctx.out.raw(&missing);
                ctx.srv.repl.sync_partial_ok += 1;
                let has = from as u64 - 1;
                replication::register(ctx.srv, ctx.client, SyncState::Online, has, false);
                let msg = format!(
                    "Partial resynchronization request from {} accepted. Sending {} bytes of backlog starting from offset {from}.",
                    ctx.client.addr,
                    missing.len()
                );
                crate::log(&ctx.srv.config, &msg);
                return Ok(());
            }
        }
        if id.as_ref() != b"?" {
            ctx.srv.repl.sync_partial_err += 1;
        }
    }
    replication::sync::full(ctx.srv, ctx.client, legacy_sync);
    Ok(())
}

fn replconf(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    if args.len().is_multiple_of(2) {
        return Err(Error::Syntax);
    }
    for pair in args[1..].chunks(2) {
        let (opt, val) = (&pair[0], &pair[1]);
        if is(opt, "ack") {
            // Acknowledgements get no reply.
            let offset = arg_i64(val)?;
            let id = ctx.client.id;
            if let Some(r) = ctx.srv.repl.replicas.iter_mut().find(|r| r.client_id == id) {
                r.ack_offset = r.ack_offset.max(offset.max(0) as u64);
                r.last_ack = Instant::now();
            }
            replication::serve_waiters(ctx.srv);
            return Ok(());
        } else if is(opt, "getack") {
            // Only meaningful on a replica's link to its master (handled there).
            return Ok(());
        } else if is(opt, "listening-port") {
            let port = arg_i64(val)?;
            ctx.client.replica_port = u16::try_from(port).map_err(|_| Error::NotInteger)?;
        } else if is(opt, "capa") || is(opt, "ip-address") || is(opt, "rdb-only") {
            // Capabilities we either use by default (psync2) or do not need (eof).
        } else {
            return err(format!("ERR Unrecognized REPLCONF option: {}", String::from_utf8_lossy(opt)));
        }
    }
    ctx.out.ok();
    Ok(())
}

fn wait(ctx: &mut Ctx) -> Result<(), Error> {
    if ctx.srv.repl.master.is_some() {
        return err("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.");
    }
    let wanted = arg_i64(&ctx.args[1])?;
    let timeout = arg_i64(&ctx.args[2])?;
    if timeout < 0 {
        return err("ERR timeout is negative");
    }
    replication::drain(ctx.srv);
    let target = ctx.srv.repl.offset;
    let acked = ctx.srv.repl.acked(target);
    if acked as i64 >= wanted || ctx.client.in_exec {
        ctx.out.int(acked as i64);
        return Ok(());
    }
    // Ask the replicas where they are, then wait for their ACKs (or the timeout).
    let getack = replication::encode(&[
        bytes::Bytes::from_static(b"REPLCONF"),
        bytes::Bytes::from_static(b"GETACK"),
        bytes::Bytes::from_static(b"*"),
    ]);
    replication::feed(ctx.srv, &getack);
    let deadline = (timeout > 0).then(|| Instant::now() + Duration::from_millis(timeout as u64));
    crate::server::blocking::block(ctx.srv, ctx.client, ctx.args, Vec::new(), deadline, false);
    ctx.srv.repl.waiters.push((ctx.client.id, target, wanted.max(0) as usize));
    Ok(())
}
