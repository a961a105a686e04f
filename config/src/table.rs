//! The directive table: every config name slotgate knows, with its Redis 7.0 type, bounds,
//! alias, mutability and field accessors. Value parsing and formatting live in `value.rs`.

use crate::node::{AppendFsync, EndpointType, EvictionPolicy, LogLevel, NodeConfig, TlsAuthClients};

const INT_MAX: i128 = i32::MAX as i128;
const UINT_MAX: i128 = u32::MAX as i128;
const LLONG_MAX: i128 = i64::MAX as i128;
const ULLONG_MAX: i128 = u64::MAX as i128;
const MB: i128 = 1024 * 1024;

/// State carried across the lines of one load (file, includes, stdin and command line).
#[derive(Debug, Default)]
pub(crate) struct LoadState {
    /// The first `save` line replaces the defaults; later ones append (Redis's save_loaded).
    pub save_loaded: bool,
    /// Include nesting depth, to stop include cycles.
    pub depth: usize,
}

/// How a directive's value is typed, parsed and stored.
pub(crate) enum Kind {
    Bool {
        get: fn(&NodeConfig) -> bool,
        set: fn(&mut NodeConfig, bool),
    },
    Num {
        min: i128,
        max: i128,
        /// Signed C type: memory values above LLONG_MAX wrap negative as in Redis.
        signed: bool,
        memory: bool,
        get: fn(&NodeConfig) -> u64,
        set: fn(&mut NodeConfig, u64),
    },
    Str {
        get: fn(&NodeConfig) -> String,
        set: fn(&mut NodeConfig, String),
        check: fn(&str) -> Result<(), String>,
        /// Empty means "unset": CONFIG REWRITE then drops the directive from the file.
        empty_is_null: bool,
    },
    Enum {
        names: &'static [&'static str],
        get: fn(&NodeConfig) -> usize,
        set: fn(&mut NodeConfig, usize),
    },
    Dir,
    Save,
    Bind,
    Obuf,
    /// `replicaof host port` (or `no one`): the master this node starts replicating from.
    ReplicaOf,
}

/// One config directive.
pub(crate) struct Directive {
    pub name: &'static str,
    /// Alternative name ("" for none).
    pub alias: &'static str,
    pub immutable: bool,
    pub kind: Kind,
}

fn any_str(_: &str) -> Result<(), String> {
    Ok(())
}

/// Redis's isValidAnnouncedHostname: a name other nodes and clients can carry verbatim.
fn check_hostname(s: &str) -> Result<(), String> {
    if s.len() >= 256 {
        return Err("Hostnames must be less than 256 characters".into());
    }
    if !s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.') {
        return Err("Hostnames may only contain alphanumeric characters, hyphens or dots".into());
    }
    Ok(())
}

/// Redis's pathIsBaseName.
fn is_base_name(s: &str) -> bool {
    !s.contains('/') && !s.contains('\\')
}

fn check_dbfilename(s: &str) -> Result<(), String> {
    if is_base_name(s) {
        Ok(())
    } else {
        Err("dbfilename can't be a path, just a filename".into())
    }
}

fn check_appendfilename(s: &str) -> Result<(), String> {
    if s.is_empty() {
        Err("appendfilename can't be empty".into())
    } else if !is_base_name(s) {
        Err("appendfilename can't be a path, just a filename".into())
    } else {
        Ok(())
    }
}

fn check_appenddirname(s: &str) -> Result<(), String> {
    if s.is_empty() {
        Err("appenddirname can't be empty".into())
    } else if !is_base_name(s) {
        Err("appenddirname can't be a path, just a dirname".into())
    } else {
        Ok(())
    }
}

fn none_if_empty(v: String) -> Option<String> {
    (!v.is_empty()).then_some(v)
}

macro_rules! d {
    ($name:literal, $kind:expr) => {
        d!($name, "", false, $kind)
    };
    ($name:literal, $alias:literal, $imm:expr, $kind:expr) => {
        Directive { name: $name, alias: $alias, immutable: $imm, kind: $kind }
    };
}

