//! Connections a client holds for itself: a transaction (WATCH/MULTI/EXEC must run on one
//! connection), and blocking commands (which would stall a shared lane). Opened on demand to
//! the node that owns the keys, closed when the client is done with them.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use protocol::frame::frame_len;
use tokio::io::AsyncReadExt;

use crate::backend::{connect, BackendOpts, NodeStream};

/// A connection owned by one client session.
pub struct Pinned {
    pub addr: SocketAddr,
    pub conn: NodeStream,
    pub buf: BytesMut,
}

impl Pinned {
    /// Connects (and authenticates) to `addr`.
    pub async fn open(addr: SocketAddr, resp3: bool, opts: &BackendOpts) -> Result<Pinned, String> {
        Ok(Pinned { addr, conn: connect(addr, resp3, opts).await?, buf: BytesMut::new() })
    }

    /// Writes `requests` in one go and reads `replies` frames, within `timeout` if given.
    pub async fn call(
        &mut self,
        requests: &[Bytes],
        replies: usize,
        timeout: Option<Duration>,
    ) -> Result<Vec<Bytes>, String> {
        let work = async {
            let mut out = BytesMut::new();
            for r in requests {
                out.extend_from_slice(r);
            }
            crate::backend::write_flush(&mut self.conn, &out).await.map_err(|e| e.to_string())?;
            let mut frames = Vec::with_capacity(replies);
            while frames.len() < replies {
                match frame_len(&self.buf).map_err(|e| e.to_string())? {
                    Some(len) => frames.push(self.buf.split_to(len).freeze()),
                    None => {
                        if self.conn.read_buf(&mut self.buf).await.map_err(|e| e.to_string())? == 0 {
                            return Err("connection closed by the node".to_string());
                        }
                    }
                }
            }
            Ok(frames)
        };
        match timeout {
            Some(t) => tokio::time::timeout(t, work).await.map_err(|_| "timed out".to_string())?,
            None => work.await,
        }
    }
}
