//! The node's shared state and its life cycle: the listener, the per-second housekeeping (cron)
//! and shutdown. Everything runs on one thread, like Redis: the keyspace needs no locks, and
//! each command sees the state the previous one left.

pub mod blocking;
mod client;
pub mod conn;
pub mod cron;
pub mod databases;
pub mod notify;
pub mod pause;
pub mod propagate;
pub mod tracking;

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

use config::NodeConfig;
use tokio::net::TcpListener;
use tokio::sync::Notify;

pub use client::{Client, ClientHandle};

use crate::alloc;
use crate::commands::CommandTable;
use crate::keyspace::{evict, now_ms, Db};

/// Server-wide counters reported by INFO stats.
#[derive(Debug, Default)]
pub struct Stats {
    pub total_connections_received: u64,
    pub total_commands_processed: u64,
    pub rejected_connections: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub evicted_keys: u64,
    pub error_replies: u64,
    pub unknown_commands: u64,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
    /// Recent per-100ms operation samples for `instantaneous_ops_per_sec`.
    pub ops_samples: [u64; 16],
    pub ops_sample_idx: usize,
    pub last_sample_ops: u64,
    pub last_sample_at: Option<Instant>,
}

/// The whole state of a node.
pub struct Server {
    /// The database the running command works on (see `databases`).
    pub db: Db,
    /// Which database `db` is.
    pub db_index: usize,
    /// Every database; the entry at `db_index` is an empty stand-in while `db` holds it.
    pub dbs: Vec<Db>,
    pub config: NodeConfig,
    pub stats: Stats,
    pub commands: CommandTable,
    /// Every connected client, shared with the busy-script responder.
    pub clients: Registry,
    pub next_client_id: u64,
    pub started: Instant,
    pub run_id: String,
    /// Unix seconds of the last successful save (start time until a save happens).
    pub lastsave: i64,
    /// Changes since the last save.
    pub dirty: u64,
    /// The plaintext port actually bound (0: none, `port 0`).
    pub port: u16,
    /// The TLS port actually bound (0: none).
    pub tls_port: u16,
    /// What the `tls-*` directives describe, when TLS is used anywhere.
    pub tls: Option<crate::transport::NodeTls>,
    /// Woken when SHUTDOWN is accepted.
    pub shutdown: Rc<Notify>,
    /// Clients blocked on each key (BLPOP and friends), in arrival order.
    pub blocked: hashbrown::HashMap<databases::DbKey, std::collections::VecDeque<u64>>,
    /// Keys that received data while clients were blocked on them.
    pub ready_keys: Vec<databases::DbKey>,
    /// Clients watching each key (WATCH).
    pub watched: hashbrown::HashMap<databases::DbKey, Vec<u64>>,
    /// Where eviction of random keys starts next (Redis walks the databases in turn).
    pub evict_next_db: usize,
    /// Clients whose watched keys changed: their EXEC fails.
    pub watch_dirty: std::collections::HashSet<u64>,
    /// Subscribers per channel, per pattern and per shard channel.
    pub channels: HashMap<Box<[u8]>, Vec<u64>>,
    pub patterns: HashMap<Box<[u8]>, Vec<u64>>,
    pub shard_channels: HashMap<Box<[u8]>, Vec<u64>>,
    /// The Lua engine and its script cache.
    pub scripting: crate::scripting::Scripting,
    /// Duplicates of the listening sockets, for accepting while a script is busy.
    pub listeners: Rc<Vec<std::net::TcpListener>>,
    pub tls_listeners: Rc<Vec<std::net::TcpListener>>,
    /// Connections accepted during a busy script, waiting for their task.
    pub adopt: Vec<crate::scripting::Adopted>,
    /// The cluster view when `cluster-enabled yes`.
    pub cluster: Option<Box<crate::cluster::Cluster>>,
    /// Replication: this node's history, its replicas, and its master if it is a replica.
    pub repl: crate::replication::Replication,
    /// The node itself, for tasks a command starts (the replication link).
    pub self_ref: std::rc::Weak<RefCell<Server>>,
    /// Clients whose command waits for a pause to end (CLIENT PAUSE, a manual failover).
    pub paused_clients: Vec<u64>,
    /// Failures within a reply that succeeded (errors inside a script's array), for call() to
    /// add to the command's failed_calls.
    pub reply_errors: u32,
    /// The pause CLIENT PAUSE asked for, if any.
    pub client_pause: Option<pause::ClientPause>,
    /// Connections kept open by MIGRATE to its targets (`host:port`, or `tls:host:port`).
    pub migrate_conns: HashMap<String, (crate::transport::BlockingStream, std::time::Instant)>,
    /// Changes to the dataset as commands, for the AOF (and replicas later).
    pub prop: propagate::Propagation,
    /// AOF and RDB state.
    pub persist: crate::persist::Persistence,
    /// ACL users, the ACL LOG and the ACL file (`main` loads them at start-up).
    pub acl: config::acl::AclStore,
    /// Memory was over `maxmemory` when the current client command started: a script's first
    /// write that needs memory is refused (Redis's `pre_command_oom_state`).
    pub oom_at_command_start: bool,
    /// Slow log, latency monitor and histograms, error counts (INFO, SLOWLOG, LATENCY).
    pub introspect: crate::introspect::Introspect,
    /// Client-side caching: the keys tracking clients read and the broadcast prefixes.
    pub tracking: tracking::Tracking,
}

