//! Persistence: RDB snapshots (SAVE, BGSAVE, save points) and the AOF (see `aof`), loaded at
//! start-up. Background work runs in a fork()ed child that writes from its copy-on-write image
//! of the keyspace while the parent keeps serving, as Redis does; cron reaps the child.

pub mod aof;
pub mod aofload;
pub mod manifest;
pub mod rdbfile;

use std::path::PathBuf;
use std::time::Instant;

use crate::keyspace::now_ms;
use crate::server::Server;

/// What a background child is doing.
pub enum Job {
    Rdb {
        tmp: PathBuf,
        dirty_at_start: u64,
    },
    Rewrite(aof::Rewrite),
    /// A snapshot for replicas in a full sync, of the dataset at replication offset `offset`.
    ReplSnapshot {
        tmp: PathBuf,
        offset: u64,
    },
}

/// A running background child.
pub struct Child {
    pub pid: i32,
    pub job: Job,
    pub started: Instant,
}

/// Persistence state and the figures INFO persistence reports.
pub struct Persistence {
    pub aof: Option<aof::Aof>,
    pub child: Option<Child>,
    pub bgsave_scheduled: bool,
    pub rewrite_scheduled: bool,
    pub last_bgsave_ok: bool,
    /// Unix seconds of the last BGSAVE attempt (a failed one is retried after 5 s).
    pub last_bgsave_try: i64,
    pub last_bgsave_secs: i64,
    pub last_rewrite_ok: bool,
    pub last_rewrite_secs: i64,
    pub rdb_saves: u64,
    pub aof_rewrites: u64,
    pub rewrite_failures: u64,
    pub keys_loaded: u64,
}

impl Default for Persistence {
    fn default() -> Self {
        Persistence {
            aof: None,
            child: None,
            bgsave_scheduled: false,
            rewrite_scheduled: false,
            last_bgsave_ok: true,
            last_bgsave_try: 0,
            last_bgsave_secs: -1,
            last_rewrite_ok: true,
            last_rewrite_secs: -1,
            rdb_saves: 0,
            aof_rewrites: 0,
            rewrite_failures: 0,
            keys_loaded: 0,
        }
    }
}

impl Persistence {
    /// Whether a child writing an RDB file runs (BGSAVE, or a snapshot for replicas).
    pub fn saving(&self) -> bool {
        matches!(self.child, Some(Child { job: Job::Rdb { .. } | Job::ReplSnapshot { .. }, .. }))
    }

    /// The pid and offset of a running snapshot child for replicas.
    pub fn repl_snapshot(&self) -> Option<(i32, u64)> {
        match &self.child {
            Some(Child { pid, job: Job::ReplSnapshot { offset, .. }, .. }) => Some((*pid, *offset)),
            _ => None,
        }
    }

    /// Whether a BGREWRITEAOF child runs.
    pub fn rewriting(&self) -> bool {
        matches!(self.child, Some(Child { job: Job::Rewrite(_), .. }))
    }
}

/// Loads the dataset at start-up: the AOF when `appendonly yes`, else `dbfilename` if present.
/// An error means the node must not start.
pub fn load_at_start(srv: &mut Server) -> Result<(), String> {
    if srv.config.appendonly {
        aof::open_at_start(srv)?;
        srv.prop.enabled = true;
        srv.prop.to_aof = true;
        srv.each_db_mut(|db| db.track_expired = true);
    } else {
        let path = PathBuf::from(&srv.config.dbfilename);
        match std::fs::read(&path) {
            Ok(data) => {
                let started = Instant::now();
                let mut functions = Vec::new();
                let n = rdbfile::load(&data, srv, &mut functions).map_err(|e| {
                    format!("Bad RDB file {}: {e}. Short read or corrupted DB: refusing to start.", path.display())
                })?;
                srv.scripting
                    .functions
                    .replace_all(&functions)
                    .map_err(|e| format!("Bad RDB file {}: failed loading a function library: {e}", path.display()))?;
                srv.persist.keys_loaded = n as u64;
                crate::log(
                    &srv.config,
                    &format!("DB loaded from disk: {:.3} seconds ({n} keys)", started.elapsed().as_secs_f64()),
                );
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("Can't read the RDB file {}: {e}", path.display())),
        }
    }
    srv.each_db_mut(|db| db.expired_log.clear());
    srv.dirty = 0;
    Ok(())
}

/// Forks made and how long the last fork() call took (INFO's total_forks, latest_fork_usec).
pub static FORKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
pub static LAST_FORK_USEC: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The `fork` latency event of the fork just made (LATENCY LATEST/HISTORY fork).
fn forked(srv: &mut Server) {
    let ms = LAST_FORK_USEC.load(std::sync::atomic::Ordering::Relaxed) / 1000;
    crate::introspect::latency_event(srv, "fork", ms);
}