macro_rules! boolean {
    ($field:ident) => {
        Kind::Bool { get: |c| c.$field, set: |c, v| c.$field = v }
    };
}

/// Integer directive: (min, max, signed C type, memory units, getter, setter).
macro_rules! num {
    ($min:expr, $max:expr, $signed:expr, $mem:expr, $get:expr, $set:expr) => {
        Kind::Num { min: $min, max: $max, signed: $signed, memory: $mem, get: $get, set: $set }
    };
}

macro_rules! string {
    ($field:ident, $check:expr) => {
        Kind::Str { get: |c| c.$field.clone(), set: |c, v| c.$field = v, check: $check, empty_is_null: false }
    };
    (null $field:ident) => {
        Kind::Str { get: |c| c.$field.clone(), set: |c, v| c.$field = v, check: any_str, empty_is_null: true }
    };
    (option $field:ident) => {
        Kind::Str {
            get: |c| c.$field.clone().unwrap_or_default(),
            set: |c, v| c.$field = none_if_empty(v),
            check: any_str,
            empty_is_null: true,
        }
    };
}

macro_rules! enumeration {
    ($ty:ident, $field:ident) => {
        Kind::Enum { names: $ty::NAMES, get: |c| c.$field.index(), set: |c, i| c.$field = $ty::ALL[i] }
    };
}

macro_rules! compat_bool {
    ($field:ident) => {
        Kind::Bool { get: |c| c.compat.$field, set: |c, v| c.compat.$field = v }
    };
}

macro_rules! compat_num {
    ($min:expr, $max:expr, $mem:expr, $field:ident) => {
        Kind::Num {
            min: $min,
            max: $max,
            signed: true,
            memory: $mem,
            get: |c| c.compat.$field,
            set: |c, v| c.compat.$field = v,
        }
    };
}

macro_rules! compat_str {
    ($field:ident, $check:expr) => {
        Kind::Str {
            get: |c| c.compat.$field.clone(),
            set: |c, v| c.compat.$field = v,
            check: $check,
            empty_is_null: false,
        }
    };
    // An enum-like value, kept as Redis shows it: lowercase.
    (lower $field:ident, $check:expr) => {
        Kind::Str {
            get: |c| c.compat.$field.clone(),
            set: |c, v| c.compat.$field = v.to_ascii_lowercase(),
            check: $check,
            empty_is_null: false,
        }
    };
}

/// Accepts only `want` (as Redis compares it), for a directive whose other values would ask
/// for a feature slotgate does not have.
fn only(v: &str, want: &str, why: &str) -> Result<(), String> {
    if v.eq_ignore_ascii_case(want) {
        Ok(())
    } else {
        Err(format!("only '{want}' is supported: {why}"))
    }
}

fn check_serve_stale(v: &str) -> Result<(), String> {
    only(v, "yes", "a replica always serves its data while its master link is down")
}

fn check_aof_timestamp(v: &str) -> Result<(), String> {
    only(v, "no", "slotgate writes no timestamp annotations into the AOF")
}

fn check_oom_score_adj(v: &str) -> Result<(), String> {
    only(v, "no", "slotgate does not set its OOM score")
}

/// latency-tracking-info-percentiles: numbers between 0 and 100, separated by spaces.
fn check_percentiles(v: &str) -> Result<(), String> {
    for p in v.split_whitespace() {
        match p.parse::<f64>() {
            Ok(x) if (0.0..=100.0).contains(&x) => {}
            _ => return Err("latency-tracking-info-percentiles: percentiles should be between 0 and 100".into()),
        }
    }
    Ok(())
}

fn check_notify(v: &str) -> Result<(), String> {
    crate::notify::parse(v).map(|_| ()).ok_or_else(|| crate::notify::INVALID.to_string())
}

fn check_oom_values(v: &str) -> Result<(), String> {
    let vals: Vec<&str> = v.split_whitespace().collect();
    let ok = vals.len() == 3 && vals.iter().all(|x| x.parse::<i32>().is_ok_and(|n| (-2000..=2000).contains(&n)));
    if ok {
        Ok(())
    } else {
        Err("Invalid oom-score-adj-values".into())
    }
}

