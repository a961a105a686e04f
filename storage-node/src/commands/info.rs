//! INFO: Redis's sections and field names, so monitoring tools and the proxy read us unchanged.

use std::fmt::Write;

use super::{Ctx, Error, Handler};
use crate::alloc;
use crate::server::cron::instantaneous_ops;

pub fn register(h: &mut Vec<(&'static str, Handler)>) {
    h.push(("info", info as Handler));
}

const DEFAULT: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];
const ALL_EXTRA: &[&str] = &["commandstats"];

fn human(bytes: usize) -> String {
    let b = bytes as f64;
    if b < 1024.0 {
        format!("{bytes}B")
    } else if b < 1024.0 * 1024.0 {
        format!("{:.2}K", b / 1024.0)
    } else if b < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}M", b / (1024.0 * 1024.0))
    } else {
        format!("{:.2}G", b / (1024.0 * 1024.0 * 1024.0))
    }
}

fn cpu_times() -> (f64, f64) {
    // utime and stime are fields 14 and 15 of /proc/self/stat, in clock ticks (100 Hz).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / 100.0;
    (tick(11), tick(12))
}

fn info(ctx: &mut Ctx) -> Result<(), Error> {
    let mut wanted: Vec<String> = ctx.args[1..].iter().map(|a| String::from_utf8_lossy(a).to_lowercase()).collect();
    if wanted.is_empty() || wanted.iter().any(|w| w == "default") {
        wanted.extend(DEFAULT.iter().map(|s| s.to_string()));
    }
    if wanted.iter().any(|w| w == "all" || w == "everything") {
        wanted.extend(DEFAULT.iter().chain(ALL_EXTRA).map(|s| s.to_string()));
    }
    // Sections come out in Redis's order whatever order they were asked in.
    let order = DEFAULT.iter().chain(ALL_EXTRA);
    let mut text = String::new();
    for section in order.filter(|s| wanted.iter().any(|w| w == **s)) {
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        write_section(ctx, section, &mut text);
    }
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

fn write_section(ctx: &Ctx, section: &str, t: &mut String) {
    let srv = &*ctx.srv;
    let cfg = &srv.config;
    let _ = match section {
        "server" => write!(
            t,
            "# Server\r\nredis_version:{}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:slotgate-{}\r\nredis_mode:{}\r\nos:{} {}\r\narch_bits:64\r\nmultiplexing_api:epoll\r\nprocess_id:{}\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{}\r\nuptime_in_days:{}\r\nhz:{}\r\nconfigured_hz:{}\r\nexecutable:{}\r\nconfig_file:{}\r\n",
            crate::REDIS_VERSION,
            env!("CARGO_PKG_VERSION"),
            if cfg.cluster_enabled { "cluster" } else { "standalone" },
            std::env::consts::OS,
            std::env::consts::ARCH,
            std::process::id(),
            srv.run_id,
            srv.port,
            ctx.now * 1000,
            srv.uptime(),
            srv.uptime() / 86400,
            cfg.hz,
            cfg.hz,
            std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default(),
            cfg.config_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
        ),
        "clients" => write!(
            t,
            "# Clients\r\nconnected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\nclient_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\nblocked_clients:{}\r\ntracking_clients:{}\r\nclients_in_timeout_table:0\r\n",
            srv.clients.borrow().len(),
            cfg.maxclients,
            crate::server::blocking::blocked_count(srv),
            srv.tracking.clients(),
        ),
        "memory" => {
            let used = alloc::used_memory();
            let rss = alloc::rss();
            write!(
                t,
                "# Memory\r\nused_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\nused_memory_peak:{}\r\nused_memory_peak_human:{}\r\nmaxmemory:{}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{}\r\nmem_fragmentation_ratio:{:.2}\r\nmem_allocator:libc\r\n",
                human(used),
                human(rss),
                alloc::peak_memory(),
                human(alloc::peak_memory()),
                cfg.maxmemory,
                human(cfg.maxmemory as usize),
                cfg.maxmemory_policy.name(),
                rss as f64 / used.max(1) as f64,
            )
        }
        "persistence" => t.write_str(&crate::persist::info(srv)),
        "stats" => {
            let s = &srv.stats;
            write!(
                t,
                "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\ninstantaneous_ops_per_sec:{}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\nrejected_connections:{}\r\nexpired_keys:{}\r\nevicted_keys:{}\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\nsync_full:{}\r\nsync_partial_ok:{}\r\nsync_partial_err:{}\r\ntracking_total_keys:{}\r\ntracking_total_items:{}\r\ntracking_total_prefixes:{}\r\ntotal_error_replies:{}\r\nunexpected_error_replies:0\r\n",
                s.total_connections_received,
                s.total_commands_processed,
                instantaneous_ops(s),
                s.net_input_bytes,
                s.net_output_bytes,
                s.rejected_connections,
                srv.db.expired_keys,
                s.evicted_keys,
                s.keyspace_hits,
                s.keyspace_misses,
                srv.channels.len(),
                srv.patterns.len(),
                srv.repl.sync_full,
                srv.repl.sync_partial_ok,
                srv.repl.sync_partial_err,
                srv.tracking.total_keys(),
                srv.tracking.total_items(),
                srv.tracking.total_prefixes(),
                s.error_replies,
            )
        }
        "replication" => write!(t, "# Replication\r\n{}", crate::replication::info(srv)),
        "cpu" => {
            let (user, sys) = cpu_times();
            write!(t, "# CPU\r\nused_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\n")
        }
        "modules" => write!(t, "# Modules\r\n"),
        "errorstats" => write!(t, "# Errorstats\r\n"),
        "cluster" => write!(t, "# Cluster\r\ncluster_enabled:{}\r\n", cfg.cluster_enabled as u8),
        "keyspace" => {
            let _ = write!(t, "# Keyspace\r\n");
            let db = &srv.db;
            if db.is_empty() {
                Ok(())
            } else {
                write!(t, "db0:keys={},expires={},avg_ttl={}\r\n", db.len(), db.volatile_len(), avg_ttl(db, ctx.now))
            }
        }
        "commandstats" => {
            let _ = write!(t, "# Commandstats\r\n");
            for c in srv.commands.commands.iter().filter(|c| c.stats.calls > 0 || c.stats.rejected_calls > 0) {
                let s = &c.stats;
                let per = if s.calls > 0 { s.usec as f64 / s.calls as f64 } else { 0.0 };
                let _ = write!(
                    t,
                    "cmdstat_{}:calls={},usec={},usec_per_call={per:.2},rejected_calls={},failed_calls={}\r\n",
                    c.spec.name, s.calls, s.usec, s.rejected_calls, s.failed_calls
                );
            }
            Ok(())
        }
        _ => Ok(()),
    };
}

/// Mean remaining TTL in ms over a sample of volatile keys (Redis estimates it too).
fn avg_ttl(db: &crate::keyspace::Db, now: i64) -> i64 {
    if db.volatile_len() == 0 {
        return 0;
    }
    let mut sum = 0i64;
    let mut n = 0i64;
    for e in db.entries().filter(|e| e.expire_at > now).take(64) {
        sum += e.expire_at - now;
        n += 1;
    }
    if n == 0 {
        0
    } else {
        sum / n
    }
}
