//! One client connection: read what arrived, decode every complete request, execute them in
//! order into one output buffer, write it with a single call. Replies produced for this client
//! by others (pub/sub messages, a served blocking command) arrive through its outbox.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

use bytes::BytesMut;
use protocol::{CommandDecoder, DecodeLimits, Reply};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{blocking, Client, ClientHandle, Shared};
use crate::commands::{dispatch, Clock};
use crate::transport::Stream;

/// Registers an accepted connection (plain, or TLS once its handshake is done) and starts its
/// task. Registration happens right away, in the accepting task, so a busy script can answer
/// the client before its task first runs.
pub fn accept(server: &Shared, stream: Stream, peer: SocketAddr) {
    start(server, stream, peer, BytesMut::new());
}

/// Starts tasks for connections accepted while a script was busy.
fn adopt_pending(server: &Shared, srv: &mut super::Server) {
    let adopted: Vec<_> = srv.adopt.drain(..).collect();
    for a in adopted {
        if let Ok(tcp) = TcpStream::from_std(a.stream) {
            let stream = match a.tls {
                None => Stream::Plain(tcp),
                Some(session) => Stream::TlsClient(crate::transport::SharedTls::new(tcp, session)),
            };
            register_and_spawn(server, srv, stream, a.peer, a.pending);
        }
    }
}

fn start(server: &Shared, stream: Stream, peer: SocketAddr, early: BytesMut) {
    let mut srv = server.borrow_mut();
    register_and_spawn(server, &mut srv, stream, peer, early);
}

fn register_and_spawn(server: &Shared, srv: &mut super::Server, stream: Stream, peer: SocketAddr, early: BytesMut) {
    let _ = stream.tcp().set_nodelay(true);
    srv.stats.total_connections_received += 1;
    if srv.clients.borrow().len() as u64 >= srv.config.maxclients {
        srv.stats.rejected_connections += 1;
        refuse(stream, b"-ERR max number of clients reached\r\n");
        return;
    }
    if srv.config.protected_mode && srv.acl.default_nopass() && !is_local(&peer) {
        srv.stats.rejected_connections += 1;
        refuse(stream, PROTECTED);
        return;
    }
    let id = srv.next_client_id;
    srv.next_client_id += 1;
    let laddr = stream.tcp().local_addr().map(|a| a.to_string()).unwrap_or_default();
    let needs_auth = !srv.acl.default_open();
    let mut client = Client::new(id, peer.to_string(), laddr, needs_auth);
    client.tls = matches!(stream, Stream::Tls(_) | Stream::TlsClient(_));
    let mut handle = ClientHandle::new(client);
    // A second handle on the socket lets a busy script answer -BUSY (see scripting::busy),
    // through the shared session for a TLS client.
    match &stream {
        Stream::Plain(s) => handle.raw = stream_clone(s),
        Stream::TlsClient(s) => {
            handle.raw = stream_clone(&s.tcp);
            handle.tls = Some(s.session.clone());
        }
        Stream::Tls(_) => {}
    }
    handle.pending_input = std::cell::RefCell::new(early);
    let handle = Rc::new(handle);
    srv.clients.borrow_mut().insert(id, handle.clone());
    tokio::task::spawn_local(serve(server.clone(), stream, handle));
}

/// Redis 7.0's reply, word for word (its typo included), to a client from another host while
/// protected mode is on and `default` has no password.
const PROTECTED: &[u8] = b"-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// A loopback client, as Redis 7.0's islocalClient sees it (127.0.0.1 or ::1).
fn is_local(peer: &SocketAddr) -> bool {
    let ip = peer.ip().to_canonical();
    ip == std::net::IpAddr::from([127, 0, 0, 1]) || ip == std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST)
}

/// Writes one error to a connection turned away at accept, then drops it.
fn refuse(stream: Stream, error: &'static [u8]) {
    match stream {
        Stream::Plain(s) => {
            let _ = s.try_write(error);
        }
        mut tls => {
            tokio::task::spawn_local(async move {
                let _ = tls.write_all(error).await;
                let _ = tls.flush().await;
            });
        }
    }
}

/// Serves a registered connection until it closes or is killed.
async fn serve(server: Shared, mut stream: Stream, handle: Rc<ClientHandle>) {
    let _ = serve_loop(&server, &mut stream, &handle).await;
    let mut srv = server.borrow_mut();
    let mut client = handle.state.borrow_mut();
    srv.forget_client(&mut client);
}

/// Duplicates the socket as a std stream (non-blocking, like the original).
fn stream_clone(stream: &TcpStream) -> Option<std::net::TcpStream> {
    use std::os::fd::AsFd;
    let fd = stream.as_fd().try_clone_to_owned().ok()?;
    Some(std::net::TcpStream::from(fd))
}

/// What woke the connection.
enum Event {
    Read(usize),
    Wake,
    Timeout,
}

