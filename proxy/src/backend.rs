//! Backend connections: a few long-lived, pipelined connections per cluster node, shared by
//! every client. Requests queue on a channel; the connection task writes whatever is queued in
//! one write and matches replies to requests in FIFO order, handing back raw reply frames.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use protocol::frame::frame_len;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

use crate::metrics::NodeStats;

/// Why a request got no reply from its node.
#[derive(Debug, Clone, PartialEq)]
pub enum BackendError {
    /// The request was never written: safe to send again anywhere.
    NotSent(String),
    /// The connection broke after the request was written: it may have been applied.
    Lost(String),
}

/// One raw reply frame, or why there is none.
pub type ReplyResult = Result<Bytes, BackendError>;

/// The replies to a group of pipelined commands, in order; `error` says why the rest are
/// missing when there are fewer frames than commands.
#[derive(Debug)]
pub struct Replies {
    pub frames: Vec<Bytes>,
    pub error: Option<BackendError>,
}

/// Where the replies of a request go: one command's reply, or a whole group's.
pub enum ReplyTo {
    One(oneshot::Sender<ReplyResult>),
    Group(oneshot::Sender<Replies>),
}

/// A request for one node: `count` encoded commands and where their replies go.
pub struct Request {
    pub bytes: Bytes,
    pub count: usize,
    pub reply: ReplyTo,
}

/// A request written to a node, collecting its replies.
struct Waiting {
    reply: ReplyTo,
    count: usize,
    frames: Vec<Bytes>,
    /// When its write batch left (set for requests actually written).
    sent: Option<std::time::Instant>,
}

impl Waiting {
    fn new(req: Request) -> Waiting {
        let frames = match req.reply {
            ReplyTo::One(_) => Vec::new(),
            ReplyTo::Group(_) => Vec::with_capacity(req.count),
        };
        Waiting { reply: req.reply, count: req.count, frames, sent: None }
    }

    /// Takes one reply frame; true when the request is complete and was answered.
    fn push(&mut self, frame: Bytes) -> bool {
        self.frames.push(frame);
        self.frames.len() == self.count
    }

    fn complete(self) {
        match self.reply {
            ReplyTo::One(tx) => {
                let _ = tx.send(self.frames.into_iter().next().ok_or(BackendError::Lost("no reply".into())));
            }
            ReplyTo::Group(tx) => {
                let _ = tx.send(Replies { frames: self.frames, error: None });
            }
        }
    }

    fn fail(self, e: BackendError) {
        match self.reply {
            ReplyTo::One(tx) => {
                let _ = tx.send(Err(e));
            }
            ReplyTo::Group(tx) => {
                let _ = tx.send(Replies { frames: self.frames, error: Some(e) });
            }
        }
    }
}

/// Settings every backend connection uses.
#[derive(Debug, Clone)]
pub struct BackendOpts {
    pub connect_timeout: Duration,
    pub user: Option<String>,
    pub password: Option<String>,
    pub per_node: usize,
    /// Send READONLY on connect, so replicas serve reads (prefer-replica).
    pub readonly: bool,
    /// TLS to the nodes, verified against the configured CA.
    pub tls: Option<std::sync::Arc<tls::rustls::ClientConfig>>,
}

