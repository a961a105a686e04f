//! `slotgate backup create DIR`: BGSAVE on every master at once, each master's RDB received
//! over the network and checked (every entry, the CRC), written into `DIR/<backup-id>/` with
//! `manifest.json`; then, on success, retention.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args;

use super::manifest::{self, now_secs, rfc3339, sha256_hex, Manifest, MasterEntry, Shape, ShapeNode};
use super::progress::{Phase, Progress};
use super::{fetch, rdbfile};
use crate::client::ConnOpts;
use crate::output::{human_bytes, paint, Table, Tone};
use crate::topology::{self, format_ranges, NodeLine};
use crate::{Common, Status};

#[derive(Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub common: Common,
    /// Directory the backup goes in (as DIR/<backup-id>/); created if missing.
    pub dir: PathBuf,
    /// Seconds each master has to save and send its snapshot.
    #[arg(long, default_value_t = 300)]
    pub deadline: u64,
    /// Store the RDB files compressed with zstd (`.rdb.zst`).
    #[arg(long)]
    pub compress: bool,
    /// After a successful backup, remove backups in DIR that started more than N days ago.
    #[arg(long, value_name = "N")]
    pub retention_days: Option<u64>,
}

pub fn run(a: &CreateArgs) -> Result<Status, String> {
    let opts = a.common.conn_opts()?;
    if a.deadline == 0 {
        return Err("--deadline must be at least 1 second".into());
    }
    let nodes = topology::discover(&a.common.seeds, &opts)?;
    let mut masters: Vec<NodeLine> = nodes.iter().filter(|n| n.is_master() && !n.slots.is_empty()).cloned().collect();
    masters.sort_by_key(|m| m.slots.first().copied());
    if masters.is_empty() {
        return Err("the cluster has no master serving slots: nothing to back up".into());
    }
    let started = now_secs();
    let id = manifest::new_id(started);
    let dir = a.dir.join(&id);
    std::fs::create_dir_all(&a.dir).map_err(|e| format!("{}: {e}", a.dir.display()))?;
    std::fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;

    let progress = Progress::start(&format!("backup {id}"), masters.iter().map(|m| m.addr.clone()).collect());
    let deadline = Instant::now() + Duration::from_secs(a.deadline);
    let entries: Vec<MasterEntry> = std::thread::scope(|s| {
        let handles: Vec<_> = masters
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let (opts, dir, progress) = (&opts, &dir, progress.clone());
                s.spawn(move || back_up_master(m, opts, deadline, dir, a.compress, i, &progress))
            })
            .collect();
        handles
            .into_iter()
            .zip(&masters)
            .map(|(h, m)| h.join().unwrap_or_else(|_| failed(m, "internal error: the worker panicked".into())))
            .collect()
    });
    progress.finish();

    let success = entries.iter().all(|e| e.error.is_none());
    let m = Manifest {
        format: manifest::FORMAT.into(),
        version: manifest::VERSION,
        id: id.clone(),
        started_at: rfc3339(started),
        finished_at: rfc3339(now_secs()),
        success,
        compression: if a.compress { "zstd" } else { "none" }.into(),
        cluster: shape(&nodes),
        masters: entries,
    };
    m.save(&dir)?;
    let removed = match a.retention_days {
        Some(days) if success => retention(&a.dir, &dir, days),
        _ => Vec::new(),
    };
    if a.common.json {
        let out = serde_json::json!({ "dir": dir, "manifest": m, "removed": removed });
        println!("{}", serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?);
    } else {
        print!("{}", render(&m, &dir, &removed));
    }
    Ok(if success { Status::Ok } else { Status::Failed })
}

fn failed(m: &NodeLine, error: String) -> MasterEntry {
    MasterEntry {
        id: m.id.clone(),
        addr: m.addr.clone(),
        role: "master".into(),
        slots: m.slots.clone(),
        file: None,
        size: 0,
        rdb_size: 0,
        sha256: None,
        keys: 0,
        functions: 0,
        partial: false,
        error: Some(error),
    }
}

