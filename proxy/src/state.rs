//! The proxy's shared state and one client's session state, apart from the code that serves
//! sessions, so the modules a session calls (ACL, pub/sub, cluster emulation, cross-slot
//! commands) depend on this and not on each other.

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use crate::backend::Pools;
use crate::config::ProxyConfig;
use crate::outbox::Outbox;
use crate::pinned::Pinned;
use crate::topology::Topology;

/// Shared state of the proxy.
pub struct Proxy {
    pub cfg: ProxyConfig,
    pub pools: Pools,
    pub topo: Arc<Topology>,
    pub next_id: AtomicU64,
    pub clients: AtomicU64,
    /// Clients connected that have not authenticated (when login is required).
    pub unauthenticated: AtomicU64,
    pub commands: AtomicU64,
    pub redirects: AtomicU64,
    /// Write batches `--write-ack` answered with an error (replicas did not confirm in time).
    pub write_ack_failures: AtomicU64,
    pub retries: AtomicU64,
    pub backend_errors: AtomicU64,
    pub started: Instant,
    pub metrics: crate::metrics::Metrics,
    pub security: crate::security::Security,
    /// The cluster as the status page shows it.
    pub status: crate::status::ClusterStatus,
}

impl Proxy {
    /// What planning needs of this client, on the current slot map.
    pub(crate) fn plan_ctx<'a>(&self, map: &'a crate::topology::SlotMap, s: &Session) -> crate::plan::Ctx<'a> {
        crate::plan::Ctx {
            map,
            client: s.id as usize,
            read_policy: self.cfg.read_policy,
            cross_slot: self.cfg.cross_slot,
        }
    }
}

/// Per-client state.
pub(crate) struct Session {
    pub(crate) id: u64,
    pub(crate) resp3: bool,
    pub(crate) name: Option<Bytes>,
    pub(crate) close: bool,
    /// Commands queued since MULTI, the slot they share, and whether one was refused.
    pub(crate) multi: Option<Vec<Vec<Bytes>>>,
    pub(crate) multi_slot: Option<u16>,
    pub(crate) multi_error: bool,
    /// The connection holding this client's WATCHes.
    pub(crate) pinned: Option<Pinned>,
    /// Our address as this client reached it (what cluster emulation announces).
    pub(crate) local: Option<SocketAddr>,
    pub(crate) peer: Option<SocketAddr>,
    /// The ACL user, and whether the client has logged in (or `default` needs no password).
    pub(crate) user: String,
    pub(crate) authenticated: bool,
    /// The current batch's requests, grouped per node.
    pub(crate) outbox: Outbox,
    /// The last ACL revocation this session checked itself against.
    pub(crate) acl_epoch: u64,
    /// Nodes this client sent writes to since its last WAIT.
    pub(crate) written: Vec<SocketAddr>,
}

impl Session {
    pub(crate) fn new(id: u64, proxy: &Proxy, local: Option<SocketAddr>, peer: Option<SocketAddr>) -> Session {
        Session {
            id,
            resp3: false,
            name: None,
            close: false,
            multi: None,
            multi_slot: None,
            multi_error: false,
            pinned: None,
            local,
            peer,
            user: "default".into(),
            authenticated: proxy.security.default_login(),
            outbox: Outbox::default(),
            acl_epoch: proxy.security.epoch(),
            written: Vec::new(),
        }
    }
    pub(crate) fn in_multi(&self) -> bool {
        self.multi.is_some()
    }
    pub(crate) fn peer_text(&self) -> String {
        self.peer.map(|a| a.to_string()).unwrap_or_default()
    }
    pub(crate) fn local_text(&self) -> String {
        self.local.map(|a| a.to_string()).unwrap_or_default()
    }
    /// Remembers a node this client wrote to, for its next WAIT.
    pub(crate) fn wrote_to(&mut self, node: SocketAddr) {
        if !self.written.contains(&node) {
            self.written.push(node);
        }
    }
    /// A reply builder in the client's protocol.
    pub(crate) fn reply(&self) -> protocol::Reply {
        let mut r = protocol::Reply::new();
        if self.resp3 {
            r.proto = protocol::Proto::Resp3;
        }
        r
    }
}

/// A RESP error reply (`-msg`); every reply the proxy makes up itself uses this one encoder.
pub(crate) fn error_reply(msg: &str) -> Bytes {
    Bytes::from(format!("-{msg}\r\n"))
}

/// A client connection: plain TCP or TLS.
pub trait ClientStream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> ClientStream for T {}

/// The master for `slot` (the client's master without one).
pub(crate) fn target_for(proxy: &Proxy, s: &Session, slot: Option<u16>) -> Option<SocketAddr> {
    let map = proxy.topo.snapshot();
    crate::plan::target(&proxy.plan_ctx(&map, s), slot, false).ok()
}
