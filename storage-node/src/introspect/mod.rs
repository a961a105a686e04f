//! Introspection state the node keeps beside the keyspace: the slow log, the latency monitor,
//! per-command latency histograms and error counts by code. `after_command` is what Redis's
//! call() does after a command ran (slowlogPushCurrentCommand, latencyAddSampleIfNeeded,
//! updateCommandLatencyHistogram); `count_error` is afterErrorReply's bookkeeping.

pub mod digest;
pub mod errorstats;
pub mod histogram;
pub mod latency;
pub mod memsize;
pub mod memstats;
pub mod rates;
pub mod slowlog;

use bytes::Bytes;
use protocol::command::flags;

use crate::server::{Client, Server};

/// What the node records about the commands it runs.
#[derive(Default)]
pub struct Introspect {
    pub slowlog: slowlog::SlowLog,
    pub latency: latency::Monitor,
    pub errors: errorstats::ErrorStats,
    /// Latency histograms by the node's command index, made on first use.
    pub histograms: Vec<Option<Box<histogram::Histogram>>>,
    /// DEBUG SET-ACTIVE-EXPIRE: false stops the expiry cycle.
    pub active_expire: bool,
    /// The network byte rates (INFO instantaneous_*_kbps).
    pub net: rates::NetRates,
    /// Bytes allocated once the node was set up (MEMORY STATS' startup.allocated).
    pub startup_allocated: usize,
}

impl Introspect {
    pub fn new() -> Introspect {
        Introspect { active_expire: true, startup_allocated: crate::alloc::used_memory(), ..Default::default() }
    }
}

/// Counts an error reply (INFO's total_error_replies and errorstats).
pub fn count_error(srv: &mut Server, msg: &str) {
    srv.stats.error_replies += 1;
    srv.introspect.errors.count(msg);
}

/// Arguments Redis hides from the slow log (redactClientCommandArgument): AUTH's, HELLO's
/// AUTH pair, MIGRATE's AUTH/AUTH2 values, CONFIG SET of a password.
fn redacted(args: &[Bytes], name: &str) -> Vec<Bytes> {
    let hide = Bytes::from_static(b"(redacted)");
    let mut out = args.to_vec();
    let is = |a: &Bytes, w: &str| a.eq_ignore_ascii_case(w.as_bytes());
    match name {
        "auth" => out.iter_mut().skip(1).for_each(|a| *a = hide.clone()),
        "hello" => {
            let mut i = 2;
            while i < out.len() {
                if is(&out[i], "auth") && i + 2 < out.len() {
                    out[i + 1] = hide.clone();
                    out[i + 2] = hide.clone();
                    i += 3;
                } else if is(&out[i], "setname") {
                    i += 2;
                } else {
                    i += 1;
                }
            }
        }
        "migrate" => {
            let mut i = 6;
            while i < out.len() {
                if is(&out[i], "keys") {
                    break;
                }
                if is(&out[i], "auth") && i + 1 < out.len() {
                    out[i + 1] = hide.clone();
                    i += 2;
                } else if is(&out[i], "auth2") && i + 2 < out.len() {
                    out[i + 1] = hide.clone();
                    out[i + 2] = hide.clone();
                    i += 3;
                } else {
                    i += 1;
                }
            }
        }
        "config|set" => {
            let mut i = 2;
            while i + 1 < out.len() {
                let sensitive = ["requirepass", "masterauth"].iter().any(|w| is(&out[i], w));
                if sensitive {
                    out[i + 1] = hide.clone();
                }
                i += 2;
            }
        }
        _ => {}
    }
    out
}

/// After a command ran for `usec` µs: the slow log, the latency monitor's command events and
/// the command's histogram. A command that blocked is logged when it is served (not here).
pub fn after_command(srv: &mut Server, client: &Client, idx: usize, args: &[Bytes], usec: u64) {
    if client.blocked.is_some() {
        return;
    }
    let spec = srv.commands.commands[idx].spec;
    let now_s = crate::keyspace::now_ms() / 1000;
    let threshold = srv.config.compat.slowlog_log_slower_than as i64;
    if !spec.has(flags::SKIP_SLOWLOG) && threshold >= 0 && usec as i64 >= threshold {
        let max_len = srv.config.compat.slowlog_max_len as usize;
        let name = client.name.as_deref().unwrap_or(b"");
        let logged = redacted(args, spec.name);
        srv.introspect.slowlog.push_if_needed(threshold, max_len, logged, usec, now_s, &client.addr, name);
    }
    let event = if spec.has(flags::FAST) { "fast-command" } else { "command" };
    let threshold_ms = srv.config.compat.latency_monitor_threshold;
    srv.introspect.latency.add_if_needed(threshold_ms, event, usec / 1000, now_s);
    if srv.config.compat.latency_tracking {
        let hists = &mut srv.introspect.histograms;
        if hists.len() <= idx {
            hists.resize_with(idx + 1, || None);
        }
        hists[idx].get_or_insert_with(Default::default).record(usec.saturating_mul(1000));
    }
}

/// Records a latency event of a subsystem (expire cycle, eviction, AOF writes) when it is at
/// or above the monitor's threshold.
pub fn latency_event(srv: &mut Server, event: &'static str, ms: u64) {
    let threshold = srv.config.compat.latency_monitor_threshold;
    srv.introspect.latency.add_if_needed(threshold, event, ms, crate::keyspace::now_ms() / 1000);
}

/// The cron's sampling of the network counters.
pub fn sample_rates(srv: &mut Server) {
    let now = std::time::Instant::now();
    let (input, output) = (srv.stats.net_input_bytes, srv.stats.net_output_bytes);
    srv.introspect.net.input.sample(input, now);
    srv.introspect.net.output.sample(output, now);
}
