//! A backup's `manifest.json`: what was saved from which master, with checksums, and the
//! cluster's shape at the time. Also the pure helpers around it: UTC timestamps in RFC 3339
//! (no date crate for two functions), backup ids, and which old backups retention removes.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Marks a manifest as ours: retention only ever removes directories holding one.
pub const FORMAT: &str = "slotgate-backup";
pub const VERSION: u32 = 1;
pub const MANIFEST: &str = "manifest.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    pub id: String,
    /// RFC 3339 UTC, e.g. `2026-12-01T21:17:30Z`.
    pub started_at: String,
    pub finished_at: String,
    /// Every master's file is whole and checked.
    pub success: bool,
    /// `zstd` or `none`.
    pub compression: String,
    pub cluster: Shape,
    pub masters: Vec<MasterEntry>,
}

/// The cluster as it was when the backup started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shape {
    pub masters: usize,
    pub replicas: usize,
    pub nodes: Vec<ShapeNode>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShapeNode {
    pub id: String,
    pub addr: String,
    pub role: String,
    pub master_id: Option<String>,
}

/// One master's snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MasterEntry {
    pub id: String,
    pub addr: String,
    pub role: String,
    /// Inclusive slot ranges the master served when the backup started.
    pub slots: Vec<(u16, u16)>,
    /// File name inside the backup directory; `None` when nothing was received.
    pub file: Option<String>,
    /// Bytes of the file as stored (compressed or not).
    pub size: u64,
    /// Bytes of the RDB itself (after decompression).
    pub rdb_size: u64,
    /// SHA-256 (hex) of the file as stored.
    pub sha256: Option<String>,
    pub keys: u64,
    pub functions: u64,
    /// The file is incomplete or did not parse (kept for inspection, never restored).
    pub partial: bool,
    pub error: Option<String>,
}

impl Manifest {
    pub fn keys(&self) -> u64 {
        self.masters.iter().map(|m| m.keys).sum()
    }

    pub fn size(&self) -> u64 {
        self.masters.iter().map(|m| m.size).sum()
    }

    pub fn to_json(&self) -> String {
        // Serializing plain structs of strings and numbers cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    pub fn from_json(text: &str) -> Result<Manifest, String> {
        let m: Manifest = serde_json::from_str(text).map_err(|e| format!("not a slotgate backup manifest: {e}"))?;
        if m.format != FORMAT {
            return Err(format!("not a slotgate backup manifest (format {:?})", m.format));
        }
        if m.version > VERSION {
            return Err(format!("manifest version {} is newer than this slotgate reads ({VERSION})", m.version));
        }
        Ok(m)
    }

    /// Reads `path`, which is the manifest itself or the backup directory holding it; returns
    /// the manifest and the directory its files are relative to.
    pub fn load(path: &Path) -> Result<(Manifest, PathBuf), String> {
        let file = if path.is_dir() { path.join(MANIFEST) } else { path.to_path_buf() };
        let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let m = Manifest::from_json(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        let dir = file.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        Ok((m, dir))
    }

    /// Writes the manifest through a temporary file, so a reader never sees half of it.
    pub fn save(&self, dir: &Path) -> Result<(), String> {
        let tmp = dir.join(".manifest.json.tmp");
        std::fs::write(&tmp, self.to_json()).map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, dir.join(MANIFEST)).map_err(|e| format!("{}: {e}", dir.display()))
    }
}

pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// Seconds since the Unix epoch, now.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Days since 1970-01-01 to a civil date (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn parts(secs: i64) -> (i64, u32, u32, i64, i64, i64) {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    (y, m, d, s / 3600, s / 60 % 60, s % 60)
}

/// `2026-12-01T21:17:30Z`.
pub fn rfc3339(secs: i64) -> String {
    let (y, mo, d, h, mi, s) = parts(secs);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// `20261201T211730Z`, the time part of a backup id (sorts as time does).
pub fn compact(secs: i64) -> String {
    let (y, mo, d, h, mi, s) = parts(secs);
    format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z")
}

/// Parses the UTC form `rfc3339` writes (fractions of a second and `+00:00` accepted).
pub fn parse_rfc3339(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| t.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let rest = &t[19..];
    let rest = rest.strip_prefix('.').map_or(rest, |f| f.trim_start_matches(|c: char| c.is_ascii_digit()));
    if !matches!(rest, "Z" | "z" | "+00:00") || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    if h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(y, mo as u32, d as u32) * 86_400 + h * 3600 + mi * 60 + s)
}

/// A backup id: the start time and a short random part, so two backups started in the same
/// second never share a directory.
pub fn new_id(secs: i64) -> String {
    let mut h = Sha256::new();
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    h.update(nanos.to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    let addr = &h as *const Sha256 as usize;
    h.update(addr.to_le_bytes());
    let r: String = h.finalize().iter().take(3).map(|b| format!("{b:02x}")).collect();
    format!("{}-{r}", compact(secs))
}

/// The backups retention removes: those that started more than `days` days before `now`,
/// never `keep` (the one just made).
pub fn expired<'a>(backups: &'a [(PathBuf, String)], now: i64, days: u64, keep: &Path) -> Vec<&'a Path> {
    let limit = now.saturating_sub((days as i64).saturating_mul(86_400));
    backups
        .iter()
        .filter(|(dir, started)| dir != keep && parse_rfc3339(started).is_some_and(|t| t < limit))
        .map(|(dir, _)| dir.as_path())
        .collect()
}

