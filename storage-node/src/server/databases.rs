//! Numbered databases (`databases N`, SELECT): the database a command works on is always in
//! `Server::db`, so handlers need not know about the others. `select_db` swaps the client's
//! database into place before a command runs (Redis's `selectDb`); the rest wait in
//! `Server::dbs`, whose entry at `db_index` is an empty stand-in. MOVE, SWAPDB, COPY DB,
//! FLUSHALL, INFO keyspace, persistence and cron reach the others through `db_at`.
//!
//! Blocked and watched keys name their database: `(db, key)`, looked up without allocating
//! through `KeyRef`.

use std::hash::{Hash, Hasher};

use super::Server;
use crate::keyspace::Db;

/// A key in a database: how blocked and watched keys are identified.
pub type DbKey = (usize, Box<[u8]>);

/// A borrowed `DbKey` for lookups; hashes exactly as the owned tuple does.
pub struct KeyRef<'a>(pub usize, pub &'a [u8]);

impl Hash for KeyRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
        self.1.hash(state);
    }
}

impl hashbrown::Equivalent<DbKey> for KeyRef<'_> {
    fn equivalent(&self, key: &DbKey) -> bool {
        self.0 == key.0 && *self.1 == *key.1
    }
}

/// The databases a node starts with: `n` empty ones (tables are made on first write).
pub fn initial(n: u32, lfu: bool) -> Vec<Db> {
    (0..n.max(1))
        .map(|_| {
            let mut db = Db::new();
            db.lfu = lfu;
            db
        })
        .collect()
}

impl Server {
    /// Puts database `index` in `self.db` (the one in place goes back to `dbs`). Cheap: two
    /// swaps of a few words, and nothing at all when it is already in place.
    #[inline]
    pub fn select_db(&mut self, index: usize) {
        if index != self.db_index && index < self.dbs.len() {
            std::mem::swap(&mut self.db, &mut self.dbs[self.db_index]);
            std::mem::swap(&mut self.db, &mut self.dbs[index]);
            self.db_index = index;
        }
    }

    /// Number of databases (`databases`).
    pub fn db_count(&self) -> usize {
        self.dbs.len()
    }

    /// Database `index`, wherever it is.
    pub fn db_at(&mut self, index: usize) -> &mut Db {
        if index == self.db_index {
            &mut self.db
        } else {
            &mut self.dbs[index]
        }
    }

    /// Database `index` for reading.
    pub fn db_ref(&self, index: usize) -> &Db {
        if index == self.db_index {
            &self.db
        } else {
            &self.dbs[index]
        }
    }

    /// Every database in index order.
    pub fn all_dbs(&self) -> Vec<&Db> {
        (0..self.dbs.len()).map(|i| self.db_ref(i)).collect()
    }

    /// Applies `f` to every database.
    pub fn each_db_mut(&mut self, mut f: impl FnMut(&mut Db)) {
        f(&mut self.db);
        for (i, db) in self.dbs.iter_mut().enumerate() {
            if i != self.db_index {
                f(db);
            }
        }
    }

    /// Swaps the contents of databases `a` and `b` (SWAPDB); the in-place one stays in place
    /// with the other's contents. Per-database settings stay with the number.
    pub fn swap_dbs(&mut self, a: usize, b: usize) {
        if a == b {
            return;
        }
        let cur = self.db_index;
        // Bring both out of `self.db` into `dbs`, swap there, and put the current one back.
        std::mem::swap(&mut self.db, &mut self.dbs[cur]);
        self.dbs.swap(a, b);
        std::mem::swap(&mut self.db, &mut self.dbs[cur]);
    }

    /// Keys reclaimed by expiry in every database (INFO `expired_keys`).
    pub fn expired_keys(&self) -> u64 {
        self.all_dbs().iter().map(|d| d.expired_keys).sum()
    }
}