/// Forks a child running `job` (which must not touch the runtime); returns its pid.
fn fork(job: impl FnOnce() -> std::io::Result<()>) -> std::io::Result<i32> {
    let started = Instant::now();
    let r = fork_child(job);
    if r.is_ok() {
        use std::sync::atomic::Ordering::Relaxed;
        FORKS.fetch_add(1, Relaxed);
        LAST_FORK_USEC.store(started.elapsed().as_micros() as u64, Relaxed);
    }
    r
}

fn fork_child(job: impl FnOnce() -> std::io::Result<()>) -> std::io::Result<i32> {
    // SAFETY: the child only writes a file from its copy of memory and leaves with _exit,
    // never returning into the runtime; the parent just records the pid.
    unsafe {
        let parent = libc::getpid();
        match libc::fork() {
            -1 => Err(std::io::Error::last_os_error()),
            0 => {
                // Die with the parent: a half-written temp file is never renamed then.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                if libc::getppid() != parent {
                    libc::_exit(1);
                }
                libc::signal(libc::SIGTERM, libc::SIG_DFL);
                libc::signal(libc::SIGINT, libc::SIG_DFL);
                let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_ok_and(|r| r.is_ok());
                libc::_exit(if ok { 0 } else { 1 })
            }
            pid => Ok(pid),
        }
    }
}

/// SAVE: writes `dbfilename` in the foreground.
pub fn save(srv: &mut Server) -> Result<(), String> {
    let path = PathBuf::from(&srv.config.dbfilename);
    let tmp = PathBuf::from(format!("temp-{}.rdb", std::process::id()));
    rdbfile::write(&srv.all_dbs(), &srv.scripting.functions.codes(), &tmp, &path, false).map_err(|e| {
        let msg = format!("Failed opening/writing the .rdb for saving: {e}");
        crate::log(&srv.config, &format!("Warning: {msg}"));
        msg
    })?;
    srv.dirty = 0;
    srv.lastsave = now_ms() / 1000;
    srv.persist.last_bgsave_ok = true;
    srv.persist.rdb_saves += 1;
    crate::log(&srv.config, "DB saved on disk");
    Ok(())
}

/// BGSAVE: forks a child writing `dbfilename`.
pub fn bgsave(srv: &mut Server) -> Result<(), String> {
    if srv.persist.child.is_some() {
        return Err("a child process is active".into());
    }
    srv.persist.last_bgsave_try = now_ms() / 1000;
    let path = PathBuf::from(&srv.config.dbfilename);
    let db = &srv.all_dbs();
    let functions = srv.scripting.functions.codes();
    let pid = fork(|| {
        let tmp = PathBuf::from(format!("temp-{}.rdb", std::process::id()));
        rdbfile::write(db, &functions, &tmp, &path, false)
    })
    .map_err(|e| {
        srv.persist.last_bgsave_ok = false;
        format!("Can't save in background: fork: {e}")
    })?;
    forked(srv);
    crate::log(&srv.config, &format!("Background saving started by pid {pid}"));
    let tmp = PathBuf::from(format!("temp-{pid}.rdb"));
    srv.persist.child = Some(Child { pid, job: Job::Rdb { tmp, dirty_at_start: srv.dirty }, started: Instant::now() });
    Ok(())
}

/// Forks a child writing the snapshot of a full sync to a temp file (see `replication::sync`);
/// `offset` is the replication offset the dataset is at. Returns the child's pid.
pub fn fork_repl_snapshot(srv: &mut Server, offset: u64) -> Result<i32, String> {
    if srv.persist.child.is_some() {
        return Err("a child process is active".into());
    }
    let db = &srv.all_dbs();
    let functions = srv.scripting.functions.codes();
    let pid =
        fork(|| rdbfile::write_file(db, &functions, &repl_snapshot_path(std::process::id() as i32), false).map(|_| ()))
            .map_err(|e| format!("Can't save in background: fork: {e}"))?;
    forked(srv);
    let job = Job::ReplSnapshot { tmp: repl_snapshot_path(pid), offset };
    srv.persist.child = Some(Child { pid, job, started: Instant::now() });
    Ok(pid)
}

fn repl_snapshot_path(pid: i32) -> PathBuf {
    PathBuf::from(format!("temp-repl-{pid}.rdb"))
}