/// Saves, receives, checks and writes one master's snapshot; every failure ends up in the
/// entry (what arrived is kept as `<file>.partial`).
fn back_up_master(
    m: &NodeLine,
    opts: &ConnOpts,
    deadline: Instant,
    dir: &Path,
    compress: bool,
    index: usize,
    progress: &Progress,
) -> MasterEntry {
    let set = |phase: Phase| progress.set(index, phase);
    set(Phase::Saving);
    if let Err(e) = fetch::bgsave(&m.addr, opts, deadline) {
        set(Phase::Failed);
        return failed(m, e);
    }
    set(Phase::Fetching(0, 0));
    let got = fetch::fetch_rdb(&m.addr, opts, deadline, |done, total| set(Phase::Fetching(done, total)));
    set(Phase::Checking);
    let mut entry = failed(m, String::new());
    entry.error = got.error;
    entry.rdb_size = got.data.len() as u64;
    if got.data.is_empty() {
        set(Phase::Failed);
        entry.error = entry.error.or(Some(format!("{}: empty snapshot", m.addr)));
        return entry;
    }
    if entry.error.is_none() {
        match rdbfile::check(&got.data) {
            Ok(summary) => {
                entry.keys = summary.keys;
                entry.functions = summary.functions;
            }
            Err(e) => entry.error = Some(format!("{}: the snapshot does not parse: {e}", m.addr)),
        }
    }
    let stored = if compress {
        match zstd::bulk::compress(&got.data, 3) {
            Ok(z) => z,
            Err(e) => {
                set(Phase::Failed);
                entry.error = entry.error.or(Some(format!("compressing {}'s snapshot: {e}", m.addr)));
                return entry;
            }
        }
    } else {
        got.data
    };
    entry.partial = entry.error.is_some();
    // Node ids are hex; anything else a node says is kept out of the file name.
    let safe: String = m.id.chars().filter(char::is_ascii_alphanumeric).take(64).collect();
    let safe = if safe.is_empty() { format!("master-{index}") } else { safe };
    let name =
        format!("{safe}.rdb{}{}", if compress { ".zst" } else { "" }, if entry.partial { ".partial" } else { "" });
    match std::fs::write(dir.join(&name), &stored) {
        Ok(()) => {
            entry.file = Some(name);
            entry.size = stored.len() as u64;
            entry.sha256 = Some(sha256_hex(&stored));
        }
        Err(e) => entry.error = entry.error.or(Some(format!("{}: {e}", dir.join(&name).display()))),
    }
    set(if entry.error.is_some() { Phase::Failed } else { Phase::Done });
    entry
}

fn shape(nodes: &[NodeLine]) -> Shape {
    let mut list: Vec<ShapeNode> = nodes
        .iter()
        .map(|n| ShapeNode {
            id: n.id.clone(),
            addr: n.addr.clone(),
            role: if n.is_master() { "master" } else { "replica" }.into(),
            master_id: n.master_id.clone(),
        })
        .collect();
    list.sort_by(|a, b| a.addr.cmp(&b.addr));
    Shape {
        masters: nodes.iter().filter(|n| n.is_master() && !n.slots.is_empty()).count(),
        replicas: nodes.iter().filter(|n| !n.is_master()).count(),
        nodes: list,
    }
}

/// Removes the backups in `root` older than `days` days (never `keep`); returns their paths.
/// Failures to remove are reported on stderr and do not fail the backup just made.
fn retention(root: &Path, keep: &Path, days: u64) -> Vec<PathBuf> {
    let found = match manifest::scan(root) {
        Ok(found) => found,
        Err(e) => {
            eprintln!("slotgate: retention: {e}");
            return Vec::new();
        }
    };
    let listed: Vec<(PathBuf, String)> = found.into_iter().map(|(d, m)| (d, m.started_at)).collect();
    let mut removed = Vec::new();
    for old in manifest::expired(&listed, now_secs(), days, keep) {
        match std::fs::remove_dir_all(old) {
            Ok(()) => removed.push(old.to_path_buf()),
            Err(e) => eprintln!("slotgate: retention: cannot remove {}: {e}", old.display()),
        }
    }
    removed
}

