//! The master's side of a full sync. A forked child (the fork machinery of `persist`) writes
//! the snapshot as an RDB file from its copy-on-write image while the node keeps serving
//! writes; what the stream carries meanwhile waits in each syncing replica's `pending` buffer.
//! When the child is done, a task copies the file to every replica that waited for it, then
//! that replica's pending stream, and the replica is online.
//!
//! The snapshot goes through a file, as Redis's disk-based sync does, rather than a pipe to the
//! replicas (Redis's diskless sync): the file's length is known, so every replica gets a plain
//! `$<len>` bulk (no `capa eof` needed: our own replica, redis-server and older replicas all
//! read it); replicas that ask while the child runs share its file; and the child's exit status
//! says whether the snapshot is whole before a single byte of it is sent.

use std::io::Read;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::{register, SyncState};
use crate::server::{Client, ClientHandle, Server, Shared};

/// Bytes read from the snapshot file at a time.
const CHUNK: usize = 256 * 1024;
/// The copy waits while this much is queued for the replica's connection.
const QUEUED_MAX: usize = 1024 * 1024;

/// A finished snapshot file; removed when the last replica it is copied to is done with it.
struct SnapshotFile {
    path: PathBuf,
    len: u64,
}

impl Drop for SnapshotFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// PSYNC (or SYNC) that needs a full sync: the replica shares a running snapshot child when
/// another replica already waits for it (it gets that replica's pending stream), else it waits
/// for a new one, forked now if no other child runs.
pub fn full(srv: &mut Server, client: &mut Client, legacy: bool) {
    // The snapshot must be at an offset that covers everything the keyspace already holds.
    super::drain(srv);
    srv.repl.sync_full += 1;
    if let Some((pid, offset)) = srv.persist.repl_snapshot() {
        let waiting = SyncState::WaitSnapshotEnd(pid);
        let shared = srv.repl.replicas.iter().find(|r| r.state == waiting).map(|r| r.pending.clone());
        if let Some(pending) = shared {
            register(srv, client, waiting, 0, legacy);
            if let Some(r) = srv.repl.replicas.last_mut() {
                r.pending = pending;
            }
            if !legacy {
                deliver(srv, client.id, format!("+FULLRESYNC {} {offset}\r\n", srv.repl.replid).as_bytes());
            }
            crate::log(
                &srv.config,
                &format!("Replica {} asks for synchronization: waiting for the running snapshot", client.addr),
            );
            return;
        }
    }
    register(srv, client, SyncState::WaitSnapshotStart, 0, legacy);
    crate::log(&srv.config, &format!("Full resync requested by replica {}", client.addr));
    if srv.persist.child.is_some() {
        crate::log(&srv.config, "A child process is active: waiting for the next snapshot for SYNC");
    } else {
        start_snapshot(srv);
    }
}

/// Forks the snapshot child for the replicas waiting for one, if no child runs. True when it
/// started.
pub fn start_snapshot(srv: &mut Server) -> bool {
    let waiting = |s: &Server| s.repl.replicas.iter().any(|r| r.state == SyncState::WaitSnapshotStart);
    if srv.persist.child.is_some() || !waiting(srv) {
        return false;
    }
    super::drain(srv);
    // The stream after the snapshot starts with a SELECT (replicationSetupSlaveForFullResync).
    srv.prop.repl_db = None;
    let offset = srv.repl.offset;
    match crate::persist::fork_repl_snapshot(srv, offset) {
        Ok(pid) => {
            crate::log(&srv.config, &format!("Starting BGSAVE for SYNC with target: disk, by pid {pid}"));
            let line = format!("+FULLRESYNC {} {offset}\r\n", srv.repl.replid);
            let mut starting = Vec::new();
            for r in srv.repl.replicas.iter_mut().filter(|r| r.state == SyncState::WaitSnapshotStart) {
                r.state = SyncState::WaitSnapshotEnd(pid);
                r.pending.clear();
                starting.push((r.client_id, r.legacy));
            }
            for (id, legacy) in starting {
                if !legacy {
                    deliver(srv, id, line.as_bytes());
                }
            }
            true
        }
        Err(e) => {
            crate::log(&srv.config, &format!("Warning: BGSAVE for replication failed: {e}"));
            let ids: Vec<u64> = srv
                .repl
                .replicas
                .iter()
                .filter(|r| r.state == SyncState::WaitSnapshotStart)
                .map(|r| r.client_id)
                .collect();
            drop_replicas(srv, &ids);
            false
        }
    }
}

