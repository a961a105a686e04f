//! RDB files of the whole keyspace: written to a temp file, fsynced and renamed (so a crash
//! never leaves half a file under the real name), and loaded at start-up.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use bytes::Bytes;

use crate::keyspace::{rdbconv, Db};
use crate::server::Server;

/// Writes the databases `dbs` (and the function libraries' code) as an RDB file at `tmp`, fsyncs it and
/// renames it to `path`.
pub fn write(dbs: &[&Db], functions: &[Bytes], tmp: &Path, path: &Path, aof_base: bool) -> std::io::Result<()> {
    let result =
        write_file(dbs, functions, tmp, aof_base).and_then(|_| std::fs::rename(tmp, path)).and_then(|_| sync_dir(path));
    if result.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    result
}

/// Writes the snapshot itself, fsynced, without renaming it.
pub fn write_file(dbs: &[&Db], functions: &[Bytes], tmp: &Path, aof_base: bool) -> std::io::Result<u64> {
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
    // Each non-empty database: SELECTDB and RESIZEDB, then its keys, as rdbSaveRio does.
    for (index, db) in dbs.iter().enumerate().filter(|(_, db)| !db.is_empty()) {
        w.select_db(index as u32, db.len() as u64, db.volatile_len() as u64)?;
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

/// Loads the RDB image in `data` into the node's databases, and the function libraries' code
/// into `functions`; keys already expired are skipped. Errors name the offset where the file
/// went wrong.
pub fn load(data: &[u8], srv: &mut Server, functions: &mut Vec<Vec<u8>>) -> Result<usize, String> {
    let count = srv.db_count();
    let loaded = load_into(data, count, |db, key, value, at| srv.db_at(db).set(key, value, Some(at)), functions);
    // Loading is no keyspace event (Redis's rdbLoad notifies nobody of the keys).
    srv.each_db_mut(|db| db.events.clear());
    loaded
}

/// Reads `data` and hands each live key to `put(db, key, value, expire_at)`; a database number
/// of `count` or more is an error, as rdbLoad's "FATAL: Data file was created with a Redis
/// server configured to handle more than N databases".
pub fn load_into(
    data: &[u8],
    count: usize,
    mut put: impl FnMut(usize, &[u8], crate::keyspace::Value, i64),
    functions: &mut Vec<Vec<u8>>,
) -> Result<usize, String> {
    let mut reader = rdb::FileReader::new(data).map_err(|e| e.to_string())?;
    let now = crate::keyspace::now_ms();
    let mut loaded = 0;
    while let Some(entry) = reader.next_entry().map_err(|e| e.to_string())? {
        let db = entry.db as usize;
        if db >= count {
            return Err(format!(
                "FATAL: Data file was created with a Redis server configured to handle more than {count} databases"
            ));
        }
        if entry.expire_at_ms.is_some_and(|at| at <= now) {
            continue;
        }
        let Some(value) = rdbconv::from_rdb(entry.value) else { continue };
        put(db, &entry.key, value, entry.expire_at_ms.unwrap_or(0));
        loaded += 1;
    }
    functions.extend_from_slice(reader.functions());
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
        let mut db3 = Db::new();
        db3.set(b"a", Value::string(b"three"), Some(0));
        let empty = Db::new();
        write(&[&db, &empty, &empty, &db3], std::slice::from_ref(&lib), &tmp, &path, false).unwrap();
        assert!(!tmp.exists());
        let data = std::fs::read(&path).unwrap();
        let mut back = [Db::new(), Db::new(), Db::new(), Db::new()];
        let mut functions = Vec::new();
        let put = |i: usize, k: &[u8], v, at| back[i].set(k, v, Some(at));
        assert_eq!(load_into(&data, 4, put, &mut functions).unwrap(), 3);
        assert_eq!(functions, vec![lib.to_vec()]);
        assert!(back[0].peek(b"b").unwrap().expire_at > 0);
        assert_eq!(back[3].len(), 1);
        assert!(back[1].is_empty());
        let e = load_into(&data, 2, |_, _, _, _| {}, &mut Vec::new()).unwrap_err();
        assert!(e.contains("more than 2 databases"), "{e}");
        let mut bad = data.clone();
        let n = bad.len();
        bad[n - 3] ^= 0xff;
        let e = load_into(&bad, 4, |_, _, _, _| {}, &mut Vec::new()).unwrap_err();
        assert!(e.contains("offset"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
