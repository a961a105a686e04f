//! Client pauses (Redis's pauseClients): CLIENT PAUSE [WRITE|ALL] and the pause a master takes
//! while a replica of it runs a manual failover. A paused command waits as a blocked client and
//! runs once every pause that holds it has ended.

use super::Server;

/// A pause asked for by CLIENT PAUSE.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClientPause {
    /// Unix milliseconds when it ends.
    pub end_ms: i64,
    /// ALL holds every command; WRITE only what may replicate.
    pub all: bool,
}

/// What is held now: `None` (nothing), `Some(false)` (what may replicate), `Some(true)` (all).
pub fn held(srv: &Server, now: i64) -> Option<bool> {
    let client = srv.client_pause.filter(|p| now < p.end_ms).map(|p| p.all);
    let failover = srv.cluster.as_deref().is_some_and(|cl| crate::cluster::failover::writes_paused(cl, now));
    match (client, failover) {
        (Some(all), _) => Some(all),
        (None, true) => Some(false),
        (None, false) => None,
    }
}

/// CLIENT PAUSE: a second pause never shortens the first nor makes it less strict.
pub fn pause(srv: &mut Server, end_ms: i64, all: bool) {
    srv.client_pause = Some(match srv.client_pause {
        Some(p) => ClientPause { end_ms: p.end_ms.max(end_ms), all: p.all || all },
        None => ClientPause { end_ms, all },
    });
}

/// CLIENT UNPAUSE: ends the client pause (a failover's pause goes on) and runs what waited.
pub fn unpause(srv: &mut Server, now: i64) {
    srv.client_pause = None;
    resume(srv, now);
}

/// Runs the commands that waited, once no pause holds them (in the order they arrived; a
/// write may now be redirected to a new master).
pub fn resume(srv: &mut Server, now: i64) {
    if srv.client_pause.is_some_and(|p| now >= p.end_ms) {
        srv.client_pause = None;
    }
    if srv.paused_clients.is_empty() || held(srv, now) == Some(true) {
        return;
    }
    for id in std::mem::take(&mut srv.paused_clients) {
        let Some(handle) = srv.clients.borrow().get(&id).cloned() else { continue };
        let Ok(mut client) = handle.state.try_borrow_mut() else { continue };
        let Some(args) = client.blocked.as_ref().map(|b| b.args.clone()) else { continue };
        crate::server::blocking::unblock(srv, &mut client);
        let mut reply = protocol::Reply { buf: bytes::BytesMut::new(), proto: client.proto };
        let mut clock = crate::commands::Clock::start();
        // Under a WRITE pause a command that may replicate is held again by the chain.
        crate::commands::dispatch(srv, &mut client, &args, &mut reply, &mut clock);
        handle.deliver(&reply.buf);
    }
}
