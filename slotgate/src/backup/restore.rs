//! `slotgate backup restore MANIFEST`: verifies the backup, refuses a target cluster holding
//! keys (unless `--replace`), then RESTOREs every key (`ABSTTL`, expired ones skipped) on the
//! master that owns its slot in the target cluster, whatever its shape, pipelined in batches;
//! a MOVED or ASK is followed once after refreshing the slot map. Function libraries are
//! restored on every master.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use clap::Args;
use protocol::Frame;
use serde::Serialize;

use super::manifest::Manifest;
use super::progress::{Phase, Progress};
use super::{rdbfile, verify};
use crate::client::{Conn, ConnOpts, Error};
use crate::topology::{self, format_ranges};
use crate::{Common, Status};

/// Error texts named in the summary before the rest are only counted.
const EXAMPLES: usize = 10;

#[derive(Args)]
pub struct RestoreArgs {
    /// Seeds (`-s`) are nodes of the target cluster.
    #[command(flatten)]
    pub common: Common,
    /// The backup's manifest.json (or its directory).
    pub manifest: PathBuf,
    /// Restore into a cluster that holds keys, overwriting keys of the same name (and
    /// function libraries of the same name).
    #[arg(long)]
    pub replace: bool,
    /// RESTORE commands sent to a master before reading their replies.
    #[arg(long, default_value_t = 500, value_name = "N")]
    pub batch: usize,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct Summary {
    pub backup: String,
    pub restored: u64,
    pub skipped_expired: u64,
    pub errors: u64,
    pub functions: u64,
    pub function_errors: u64,
    /// The first errors, as the nodes replied.
    pub error_examples: Vec<String>,
}

impl Summary {
    fn error(&mut self, e: String) {
        self.errors += 1;
        if self.error_examples.len() < EXAMPLES {
            self.error_examples.push(e);
        }
    }
}

/// One RESTORE to send: the key (for messages) and the command's words.
struct Cmd {
    key: Vec<u8>,
    args: Vec<Vec<u8>>,
}

/// The target cluster: where each slot goes, and a connection per master.
struct Target {
    seeds: Vec<String>,
    opts: ConnOpts,
    /// Master address per slot.
    owner: Vec<String>,
    conns: HashMap<String, Conn>,
}

impl Target {
    fn discover(seeds: &[String], opts: &ConnOpts) -> Result<(Target, Vec<String>), String> {
        let mut nodes = topology::discover(seeds, opts)?;
        nodes.sort_by_key(|n| n.slots.first().copied());
        let mut owner = vec![String::new(); protocol::SLOT_COUNT];
        let mut masters = Vec::new();
        for n in nodes.iter().filter(|n| n.is_master() && !n.slots.is_empty()) {
            masters.push(n.addr.clone());
            for &(a, b) in &n.slots {
                for s in a..=b {
                    owner[usize::from(s)] = n.addr.clone();
                }
            }
        }
        let missing: Vec<u16> =
            (0..protocol::SLOT_COUNT as u16).filter(|&s| owner[usize::from(s)].is_empty()).collect();
        if !missing.is_empty() {
            let ranges = verify::coverage(
                &nodes.iter().filter(|n| n.is_master()).map(|n| (n.id.clone(), n.slots.clone())).collect::<Vec<_>>(),
            );
            return Err(format!(
                "the target cluster does not serve every slot ({} unassigned: {}); fix it first",
                missing.len(),
                ranges.join("; ")
            ));
        }
        let t = Target { seeds: seeds.to_vec(), opts: opts.clone(), owner, conns: HashMap::new() };
        Ok((t, masters))
    }

    fn conn(&mut self, addr: &str) -> Result<&mut Conn, Error> {
        if !self.conns.contains_key(addr) {
            let c = Conn::open(addr, &self.opts)?;
            self.conns.insert(addr.to_string(), c);
        }
        self.conns.get_mut(addr).ok_or_else(|| Error::Io(format!("{addr}: no connection")))
    }