async fn serve_loop(server: &Shared, stream: &mut Stream, handle: &ClientHandle) -> std::io::Result<()> {
    let mut inbuf = BytesMut::with_capacity(16 * 1024);
    let mut decoder = CommandDecoder::new();
    let mut out = Reply::new();
    loop {
        if inbuf.capacity() - inbuf.len() < 4096 {
            inbuf.reserve(16 * 1024);
        }
        let deadline = handle.state.borrow().blocked.as_ref().and_then(|b| b.deadline);
        let event = tokio::select! {
            biased;
            _ = handle.kill.notified() => return Ok(()),
            _ = handle.wake.notified() => Event::Wake,
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now).into()), if deadline.is_some() => Event::Timeout,
            r = stream.read_buf(&mut inbuf) => Event::Read(r?),
        };
        if matches!(event, Event::Read(0)) || handle.killed.get() {
            return Ok(());
        }
        let (close, aof_wait) = {
            let mut srv = server.borrow_mut();
            let mut client = handle.state.borrow_mut();
            let srv = &mut *srv;
            // Requests read while a script was busy, not yet answered, come before new input.
            let early = std::mem::take(&mut *handle.pending_input.borrow_mut());
            if !early.is_empty() {
                let rest = inbuf.split();
                inbuf.extend_from_slice(&early);
                inbuf.extend_from_slice(&rest);
            }
            // Whatever others queued for us goes out first, in the order it was produced.
            let pending = std::mem::take(&mut *handle.outbox.borrow_mut());
            out.buf.extend_from_slice(&pending);
            handle.soft_since.set(None);
            match event {
                Event::Read(n) => {
                    client.last_interaction = Instant::now();
                    srv.stats.net_input_bytes += n as u64;
                }
                Event::Timeout => blocking::time_out(srv, &mut client, &mut out),
                Event::Wake => {}
            }
            out.proto = client.proto;
            let mut limits =
                DecodeLimits { max_bulk_len: srv.config.proto_max_bulk_len as usize, ..Default::default() };
            let mut close = false;
            let mut clock = Clock::start();
            if client.blocked.is_none() && !decoder.in_progress() && (client.authenticated || srv.acl.default_open()) {
                // The pipeline's keys are looked up in the client's database.
                srv.select_db(client.db);
                prefetch_keys(srv, &inbuf);
            }
            // A blocked client's further requests wait until it is served, as in Redis.
            while client.blocked.is_none() {
                limits.unauthenticated = !client.authenticated && !srv.acl.default_open();
                match decoder.decode(&mut inbuf, &limits) {
                    Ok(Some(args)) => {
                        if srv.tracking.used {
                            super::tracking::before_command(srv, &client, &mut out);
                        }
                        dispatch(srv, &mut client, &args, &mut out, &mut clock);
                        if srv.tracking.used {
                            super::tracking::after_command(srv, &client, &args, &mut out);
                        }
                        if !srv.ready_keys.is_empty() {
                            blocking::serve_ready(srv);
                        }
                        if !srv.adopt.is_empty() {
                            adopt_pending(server, srv);
                        }
                        // HELLO may have switched the protocol for the following replies.
                        out.proto = client.proto;
                        handle.proto.set(client.proto);
                        if client.close_after_reply {
                            close = true;
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        out.error(&format!("ERR Protocol error: {e}"));
                        close = true;
                        break;
                    }
                }
            }
            if srv.tracking.used {
                super::tracking::end_batch(srv, &client, &mut out);
            }
            client.qbuf = inbuf.len();
            if inbuf.len() as u64 > srv.config.client_query_buffer_limit {
                // Redis closes a client whose unparsed input exceeds client-query-buffer-limit.
                close = true;
            }
            srv.stats.net_output_bytes += out.buf.len() as u64;
            // Replies go out only once the AOF holds what they acknowledge (Redis's beforeSleep).
            let aof_wait = match &srv.persist.aof {
                Some(aof) if !out.buf.is_empty() => aof.wait_for(srv.prop.offset),
                _ => None,
            };
            (close, aof_wait)
        };
        if let Some((signal, offset)) = aof_wait {
            if !crate::persist::aof::wait_durable(&signal, offset, &handle.kill).await {
                return Ok(());
            }
        }
        if !out.buf.is_empty() {
            // Write after every other ready connection has run, as Redis writes in beforeSleep:
            // replies leave in one burst, so a client woken by the first finds the rest of its
            // replies already there instead of being woken once per reply.
            tokio::task::yield_now().await;
            // A client that stopped reading must not pin this task: a kill (e.g. the pub/sub
            // output limit) ends the write too.
            tokio::select! {
                biased;
                _ = handle.kill.notified() => return Ok(()),
                r = async { stream.write_all(&out.buf).await?; stream.flush().await } => r?,
            }
            handle.flushed.notify_one();
            out.buf.clear();
            // Do not keep a huge buffer around after one big reply.
            if out.buf.capacity() > 1 << 20 {
                out.buf = BytesMut::new();
            }
        }
        if close {
            return Ok(());
        }
    }
}

/// Prefetches the first key of every request of a pipeline before running it (see
/// `Db::prefetch`). A single request gains nothing, so it costs only the peek at its header.
fn prefetch_keys(srv: &super::Server, inbuf: &[u8]) {
    const MAX: usize = 32;
    let mut requests = [[&[][..]; protocol::decode::PEEK]; MAX];
    let mut count = 0;
    protocol::decode::peek_requests(inbuf, MAX, |args| {
        requests[count][..args.len()].copy_from_slice(args);
        count += 1;
    });
    if count < 2 {
        return;
    }
    let mut keys: [&[u8]; MAX] = [&[]; MAX];
    let mut n = 0;
    for args in &requests[..count] {
        let Some(i) = srv.commands.lookup(args[0]) else { continue };
        let at = match srv.commands.commands[i].spec.keys {
            protocol::KeySpec::Range { first: 1, .. } => 1,
            // EVAL and friends: the first key follows a non-zero key count.
            protocol::KeySpec::NumKeys { numkeys: 2, fixed: None } if !args[2].is_empty() && args[2] != b"0" => 3,
            _ => continue,
        };
        if !args[at].is_empty() {
            keys[n] = args[at];
            n += 1;
        }
    }
    srv.db.prefetch(&keys[..n]);
}
