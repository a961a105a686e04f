//! The proxy's configuration: a TOML file plus command-line flags that override it. Every
//! setting is checked at start-up; a bad one stops the proxy with a message naming it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use serde::Deserialize;

/// The settings file (every field optional; flags and defaults fill the rest).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileConfig {
    listen: Option<String>,
    admin_listen: Option<String>,
    seeds: Option<Vec<String>>,
    backend_user: Option<String>,
    backend_password: Option<String>,
    connect_timeout_ms: Option<u64>,
    command_timeout_ms: Option<u64>,
    retry_deadline_ms: Option<u64>,
    connections_per_node: Option<usize>,
    threads: Option<usize>,
    refresh_interval_ms: Option<u64>,
    read_policy: Option<String>,
    cross_slot: Option<String>,
    write_ack: Option<String>,
    cluster_emulation: Option<bool>,
    log_level: Option<String>,
    aclfile: Option<PathBuf>,
    tls_listen: Option<String>,
    tls_cert_file: Option<PathBuf>,
    tls_key_file: Option<PathBuf>,
    tls_ca_cert_file: Option<PathBuf>,
    tls_auth_clients: Option<String>,
    tls_protocols: Option<String>,
    tls_ciphersuites: Option<String>,
    backend_tls_ca_cert_file: Option<PathBuf>,
    backend_tls_cert_file: Option<PathBuf>,
    backend_tls_key_file: Option<PathBuf>,
    auth_timeout_ms: Option<u64>,
    max_unauthenticated: Option<usize>,
    tls_cert_user: Option<bool>,
}

/// Where reads go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadPolicy {
    /// Every request goes to the slot's master.
    Master,
    /// Read-only commands go to a replica of the slot's master when it has one (the guide's
    /// `scaleReads: 'slave'`); the master serves them when no replica answers.
    PreferReplica,
}

/// What a multi-key command whose keys span slots gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrossSlot {
    /// The proxy computes the answer as one Redis would (the README lists how, per family).
    Emulate,
    /// Redis Cluster's `-CROSSSLOT` error.
    Refuse,
}