/// BGREWRITEAOF: switches to a new incremental file and forks a child writing the new base.
pub fn bgrewriteaof(srv: &mut Server) -> Result<(), String> {
    if srv.persist.child.is_some() {
        return Err("a child process is active".into());
    }
    let incr_seq = aof::switch_incr(srv)?;
    let Some(dir) = srv.persist.aof.as_ref().map(|a| a.dir.clone()) else { return Err("AOF is off".into()) };
    let db = &srv.all_dbs();
    let functions = srv.scripting.functions.codes();
    let child_dir = dir.clone();
    let pid = fork(|| {
        let tmp = child_dir.join(format!("temp-rewriteaof-bg-{}.aof", std::process::id()));
        rdbfile::write_file(db, &functions, &tmp, true).map(|_| ())
    })
    .map_err(|e| format!("Can't rewrite append only file in background: fork: {e}"))?;
    forked(srv);
    crate::log(&srv.config, &format!("Background append only file rewriting started by pid {pid}"));
    let tmp = dir.join(format!("temp-rewriteaof-bg-{pid}.aof"));
    srv.persist.child = Some(Child { pid, job: Job::Rewrite(aof::Rewrite { tmp, incr_seq }), started: Instant::now() });
    Ok(())
}

/// Called by cron: reaps a finished child, starts scheduled or due saves and rewrites, and
/// fsyncs the AOF once a second.
pub fn cron(srv: &mut Server) {
    aof::everysec(srv);
    reap(srv);
    // Replicas waiting for a snapshot go before scheduled saves and rewrites.
    if srv.persist.child.is_some() || crate::replication::sync::start_snapshot(srv) {
        return;
    }
    let now = now_ms() / 1000;
    if srv.persist.rewrite_scheduled || aof::wants_auto_rewrite(srv) {
        srv.persist.rewrite_scheduled = false;
        if let Err(e) = bgrewriteaof(srv) {
            crate::log(&srv.config, &format!("Warning: {e}"));
        }
        return;
    }
    let retry_ok = srv.persist.last_bgsave_ok || now - srv.persist.last_bgsave_try > 5;
    let due =
        srv.config.save.iter().any(|(secs, changes)| {
            srv.dirty >= *changes && now - srv.lastsave >= *secs as i64 && retry_ok && *changes > 0
        });
    if srv.persist.bgsave_scheduled || due {
        srv.persist.bgsave_scheduled = false;
        if due {
            crate::log(&srv.config, "Background saving: save point reached");
        }
        if let Err(e) = bgsave(srv) {
            crate::log(&srv.config, &format!("Warning: {e}"));
        }
    }
}

/// Collects a finished child, if any.
fn reap(srv: &mut Server) {
    let Some(pid) = srv.persist.child.as_ref().map(|c| c.pid) else { return };
    let mut status = 0;
    // SAFETY: plain waitpid on our own child.
    let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    if r == 0 {
        return;
    }
    let ok = r == pid && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    let Some(child) = srv.persist.child.take() else { return };
    let secs = child.started.elapsed().as_secs() as i64;
    match child.job {
        Job::Rdb { tmp, dirty_at_start } => {
            srv.persist.last_bgsave_ok = ok;
            srv.persist.last_bgsave_secs = secs;
            if ok {
                srv.dirty = srv.dirty.saturating_sub(dirty_at_start);
                srv.lastsave = now_ms() / 1000;
                srv.persist.rdb_saves += 1;
                crate::log(&srv.config, "Background saving terminated with success");
            } else {
                let _ = std::fs::remove_file(tmp);
                crate::log(&srv.config, "Warning: Background saving error");
            }
        }
        Job::ReplSnapshot { tmp, .. } => crate::replication::sync::snapshot_done(srv, child.pid, tmp, ok),
        Job::Rewrite(rw) => {
            srv.persist.last_rewrite_secs = secs;
            let done = if ok { aof::finish_rewrite(srv, &rw) } else { Err("the child failed".into()) };
            match done {
                Ok(()) => {
                    srv.persist.last_rewrite_ok = true;
                    srv.persist.aof_rewrites += 1;
                    srv.persist.rewrite_failures = 0;
                    crate::log(&srv.config, "Background AOF rewrite finished successfully");
                }
                Err(e) => {
                    let _ = std::fs::remove_file(&rw.tmp);
                    srv.persist.last_rewrite_ok = false;
                    srv.persist.rewrite_failures += 1;
                    crate::log(&srv.config, &format!("Warning: Background AOF rewrite failed: {e}"));
                }
            }
        }
    }
}

