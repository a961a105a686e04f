//! The append-only file, in Redis 7.0's multi-part layout: `appenddirname/` holds a base (an RDB
//! image), incremental files of RESP commands, and the manifest naming them.
//!
//! Writing: commands are propagated into `Server::prop`; a flusher task on the node's thread
//! writes whatever accumulated (one write(2) for every connection that ran commands in this
//! loop tick) and, with `appendfsync always`, one fsync, before any of those connections sends
//! its replies. `everysec` fsyncs from a blocking thread once a second.

use std::cell::Cell;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use bytes::Bytes;
use config::{AppendFsync, NodeConfig};
use tokio::sync::Notify;

use super::aofload::{self, ReplayError};
use super::manifest::{base_name, incr_name, AofFile, Manifest};
use super::rdbfile;
use crate::server::{Server, Shared};

/// Progress of the AOF writes, shared between the flusher and the connections waiting on it.
#[derive(Default)]
pub struct AofSignal {
    /// Propagation offset written to the file.
    pub written: Cell<u64>,
    /// Propagation offset known to be on disk.
    pub synced: Cell<u64>,
    /// Whether replies wait for `synced` (always) or only `written`.
    pub always: Cell<bool>,
    /// An fsync runs on a blocking thread.
    pub fsync_running: Cell<bool>,
    /// Wakes the flusher.
    pub kick: Notify,
    /// Wakes connections waiting for their data to be written.
    pub done: Notify,
}

impl AofSignal {
    /// Whether data up to `offset` is as durable as the policy asks before replying.
    pub fn reached(&self, offset: u64) -> bool {
        if self.always.get() {
            self.synced.get() >= offset
        } else {
            self.written.get() >= offset
        }
    }

    fn advance(cell: &Cell<u64>, to: u64) {
        if cell.get() < to {
            cell.set(to);
        }
    }
}

/// The open AOF.
pub struct Aof {
    /// `appenddirname`, relative to `dir`.
    pub dir: PathBuf,
    /// `appendfilename`: the prefix of every file name and the manifest's name.
    pub prefix: String,
    pub manifest: Manifest,
    /// The incremental file commands are appended to.
    pub file: Arc<File>,
    pub signal: Rc<AofSignal>,
    /// Bytes in all files of the manifest (INFO `aof_current_size`).
    pub current_size: u64,
    /// `current_size` right after the last rewrite (auto-rewrite grows from it).
    pub base_size: u64,
    pub last_write_ok: bool,
    /// Seconds (unix) of the last everysec fsync.
    pub last_fsync: i64,
}

impl Aof {
    fn manifest_name(&self) -> String {
        format!("{}.manifest", self.prefix)
    }

    /// The connection's wait before replying: `Some` (and the flusher kicked) when data up to
    /// `offset` is not durable yet.
    pub fn wait_for(&self, offset: u64) -> Option<(Rc<AofSignal>, u64)> {
        if self.signal.reached(offset) {
            return None;
        }
        self.signal.kick.notify_one();
        Some((self.signal.clone(), offset))
    }

    /// Writes `data` (ending at propagation offset `end`) to the current incremental file.
    fn append(&mut self, data: &[u8], end: u64) -> std::io::Result<()> {
        (&*self.file).write_all(data)?;
        self.current_size += data.len() as u64;
        AofSignal::advance(&self.signal.written, end);
        Ok(())
    }

    /// Writes and fsyncs everything propagated so far, right now (rewrite start, shutdown).
    pub fn flush_now(srv: &mut Server) -> std::io::Result<()> {
        let end = srv.prop.offset;
        let data = srv.prop.take();
        let Some(aof) = srv.persist.aof.as_mut() else { return Ok(()) };
        aof.append(&data, end)?;
        aof.file.sync_data()?;
        AofSignal::advance(&aof.signal.synced, end);
        aof.signal.done.notify_waiters();
        Ok(())
    }
}

/// Waits until the data a connection's replies depend on is durable; false when killed first.
pub async fn wait_durable(signal: &AofSignal, offset: u64, kill: &Notify) -> bool {
    loop {
        let done = signal.done.notified();
        tokio::pin!(done);
        done.as_mut().enable();
        if signal.reached(offset) {
            return true;
        }
        tokio::select! {
            biased;
            _ = kill.notified() => return false,
            _ = &mut done => {}
        }
    }
}

