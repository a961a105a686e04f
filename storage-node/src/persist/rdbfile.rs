//! RDB files of the whole keyspace: written to a temp file, fsynced and renamed (so a crash
//! never leaves half a file under the real name), and loaded at start-up.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use bytes::Bytes;

use crate::keyspace::{rdbconv, Db};

/// Writes `db` (and the function libraries' code) as an RDB file at `tmp`, fsyncs it and
/// renames it to `path`.
pub fn write(db: &Db, functions: &[Bytes], tmp: &Path, path: &Path, aof_base: bool) -> std::io::Result<()> {
    let result =
        write_file(db, functions, tmp, aof_base).and_then(|_| std::fs::rename(tmp, path)).and_then(|_| sync_dir(path));
    if result.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    result
}

/// Writes the snapshot itself, fsynced, without renaming it.
pub fn write_file(db: &Db, functions: &[Bytes], tmp: &Path, aof_base: bool) -> std::io::Result<u64> {
    let file = File::create(tmp)?;
    let now = crate::keyspace::now_ms();
    let ctime = (now / 1000).to_string();
    let used = crate::alloc::used_memory().to_string();
    let aux: [(&str, &[u8]); 5] = [
        ("redis-ver", crate::REDIS_VERSION.as_bytes()),
        ("redis-bits", b"64"),
        ("ctime", ctime.as_bytes()),
        ("used-mem", used.as_bytes()),
        ("aof-base", if aof_base { b"1" } else { b"0" }),
    ];
    let mut w = rdb::FileWriter::new(BufWriter::with_capacity(1 << 20, file), &aux)?;
    // Libraries go before the databases, as Redis 7.0 writes them.
    for code in functions {
        w.function(code)?;
    }
    if !db.is_empty() {
        w.select_db(0, db.len() as u64, db.volatile_len() as u64)?;
        for e in db.entries() {
            if e.expire_at != 0 && e.expire_at <= now {
                continue;
            }
            let at = (e.expire_at != 0).then_some(e.expire_at);
            w.entry(&e.key, &rdbconv::to_rdb(&e.value), at)?;
        }
    }
    let mut buf = w.finish()?;
    buf.flush()?;
    let file = buf.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(file.metadata()?.len())
}

/// Fsyncs the directory holding `path`, so a rename in it survives a crash.
pub fn sync_dir(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

/// Loads the RDB image in `data` into `db`, and the function libraries' code into `functions`;
/// keys already expired are skipped. Errors name the offset where the file went wrong.
pub fn load(data: &[u8], db: &mut Db, functions: &mut Vec<Vec<u8>>) -> Result<usize, String> {
    let mut reader = rdb::FileReader::new(data).map_err(|e| e.to_string())?;
    let now = crate::keyspace::now_ms();
    let mut loaded = 0;
    while let Some(entry) = reader.next_entry().map_err(|e| e.to_string())? {
        if entry.db != 0 {
            // A node serves database 0 only; dropping keys silently would be wrong data.
            return Err(format!("the file holds keys in database {}; slotgate serves database 0 only", entry.db));
        }
        if entry.expire_at_ms.is_some_and(|at| at <= now) {
            continue;
        }
        let Some(value) = rdbconv::from_rdb(entry.value) else { continue };
        db.set(&entry.key, value, Some(entry.expire_at_ms.unwrap_or(0)));
        loaded += 1;
    }
    functions.extend_from_slice(reader.functions());
    // Loading is no keyspace event (Redis's rdbLoad notifies nobody of the keys).
    db.events.clear();
    Ok(loaded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::Value;

    #[test]
    fn a_written_file_loads_back() {
        let dir = std::env::temp_dir().join(format!("slotgate-rdbfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut db = Db::new();
        db.set(b"a", Value::string(b"1"), Some(0));
        db.set(b"b", Value::string(b"xyz"), Some(crate::keyspace::now_ms() + 100_000));
        db.set(b"gone", Value::string(b"x"), Some(1));
        let (tmp, path) = (dir.join("temp.rdb"), dir.join("dump.rdb"));
        let lib = Bytes::from_static(b"#!lua name=l\nredis.register_function('f', function() end)");
        write(&db, std::slice::from_ref(&lib), &tmp, &path, false).unwrap();
        assert!(!tmp.exists());
        let data = std::fs::read(&path).unwrap();
        let mut back = Db::new();
        let mut functions = Vec::new();
        assert_eq!(load(&data, &mut back, &mut functions).unwrap(), 2);
        assert_eq!(functions, vec![lib.to_vec()]);
        assert!(back.peek(b"b").unwrap().expire_at > 0);
        let mut bad = data.clone();
        let n = bad.len();
        bad[n - 3] ^= 0xff;
        let e = load(&bad, &mut Db::new(), &mut Vec::new()).unwrap_err();
        assert!(e.contains("offset"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