/// Command-line flags.
#[derive(Debug, Parser)]
#[command(name = "slotgate-proxy", version, about = "Shows a Redis Cluster to non-cluster clients as one Redis")]
pub struct Flags {
    /// TOML configuration file.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:6379).
    #[arg(long)]
    pub listen: Option<String>,
    /// Address of the admin port serving Prometheus metrics at /metrics.
    #[arg(long)]
    pub admin_listen: Option<String>,
    /// A cluster node to discover the topology from (repeatable).
    #[arg(long = "seed")]
    pub seeds: Vec<String>,
    /// Username the proxy authenticates to the nodes with.
    #[arg(long)]
    pub backend_user: Option<String>,
    /// Password the proxy authenticates to the nodes with.
    #[arg(long)]
    pub backend_password: Option<String>,
    #[arg(long)]
    pub connect_timeout_ms: Option<u64>,
    #[arg(long)]
    pub command_timeout_ms: Option<u64>,
    /// How long a request keeps being retried while a failover runs.
    #[arg(long)]
    pub retry_deadline_ms: Option<u64>,
    /// Pipelined connections per backend node (default: one per thread).
    #[arg(long)]
    pub connections_per_node: Option<usize>,
    /// Threads serving clients (default 1). One thread avoids cross-thread wake-ups, which
    /// cost more than they give where the proxy shares a few cores with its nodes.
    #[arg(long)]
    pub threads: Option<usize>,
    #[arg(long)]
    pub refresh_interval_ms: Option<u64>,
    /// `master` (default) or `prefer-replica`.
    #[arg(long)]
    pub read_policy: Option<String>,
    /// `emulate` (default: commands whose keys span slots are computed by the proxy) or
    /// `refuse` (Redis Cluster's CROSSSLOT error).
    #[arg(long)]
    pub cross_slot: Option<String>,
    /// `replicas=N[,TIMEOUT_MS]`: acknowledge a client's writes only once N replicas of each
    /// master written hold them (one WAIT per node per batch); otherwise the write's reply is
    /// a NOREPLICAS error, never a false OK. Default: off (Redis's asynchronous replication).
    #[arg(long)]
    pub write_ack: Option<String>,
    /// Answer CLUSTER SLOTS/NODES/SHARDS/INFO as a one-node cluster owning every slot, so
    /// cluster-aware clients can use the proxy too.
    #[arg(long)]
    pub cluster_emulation: bool,
    /// `error`, `warn`, `info` (default), `debug` or `trace`.
    #[arg(long)]
    pub log_level: Option<String>,
    /// A Redis ACL file: the users clients authenticate as (reloaded on SIGHUP and ACL LOAD).
    #[arg(long)]
    pub aclfile: Option<PathBuf>,
    /// Address of the TLS port (beside the plain one).
    #[arg(long)]
    pub tls_listen: Option<String>,
    #[arg(long)]
    pub tls_cert_file: Option<PathBuf>,
    #[arg(long)]
    pub tls_key_file: Option<PathBuf>,
    #[arg(long)]
    pub tls_ca_cert_file: Option<PathBuf>,
    /// `yes` (default when a CA is given), `no` or `optional`.
    #[arg(long)]
    pub tls_auth_clients: Option<String>,
    /// e.g. "TLSv1.2 TLSv1.3".
    #[arg(long)]
    pub tls_protocols: Option<String>,
    /// TLS 1.3 suites, `:`-separated (TLS_AES_256_GCM_SHA384:...).
    #[arg(long)]
    pub tls_ciphersuites: Option<String>,
    /// Speak TLS to the nodes, verifying them against this CA.
    #[arg(long)]
    pub backend_tls_ca_cert_file: Option<PathBuf>,
    /// Client certificate and key the proxy presents to the nodes.
    #[arg(long)]
    pub backend_tls_cert_file: Option<PathBuf>,
    #[arg(long)]
    pub backend_tls_key_file: Option<PathBuf>,
    /// When login is required: how long a client may stay connected without authenticating
    /// (default 10000; 0 = no limit).
    #[arg(long)]
    pub auth_timeout_ms: Option<u64>,
    /// When login is required: how many clients may be connected without having authenticated
    /// (default 1000); more are closed on arrival.
    #[arg(long)]
    pub max_unauthenticated: Option<usize>,
    /// A TLS client whose verified certificate's subject CN names an enabled ACL user starts
    /// logged in as that user (beyond Redis: mTLS clients need no password).
    #[arg(long)]
    pub tls_cert_user: bool,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    pub listen: SocketAddr,
    pub admin_listen: Option<SocketAddr>,
    /// `host:port` of the nodes asked first; names are resolved again at each refresh, so a
    /// node that comes back at a new address under the same name is found there.
    pub seeds: Vec<String>,
    pub backend_user: Option<String>,
    pub backend_password: Option<String>,
    pub connect_timeout: Duration,
    pub command_timeout: Duration,
    pub retry_deadline: Duration,
    pub connections_per_node: usize,
    pub threads: usize,
    pub refresh_interval: Duration,
    pub read_policy: ReadPolicy,
    pub cross_slot: CrossSlot,
    pub write_ack: Option<WriteAck>,
    pub cluster_emulation: bool,
    pub log_level: tracing::Level,
    pub aclfile: Option<PathBuf>,
    /// The TLS port and its settings.
    pub tls: Option<(SocketAddr, tls::Settings)>,
    /// TLS to the nodes.
    pub backend_tls: Option<std::sync::Arc<tls::rustls::ClientConfig>>,
    /// Unauthenticated clients are closed after this long (None: never).
    pub auth_timeout: Option<Duration>,
    pub max_unauthenticated: usize,
    pub tls_cert_user: bool,
}

fn addr(setting: &str, s: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    s.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("{setting}: '{s}' is not a host:port address"))
}

/// `--write-ack`: how many replicas must hold a client's writes before it is told they
/// succeeded, and how long to wait for them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WriteAck {
    pub replicas: u32,
    pub timeout: Duration,
}

impl WriteAck {
    /// `replicas=N`, `replicas=N,TIMEOUT_MS` or `replicas=N,timeout-ms=TIMEOUT_MS`.
    pub fn parse(v: &str) -> Result<WriteAck, String> {
        let bad = || format!("write-ack: '{v}' is not replicas=N[,TIMEOUT_MS] with N >= 1");
        let (n, timeout) = v.split_once(',').map_or((v, None), |(n, t)| (n, Some(t)));
        let replicas: u32 =
            n.strip_prefix("replicas=").and_then(|n| n.parse().ok()).filter(|n| *n >= 1).ok_or_else(bad)?;
        let ms: u64 = match timeout {
            None => 1000,
            Some(t) => t.strip_prefix("timeout-ms=").unwrap_or(t).parse().ok().filter(|ms| *ms >= 1).ok_or_else(bad)?,
        };
        Ok(WriteAck { replicas, timeout: Duration::from_millis(ms) })
    }
}