/// The snapshot child `pid` ended: its replicas get the file, or are dropped (and retry) when
/// the child failed.
pub fn snapshot_done(srv: &mut Server, pid: i32, tmp: PathBuf, ok: bool) {
    let ids: Vec<u64> =
        srv.repl.replicas.iter().filter(|r| r.state == SyncState::WaitSnapshotEnd(pid)).map(|r| r.client_id).collect();
    let len = std::fs::metadata(&tmp).map(|m| m.len()).ok().filter(|_| ok);
    let file = Rc::new(SnapshotFile { path: tmp, len: len.unwrap_or(0) });
    let (Some(_), Some(shared)) = (len, srv.self_ref.upgrade()) else {
        crate::log(&srv.config, "Warning: SYNC failed. The snapshot child returned an error");
        drop_replicas(srv, &ids);
        return;
    };
    crate::log(
        &srv.config,
        &format!("Snapshot for SYNC done ({} bytes): sending it to {} replica(s)", file.len, ids.len()),
    );
    for r in srv.repl.replicas.iter_mut().filter(|r| ids.contains(&r.client_id)) {
        r.state = SyncState::SendingSnapshot;
    }
    for id in ids {
        tokio::task::spawn_local(send(shared.clone(), id, file.clone()));
    }
}

/// Copies the snapshot to one replica, then its pending stream; it is online from then on.
async fn send(shared: Shared, id: u64, file: Rc<SnapshotFile>) {
    let sent = copy(&shared, id, &file).await;
    drop(file);
    let mut srv = shared.borrow_mut();
    match sent {
        Ok(()) => online(&mut srv, id),
        Err(e) => {
            crate::log(&srv.config, &format!("Warning: SYNC with replica id={id} failed: {e}"));
            drop_replicas(&mut srv, &[id]);
        }
    }
}

fn handle(shared: &Shared, id: u64) -> Option<Rc<ClientHandle>> {
    shared.borrow().clients.borrow().get(&id).cloned()
}

/// Queues `$<len>` and the file for the replica's connection, a chunk at a time, never more
/// than about `QUEUED_MAX` ahead of what the socket took.
async fn copy(shared: &Shared, id: u64, file: &SnapshotFile) -> Result<(), String> {
    let mut f = std::fs::File::open(&file.path).map_err(|e| format!("opening the snapshot: {e}"))?;
    let gone = || "the replica disconnected".to_string();
    handle(shared, id).ok_or_else(gone)?.deliver(format!("${}\r\n", file.len).as_bytes());
    let mut chunk = vec![0u8; CHUNK];
    let mut left = file.len;
    while left > 0 {
        let h = handle(shared, id).filter(|h| !h.killed.get()).ok_or_else(gone)?;
        if h.outbox.borrow().len() >= QUEUED_MAX {
            // Woken when the connection wrote what it had; the timeout notices a closed one.
            let _ = tokio::time::timeout(Duration::from_millis(100), h.flushed.notified()).await;
            continue;
        }
        let want = CHUNK.min(left as usize);
        let n = f.read(&mut chunk[..want]).map_err(|e| format!("reading the snapshot: {e}"))?;
        if n == 0 {
            return Err("the snapshot file is shorter than announced".into());
        }
        h.deliver(&chunk[..n]);
        left -= n as u64;
        // Let the connection (and everybody else) run between chunks.
        tokio::task::yield_now().await;
    }
    Ok(())
}

/// The snapshot is queued: the stream buffered since it was taken follows, then the live one.
fn online(srv: &mut Server, id: u64) {
    let Some(r) = srv.repl.replicas.iter_mut().find(|r| r.client_id == id) else { return };
    let pending = std::mem::take(&mut r.pending);
    r.state = SyncState::Online;
    r.last_ack = Instant::now();
    let (ip, port) = (r.ip.clone(), r.port);
    deliver(srv, id, &pending);
    crate::log(&srv.config, &format!("Synchronization with replica {ip}:{port} succeeded"));
}

fn deliver(srv: &Server, id: u64, bytes: &[u8]) {
    if let Some(h) = srv.clients.borrow().get(&id) {
        h.deliver(bytes);
    }
}

/// Closes replicas whose sync cannot go on; they connect again and ask anew.
fn drop_replicas(srv: &mut Server, ids: &[u64]) {
    srv.repl.replicas.retain(|r| !ids.contains(&r.client_id));
    let clients = srv.clients.borrow();
    for id in ids {
        if let Some(h) = clients.get(id) {
            h.kill();
        }
    }
}
