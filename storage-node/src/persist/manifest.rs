//! The AOF manifest of Redis 7.0's multi-part AOF: which base file and which incremental files,
//! in order, make up the dataset. One line per file: `file <name> seq <n> type <b|h|i>`.

use std::io::Write;
use std::path::Path;

/// One file of the AOF.
#[derive(Debug, Clone, PartialEq)]
pub struct AofFile {
    pub name: String,
    pub seq: u64,
}

/// The files of the AOF, as the manifest lists them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Manifest {
    pub base: Option<AofFile>,
    /// Incremental files in replay order.
    pub incrs: Vec<AofFile>,
}

impl Manifest {
    /// Parses a manifest; history entries (files waiting for deletion) are skipped.
    pub fn parse(text: &str) -> Result<Manifest, String> {
        let mut m = Manifest::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |why: &str| format!("Invalid AOF manifest file format at line {}: {why}", n + 1);
            let words = protocol::split::split_args_bytes(line.as_bytes()).map_err(&bad)?;
            if words.len() % 2 != 0 {
                return Err(bad("odd number of fields"));
            }
            let (mut name, mut seq, mut kind) = (None, None, None);
            for pair in words.chunks(2) {
                let value = String::from_utf8_lossy(&pair[1]).into_owned();
                match &pair[0][..] {
                    b"file" => name = Some(value),
                    b"seq" => seq = Some(value.parse::<u64>().map_err(|_| bad("bad seq"))?),
                    b"type" => kind = Some(value),
                    _ => {} // unknown keys are for newer versions
                }
            }
            let (Some(name), Some(seq), Some(kind)) = (name, seq, kind) else {
                return Err(bad("missing file, seq or type"));
            };
            if name.contains('/') {
                return Err(bad("file names cannot be paths"));
            }
            let file = AofFile { name, seq };
            match kind.as_str() {
                "b" if m.base.is_some() => return Err(bad("more than one base file")),
                "b" => m.base = Some(file),
                "i" => {
                    if m.incrs.last().is_some_and(|l| l.seq >= file.seq) {
                        return Err(bad("incr files out of order"));
                    }
                    m.incrs.push(file)
                }
                "h" => {}
                _ => return Err(bad("unknown file type")),
            }
        }
        if m.base.is_none() && m.incrs.is_empty() {
            return Err("Found an empty AOF manifest".into());
        }
        Ok(m)
    }

    /// The manifest's text, as Redis writes it.
    pub fn render(&self) -> String {
        let mut s = String::new();
        if let Some(b) = &self.base {
            s.push_str(&format!("file {} seq {} type b\n", b.name, b.seq));
        }
        for i in &self.incrs {
            s.push_str(&format!("file {} seq {} type i\n", i.name, i.seq));
        }
        s
    }

    /// Writes the manifest as `dir/name` atomically: temp file, fsync, rename, fsync of the dir.
    pub fn save(&self, dir: &Path, name: &str) -> std::io::Result<()> {
        let tmp = dir.join(format!("temp-{name}"));
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(self.render().as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, dir.join(name))?;
        std::fs::File::open(dir)?.sync_all()
    }
}

/// `appendonly.aof.<seq>.base.rdb`.
pub fn base_name(prefix: &str, seq: u64) -> String {
    format!("{prefix}.{seq}.base.rdb")
}

/// `appendonly.aof.<seq>.incr.aof`.
pub fn incr_name(prefix: &str, seq: u64) -> String {
    format!("{prefix}.{seq}.incr.aof")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let text = "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\nfile appendonly.aof.2.incr.aof seq 2 type i\n";
        let m = Manifest::parse(text).unwrap();
        assert_eq!(m.base.as_ref().unwrap().name, "appendonly.aof.1.base.rdb");
        assert_eq!(m.incrs.len(), 2);
        assert_eq!(m.render(), text);
        assert!(Manifest::parse("file a seq x type b\n").is_err());
        assert!(Manifest::parse("").is_err());
        assert!(Manifest::parse("file \"a b\" seq 1 type h\nfile c seq 1 type i\n").is_ok());
    }
}
