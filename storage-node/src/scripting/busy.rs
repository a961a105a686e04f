//! What happens while a script runs longer than `busy-reply-threshold`: the node's thread is
//! inside the script, so the Lua hook polls the other clients' sockets itself. Every request
//! gets `-BUSY`, except SCRIPT KILL (stops a script that has not written yet) and SHUTDOWN
//! NOSAVE, as in Redis. TLS clients are answered through their own session (shared with their
//! connection, see `transport::shared_tls`), and new ones get their handshake from the hook.

use std::cell::Cell;
use std::io::{Read, Write};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use tls::rustls::{ServerConfig, ServerConnection};

use bytes::{Buf, BytesMut};
use protocol::{CommandDecoder, DecodeLimits};

use crate::server::Registry;
use crate::transport::shared_tls::{read_arrived, write_queued};

const BUSY: &[u8] = b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";
/// The same while a function runs (FCALL).
const BUSY_FUNCTION: &[u8] =
    b"-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n";
const UNKILLABLE: &[u8] = b"-UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.\r\n";

/// State shared between a running script and its hook.
pub struct Watch {
    pub started: Instant,
    pub threshold_ms: u64,
    /// The client running the script (its own requests wait, as in Redis).
    pub runner: u64,
    pub clients: Registry,
    /// Set by a write through `redis.call`: the script can no longer be killed.
    pub wrote: Rc<Cell<bool>>,
    pub kill: Cell<bool>,
    /// Duplicates of the listening sockets: new clients are accepted (and told -BUSY) too.
    pub listeners: Rc<Vec<std::net::TcpListener>>,
    /// The same for the TLS port, with the configuration its handshakes use.
    pub tls_listeners: Rc<Vec<std::net::TcpListener>>,
    pub tls_config: Option<Arc<ServerConfig>>,
    /// Clients accepted during the script, handed to the runtime once it ends.
    pub accepted: std::cell::RefCell<Vec<Adopted>>,
    /// A running function's name and FCALL arguments (None for EVAL).
    pub function: Option<(String, Vec<bytes::Bytes>)>,
    /// Libraries and functions loaded, for FUNCTION STATS.
    pub counts: (usize, usize),
    /// Whether the client being answered speaks RESP3 (FUNCTION STATS replies with maps).
    pub resp3: Cell<bool>,
}

/// A connection accepted while a script was busy.
pub struct Adopted {
    pub stream: std::net::TcpStream,
    pub peer: std::net::SocketAddr,
    pub pending: BytesMut,
    /// The TLS session of a client of the TLS port (its handshake may still be under way).
    pub tls: Option<ServerConnection>,
}

impl Watch {
    /// Called from the Lua hook: answers waiting clients once the script is slow; true when
    /// SCRIPT KILL asked the script to stop.
    pub fn poll(&self) -> bool {
        if self.threshold_ms == 0 || (self.started.elapsed().as_millis() as u64) < self.threshold_ms {
            return false;
        }
        self.poll_new_clients();
        let handles: Vec<_> = self.clients.borrow().values().cloned().collect();
        for handle in handles {
            let Ok(state) = handle.state.try_borrow() else { continue };
            // Skip the runner and clients with a half-read request in their own buffer.
            if state.id == self.runner || state.qbuf > 0 {
                continue;
            }
            drop(state);
            let Some(raw) = handle.raw.as_ref() else { continue };
            self.resp3.set(handle.proto.get() == protocol::Proto::Resp3);
            let mut pending = handle.pending_input.borrow_mut();
            match &handle.tls {
                None => self.answer_plain(raw, &mut pending),
                Some(session) => {
                    // Its connection is parked between polls, so the session is free.
                    let Ok(mut session) = session.try_borrow_mut() else { continue };
                    self.answer_tls(&mut session, raw, &mut pending);
                }
            }
            if !pending.is_empty() {
                handle.wake.notify_one();
            }
        }
        self.kill.get()
    }

    fn poll_new_clients(&self) {
        let tls_config = self.tls_config.as_ref();
        let plain = self.listeners.iter().map(|l| (l, None));
        let tls = self.tls_listeners.iter().filter_map(|l| Some((l, Some(tls_config?))));
        for (l, config) in plain.chain(tls) {
            while let Ok((stream, peer)) = l.accept() {
                let session = match config {
                    None => None,
                    Some(c) => match ServerConnection::new(c.clone()) {
                        Ok(s) => Some(s),
                        Err(_) => continue,
                    },
                };
                if stream.set_nonblocking(true).is_ok() {
                    self.accepted.borrow_mut().push(Adopted { stream, peer, pending: BytesMut::new(), tls: session });
                }
            }
        }
        self.resp3.set(false);
        for a in self.accepted.borrow_mut().iter_mut() {
            match &mut a.tls {
                None => self.answer_plain(&a.stream, &mut a.pending),
                Some(session) => self.answer_tls(session, &a.stream, &mut a.pending),
            }
        }
    }