/// After FLUSHALL (flushAllDataAndResetRDB): a BGSAVE under way would write the old data, so
/// it is stopped; with save points, the empty dataset is saved at once.
pub fn after_flushall(srv: &mut Server) {
    if matches!(srv.persist.child.as_ref().map(|c| &c.job), Some(Job::Rdb { .. })) {
        kill_child(srv);
    }
    if !srv.config.save.is_empty() {
        // A failure is logged by save; FLUSHALL still succeeds, as in Redis, and its save is
        // not one of INFO's rdb_saves there.
        let saves = srv.persist.rdb_saves;
        let _ = save(srv);
        srv.persist.rdb_saves = saves;
    }
}

/// Stops a running child (shutdown); its temp file is removed.
fn kill_child(srv: &mut Server) {
    let Some(child) = srv.persist.child.take() else { return };
    // SAFETY: signalling and reaping our own child.
    unsafe {
        libc::kill(child.pid, libc::SIGKILL);
        let mut status = 0;
        libc::waitpid(child.pid, &mut status, 0);
    }
    let tmp = match &child.job {
        Job::Rdb { tmp, .. } | Job::ReplSnapshot { tmp, .. } => tmp,
        Job::Rewrite(rw) => &rw.tmp,
    };
    let _ = std::fs::remove_file(tmp);
}

/// What SHUTDOWN (or SIGTERM) does before exiting: stop the child, flush and fsync the AOF,
/// and save the RDB when asked to (`Some(true)`) or when save points exist (`None`).
pub fn shutdown(srv: &mut Server, save_rdb: Option<bool>) -> Result<(), String> {
    kill_child(srv);
    if srv.persist.aof.is_some() {
        crate::log(&srv.config, "Calling fsync() on the AOF file.");
        aof::Aof::flush_now(srv).map_err(|e| format!("Error flushing the AOF: {e}"))?;
    }
    if save_rdb.unwrap_or(!srv.config.save.is_empty()) {
        crate::log(&srv.config, "Saving the final RDB snapshot before exiting.");
        save(srv)?;
    }
    Ok(())
}

/// The `# Persistence` section of INFO, with Redis 7.0's fields.
pub fn info(srv: &Server) -> String {
    let p = &srv.persist;
    let now = Instant::now();
    let current = |rewrite: bool| match &p.child {
        Some(c) if matches!(c.job, Job::Rewrite(_)) == rewrite => now.duration_since(c.started).as_secs() as i64,
        _ => -1,
    };
    let status = |ok: bool| if ok { "ok" } else { "err" };
    let aof_ok = p.aof.as_ref().is_none_or(|a| a.last_write_ok);
    let mut s = format!(
        "# Persistence\r\nloading:0\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\ncurrent_cow_size:0\r\ncurrent_cow_size_age:0\r\ncurrent_fork_perc:0.00\r\ncurrent_save_keys_processed:0\r\ncurrent_save_keys_total:0\r\n\
rdb_changes_since_last_save:{}\r\nrdb_bgsave_in_progress:{}\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\nrdb_last_bgsave_time_sec:{}\r\nrdb_current_bgsave_time_sec:{}\r\nrdb_saves:{}\r\nrdb_last_cow_size:0\r\nrdb_last_load_keys_expired:0\r\nrdb_last_load_keys_loaded:{}\r\n\
aof_enabled:{}\r\naof_rewrite_in_progress:{}\r\naof_rewrite_scheduled:{}\r\naof_last_rewrite_time_sec:{}\r\naof_current_rewrite_time_sec:{}\r\naof_last_bgrewrite_status:{}\r\naof_rewrites:{}\r\naof_rewrites_consecutive_failures:{}\r\naof_last_write_status:{}\r\naof_last_cow_size:0\r\nmodule_fork_in_progress:0\r\nmodule_fork_last_cow_size:0\r\n",
        srv.dirty,
        p.saving() as u8,
        srv.lastsave,
        status(p.last_bgsave_ok),
        p.last_bgsave_secs,
        current(false),
        p.rdb_saves,
        p.keys_loaded,
        p.aof.is_some() as u8,
        p.rewriting() as u8,
        p.rewrite_scheduled as u8,
        p.last_rewrite_secs,
        current(true),
        status(p.last_rewrite_ok),
        p.aof_rewrites,
        p.rewrite_failures,
        status(aof_ok),
    );
    if let Some(a) = &p.aof {
        s.push_str(&format!(
            "aof_current_size:{}\r\naof_base_size:{}\r\naof_pending_rewrite:0\r\naof_buffer_length:{}\r\naof_pending_bio_fsync:{}\r\naof_delayed_fsync:0\r\n",
            a.current_size,
            a.base_size,
            srv.prop.buf.len(),
            a.signal.fsync_running.get() as u8,
        ));
    }
    s
}
