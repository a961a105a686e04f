//! Master→replica replication with Redis's protocol: PSYNC with a replication ID and offset,
//! a full sync (an RDB snapshot, then the command stream) or a partial one (`+CONTINUE` and the
//! missing bytes from the backlog), REPLCONF ACK offsets and WAIT. The master side lives here,
//! in `sync` (full syncs from a forked snapshot) and in `commands/replication.rs`; the replica
//! side, the link to the master, in `link`.

pub mod link;
pub mod sync;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::server::{Client, Server};

/// Where a replica of ours is in its synchronization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncState {
    /// Full sync: waits for a snapshot child to start (another child is running).
    WaitSnapshotStart,
    /// Full sync: the snapshot child with this pid is writing; the stream is buffered.
    WaitSnapshotEnd(i32),
    /// Full sync: the snapshot is being copied to the connection; the stream is still buffered.
    SendingSnapshot,
    /// Receives the stream as it is produced.
    Online,
}

impl SyncState {
    /// The name INFO replication gives the state.
    pub fn name(self) -> &'static str {
        match self {
            SyncState::WaitSnapshotStart | SyncState::WaitSnapshotEnd(_) => "wait_bgsave",
            SyncState::SendingSnapshot => "send_bulk",
            SyncState::Online => "online",
        }
    }
}

/// A replica connected to this node.
#[derive(Debug)]
pub struct Replica {
    pub client_id: u64,
    pub ip: String,
    pub port: u16,
    /// The offset the replica acknowledged (REPLCONF ACK).
    pub ack_offset: u64,
    pub last_ack: Instant,
    pub state: SyncState,
    /// The stream produced since the snapshot was taken, until the snapshot has been sent.
    pub pending: BytesMut,
    /// Came with SYNC: its snapshot is not preceded by `+FULLRESYNC`.
    pub legacy: bool,
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
    /// When the master last sent us something (while the link is up).
    pub last_io: Option<Instant>,
    /// When the link to the master went down (None: it never was up).
    pub down_since: Option<Instant>,
    /// When the master last sent its replicas a PING (`repl-ping-replica-period`).
    pub last_ping: Instant,
    /// When replicas waiting for a snapshot last got a keepalive newline.
    pub last_keepalive: Instant,
    pub sync_full: u64,
    pub sync_partial_ok: u64,
    pub sync_partial_err: u64,
    /// Clients blocked in WAIT: (client id, offset to reach, replicas wanted).
    pub waiters: Vec<(u64, u64, usize)>,
    /// On a replica: the database the master's stream last selected, kept across partial
    /// resyncs as Redis keeps it in the cached master client.
    pub master_db: usize,
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
            down_since: None,
            last_ping: Instant::now(),
            last_keepalive: Instant::now(),
            sync_full: 0,
            sync_partial_ok: 0,
            sync_partial_err: 0,
            waiters: Vec::new(),
            master_db: 0,
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
        self.replicas.iter().filter(|r| r.state == SyncState::Online && r.ack_offset >= offset).count()
    }

    /// Online replicas that acknowledged within `max_lag` seconds (`min-replicas-to-write`).
    pub fn good_replicas(&self, max_lag: u64) -> usize {
        self.replicas
            .iter()
            .filter(|r| r.state == SyncState::Online && r.last_ack.elapsed().as_secs() <= max_lag)
            .count()
    }

    /// The link to the master went down (or moved to another master).
    pub fn link_lost(&mut self) {
        if self.link_up {
            self.down_since = Some(Instant::now());
        }
        self.link_up = false;
    }

    /// How old our copy of the master's data may be, in ms: the time since the master last
    /// sent something while the link is up, since the link went down otherwise, and forever
    /// when it never came up (Redis's data age, which `cluster-replica-validity-factor` bounds).
    pub fn data_age_ms(&self) -> i64 {
        let since = if self.link_up { self.last_io } else { self.down_since };
        since.map_or(i64::MAX, |t| t.elapsed().as_millis().min(i64::MAX as u128) as i64)
    }
}

/// From now on this connection is a replica of ours, in `state`, having `ack_offset`.
pub fn register(srv: &mut Server, client: &mut Client, state: SyncState, ack_offset: u64, legacy: bool) {
    // From now on every change is described for the replicas.
    srv.prop.enabled = true;
    srv.prop.to_replicas = true;
    srv.each_db_mut(|db| db.track_expired = true);
    let id = client.id;
    client.is_replica = true;
    let ip = client.addr.rsplit_once(':').map_or("", |(ip, _)| ip).trim_matches(['[', ']']).to_string();
    let port = client.replica_port;
    srv.repl.replicas.retain(|r| r.client_id != id);
    srv.repl.replicas.push(Replica {
        client_id: id,
        ip,
        port,
        ack_offset,
        last_ack: Instant::now(),
        state,
        pending: BytesMut::new(),
        legacy,
    });
}

