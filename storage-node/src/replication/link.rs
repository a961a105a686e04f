//! The replica's link to its master: connect, handshake (PING, AUTH, REPLCONF listening-port
//! and capa, PSYNC), load the snapshot of a full sync or continue from our offset, then apply
//! the command stream as Redis's replica does, acknowledging the offset every second. With
//! `tls-replication yes` the link is TLS.

use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use protocol::{CommandDecoder, DecodeLimits, Reply};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{encode, MasterAddr};
use crate::commands::{dispatch, Clock};
use crate::keyspace::rdbconv;
use crate::server::{Client, Server, Shared};
use crate::transport::Stream;

/// Makes this node a replica of `host:port` (or a master again with `None`).
pub fn set_master(shared: &Shared, srv: &mut Server, master: Option<MasterAddr>) {
    let was_replica = srv.repl.master.is_some();
    srv.repl.link_generation += 1;
    srv.repl.link_lost();
    srv.repl.master = master.clone();
    match master {
        Some(m) => {
            let generation = srv.repl.link_generation;
            crate::log(&srv.config, &format!("Connecting to MASTER {}:{}", m.host, m.port));
            tokio::task::spawn_local(run(shared.clone(), generation, m));
        }
        // A promoted replica starts a new history; its old one stays valid for partial resyncs.
        // Its first command names its database (replicationUnsetMaster's slaveseldb = -1).
        None if was_replica => {
            srv.repl.shift_replid();
            srv.prop.repl_db = None;
        }
        None => {}
    }
}

