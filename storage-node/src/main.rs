//! slotgate-node: a Redis-compatible storage server. Reads redis-server's command line and
//! redis.conf, binds, and serves clients on a single-threaded runtime (see `server`).

mod alloc;
mod cluster;
mod commands;
mod introspect;
mod keyspace;
mod persist;
mod replication;
mod scripting;
mod server;
mod transport;

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;

use config::{LogLevel, NodeConfig};

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

/// The Redis version slotgate answers as (clients and redis-cli gate features on it).
pub const REDIS_VERSION: &str = "7.0.15";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if matches!(args.first().map(String::as_str), Some("-v" | "--version")) {
        println!("{}", config::version_line(env!("CARGO_PKG_VERSION")));
        return;
    }
    if matches!(args.first().map(String::as_str), Some("-h" | "--help")) {
        println!("Usage: slotgate-node [/path/to/redis.conf] [options] [-]\n       slotgate-node -v or --version\n\nExamples:\n       slotgate-node (run with default config)\n       slotgate-node /etc/redis/6379.conf\n       slotgate-node --port 7777\n       slotgate-node /etc/myredis.conf --loglevel verbose");
        return;
    }
    let config = match NodeConfig::from_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("\n*** FATAL CONFIG FILE ERROR (slotgate-node) ***\n{e}");
            std::process::exit(1);
        }
    };
    if config.daemonize {
        daemonize(&args);
    }
    // Transparent huge pages make every copy-on-write after a fork copy 2 MB (Redis's
    // disable-thp, on by default).
    if config.disable_thp {
        // SAFETY: PR_SET_THP_DISABLE takes integer arguments only and affects this process.
        unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
    }
    if let Err(e) = std::env::set_current_dir(&config.dir) {
        eprintln!("Can't chdir to '{}': {e}", config.dir.display());
        std::process::exit(1);
    }
    if !config.pidfile.is_empty() {
        let _ = std::fs::write(&config.pidfile, format!("{}\n", std::process::id()));
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    let local = tokio::task::LocalSet::new();
    let code = local.block_on(&runtime, async move {
        if config.port == 0 && config.tls_port == 0 {
            log(&config, "Warning: Configured to not listen anywhere, exiting.");
            eprintln!("Configured to not listen anywhere, exiting.");
            return 1;
        }
        // Certificates are read before anything binds: a bad file stops start-up, named.
        let tls = match transport::NodeTls::from_config(&config) {
            Ok(t) => t,
            Err(e) => {
                log(&config, &format!("Warning: Failed to configure TLS: {e}"));
                eprintln!("Failed to configure TLS: {e}");
                return 1;
            }
        };
        let (listeners, port) = match bind_port(&config, config.port).await {
            Ok(l) => l,
            Err(e) => return e,
        };
        let (tls_listeners, tls_port) = match bind_port(&config, config.tls_port).await {
            Ok(l) => l,
            Err(e) => return e,
        };
        // Users come from `requirepass`, then `aclfile` or the `user` directives; a bad ACL file
        // stops start-up with the file and line.
        let aclfile = (!config.aclfile.is_empty()).then(|| std::path::PathBuf::from(&config.aclfile));
        let acl =
            match config::acl::AclStore::at_startup(aclfile.as_deref(), &config.users, config.requirepass.as_deref()) {
                Ok(acl) => acl,
                Err(e) => {
                    log(&config, &format!("Warning: {e}"));
                    eprintln!("{e}");
                    return 1;
                }
            };
        let pidfile = config.pidfile.clone();
        let mut srv = server::Server::new(config);
        srv.acl = acl;
        srv.acl.set_log_max_len(srv.config.acllog_max_len as usize);
        srv.port = port;
        srv.tls_port = tls_port;
        srv.tls = tls;
        if let Err(e) = persist::load_at_start(&mut srv) {
            log(&srv.config, &format!("Warning: {e}"));
            eprintln!("{e}");
            return 1;
        }
        // Keys loaded from disk raise no `new` events; later additions do.
        server::notify::sync(&mut srv);
        let tls_note = if tls_port != 0 { format!(", tls-port {tls_port}") } else { String::new() };
        log(
            &srv.config,
            &format!(
                "Server initialized, slotgate-node {} (Redis {REDIS_VERSION} compatible), port {port}{tls_note}",
                env!("CARGO_PKG_VERSION")
            ),
        );
        let bus = if srv.config.cluster_enabled {
            match start_cluster(&mut srv).await {
                Ok(bus) => bus,
                Err(e) => {
                    log(&srv.config, &format!("Warning: {e}"));
                    eprintln!("{e}");
                    return 1;
                }
            }
        } else {
            Vec::new()
        };
        if port != 0 {
            log(&srv.config, "Ready to accept connections tcp");
        }
        if tls_port != 0 {
            log(&srv.config, "Ready to accept connections tls");
        }
        let shared = Rc::new(RefCell::new(srv));
        shared.borrow_mut().self_ref = Rc::downgrade(&shared);
        // `replicaof` in the config: the node starts as a replica and syncs.
        let master = shared.borrow().config.replicaof.clone();
        if let Some((host, port)) = master {
            commands::set_master(&mut shared.borrow_mut(), Some(replication::MasterAddr { host, port }));
        }
        if !bus.is_empty() {
            for l in bus {
                tokio::task::spawn_local(cluster::bus::listen(shared.clone(), l));
            }
            tokio::task::spawn_local(cluster::failure::run(shared.clone()));
        }
        server::run(shared, listeners, tls_listeners).await;
        if !pidfile.is_empty() {
            let _ = std::fs::remove_file(&pidfile);
        }
        0
    });
    std::process::exit(code);
}

