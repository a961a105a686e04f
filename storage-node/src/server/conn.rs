//! One client connection: read what arrived, decode every complete request, execute them in
//! order into one output buffer, write it with a single call.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

use bytes::BytesMut;
use protocol::{CommandDecoder, DecodeLimits, Reply};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Client, ClientHandle, Shared};
use crate::commands::{dispatch, Clock};

/// Serves one accepted connection until it closes or is killed.
pub async fn serve(server: Shared, mut stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let handle = {
        let mut srv = server.borrow_mut();
        srv.stats.total_connections_received += 1;
        if srv.clients.len() as u64 >= srv.config.maxclients {
            srv.stats.rejected_connections += 1;
            drop(srv);
            let _ = stream.try_write(b"-ERR max number of clients reached\r\n");
            return;
        }
        let id = srv.next_client_id;
        srv.next_client_id += 1;
        let laddr = stream.local_addr().map(|a| a.to_string()).unwrap_or_default();
        let needs_auth = srv.config.requirepass.is_some();
        let client = Client::new(id, peer.to_string(), laddr, needs_auth);
        let handle = Rc::new(ClientHandle { state: client.into(), killed: false.into(), kill: Default::default() });
        srv.clients.insert(id, handle.clone());
        handle
    };
    let _ = serve_loop(&server, &mut stream, &handle).await;
    let id = handle.state.borrow().id;
    server.borrow_mut().clients.remove(&id);
}

async fn serve_loop(server: &Shared, stream: &mut TcpStream, handle: &ClientHandle) -> std::io::Result<()> {
    let mut inbuf = BytesMut::with_capacity(16 * 1024);
    let mut decoder = CommandDecoder::new();
    let mut out = Reply::new();
    loop {
        if inbuf.capacity() - inbuf.len() < 4096 {
            inbuf.reserve(16 * 1024);
        }
        let n = tokio::select! {
            biased;
            _ = handle.kill.notified() => return Ok(()),
            r = stream.read_buf(&mut inbuf) => r?,
        };
        if n == 0 || handle.killed.get() {
            return Ok(());
        }
        let close = {
            let mut srv = server.borrow_mut();
            let mut client = handle.state.borrow_mut();
            client.last_interaction = Instant::now();
            srv.stats.net_input_bytes += n as u64;
            out.proto = client.proto;
            let mut limits =
                DecodeLimits { max_bulk_len: srv.config.proto_max_bulk_len as usize, ..Default::default() };
            let mut close = false;
            let mut clock = Clock::start();
            loop {
                limits.unauthenticated = !client.authenticated;
                match decoder.decode(&mut inbuf, &limits) {
                    Ok(Some(args)) => {
                        dispatch(&mut srv, &mut client, &args, &mut out, &mut clock);
                        // HELLO may have switched the protocol for the following replies.
                        out.proto = client.proto;
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
            client.qbuf = inbuf.len();
            if inbuf.len() as u64 > srv.config.client_query_buffer_limit {
                // Redis closes a client whose unparsed input exceeds client-query-buffer-limit.
                close = true;
            }
            srv.stats.net_output_bytes += out.buf.len() as u64;
            close
        };
        if !out.buf.is_empty() {
            stream.write_all(&out.buf).await?;
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
