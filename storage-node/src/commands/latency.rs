//! LATENCY LATEST / HISTORY / RESET / DOCTOR / GRAPH / HISTOGRAM / HELP (latency.c's
//! latencyCommand and createLatencyReport; the histograms are the per-command ones INFO
//! latencystats also reads).

use super::{err, help_reply, Ctx, Error, Handler};
use crate::introspect::latency::{graph, Series};
use crate::server::Server;

pub fn register(h: &mut Vec<(&'static str, Handler)>) {
    h.push(("latency|latest", latest as Handler));
    h.push(("latency|history", history));
    h.push(("latency|reset", reset));
    h.push(("latency|doctor", doctor));
    h.push(("latency|graph", graph_cmd));
    h.push(("latency|histogram", histogram));
    h.push(("latency|help", help));
}

fn now_s() -> i64 {
    crate::keyspace::now_ms() / 1000
}

fn latest(ctx: &mut Ctx) -> Result<(), Error> {
    let events = &ctx.srv.introspect.latency.events;
    ctx.out.array(events.len());
    for (name, ts) in events {
        let last = ts.latest();
        ctx.out.array(4);
        ctx.out.bulk(name.as_bytes());
        ctx.out.int(last.time);
        ctx.out.int(last.latency as i64);
        ctx.out.int(ts.max as i64);
    }
    Ok(())
}

fn find<'a>(srv: &'a Server, name: &[u8]) -> Option<&'a Series> {
    srv.introspect.latency.events.iter().find(|(k, _)| k.as_bytes() == name).map(|(_, v)| v)
}

fn history(ctx: &mut Ctx) -> Result<(), Error> {
    let Some(ts) = find(ctx.srv, &ctx.args[2]) else {
        ctx.out.array(0);
        return Ok(());
    };
    let samples: Vec<_> = ts.in_order().copied().collect();
    ctx.out.array(samples.len());
    for s in samples {
        ctx.out.array(2);
        ctx.out.int(s.time);
        ctx.out.int(s.latency as i64);
    }
    Ok(())
}

fn reset(ctx: &mut Ctx) -> Result<(), Error> {
    let names: Vec<&[u8]> = ctx.args[2..].iter().map(|a| &a[..]).collect();
    let n = ctx.srv.introspect.latency.reset(&names);
    ctx.out.int(n as i64);
    Ok(())
}