/// The connected clients by id.
pub type Registry = Rc<RefCell<HashMap<u64, Rc<ClientHandle>>>>;

/// A node shared between its connection tasks (all on one thread).
pub type Shared = Rc<RefCell<Server>>;

fn random_hex(n: usize) -> String {
    let mut s = String::with_capacity(n);
    while s.len() < n {
        s.push_str(&format!("{:016x}", evict::rand()));
    }
    s.truncate(n);
    s
}

impl Server {
    /// A fresh node for `config`.
    pub fn new(config: NodeConfig) -> Server {
        let seed = now_ms() as u64 ^ ((std::process::id() as u64) << 32);
        evict::seed(seed);
        let mut db = Db::new();
        db.lfu = is_lfu(&config);
        crate::keyspace::limits::apply(&config);
        let backlog_size = config.repl_backlog_size as usize;
        let dbs = databases::initial(config.databases, db.lfu);
        Server {
            db,
            db_index: 0,
            dbs,
            evict_next_db: 0,
            port: config.port,
            tls_port: config.tls_port,
            tls: None,
            config,
            stats: Stats::default(),
            commands: CommandTable::new(),
            clients: Registry::default(),
            next_client_id: 1,
            started: Instant::now(),
            run_id: random_hex(40),
            lastsave: now_ms() / 1000,
            dirty: 0,
            shutdown: Rc::new(Notify::new()),
            blocked: Default::default(),
            ready_keys: Vec::new(),
            watched: Default::default(),
            watch_dirty: Default::default(),
            channels: HashMap::new(),
            patterns: HashMap::new(),
            shard_channels: HashMap::new(),
            // A Lua state that cannot be created means the process is broken, not bad input.
            scripting: crate::scripting::Scripting::new().expect("cannot create the Lua state"),
            listeners: Rc::default(),
            tls_listeners: Rc::default(),
            adopt: Vec::new(),
            cluster: None,
            repl: crate::replication::Replication::new(backlog_size),
            self_ref: std::rc::Weak::new(),
            paused_clients: Vec::new(),
            client_pause: None,
            reply_errors: 0,
            migrate_conns: HashMap::new(),
            prop: propagate::Propagation::default(),
            persist: crate::persist::Persistence::default(),
            acl: config::acl::AclStore::default(),
            oom_at_command_start: false,
            introspect: crate::introspect::Introspect::new(),
            tracking: tracking::Tracking::default(),
        }
    }

    /// Evicts keys until memory is under `maxmemory`; false if that is impossible (policy
    /// `noeviction` or nothing evictable).
    pub fn make_room(&mut self) -> bool {
        let limit = self.config.maxmemory as usize;
        let now = now_ms();
        while alloc::used_memory() > limit {
            let samples = self.config.maxmemory_samples as usize;
            let Some((index, victim)) = evict::pick_victim_in(self, samples, now) else {
                return false;
            };
            self.db_at(index).remove(&victim);
            if self.tracking.used {
                tracking::invalidate_key(self, 0, &victim, true);
            }
            self.stats.evicted_keys += 1;
            notify::notify(self, notify::EVICTED, "evicted", &victim);
            self.dirty += 1;
            if self.prop.active() {
                self.prop.push_in(index, &[&b"DEL"[..], &victim]);
            }
        }
        true
    }

