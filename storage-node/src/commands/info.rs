//! INFO: Redis's sections and field names, so monitoring tools and the proxy read us unchanged.

use std::fmt::Write;

use super::{Ctx, Error, Handler};
use crate::introspect::memstats::MemoryStats;
use crate::server::cron::instantaneous_ops;
use crate::server::Server;

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
/// Sections INFO ALL adds, and where they go in Redis's order.
const ALL_ORDER: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
];

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

/// (user, system) CPU seconds of the process, its children or this thread (getrusage).
fn cpu_times(who: libc::c_int) -> (f64, f64) {
    // SAFETY: getrusage fills the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(who, &mut ru) } != 0 {
        return (0.0, 0.0);
    }
    let secs = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (secs(ru.ru_utime), secs(ru.ru_stime))
}

fn info(ctx: &mut Ctx) -> Result<(), Error> {
    let mut wanted: Vec<String> = ctx.args[1..].iter().map(|a| String::from_utf8_lossy(a).to_lowercase()).collect();
    if wanted.is_empty() || wanted.iter().any(|w| w == "default") {
        wanted.extend(DEFAULT.iter().map(|s| s.to_string()));
    }
    if wanted.iter().any(|w| w == "all" || w == "everything") {
        wanted.extend(ALL_ORDER.iter().map(|s| s.to_string()));
    }
    // Sections come out in Redis's order whatever order they were asked in.
    let order = ALL_ORDER.iter();
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
            "# Server\r\nredis_version:{}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:slotgate-{}\r\nredis_mode:{}\r\nos:{} {}\r\narch_bits:64\r\nmonotonic_clock:POSIX clock_gettime\r\nmultiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\ngcc_version:0.0.0\r\nprocess_id:{}\r\nprocess_supervised:no\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{}\r\nuptime_in_days:{}\r\nhz:{}\r\nconfigured_hz:{}\r\nlru_clock:{}\r\nexecutable:{}\r\nconfig_file:{}\r\nio_threads_active:0\r\n",
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
            // LRU_CLOCK: seconds, on 24 bits.
            (ctx.now / 1000) & ((1 << 24) - 1),
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
        "memory" => t.write_str(&memory_section(srv)),
        "persistence" => t.write_str(&crate::persist::info(srv)),
        "stats" => t.write_str(&stats_section(srv)),
        "replication" => write!(t, "# Replication\r\n{}", crate::replication::info(srv)),
        "cpu" => {
            let (user, sys) = cpu_times(libc::RUSAGE_SELF);
            let (cuser, csys) = cpu_times(libc::RUSAGE_CHILDREN);
            let (tuser, tsys) = cpu_times(libc::RUSAGE_THREAD);
            write!(
                t,
                "# CPU\r\nused_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\nused_cpu_sys_children:{csys:.6}\r\nused_cpu_user_children:{cuser:.6}\r\nused_cpu_sys_main_thread:{tsys:.6}\r\nused_cpu_user_main_thread:{tuser:.6}\r\n"
            )
        }
        "modules" => write!(t, "# Modules\r\n"),
        "errorstats" => {
            t.push_str("# Errorstats\r\n");
            srv.introspect.errors.info(t);
            Ok(())
        }
        "latencystats" => {
            t.push_str("# Latencystats\r\n");
            latency_stats(srv, t);
            Ok(())
        }
        "cluster" => write!(t, "# Cluster\r\ncluster_enabled:{}\r\n", cfg.cluster_enabled as u8),
        "keyspace" => {
            let _ = write!(t, "# Keyspace\r\n");
            // Every non-empty database, as genRedisInfoString lists them.
            for (i, db) in srv.all_dbs().into_iter().enumerate().filter(|(_, db)| !db.is_empty()) {
                let (keys, expires, ttl) = (db.len(), db.volatile_len(), avg_ttl(db, ctx.now));
                let _ = write!(t, "db{i}:keys={keys},expires={expires},avg_ttl={ttl}\r\n");
            }
            Ok(())
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

fn memory_section(srv: &Server) -> String {
    let m = MemoryStats::gather(srv);
    let cfg = &srv.config;
    let (lua, scripts) = srv.scripting.memory();
    let (libraries, functions) = srv.scripting.functions.counts();
    let vm_functions = srv.scripting.functions.vm_memory();
    let system = total_system_memory();
    let overhead = m.overhead_total;
    let (afr, afb) = m.allocator_frag();
    let (arr, arb) = m.allocator_rss();
    let (ror, rob) = m.rss_overhead();
    let (fr, fb) = m.fragmentation();
    let mut t = String::from("# Memory\r\n");
    let mut f = |k: &str, v: String| {
        t.push_str(k);
        t.push(':');
        t.push_str(&v);
        t.push_str("\r\n");
    };
    f("used_memory", m.total.to_string());
    f("used_memory_human", human(m.total));
    f("used_memory_rss", m.rss.to_string());
    f("used_memory_rss_human", human(m.rss));
    f("used_memory_peak", m.peak.to_string());
    f("used_memory_peak_human", human(m.peak));
    f("used_memory_peak_perc", format!("{:.2}%", m.peak_perc()));
    f("used_memory_overhead", overhead.to_string());
    f("used_memory_startup", m.startup.to_string());
    f("used_memory_dataset", m.dataset.to_string());
    f("used_memory_dataset_perc", format!("{:.2}%", m.dataset_perc()));
    f("allocator_allocated", m.allocator_allocated.to_string());
    f("allocator_active", m.allocator_active.to_string());
    f("allocator_resident", m.allocator_resident.to_string());
    f("total_system_memory", system.to_string());
    f("total_system_memory_human", human(system));
    f("used_memory_lua", lua.to_string());
    f("used_memory_vm_eval", lua.to_string());
    f("used_memory_lua_human", human(lua));
    f("used_memory_scripts_eval", 0.to_string());
    f("number_of_cached_scripts", scripts.to_string());
    f("number_of_functions", functions.to_string());
    f("number_of_libraries", libraries.to_string());
    f("used_memory_vm_functions", vm_functions.to_string());
    f("used_memory_vm_total", (lua + vm_functions).to_string());
    f("used_memory_vm_total_human", human(lua + vm_functions));
    f("used_memory_functions", 0.to_string());
    f("used_memory_scripts", 0.to_string());
    f("used_memory_scripts_human", human(0));
    f("maxmemory", cfg.maxmemory.to_string());
    f("maxmemory_human", human(cfg.maxmemory as usize));
    f("maxmemory_policy", cfg.maxmemory_policy.name().to_string());
    f("allocator_frag_ratio", format!("{afr:.2}"));
    f("allocator_frag_bytes", afb.to_string());
    f("allocator_rss_ratio", format!("{arr:.2}"));
    f("allocator_rss_bytes", arb.to_string());
    f("rss_overhead_ratio", format!("{ror:.2}"));
    f("rss_overhead_bytes", rob.to_string());
    f("mem_fragmentation_ratio", format!("{fr:.2}"));
    f("mem_fragmentation_bytes", fb.to_string());
    // Replica output buffers are not counted against maxmemory, as in Redis.
    f("mem_not_counted_for_evict", (m.aof_buffer + m.clients_slaves).to_string());
    f("mem_replication_backlog", m.repl_backlog.to_string());
    f("mem_total_replication_buffers", (m.repl_backlog + m.clients_slaves).to_string());
    f("mem_clients_slaves", m.clients_slaves.to_string());
    f("mem_clients_normal", m.clients_normal.to_string());
    f("mem_cluster_links", m.cluster_links.to_string());
    f("mem_aof_buffer", m.aof_buffer.to_string());
    f("mem_allocator", "libc".to_string());
    f("active_defrag_running", 0.to_string());
    f("lazyfree_pending_objects", 0.to_string());
    f("lazyfreed_objects", 0.to_string());
    t
}

/// Physical memory (sysconf pages × page size).
fn total_system_memory() -> usize {
    // SAFETY: sysconf only reads system constants.
    let (pages, size) = unsafe { (libc::sysconf(libc::_SC_PHYS_PAGES), libc::sysconf(libc::_SC_PAGESIZE)) };
    (pages.max(0) as usize).saturating_mul(size.max(0) as usize)
}

fn stats_section(srv: &Server) -> String {
    let s = &srv.stats;
    let mut t = String::from("# Stats\r\n");
    let mut f = |k: &str, v: String| {
        t.push_str(k);
        t.push(':');
        t.push_str(&v);
        t.push_str("\r\n");
    };
    f("total_connections_received", s.total_connections_received.to_string());
    f("total_commands_processed", s.total_commands_processed.to_string());
    f("instantaneous_ops_per_sec", instantaneous_ops(s).to_string());
    f("total_net_input_bytes", s.net_input_bytes.to_string());
    f("total_net_output_bytes", s.net_output_bytes.to_string());
    f("total_net_repl_input_bytes", 0.to_string());
    f("total_net_repl_output_bytes", 0.to_string());
    f("instantaneous_input_kbps", format!("{:.2}", srv.introspect.net.input.kbps()));
    f("instantaneous_output_kbps", format!("{:.2}", srv.introspect.net.output.kbps()));
    f("instantaneous_input_repl_kbps", "0.00".to_string());
    f("instantaneous_output_repl_kbps", "0.00".to_string());
    f("rejected_connections", s.rejected_connections.to_string());
    f("sync_full", srv.repl.sync_full.to_string());
    f("sync_partial_ok", srv.repl.sync_partial_ok.to_string());
    f("sync_partial_err", srv.repl.sync_partial_err.to_string());
    f("expired_keys", srv.expired_keys().to_string());
    f("expired_stale_perc", "0.00".to_string());
    f("expired_time_cap_reached_count", 0.to_string());
    f("expire_cycle_cpu_milliseconds", 0.to_string());
    f("evicted_keys", s.evicted_keys.to_string());
    f("evicted_clients", 0.to_string());
    f("total_eviction_exceeded_time", 0.to_string());
    f("current_eviction_exceeded_time", 0.to_string());
    f("keyspace_hits", s.keyspace_hits.to_string());
    f("keyspace_misses", s.keyspace_misses.to_string());
    f("pubsub_channels", srv.channels.len().to_string());
    f("pubsub_patterns", srv.patterns.len().to_string());
    f("pubsubshard_channels", srv.shard_channels.len().to_string());
    use std::sync::atomic::Ordering::Relaxed;
    f("latest_fork_usec", crate::persist::LAST_FORK_USEC.load(Relaxed).to_string());
    f("total_forks", crate::persist::FORKS.load(Relaxed).to_string());
    f("migrate_cached_sockets", srv.migrate_conns.len().to_string());
    f("slave_expires_tracked_keys", 0.to_string());
    f("active_defrag_hits", 0.to_string());
    f("active_defrag_misses", 0.to_string());
    f("active_defrag_key_hits", 0.to_string());
    f("active_defrag_key_misses", 0.to_string());
    f("total_active_defrag_time", 0.to_string());
    f("current_active_defrag_time", 0.to_string());
    f("tracking_total_keys", srv.tracking.total_keys().to_string());
    f("tracking_total_items", srv.tracking.total_items().to_string());
    f("tracking_total_prefixes", srv.tracking.total_prefixes().to_string());
    f("unexpected_error_replies", 0.to_string());
    f("total_error_replies", s.error_replies.to_string());
    f("dump_payload_sanitizations", 0.to_string());
    f("total_reads_processed", s.total_commands_processed.to_string());
    f("total_writes_processed", s.total_commands_processed.to_string());
    f("io_threaded_reads_processed", 0.to_string());
    f("io_threaded_writes_processed", 0.to_string());
    f("reply_buffer_shrinks", 0.to_string());
    f("reply_buffer_expands", 0.to_string());
    t
}

/// `latency_percentiles_usec_<cmd>:p50=..,p99=..` for every command with a histogram, the
/// percentiles of `latency-tracking-info-percentiles` (fillPercentileDistributionLatencies).
fn latency_stats(srv: &Server, t: &mut String) {
    if !srv.config.compat.latency_tracking {
        return;
    }
    let percentiles: Vec<f64> =
        srv.config.compat.latency_tracking_info_percentiles.split_whitespace().filter_map(|p| p.parse().ok()).collect();
    for (idx, h) in srv.introspect.histograms.iter().enumerate() {
        let Some(h) = h.as_deref().filter(|h| h.total > 0) else { continue };
        let name = srv.commands.commands[idx].spec.name;
        let parts: Vec<String> = percentiles
            .iter()
            .map(|p| format!("p{}={:.3}", trim_double(*p), h.value_at_percentile(*p) as f64 / 1000.0))
            .collect();
        let _ = write!(t, "latency_percentiles_usec_{name}:{}\r\n", parts.join(","));
    }
}

/// `%f` with trailing zeros (and a trailing point) removed, as trimDoubleString leaves it.
fn trim_double(v: f64) -> String {
    let s = format!("{v:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}
