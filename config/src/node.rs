//! The typed configuration of a slotgate-node, its Redis 7.0 defaults, and the per-directive
//! entry points (apply from a file line, CONFIG GET, CONFIG SET).

use std::path::PathBuf;

use crate::table::{self, LoadState};
use crate::value;

/// Declares a Redis enum config: variants, their config names, and name lookup.
macro_rules! config_enum {
    ($(#[$doc:meta])* $ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $ty { $(#[doc = $name] $variant),+ }

        impl $ty {
            /// Every variant, in the order Redis lists them in error messages.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];
            /// Config names, index-aligned with `ALL`.
            pub const NAMES: &'static [&'static str] = &[$($name),+];

            /// The name CONFIG GET reports.
            pub fn name(self) -> &'static str {
                match self { $($ty::$variant => $name),+ }
            }

            /// Looks a value up by its config name (case-insensitive).
            pub fn from_name(s: &str) -> Option<$ty> {
                Self::NAMES.iter().position(|n| n.eq_ignore_ascii_case(s)).map(|i| Self::ALL[i])
            }

            pub(crate) fn index(self) -> usize {
                Self::ALL.iter().position(|v| *v == self).unwrap_or(0)
            }
        }
    };
}

config_enum! {
    /// `maxmemory-policy` values.
    EvictionPolicy {
        VolatileLru => "volatile-lru",
        VolatileLfu => "volatile-lfu",
        VolatileRandom => "volatile-random",
        VolatileTtl => "volatile-ttl",
        AllKeysLru => "allkeys-lru",
        AllKeysLfu => "allkeys-lfu",
        AllKeysRandom => "allkeys-random",
        NoEviction => "noeviction",
    }
}

config_enum! {
    /// `appendfsync` values.
    AppendFsync { Always => "always", EverySec => "everysec", No => "no" }
}

config_enum! {
    /// `loglevel` values.
    LogLevel {
        Debug => "debug",
        Verbose => "verbose",
        Notice => "notice",
        Warning => "warning",
        Nothing => "nothing",
    }
}

config_enum! {
    /// `cluster-preferred-endpoint-type` values: what CLUSTER SLOTS and redirections name.
    EndpointType { Ip => "ip", Hostname => "hostname", UnknownEndpoint => "unknown-endpoint" }
}

config_enum! {
    /// `tls-auth-clients` values.
    TlsAuthClients { No => "no", Yes => "yes", Optional => "optional" }
}

