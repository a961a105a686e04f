//! `slotgate backup verify MANIFEST`: every file matches its checksum and parses whole, the
//! masters' slot ranges cover all 16384 slots exactly once, and every key sits in a slot of the
//! master whose file holds it. Restore runs the same checks before writing anything.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;

use super::manifest::Manifest;
use super::rdbfile;
use crate::output::{paint, Table, Tone};
use crate::topology::format_ranges;
use crate::Status;

const SLOTS: usize = protocol::SLOT_COUNT;
/// Misplaced keys named per file before the rest are only counted.
const EXAMPLES: usize = 5;

#[derive(Args)]
pub struct VerifyArgs {
    /// The backup's manifest.json (or its directory).
    pub manifest: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// One master's file as verify found it.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    pub id: String,
    pub file: Option<String>,
    pub keys: u64,
    pub functions: u64,
    pub ok: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub id: String,
    pub files: Vec<FileReport>,
    pub problems: Vec<String>,
}

/// The problems with how `owners` (a label and its inclusive ranges each) cover the slot
/// space: slots nobody has and slots more than one has, as ranges.
pub fn coverage(owners: &[(String, Vec<(u16, u16)>)]) -> Vec<String> {
    let mut count = vec![0u8; SLOTS];
    for (_, ranges) in owners {
        for &(a, b) in ranges.iter().filter(|&&r| valid(r)) {
            for c in &mut count[usize::from(a)..=usize::from(b).min(SLOTS - 1)] {
                *c = c.saturating_add(1);
            }
        }
    }
    let mut problems = Vec::new();
    let missing = runs(&count, |c| c == 0);
    if !missing.is_empty() {
        problems.push(format!("slots covered by no master: {}", format_ranges(&missing)));
    }
    let twice = runs(&count, |c| c > 1);
    if !twice.is_empty() {
        problems.push(format!("slots covered by more than one master: {}", format_ranges(&twice)));
    }
    problems
}

/// An inclusive range inside the slot space (a manifest is input: it may say anything).
fn valid((a, b): (u16, u16)) -> bool {
    a <= b && usize::from(b) < SLOTS
}

/// Maximal ranges of slots whose count matches.
fn runs(count: &[u8], pick: impl Fn(u8) -> bool) -> Vec<(u16, u16)> {
    clusterview::nodes::slot_runs(|s| count.get(s).is_some_and(|&c| pick(c)))
}

/// Every check over the backup in `dir`.
pub fn verify(m: &Manifest, dir: &Path) -> Report {
    let mut problems = Vec::new();
    if !m.success {
        problems.push("the backup did not complete (manifest success: false)".to_string());
    }
    if m.masters.is_empty() {
        problems.push("the manifest lists no master".to_string());
    }
    let owners: Vec<(String, Vec<(u16, u16)>)> = m.masters.iter().map(|e| (e.id.clone(), e.slots.clone())).collect();
    for e in &m.masters {
        for &(a, b) in e.slots.iter().filter(|&&r| !valid(r)) {
            problems.push(format!("master {}: slot range {a}-{b} is not within 0-16383", e.id));
        }
    }
    problems.extend(coverage(&owners));
    let mut files = Vec::new();
    for e in &m.masters {
        let mut fr = FileReport { id: e.id.clone(), file: e.file.clone(), keys: 0, functions: 0, ok: false };
        if let Some(err) = &e.error {
            problems.push(format!("master {} ({}) failed during the backup: {err}", e.id, e.addr));
        }
        if e.partial {
            problems.push(format!("master {} ({}): the file is partial", e.id, e.addr));
            files.push(fr);
            continue;
        }
        let data = match rdbfile::load(dir, e, &m.compression) {
            Ok(d) => d,
            Err(err) => {
                problems.push(err);
                files.push(fr);
                continue;
            }
        };
        let before = problems.len();
        check_keys(&data, e, &mut fr, &mut problems);
        fr.ok = problems.len() == before && e.error.is_none();
        files.push(fr);
    }
    Report { id: m.id.clone(), files, problems }
}