    /// Notes that a list or sorted set at `key` received elements, so clients blocked on it
    /// are served once the current command finishes.
    pub fn key_ready(&mut self, key: &[u8]) {
        self.key_ready_in(self.db_index, key);
    }

    /// `key_ready` for a key of database `db`.
    pub fn key_ready_in(&mut self, db: usize, key: &[u8]) {
        if self.blocked.is_empty() {
            return;
        }
        let k = databases::KeyRef(db, key);
        if self.blocked.contains_key(&k) && !self.ready_keys.iter().any(|r| r.0 == db && &*r.1 == key) {
            self.ready_keys.push((db, key.into()));
        }
    }

    /// Marks clients watching `key` so their EXEC fails.
    pub fn touch_key(&mut self, key: &[u8]) {
        self.touch_key_in(self.db_index, key);
    }

    /// `touch_key` for a key of database `db`.
    pub fn touch_key_in(&mut self, db: usize, key: &[u8]) {
        if let Some(ids) = self.watched.get(&databases::KeyRef(db, key)) {
            self.watch_dirty.extend(ids.iter().copied());
        }
    }

    /// Drops every trace of a disconnected client: blocked queues, watches, subscriptions.
    pub fn forget_client(&mut self, client: &mut Client) {
        blocking::unblock(self, client);
        crate::commands::unwatch_all(self, client);
        if client.track.get().on {
            tracking::disable(self, client.id, &client.track.clone());
        }
        for (map, names) in [
            (&mut self.channels, &client.subs),
            (&mut self.patterns, &client.psubs),
            (&mut self.shard_channels, &client.ssubs),
        ] {
            for name in names {
                if let Some(ids) = map.get_mut(name) {
                    ids.retain(|id| *id != client.id);
                    if ids.is_empty() {
                        map.remove(name);
                    }
                }
            }
        }
        self.repl.replicas.retain(|r| r.client_id != client.id);
        self.repl.waiters.retain(|w| w.0 != client.id);
        self.clients.borrow_mut().remove(&client.id);
    }

    /// Applies side effects of a config change made by CONFIG SET.
    pub fn config_changed(&mut self) {
        let lfu = is_lfu(&self.config);
        self.each_db_mut(|db| db.lfu = lfu);
        notify::sync(self);
        crate::keyspace::limits::apply(&self.config);
        self.acl.set_log_max_len(self.config.acllog_max_len as usize);
        if let Some(cl) = self.cluster.as_deref_mut() {
            crate::cluster::announce(cl, &self.config, self.port, self.tls_port);
        }
    }

    /// TLS for links between nodes (cluster bus, MIGRATE) when `tls-cluster yes`.
    pub fn cluster_tls(&self) -> Option<crate::transport::NodeTls> {
        self.tls.clone().filter(|_| self.config.tls_cluster)
    }

    /// TLS for the link to our master when `tls-replication yes`.
    pub fn replication_tls(&self) -> Option<crate::transport::NodeTls> {
        self.tls.clone().filter(|_| self.config.tls_replication)
    }

    /// Seconds since start.
    pub fn uptime(&self) -> u64 {
        self.started.elapsed().as_secs()
    }
}

fn is_lfu(config: &NodeConfig) -> bool {
    use config::EvictionPolicy::*;
    matches!(config.maxmemory_policy, AllKeysLfu | VolatileLfu)
}

