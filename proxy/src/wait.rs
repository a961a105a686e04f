//! WAIT through the proxy: the client's writes since its last WAIT went to some nodes; each of
//! them is asked until that many replicas acknowledged, and the reply is the smallest count, as
//! one Redis would give for all of them.
//!
//! A node counts the replicas that acknowledged the last write of the connection WAIT arrives
//! on. The client's writes went out on its lane's shared connection to each node, so WAIT goes
//! there too, behind them; to keep that connection from being held for the whole timeout, it is
//! asked in short slices until the count is reached or the client's timeout runs out.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use protocol::Frame;

use crate::config::WriteAck;
use crate::state::{error_reply as error, target_for, Proxy, Session};

/// The longest one WAIT holds a shared connection.
const SLICE: Duration = Duration::from_millis(10);

/// WAIT numreplicas timeout, for writes that went to `nodes`.
pub(crate) async fn wait(proxy: &Arc<Proxy>, s: &mut Session, args: &[Bytes], mut nodes: Vec<SocketAddr>) -> Bytes {
    let number = |b: &Bytes| std::str::from_utf8(b).ok().and_then(|t| t.parse::<i64>().ok());
    let Some(want) = number(&args[1]) else { return error("ERR value is not an integer or out of range") };
    let timeout = match number(&args[2]) {
        None => return error("ERR timeout is not an integer or out of range"),
        Some(t) if t < 0 => return error("ERR timeout is negative"),
        Some(t) => t as u64,
    };
    // No writes: the replicas of the client's master, as a fresh connection to one Redis sees.
    if nodes.is_empty() {
        match target_for(proxy, s, None) {
            Some(m) => nodes.push(m),
            None => return error("CLUSTERDOWN The cluster is down"),
        }
    }
    let deadline = (timeout > 0).then(|| Instant::now() + Duration::from_millis(timeout));
    let mut least = i64::MAX;
    for node in nodes {
        loop {
            let slice = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()).min(SLICE),
                None => SLICE,
            };
            let ms = Bytes::from(slice.as_millis().max(1).to_string());
            let reply =
                crate::exec::call(proxy, s, node, None, &[Bytes::from_static(b"WAIT"), args[1].clone(), ms], true)
                    .await;
            let Ok(Some((Frame::Integer(n), _))) = Frame::parse(&reply) else { return reply };
            if n >= want || deadline.is_some_and(|d| Instant::now() >= d) {
                least = least.min(n);
                break;
            }
        }
    }
    Bytes::from(format!(":{least}\r\n"))
}

/// An EXEC reply under `--write-ack`, given the WAIT reply that followed it on the same
/// connection: kept when enough replicas hold it (or it failed anyway), else the error.
pub(crate) fn exec_confirmed(proxy: &Proxy, exec: Bytes, waited: &[u8], ack: WriteAck) -> Bytes {
    let got = match Frame::parse(waited) {
        Ok(Some((Frame::Integer(n), _))) => n,
        _ => -1,
    };
    if exec.first() == Some(&b'-')
        || exec.starts_with(b"*-1")
        || exec.starts_with(b"_")
        || got >= i64::from(ack.replicas)
    {
        return exec;
    }
    failure(proxy, got.max(0), ack)
}

fn failure(proxy: &Proxy, got: i64, ack: WriteAck) -> Bytes {
    proxy.write_ack_failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    error(&format!(
        "NOREPLICAS Not enough good replicas to write: {got} of {} confirmed within {} ms (the master may keep it)",
        ack.replicas,
        ack.timeout.as_millis()
    ))
}

/// `--write-ack`: whether `ack.replicas` replicas of every node in `nodes` hold the client's
/// writes, asked with one WAIT per node; the error reply for its writes when they do not.
pub(crate) async fn confirm(
    proxy: &Arc<Proxy>,
    s: &mut Session,
    nodes: Vec<SocketAddr>,
    ack: WriteAck,
) -> Option<Bytes> {
    let ms = ack.timeout.as_millis().to_string();
    let args = [Bytes::from_static(b"WAIT"), Bytes::from(ack.replicas.to_string()), Bytes::from(ms)];
    let reply = wait(proxy, s, &args, nodes).await;
    let got = match Frame::parse(&reply) {
        Ok(Some((Frame::Integer(n), _))) => n,
        _ => return Some(reply),
    };
    (got < i64::from(ack.replicas)).then(|| failure(proxy, got, ack))
}
