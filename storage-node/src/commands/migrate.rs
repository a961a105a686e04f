//! Moving keys between nodes: DUMP and RESTORE (Redis's payload: an RDB version 10 value plus
//! CRC64, so keys move between slotgate and Redis), RESTORE-ASKING, and MIGRATE, which dumps
//! keys into another instance over a connection kept for reuse, as Redis does. With
//! `tls-cluster yes` that connection is TLS, as Redis's cross-node connections are.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use bytes::Bytes;
use protocol::Frame;

use super::{arg_i64, err, is, Ctx, Error, Handler};
use crate::keyspace::rdbconv;
use crate::transport::{BlockingStream, NodeTls};

pub fn register(h: &mut Vec<(&'static str, Handler)>) {
    h.extend([("dump", dump as Handler), ("restore", restore), ("restore-asking", restore), ("migrate", migrate)]);
}

/// MIGRATE connections idle longer than this are closed (Redis's MIGRATE_SOCKET_CACHE_TTL).
const CACHE_TTL: Duration = Duration::from_secs(10);

fn dump(ctx: &mut Ctx) -> Result<(), Error> {
    let now = ctx.now;
    match ctx.srv.db.get(&ctx.args[1], now) {
        Some(e) => {
            let payload = rdb::dump(&rdbconv::to_rdb(&e.value));
            ctx.out.bulk(&payload);
        }
        None => ctx.out.null(),
    }
    Ok(())
}

fn restore(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let key = &args[1];
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq) = (None, None);
    let mut i = 4;
    while i < args.len() {
        let a = &args[i];
        let has_value = i + 1 < args.len();
        if is(a, "replace") {
            replace = true;
        } else if is(a, "absttl") {
            absttl = true;
        } else if is(a, "idletime") && has_value && freq.is_none() {
            let v = arg_i64(&args[i + 1])?;
            if v < 0 {
                return err("ERR Invalid IDLETIME value, must be >= 0");
            }
            idle = Some(v);
            i += 1;
        } else if is(a, "freq") && has_value && idle.is_none() {
            let v = arg_i64(&args[i + 1])?;
            if !(0..=255).contains(&v) {
                return err("ERR Invalid FREQ value, must be >= 0 and <= 255");
            }
            freq = Some(v);
            i += 1;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    let ttl = arg_i64(&args[2])?;
    if ttl < 0 {
        return err("ERR Invalid TTL value, must be >= 0");
    }
    let now = ctx.now;
    if !replace && ctx.srv.db.get(key, now).is_some() {
        return err("BUSYKEY Target key name already exists.");
    }
    let value = match rdb::restore(&args[3]) {
        Ok(v) => v,
        Err(e) if e.msg.contains("version or checksum") => {
            return err("ERR DUMP payload version or checksum are wrong")
        }
        Err(_) => return err("ERR Bad data format"),
    };
    let expire_at = match ttl {
        0 => 0,
        t if absttl => t,
        t => now.saturating_add(t),
    };
    let Some(value) = rdbconv::from_rdb(value) else { return err("ERR Bad data format") };
    let removed = ctx.srv.db.remove(key).is_some();
    if expire_at != 0 && expire_at <= now {
        // Already expired: the key is gone, as Redis does it.
        if removed {
            ctx.srv.dirty += 1;
            crate::server::notify::notify(ctx.srv, crate::server::notify::GENERIC, "del", key);
        }
        ctx.out.ok();
        return Ok(());
    }
    let is_container = matches!(
        value,
        crate::keyspace::Value::List(_) | crate::keyspace::Value::ZSet(_) | crate::keyspace::Value::Stream(_)
    );
    ctx.srv.db.set(key, value, Some(expire_at));
    let db = &mut ctx.srv.db;
    if let Some(f) = freq.filter(|_| db.lfu) {
        let minutes = crate::keyspace::evict::lfu_minutes(db.access_clock);
        db.set_access(key, (minutes << 8) | f as u32);
    } else if let Some(secs) = idle.filter(|_| !db.lfu) {
        db.set_access(key, db.access_clock.saturating_sub(secs.min(u32::MAX as i64) as u32));
    }
    if is_container {
        ctx.srv.key_ready(key);
    }
    ctx.srv.dirty += 1;
    crate::server::notify::notify(ctx.srv, crate::server::notify::GENERIC, "restore", key);
    ctx.out.ok();
    Ok(())
}

/// The parsed MIGRATE request.
struct Request {
    addr: String,
    host: String,
    db: i64,
    timeout: Duration,
    copy: bool,
    replace: bool,
    auth: Option<(Option<Bytes>, Bytes)>,
    keys: Vec<Bytes>,
}

fn parse(args: &[Bytes]) -> Result<Request, Error> {
    let host = String::from_utf8_lossy(&args[1]).into_owned();
    let port = arg_i64(&args[2])?;
    let db = arg_i64(&args[4])?;
    let timeout = arg_i64(&args[5])?;
    let timeout = Duration::from_millis(if timeout <= 0 { 1000 } else { timeout as u64 });
    let (mut copy, mut replace, mut auth, mut keys) = (false, false, None, None);
    let mut i = 6;
    while i < args.len() {
        let a = &args[i];
        let left = args.len() - i - 1;
        if is(a, "copy") {
            copy = true;
        } else if is(a, "replace") {
            replace = true;
        } else if is(a, "auth") && left >= 1 {
            auth = Some((None, args[i + 1].clone()));
            i += 1;
        } else if is(a, "auth2") && left >= 2 {
            auth = Some((Some(args[i + 1].clone()), args[i + 2].clone()));
            i += 2;
        } else if is(a, "keys") {
            if !args[3].is_empty() {
                return err("ERR When using MIGRATE KEYS option, the key argument must be set to the empty string");
            }
            keys = Some(args[i + 1..].to_vec());
            break;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    let keys = keys.unwrap_or_else(|| vec![args[3].clone()]);
    let addr = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
    let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
    Ok(Request { addr, host, db, timeout, copy, replace, auth, keys })
}

/// Reads exactly `n` replies from the target.
fn read_replies(stream: &mut BlockingStream, n: usize) -> std::io::Result<Vec<Frame>> {
    let mut buf = Vec::new();
    let mut replies = Vec::with_capacity(n);
    let mut chunk = [0u8; 16 * 1024];
    while replies.len() < n {
        match Frame::parse(&buf) {
            Ok(Some((frame, used))) => {
                buf.drain(..used);
                replies.push(frame);
                continue;
            }
            Ok(None) => {}
            Err(_) => return Err(std::io::Error::other("protocol error")),
        }
        let got = stream.read(&mut chunk)?;
        if got == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..got]);
    }
    Ok(replies)
}

/// Connects to the target (TLS too when `tls` is given); the timeouts are set before the
/// handshake, so they bound it.
fn connect(req: &Request, tls: Option<&NodeTls>) -> std::io::Result<BlockingStream> {
    let sock = req.addr.to_socket_addrs()?.next().ok_or_else(|| std::io::Error::other("no address"))?;
    let stream = TcpStream::connect_timeout(&sock, req.timeout)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(req.timeout))?;
    stream.set_write_timeout(Some(req.timeout))?;
    match tls {
        Some(tls) => tls.connect_blocking(stream, &req.host),
        None => Ok(BlockingStream::Plain(stream)),
    }
}

/// Sends the batch and reads its `n` replies.
fn exchange(stream: &mut BlockingStream, timeout: Duration, out: &[u8], n: usize) -> std::io::Result<Vec<Frame>> {
    let _ = stream.tcp().set_read_timeout(Some(timeout));
    let _ = stream.tcp().set_write_timeout(Some(timeout));
    stream.write_all(out)?;
    stream.flush()?;
    read_replies(stream, n)
}

fn migrate(ctx: &mut Ctx) -> Result<(), Error> {
    let req = parse(ctx.args)?;
    let now = ctx.now;
    // The keys that exist, with their payloads and remaining TTLs.
    let mut batch: Vec<(Bytes, Vec<u8>, i64)> = Vec::new();
    for key in &req.keys {
        if let Some(e) = ctx.srv.db.get(key, now) {
            let ttl = if e.expire_at == 0 { 0 } else { (e.expire_at - now).max(1) };
            batch.push((key.clone(), rdb::dump(&rdbconv::to_rdb(&e.value)), ttl));
        }
    }
    if batch.is_empty() {
        ctx.out.simple("NOKEY");
        return Ok(());
    }
    let restore_cmd: &[u8] = if ctx.srv.cluster.is_some() { b"RESTORE-ASKING" } else { b"RESTORE" };
    let mut out = bytes::BytesMut::new();
    let mut expected = 0;
    if let Some((user, pass)) = &req.auth {
        match user {
            Some(u) => protocol::encode::write_command(&mut out, &[&b"AUTH"[..], u, pass]),
            None => protocol::encode::write_command(&mut out, &[&b"AUTH"[..], pass]),
        }
        expected += 1;
    }
    protocol::encode::write_command(&mut out, &[b"SELECT", req.db.to_string().as_bytes()]);
    expected += 1;
    for (key, payload, ttl) in &batch {
        let ttl = ttl.to_string();
        let mut parts: Vec<&[u8]> = vec![restore_cmd, key, ttl.as_bytes(), payload];
        if req.replace {
            parts.push(b"REPLACE");
        }
        protocol::encode::write_command(&mut out, &parts);
    }
    let tls = ctx.srv.cluster_tls();
    let connect_error = |_| Error::Msg("IOERR error or timeout connecting to the client".into());
    // A plaintext connection is never reused for TLS or the other way round (tls-cluster may change).
    let cache_key = if tls.is_some() { format!("tls:{}", req.addr) } else { req.addr.clone() };
    let cached = ctx.srv.migrate_conns.remove(&cache_key).filter(|(_, used)| used.elapsed() < CACHE_TTL);
    let fresh = cached.is_none();
    let mut stream = match cached {
        Some((s, _)) => s,
        None => connect(&req, tls.as_ref()).map_err(connect_error)?,
    };
    let n = expected + batch.len();
    let mut result = exchange(&mut stream, req.timeout, &out, n);
    if result.is_err() && !fresh {
        // The cached connection went stale: one retry on a new one.
        stream = connect(&req, tls.as_ref()).map_err(connect_error)?;
        result = exchange(&mut stream, req.timeout, &out, n);
    }
    let replies = result.map_err(|_| Error::Msg("IOERR error or timeout reading to target instance".into()))?;
    ctx.srv.migrate_conns.insert(cache_key, (stream, Instant::now()));
    let target_error = |f: &Frame| match f {
        Frame::Error(e) => Some(format!("ERR Target instance replied with error: {}", String::from_utf8_lossy(e))),
        _ => None,
    };
    if let Some(e) = replies[..expected].iter().find_map(target_error) {
        return Err(Error::Msg(e));
    }
    let mut first_error = None;
    for ((key, _, _), reply) in batch.iter().zip(&replies[expected..]) {
        match target_error(reply) {
            Some(e) => {
                first_error.get_or_insert(e);
            }
            None if !req.copy && ctx.srv.db.remove(key).is_some() => {
                ctx.srv.dirty += 1;
                crate::server::notify::notify(ctx.srv, crate::server::notify::GENERIC, "del", key);
                ctx.propagate_as(vec![vec![Bytes::from_static(b"DEL"), Bytes::copy_from_slice(key)]]);
                ctx.srv.touch_key(key);
            }
            None => {}
        }
    }
    match first_error {
        Some(e) => Err(Error::Msg(e)),
        None => {
            ctx.out.ok();
            Ok(())
        }
    }
}