fn check_yes_no_local(v: &str) -> Result<(), String> {
    if ["no", "yes", "local"].iter().any(|n| n.eq_ignore_ascii_case(v)) {
        Ok(())
    } else {
        Err("argument(s) must be one of the following: no, yes, local".into())
    }
}

fn check_diskless_load(v: &str) -> Result<(), String> {
    if ["disabled", "on-empty-db", "swapdb"].iter().any(|n| n.eq_ignore_ascii_case(v)) {
        Ok(())
    } else {
        Err("argument(s) must be one of the following: disabled, on-empty-db, swapdb".into())
    }
}

fn check_proc_title(v: &str) -> Result<(), String> {
    if v.contains("{title}") {
        Ok(())
    } else {
        Err("format is invalid or missing the {title} placeholder".into())
    }
}

/// All directives, in CONFIG GET / names() order.
pub(crate) static TABLE: &[Directive] = &[
    d!("port", num!(0, 65535, true, false, |c| c.port.into(), |c, v| c.port = v as u16)),
    d!("bind", Kind::Bind),
    d!("dir", Kind::Dir),
    d!("daemonize", "", true, boolean!(daemonize)),
    d!("pidfile", "", true, string!(null pidfile)),
    d!("logfile", "", true, string!(logfile, any_str)),
    d!("loglevel", enumeration!(LogLevel, loglevel)),
    d!("timeout", num!(0, INT_MAX, false, false, |c| c.timeout, |c, v| c.timeout = v)),
    d!("tcp-keepalive", num!(0, INT_MAX, true, false, |c| c.tcp_keepalive, |c, v| c.tcp_keepalive = v)),
    d!(
        "tcp-backlog",
        "",
        true,
        num!(0, INT_MAX, true, false, |c| c.tcp_backlog.into(), |c, v| { c.tcp_backlog = v as u32 })
    ),
    d!("protected-mode", boolean!(protected_mode)),
    d!("maxclients", num!(1, UINT_MAX, false, false, |c| c.maxclients, |c, v| c.maxclients = v)),
    d!("requirepass", string!(option requirepass)),
    d!("maxmemory", num!(0, ULLONG_MAX, false, true, |c| c.maxmemory, |c, v| c.maxmemory = v)),
    d!("maxmemory-policy", enumeration!(EvictionPolicy, maxmemory_policy)),
    d!(
        "maxmemory-samples",
        num!(1, 64, true, false, |c| c.maxmemory_samples.into(), |c, v| c.maxmemory_samples = v as u32)
    ),
    d!("save", Kind::Save),
    d!("dbfilename", string!(dbfilename, check_dbfilename)),
    d!("appendonly", boolean!(appendonly)),
    d!("appendfilename", "", true, string!(appendfilename, check_appendfilename)),
    d!("appenddirname", "", true, string!(appenddirname, check_appenddirname)),
    d!("appendfsync", enumeration!(AppendFsync, appendfsync)),
    d!(
        "auto-aof-rewrite-percentage",
        num!(0, INT_MAX, true, false, |c| c.auto_aof_rewrite_percentage, |c, v| c.auto_aof_rewrite_percentage = v)
    ),
    d!(
        "auto-aof-rewrite-min-size",
        num!(0, LLONG_MAX, true, true, |c| c.auto_aof_rewrite_min_size, |c, v| c.auto_aof_rewrite_min_size = v)
    ),
    d!("aof-load-truncated", boolean!(aof_load_truncated)),
    d!("cluster-enabled", "", true, boolean!(cluster_enabled)),
    d!("cluster-config-file", "", true, string!(cluster_config_file, any_str)),
    d!(
        "cluster-node-timeout",
        num!(0, LLONG_MAX, true, false, |c| c.cluster_node_timeout, |c, v| c.cluster_node_timeout = v)
    ),
    d!(
        "cluster-port",
        "",
        true,
        num!(0, 65535, true, false, |c| c.cluster_port.into(), |c, v| c.cluster_port = v as u16)
    ),
    d!("cluster-announce-ip", string!(null cluster_announce_ip)),
    d!(
        "cluster-announce-hostname",
        Kind::Str {
            get: |c| c.cluster_announce_hostname.clone(),
            set: |c, v| c.cluster_announce_hostname = v,
            check: check_hostname,
            empty_is_null: true,
        }
    ),
    d!("cluster-preferred-endpoint-type", enumeration!(EndpointType, cluster_preferred_endpoint_type)),
    d!(
        "cluster-announce-port",
        num!(0, 65535, true, false, |c| c.cluster_announce_port.into(), |c, v| c.cluster_announce_port = v as u16)
    ),
    d!(
        "cluster-announce-tls-port",
        num!(0, 65535, true, false, |c| c.cluster_announce_tls_port.into(), |c, v| c.cluster_announce_tls_port =
            v as u16)
    ),
    d!(
        "cluster-announce-bus-port",
        num!(0, 65535, true, false, |c| c.cluster_announce_bus_port.into(), |c, v| c.cluster_announce_bus_port =
            v as u16)
    ),
    d!("cluster-require-full-coverage", boolean!(cluster_require_full_coverage)),
    d!("cluster-allow-reads-when-down", boolean!(cluster_allow_reads_when_down)),
    d!(
        "cluster-replica-validity-factor",
        "cluster-slave-validity-factor",
        false,
        num!(0, INT_MAX, true, false, |c| c.cluster_replica_validity_factor, |c, v| c
            .cluster_replica_validity_factor =
            v)
    ),
    d!(
        "cluster-migration-barrier",
        num!(0, INT_MAX, true, false, |c| c.cluster_migration_barrier, |c, v| c.cluster_migration_barrier = v)
    ),
    d!("cluster-replica-no-failover", "cluster-slave-no-failover", false, boolean!(cluster_replica_no_failover)),
    d!("cluster-allow-replica-migration", boolean!(cluster_allow_replica_migration)),
    d!(
        "proto-max-bulk-len",
        num!(MB, LLONG_MAX, true, true, |c| c.proto_max_bulk_len, |c, v| c.proto_max_bulk_len = v)
    ),
    d!(
        "client-query-buffer-limit",
        num!(MB, LLONG_MAX, false, true, |c| c.client_query_buffer_limit, |c, v| c.client_query_buffer_limit = v)
    ),
    // Redis accepts any hz and caps it to 1..=500 ("a hint from the user").
    d!("hz", num!(0, INT_MAX, true, false, |c| c.hz.into(), |c, v| c.hz = v.clamp(1, 500) as u32)),
    d!("databases", "", true, num!(1, INT_MAX, true, false, |c| c.databases.into(), |c, v| c.databases = v as u32)),
    d!(
        "busy-reply-threshold",
        "lua-time-limit",
        false,
        num!(0, LLONG_MAX, true, false, |c| c.busy_reply_threshold, |c, v| c.busy_reply_threshold = v)
    ),
    d!(
        "repl-backlog-size",
        num!(1, LLONG_MAX, true, true, |c| c.repl_backlog_size, |c, v| { c.repl_backlog_size = v })
    ),
    d!(
        "repl-ping-replica-period",
        "repl-ping-slave-period",
        false,
        num!(1, INT_MAX, true, false, |c| c.repl_ping_replica_period, |c, v| c.repl_ping_replica_period = v)
    ),
    d!("masteruser", string!(option masteruser)),
    d!("masterauth", string!(option masterauth)),
    d!("replicaof", "slaveof", true, Kind::ReplicaOf),
    d!(
        "min-replicas-to-write",
        "min-slaves-to-write",
        false,
        num!(0, INT_MAX, true, false, |c| c.min_replicas_to_write, |c, v| c.min_replicas_to_write = v)
    ),
    d!(
        "min-replicas-max-lag",
        "min-slaves-max-lag",
        false,
        num!(0, INT_MAX, true, false, |c| c.min_replicas_max_lag, |c, v| c.min_replicas_max_lag = v)
    ),
    d!("aclfile", "", true, string!(aclfile, any_str)),
    d!("client-output-buffer-limit", Kind::Obuf),
    d!(
        "tracking-table-max-keys",
        num!(0, LLONG_MAX, false, false, |c| c.tracking_table_max_keys, |c, v| c.tracking_table_max_keys = v)
    ),
    d!("tls-port", "", true, num!(0, 65535, true, false, |c| c.tls_port.into(), |c, v| c.tls_port = v as u16)),
    d!("tls-cert-file", string!(null tls_cert_file)),
    d!("tls-key-file", string!(null tls_key_file)),
    d!("tls-client-cert-file", string!(null tls_client_cert_file)),
    d!("tls-client-key-file", string!(null tls_client_key_file)),
    d!("tls-ca-cert-file", string!(null tls_ca_cert_file)),
    d!("tls-ca-cert-dir", string!(null tls_ca_cert_dir)),
    d!("tls-auth-clients", enumeration!(TlsAuthClients, tls_auth_clients)),
    d!("tls-protocols", string!(null tls_protocols)),
    d!("tls-ciphersuites", string!(null tls_ciphersuites)),
    d!("tls-cluster", boolean!(tls_cluster)),
    d!("tls-replication", boolean!(tls_replication)),
    d!("acllog-max-len", num!(0, LLONG_MAX, true, false, |c| c.acllog_max_len, |c, v| c.acllog_max_len = v)),
    d!(
        "enable-protected-configs",
        "",
        true,
        Kind::Str {
            get: |c| c.enable_protected_configs.clone(),
            set: |c, v| c.enable_protected_configs = v.to_ascii_lowercase(),
            check: check_yes_no_local,
            empty_is_null: false,
        }
    ),
    d!("stop-writes-on-bgsave-error", boolean!(stop_writes_on_bgsave_error)),
    d!("rdbchecksum", "", true, compat_bool!(rdbchecksum)),
    d!("replica-read-only", "slave-read-only", false, boolean!(replica_read_only)),
    d!(
        "replica-priority",
        "slave-priority",
        false,
        num!(0, INT_MAX, true, false, |c| c.replica_priority, |c, v| c.replica_priority = v)
    ),
    d!("disable-thp", "", true, boolean!(disable_thp)),
    d!(
        "hash-max-listpack-entries",
        "hash-max-ziplist-entries",
        false,
        num!(0, LLONG_MAX, false, false, |c| c.hash_max_listpack_entries, |c, v| c.hash_max_listpack_entries = v)
    ),
    d!(
        "hash-max-listpack-value",
        "hash-max-ziplist-value",
        false,
        num!(0, LLONG_MAX, false, true, |c| c.hash_max_listpack_value, |c, v| c.hash_max_listpack_value = v)
    ),
    d!(
        "set-max-intset-entries",
        num!(0, LLONG_MAX, false, false, |c| c.set_max_intset_entries, |c, v| c.set_max_intset_entries = v)
    ),
    d!(
        "zset-max-listpack-entries",
        "zset-max-ziplist-entries",
        false,
        num!(0, LLONG_MAX, false, false, |c| c.zset_max_listpack_entries, |c, v| c.zset_max_listpack_entries = v)
    ),
    d!(
        "zset-max-listpack-value",
        "zset-max-ziplist-value",
        false,
        num!(0, LLONG_MAX, false, true, |c| c.zset_max_listpack_value, |c, v| c.zset_max_listpack_value = v)
    ),
    d!("always-show-logo", "", true, compat_bool!(always_show_logo)),
    d!("set-proc-title", "", true, compat_bool!(set_proc_title)),
    d!("proc-title-template", compat_str!(proc_title_template, check_proc_title)),
    d!("rdbcompression", compat_bool!(rdbcompression)),
    d!("rdb-del-sync-files", compat_bool!(rdb_del_sync_files)),
    d!(
        "replica-serve-stale-data",
        "slave-serve-stale-data",
        false,
        compat_str!(lower replica_serve_stale_data, check_serve_stale)
    ),
    d!("repl-diskless-sync", compat_bool!(repl_diskless_sync)),
    d!("repl-diskless-sync-delay", compat_num!(0, INT_MAX, false, repl_diskless_sync_delay)),
    d!("repl-diskless-sync-max-replicas", compat_num!(0, INT_MAX, false, repl_diskless_sync_max_replicas)),
    d!("repl-diskless-load", compat_str!(lower repl_diskless_load, check_diskless_load)),
    d!("repl-disable-tcp-nodelay", compat_bool!(repl_disable_tcp_nodelay)),
    d!("lazyfree-lazy-eviction", compat_bool!(lazyfree_lazy_eviction)),
    d!("lazyfree-lazy-expire", compat_bool!(lazyfree_lazy_expire)),
    d!("lazyfree-lazy-server-del", compat_bool!(lazyfree_lazy_server_del)),
    d!("lazyfree-lazy-user-del", compat_bool!(lazyfree_lazy_user_del)),
    d!("lazyfree-lazy-user-flush", compat_bool!(lazyfree_lazy_user_flush)),
    d!("replica-lazy-flush", "slave-lazy-flush", false, compat_bool!(replica_lazy_flush)),
    d!("oom-score-adj", compat_str!(lower oom_score_adj, check_oom_score_adj)),
    d!("oom-score-adj-values", compat_str!(oom_score_adj_values, check_oom_values)),
    d!("no-appendfsync-on-rewrite", compat_bool!(no_appendfsync_on_rewrite)),
    d!("aof-use-rdb-preamble", compat_bool!(aof_use_rdb_preamble)),
    d!("aof-timestamp-enabled", compat_str!(lower aof_timestamp_enabled, check_aof_timestamp)),
    d!("aof-rewrite-incremental-fsync", compat_bool!(aof_rewrite_incremental_fsync)),
    d!("rdb-save-incremental-fsync", compat_bool!(rdb_save_incremental_fsync)),
    d!("slowlog-log-slower-than", compat_num!(-1, LLONG_MAX, false, slowlog_log_slower_than)),
    d!("slowlog-max-len", compat_num!(0, LLONG_MAX, false, slowlog_max_len)),
    d!("latency-monitor-threshold", compat_num!(0, LLONG_MAX, false, latency_monitor_threshold)),
    d!("latency-tracking", compat_bool!(latency_tracking)),
    d!("latency-tracking-info-percentiles", compat_str!(latency_tracking_info_percentiles, check_percentiles)),
    d!(
        "enable-debug-command",
        "",
        true,
        Kind::Str {
            get: |c| c.compat.enable_debug_command.clone(),
            set: |c, v| c.compat.enable_debug_command = v.to_ascii_lowercase(),
            check: check_yes_no_local,
            empty_is_null: false,
        }
    ),
    d!(
        "notify-keyspace-events",
        Kind::Str {
            get: |c| crate::notify::format(c.notify_keyspace_events),
            set: |c, v| c.notify_keyspace_events = crate::notify::parse(&v).unwrap_or(0),
            check: check_notify,
            empty_is_null: false,
        }
    ),
    d!(
        "list-max-listpack-size",
        "list-max-ziplist-size",
        false,
        compat_num!(i32::MIN as i128, INT_MAX, false, list_max_listpack_size)
    ),
    d!("list-compress-depth", compat_num!(0, INT_MAX, false, list_compress_depth)),
    d!("hll-sparse-max-bytes", compat_num!(0, LLONG_MAX, true, hll_sparse_max_bytes)),
    d!("stream-node-max-bytes", compat_num!(0, LLONG_MAX, true, stream_node_max_bytes)),
    d!("stream-node-max-entries", compat_num!(0, LLONG_MAX, false, stream_node_max_entries)),
    d!("activerehashing", compat_bool!(activerehashing)),
    d!("dynamic-hz", compat_bool!(dynamic_hz)),
    d!("jemalloc-bg-thread", compat_bool!(jemalloc_bg_thread)),
];

