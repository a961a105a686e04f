//! Per-connection state: identity, protocol version, authentication, and what CLIENT LIST shows.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::time::Instant;

use bytes::Bytes;
use protocol::Proto;
use tokio::sync::Notify;

/// The state of one client connection.
#[derive(Debug)]
pub struct Client {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    /// Connected over TLS (under `tls-cluster`, plaintext clients are shown plaintext ports).
    pub tls: bool,
    pub name: Option<Bytes>,
    pub proto: Proto,
    pub authenticated: bool,
    pub user: String,
    pub created: Instant,
    pub last_interaction: Instant,
    /// Full name of the last command run (CLIENT LIST `cmd=`).
    pub last_cmd: &'static str,
    /// Close the connection once the pending replies are written (QUIT, CLIENT KILL of self).
    pub close_after_reply: bool,
    /// Bytes waiting in the query buffer (CLIENT LIST `qbuf=`).
    pub qbuf: usize,
    /// Commands queued since MULTI.
    pub multi: Option<Vec<Vec<Bytes>>>,
    /// A command was rejected while queueing: EXEC must abort.
    pub multi_error: bool,
    /// Set while EXEC runs the queue (blocking commands then never block).
    pub in_exec: bool,
    /// The selected database (SELECT).
    pub db: usize,
    /// WATCHed keys (with their database) and the expiry they had when watched.
    pub watched: Vec<(super::databases::DbKey, i64)>,
    /// The blocking command this client waits on.
    pub blocked: Option<Blocked>,
    pub subs: HashSet<Box<[u8]>>,
    pub psubs: HashSet<Box<[u8]>>,
    pub ssubs: HashSet<Box<[u8]>>,
    /// ASKING was sent: the next command may use a slot this node is importing.
    pub asking: bool,
    /// READONLY: reads of the master's slots are served by this replica.
    pub readonly: bool,
    /// This is the link from our master: its commands get no replies and no redirects.
    pub is_master: bool,
    /// This connection is a replica of ours (after PSYNC); `replica_port` from REPLCONF.
    pub is_replica: bool,
    pub replica_port: u16,
    /// CLIENT TRACKING's mode, shared with the server's tracking table.
    pub track: super::tracking::TrackCell,
}

/// A client blocked on keys (BLPOP and friends).
#[derive(Debug)]
pub struct Blocked {
    pub args: Vec<Bytes>,
    /// The database of `keys`.
    pub db: usize,
    pub keys: Vec<Box<[u8]>>,
    pub deadline: Option<Instant>,
    /// The reply on timeout is a null bulk (BLMOVE) instead of a null array.
    pub null_bulk: bool,
}

impl Client {
    /// A new client; it starts authenticated unless a password is required.
    pub fn new(id: u64, addr: String, laddr: String, needs_auth: bool) -> Client {
        let now = Instant::now();
        Client {
            id,
            addr,
            laddr,
            tls: false,
            name: None,
            proto: Proto::Resp2,
            authenticated: !needs_auth,
            user: "default".into(),
            created: now,
            last_interaction: now,
            last_cmd: "NULL",
            close_after_reply: false,
            qbuf: 0,
            multi: None,
            multi_error: false,
            in_exec: false,
            db: 0,
            watched: Vec::new(),
            blocked: None,
            subs: HashSet::new(),
            psubs: HashSet::new(),
            ssubs: HashSet::new(),
            asking: false,
            readonly: false,
            is_master: false,
            is_replica: false,
            replica_port: 0,
            track: Default::default(),
        }
    }

    /// Channel and pattern subscriptions (the count Redis replies for SUBSCRIBE/PSUBSCRIBE).
    pub fn sub_count(&self) -> usize {
        self.subs.len() + self.psubs.len()
    }

    /// True when the client is in RESP2 subscribed mode.
    pub fn subscribed(&self) -> bool {
        self.sub_count() + self.ssubs.len() > 0
    }

    /// One line of CLIENT LIST / CLIENT INFO, in Redis 7.0's field order.
    pub fn info_line(&self) -> String {
        let name = self.name.as_ref().map(|n| String::from_utf8_lossy(n).into_owned()).unwrap_or_default();
        // Redis's letters, in its order (getClientInfoString).
        let track = self.track.get();
        let mut flags = String::new();
        for (set, letter) in [
            (self.subscribed(), 'P'),
            (self.multi.is_some(), 'x'),
            (self.blocked.is_some(), 'b'),
            (track.on, 't'),
            (track.broken_redirect, 'R'),
            (track.bcast, 'B'),
        ] {
            if set {
                flags.push(letter);
            }
        }
        if flags.is_empty() {
            flags.push('N');
        }
        let redir = if track.on { track.redirect as i64 } else { -1 };
        format!(
            "id={} addr={} laddr={} fd=0 name={} age={} idle={} flags={flags} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=16384 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user={} redir={redir} resp={}\n",
            self.id,
            self.addr,
            self.laddr,
            name,
            self.created.elapsed().as_secs(),
            self.last_interaction.elapsed().as_secs(),
            self.db,
            self.subs.len(),
            self.psubs.len(),
            self.ssubs.len(),
            self.multi.as_ref().map_or(-1, |q| q.len() as i64),
            self.qbuf,
            self.last_cmd,
            self.user,
            if self.proto == Proto::Resp3 { 3 } else { 2 },
        )
    }
}

/// A client as other tasks see it: its state, replies produced for it by other clients
/// (pub/sub messages, the answer to a blocking command), and ways to wake or close it.
#[derive(Debug)]
pub struct ClientHandle {
    pub state: RefCell<Client>,
    pub killed: Cell<bool>,
    pub kill: Notify,
    /// Bytes to send that were produced outside this client's own command batch.
    pub outbox: RefCell<bytes::BytesMut>,
    /// Wakes the connection to flush the outbox or resume after being unblocked.
    pub wake: Notify,
    /// Notified each time the connection has written its output (a snapshot copy waits on it).
    pub flushed: Notify,
    /// The client's protocol, readable while its state is borrowed elsewhere.
    pub proto: Cell<Proto>,
    /// Since when the outbox is above the soft output-buffer limit.
    pub soft_since: Cell<Option<Instant>>,
    /// A duplicate of the socket, used only while a script keeps the thread busy.
    pub raw: Option<std::net::TcpStream>,
    /// Bytes read through `raw` that belong to a request not answered yet.
    pub pending_input: RefCell<bytes::BytesMut>,
    /// A TLS client's session, which the busy-script hook shares with the connection.
    pub tls: Option<crate::transport::shared_tls::Session>,
}

impl ClientHandle {
    /// A handle around a fresh client.
    pub fn new(client: Client) -> ClientHandle {
        ClientHandle {
            state: RefCell::new(client),
            killed: Cell::new(false),
            kill: Notify::new(),
            outbox: RefCell::new(bytes::BytesMut::new()),
            wake: Notify::new(),
            flushed: Notify::new(),
            proto: Cell::new(Proto::Resp2),
            soft_since: Cell::new(None),
            raw: None,
            pending_input: RefCell::new(bytes::BytesMut::new()),
            tls: None,
        }
    }

    /// Queues bytes for the client and wakes its connection.
    pub fn deliver(&self, bytes: &[u8]) {
        if self.killed.get() {
            return;
        }
        self.outbox.borrow_mut().extend_from_slice(bytes);
        self.wake.notify_one();
    }

    /// Asks the connection to close at its next wake-up.
    pub fn kill(&self) {
        self.killed.set(true);
        self.kill.notify_one();
    }
}