/// The flusher: writes what the connections of a loop tick propagated, once for all of them.
pub async fn run_flusher(server: Shared, signal: Rc<AofSignal>) {
    loop {
        signal.kick.notified().await;
        let (file, end) = {
            let mut guard = server.borrow_mut();
            let srv = &mut *guard;
            let end = srv.prop.offset;
            let data = srv.prop.take();
            let always = srv.config.appendfsync == AppendFsync::Always;
            let Some(aof) = srv.persist.aof.as_mut() else { continue };
            aof.signal.always.set(always);
            if !data.is_empty() {
                let started = std::time::Instant::now();
                let written = aof.append(&data, end);
                let ms = started.elapsed().as_millis() as u64;
                // flushAppendOnlyFile's events: what the write competed with, and the total.
                let event = if signal.fsync_running.get() {
                    "aof-write-pending-fsync"
                } else if srv.persist.child.is_some() {
                    "aof-write-active-child"
                } else {
                    "aof-write-alone"
                };
                crate::introspect::latency_event(srv, event, ms);
                crate::introspect::latency_event(srv, "aof-write", ms);
                let Some(aof) = srv.persist.aof.as_mut() else { continue };
                if let Err(e) = written {
                    aof.last_write_ok = false;
                    crate::log(&srv.config, &format!("Warning: Error writing to the AOF file: {e}"));
                    if always {
                        crate::log(
                            &srv.config,
                            "Warning: Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting...",
                        );
                        std::process::exit(1);
                    }
                    // Kept for the next attempt (cron kicks us again); clients are not held.
                    let rest = srv.prop.take();
                    srv.prop.buf.extend_from_slice(&data);
                    srv.prop.buf.extend_from_slice(&rest);
                    AofSignal::advance(&signal.written, end);
                    signal.done.notify_waiters();
                    continue;
                }
                aof.last_write_ok = true;
            }
            let file = srv.persist.aof.as_ref().filter(|_| always).map(|a| a.file.clone());
            (file, end)
        };
        if let Some(file) = file {
            // Other connections keep running meanwhile; their replies wait for the next fsync.
            let started = std::time::Instant::now();
            let synced = tokio::task::spawn_blocking(move || file.sync_data()).await;
            if !matches!(synced, Ok(Ok(()))) {
                crate::log(&server.borrow().config, "Warning: fsync of the AOF failed, exiting as Redis does");
                std::process::exit(1);
            }
            let ms = started.elapsed().as_millis() as u64;
            crate::introspect::latency_event(&mut server.borrow_mut(), "aof-fsync-always", ms);
            AofSignal::advance(&signal.synced, end);
        }
        signal.done.notify_waiters();
    }
}

/// Once a second with `everysec`: fsync on a blocking thread whatever was written.
pub fn everysec(srv: &mut Server) {
    let now = crate::keyspace::now_ms() / 1000;
    let Some(aof) = srv.persist.aof.as_mut() else { return };
    if !srv.prop.buf.is_empty() {
        aof.signal.kick.notify_one();
    }
    let sig = &aof.signal;
    if srv.config.appendfsync != AppendFsync::EverySec
        || sig.fsync_running.get()
        || now == aof.last_fsync
        || sig.synced.get() >= sig.written.get()
    {
        return;
    }
    aof.last_fsync = now;
    sig.fsync_running.set(true);
    let (file, signal, end) = (aof.file.clone(), aof.signal.clone(), sig.written.get());
    tokio::task::spawn_local(async move {
        if let Ok(Ok(())) = tokio::task::spawn_blocking(move || file.sync_data()).await {
            AofSignal::advance(&signal.synced, end);
        }
        signal.fsync_running.set(false);
    });
}

fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// At start-up with `appendonly yes`: loads the AOF the manifest names (or creates an empty
/// one) and opens the last incremental file for appending.
pub fn open_at_start(srv: &mut Server) -> Result<(), String> {
    let cfg: &NodeConfig = &srv.config;
    let dir = PathBuf::from(&cfg.appenddirname);
    let prefix = cfg.appendfilename.clone();
    let manifest_path = dir.join(format!("{prefix}.manifest"));
    std::fs::create_dir_all(&dir).map_err(|e| format!("Can't create the AOF directory {}: {e}", dir.display()))?;
    let mut manifest = if manifest_path.exists() {
        let text = std::fs::read_to_string(&manifest_path)
            .map_err(|e| format!("Can't read the AOF manifest {}: {e}", manifest_path.display()))?;
        let m = Manifest::parse(&text)?;
        load(srv, &dir, &m)?;
        m
    } else {
        // A fresh AOF: an empty base, as Redis 7.0 creates on start.
        let base = AofFile { name: base_name(&prefix, 1), seq: 1 };
        let path = dir.join(&base.name);
        let functions = srv.scripting.functions.codes();
        rdbfile::write(&srv.all_dbs(), &functions, &dir.join(format!("temp-{}", base.name)), &path, true)
            .map_err(|e| format!("Can't create the AOF base file {}: {e}", path.display()))?;
        crate::log(&srv.config, &format!("Creating AOF base file {} on server start", base.name));
        Manifest { base: Some(base), incrs: Vec::new() }
    };
    if manifest.incrs.is_empty() {
        let seq = 1;
        manifest.incrs.push(AofFile { name: incr_name(&prefix, seq), seq });
        crate::log(&srv.config, &format!("Creating AOF incr file {} on server start", incr_name(&prefix, seq)));
        manifest
            .save(&dir, &format!("{prefix}.manifest"))
            .map_err(|e| format!("Can't write the AOF manifest {}: {e}", manifest_path.display()))?;
    }
    let last = dir.join(&manifest.incrs[manifest.incrs.len() - 1].name);
    let file = open_append(&last).map_err(|e| format!("Can't open the append-only file {}: {e}", last.display()))?;
    let size: u64 = manifest.base.iter().chain(&manifest.incrs).map(|f| file_len(&dir.join(&f.name))).sum();
    let signal = Rc::new(AofSignal::default());
    signal.always.set(srv.config.appendfsync == AppendFsync::Always);
    srv.persist.aof = Some(Aof {
        dir,
        prefix,
        manifest,
        file: Arc::new(file),
        signal,
        current_size: size,
        base_size: size,
        last_write_ok: true,
        last_fsync: 0,
    });
    Ok(())
}

/// Loads the base and incremental files in order.
fn load(srv: &mut Server, dir: &Path, m: &Manifest) -> Result<(), String> {
    let started = std::time::Instant::now();
    if let Some(base) = &m.base {
        let path = dir.join(&base.name);
        let data = std::fs::read(&path)
            .map_err(|e| format!("The AOF file {} doesn't exist or can't be read: {e}", path.display()))?;
        if data.starts_with(b"REDIS") {
            let mut functions = Vec::new();
            rdbfile::load(&data, srv, &mut functions)
                .map_err(|e| format!("Bad file format reading the AOF base {}: {e}", path.display()))?;
            srv.scripting.functions.replace_all(&functions).map_err(|e| {
                format!(
                    "Bad file format reading the AOF base {}: failed loading a function library: {e}",
                    path.display()
                )
            })?;
        } else {
            replay_file(srv, &path, Bytes::from(data), false)?;
        }
    }
    for (i, incr) in m.incrs.iter().enumerate() {
        let path = dir.join(&incr.name);
        let data = match std::fs::read(&path) {
            Ok(d) => d,
            // The last incr may not exist yet if we crashed right after naming it.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && i + 1 == m.incrs.len() => Vec::new(),
            Err(e) => return Err(format!("The AOF file {} doesn't exist or can't be read: {e}", path.display())),
        };
        replay_file(srv, &path, Bytes::from(data), i + 1 == m.incrs.len())?;
    }
    crate::log(
        &srv.config,
        &format!("DB loaded from append only file: {:.3} seconds", started.elapsed().as_secs_f64()),
    );
    Ok(())
}