/// A connection to a node: plain TCP or TLS.
pub enum NodeStream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl tokio::io::AsyncRead for NodeStream {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            NodeStream::Plain(s) => std::pin::Pin::new(s).poll_read(cx, buf),
            NodeStream::Tls(s) => std::pin::Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl tokio::io::AsyncWrite for NodeStream {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match self.get_mut() {
            NodeStream::Plain(s) => std::pin::Pin::new(s).poll_write(cx, buf),
            NodeStream::Tls(s) => std::pin::Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            NodeStream::Plain(s) => std::pin::Pin::new(s).poll_flush(cx),
            NodeStream::Tls(s) => std::pin::Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            NodeStream::Plain(s) => std::pin::Pin::new(s).poll_shutdown(cx),
            NodeStream::Tls(s) => std::pin::Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Writes all of `buf` and flushes it: a TLS stream may hold written bytes back until flushed
/// (a no-op on plain TCP).
pub async fn write_flush<W: tokio::io::AsyncWrite + Unpin + ?Sized>(w: &mut W, buf: &[u8]) -> std::io::Result<()> {
    w.write_all(buf).await?;
    w.flush().await
}

/// Encodes a command as a RESP multibulk request.
pub fn encode(args: &[Bytes]) -> Bytes {
    let mut out = BytesMut::new();
    protocol::encode::write_command(&mut out, args);
    out.freeze()
}

/// The request channels of one node's connections.
type Lanes = Vec<mpsc::UnboundedSender<Request>>;

/// Connections to every node, created on first use. `resp3` pools speak RESP3 to the node.
#[derive(Clone)]
pub struct Pools {
    opts: BackendOpts,
    pools: Arc<Mutex<HashMap<(SocketAddr, bool), Lanes>>>,
    /// Each node's figures, for the metrics.
    pub nodes: crate::metrics::NodeRegistry,
}

impl Pools {
    /// An empty set of pools.
    pub fn new(opts: BackendOpts) -> Pools {
        Pools { opts, pools: Arc::new(Mutex::new(HashMap::new())), nodes: Default::default() }
    }

    /// The settings connections are made with.
    pub fn opts(&self) -> &BackendOpts {
        &self.opts
    }

    /// The channel of connection `lane` to `addr` (a client sticks to one lane per node so its
    /// requests to that node stay in order).
    pub fn lane(&self, addr: SocketAddr, resp3: bool, lane: usize) -> mpsc::UnboundedSender<Request> {
        let mut pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
        let conns = pools.entry((addr, resp3)).or_insert_with(|| {
            (0..self.opts.per_node)
                .map(|_| {
                    let (tx, rx) = mpsc::unbounded_channel();
                    tokio::spawn(run_connection(addr, resp3, self.opts.clone(), rx, self.nodes.get(addr)));
                    tx
                })
                .collect()
        });
        let i = lane % conns.len();
        if conns[i].is_closed() {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(run_connection(addr, resp3, self.opts.clone(), rx, self.nodes.get(addr)));
            conns[i] = tx;
        }
        conns[i].clone()
    }

    /// Sends one command to `addr` on `lane`; the receiver yields the raw reply.
    pub fn send(&self, addr: SocketAddr, resp3: bool, lane: usize, bytes: Bytes) -> oneshot::Receiver<ReplyResult> {
        let (tx, rx) = oneshot::channel();
        self.submit(addr, resp3, lane, Request { bytes, count: 1, reply: ReplyTo::One(tx) });
        rx
    }

    /// Sends `count` pipelined commands to `addr` on `lane` as one request: one channel message
    /// and one reply for the group, however many commands it holds.
    pub fn send_group(
        &self,
        addr: SocketAddr,
        resp3: bool,
        lane: usize,
        bytes: Bytes,
        count: usize,
    ) -> oneshot::Receiver<Replies> {
        let (tx, rx) = oneshot::channel();
        self.submit(addr, resp3, lane, Request { bytes, count, reply: ReplyTo::Group(tx) });
        rx
    }

    fn submit(&self, addr: SocketAddr, resp3: bool, lane: usize, req: Request) {
        if let Err(mpsc::error::SendError(req)) = self.lane(addr, resp3, lane).send(req) {
            Waiting::new(req).fail(BackendError::NotSent("backend connection closed".into()));
        }
    }
}

pub async fn connect(addr: SocketAddr, resp3: bool, opts: &BackendOpts) -> Result<NodeStream, String> {
    let tcp = tokio::time::timeout(opts.connect_timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| format!("connect to {addr} timed out"))?
        .map_err(|e| format!("connect to {addr}: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let mut stream = match &opts.tls {
        None => NodeStream::Plain(tcp),
        Some(config) => {
            // Nodes are addressed by IP; their certificates must name it.
            let name = tls::server_name(&addr.ip().to_string())?;
            let tls = tokio::time::timeout(
                opts.connect_timeout,
                tokio_rustls::TlsConnector::from(config.clone()).connect(name, tcp),
            )
            .await
            .map_err(|_| format!("TLS handshake with {addr} timed out"))?
            .map_err(|e| format!("TLS handshake with {addr}: {e}"))?;
            NodeStream::Tls(Box::new(tls))
        }
    };
    // The proxy's own credentials and protocol version, whatever the client is.
    let mut hello: Vec<Bytes> = vec![Bytes::from_static(b"HELLO"), Bytes::from_static(if resp3 { b"3" } else { b"2" })];
    if let Some(pass) = &opts.password {
        hello.push(Bytes::from_static(b"AUTH"));
        hello.push(Bytes::from(opts.user.clone().unwrap_or_else(|| "default".into())));
        hello.push(Bytes::from(pass.clone()));
    }
    let mut handshake = BytesMut::new();
    let mut expected = 0;
    if resp3 || opts.password.is_some() {
        handshake.extend_from_slice(&encode(&hello));
        expected += 1;
    }
    if opts.readonly {
        handshake.extend_from_slice(b"*1\r\n$8\r\nREADONLY\r\n");
        expected += 1;
    }
    if expected == 0 {
        return Ok(stream);
    }
    write_flush(&mut stream, &handshake).await.map_err(|e| e.to_string())?;
    let mut buf = BytesMut::new();
    loop {
        while let Some(len) = frame_len(&buf).map_err(|e| e.to_string())? {
            if buf.first() == Some(&b'-') {
                return Err(format!("{addr}: {}", String::from_utf8_lossy(&buf[1..len.saturating_sub(2)])));
            }
            let _ = buf.split_to(len);
            expected -= 1;
            if expected == 0 {
                return Ok(stream);
            }
        }
        let n = tokio::time::timeout(opts.connect_timeout, stream.read_buf(&mut buf))
            .await
            .map_err(|_| format!("{addr}: handshake timed out"))?
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return Err(format!("{addr}: closed during handshake"));
        }
    }
}

/// Drives one backend connection until every sender is gone.
async fn run_connection(
    addr: SocketAddr,
    resp3: bool,
    opts: BackendOpts,
    mut rx: mpsc::UnboundedReceiver<Request>,
    stats: Arc<NodeStats>,
) {
    let mut backoff = Duration::from_millis(10);
    'reconnect: loop {
        // Wait for work before connecting, so idle lanes cost nothing.
        let Some(first) = rx.recv().await else { return };
        let mut stream = match connect(addr, resp3, &opts).await {
            Ok(s) => {
                backoff = Duration::from_millis(10);
                stats.up.store(1, Relaxed);
                s
            }
            Err(e) => {
                tracing::warn!(node = %addr, "backend connection failed: {e}");
                stats.up.store(0, Relaxed);
                stats.errors.fetch_add(1, Relaxed);
                Waiting::new(first).fail(BackendError::NotSent(e.clone()));
                while let Ok(r) = rx.try_recv() {
                    Waiting::new(r).fail(BackendError::NotSent(e.clone()));
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_millis(500));
                continue 'reconnect;
            }
        };
        // Counted open until this scope ends, however it ends.
        let _open = Open::new(&stats);
        let mut pending = InFlight { queue: VecDeque::new(), stats: &stats };
        let mut out = BytesMut::new();
        let mut inbuf = BytesMut::with_capacity(16 * 1024);
        let mut next = Some(first);
        let mut open = true;
        loop {
            if let Some(req) = next.take() {
                let sent = std::time::Instant::now();
                out.extend_from_slice(&req.bytes);
                pending.push(req, sent);
                // Let the other sessions that are ready run first: what they queue meanwhile
                // shares this write (one syscall and one wake-up of the node for many clients).
                tokio::task::yield_now().await;
                // Everything already queued goes out in the same write.
                while let Ok(r) = rx.try_recv() {
                    out.extend_from_slice(&r.bytes);
                    pending.push(r, sent);
                    if out.len() > 1 << 20 {
                        break;
                    }
                }
                if let Err(e) = write_flush(&mut stream, &out).await {
                    tracing::warn!(node = %addr, "backend write failed: {e}");
                    pending.fail_all(&e.to_string());
                    continue 'reconnect;
                }
                out.clear();
            }
            tokio::select! {
                req = rx.recv(), if open && pending.queue.len() < 100_000 => match req {
                    Some(r) => next = Some(r),
                    None if pending.queue.is_empty() => return,
                    None => open = false,
                },
                r = stream.read_buf(&mut inbuf) => {
                    let n = match r {
                        Ok(n) => n,
                        Err(e) => { pending.fail_all(&e.to_string()); continue 'reconnect; }
                    };
                    if n == 0 {
                        tracing::warn!(node = %addr, in_flight = pending.queue.len(), "backend connection closed by the node");
                        pending.fail_all("connection closed by the node");
                        continue 'reconnect;
                    }
                    // One clock read for every reply this read completes.
                    let mut now = None;
                    loop {
                        match frame_len(&inbuf) {
                            Ok(Some(len)) => {
                                let frame = inbuf.split_to(len).freeze();
                                match pending.queue.front_mut() {
                                    Some(w) => {
                                        if w.push(frame) {
                                            let at = *now.get_or_insert_with(std::time::Instant::now);
                                            pending.complete_front(at);
                                        }
                                    }
                                    None => { pending.fail_all("unexpected reply"); continue 'reconnect; }
                                }
                            }
                            Ok(None) => break,
                            Err(e) => {
                                pending.fail_all(&format!("protocol error from node: {e}"));
                                continue 'reconnect;
                            }
                        }
                    }
                    if !open && pending.queue.is_empty() {
                        return;
                    }
                    if inbuf.capacity() - inbuf.len() < 4096 {
                        inbuf.reserve(16 * 1024);
                    }
                }
            }
        }
    }
}

/// A connection counted open in its node's figures while this lives.
struct Open<'a>(&'a NodeStats);

impl<'a> Open<'a> {
    fn new(stats: &'a NodeStats) -> Self {
        stats.connections.fetch_add(1, Relaxed);
        Open(stats)
    }
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Relaxed);
    }
}

/// The requests a connection waits on, counted in its node's figures.
struct InFlight<'a> {
    queue: VecDeque<Waiting>,
    stats: &'a NodeStats,
}

impl InFlight<'_> {
    fn push(&mut self, req: Request, sent: std::time::Instant) {
        let mut w = Waiting::new(req);
        w.sent = Some(sent);
        self.queue.push_back(w);
        self.stats.in_flight.fetch_add(1, Relaxed);
    }

    fn complete_front(&mut self, at: std::time::Instant) {
        if let Some(w) = self.queue.pop_front() {
            self.stats.in_flight.fetch_sub(1, Relaxed);
            if let Some(sent) = w.sent {
                self.stats.replies.observe_us(at.saturating_duration_since(sent).as_micros() as u64);
            }
            w.complete();
        }
    }

    /// The connection is lost: every request waiting fails (the node may have run it).
    fn fail_all(&mut self, why: &str) {
        if !self.queue.is_empty() {
            self.stats.errors.fetch_add(1, Relaxed);
        }
        self.stats.in_flight.fetch_sub(self.queue.len() as i64, Relaxed);
        fail_all(&mut self.queue, why);
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.stats.in_flight.fetch_sub(self.queue.len() as i64, Relaxed);
    }
}

fn fail_all(pending: &mut VecDeque<Waiting>, why: &str) {
    for w in pending.drain(..) {
        w.fail(BackendError::Lost(why.to_string()));
    }
}
