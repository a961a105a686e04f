//! Per-connection state: identity, protocol version, authentication, and what CLIENT LIST shows.

use std::cell::{Cell, RefCell};
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
}

impl Client {
    /// A new client; it starts authenticated unless a password is required.
    pub fn new(id: u64, addr: String, laddr: String, needs_auth: bool) -> Client {
        let now = Instant::now();
        Client {
            id,
            addr,
            laddr,
            name: None,
            proto: Proto::Resp2,
            authenticated: !needs_auth,
            user: "default".into(),
            created: now,
            last_interaction: now,
            last_cmd: "NULL",
            close_after_reply: false,
            qbuf: 0,
        }
    }

    /// One line of CLIENT LIST / CLIENT INFO, in Redis 7.0's field order.
    pub fn info_line(&self) -> String {
        let name = self.name.as_ref().map(|n| String::from_utf8_lossy(n).into_owned()).unwrap_or_default();
        format!(
            "id={} addr={} laddr={} fd=0 name={} age={} idle={} flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf={} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=16384 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user={} redir=-1 resp={}\n",
            self.id,
            self.addr,
            self.laddr,
            name,
            self.created.elapsed().as_secs(),
            self.last_interaction.elapsed().as_secs(),
            self.qbuf,
            self.last_cmd,
            self.user,
            if self.proto == Proto::Resp3 { 3 } else { 2 },
        )
    }
}

/// A client as other tasks see it: its state and a way to ask its connection to close.
#[derive(Debug)]
pub struct ClientHandle {
    pub state: RefCell<Client>,
    pub killed: Cell<bool>,
    pub kill: Notify,
}

impl ClientHandle {
    /// Asks the connection to close at its next wake-up.
    pub fn kill(&self) {
        self.killed.set(true);
        self.kill.notify_one();
    }
}