/// The typed configuration of a slotgate-node (all fields pub, Redis defaults in Default).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeConfig {
    /// Absolute path of the main config file, if any (target of CONFIG REWRITE).
    pub config_file: Option<PathBuf>,
    /// `port`, 0..=65535.
    pub port: u16,
    /// `bind` addresses.
    pub bind: Vec<String>,
    /// `dir`; stored only, the server chdir()s into it.
    pub dir: PathBuf,
    /// `daemonize` (immutable).
    pub daemonize: bool,
    /// `pidfile` (immutable); empty means none.
    pub pidfile: String,
    /// `logfile` (immutable); empty means stdout.
    pub logfile: String,
    /// `loglevel`.
    pub loglevel: LogLevel,
    /// `timeout` in seconds, 0 = never.
    pub timeout: u64,
    /// `tcp-keepalive` in seconds.
    pub tcp_keepalive: u64,
    /// `tcp-backlog` (immutable).
    pub tcp_backlog: u32,
    /// `protected-mode`.
    pub protected_mode: bool,
    /// `maxclients`.
    pub maxclients: u64,
    /// `requirepass`; None when unset.
    pub requirepass: Option<String>,
    /// `notify-keyspace-events` as class flags (`config::notify`).
    pub notify_keyspace_events: u32,
    /// `maxmemory` in bytes, 0 = unlimited.
    pub maxmemory: u64,
    /// `maxmemory-policy`.
    pub maxmemory_policy: EvictionPolicy,
    /// `maxmemory-samples`.
    pub maxmemory_samples: u32,
    /// `save` points as (seconds, changes).
    pub save: Vec<(u64, u64)>,
    /// `dbfilename`.
    pub dbfilename: String,
    /// `appendonly`.
    pub appendonly: bool,
    /// `appendfilename` (immutable in Redis 7.0).
    pub appendfilename: String,
    /// `appenddirname` (immutable).
    pub appenddirname: String,
    /// `appendfsync`.
    pub appendfsync: AppendFsync,
    /// `auto-aof-rewrite-percentage`.
    pub auto_aof_rewrite_percentage: u64,
    /// `auto-aof-rewrite-min-size` in bytes.
    pub auto_aof_rewrite_min_size: u64,
    /// `aof-load-truncated`.
    pub aof_load_truncated: bool,
    /// `cluster-enabled` (immutable).
    pub cluster_enabled: bool,
    /// `cluster-config-file` (immutable).
    pub cluster_config_file: String,
    /// `cluster-node-timeout` in milliseconds.
    pub cluster_node_timeout: u64,
    /// `cluster-port` (immutable); 0 = port + 10000.
    pub cluster_port: u16,
    /// `cluster-announce-ip`; empty = not announced.
    pub cluster_announce_ip: String,
    /// `cluster-announce-hostname`; empty = none.
    pub cluster_announce_hostname: String,
    /// `cluster-preferred-endpoint-type`.
    pub cluster_preferred_endpoint_type: EndpointType,
    /// `cluster-announce-port`.
    pub cluster_announce_port: u16,
    /// `cluster-announce-bus-port`.
    pub cluster_announce_bus_port: u16,
    /// `cluster-announce-tls-port`: the TLS port other nodes and TLS clients are told under
    /// `tls-cluster` (0: the bound one).
    pub cluster_announce_tls_port: u16,
    /// `cluster-require-full-coverage`.
    pub cluster_require_full_coverage: bool,
    /// `cluster-allow-reads-when-down`.
    pub cluster_allow_reads_when_down: bool,
    /// `cluster-replica-validity-factor`.
    pub cluster_replica_validity_factor: u64,
    /// `cluster-migration-barrier`.
    pub cluster_migration_barrier: u64,
    /// `cluster-replica-no-failover`.
    pub cluster_replica_no_failover: bool,
    /// `cluster-allow-replica-migration`.
    pub cluster_allow_replica_migration: bool,
    /// `proto-max-bulk-len` in bytes.
    pub proto_max_bulk_len: u64,
    /// `client-query-buffer-limit` in bytes.
    pub client_query_buffer_limit: u64,
    /// `hz`, clamped to 1..=500.
    pub hz: u32,
    /// `databases` (immutable): how many numbered databases SELECT can reach.
    pub databases: u32,
    /// `busy-reply-threshold` in milliseconds (alias `lua-time-limit`).
    pub busy_reply_threshold: u64,
    /// `tracking-table-max-keys`: keys the client-side caching table may remember (0: no limit).
    pub tracking_table_max_keys: u64,
    /// `acllog-max-len`: how many ACL LOG entries are kept.
    pub acllog_max_len: u64,
    /// `enable-protected-configs` (immutable): `no`, `yes` or `local`; who may CONFIG SET `dir`
    /// and `dbfilename`.
    pub enable_protected_configs: String,
    /// `stop-writes-on-bgsave-error`: writes get -MISCONF after a failed background save.
    pub stop_writes_on_bgsave_error: bool,
    /// `replica-read-only` (alias `slave-read-only`).
    pub replica_read_only: bool,
    /// `replica-priority` (alias `slave-priority`): shown in INFO, for Sentinel.
    pub replica_priority: u64,
    /// `disable-thp` (immutable): transparent huge pages off for the process.
    pub disable_thp: bool,
    /// `hash-max-listpack-entries` (alias `hash-max-ziplist-entries`).
    pub hash_max_listpack_entries: u64,
    /// `hash-max-listpack-value` (alias `hash-max-ziplist-value`).
    pub hash_max_listpack_value: u64,
    /// `set-max-intset-entries`.
    pub set_max_intset_entries: u64,
    /// `zset-max-listpack-entries` (alias `zset-max-ziplist-entries`).
    pub zset_max_listpack_entries: u64,
    /// `zset-max-listpack-value` (alias `zset-max-ziplist-value`).
    pub zset_max_listpack_value: u64,
    /// Directives accepted for redis.conf compatibility whose work does not apply to slotgate (README, "Config directives").
    pub compat: CompatSettings,
    /// `repl-backlog-size` in bytes.
    pub repl_backlog_size: u64,
    /// `repl-ping-replica-period` in seconds (alias `repl-ping-slave-period`).
    pub repl_ping_replica_period: u64,
    /// `masteruser`; None when unset.
    pub masteruser: Option<String>,
    /// `masterauth`; None when unset.
    pub masterauth: Option<String>,
    /// `replicaof host port`: the master to replicate from (kept current by REPLICAOF).
    pub replicaof: Option<(String, u16)>,
    /// `min-replicas-to-write`.
    pub min_replicas_to_write: u64,
    /// `min-replicas-max-lag` in seconds.
    pub min_replicas_max_lag: u64,
    /// `aclfile` (immutable).
    pub aclfile: String,
    /// `user` directives, in order (redis.conf and `--user`); exclusive with `aclfile`.
    pub users: Vec<crate::acl::UserDirective>,
    /// `client-output-buffer-limit` as (class, hard, soft, soft-seconds); class is normal|replica|pubsub.
    pub client_output_buffer_limit: Vec<(String, u64, u64, u64)>,
    /// `tls-port` (immutable); 0 = no TLS listener.
    pub tls_port: u16,
    /// `tls-cert-file`; empty = none.
    pub tls_cert_file: String,
    /// `tls-key-file`; empty = none.
    pub tls_key_file: String,
    /// `tls-client-cert-file`: what the node presents on its own links (else `tls-cert-file`).
    pub tls_client_cert_file: String,
    /// `tls-client-key-file`.
    pub tls_client_key_file: String,
    /// `tls-ca-cert-file`.
    pub tls_ca_cert_file: String,
    /// `tls-ca-cert-dir`.
    pub tls_ca_cert_dir: String,
    /// `tls-auth-clients`.
    pub tls_auth_clients: TlsAuthClients,
    /// `tls-protocols`; empty = TLSv1.2 and TLSv1.3.
    pub tls_protocols: String,
    /// `tls-ciphersuites` (TLS 1.3 suites); empty = the defaults.
    pub tls_ciphersuites: String,
    /// `tls-cluster`: the cluster bus and MIGRATE use TLS.
    pub tls_cluster: bool,
    /// `tls-replication`: a replica's link to its master uses TLS.
    pub tls_replication: bool,
}

