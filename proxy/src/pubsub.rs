//! Pub/Sub through the proxy.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use protocol::{key_slot, CommandDecoder, DecodeLimits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::backend::encode;
use crate::merge;
use crate::pinned::Pinned;
use crate::session::{lower, target_for, Proxy, Session, CROSSSLOT};

/// Pub/Sub: a connection of the client's own streams messages; the client's further commands
/// go to it until the last subscription is gone. Channel messages reach every node of a
/// Redis Cluster, so any master serves SUBSCRIBE; SSUBSCRIBE goes to its channel's shard.
pub(crate) async fn subscribed<S: crate::session::ClientStream>(
    proxy: &Arc<Proxy>,
    s: &mut Session,
    client: &mut S,
    inbuf: &mut BytesMut,
    decoder: &mut CommandDecoder,
    first: &[Bytes],
) -> std::io::Result<()> {
    let slot = if lower(&first[0]) == "ssubscribe" {
        let slots: Vec<u16> = first[1..].iter().map(|c| key_slot(c)).collect();
        if slots.iter().any(|x| *x != slots[0]) {
            client.write_all(format!("-{CROSSSLOT}\r\n").as_bytes()).await?;
            return Ok(());
        }
        slots.first().copied()
    } else {
        None
    };
    let Some(addr) = target_for(proxy, s, slot) else {
        client.write_all(b"-CLUSTERDOWN The cluster is down\r\n").await?;
        return Ok(());
    };
    let mut sub = match Pinned::open(addr, s.resp3, proxy.pools.opts()).await {
        Ok(p) => p,
        Err(e) => {
            client.write_all(format!("-ERR cluster node unreachable: {e}\r\n").as_bytes()).await?;
            return Ok(());
        }
    };
    sub.conn.write_all(&encode(first)).await?;
    let limits = DecodeLimits::default();
    loop {
        // Forward whatever complete frames the node sent; stop once nothing is subscribed.
        let mut done = false;
        while let Ok(Some(len)) = protocol::frame::frame_len(&sub.buf) {
            let frame = sub.buf.split_to(len).freeze();
            done |= merge::is_last_unsubscribe(&frame);
            client.write_all(&frame).await?;
        }
        if done {
            return Ok(());
        }
        tokio::select! {
            r = client.read_buf(inbuf) => {
                if r? == 0 {
                    s.close = true;
                    return Ok(());
                }
                let mut forward = BytesMut::new();
                loop {
                    match decoder.decode(inbuf, &limits) {
                        Ok(Some(args)) => {
                            if lower(&args[0]) == "quit" {
                                client.write_all(b"+OK\r\n").await?;
                                s.close = true;
                                return Ok(());
                            }
                            // The same access rules as outside (channels of further SUBSCRIBEs).
                            if let Some(denied) = crate::acl::gate(proxy, s, &args) {
                                client.write_all(&denied).await?;
                                continue;
                            }
                            forward.extend_from_slice(&encode(&args));
                        }
                        Ok(None) => break,
                        Err(e) => {
                            client.write_all(format!("-ERR Protocol error: {e}\r\n").as_bytes()).await?;
                            s.close = true;
                            return Ok(());
                        }
                    }
                }
                sub.conn.write_all(&forward).await?;
            }
            r = sub.conn.read_buf(&mut sub.buf) => {
                if r? == 0 {
                    client.write_all(b"-ERR the subscription's cluster node closed the connection\r\n").await?;
                    s.close = true;
                    return Ok(());
                }
            }
        }
    }
}
