//! Periodic housekeeping, `hz` times per second: active expiry, the LRU clock, ops sampling,
//! idle-client timeouts and memory accounting.

use std::time::{Duration, Instant};

use super::Shared;
use crate::alloc;
use crate::keyspace::now_ms;

/// Most keys reclaimed per cron tick, so expiry never stalls clients for long.
const EXPIRE_PER_TICK: usize = 20_000;

/// Runs forever on the server's thread.
pub async fn run(server: Shared) {
    loop {
        let hz = server.borrow().config.hz.clamp(1, 500);
        tokio::time::sleep(Duration::from_millis(1000 / hz as u64)).await;
        let mut srv = server.borrow_mut();
        let now = now_ms();
        let clock = srv.started.elapsed().as_secs() as u32;
        // DEBUG SET-ACTIVE-EXPIRE 0 leaves expired keys to be found by lookups.
        if srv.introspect.active_expire {
            let started = Instant::now();
            // Every database is expired, as activeExpireCycle walks them all.
            let mut budget = EXPIRE_PER_TICK;
            srv.each_db_mut(|db| {
                db.access_clock = clock;
                budget -= db.expire_due(now, budget);
            });
            crate::introspect::latency_event(&mut srv, "expire-cycle", started.elapsed().as_millis() as u64);
        } else {
            srv.each_db_mut(|db| db.access_clock = clock);
        }
        super::notify::flush(&mut srv);
        if srv.tracking.used {
            super::tracking::expired_keys(&mut srv);
        }
        super::propagate::removed_keys(&mut srv);
        sample_ops(&mut srv.stats);
        crate::introspect::sample_rates(&mut srv);
        alloc::used_memory();
        crate::persist::cron(&mut srv);
        if srv.config.maxmemory > 0 {
            let started = Instant::now();
            srv.make_room();
            crate::introspect::latency_event(&mut srv, "eviction-cycle", started.elapsed().as_millis() as u64);
        }
        if srv.tracking.used {
            super::tracking::cron(&mut srv);
        }
        // Expired and evicted keys reach the replicas as DELs.
        if !srv.prop.repl.is_empty() {
            crate::replication::drain(&mut srv);
        }
        crate::replication::cron(&mut srv);
        if !srv.paused_clients.is_empty() {
            super::pause::resume(&mut srv, now);
        }
        let timeout = srv.config.timeout;
        if timeout > 0 {
            let limit = Duration::from_secs(timeout);
            for handle in srv.clients.borrow().values() {
                // A client busy in this very tick holds its own borrow; it is not idle.
                if let Ok(c) = handle.state.try_borrow() {
                    if c.last_interaction.elapsed() > limit {
                        handle.kill();
                    }
                }
            }
        }
    }
}

fn sample_ops(stats: &mut super::Stats) {
    let now = Instant::now();
    if let Some(last) = stats.last_sample_at {
        let ms = now.duration_since(last).as_millis().max(1) as u64;
        let ops = stats.total_commands_processed - stats.last_sample_ops;
        let idx = stats.ops_sample_idx;
        stats.ops_samples[idx] = ops * 1000 / ms;
        stats.ops_sample_idx = (idx + 1) % stats.ops_samples.len();
    }
    stats.last_sample_at = Some(now);
    stats.last_sample_ops = stats.total_commands_processed;
}

/// `instantaneous_ops_per_sec`: the mean of the recent samples.
pub fn instantaneous_ops(stats: &super::Stats) -> u64 {
    stats.ops_samples.iter().sum::<u64>() / stats.ops_samples.len() as u64
}
