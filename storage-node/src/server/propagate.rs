//! The propagation hook: every change to the dataset, described as commands that replay to the
//! same result. The AOF appends this stream (and replication will send it). Commands are
//! rewritten where replaying them verbatim would differ: relative expiries become absolute,
//! SPOP becomes SREM, INCRBYFLOAT becomes SET, a served blocking pop becomes the pop it did.
//! Everything a top-level command caused (EXEC's commands, a script's effects, keys it
//! expired on the way) is wrapped in MULTI/EXEC when it is more than one command.

use bytes::{Bytes, BytesMut};
use protocol::command::{flags, CommandSpec};

use super::Server;

/// The propagated stream and the state of the command being propagated.
#[derive(Default)]
pub struct Propagation {
    /// Whether anything consumes the stream (the AOF, replicas).
    pub enabled: bool,
    /// The AOF takes `buf`.
    pub to_aof: bool,
    /// Replication takes `repl` (set once a replica has synced).
    pub to_replicas: bool,
    /// RESP commands not yet sent to the replicas.
    pub repl: BytesMut,
    /// Set while the AOF is replayed: replayed commands are not written again.
    pub loading: bool,
    /// RESP commands not yet taken by the consumers.
    pub buf: BytesMut,
    /// Bytes ever appended to `buf`: consumers compare offsets to know what is durable.
    pub offset: u64,
    /// Nesting of commands (EXEC and scripts run commands inside a command).
    depth: u32,
    /// Commands of the running top-level command, flushed when it ends.
    pending: BytesMut,
    pending_count: usize,
    /// What the running handler asked to propagate instead of its arguments.
    replacement: Option<Vec<Vec<Bytes>>>,
    /// The database of the commands pushed now.
    pub db: usize,
    /// Databases of the first and the last pending command (a SELECT sits between pending
    /// commands of different databases).
    pending_first_db: usize,
    pending_last_db: usize,
    /// The database the AOF and the replicas were last told to SELECT (`None`: tell them
    /// again, as Redis's `aof_selected_db` / `slaveseldb` of -1).
    pub aof_db: Option<usize>,
    pub repl_db: Option<usize>,
}

impl Propagation {
    /// Whether commands run now must be described in the stream.
    pub fn active(&self) -> bool {
        self.enabled && !self.loading
    }

    /// A command starts (possibly inside another).
    pub fn enter(&mut self) {
        self.depth += 1;
    }

    /// A command ends; the outermost one moves what it caused to the stream.
    pub fn leave(&mut self) {
        self.depth -= 1;
        if self.depth == 0 {
            self.flush();
        }
    }

    /// Appends one command to what the running command causes (or straight to the stream
    /// when no command runs, e.g. active expiry).
    pub fn push<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        if self.pending_count == 0 {
            self.pending_first_db = self.db;
        } else if self.pending_last_db != self.db {
            encode_select(&mut self.pending, self.db);
        }
        self.pending_last_db = self.db;
        encode(&mut self.pending, args);
        self.pending_count += 1;
        if self.depth == 0 {
            self.flush();
        }
    }

    /// `push` for a command of database `db`.
    pub fn push_in<A: AsRef<[u8]>>(&mut self, db: usize, args: &[A]) {
        self.db = db;
        self.push(args);
    }

    /// Replaces what the running handler propagates (see `Ctx::propagate_as`).
    pub fn replace(&mut self, cmds: Vec<Vec<Bytes>>) {
        if self.active() {
            self.replacement.get_or_insert_with(Vec::new).extend(cmds);
        }
    }

    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let wrap = self.pending_count > 1;
        let mut chunk = BytesMut::with_capacity(self.pending.len() + 32);
        if wrap {
            encode(&mut chunk, &[b"MULTI"]);
        }
        chunk.extend_from_slice(&self.pending);
        if wrap {
            encode(&mut chunk, &[b"EXEC"]);
        }
        let (first, last) = (self.pending_first_db, self.pending_last_db);
        if self.to_aof {
            let before = self.buf.len();
            if self.aof_db != Some(first) {
                encode_select(&mut self.buf, first);
            }
            self.buf.extend_from_slice(&chunk);
            self.offset += (self.buf.len() - before) as u64;
            self.aof_db = Some(last);
        }
        if self.to_replicas {
            // As replicationFeedSlaves: a SELECT whenever the database differs from the last.
            if self.repl_db != Some(first) {
                encode_select(&mut self.repl, first);
            }
            self.repl.extend_from_slice(&chunk);
            self.repl_db = Some(last);
        }
        self.pending.clear();
        self.pending_count = 0;
    }

    /// Takes everything propagated so far.
    pub fn take(&mut self) -> BytesMut {
        self.buf.split()
    }
}

/// Appends `SELECT db`.
fn encode_select(buf: &mut BytesMut, db: usize) {
    encode(buf, &[&b"SELECT"[..], db.to_string().as_bytes()]);
}

/// Appends `args` as a RESP multibulk.
pub fn encode<A: AsRef<[u8]>>(buf: &mut BytesMut, args: &[A]) {
    protocol::encode::write_command(buf, args);
}