impl Default for NodeConfig {
    fn default() -> Self {
        const MB: u64 = 1024 * 1024;
        NodeConfig {
            config_file: None,
            port: 6379,
            bind: vec!["*".into(), "-::*".into()],
            dir: PathBuf::from("."),
            daemonize: false,
            pidfile: String::new(),
            logfile: String::new(),
            loglevel: LogLevel::Notice,
            timeout: 0,
            tcp_keepalive: 300,
            tcp_backlog: 511,
            protected_mode: true,
            maxclients: 10000,
            requirepass: None,
            maxmemory: 0,
            maxmemory_policy: EvictionPolicy::NoEviction,
            maxmemory_samples: 5,
            notify_keyspace_events: 0,
            save: vec![(3600, 1), (300, 100), (60, 10000)],
            dbfilename: "dump.rdb".into(),
            appendonly: false,
            appendfilename: "appendonly.aof".into(),
            appenddirname: "appendonlydir".into(),
            appendfsync: AppendFsync::EverySec,
            auto_aof_rewrite_percentage: 100,
            auto_aof_rewrite_min_size: 64 * MB,
            aof_load_truncated: true,
            cluster_enabled: false,
            cluster_config_file: "nodes.conf".into(),
            cluster_node_timeout: 15000,
            cluster_port: 0,
            cluster_announce_ip: String::new(),
            cluster_announce_hostname: String::new(),
            cluster_preferred_endpoint_type: EndpointType::Ip,
            cluster_announce_port: 0,
            cluster_announce_bus_port: 0,
            cluster_announce_tls_port: 0,
            cluster_require_full_coverage: true,
            cluster_allow_reads_when_down: false,
            cluster_replica_validity_factor: 10,
            cluster_migration_barrier: 1,
            cluster_replica_no_failover: false,
            cluster_allow_replica_migration: true,
            proto_max_bulk_len: 512 * MB,
            client_query_buffer_limit: 1024 * MB,
            hz: 10,
            databases: 16,
            busy_reply_threshold: 5000,
            tracking_table_max_keys: 1_000_000,
            acllog_max_len: crate::acl::DEFAULT_LOG_MAX_LEN as u64,
            enable_protected_configs: "no".into(),
            stop_writes_on_bgsave_error: true,
            replica_read_only: true,
            replica_priority: 100,
            disable_thp: true,
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            set_max_intset_entries: 512,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            compat: CompatSettings::default(),
            repl_backlog_size: MB,
            repl_ping_replica_period: 10,
            masteruser: None,
            masterauth: None,
            replicaof: None,
            min_replicas_to_write: 0,
            min_replicas_max_lag: 10,
            aclfile: String::new(),
            users: Vec::new(),
            client_output_buffer_limit: vec![
                ("normal".into(), 0, 0, 0),
                ("replica".into(), 256 * MB, 64 * MB, 60),
                ("pubsub".into(), 32 * MB, 8 * MB, 60),
            ],
            tls_port: 0,
            tls_cert_file: String::new(),
            tls_key_file: String::new(),
            tls_client_cert_file: String::new(),
            tls_client_key_file: String::new(),
            tls_ca_cert_file: String::new(),
            tls_ca_cert_dir: String::new(),
            tls_auth_clients: TlsAuthClients::Yes,
            tls_protocols: String::new(),
            tls_ciphersuites: String::new(),
            tls_cluster: false,
            tls_replication: false,
        }
    }
}