/// Binds `port` on the configured addresses (nothing for port 0); the port actually bound, or
/// the exit code after logging why not.
async fn bind_port(config: &NodeConfig, port: u16) -> Result<(Vec<tokio::net::TcpListener>, u16), i32> {
    if port == 0 {
        return Ok((Vec::new(), 0));
    }
    match server::bind(config, port).await {
        Ok(l) => {
            let bound = l.first().and_then(|l| l.local_addr().ok()).map_or(port, |a| a.port());
            Ok((l, bound))
        }
        Err(e) => {
            log(config, &format!("Warning: {e}"));
            eprintln!("{e}");
            Err(1)
        }
    }
}

/// Loads (or creates) the cluster view from nodes.conf and binds the cluster bus.
async fn start_cluster(srv: &mut server::Server) -> Result<Vec<tokio::net::TcpListener>, String> {
    let config = &srv.config;
    let path = std::path::PathBuf::from(&config.cluster_config_file);
    let timeout = config.cluster_node_timeout as i64;
    // With `tls-cluster yes` the TLS port is the one the cluster knows us by, as in Redis.
    let (client_port, cport) = cluster::bound_ports(config, srv.port, srv.tls_port);
    if client_port == 0 {
        return Err(if config.tls_cluster {
            "tls-cluster yes needs a tls-port".into()
        } else {
            "cluster mode needs a port (or tls-port with tls-cluster yes)".into()
        });
    }
    let mut cl = match cluster::nodes_conf::load(&path, timeout)? {
        Some(cl) => {
            log(config, &format!("Node configuration loaded, I'm {}", cl.myself));
            cl
        }
        None => {
            let cl = cluster::Cluster::new(path, timeout, String::new(), client_port, cport);
            log(config, &format!("No cluster configuration found, I'm {}", cl.myself));
            cl
        }
    };
    cluster::announce(&mut cl, config, srv.port, srv.tls_port);
    cl.update_state(config.cluster_require_full_coverage);
    cluster::nodes_conf::save(&cl)
        .map_err(|e| format!("Can't write the cluster config file {}: {e}", cl.conf_path.display()))?;
    let bus = server::bind(config, cport).await.map_err(|e| format!("Can't bind the cluster bus: {e}"))?;
    srv.cluster = Some(Box::new(cl));
    Ok(bus)
}

/// Re-runs this binary detached from the terminal with `--daemonize no`, as Redis forks.
fn daemonize(args: &[String]) {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe().unwrap_or_else(|_| "slotgate-node".into());
    let mut cmd = std::process::Command::new(exe);
    cmd.args(args).args(["--daemonize", "no"]).process_group(0);
    cmd.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    match cmd.spawn() {
        Ok(_) => std::process::exit(0),
        Err(e) => {
            eprintln!("cannot daemonize: {e}");
            std::process::exit(1);
        }
    }
}

/// Writes a log line in Redis's shape (`pid:M dd Mon yyyy hh:mm:ss.mmm * message`).
pub fn log(config: &NodeConfig, msg: &str) {
    if config.loglevel == LogLevel::Nothing || config.loglevel == LogLevel::Warning && !msg.starts_with("Warning") {
        return;
    }
    let line = format!("{}:M {} * {msg}\n", std::process::id(), timestamp(keyspace::now_ms()));
    if config.logfile.is_empty() {
        let _ = std::io::stdout().write_all(line.as_bytes());
    } else if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(&config.logfile) {
        let _ = f.write_all(line.as_bytes());
    }
}

/// Logs a line only at `loglevel verbose` or `debug` (per-connection noise).
pub fn log_verbose(config: &NodeConfig, msg: &str) {
    if matches!(config.loglevel, LogLevel::Debug | LogLevel::Verbose) {
        log(config, msg);
    }
}

/// `24 Nov 2026 15:49:55.123` in UTC.
fn timestamp(ms: i64) -> String {
    let (secs, millis) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + (month <= 2) as i64;
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    format!(
        "{day:02} {} {year} {:02}:{:02}:{:02}.{millis:03}",
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps() {
        assert_eq!(super::timestamp(0), "01 Jan 1970 00:00:00.000");
        assert_eq!(super::timestamp(1_795_000_000_123), "18 Nov 2026 11:06:40.123");
    }
}