fn graph_cmd(ctx: &mut Ctx) -> Result<(), Error> {
    let name = String::from_utf8_lossy(&ctx.args[2]).into_owned();
    let Some(ts) = find(ctx.srv, &ctx.args[2]) else {
        return err(format!("ERR No samples available for event '{name}'"));
    };
    let text = graph(&name, ts, now_s());
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

fn histogram(ctx: &mut Ctx) -> Result<(), Error> {
    let table = &ctx.srv.commands;
    let hists = &ctx.srv.introspect.histograms;
    let with = |idx: usize| hists.get(idx).and_then(|h| h.as_deref()).filter(|h| h.total > 0);
    let mut picked: Vec<usize> = Vec::new();
    if ctx.args.len() == 2 {
        picked.extend((0..table.commands.len()).filter(|&i| with(i).is_some()));
    } else {
        for a in &ctx.args[2..] {
            let lower = a.to_ascii_lowercase();
            if let Some(i) = table.find(&lower).filter(|&i| with(i).is_some() && !picked.contains(&i)) {
                picked.push(i);
            }
        }
    }
    ctx.out.map(picked.len());
    for i in picked {
        let Some(h) = with(i) else { continue };
        ctx.out.bulk(table.commands[i].spec.name.as_bytes());
        ctx.out.map(2);
        ctx.out.bulk(b"calls");
        ctx.out.int(h.total as i64);
        ctx.out.bulk(b"histogram_usec");
        let cdf = h.cdf();
        ctx.out.map(cdf.len());
        for (us, n) in cdf {
            ctx.out.int(us as i64);
            ctx.out.int(n as i64);
        }
    }
    Ok(())
}

/// analyzeLatencyForEvent: (samples, average, mean absolute deviation, period seconds).
fn analyze(ts: &Series, now: i64) -> (u64, u64, u64, i64) {
    let samples: Vec<_> = ts.samples.iter().filter(|s| s.time != 0).collect();
    if samples.is_empty() {
        return (0, 0, 0, 0);
    }
    let n = samples.len() as u64;
    let avg = samples.iter().map(|s| s.latency).sum::<u64>() / n;
    let oldest = samples.iter().map(|s| s.time).min().unwrap_or(now);
    let period = (now - oldest).max(1);
    let mad = samples.iter().map(|s| (avg as i64 - s.latency as i64).unsigned_abs()).sum::<u64>() / n;
    (n, avg, mad, period)
}

fn doctor(ctx: &mut Ctx) -> Result<(), Error> {
    let text = report(ctx.srv);
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

/// createLatencyReport, for the events this node records.
fn report(srv: &Server) -> String {
    let events = &srv.introspect.latency.events;
    let threshold = srv.config.compat.latency_monitor_threshold;
    if events.is_empty() && threshold == 0 {
        return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n".into();
    }
    let now = now_s();
    let mut r = String::new();
    let (mut slowlog_enabled, mut slowlog_tuning, mut slowlog_inspect, mut large_objects) =
        (false, false, false, false);
    let (mut scheduler, mut hz, mut relax_fsync) = (false, false, false);
    let (mut local_disk, mut ssd, mut writeback, mut contention) = (false, false, false, false);
    let mut advices = 0;
    for (n, (name, ts)) in events.iter().enumerate() {
        if n == 0 {
            r.push_str("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n");
        }
        let (samples, avg, mad, period) = analyze(ts, now);
        r.push_str(&format!(
            "{}. {name}: {samples} latency spikes (average {avg}ms, mean deviation {mad}ms, period {:.2} sec). Worst all time event {}ms.",
            n + 1,
            period as f64 / samples.max(1) as f64,
            ts.max
        ));
        match *name {
            "command" => {
                let slower = srv.config.compat.slowlog_log_slower_than as i64;
                if slower == 0 {
                    slowlog_enabled = true;
                    advices += 1;
                } else if slower / 1000 > threshold as i64 {
                    slowlog_tuning = true;
                    advices += 1;
                }
                slowlog_inspect = true;
                large_objects = true;
                advices += 2;
            }
            "fast-command" => {
                scheduler = true;
                advices += 1;
            }
            "aof-write-alone" => {
                (local_disk, writeback, ssd) = (true, true, true);
                advices += 3;
            }
            "aof-fsync-always" => {
                relax_fsync = true;
                advices += 1;
            }
            "rdb-unlink-temp-file" => {
                (contention, local_disk) = (true, true);
                advices += 2;
            }
            "expire-cycle" => {
                (hz, large_objects) = (true, true);
                advices += 2;
            }
            "eviction-cycle" => {
                large_objects = true;
                advices += 1;
            }
            _ => {}
        }
        r.push('\n');
    }
    if events.is_empty() {
        r.push_str("Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n");
        return r;
    }
    if advices == 0 {
        r.push_str("\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please use the Redis community to get some help, providing this report in your help request.\n");
        return r;
    }
    let ms = threshold * 1000;
    r.push_str("\nI have a few advices for you:\n\n");
    if slowlog_enabled {
        r.push_str(&format!("- There are latency issues with potentially slow commands you are using. Try to enable the Slow Log Redis feature using the command 'CONFIG SET slowlog-log-slower-than {ms}'. If the Slow log is disabled Redis is not able to log slow commands execution for you.\n"));
    }
    if slowlog_tuning {
        r.push_str(&format!("- Your current Slow Log configuration only logs events that are slower than your configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than {ms}'.\n"));
    }
    if slowlog_inspect {
        r.push_str("- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n");
    }
    if scheduler {
        r.push_str("- The system is slow to execute Redis code paths not containing system calls. This usually means the system does not provide Redis CPU time to run for long periods. You should try to:\n  1) Lower the system load.\n  2) Use a computer / VM just for Redis if you are running other software in the same system.\n  3) Check if you have a \"noisy neighbour\" problem.\n  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your system.\n  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if you are using Jemalloc. However this may create fragmentation problems.\n");
    }
    if local_disk {
        r.push_str("- It is strongly advised to use local disks for persistence, especially if you are using AOF. Remote disks provided by platform-as-a-service providers are known to be slow.\n");
    }
    if ssd {
        r.push_str("- SSD disks are able to reduce fsync latency, and total time needed for snapshotting and AOF log rewriting (resulting in smaller memory usage). With extremely high write load SSD disks can be a good option. However Redis should perform reasonably with high load using normal disks. Use this advice as a last resort.\n");
    }
    if writeback {
        r.push_str("- Mounting ext3/4 filesystems with data=writeback can provide a performance boost compared to data=ordered, however this mode of operation provides less guarantees, and sometimes it can happen that after a hard crash the AOF file will have a half-written command at the end and will require to be repaired before Redis restarts.\n");
    }
    if contention {
        r.push_str("- Try to lower the disk contention. This is often caused by other disk intensive processes running in the same computer (including other Redis instances).\n");
    }
    if relax_fsync && srv.config.appendfsync == config::AppendFsync::Always {
        r.push_str("- Your fsync policy is set to 'always'. It is very hard to get good performances with such a setup, if possible try to relax the fsync policy to 'onesec'.\n");
    }
    if hz && srv.config.hz < 100 {
        r.push_str("- In order to make the Redis keys expiring process more incremental, try to set the 'hz' configuration parameter to 100 using 'CONFIG SET hz 100'.\n");
    }
    if large_objects {
        r.push_str("- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n");
    }
    r
}

fn help(ctx: &mut Ctx) -> Result<(), Error> {
    help_reply(
        ctx.out,
        "LATENCY",
        &[
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
        ],
    );
    Ok(())
}