/// A `host:port` that may not resolve yet (a Kubernetes name before its pod exists).
fn host_port(setting: &str, s: &str) -> Result<String, String> {
    match s.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => Ok(s.to_string()),
        _ => Err(format!("{setting}: '{s}' is not a host:port address")),
    }
}

impl ProxyConfig {
    /// Builds the configuration from flags and the optional file; `Err` names the bad setting.
    pub fn load(flags: Flags) -> Result<ProxyConfig, String> {
        let file: FileConfig = match &flags.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("config: cannot read {}: {e}", path.display()))?;
                toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let listen = flags.listen.or(file.listen).unwrap_or_else(|| "127.0.0.1:6379".into());
        let seeds = if flags.seeds.is_empty() { file.seeds.unwrap_or_default() } else { flags.seeds };
        if seeds.is_empty() {
            return Err("seeds: at least one cluster node is needed (--seed host:port)".into());
        }
        let threads = flags.threads.or(file.threads).unwrap_or(1);
        if threads == 0 || threads > 256 {
            return Err("threads: must be between 1 and 256".into());
        }
        // One connection per node and thread: on one thread, a single connection per node
        // carries every session's group of a turn in one write (fewer syscalls per request
        // than spreading them over two).
        let per_node = flags.connections_per_node.or(file.connections_per_node).unwrap_or(threads.min(64));
        if per_node == 0 || per_node > 64 {
            return Err("connections-per-node: must be between 1 and 64".into());
        }
        let ms = |flag: Option<u64>, file: Option<u64>, default: u64, name: &str| -> Result<Duration, String> {
            let v = flag.or(file).unwrap_or(default);
            if v == 0 {
                return Err(format!("{name}: must be greater than 0"));
            }
            Ok(Duration::from_millis(v))
        };
        let read_policy = match flags.read_policy.or(file.read_policy).as_deref() {
            None | Some("master") => ReadPolicy::Master,
            Some("prefer-replica") => ReadPolicy::PreferReplica,
            Some(other) => return Err(format!("read-policy: '{other}' is not 'master' or 'prefer-replica'")),
        };
        let cross_slot = match flags.cross_slot.or(file.cross_slot).as_deref() {
            None | Some("emulate") => CrossSlot::Emulate,
            Some("refuse") => CrossSlot::Refuse,
            Some(other) => return Err(format!("cross-slot: '{other}' is not 'emulate' or 'refuse'")),
        };
        let write_ack = flags.write_ack.or(file.write_ack).map(|v| WriteAck::parse(&v)).transpose()?;
        let log_level = match flags.log_level.or(file.log_level).as_deref().unwrap_or("info") {
            "error" => tracing::Level::ERROR,
            "warn" => tracing::Level::WARN,
            "info" => tracing::Level::INFO,
            "debug" => tracing::Level::DEBUG,
            "trace" => tracing::Level::TRACE,
            other => return Err(format!("log-level: '{other}' is not error, warn, info, debug or trace")),
        };
        let max_unauthenticated = flags.max_unauthenticated.or(file.max_unauthenticated).unwrap_or(1000);
        if max_unauthenticated == 0 {
            return Err("max-unauthenticated: must be greater than 0".into());
        }
        let auth_timeout = match flags.auth_timeout_ms.or(file.auth_timeout_ms).unwrap_or(10_000) {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        };
        let tls_cert_user = flags.tls_cert_user || file.tls_cert_user.unwrap_or(false);
        if tls_cert_user && flags.tls_ca_cert_file.is_none() && file.tls_ca_cert_file.is_none() {
            return Err("tls-cert-user: needs tls-ca-cert-file, so client certificates are verified".into());
        }
        Ok(ProxyConfig {
            tls_cert_user,
            auth_timeout,
            max_unauthenticated,
            listen: addr("listen", &listen)?,
            admin_listen: flags.admin_listen.or(file.admin_listen).map(|a| addr("admin-listen", &a)).transpose()?,
            seeds: seeds.iter().map(|s| host_port("seeds", s)).collect::<Result<_, _>>()?,
            backend_user: flags.backend_user.or(file.backend_user),
            backend_password: flags.backend_password.or(file.backend_password),
            connect_timeout: ms(flags.connect_timeout_ms, file.connect_timeout_ms, 1000, "connect-timeout-ms")?,
            command_timeout: ms(flags.command_timeout_ms, file.command_timeout_ms, 5000, "command-timeout-ms")?,
            retry_deadline: ms(flags.retry_deadline_ms, file.retry_deadline_ms, 10000, "retry-deadline-ms")?,
            connections_per_node: per_node,
            threads,
            refresh_interval: ms(flags.refresh_interval_ms, file.refresh_interval_ms, 5000, "refresh-interval-ms")?,
            read_policy,
            cross_slot,
            write_ack,
            cluster_emulation: flags.cluster_emulation || file.cluster_emulation.unwrap_or(false),
            log_level,
            aclfile: flags.aclfile.or(file.aclfile),
            tls: tls_settings(
                flags.tls_listen.or(file.tls_listen),
                flags.tls_cert_file.or(file.tls_cert_file),
                flags.tls_key_file.or(file.tls_key_file),
                flags.tls_ca_cert_file.or(file.tls_ca_cert_file),
                flags.tls_auth_clients.or(file.tls_auth_clients),
                flags.tls_protocols.or(file.tls_protocols),
                flags.tls_ciphersuites.or(file.tls_ciphersuites),
            )?,
            backend_tls: match flags.backend_tls_ca_cert_file.or(file.backend_tls_ca_cert_file) {
                None => None,
                Some(ca) => {
                    let cert = flags.backend_tls_cert_file.or(file.backend_tls_cert_file);
                    let key = flags.backend_tls_key_file.or(file.backend_tls_key_file);
                    let pair = match (&cert, &key) {
                        (Some(c), Some(k)) => Some((c.as_path(), k.as_path())),
                        (None, None) => None,
                        _ => return Err("backend-tls-cert-file: needs backend-tls-key-file too".into()),
                    };
                    Some(tls::client_config(&ca, pair).map_err(|e| format!("backend-tls-ca-cert-file: {e}"))?)
                }
            },
        })
    }
}

