//! MEMORY USAGE / STATS / DOCTOR / MALLOC-STATS / PURGE / HELP (object.c's memoryCommand and
//! getMemoryDoctorReport). The figures come from `introspect::memstats`, sizes of values from
//! `introspect::memsize`.

use super::{arg_i64, help_reply, is, Ctx, Error, Handler};
use crate::introspect::memsize::{key_usage, DEFAULT_SAMPLES};
use crate::introspect::memstats::MemoryStats;

pub fn register(h: &mut Vec<(&'static str, Handler)>) {
    h.push(("memory|usage", usage as Handler));
    h.push(("memory|stats", stats));
    h.push(("memory|doctor", doctor));
    h.push(("memory|malloc-stats", malloc_stats));
    h.push(("memory|purge", purge));
    h.push(("memory|help", help));
}

fn usage(ctx: &mut Ctx) -> Result<(), Error> {
    let mut samples = DEFAULT_SAMPLES;
    let mut j = 3;
    while j < ctx.args.len() {
        if is(&ctx.args[j], "samples") && j + 1 < ctx.args.len() {
            let n = arg_i64(&ctx.args[j + 1])?;
            if n < 0 {
                return Err(Error::Syntax);
            }
            // 0 samples everything.
            samples = n as usize;
            j += 2;
        } else {
            return Err(Error::Syntax);
        }
    }
    let fill = ctx.srv.config.compat.list_max_listpack_size as i64;
    let cluster = ctx.srv.config.cluster_enabled;
    // Like dictFind: a key past its TTL but not yet removed still counts.
    match ctx.srv.db.peek(&ctx.args[2]) {
        None => ctx.out.null(),
        Some(e) => ctx.out.int(key_usage(&e.key, &e.value, samples, fill, cluster) as i64),
    }
    Ok(())
}

fn stats(ctx: &mut Ctx) -> Result<(), Error> {
    let m = MemoryStats::gather(ctx.srv);
    let out = &mut *ctx.out;
    out.map(27 + m.dbs.len());
    let int = |out: &mut protocol::Reply, k: &str, v: i64| {
        out.bulk(k.as_bytes());
        out.int(v);
    };
    int(out, "peak.allocated", m.peak as i64);
    int(out, "total.allocated", m.total as i64);
    int(out, "startup.allocated", m.startup as i64);
    int(out, "replication.backlog", m.repl_backlog as i64);
    int(out, "clients.slaves", m.clients_slaves as i64);
    int(out, "clients.normal", m.clients_normal as i64);
    int(out, "cluster.links", m.cluster_links as i64);
    int(out, "aof.buffer", m.aof_buffer as i64);
    int(out, "lua.caches", m.lua_caches as i64);
    int(out, "functions.caches", m.functions_caches as i64);
    for d in &m.dbs {
        out.bulk(format!("db.{}", d.id).as_bytes());
        out.map(3);
        int(out, "overhead.hashtable.main", d.main as i64);
        int(out, "overhead.hashtable.expires", d.expires as i64);
        int(out, "overhead.hashtable.slot-to-keys", d.slot_to_keys as i64);
    }
    int(out, "overhead.total", m.overhead_total as i64);
    int(out, "keys.count", m.keys as i64);
    let per_key = m.total.saturating_sub(m.startup).checked_div(m.keys).unwrap_or(0);
    int(out, "keys.bytes-per-key", per_key as i64);
    int(out, "dataset.bytes", m.dataset as i64);
    let dbl = |out: &mut protocol::Reply, k: &str, v: f64| {
        out.bulk(k.as_bytes());
        out.double(v);
    };
    dbl(out, "dataset.percentage", m.dataset_perc());
    dbl(out, "peak.percentage", m.peak_perc());
    int(out, "allocator.allocated", m.allocator_allocated as i64);
    int(out, "allocator.active", m.allocator_active as i64);
    int(out, "allocator.resident", m.allocator_resident as i64);
    let pairs = [
        ("allocator-fragmentation", m.allocator_frag()),
        ("allocator-rss", m.allocator_rss()),
        ("rss-overhead", m.rss_overhead()),
    ];
    for (name, (ratio, bytes)) in pairs {
        dbl(out, &format!("{name}.ratio"), ratio);
        int(out, &format!("{name}.bytes"), bytes);
    }
    let (frag, frag_bytes) = m.fragmentation();
    dbl(out, "fragmentation", frag);
    int(out, "fragmentation.bytes", frag_bytes);
    Ok(())
}

fn doctor(ctx: &mut Ctx) -> Result<(), Error> {
    let text = doctor_report(ctx);
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

/// getMemoryDoctorReport's checks and texts.
fn doctor_report(ctx: &Ctx) -> String {
    let m = MemoryStats::gather(ctx.srv);
    if m.total < 5 * 1024 * 1024 {
        return "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n".into();
    }
    let mut issues = Vec::new();
    if m.peak as f64 / m.total.max(1) as f64 > 1.5 {
        issues.push(" * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.\n\n".to_string());
    }
    let (frag, frag_bytes) = m.fragmentation();
    if frag > 1.4 && frag_bytes > 10 << 20 {
        issues.push(" * High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 (this means that the Resident Set Size of the Redis process is much larger than the sum of the logical allocations Redis performed). This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. If the problem is a large peak memory, then there is no issue. Otherwise, make sure you are using the Jemalloc allocator and not the default libc malloc. Note: The currently used allocator is \"libc\".\n\n".to_string());
    }
    let (afrag, afrag_bytes) = m.allocator_frag();
    if afrag > 1.1 && afrag_bytes > 10 << 20 {
        issues.push(" * High allocator fragmentation: This instance has an allocator external fragmentation greater than 1.1. This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. You can try enabling 'activedefrag' config option.\n\n".to_string());
    }
    let clients = ctx.srv.clients.borrow().len().saturating_sub(ctx.srv.repl.replicas.len()).max(1);
    if m.clients_normal / clients > 1024 * 200 {
        issues.push(" * Big client buffers: The clients output buffers in this instance are greater than 200K per client (on average). This may result from different causes, like Pub/Sub clients subscribed to channels bot not receiving data fast enough, so that data piles on the Redis instance output buffer, or clients sending commands with large replies or very large sequences of commands in the same pipeline. Please use the CLIENT LIST command in order to investigate the issue if it causes problems in your instance, or to understand better why certain clients are using a big amount of memory.\n\n".to_string());
    }
    if ctx.srv.scripting.memory().1 > 1000 {
        issues.push(" * Many scripts: There seem to be many cached scripts in this instance (more than 1000). This may be because scripts are generated and `EVAL`ed, instead of being parameterized (with KEYS and ARGV), `SCRIPT LOAD`ed and `EVALSHA`ed. Unless `SCRIPT FLUSH` is called periodically, the scripts' caches may end up consuming most of your memory.\n\n".to_string());
    }
    if issues.is_empty() {
        return "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n".into();
    }
    let mut s = String::from("Sam, I detected a few issues in this Redis instance memory implants:\n\n");
    issues.iter().for_each(|i| s.push_str(i));
    s.push_str("I'm here to keep you safe, Sam. I want to help you.\n");
    s
}

/// The node runs on the C library's malloc, which has no statistics report: Redis answers
/// this way when it is not built with jemalloc.
fn malloc_stats(ctx: &mut Ctx) -> Result<(), Error> {
    ctx.out.bulk(b"Stats not supported for the current allocator");
    Ok(())
}

/// Returns free heap pages to the system (malloc_trim), as jemalloc's purge does.
fn purge(ctx: &mut Ctx) -> Result<(), Error> {
    // SAFETY: malloc_trim only releases memory the allocator holds unused.
    unsafe {
        libc::malloc_trim(0);
    }
    ctx.out.ok();
    Ok(())
}

fn help(ctx: &mut Ctx) -> Result<(), Error> {
    help_reply(
        ctx.out,
        "MEMORY",
        &[
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
        ],
    );
    Ok(())
}