/// Describes what a command that just ran did (called by `commands::execute` while the
/// propagation is active).
pub fn after_command(srv: &mut Server, spec: &CommandSpec, args: &[Bytes], dirty_before: u64) {
    srv.prop.db = srv.db_index;
    // Keys the command found expired were deleted before it acted.
    for key in std::mem::take(&mut srv.db.expired_log) {
        srv.prop.push(&[&b"DEL"[..], &key]);
    }
    if let Some(cmds) = srv.prop.replacement.take() {
        for c in cmds {
            srv.prop.push(&c);
        }
        return;
    }
    if srv.dirty == dirty_before || !spec.has(flags::WRITE) {
        return;
    }
    match rewrite(srv, spec.name, args) {
        Some(cmds) => {
            for c in cmds {
                srv.prop.push(&c);
            }
        }
        None => srv.prop.push(args),
    }
}

/// Keys removed outside any command (active expiry, eviction): each becomes a DEL.
pub fn removed_keys(srv: &mut Server) {
    for index in 0..srv.db_count() {
        if srv.db_ref(index).expired_log.is_empty() {
            continue;
        }
        for key in std::mem::take(&mut srv.db_at(index).expired_log) {
            srv.prop.push_in(index, &[&b"DEL"[..], &key]);
        }
    }
}

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

fn num(n: impl ToString) -> Bytes {
    Bytes::from(n.to_string())
}

/// The state-based rewrites: what the key looks like now says what the command did, so the
/// relative times it was given need not be parsed twice.
fn rewrite(srv: &Server, name: &str, args: &[Bytes]) -> Option<Vec<Vec<Bytes>>> {
    let key = args.get(1)?;
    let entry = srv.db.peek(key);
    let del = || Some(vec![vec![b("DEL"), key.clone()]]);
    match name {
        "set" => {
            let with_ttl = args[3..]
                .iter()
                .any(|a| ["ex", "px", "exat", "pxat"].iter().any(|w| a.eq_ignore_ascii_case(w.as_bytes())));
            if !with_ttl {
                return None;
            }
            set_pxat(key, &args[2], entry.map(|e| e.expire_at)).or_else(del)
        }
        "setex" | "psetex" => set_pxat(key, &args[3], entry.map(|e| e.expire_at)).or_else(del),
        "expire" | "pexpire" | "expireat" | "pexpireat" | "getex" => match entry {
            None => del(),
            Some(e) if e.expire_at == 0 => Some(vec![vec![b("PERSIST"), key.clone()]]),
            Some(e) => Some(vec![vec![b("PEXPIREAT"), key.clone(), num(e.expire_at)]]),
        },
        "incrbyfloat" => {
            let v = entry?.value.as_bytes()?.into_owned();
            Some(vec![vec![b("SET"), key.clone(), Bytes::from(v), b("KEEPTTL")]])
        }
        "hincrbyfloat" => {
            let crate::keyspace::Value::Hash(h) = &entry?.value else { return None };
            let v = h.get(&args[2])?.to_vec();
            Some(vec![vec![b("HSET"), key.clone(), args[2].clone(), Bytes::from(v)]])
        }
        "restore" | "restore-asking" => {
            let Some(e) = entry else { return del() };
            let mut cmd = vec![b("RESTORE"), key.clone(), num(e.expire_at), args[3].clone(), b("REPLACE")];
            if e.expire_at != 0 {
                cmd.push(b("ABSTTL"));
            }
            Some(vec![cmd])
        }
        _ => None,
    }
}

/// `SET key value PXAT at` for a key stored with a TTL; `None` when the key is gone.
fn set_pxat(key: &Bytes, value: &Bytes, expire_at: Option<i64>) -> Option<Vec<Vec<Bytes>>> {
    let at = expire_at?;
    let mut cmd = vec![b("SET"), key.clone(), value.clone()];
    if at != 0 {
        cmd.extend([b("PXAT"), num(at)]);
    }
    Some(vec![cmd])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_of_one_top_level_command_are_wrapped() {
        let mut p = Propagation { enabled: true, to_aof: true, aof_db: Some(0), ..Default::default() };
        p.enter();
        p.push(&[&b"SET"[..], b"k", b"v"]);
        p.leave();
        assert_eq!(&p.buf[..], b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
        let first = p.take().len();
        p.enter();
        p.enter();
        p.push(&[&b"INCR"[..], b"a"]);
        p.leave();
        p.enter();
        p.push(&[&b"INCR"[..], b"b"]);
        p.leave();
        assert!(p.buf.is_empty(), "nothing leaves before the outer command ends");
        p.leave();
        let s = String::from_utf8_lossy(&p.buf).into_owned();
        assert!(s.starts_with("*1\r\n$5\r\nMULTI\r\n") && s.ends_with("*1\r\n$4\r\nEXEC\r\n"), "{s}");
        assert_eq!(p.offset as usize, first + s.len());
        p.take();
        // A command of another database is preceded by SELECT, once.
        p.push_in(2, &[&b"DEL"[..], b"k"]);
        p.push_in(2, &[&b"DEL"[..], b"j"]);
        let s = String::from_utf8_lossy(&p.buf).into_owned();
        assert!(s.starts_with("*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n*2\r\n$3\r\nDEL"), "{s}");
        assert_eq!(s.matches("SELECT").count(), 1, "{s}");
    }
}
