//! A backup's RDB files: checking a received snapshot parses whole, and reading a stored file
//! back (checksum first, then decompression bounded by the size the manifest recorded).

use std::io::Read;
use std::path::Path;

use super::manifest::{sha256_hex, MasterEntry};

/// What a whole, checked RDB holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub keys: u64,
    pub functions: u64,
}

/// Reads every entry of `data` (the CRC at EOF included) and counts them.
pub fn check(data: &[u8]) -> Result<Summary, String> {
    let mut r = rdb::FileReader::new(data).map_err(|e| e.to_string())?;
    let mut keys = 0u64;
    // Bounded: each entry consumes input, and the reader ends at EOF.
    while r.next_entry().map_err(|e| format!("after {keys} keys: {e}"))?.is_some() {
        keys += 1;
    }
    Ok(Summary { keys, functions: r.functions().len() as u64 })
}

/// The RDB of `entry` in the backup directory `dir`: the file as stored must match its SHA-256,
/// and a compressed one must inflate to the recorded size.
pub fn load(dir: &Path, entry: &MasterEntry, compression: &str) -> Result<Vec<u8>, String> {
    let name = entry.file.as_deref().ok_or_else(|| format!("master {} ({}) has no file", entry.id, entry.addr))?;
    if name.contains(['/', '\\']) || name.starts_with('.') {
        return Err(format!("{name:?}: a backup file must be a plain name inside the backup directory"));
    }
    let path = dir.join(name);
    let stored = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let want = entry.sha256.as_deref().ok_or_else(|| format!("{name}: the manifest has no checksum for it"))?;
    let got = sha256_hex(&stored);
    if got != want {
        return Err(format!("{name}: checksum mismatch (sha256 {got}, manifest says {want})"));
    }
    if stored.len() as u64 != entry.size {
        return Err(format!("{name}: {} bytes, the manifest says {}", stored.len(), entry.size));
    }
    match compression {
        "none" => Ok(stored),
        "zstd" => {
            let mut out = Vec::new();
            let dec = zstd::stream::read::Decoder::new(stored.as_slice()).map_err(|e| format!("{name}: {e}"))?;
            dec.take(entry.rdb_size.saturating_add(1))
                .read_to_end(&mut out)
                .map_err(|e| format!("{name}: cannot decompress: {e}"))?;
            if out.len() as u64 != entry.rdb_size {
                return Err(format!(
                    "{name}: decompresses to {} bytes, the manifest says {}",
                    out.len(),
                    entry.rdb_size
                ));
            }
            Ok(out)
        }
        other => Err(format!("unknown compression {other:?} in the manifest")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small_rdb() -> Vec<u8> {
        let mut w = rdb::FileWriter::new(Vec::new(), &[("redis-ver", b"7.0.15")]).unwrap();
        w.function(b"#!lua name=lib\nredis.register_function('f', function() return 1 end)").unwrap();
        w.select_db(0, 2, 1).unwrap();
        w.entry(b"a", &rdb::Value::String(b"1".to_vec()), None).unwrap();
        w.entry(b"b", &rdb::Value::List(vec![b"x".to_vec()]), Some(4_102_444_800_000)).unwrap();
        w.finish().unwrap()
    }

    #[test]
    fn checks_whole_files_only() {
        let data = small_rdb();
        assert_eq!(check(&data).unwrap(), Summary { keys: 2, functions: 1 });
        let mut bad = data.clone();
        let at = bad.len() - 3;
        bad[at] ^= 0xff;
        assert!(check(&bad).is_err(), "a flipped CRC byte must fail");
        assert!(check(&data[..data.len() - 9]).is_err(), "a truncated file must fail");
    }

    #[test]
    fn loads_with_checksums_and_decompression() {
        let data = small_rdb();
        let dir = std::env::temp_dir().join(format!("slotgate-backup-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let z = zstd::bulk::compress(&data, 3).unwrap();
        std::fs::write(dir.join("m.rdb.zst"), &z).unwrap();
        let mut e = MasterEntry {
            id: "m".into(),
            addr: "h:1".into(),
            role: "master".into(),
            slots: vec![(0, 16383)],
            file: Some("m.rdb.zst".into()),
            size: z.len() as u64,
            rdb_size: data.len() as u64,
            sha256: Some(sha256_hex(&z)),
            keys: 2,
            functions: 1,
            partial: false,
            error: None,
        };
        assert_eq!(load(&dir, &e, "zstd").unwrap(), data);
        e.rdb_size -= 1;
        assert!(load(&dir, &e, "zstd").unwrap_err().contains("decompresses to"));
        e.rdb_size += 1;
        e.sha256 = Some(sha256_hex(b"other"));
        assert!(load(&dir, &e, "zstd").unwrap_err().contains("checksum mismatch"));
        e.file = Some("../m.rdb.zst".into());
        assert!(load(&dir, &e, "zstd").unwrap_err().contains("plain name"));
        e.file = Some("missing.rdb".into());
        assert!(load(&dir, &e, "zstd").unwrap_err().contains("missing.rdb"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