    /// The plaintext side of a poll: read what the client sent and answer it.
    fn answer_plain(&self, mut raw: &std::net::TcpStream, pending: &mut BytesMut) {
        let mut buf = [0u8; 4096];
        while let Ok(n) = raw.read(&mut buf) {
            if n == 0 {
                break;
            }
            pending.extend_from_slice(&buf[..n]);
            if n < buf.len() {
                break;
            }
        }
        self.answer(pending, &mut raw);
    }

    /// The TLS side of a poll: decrypt what the client sent (finishing its handshake first if
    /// need be), answer it, encrypt and send the replies. A broken session is left for the
    /// connection to find once the script ends.
    fn answer_tls(&self, session: &mut ServerConnection, raw: &std::net::TcpStream, pending: &mut BytesMut) {
        let mut buf = [0u8; 4096];
        let (mut input, mut output) = (raw, raw);
        loop {
            match read_arrived(session, &mut input, &mut output) {
                Ok(Some(n)) if n > 0 => {}
                _ => break,
            }
            while let Ok(n) = session.reader().read(&mut buf) {
                if n == 0 {
                    break;
                }
                pending.extend_from_slice(&buf[..n]);
            }
        }
        if !session.is_handshaking() {
            self.answer(pending, &mut session.writer());
        }
        let _ = write_queued(session, &mut output);
    }

    /// FUNCTION STATS while a function runs: what runs, and the engine's counts.
    fn stats_reply(&self, name: &str, call: &[bytes::Bytes]) -> Vec<u8> {
        let mut out = Vec::new();
        let resp3 = self.resp3.get();
        let map = |out: &mut Vec<u8>, n: usize| {
            let head = if resp3 { format!("%{n}\r\n") } else { format!("*{}\r\n", n * 2) };
            out.extend_from_slice(head.as_bytes());
        };
        let bulk = |out: &mut Vec<u8>, b: &[u8]| {
            out.extend_from_slice(format!("${}\r\n", b.len()).as_bytes());
            out.extend_from_slice(b);
            out.extend_from_slice(b"\r\n");
        };
        map(&mut out, 2);
        bulk(&mut out, b"running_script");
        map(&mut out, 3);
        bulk(&mut out, b"name");
        bulk(&mut out, name.as_bytes());
        bulk(&mut out, b"command");
        out.extend_from_slice(format!("*{}\r\n", call.len()).as_bytes());
        for a in call {
            bulk(&mut out, a);
        }
        bulk(&mut out, b"duration_ms");
        out.extend_from_slice(format!(":{}\r\n", self.started.elapsed().as_millis()).as_bytes());
        bulk(&mut out, b"engines");
        map(&mut out, 1);
        bulk(&mut out, b"LUA");
        map(&mut out, 2);
        bulk(&mut out, b"libraries_count");
        out.extend_from_slice(format!(":{}\r\n", self.counts.0).as_bytes());
        bulk(&mut out, b"functions_count");
        out.extend_from_slice(format!(":{}\r\n", self.counts.1).as_bytes());
        out
    }

    /// Answers every complete request in `pending`, leaving a partial one in place.
    fn answer(&self, pending: &mut BytesMut, out: &mut impl Write) {
        let limits = DecodeLimits::default();
        loop {
            let mut probe = pending.clone();
            let mut dec = CommandDecoder::new();
            let Ok(Some(args)) = dec.decode(&mut probe, &limits) else { return };
            let used = pending.len() - probe.len();
            pending.advance(used);
            let is = |i: usize, w: &str| args.get(i).is_some_and(|a| a.eq_ignore_ascii_case(w.as_bytes()));
            // SCRIPT KILL stops EVAL, FUNCTION KILL stops FCALL; the other gets the other's -BUSY.
            let busy = if self.function.is_some() { BUSY_FUNCTION } else { BUSY };
            let stats;
            let reply: &[u8] = if (is(0, "script") || is(0, "function")) && is(1, "kill") {
                if is(0, "function") != self.function.is_some() {
                    busy
                } else if self.wrote.get() {
                    UNKILLABLE
                } else {
                    self.kill.set(true);
                    b"+OK\r\n"
                }
            } else if is(0, "function") && is(1, "stats") && args.len() == 2 {
                match &self.function {
                    None => BUSY,
                    Some((name, call)) => {
                        stats = self.stats_reply(name, call);
                        &stats
                    }
                }
            } else if is(0, "shutdown") && is(1, "nosave") {
                std::process::exit(0);
            } else {
                busy
            };
            let _ = out.write_all(reply);
        }
    }
}