async fn run(shared: Shared, generation: u64, master: MasterAddr) {
    loop {
        if shared.borrow().repl.link_generation != generation {
            return;
        }
        if let Err(e) = session(&shared, generation, &master).await {
            let srv = shared.borrow();
            if srv.repl.link_generation == generation {
                crate::log(
                    &srv.config,
                    &format!("Warning: replication link with {}:{}: {e}", master.host, master.port),
                );
            }
        }
        {
            let mut srv = shared.borrow_mut();
            if srv.repl.link_generation == generation {
                srv.repl.link_lost();
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Reads one `\r\n`-terminated line (skipping the bare newlines a master sends as keepalives).
async fn read_line(stream: &mut Stream, buf: &mut BytesMut) -> Result<String, String> {
    loop {
        while buf.first() == Some(&b'\n') {
            buf.advance(1);
        }
        if let Some(pos) = buf.windows(2).position(|w| w == b"\r\n") {
            let line = String::from_utf8_lossy(&buf[..pos]).into_owned();
            buf.advance(pos + 2);
            return Ok(line);
        }
        if buf.len() > 64 * 1024 {
            return Err("protocol error: line too long".into());
        }
        read_more(stream, buf).await?;
    }
}

async fn read_more(stream: &mut Stream, buf: &mut BytesMut) -> Result<(), String> {
    let n = tokio::time::timeout(Duration::from_secs(60), stream.read_buf(buf))
        .await
        .map_err(|_| "timeout reading from the master".to_string())?
        .map_err(|e| e.to_string())?;
    if n == 0 {
        return Err("connection closed by the master".into());
    }
    Ok(())
}

/// Sends one command and reads its one-line reply.
async fn call(stream: &mut Stream, buf: &mut BytesMut, args: &[&[u8]]) -> Result<String, String> {
    let mut out = BytesMut::new();
    protocol::encode::write_command(&mut out, args);
    send(stream, &out).await?;
    read_line(stream, buf).await
}

/// Writes bytes and pushes them out (a TLS session may hold them until flushed).
async fn send(stream: &mut Stream, bytes: &[u8]) -> Result<(), String> {
    stream.write_all(bytes).await.map_err(|e| e.to_string())?;
    stream.flush().await.map_err(|e| e.to_string())
}

async fn session(shared: &Shared, generation: u64, master: &MasterAddr) -> Result<(), String> {
    let addr = format!("{}:{}", master.host, master.port);
    let tcp = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect((master.host.as_str(), master.port)))
        .await
        .map_err(|_| format!("connect to {addr} timed out"))?
        .map_err(|e| format!("connect to {addr}: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let tls = shared.borrow().replication_tls();
    let mut stream = match tls {
        Some(tls) => tls.connect(tcp, &master.host).await?,
        None => Stream::Plain(tcp),
    };
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let (port, auth, replid, offset) = {
        let srv = shared.borrow();
        let auth = srv.config.masterauth.clone().map(|p| (srv.config.masteruser.clone(), p));
        // The port the master lists us under: the TLS one when we replicate over TLS.
        let port = if srv.config.tls_replication && srv.tls_port != 0 { srv.tls_port } else { srv.port };
        (port, auth, srv.repl.replid.clone(), srv.repl.offset)
    };
    let pong = call(&mut stream, &mut buf, &[b"PING"]).await?;
    if pong.starts_with('-') && !pong.starts_with("-NOAUTH") {
        return Err(format!("master replied to PING: {pong}"));
    }
    if let Some((user, pass)) = auth {
        let reply = match user {
            Some(u) => call(&mut stream, &mut buf, &[b"AUTH", u.as_bytes(), pass.as_bytes()]).await?,
            None => call(&mut stream, &mut buf, &[b"AUTH", pass.as_bytes()]).await?,
        };
        if reply != "+OK" {
            return Err(format!("unable to AUTH to MASTER: {reply}"));
        }
    }
    call(&mut stream, &mut buf, &[b"REPLCONF", b"listening-port", port.to_string().as_bytes()]).await?;
    call(&mut stream, &mut buf, &[b"REPLCONF", b"capa", b"psync2"]).await?;
    current(&shared.borrow(), generation)?;
    let next = (offset + 1).to_string();
    let reply = call(&mut stream, &mut buf, &[b"PSYNC", replid.as_bytes(), next.as_bytes()]).await?;
    if let Some(rest) = reply.strip_prefix("+FULLRESYNC ") {
        let mut parts = rest.split(' ');
        let (Some(id), Some(off)) = (parts.next(), parts.next().and_then(|o| o.parse::<u64>().ok())) else {
            return Err(format!("bad FULLRESYNC reply: {reply}"));
        };
        let header = read_line(&mut stream, &mut buf).await?;
        let len: usize = header
            .strip_prefix('$')
            .and_then(|l| l.parse().ok())
            .ok_or_else(|| format!("bad snapshot header from the master: {header}"))?;
        while buf.len() < len {
            read_more(&mut stream, &mut buf).await?;
        }
        let snapshot = buf.split_to(len);
        current(&shared.borrow(), generation)?;
        let mut srv = shared.borrow_mut();
        load_snapshot(&mut srv, &snapshot)?;
        srv.repl.replid = id.to_string();
        srv.repl.offset = off;
        srv.repl.backlog.clear();
        srv.repl.master_db = 0;
        crate::log(&srv.config, &format!("MASTER <-> REPLICA sync: Finished with success ({len} bytes)"));
    } else if let Some(rest) = reply.strip_prefix("+CONTINUE") {
        let mut srv = shared.borrow_mut();
        let new_id = rest.trim();
        if !new_id.is_empty() && new_id != srv.repl.replid {
            srv.repl.replid2 = std::mem::replace(&mut srv.repl.replid, new_id.to_string());
            srv.repl.second_offset = srv.repl.offset as i64 + 1;
        }
        crate::log(&srv.config, "Successful partial resynchronization with master.");
    } else {
        return Err(format!("unexpected reply to PSYNC: {reply}"));
    }
    {
        let mut srv = shared.borrow_mut();
        srv.repl.link_up = true;
        srv.repl.last_io = Some(Instant::now());
    }
    stream_commands(shared, generation, &mut stream, buf).await
}

/// Replaces the dataset (every database) with a snapshot; nothing is changed if it does not
/// parse.
fn load_snapshot(srv: &mut Server, data: &[u8]) -> Result<(), String> {
    let mut reader = rdb::FileReader::new(data).map_err(|e| format!("bad snapshot: {e}"))?;
    let mut entries = Vec::new();
    let count = srv.db_count();
    while let Some(e) = reader.next_entry().map_err(|e| format!("bad snapshot: {e}"))? {
        if e.db as usize >= count {
            return Err(format!("bad snapshot: database {} out of range (databases {count})", e.db));
        }
        entries.push(e);
    }
    // The master's function libraries replace ours, as its keys replace our keys.
    srv.scripting.functions.replace_all(reader.functions()).map_err(|e| format!("bad snapshot: {e}"))?;
    if srv.tracking.used {
        crate::server::tracking::invalidate_on_flush(srv);
    }
    srv.each_db_mut(|db| drop(db.take_all()));
    for e in entries {
        if let Some(v) = rdbconv::from_rdb(e.value) {
            srv.db_at(e.db as usize).set(&e.key, v, Some(e.expire_at_ms.unwrap_or(0)));
        }
    }
    // Loading is no keyspace event (Redis's rdbLoad notifies nobody of the keys).
    srv.db.events.clear();
    Ok(())
}

/// The client the master's commands run as: no replies, no redirects, never blocks.
fn master_client() -> Client {
    let mut c = Client::new(0, "master".into(), String::new(), false);
    c.is_master = true;
    c.in_exec = true;
    c
}

async fn stream_commands(
    shared: &Shared,
    generation: u64,
    stream: &mut Stream,
    mut buf: BytesMut,
) -> Result<(), String> {
    let mut decoder = CommandDecoder::new();
    let limits = DecodeLimits::default();
    let mut client = master_client();
    client.db = shared.borrow().repl.master_db;
    let mut ack = tokio::time::interval(Duration::from_secs(1));
    loop {
        let mut replies: Vec<u8> = Vec::new();
        {
            let mut srv = shared.borrow_mut();
            current(&srv, generation)?;
            let srv = &mut *srv;
            let mut clock = Clock::start();
            loop {
                let before = buf.len();
                let args = match decoder.decode(&mut buf, &limits) {
                    Ok(Some(a)) => a,
                    Ok(None) => break,
                    Err(e) => return Err(format!("protocol error in the replication stream: {e}")),
                };
                let consumed = before - buf.len();
                let raw = encode(&args);
                debug_assert_eq!(raw.len(), consumed);
                let name = args[0].to_ascii_lowercase();
                if name == b"replconf" && args.get(1).is_some_and(|a| a.eq_ignore_ascii_case(b"getack")) {
                    super::feed(srv, &raw);
                    replies.extend_from_slice(&ack_bytes(srv.repl.offset));
                    continue;
                }
                let mut scratch = Reply::new();
                dispatch(srv, &mut client, &args, &mut scratch, &mut clock);
                super::feed(srv, &raw);
            }
            srv.repl.master_db = client.db;
        }
        if !replies.is_empty() {
            send(stream, &replies).await?;
        }
        tokio::select! {
            r = stream.read_buf(&mut buf) => {
                match r {
                    Ok(0) => return Err("connection closed by the master".into()),
                    Ok(_) => shared.borrow_mut().repl.last_io = Some(Instant::now()),
                    Err(e) => return Err(e.to_string()),
                }
            }
            _ = ack.tick() => {
                let offset = shared.borrow().repl.offset;
                send(stream, &ack_bytes(offset)).await?;
            }
        }
    }
}

/// Whether this link is still the one the node wants (REPLICAOF may have moved on).
fn current(srv: &Server, generation: u64) -> Result<(), String> {
    if srv.repl.link_generation == generation {
        Ok(())
    } else {
        Err("replication target changed".into())
    }
}

fn ack_bytes(offset: u64) -> bytes::BytesMut {
    let off = offset.to_string();
    encode(&[Bytes::from_static(b"REPLCONF"), Bytes::from_static(b"ACK"), Bytes::from(off)])
}