/// Replays one file; only the last file may be repaired when its tail is cut off.
fn replay_file(srv: &mut Server, path: &Path, data: Bytes, last: bool) -> Result<(), String> {
    let len = data.len();
    srv.prop.loading = true;
    let result = aofload::replay(srv, &data);
    srv.prop.loading = false;
    match result {
        Ok(_) => Ok(()),
        Err(ReplayError::Bad { offset, msg }) => Err(format!(
            "Bad file format reading the append only file {} at offset {offset} ({msg}): make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>",
            path.display()
        )),
        Err(ReplayError::Truncated { valid_len }) if last && srv.config.aof_load_truncated => {
            crate::log(
                &srv.config,
                &format!(
                    "Warning: !!! Warning: short read while loading the AOF file {}!!! AOF loaded anyway because aof-load-truncated is enabled; truncated from {len} to {valid_len} bytes (offset {valid_len})",
                    path.display()
                ),
            );
            let f = OpenOptions::new().write(true).open(path).map_err(|e| format!("Can't open {} to truncate it: {e}", path.display()))?;
            f.set_len(valid_len as u64).and_then(|_| f.sync_all()).map_err(|e| format!("Error truncating the AOF file {}: {e}", path.display()))?;
            Ok(())
        }
        Err(ReplayError::Truncated { valid_len }) => Err(format!(
            "Unexpected end of file reading the append only file {} at offset {valid_len} (file length {len}). You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.",
            path.display()
        )),
    }
}

/// What a running rewrite needs to finish.
pub struct Rewrite {
    /// The base the child writes.
    pub tmp: PathBuf,
    /// The first incremental file opened for this rewrite.
    pub incr_seq: u64,
}

/// Starts BGREWRITEAOF's parent side: everything so far goes to the current file, further
/// commands to a new incremental file that the manifest lists right away (a crash in the middle
/// keeps old base + old incrs + new incr, all valid). Returns the new file's seq.
pub fn switch_incr(srv: &mut Server) -> Result<u64, String> {
    Aof::flush_now(srv).map_err(|e| format!("Error flushing the AOF: {e}"))?;
    let Some(aof) = srv.persist.aof.as_mut() else { return Err("AOF is off".into()) };
    let seq = aof.manifest.incrs.last().map_or(1, |f| f.seq + 1);
    let name = incr_name(&aof.prefix, seq);
    let file = open_append(&aof.dir.join(&name)).map_err(|e| format!("Can't open the AOF file {name}: {e}"))?;
    let mut m = aof.manifest.clone();
    m.incrs.push(AofFile { name, seq });
    m.save(&aof.dir, &aof.manifest_name()).map_err(|e| format!("Can't write the AOF manifest: {e}"))?;
    aof.manifest = m;
    aof.file = Arc::new(file);
    // The new file must say which database its first command is for.
    srv.prop.aof_db = None;
    Ok(seq)
}

/// The child wrote the new base to `rw.tmp`: make it the base, drop what it replaces.
pub fn finish_rewrite(srv: &mut Server, rw: &Rewrite) -> Result<(), String> {
    let Some(aof) = srv.persist.aof.as_mut() else { return Err("AOF is off".into()) };
    let seq = aof.manifest.base.as_ref().map_or(1, |b| b.seq + 1);
    let base = AofFile { name: base_name(&aof.prefix, seq), seq };
    std::fs::rename(&rw.tmp, aof.dir.join(&base.name))
        .map_err(|e| format!("Can't rename the rewritten AOF base: {e}"))?;
    let mut m = Manifest { base: Some(base), incrs: Vec::new() };
    m.incrs.extend(aof.manifest.incrs.iter().filter(|f| f.seq >= rw.incr_seq).cloned());
    m.save(&aof.dir, &aof.manifest_name()).map_err(|e| format!("Can't write the AOF manifest: {e}"))?;
    let old = std::mem::replace(&mut aof.manifest, m);
    for f in old.base.iter().chain(&old.incrs) {
        if !aof.manifest.incrs.contains(f) {
            let _ = std::fs::remove_file(aof.dir.join(&f.name));
        }
    }
    let dir = aof.dir.clone();
    aof.current_size = aof.manifest.base.iter().chain(&aof.manifest.incrs).map(|f| file_len(&dir.join(&f.name))).sum();
    aof.base_size = aof.current_size;
    Ok(())
}

/// Whether auto-aof-rewrite-percentage/min-size call for a rewrite now.
pub fn wants_auto_rewrite(srv: &Server) -> bool {
    let Some(aof) = srv.persist.aof.as_ref() else { return false };
    let (pct, min) = (srv.config.auto_aof_rewrite_percentage, srv.config.auto_aof_rewrite_min_size);
    if pct == 0 || aof.current_size < min {
        return false;
    }
    let base = aof.base_size.max(1);
    aof.current_size.saturating_sub(base) * 100 / base >= pct
}