/// Canonical names of `TABLE`, same order.
pub(crate) static NAMES: &[&str] = &[
    "port",
    "bind",
    "dir",
    "daemonize",
    "pidfile",
    "logfile",
    "loglevel",
    "timeout",
    "tcp-keepalive",
    "tcp-backlog",
    "protected-mode",
    "maxclients",
    "requirepass",
    "maxmemory",
    "maxmemory-policy",
    "maxmemory-samples",
    "save",
    "dbfilename",
    "appendonly",
    "appendfilename",
    "appenddirname",
    "appendfsync",
    "auto-aof-rewrite-percentage",
    "auto-aof-rewrite-min-size",
    "aof-load-truncated",
    "cluster-enabled",
    "cluster-config-file",
    "cluster-node-timeout",
    "cluster-port",
    "cluster-announce-ip",
    "cluster-announce-hostname",
    "cluster-preferred-endpoint-type",
    "cluster-announce-port",
    "cluster-announce-tls-port",
    "cluster-announce-bus-port",
    "cluster-require-full-coverage",
    "cluster-allow-reads-when-down",
    "cluster-replica-validity-factor",
    "cluster-migration-barrier",
    "cluster-replica-no-failover",
    "cluster-allow-replica-migration",
    "proto-max-bulk-len",
    "client-query-buffer-limit",
    "hz",
    "databases",
    "busy-reply-threshold",
    "repl-backlog-size",
    "repl-ping-replica-period",
    "masteruser",
    "masterauth",
    "replicaof",
    "min-replicas-to-write",
    "min-replicas-max-lag",
    "aclfile",
    "client-output-buffer-limit",
    "tracking-table-max-keys",
    "tls-port",
    "tls-cert-file",
    "tls-key-file",
    "tls-client-cert-file",
    "tls-client-key-file",
    "tls-ca-cert-file",
    "tls-ca-cert-dir",
    "tls-auth-clients",
    "tls-protocols",
    "tls-ciphersuites",
    "tls-cluster",
    "tls-replication",
    "acllog-max-len",
    "enable-protected-configs",
    "stop-writes-on-bgsave-error",
    "rdbchecksum",
    "replica-read-only",
    "replica-priority",
    "disable-thp",
    "hash-max-listpack-entries",
    "hash-max-listpack-value",
    "set-max-intset-entries",
    "zset-max-listpack-entries",
    "zset-max-listpack-value",
    "always-show-logo",
    "set-proc-title",
    "proc-title-template",
    "rdbcompression",
    "rdb-del-sync-files",
    "replica-serve-stale-data",
    "repl-diskless-sync",
    "repl-diskless-sync-delay",
    "repl-diskless-sync-max-replicas",
    "repl-diskless-load",
    "repl-disable-tcp-nodelay",
    "lazyfree-lazy-eviction",
    "lazyfree-lazy-expire",
    "lazyfree-lazy-server-del",
    "lazyfree-lazy-user-del",
    "lazyfree-lazy-user-flush",
    "replica-lazy-flush",
    "oom-score-adj",
    "oom-score-adj-values",
    "no-appendfsync-on-rewrite",
    "aof-use-rdb-preamble",
    "aof-timestamp-enabled",
    "aof-rewrite-incremental-fsync",
    "rdb-save-incremental-fsync",
    "slowlog-log-slower-than",
    "slowlog-max-len",
    "latency-monitor-threshold",
    "latency-tracking",
    "latency-tracking-info-percentiles",
    "enable-debug-command",
    "notify-keyspace-events",
    "list-max-listpack-size",
    "list-compress-depth",
    "hll-sparse-max-bytes",
    "stream-node-max-bytes",
    "stream-node-max-entries",
    "activerehashing",
    "dynamic-hz",
    "jemalloc-bg-thread",
];

/// Finds a directive by name or alias, case-insensitively.
pub(crate) fn lookup(name: &str) -> Option<&'static Directive> {
    TABLE
        .iter()
        .find(|d| d.name.eq_ignore_ascii_case(name) || (!d.alias.is_empty() && d.alias.eq_ignore_ascii_case(name)))
}