/// The TLS port's settings: all or nothing, and a CA means client certificates are checked.
fn tls_settings(
    listen: Option<String>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    ca: Option<PathBuf>,
    auth: Option<String>,
    protocols: Option<String>,
    ciphersuites: Option<String>,
) -> Result<Option<(SocketAddr, tls::Settings)>, String> {
    let Some(listen) = listen else {
        if cert.is_some() || key.is_some() {
            return Err("tls-listen: a TLS certificate is set but no TLS port to use it on".into());
        }
        return Ok(None);
    };
    let listen = addr("tls-listen", &listen)?;
    let cert_file = cert.ok_or("tls-cert-file: needed with tls-listen")?;
    let key_file = key.ok_or("tls-key-file: needed with tls-listen")?;
    let auth_clients = match auth {
        Some(a) => tls::AuthClients::parse(&a).map_err(|e| format!("tls-auth-clients: {e}"))?,
        // Redis's default is `yes`: with a CA, clients must present a certificate.
        None if ca.is_some() => tls::AuthClients::Yes,
        None => tls::AuthClients::No,
    };
    Ok(Some((
        listen,
        tls::Settings {
            cert_file,
            key_file,
            ca_cert_file: ca,
            ca_cert_dir: None,
            auth_clients,
            protocols,
            ciphersuites,
        },
    )))
}

#[cfg(test)]
mod tests {
    use super::WriteAck;
    use std::time::Duration;

    #[test]
    fn write_ack_forms() {
        let ack = |replicas, ms| Ok(WriteAck { replicas, timeout: Duration::from_millis(ms) });
        assert_eq!(WriteAck::parse("replicas=1"), ack(1, 1000));
        assert_eq!(WriteAck::parse("replicas=2,250"), ack(2, 250));
        assert_eq!(WriteAck::parse("replicas=1,timeout-ms=50"), ack(1, 50));
        for bad in ["", "replicas=0", "replicas=x", "1", "replicas=1,0", "replicas=1,soon", "copies=1"] {
            assert!(WriteAck::parse(bad).is_err(), "{bad:?}");
        }
    }
}
