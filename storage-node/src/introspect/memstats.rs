//! The memory figures INFO memory and MEMORY STATS report (Redis 7.0's getMemoryOverheadData):
//! what the allocator holds, the parts that are overhead (start-up state, replication
//! backlog, client buffers, the AOF buffer, scripts, the keyspace tables) and the dataset.

use crate::alloc;
use crate::server::Server;

/// One database's table overheads.
pub struct DbOverhead {
    pub id: usize,
    pub main: usize,
    pub expires: usize,
    pub slot_to_keys: usize,
}

/// Everything MEMORY STATS prints.
pub struct MemoryStats {
    pub peak: usize,
    pub total: usize,
    pub startup: usize,
    pub repl_backlog: usize,
    pub clients_slaves: usize,
    pub clients_normal: usize,
    pub cluster_links: usize,
    pub aof_buffer: usize,
    pub lua_caches: usize,
    pub functions_caches: usize,
    pub dbs: Vec<DbOverhead>,
    pub overhead_total: usize,
    pub keys: usize,
    pub dataset: usize,
    pub allocator_allocated: usize,
    pub allocator_active: usize,
    pub allocator_resident: usize,
    pub rss: usize,
}

/// glibc's view of the heap: (bytes in use, bytes taken from the system).
pub fn malloc_info() -> (usize, usize) {
    // SAFETY: mallinfo2 only reads the allocator's counters.
    let mi = unsafe { libc::mallinfo2() };
    (mi.uordblks + mi.hblkhd, mi.arena + mi.hblkhd)
}

/// Our keyspace table's overhead for `keys` entries: one pointer and one control byte per
/// bucket (buckets at 7/8 load), plus the boxed entry header beside each key and value.
fn table_overhead(keys: usize, per_entry: usize) -> usize {
    if keys == 0 {
        return 0;
    }
    let buckets = (keys * 8 / 7).next_power_of_two();
    buckets * 9 + keys * per_entry
}

impl MemoryStats {
    pub fn gather(srv: &Server) -> MemoryStats {
        let total = alloc::used_memory();
        let peak = alloc::peak_memory();
        let startup = srv.introspect.startup_allocated.min(total);
        let repl_backlog = srv.repl.backlog.capacity();
        let (mut clients_slaves, mut clients_normal) = (0usize, 0usize);
        let per_client = std::mem::size_of::<crate::server::ClientHandle>();
        for (id, h) in srv.clients.borrow().iter() {
            let out = h.outbox.try_borrow().map_or(0, |o| o.capacity());
            let qbuf = h.state.try_borrow().map_or(0, |c| c.qbuf);
            let replica = srv.repl.replicas.iter().any(|r| r.client_id == *id);
            let bytes = per_client + out + qbuf;
            if replica {
                clients_slaves += bytes;
            } else {
                clients_normal += bytes;
            }
        }
        let aof_buffer = srv.prop.buf.capacity();
        let (lua, _) = srv.scripting.memory();
        let functions_caches = srv.scripting.functions.vm_memory();
        let entry = std::mem::size_of::<crate::keyspace::Entry>() + 8;
        let all = srv.all_dbs();
        let keys = all.iter().map(|db| db.len()).sum();
        // Per non-empty database: its table, and the expiry index, (expire_at, key) per
        // volatile key in a B-tree.
        let dbs: Vec<DbOverhead> = all
            .iter()
            .enumerate()
            .filter(|(_, db)| !db.is_empty())
            .map(|(id, db)| DbOverhead {
                id,
                main: table_overhead(db.len(), entry),
                expires: db.volatile_len() * (8 + 16 + 8),
                slot_to_keys: 0,
            })
            .collect();
        let overhead_total = startup
            + repl_backlog
            + clients_slaves
            + clients_normal
            + aof_buffer
            + lua
            + functions_caches
            + dbs.iter().map(|d| d.main + d.expires + d.slot_to_keys).sum::<usize>();
        let (allocator_allocated, allocator_active) = malloc_info();
        MemoryStats {
            peak,
            total,
            startup,
            repl_backlog,
            clients_slaves,
            clients_normal,
            cluster_links: 0,
            aof_buffer,
            lua_caches: lua,
            functions_caches,
            dbs,
            overhead_total,
            keys,
            dataset: total.saturating_sub(overhead_total),
            allocator_allocated,
            allocator_active,
            allocator_resident: alloc::rss(),
            rss: alloc::rss(),
        }
    }

    /// dataset.percentage: the dataset's share of what is above the start-up state.
    pub fn dataset_perc(&self) -> f64 {
        let net = self.total.saturating_sub(self.startup);
        if net == 0 {
            0.0
        } else {
            self.dataset as f64 * 100.0 / net as f64
        }
    }

    pub fn peak_perc(&self) -> f64 {
        self.total as f64 * 100.0 / self.peak.max(1) as f64
    }

    pub fn ratio(a: usize, b: usize) -> f64 {
        if b == 0 {
            0.0
        } else {
            a as f64 / b as f64
        }
    }

    pub fn allocator_frag(&self) -> (f64, i64) {
        (
            Self::ratio(self.allocator_active, self.allocator_allocated),
            self.allocator_active as i64 - self.allocator_allocated as i64,
        )
    }

    pub fn allocator_rss(&self) -> (f64, i64) {
        (
            Self::ratio(self.allocator_resident, self.allocator_active),
            self.allocator_resident as i64 - self.allocator_active as i64,
        )
    }

    pub fn rss_overhead(&self) -> (f64, i64) {
        (Self::ratio(self.rss, self.allocator_resident), self.rss as i64 - self.allocator_resident as i64)
    }

    pub fn fragmentation(&self) -> (f64, i64) {
        (Self::ratio(self.rss, self.total), self.rss as i64 - self.total as i64)
    }
}
