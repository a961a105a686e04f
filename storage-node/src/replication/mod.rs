//! Master→replica replication with Redis's protocol: PSYNC with a replication ID and offset,
//! a full sync (an RDB snapshot, then the command stream) or a partial one (`+CONTINUE` and the
//! missing bytes from the backlog), REPLCONF ACK offsets and WAIT. The master side lives here
//! and in `commands/replication.rs`; the replica side, the link to the master, in `link`.

pub mod link;

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;

use crate::server::Server;

/// A replica connected to this node.
#[derive(Debug)]
pub struct Replica {
    pub client_id: u64,
    pub ip: String,
    pub port: u16,
    /// The offset the replica acknowledged (REPLCONF ACK).
    pub ack_offset: u64,
    pub last_ack: Instant,
}

/// Where this node replicates from.
#[derive(Debug, Clone)]
pub struct MasterAddr {
    pub host: String,
    pub port: u16,
}

/// The replication state of a node.
pub struct Replication {
    pub replid: String,
    /// The previous replication ID (after a failover), valid up to `second_offset`.
    pub replid2: String,
    pub second_offset: i64,
    /// Bytes of the replication stream produced (master) or applied (replica).
    pub offset: u64,
    /// The last `backlog_size` bytes of the stream, for partial resyncs.
    pub backlog: VecDeque<u8>,
    pub backlog_size: usize,
    pub replicas: Vec<Replica>,
    /// Set on a replica.
    pub master: Option<MasterAddr>,
    /// Bumped whenever `master` changes, so a stale link task stops.
    pub link_generation: u64,
    pub link_up: bool,
    pub last_io: Option<Instant>,
    pub sync_full: u64,
    pub sync_partial_ok: u64,
    pub sync_partial_err: u64,
    /// Clients blocked in WAIT: (client id, offset to reach, replicas wanted).
    pub waiters: Vec<(u64, u64, usize)>,
}

/// A fresh 40-hex-digit replication ID.
pub fn new_replid() -> String {
    crate::cluster::random_id().to_string()
}

impl Replication {
    pub fn new(backlog_size: usize) -> Replication {
        Replication {
            replid: new_replid(),
            replid2: "0".repeat(40),
            second_offset: -1,
            offset: 0,
            backlog: VecDeque::new(),
            backlog_size: backlog_size.max(16 * 1024),
            replicas: Vec::new(),
            master: None,
            link_generation: 0,
            link_up: false,
            last_io: None,
            sync_full: 0,
            sync_partial_ok: 0,
            sync_partial_err: 0,
            waiters: Vec::new(),
        }
    }

    /// The offset of the first byte the backlog holds.
    pub fn backlog_start(&self) -> u64 {
        self.offset + 1 - self.backlog.len() as u64
    }

    /// Appends stream bytes to the backlog and advances the offset.
    pub fn append(&mut self, bytes: &[u8]) {
        self.offset += bytes.len() as u64;
        self.backlog.extend(bytes);
        let excess = self.backlog.len().saturating_sub(self.backlog_size);
        if excess > 0 {
            self.backlog.drain(..excess);
        }
    }

    /// The backlog from offset `from` (inclusive), if it still holds it.
    pub fn backlog_from(&self, from: u64) -> Option<Vec<u8>> {
        if from < self.backlog_start() || from > self.offset + 1 {
            return None;
        }
        let skip = (from - self.backlog_start()) as usize;
        Some(self.backlog.iter().skip(skip).copied().collect())
    }

    /// A new history: after a replica becomes a master, the old ID stays valid up to here, so
    /// the other replicas of the old master continue with a partial resync.
    pub fn shift_replid(&mut self) {
        self.replid2 = std::mem::replace(&mut self.replid, new_replid());
        self.second_offset = self.offset as i64 + 1;
    }

    /// Replicas whose acknowledged offset reached `offset`.
    pub fn acked(&self, offset: u64) -> usize {
        self.replicas.iter().filter(|r| r.ack_offset >= offset).count()
    }
}

/// Encodes a command as the stream carries it.
pub fn encode(args: &[Bytes]) -> bytes::BytesMut {
    let mut out = bytes::BytesMut::new();
    protocol::encode::write_command(&mut out, args);
    out
}

/// Sends stream bytes to every replica and keeps them in the backlog.
pub fn feed(srv: &mut Server, bytes: &[u8]) {
    srv.repl.append(bytes);
    if srv.repl.replicas.is_empty() {
        return;
    }
    let clients = srv.clients.borrow();
    for r in &srv.repl.replicas {
        if let Some(handle) = clients.get(&r.client_id) {
            handle.deliver(bytes);
        }
    }
}

/// Sends what the propagation hook described (commands rewritten to replay identically,
/// transactions and scripts as MULTI/EXEC of their effects) to the replicas. A replica's own
/// replicas get the master's stream from the link instead.
pub fn drain(srv: &mut Server) {
    let bytes = srv.prop.repl.split();
    if srv.repl.master.is_none() && !bytes.is_empty() {
        feed(srv, &bytes);
    }
}

/// Wakes WAIT clients whose replicas caught up.
pub fn serve_waiters(srv: &mut Server) {
    if srv.repl.waiters.is_empty() {
        return;
    }
    let waiters = std::mem::take(&mut srv.repl.waiters);
    for (id, offset, wanted) in waiters {
        let acked = srv.repl.acked(offset);
        if acked < wanted {
            srv.repl.waiters.push((id, offset, wanted));
            continue;
        }
        let Some(handle) = srv.clients.borrow().get(&id).cloned() else { continue };
        if let Ok(mut c) = handle.state.try_borrow_mut() {
            crate::server::blocking::unblock(srv, &mut c);
        }
        handle.deliver(format!(":{acked}\r\n").as_bytes());
    }
}

/// INFO replication.
pub fn info(srv: &Server) -> String {
    let r = &srv.repl;
    let mut s = String::new();
    match &r.master {
        Some(m) => {
            s.push_str(&format!(
                "role:slave\r\nmaster_host:{}\r\nmaster_port:{}\r\nmaster_link_status:{}\r\nmaster_last_io_seconds_ago:{}\r\nmaster_sync_in_progress:0\r\nslave_read_repl_offset:{}\r\nslave_repl_offset:{}\r\nslave_priority:100\r\nslave_read_only:1\r\nreplica_announced:1\r\n",
                m.host,
                m.port,
                if r.link_up { "up" } else { "down" },
                r.last_io.map_or(-1, |t| t.elapsed().as_secs() as i64),
                r.offset,
                r.offset,
            ));
        }
        None => s.push_str("role:master\r\n"),
    }
    s.push_str(&format!("connected_slaves:{}\r\n", r.replicas.len()));
    for (i, rep) in r.replicas.iter().enumerate() {
        s.push_str(&format!(
            "slave{i}:ip={},port={},state=online,offset={},lag={}\r\n",
            rep.ip,
            rep.port,
            rep.ack_offset,
            rep.last_ack.elapsed().as_secs()
        ));
    }
    s.push_str(&format!(
        "master_failover_state:no-failover\r\nmaster_replid:{}\r\nmaster_replid2:{}\r\nmaster_repl_offset:{}\r\nsecond_repl_offset:{}\r\nrepl_backlog_active:1\r\nrepl_backlog_size:{}\r\nrepl_backlog_first_byte_offset:{}\r\nrepl_backlog_histlen:{}\r\n",
        r.replid,
        r.replid2,
        r.offset,
        r.second_offset,
        r.backlog_size,
        r.backlog_start(),
        r.backlog.len(),
    ));
    s
}