impl NodeConfig {
    /// Whether TLS is used anywhere (Redis configures TLS under the same condition).
    pub fn tls_wanted(&self) -> bool {
        self.tls_port != 0 || self.tls_cluster || self.tls_replication
    }

    /// Applies one directive (name is case-insensitive) with its arguments, as a config-file line would.
    pub fn apply(&mut self, name: &str, args: &[String]) -> Result<(), String> {
        value::apply_directive(self, name, args, None)
    }

    /// Internal form of `apply` that carries file-loading state (for `save` accumulation).
    pub(crate) fn apply_loading(&mut self, name: &str, args: &[String], st: &mut LoadState) -> Result<(), String> {
        value::apply_directive(self, name, args, Some(st))
    }

    /// Every directive name CONFIG GET can report (lowercase), in a stable order.
    pub fn names() -> &'static [&'static str] {
        table::NAMES
    }

    /// The value CONFIG GET reports for a directive (name or alias, case-insensitive).
    pub fn get(&self, name: &str) -> Option<String> {
        table::lookup(name).map(|d| d.get(self))
    }

    /// CONFIG SET for one directive at runtime; Err(reason) for unknown, immutable or bad values.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let d = table::lookup(name)
            .ok_or_else(|| format!("Unknown option or number of arguments for CONFIG SET - '{name}'"))?;
        if d.immutable {
            return Err("can't set immutable config".into());
        }
        d.set_runtime(self, value)
    }
}

