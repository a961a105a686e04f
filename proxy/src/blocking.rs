//! A blocking command on one slot (BLPOP, BZPOPMIN, XREAD BLOCK, XREADGROUP BLOCK, ...) runs on
//! a connection of its own to the slot's master. When that master dies or hands its slot over
//! while the client waits, the command is sent again to the slot's new master with what is left
//! of the client's timeout, so the client gets its element from the new master instead of an
//! error; a timeout that ran out meanwhile gets the command's own "nothing arrived" reply.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::backend::encode;
use crate::exec::await_new_master;
use crate::pinned::Pinned;
use crate::state::{error_reply as error_bytes, target_for, Proxy, Session};

/// Serves a blocking command whose keys are on one slot (or that has none).
pub(crate) async fn single_slot(proxy: &Arc<Proxy>, s: &mut Session, args: Vec<Bytes>, slot: Option<u16>) -> Bytes {
    let started = Instant::now();
    let mut target = target_for(proxy, s, slot);
    let mut redirects = 0;
    let mut lost_at: Option<Instant> = None;
    loop {
        let Some(addr) = target else { return error_bytes("CLUSTERDOWN The cluster is down") };
        let args = match remaining(&args, started.elapsed()) {
            Remaining::Unchanged => args.clone(),
            Remaining::Shortened(a) => a,
            Remaining::Expired => return timed_out_reply(&args[0], s.resp3),
        };
        let outcome = match Pinned::open(addr, s.resp3, proxy.pools.opts()).await {
            Ok(mut conn) => conn.call(&[encode(&args)], 1, None).await.map(|mut r| r.pop().unwrap_or_default()),
            Err(e) => Err(e),
        };
        match outcome {
            Ok(reply) => match proxy.topo.redirect_target(&reply, addr).await {
                Some((false, moved)) if redirects < 2 => {
                    redirects += 1;
                    proxy.topo.refresh_soon();
                    target = Some(moved);
                }
                // A master that became a replica unblocks its clients; the slot has a new master.
                None if reply.starts_with(b"-UNBLOCKED") && slot.is_some() => {
                    match new_master(proxy, slot, addr, &mut lost_at).await {
                        Some(m) => target = Some(m),
                        None => return reply,
                    }
                }
                _ => return reply,
            },
            // The node died or was cut off while the client waited: wait for a failover to give
            // the slot a new master, within the retry deadline.
            Err(e) => match new_master(proxy, slot, addr, &mut lost_at).await {
                Some(m) => {
                    proxy.retries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    target = Some(m);
                }
                None => return error_bytes(&format!("ERR blocking command failed: {e}")),
            },
        }
    }
}

/// The slot's master once it is another node than `old`, waiting at most the retry deadline
/// counted from the first loss.
async fn new_master(
    proxy: &Arc<Proxy>,
    slot: Option<u16>,
    old: std::net::SocketAddr,
    lost_at: &mut Option<Instant>,
) -> Option<std::net::SocketAddr> {
    let deadline = *lost_at.get_or_insert_with(Instant::now) + proxy.cfg.retry_deadline;
    await_new_master(proxy, slot?, old, deadline).await
}

/// A blocking command's arguments with its timeout reduced by the time already waited.
#[derive(Debug, PartialEq)]
enum Remaining {
    /// No timeout to shorten (it blocks forever, or the command has none we know).
    Unchanged,
    Shortened(Vec<Bytes>),
    Expired,
}

/// Where a blocking command keeps its timeout.
enum TimeoutAt {
    /// Seconds (a float) in the last argument.
    LastSeconds,
    /// Seconds (a float) as the first argument.
    FirstSeconds,
    /// Milliseconds after a BLOCK keyword that precedes STREAMS.
    BlockMillis,
}

fn timeout_at(name: &[u8]) -> Option<TimeoutAt> {
    let name = name.to_ascii_lowercase();
    Some(match name.as_slice() {
        b"blpop" | b"brpop" | b"bzpopmin" | b"bzpopmax" | b"brpoplpush" | b"blmove" => TimeoutAt::LastSeconds,
        b"blmpop" | b"bzmpop" => TimeoutAt::FirstSeconds,
        b"xread" | b"xreadgroup" => TimeoutAt::BlockMillis,
        _ => return None,
    })
}