/// Binds the configured addresses (all of `bind`, as Redis does) on `port`.
pub async fn bind(config: &NodeConfig, port: u16) -> std::io::Result<Vec<TcpListener>> {
    let mut listeners = Vec::new();
    let mut last_err = None;
    for addr in &config.bind {
        let optional = addr.starts_with('-');
        let host = addr.trim_start_matches('-');
        let host = match host {
            "*" => "0.0.0.0",
            "::*" => "::",
            h => h,
        };
        let sock: SocketAddr = match format!("{host}:{port}").parse().or_else(|_| format!("[{host}]:{port}").parse()) {
            Ok(s) => s,
            Err(_) => {
                last_err =
                    Some(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("bad bind address '{addr}'")));
                continue;
            }
        };
        match bind_one(sock, config.tcp_backlog) {
            Ok(l) => listeners.push(l),
            // `-addr` marks an address that may be unavailable (e.g. no IPv6).
            Err(_) if optional => {}
            Err(e) => {
                return Err(std::io::Error::new(
                    e.kind(),
                    format!("Could not create server TCP listening socket {sock}: {e}"),
                ))
            }
        }
    }
    if listeners.is_empty() {
        return Err(last_err.unwrap_or_else(|| std::io::Error::other("no address to listen on")));
    }
    Ok(listeners)
}

fn bind_one(addr: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}

/// Runs the node until SHUTDOWN or a termination signal, serving clients on the plaintext
/// listeners and on the TLS ones.
pub async fn run(server: Shared, listeners: Vec<TcpListener>, tls_listeners: Vec<TcpListener>) {
    {
        use std::os::fd::AsFd;
        let dups = |ls: &[TcpListener]| -> Vec<std::net::TcpListener> {
            ls.iter().filter_map(|l| l.as_fd().try_clone_to_owned().ok()).map(std::net::TcpListener::from).collect()
        };
        let mut srv = server.borrow_mut();
        srv.listeners = Rc::new(dups(&listeners));
        srv.tls_listeners = Rc::new(dups(&tls_listeners));
    }
    for listener in listeners {
        tokio::task::spawn_local(accept_loop(server.clone(), listener));
    }
    for listener in tls_listeners {
        tokio::task::spawn_local(accept_tls_loop(server.clone(), listener));
    }
    tokio::task::spawn_local(cron::run(server.clone()));
    let aof_signal = server.borrow().persist.aof.as_ref().map(|a| a.signal.clone());
    if let Some(signal) = aof_signal {
        tokio::task::spawn_local(crate::persist::aof::run_flusher(server.clone(), signal));
    }
    let shutdown = server.borrow().shutdown.clone();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let by_signal = tokio::select! {
        _ = shutdown.notified() => false,
        _ = tokio::signal::ctrl_c() => true,
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => true,
    };
    if by_signal {
        // SHUTDOWN did this itself (it may refuse); a signal saves like a plain SHUTDOWN.
        let mut srv = server.borrow_mut();
        crate::log(&srv.config, "Received SIGTERM scheduling shutdown...");
        if let Err(e) = crate::persist::shutdown(&mut srv, None) {
            crate::log(&srv.config, &format!("Warning: Error trying to save the DB: {e}"));
        }
    }
    crate::log(&server.borrow().config, "Redis is now ready to exit, bye bye...");
}

/// The next connection; on errors (out of file descriptors and similar) it backs off instead
/// of spinning.
async fn accept_next(listener: &TcpListener) -> (tokio::net::TcpStream, std::net::SocketAddr) {
    loop {
        match listener.accept().await {
            Ok(x) => return x,
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
        }
    }
}

async fn accept_loop(server: Shared, listener: TcpListener) {
    loop {
        let (stream, peer) = accept_next(&listener).await;
        conn::accept(&server, crate::transport::Stream::Plain(stream), peer);
    }
}

/// Accepts TLS clients. Each handshake runs in the new connection's own task, bounded in time,
/// so a slow or plaintext client never holds up the others.
async fn accept_tls_loop(server: Shared, listener: TcpListener) {
    loop {
        let (stream, peer) = accept_next(&listener).await;
        let Some(tls) = server.borrow().tls.clone() else { continue };
        let server = server.clone();
        tokio::task::spawn_local(async move {
            match tls.accept_client(stream).await {
                Ok(stream) => conn::accept(&server, stream, peer),
                Err(e) => crate::log_verbose(
                    &server.borrow().config,
                    &format!("Error accepting a client connection: {e} (addr={peer})"),
                ),
            }
        });
    }
}