/// Settings of directives slotgate accepts, checks and reports (CONFIG GET) as Redis 7.0 does,
/// but that tune machinery slotgate does not have: the process title, lazy freeing, diskless
/// replication, incremental fsyncs, rehashing, list/stream/HyperLogLog encodings; and the
/// introspection settings (slow log, latency monitor and tracking, DEBUG) the node reads here.
/// Directives whose other values would promise a feature slotgate lacks accept only the value
/// that matches what it does (see `table.rs`).
#[derive(Debug, Clone, PartialEq)]
pub struct CompatSettings {
    pub always_show_logo: bool,
    pub set_proc_title: bool,
    pub proc_title_template: String,
    pub rdbcompression: bool,
    pub rdbchecksum: bool,
    pub rdb_del_sync_files: bool,
    pub replica_serve_stale_data: String,
    pub repl_diskless_sync: bool,
    pub repl_diskless_sync_delay: u64,
    pub repl_diskless_sync_max_replicas: u64,
    pub repl_diskless_load: String,
    pub repl_disable_tcp_nodelay: bool,
    pub lazyfree_lazy_eviction: bool,
    pub lazyfree_lazy_expire: bool,
    pub lazyfree_lazy_server_del: bool,
    pub lazyfree_lazy_user_del: bool,
    pub lazyfree_lazy_user_flush: bool,
    pub replica_lazy_flush: bool,
    pub oom_score_adj: String,
    pub oom_score_adj_values: String,
    pub no_appendfsync_on_rewrite: bool,
    pub aof_use_rdb_preamble: bool,
    pub aof_timestamp_enabled: String,
    pub aof_rewrite_incremental_fsync: bool,
    pub rdb_save_incremental_fsync: bool,
    pub slowlog_log_slower_than: u64,
    pub slowlog_max_len: u64,
    pub latency_monitor_threshold: u64,
    pub latency_tracking: bool,
    /// Percentiles INFO latencystats prints, as CONFIG GET shows them (`50 99 99.9`).
    pub latency_tracking_info_percentiles: String,
    /// `enable-debug-command` (immutable): `no`, `yes` or `local`.
    pub enable_debug_command: String,
    pub list_max_listpack_size: u64,
    pub list_compress_depth: u64,
    pub hll_sparse_max_bytes: u64,
    pub stream_node_max_bytes: u64,
    pub stream_node_max_entries: u64,
    pub activerehashing: bool,
    pub dynamic_hz: bool,
    pub jemalloc_bg_thread: bool,
}

impl Default for CompatSettings {
    fn default() -> Self {
        CompatSettings {
            always_show_logo: false,
            set_proc_title: true,
            proc_title_template: "{title} {listen-addr} {server-mode}".into(),
            rdbcompression: true,
            rdbchecksum: true,
            rdb_del_sync_files: false,
            replica_serve_stale_data: "yes".into(),
            repl_diskless_sync: true,
            repl_diskless_sync_delay: 5,
            repl_diskless_sync_max_replicas: 0,
            repl_diskless_load: "disabled".into(),
            repl_disable_tcp_nodelay: false,
            lazyfree_lazy_eviction: false,
            lazyfree_lazy_expire: false,
            lazyfree_lazy_server_del: false,
            lazyfree_lazy_user_del: false,
            lazyfree_lazy_user_flush: false,
            replica_lazy_flush: false,
            oom_score_adj: "no".into(),
            oom_score_adj_values: "0 200 800".into(),
            no_appendfsync_on_rewrite: false,
            aof_use_rdb_preamble: true,
            aof_timestamp_enabled: "no".into(),
            aof_rewrite_incremental_fsync: true,
            rdb_save_incremental_fsync: true,
            slowlog_log_slower_than: 10000,
            slowlog_max_len: 128,
            latency_monitor_threshold: 0,
            latency_tracking: true,
            latency_tracking_info_percentiles: "50 99 99.9".into(),
            enable_debug_command: "no".into(),
            list_max_listpack_size: (-2i64) as u64,
            list_compress_depth: 0,
            hll_sparse_max_bytes: 3000,
            stream_node_max_bytes: 4096,
            stream_node_max_entries: 100,
            activerehashing: true,
            dynamic_hz: true,
            jemalloc_bg_thread: true,
        }
    }
}