fn remaining(args: &[Bytes], waited: Duration) -> Remaining {
    let Some(at) = timeout_at(&args[0]) else { return Remaining::Unchanged };
    let index = match at {
        TimeoutAt::LastSeconds => args.len() - 1,
        TimeoutAt::FirstSeconds => 1,
        TimeoutAt::BlockMillis => match protocol::command::block_option(args) {
            Some(i) => i,
            None => return Remaining::Unchanged,
        },
    };
    let Some(text) = args.get(index).and_then(|a| std::str::from_utf8(a).ok()) else { return Remaining::Unchanged };
    let Ok(value) = text.parse::<f64>() else { return Remaining::Unchanged };
    let total = match at {
        TimeoutAt::BlockMillis => Duration::from_secs_f64(value.max(0.0) / 1000.0),
        _ => Duration::from_secs_f64(value.max(0.0)),
    };
    if total.is_zero() {
        // Zero blocks forever (a negative timeout is the node's error to give).
        return Remaining::Unchanged;
    }
    let Some(left) = total.checked_sub(waited).filter(|l| l.as_millis() >= 1) else { return Remaining::Expired };
    let mut out = args.to_vec();
    out[index] = match at {
        TimeoutAt::BlockMillis => Bytes::from(left.as_millis().to_string()),
        _ => Bytes::from(format!("{:.3}", left.as_secs_f64())),
    };
    Remaining::Shortened(out)
}

/// The reply a blocking command gives when its timeout passes with nothing to serve.
fn timed_out_reply(name: &[u8], resp3: bool) -> Bytes {
    if resp3 {
        Bytes::from_static(b"_\r\n")
    } else if name.eq_ignore_ascii_case(b"brpoplpush") || name.eq_ignore_ascii_case(b"blmove") {
        Bytes::from_static(b"$-1\r\n")
    } else {
        Bytes::from_static(b"*-1\r\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<Bytes> {
        words.iter().map(|w| Bytes::from(w.to_string())).collect()
    }

    #[test]
    fn timeouts_shrink_by_the_time_waited() {
        let ms = Duration::from_millis;
        assert_eq!(
            remaining(&args(&["BLPOP", "a", "b", "5"]), ms(1200)),
            Remaining::Shortened(args(&["BLPOP", "a", "b", "3.800"]))
        );
        assert_eq!(
            remaining(&args(&["BLMPOP", "2.5", "1", "a", "LEFT"]), ms(500)),
            Remaining::Shortened(args(&["BLMPOP", "2.000", "1", "a", "LEFT"]))
        );
        assert_eq!(
            remaining(&args(&["XREADGROUP", "GROUP", "g", "c", "BLOCK", "20000", "STREAMS", "s", ">"]), ms(1500)),
            Remaining::Shortened(args(&["XREADGROUP", "GROUP", "g", "c", "BLOCK", "18500", "STREAMS", "s", ">"]))
        );
        assert_eq!(remaining(&args(&["XREAD", "BLOCK", "100", "STREAMS", "s", "$"]), ms(150)), Remaining::Expired);
        assert_eq!(remaining(&args(&["BRPOP", "a", "1"]), ms(1000)), Remaining::Expired);
    }

    #[test]
    fn forever_and_unknown_stay_as_they_are() {
        let ms = Duration::from_millis;
        assert_eq!(remaining(&args(&["BLPOP", "a", "0"]), ms(9000)), Remaining::Unchanged);
        assert_eq!(remaining(&args(&["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]), ms(9000)), Remaining::Unchanged);
        // A stream named "block" after STREAMS is a key, not the option.
        assert_eq!(remaining(&args(&["XREAD", "STREAMS", "block", "5"]), ms(10)), Remaining::Unchanged);
        assert_eq!(remaining(&args(&["XREAD", "COUNT", "1", "STREAMS", "s", "$"]), ms(10)), Remaining::Unchanged);
        assert_eq!(remaining(&args(&["BLPOP", "a", "x"]), ms(10)), Remaining::Unchanged);
        assert_eq!(remaining(&args(&["WAIT", "1", "100"]), ms(10)), Remaining::Unchanged);
    }

    #[test]
    fn timed_out_replies_have_each_command_shape() {
        assert_eq!(timed_out_reply(b"BLPOP", false), Bytes::from_static(b"*-1\r\n"));
        assert_eq!(timed_out_reply(b"xreadgroup", false), Bytes::from_static(b"*-1\r\n"));
        assert_eq!(timed_out_reply(b"blmove", false), Bytes::from_static(b"$-1\r\n"));
        assert_eq!(timed_out_reply(b"BLPOP", true), Bytes::from_static(b"_\r\n"));
    }
}
