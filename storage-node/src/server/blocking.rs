//! Clients blocked on keys (BLPOP, BZPOPMIN, BLMOVE, ...): they wait in FIFO order per key and
//! are served right after the command that fed the key, before any other client runs.

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use protocol::Reply;

use super::client::Blocked;
use super::{Client, Server};

/// Parks `client` on `keys` until data arrives or `deadline` passes.
pub fn block(
    srv: &mut Server,
    client: &mut Client,
    args: &[Bytes],
    keys: Vec<Box<[u8]>>,
    deadline: Option<Instant>,
    null_bulk: bool,
) {
    let db = client.db;
    for k in &keys {
        srv.blocked.entry((db, k.clone())).or_default().push_back(client.id);
    }
    client.blocked = Some(Blocked { args: args.to_vec(), db, keys, deadline, null_bulk });
}

/// Removes `client` from every queue it waits in.
pub fn unblock(srv: &mut Server, client: &mut Client) {
    let Some(b) = client.blocked.take() else { return };
    for k in &b.keys {
        let key = super::databases::KeyRef(b.db, k);
        if let Some(q) = srv.blocked.get_mut(&key) {
            q.retain(|id| *id != client.id);
            if q.is_empty() {
                srv.blocked.remove(&key);
            }
        }
    }
}

/// Serves blocked clients of every key that received data, in the order they blocked.
pub fn serve_ready(srv: &mut Server) {
    while !srv.ready_keys.is_empty() {
        let key = srv.ready_keys.remove(0);
        let Some(queue) = srv.blocked.get(&key).cloned() else { continue };
        for id in queue {
            let Some(handle) = srv.clients.borrow().get(&id).cloned() else { continue };
            let Ok(mut c) = handle.state.try_borrow_mut() else { continue };
            let Some(args) = c.blocked.as_ref().map(|b| b.args.clone()) else { continue };
            let mut reply = Reply { buf: BytesMut::new(), proto: c.proto };
            let ran = crate::commands::run_blocked(srv, &mut c, &args, &mut reply);
            if !reply.buf.is_empty() {
                unblock(srv, &mut c);
                // Served: the slow log and latency figures get it now, with the time serving
                // took (updateStatsOnUnblock; the wait itself is not the command's cost).
                if let Some((idx, usec)) = ran {
                    crate::introspect::after_command(srv, &c, idx, &args, usec);
                }
                handle.deliver(&reply.buf);
            }
        }
    }
}

/// The client's timeout passed: reply the null the command documents.
pub fn time_out(srv: &mut Server, client: &mut Client, out: &mut Reply) {
    let Some(null_bulk) = client.blocked.as_ref().map(|b| b.null_bulk) else { return };
    // WAIT answers how many replicas got there in time.
    if let Some(pos) = srv.repl.waiters.iter().position(|w| w.0 == client.id) {
        let (_, offset, _) = srv.repl.waiters.remove(pos);
        unblock(srv, client);
        out.int(srv.repl.acked(offset) as i64);
        return;
    }
    unblock(srv, client);
    if null_bulk {
        out.null();
    } else {
        out.null_array();
    }
}

/// Number of clients waiting (INFO `blocked_clients`).
pub fn blocked_count(srv: &Server) -> usize {
    let mut ids: Vec<u64> = srv.blocked.values().flatten().copied().collect();
    ids.sort_unstable();
    ids.dedup();
    ids.len()
}