/// Encodes a command as the stream carries it.
pub fn encode(args: &[Bytes]) -> bytes::BytesMut {
    let mut out = bytes::BytesMut::new();
    protocol::encode::write_command(&mut out, args);
    out
}

/// Sends stream bytes to every replica and keeps them in the backlog. A replica in a full sync
/// gets them after its snapshot.
pub fn feed(srv: &mut Server, bytes: &[u8]) {
    srv.repl.append(bytes);
    if srv.repl.replicas.is_empty() {
        return;
    }
    let clients = srv.clients.borrow();
    let mut over_limit = Vec::new();
    let hard_limit = replica_hard_limit(srv);
    for r in &mut srv.repl.replicas {
        match r.state {
            SyncState::Online => {
                if let Some(handle) = clients.get(&r.client_id) {
                    handle.deliver(bytes);
                }
            }
            SyncState::WaitSnapshotEnd(_) | SyncState::SendingSnapshot => {
                r.pending.extend_from_slice(bytes);
                if hard_limit > 0 && r.pending.len() as u64 > hard_limit {
                    over_limit.push(r.client_id);
                }
            }
            // The stream before the snapshot is in the snapshot.
            SyncState::WaitSnapshotStart => {}
        }
    }
    drop(clients);
    for id in over_limit {
        // As Redis's `client-output-buffer-limit replica`: a sync that falls this far behind
        // is dropped and starts again.
        let msg = format!("Client id={id} closed for overcoming of output buffer limits (replica in full sync).");
        crate::log(&srv.config, &msg);
        srv.repl.replicas.retain(|r| r.client_id != id);
        if let Some(handle) = srv.clients.borrow().get(&id) {
            handle.kill();
        }
    }
}

/// The hard output-buffer limit of the replica class (0: none).
fn replica_hard_limit(srv: &Server) -> u64 {
    srv.config.client_output_buffer_limit.iter().find(|(class, ..)| class == "replica").map_or(0, |(_, hard, ..)| *hard)
}

/// The master's periodic work, from the server cron: a PING into the stream every
/// `repl-ping-replica-period` seconds, so replicas can tell an idle master from a dead one,
/// and a newline every second to replicas waiting for their snapshot, which keeps their
/// connections alive (both as Redis does).
pub fn cron(srv: &mut Server) {
    if srv.repl.replicas.is_empty() {
        return;
    }
    let period = Duration::from_secs(srv.config.repl_ping_replica_period.max(1));
    // While a manual failover pauses writes the offset the replica waits for is final.
    let paused =
        srv.cluster.as_deref().is_some_and(|cl| crate::cluster::failover::writes_paused(cl, crate::keyspace::now_ms()));
    if srv.repl.master.is_none() && !paused && srv.repl.last_ping.elapsed() >= period {
        srv.repl.last_ping = Instant::now();
        let ping = encode(&[Bytes::from_static(b"PING")]);
        feed(srv, &ping);
    }
    if srv.repl.last_keepalive.elapsed() >= Duration::from_secs(1) {
        srv.repl.last_keepalive = Instant::now();
        let clients = srv.clients.borrow();
        for r in &srv.repl.replicas {
            if matches!(r.state, SyncState::WaitSnapshotStart | SyncState::WaitSnapshotEnd(_)) {
                if let Some(handle) = clients.get(&r.client_id) {
                    handle.deliver(b"\n");
                }
            }
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
                "role:slave\r\nmaster_host:{}\r\nmaster_port:{}\r\nmaster_link_status:{}\r\nmaster_last_io_seconds_ago:{}\r\nmaster_sync_in_progress:0\r\nslave_read_repl_offset:{}\r\nslave_repl_offset:{}\r\n",
                m.host,
                m.port,
                if r.link_up { "up" } else { "down" },
                r.last_io.filter(|_| r.link_up).map_or(-1, |t| t.elapsed().as_secs() as i64),
                r.offset,
                r.offset,
            ));
            if !r.link_up {
                let down = r.down_since.map_or(-1, |t| t.elapsed().as_secs() as i64);
                s.push_str(&format!("master_link_down_since_seconds:{down}\r\n"));
            }
            s.push_str(&format!(
                "slave_priority:{}\r\nslave_read_only:{}\r\nreplica_announced:1\r\n",
                srv.config.replica_priority,
                u8::from(srv.config.replica_read_only)
            ));
        }
        None => s.push_str("role:master\r\n"),
    }
    s.push_str(&format!("connected_slaves:{}\r\n", r.replicas.len()));
    for (i, rep) in r.replicas.iter().enumerate() {
        s.push_str(&format!(
            "slave{i}:ip={},port={},state={},offset={},lag={}\r\n",
            rep.ip,
            rep.port,
            rep.state.name(),
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