/// Parses one file whole, checking each key's database and slot and the counts.
fn check_keys(data: &[u8], e: &super::manifest::MasterEntry, fr: &mut FileReport, problems: &mut Vec<String>) {
    let name = e.file.as_deref().unwrap_or("?");
    let mut mine = vec![false; SLOTS];
    for &(a, b) in e.slots.iter().filter(|&&r| valid(r)) {
        mine[usize::from(a)..=usize::from(b).min(SLOTS - 1)].fill(true);
    }
    let mut r = match rdb::FileReader::new(data) {
        Ok(r) => r,
        Err(err) => {
            problems.push(format!("{name}: not an RDB file: {err}"));
            return;
        }
    };
    let (mut misplaced, mut other_db) = (0u64, 0u64);
    // Bounded: every entry consumes input and the reader stops at EOF or the first error.
    loop {
        match r.next_entry() {
            Ok(Some(entry)) => {
                fr.keys += 1;
                if entry.db != 0 {
                    other_db += 1;
                }
                let slot = protocol::key_slot(&entry.key);
                if !mine[usize::from(slot)] {
                    misplaced += 1;
                    if misplaced as usize <= EXAMPLES {
                        problems.push(format!(
                            "{name}: key {:?} hashes to slot {slot}, not one of {} ({})",
                            String::from_utf8_lossy(&entry.key),
                            e.id,
                            format_ranges(&e.slots)
                        ));
                    }
                }
            }
            Ok(None) => break,
            Err(err) => {
                problems.push(format!("{name}: does not parse after {} keys: {err}", fr.keys));
                return;
            }
        }
    }
    fr.functions = r.functions().len() as u64;
    if misplaced as usize > EXAMPLES {
        problems.push(format!("{name}: {misplaced} keys in all are outside the master's slots"));
    }
    if other_db > 0 {
        problems.push(format!("{name}: {other_db} keys in databases other than 0 (a cluster has only db 0)"));
    }
    if fr.keys != e.keys {
        problems.push(format!("{name}: {} keys, the manifest says {}", fr.keys, e.keys));
    }
}

pub fn run(a: &VerifyArgs) -> Result<Status, String> {
    let (m, dir) = Manifest::load(&a.manifest)?;
    let report = verify(&m, &dir);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?);
    } else {
        print!("{}", render(&report));
    }
    Ok(if report.problems.is_empty() { Status::Ok } else { Status::Failed })
}

fn render(r: &Report) -> String {
    let mut t = Table::new(&["master", "file", "keys", "functions", "status"]);
    for f in &r.files {
        let status = if f.ok { ("ok", Tone::Good) } else { ("BAD", Tone::Bad) };
        t.row(vec![
            (f.id.chars().take(12).collect(), Tone::Plain),
            (f.file.clone().unwrap_or_else(|| "-".into()), Tone::Plain),
            (f.keys.to_string(), Tone::Plain),
            (f.functions.to_string(), Tone::Plain),
            (status.0.to_string(), status.1),
        ]);
    }
    let mut out = t.render();
    if r.problems.is_empty() {
        out.push_str(&format!("\nbackup {} {}\n", r.id, paint("verified: every check passed", Tone::Good)));
    } else {
        out.push_str(&format!(
            "\nbackup {} {}:\n",
            r.id,
            paint(
                &format!("has {} problem{}", r.problems.len(), if r.problems.len() == 1 { "" } else { "s" }),
                Tone::Bad
            )
        ));
        for p in &r.problems {
            out.push_str(&format!("  - {p}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owners(list: &[&[(u16, u16)]]) -> Vec<(String, Vec<(u16, u16)>)> {
        list.iter().enumerate().map(|(i, r)| (format!("m{i}"), r.to_vec())).collect()
    }

    #[test]
    fn full_coverage_passes() {
        assert!(coverage(&owners(&[&[(0, 5460)], &[(5461, 10922)], &[(10923, 16383)]])).is_empty());
        assert!(coverage(&owners(&[&[(0, 0), (2, 16383)], &[(1, 1)]])).is_empty());
    }

    #[test]
    fn gaps_and_overlaps_are_named() {
        let p = coverage(&owners(&[&[(0, 5460)], &[(5470, 10922)], &[(10900, 16383)]]));
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].ends_with("by no master: 5461-5469"), "{p:?}");
        assert!(p[1].ends_with("more than one master: 10900-10922"), "{p:?}");
        let p = coverage(&owners(&[&[(0, 16382)]]));
        assert_eq!(p, vec!["slots covered by no master: 16383".to_string()]);
        assert_eq!(coverage(&[]), vec!["slots covered by no master: 0-16383".to_string()]);
        // Nonsense ranges (from a hand-edited manifest) count for nothing rather than panic.
        let p = coverage(&owners(&[&[(0, 16383)], &[(9, 3), (16380, 20000)]]));
        assert!(p.is_empty(), "{p:?}");
    }
}