/// Every backup directory directly under `root` with a readable slotgate manifest, oldest
/// first; directories without one are not ours and are left out.
pub fn scan(root: &Path) -> Result<Vec<(PathBuf, Manifest)>, String> {
    let entries = std::fs::read_dir(root).map_err(|e| format!("{}: {e}", root.display()))?;
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let dir = entry.path();
        let file = dir.join(MANIFEST);
        if !dir.is_dir() || !file.is_file() {
            continue;
        }
        if let Ok(m) = std::fs::read_to_string(&file).map_err(|e| e.to_string()).and_then(|t| Manifest::from_json(&t)) {
            out.push((dir, m));
        }
    }
    out.sort_by(|a, b| a.1.started_at.cmp(&b.1.started_at).then_with(|| a.1.id.cmp(&b.1.id)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn sample() -> Manifest {
        Manifest {
            format: FORMAT.into(),
            version: VERSION,
            id: "20261201T211730Z-a1b2c3".into(),
            started_at: "2026-12-01T21:17:30Z".into(),
            finished_at: "2026-12-01T21:17:41Z".into(),
            success: false,
            compression: "zstd".into(),
            cluster: Shape {
                masters: 2,
                replicas: 1,
                nodes: vec![ShapeNode {
                    id: "r1".into(),
                    addr: "h:3".into(),
                    role: "replica".into(),
                    master_id: Some("m1".into()),
                }],
            },
            masters: vec![
                MasterEntry {
                    id: "m1".into(),
                    addr: "h:1".into(),
                    role: "master".into(),
                    slots: vec![(0, 8191)],
                    file: Some("m1.rdb.zst".into()),
                    size: 1234,
                    rdb_size: 4000,
                    sha256: Some(sha256_hex(b"x")),
                    keys: 10,
                    functions: 1,
                    partial: false,
                    error: None,
                },
                MasterEntry {
                    id: "m2".into(),
                    addr: "h:2".into(),
                    role: "master".into(),
                    slots: vec![(8192, 16383)],
                    file: Some("m2.rdb.zst.partial".into()),
                    size: 7,
                    rdb_size: 7,
                    sha256: None,
                    keys: 0,
                    functions: 0,
                    partial: true,
                    error: Some("h:2: connection closed".into()),
                },
            ],
        }
    }

    #[test]
    fn manifest_round_trips() {
        let m = sample();
        let back = Manifest::from_json(&m.to_json()).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.keys(), 10);
        assert_eq!(back.size(), 1241);
        assert!(m.to_json().contains("\"slots\": [\n        [\n          0,\n          8191"));
    }

    #[test]
    fn manifest_refuses_others() {
        assert!(Manifest::from_json("{}").is_err());
        let other = sample().to_json().replace(FORMAT, "something-else");
        assert!(Manifest::from_json(&other).unwrap_err().contains("something-else"));
        let newer = sample().to_json().replace("\"version\": 1", "\"version\": 99");
        assert!(Manifest::from_json(&newer).unwrap_err().contains("newer"));
    }

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        let t = parse_rfc3339("2026-12-01T21:17:30Z").unwrap();
        assert_eq!(rfc3339(t), "2026-12-01T21:17:30Z");
        assert_eq!(compact(t), "20261201T211730Z");
        assert_eq!(parse_rfc3339("2024-02-29T23:59:59.123Z"), Some(parse_rfc3339("2024-03-01T00:00:00Z").unwrap() - 1));
        assert_eq!(parse_rfc3339("2000-03-01T00:00:00+00:00"), Some(951_868_800));
        for bad in
            ["", "2026-13-01T00:00:00Z", "2026-12-01T21:17:30", "2026-12-01T21:17:30+02:00", "garbage-garbage-xx"]
        {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
        for secs in [0, 86_399, 951_782_400, 1_700_000_000, 4_102_444_800] {
            assert_eq!(parse_rfc3339(&rfc3339(secs)), Some(secs));
        }
    }

    #[test]
    fn ids_are_time_and_random() {
        let (a, b) = (new_id(1_700_000_000), new_id(1_700_000_000));
        assert!(a.starts_with("20231114T221320Z-") && a.len() == 23, "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn retention_picks_only_older_backups() {
        let now = parse_rfc3339("2026-12-10T00:00:00Z").unwrap();
        let b = |d: &str, t: &str| (PathBuf::from(d), t.to_string());
        let list = vec![
            b("/b/old", "2026-12-01T00:00:00Z"),
            b("/b/edge", "2026-12-03T00:00:00Z"),
            b("/b/recent", "2026-12-09T12:00:00Z"),
            b("/b/unreadable", "yesterday"),
            b("/b/current", "2026-11-01T00:00:00Z"),
        ];
        let gone = expired(&list, now, 7, Path::new("/b/current"));
        assert_eq!(gone, vec![Path::new("/b/old")]);
        assert_eq!(expired(&list, now, 0, Path::new("/b/current")).len(), 3);
    }
}