    /// Re-reads the slot map (after a MOVED); connections to nodes still masters are kept.
    fn refresh(&mut self) -> Result<(), String> {
        let (fresh, _) = Target::discover(&self.seeds, &self.opts)?;
        self.owner = fresh.owner;
        Ok(())
    }

    /// Sends the batch to `addr` and reads every reply; redirected commands come back with
    /// where they were sent to (`ASK` target, if any).
    fn flush(&mut self, addr: &str, batch: Vec<Cmd>, sum: &mut Summary) -> Vec<(Cmd, Option<String>)> {
        let mut redirected = Vec::new();
        let c = match self.conn(addr) {
            Ok(c) => c,
            Err(e) => {
                for cmd in &batch {
                    sum.error(format!("{}: {e}", String::from_utf8_lossy(&cmd.key)));
                }
                return redirected;
            }
        };
        let mut sent = 0;
        let mut failure = None;
        for cmd in &batch {
            if let Err(e) = c.send(&cmd.args) {
                failure = Some(e);
                break;
            }
            sent += 1;
        }
        let mut replies = Vec::with_capacity(sent);
        for _ in 0..sent {
            match c.read_frame() {
                Ok(f) => replies.push(f),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        if failure.is_some() {
            // The connection is in an unknown state: the next batch opens a new one.
            self.conns.remove(addr);
        }
        let lost = failure.map(|e| e.to_string()).unwrap_or_default();
        for (cmd, reply) in batch.into_iter().zip(replies.into_iter().map(Some).chain(std::iter::repeat(None))) {
            let key = String::from_utf8_lossy(&cmd.key).into_owned();
            match reply {
                Some(Frame::Error(e)) => {
                    let text = String::from_utf8_lossy(&e).into_owned();
                    if text.starts_with("MOVED ") {
                        redirected.push((cmd, None));
                    } else if let Some(rest) = text.strip_prefix("ASK ") {
                        redirected.push((cmd, rest.split(' ').nth(1).map(str::to_string)));
                    } else {
                        sum.error(format!("{key} on {addr}: {text}"));
                    }
                }
                Some(_) => sum.restored += 1,
                None => sum.error(format!("{key} on {addr}: no reply ({lost})")),
            }
        }
        redirected
    }

    /// Follows redirections once: MOVED after refreshing the slot map, ASK with ASKING.
    fn retry(&mut self, redirected: Vec<(Cmd, Option<String>)>, sum: &mut Summary) {
        if redirected.iter().any(|(_, ask)| ask.is_none()) {
            if let Err(e) = self.refresh() {
                sum.error(format!("refreshing the slot map after MOVED: {e}"));
            }
        }
        for (cmd, ask) in redirected {
            let addr = ask.clone().unwrap_or_else(|| self.owner[usize::from(protocol::key_slot(&cmd.key))].clone());
            let reply = self.conn(&addr).and_then(|c| {
                if ask.is_some() {
                    c.call(&["ASKING"])?;
                }
                c.call(&cmd.args)
            });
            match reply {
                Ok(_) => sum.restored += 1,
                Err(e) => {
                    if matches!(e, Error::Io(_)) {
                        self.conns.remove(&addr);
                    }
                    sum.error(format!("{} on {addr}: {e}", String::from_utf8_lossy(&cmd.key)));
                }
            }
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// The RESTORE for one entry, or `None` when it has expired by `now`.
fn restore_cmd(key: Vec<u8>, value: &rdb::Value, expire_at_ms: Option<i64>, now: i64, replace: bool) -> Option<Cmd> {
    let ttl = match expire_at_ms {
        Some(at) if at <= now => return None,
        Some(at) => at,
        None => 0,
    };
    let mut args = vec![b"RESTORE".to_vec(), key.clone(), ttl.to_string().into_bytes(), rdb::dump(value)];
    args.push(b"ABSTTL".to_vec());
    if replace {
        args.push(b"REPLACE".to_vec());
    }
    Some(Cmd { key, args })
}

pub fn run(a: &RestoreArgs) -> Result<Status, String> {
    let (m, dir) = Manifest::load(&a.manifest)?;
    let opts = a.common.conn_opts()?;
    if a.batch == 0 || a.batch > 100_000 {
        return Err("--batch must be between 1 and 100000".into());
    }
    for e in &m.masters {
        if let Some(f) = &e.file {
            if !dir.join(f).is_file() {
                return Err(format!(
                    "backup file {} of master {} is missing from {}: cannot restore",
                    f,
                    e.id,
                    dir.display()
                ));
            }
        }
    }
    let report = verify::verify(&m, &dir);
    if !report.problems.is_empty() {
        eprintln!("slotgate: refusing to restore backup {}: it does not verify; nothing was written:", m.id);
        for p in &report.problems {
            eprintln!("  - {p}");
        }
        return Ok(Status::Failed);
    }
    let (mut target, masters) = Target::discover(&a.common.seeds, &opts)?;
    let mut busy = Vec::new();
    for addr in &masters {
        let n = target.conn(addr).and_then(|c| c.call_int(&["DBSIZE"])).map_err(|e| e.to_string())?;
        if n > 0 {
            busy.push(format!("{addr} has {n} keys"));
        }
    }
    if !busy.is_empty() && !a.replace {
        eprintln!(
            "slotgate: refusing to restore into a cluster that holds keys ({}); use --replace to overwrite keys of the same name",
            busy.join(", ")
        );
        return Ok(Status::Failed);
    }

    let mut sum = Summary { backup: m.id.clone(), ..Summary::default() };
    let progress = Progress::start(&format!("restore {}", m.id), vec!["keys".into()]);
    let functions = match send_keys(&m, &dir, a, &mut target, &mut sum, &progress) {
        Ok(f) => f,
        Err(e) => {
            progress.finish();
            return Err(format!("restore stopped after {} keys were restored: {e}", sum.restored));
        }
    };
    if !functions.is_empty() {
        let payload = rdb::dump_functions(&functions);
        let policy = if a.replace { "REPLACE" } else { "APPEND" };
        for addr in &masters {
            let reply = target
                .conn(addr)
                .and_then(|c| c.call(&[b"FUNCTION".as_slice(), b"RESTORE", &payload, policy.as_bytes()]));
            if let Err(e) = reply {
                sum.function_errors += 1;
                sum.error(format!("FUNCTION RESTORE on {addr}: {e}"));
            }
        }
        sum.functions = functions.len() as u64;
    }
    progress.finish();
    if a.common.json {
        println!("{}", serde_json::to_string_pretty(&sum).map_err(|e| e.to_string())?);
    } else {
        print!("{}", render(&sum, &masters, &target));
    }
    Ok(if sum.errors == 0 { Status::Ok } else { Status::Failed })
}

/// RESTOREs every key of every file in batches; returns the function libraries found (each
/// once). Only a file that cannot be read any more (it verified moments ago) stops it.
fn send_keys(
    m: &Manifest,
    dir: &std::path::Path,
    a: &RestoreArgs,
    target: &mut Target,
    sum: &mut Summary,
    progress: &Progress,
) -> Result<Vec<Vec<u8>>, String> {
    let total: u64 = m.masters.iter().map(|e| e.keys).sum();
    let mut functions: Vec<Vec<u8>> = Vec::new();
    let mut pending: BTreeMap<String, Vec<Cmd>> = BTreeMap::new();
    let mut seen = 0u64;
    for e in &m.masters {
        let data = rdbfile::load(dir, e, &m.compression)?;
        let mut r = rdb::FileReader::new(&data).map_err(|err| format!("{}: {err}", e.id))?;
        // Bounded: the file was verified whole; each entry consumes input.
        while let Some(entry) = r.next_entry().map_err(|err| format!("{}: {err}", e.id))? {
            seen += 1;
            let Some(cmd) = restore_cmd(entry.key, &entry.value, entry.expire_at_ms, now_ms(), a.replace) else {
                sum.skipped_expired += 1;
                continue;
            };
            let addr = target.owner[usize::from(protocol::key_slot(&cmd.key))].clone();
            let batch = pending.entry(addr.clone()).or_default();
            batch.push(cmd);
            if batch.len() >= a.batch {
                let full = std::mem::take(batch);
                let redirected = target.flush(&addr, full, sum);
                target.retry(redirected, sum);
                progress.set(0, Phase::Count(seen, total));
            }
        }
        for code in r.functions() {
            if !functions.contains(code) {
                functions.push(code.clone());
            }
        }
    }
    for (addr, batch) in std::mem::take(&mut pending) {
        let redirected = target.flush(&addr, batch, sum);
        target.retry(redirected, sum);
    }
    progress.set(0, Phase::Count(seen, total));
    Ok(functions)
}

fn render(s: &Summary, masters: &[String], target: &Target) -> String {
    let mut out = format!(
        "restored backup {} into {} masters: {} keys restored, {} expired keys skipped, {} errors",
        s.backup,
        masters.len(),
        s.restored,
        s.skipped_expired,
        s.errors
    );
    if s.functions > 0 {
        out.push_str(&format!(", {} function librar{}", s.functions, if s.functions == 1 { "y" } else { "ies" }));
    }
    out.push('\n');
    for addr in masters {
        let slots: Vec<(u16, u16)> = slot_ranges(&target.owner, addr);
        out.push_str(&format!("  {addr}: slots {}\n", format_ranges(&slots)));
    }
    for e in &s.error_examples {
        out.push_str(&format!("  error: {e}\n"));
    }
    if s.errors > s.error_examples.len() as u64 {
        out.push_str(&format!("  ... and {} more errors\n", s.errors - s.error_examples.len() as u64));
    }
    out
}

fn slot_ranges(owner: &[String], addr: &str) -> Vec<(u16, u16)> {
    clusterview::nodes::slot_runs(|s| owner.get(s).is_some_and(|o| o == addr))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::backup::fake;

    fn bulk(text: &str) -> Vec<u8> {
        format!("${}\r\n{text}\r\n", text.len()).into_bytes()
    }

    /// A seed whose CLUSTER NODES puts every slot on `first`, then, from the second call on,
    /// on `then` (a reshard the restore learns of by a MOVED).
    fn seed(first: String, then: String) -> String {
        let calls = Arc::new(AtomicUsize::new(0));
        fake::master(
            8,
            Arc::new(move |w| {
                let reply = match (w[0].as_str(), w.get(1).map(String::as_str)) {
                    ("CLUSTER", Some("NODES")) => {
                        let owner = if calls.fetch_add(1, Ordering::SeqCst) == 0 { &first } else { &then };
                        bulk(&format!("aaaa {owner}@1 myself,master - 0 0 1 connected 0-16383\n"))
                    }
                    ("CLUSTER", Some("INFO")) => bulk("cluster_state:ok\r\n"),
                    _ => b"-ERR unexpected\r\n".to_vec(),
                };
                (reply, false)
            }),
        )
    }

    /// A master that accepts RESTORE (after ASKING when `asking`), recording the keys.
    fn taker(asking: bool, got: Arc<Mutex<Vec<String>>>) -> String {
        fake::master(
            4,
            Arc::new(move |w| {
                let reply = match w[0].as_str() {
                    "ASKING" if asking => b"+OK\r\n".to_vec(),
                    "RESTORE" => {
                        got.lock().unwrap().push(w[1].clone());
                        b"+OK\r\n".to_vec()
                    }
                    _ => b"-ERR unexpected\r\n".to_vec(),
                };
                (reply, false)
            }),
        )
    }

    /// A master that redirects every RESTORE with `redirect` (`MOVED` or `ASK`) to `to`.
    fn redirector(redirect: &'static str, to: String) -> String {
        fake::master(4, Arc::new(move |_| (format!("-{redirect} 1 {to}\r\n").into_bytes(), false)))
    }

    fn batch(n: usize) -> Vec<Cmd> {
        let v = rdb::Value::String(b"v".to_vec());
        (0..n).map(|i| restore_cmd(format!("k{i}").into_bytes(), &v, None, 0, false).unwrap()).collect()
    }

    #[test]
    fn moved_is_followed_once_after_refreshing_the_slot_map() {
        let got = Arc::new(Mutex::new(Vec::new()));
        let new_owner = taker(false, got.clone());
        let old_owner = redirector("MOVED", new_owner.clone());
        let s = seed(old_owner.clone(), new_owner.clone());
        let (mut t, masters) = Target::discover(&[s], &ConnOpts::default()).unwrap();
        assert_eq!(masters, vec![old_owner.clone()]);
        let mut sum = Summary::default();
        let redirected = t.flush(&old_owner, batch(20), &mut sum);
        assert_eq!((redirected.len(), sum.restored, sum.errors), (20, 0, 0));
        t.retry(redirected, &mut sum);
        assert_eq!((sum.restored, sum.errors), (20, 0), "{:?}", sum.error_examples);
        assert_eq!(got.lock().unwrap().len(), 20);
        assert_eq!(t.owner[0], new_owner);
    }

    #[test]
    fn ask_is_followed_with_asking_and_other_errors_are_counted() {
        let got = Arc::new(Mutex::new(Vec::new()));
        let importing = taker(true, got.clone());
        let migrating = redirector("ASK", importing.clone());
        let s = seed(migrating.clone(), migrating.clone());
        let (mut t, _) = Target::discover(&[s], &ConnOpts::default()).unwrap();
        let mut sum = Summary::default();
        let redirected = t.flush(&migrating, batch(3), &mut sum);
        assert!(redirected.iter().all(|(_, ask)| ask.as_deref() == Some(importing.as_str())));
        t.retry(redirected, &mut sum);
        assert_eq!((sum.restored, sum.errors), (3, 0), "{:?}", sum.error_examples);
        // A node that refuses: every key is an error, named.
        let busy = fake::master(1, Arc::new(|_| (b"-BUSYKEY Target key name already exists.\r\n".to_vec(), false)));
        let redirected = t.flush(&busy, batch(12), &mut sum);
        assert!(redirected.is_empty());
        assert_eq!(sum.errors, 12);
        assert_eq!(sum.error_examples.len(), EXAMPLES);
        assert!(sum.error_examples[0].contains("k0 on") && sum.error_examples[0].contains("BUSYKEY"));
    }

    #[test]
    fn restore_commands() {
        let v = rdb::Value::String(b"v".to_vec());
        let c = restore_cmd(b"k".to_vec(), &v, None, 1000, false).unwrap();
        assert_eq!(c.args[0], b"RESTORE");
        assert_eq!(c.args[2], b"0");
        assert_eq!(rdb::restore(&c.args[3]).unwrap(), v);
        assert_eq!(c.args[4..], [b"ABSTTL".to_vec()]);
        let c = restore_cmd(b"k".to_vec(), &v, Some(5000), 1000, true).unwrap();
        assert_eq!(c.args[2], b"5000");
        assert_eq!(c.args[4..], [b"ABSTTL".to_vec(), b"REPLACE".to_vec()]);
        assert!(restore_cmd(b"k".to_vec(), &v, Some(1000), 1000, false).is_none(), "expired at now");
    }

    #[test]
    fn ranges_of_an_owner() {
        let mut owner = vec!["a".to_string(); protocol::SLOT_COUNT];
        for o in owner.iter_mut().skip(100).take(50) {
            *o = "b".into();
        }
        assert_eq!(slot_ranges(&owner, "b"), vec![(100, 149)]);
        assert_eq!(slot_ranges(&owner, "a"), vec![(0, 99), (150, 16383)]);
    }
}