fn render(m: &Manifest, dir: &Path, removed: &[PathBuf]) -> String {
    let mut t = Table::new(&["master", "addr", "slots", "keys", "size", "sha256", "status"]);
    for e in &m.masters {
        let status = match &e.error {
            None => ("ok".to_string(), Tone::Good),
            Some(err) => (format!("FAILED: {err}"), Tone::Bad),
        };
        t.row(vec![
            (e.id.chars().take(12).collect(), Tone::Plain),
            (e.addr.clone(), Tone::Plain),
            (format_ranges(&e.slots), Tone::Plain),
            (e.keys.to_string(), Tone::Plain),
            (human_bytes(e.size), Tone::Plain),
            (e.sha256.as_deref().map_or("-".into(), |h| h.chars().take(12).collect()), Tone::Plain),
            status,
        ]);
    }
    let mut out = t.render();
    let verdict =
        if m.success { paint("complete", Tone::Good) } else { paint("FAILED (partial files are marked)", Tone::Bad) };
    out.push_str(&format!(
        "\nbackup {} {verdict}: {} masters, {} keys, {} in {}\n",
        m.id,
        m.masters.len(),
        m.keys(),
        human_bytes(m.size()),
        dir.display()
    ));
    for r in removed {
        out.push_str(&format!("retention: removed {}\n", r.display()));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::sync::Arc;

    use super::*;
    use crate::backup::fake;

    /// A master that saves at once and answers PSYNC with `payload` (closing after it when `cut`).
    fn master(payload: Vec<u8>, cut: bool) -> NodeLine {
        let lastsave = Arc::new(AtomicI64::new(100));
        let addr = fake::master(
            2,
            Arc::new(move |w| match w[0].as_str() {
                "INFO" => {
                    let t = lastsave.load(Ordering::SeqCst);
                    let text =
                        format!("rdb_bgsave_in_progress:0\r\nrdb_last_save_time:{t}\r\nrdb_last_bgsave_status:ok\r\n");
                    (format!("${}\r\n{text}\r\n", text.len()).into_bytes(), false)
                }
                "BGSAVE" => {
                    lastsave.fetch_add(1, Ordering::SeqCst);
                    (b"+Background saving started\r\n".to_vec(), false)
                }
                "REPLCONF" => (b"+OK\r\n".to_vec(), false),
                "PSYNC" => (payload.clone(), cut),
                _ => (b"-ERR unknown\r\n".to_vec(), false),
            }),
        );
        NodeLine {
            id: "0123abcd".into(),
            addr,
            flags: vec!["master".into()],
            master_id: None,
            config_epoch: 1,
            connected: true,
            slots: vec![(0, 16383)],
            open_slots: Vec::new(),
        }
    }

    fn run_one(m: &NodeLine, compress: bool) -> (MasterEntry, PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "slotgate-create-unit-{}-{}",
            std::process::id(),
            m.addr.replace(':', "-")
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let p = Progress::start("t", vec!["m".into()]);
        let deadline = Instant::now() + Duration::from_secs(10);
        let e = back_up_master(m, &ConnOpts::default(), deadline, &dir, compress, 0, &p);
        p.finish();
        (e, dir)
    }

    fn payload(data: &[u8]) -> Vec<u8> {
        [format!("+FULLRESYNC 0123 0\r\n${}\r\n", data.len()).as_bytes(), data].concat()
    }

    #[test]
    fn a_whole_snapshot_is_written_with_its_checksum() {
        let data = fake::rdb(30);
        let (e, dir) = run_one(&master(payload(&data), false), true);
        assert_eq!(e.error, None);
        assert_eq!((e.keys, e.rdb_size, e.partial), (30, data.len() as u64, false));
        assert_eq!(e.file.as_deref(), Some("0123abcd.rdb.zst"));
        let stored = std::fs::read(dir.join("0123abcd.rdb.zst")).unwrap();
        assert_eq!(e.sha256, Some(sha256_hex(&stored)));
        assert_eq!(zstd::decode_all(stored.as_slice()).unwrap(), data);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_cut_or_corrupt_snapshot_is_kept_as_partial() {
        let data = fake::rdb(30);
        let cut = [format!("+FULLRESYNC 0123 0\r\n${}\r\n", data.len()).as_bytes(), &data[..100]].concat();
        let (e, dir) = run_one(&master(cut, true), false);
        assert!(e.error.as_deref().is_some_and(|x| x.contains("closed")), "{:?}", e.error);
        assert!(e.partial);
        assert_eq!(e.file.as_deref(), Some("0123abcd.rdb.partial"));
        assert_eq!(std::fs::read(dir.join("0123abcd.rdb.partial")).unwrap(), data[..100]);
        let _ = std::fs::remove_dir_all(dir);

        let mut bad = data.clone();
        let at = bad.len() - 4;
        bad[at] ^= 1;
        let (e, dir) = run_one(&master(payload(&bad), false), false);
        assert!(e.error.as_deref().is_some_and(|x| x.contains("does not parse")), "{:?}", e.error);
        assert!(e.partial && e.file.as_deref() == Some("0123abcd.rdb.partial"));
        let _ = std::fs::remove_dir_all(dir);
    }
}
