//! `slotgate backup`: a backup of a 3×1 cluster taken while clients write through the proxy,
//! checked by redis-check-rdb and `backup verify`, restored into a cluster of 4 masters and
//! compared key by key; damaged backups, non-empty targets, dead masters, unreachable seeds and
//! wrong passwords are refused with exit status 2; retention removes only old slotgate backups.
//! Every test runs against a Redis 7.0 cluster and a slotgate-node cluster.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use slotgate_tests::{
    binary, cluster_nodes, q, require_tool, run_all, run_tool, scratch_dir, value_snapshot, Cluster, Kind, Proxy,
};

slotgate_tests::on_both_clusters!(
    a_backup_under_writes_restores_into_another_shape,
    damaged_backups_and_bad_access_are_refused
);

/// Backups move between kinds: Redis's into slotgate-node and back, function libraries included.
#[test]
fn backups_move_between_redis_and_slotgate_with_functions() {
    if !require_tool("redis-server") || !require_tool("redis-cli") {
        return;
    }
    let redis = Cluster::create(Kind::Redis, 3, 0, 5000);
    let slotgate_cluster = Cluster::create(Kind::Slotgate, 3, 0, 5000);
    let lib = "#!lua name=backuplib\nredis.register_function('bk', function() return 7 end)";
    for p in redis.master_ports() {
        let _: String = redis::cmd("FUNCTION").arg("LOAD").arg(lib).query(&mut conn(p)).unwrap();
    }
    let (rproxy, sproxy) = (Proxy::start(redis.ports()[0], &[]), Proxy::start(slotgate_cluster.ports()[0], &[]));
    run_all(&mut rproxy.conn(), &slotgate_tests::every_type_commands());
    let keys = every_type_keys();
    for (from, to, from_proxy, to_proxy) in
        [(&redis, &slotgate_cluster, &rproxy, &sproxy), (&slotgate_cluster, &redis, &sproxy, &rproxy)]
    {
        let root = scratch_dir("backups-cross");
        let seed = format!("127.0.0.1:{}", from.ports()[0]);
        let (code, out, err) = slotgate(&["backup", "create", "-s", &seed, "--compress", root.to_str().unwrap()]);
        assert_eq!(code, 0, "{out}{err}");
        for p in to.master_ports() {
            let _: () = redis::cmd("FLUSHALL").query(&mut conn(p)).unwrap();
            let _: () = redis::cmd("FUNCTION").arg("FLUSH").query(&mut conn(p)).unwrap();
        }
        let target = format!("127.0.0.1:{}", to.ports()[0]);
        let dir = only_backup(&root);
        let (code, out, err) = slotgate(&["backup", "restore", "-s", &target, dir.to_str().unwrap()]);
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains(&format!("{} keys restored", keys.len())) && out.contains("1 function library"), "{out}");
        let (mut src, mut dst) = (from_proxy.conn(), to_proxy.conn());
        for k in &keys {
            compare(&mut src, &mut dst, k);
        }
        for p in to.master_ports() {
            let seven: i64 = redis::cmd("FCALL").arg("bk").arg(0).query(&mut conn(p)).unwrap();
            assert_eq!(seven, 7, "the library was restored on the master on port {p}");
        }
        let _ = std::fs::remove_dir_all(&root);
    }
}

const STRINGS: usize = 95_000;
const TYPED: usize = 1_000;
const SHORT: usize = 200;
const HOUR_MS: i64 = 3_600_000;

/// Runs `slotgate <args>`: exit status, stdout, stderr.
fn slotgate(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(binary("slotgate")).args(args).output().expect("run slotgate");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

/// The master port serving each slot, as the node on `port` sees it.
fn owners(port: u16) -> Vec<u16> {
    let mut owner = vec![0u16; 16384];
    for n in cluster_nodes(port).expect("CLUSTER NODES").into_iter().filter(|n| n.is_master()) {
        for &(a, b) in &n.ranges {
            for s in a..=b {
                owner[usize::from(s)] = n.port;
            }
        }
    }
    assert!(owner.iter().all(|&p| p != 0), "a slot has no master");
    owner
}

fn conn(port: u16) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/")).and_then(|c| c.get_connection()).expect("connect")
}

/// Groups keys (by index) by the master that owns them.
fn by_owner(owner: &[u16], keys: impl Iterator<Item = (usize, String)>) -> HashMap<u16, Vec<(usize, String)>> {
    let mut out: HashMap<u16, Vec<(usize, String)>> = HashMap::new();
    for (i, k) in keys {
        out.entry(owner[usize::from(protocol::key_slot(k.as_bytes()))]).or_default().push((i, k));
    }
    out
}

fn string_key(i: usize) -> String {
    format!("k:{i}")
}

fn string_value(i: usize) -> String {
    format!("value-{i}-{}", "x".repeat(i % 40))
}

/// The typed keys: a list, hash, set, sorted set and stream per index; every 7th expires in an hour.
fn typed_keys() -> Vec<String> {
    (0..TYPED).flat_map(|i| ["tl", "th", "ts", "tz", "tx"].map(|p| format!("{p}:{i}"))).collect()
}

/// Loads 100,000 keys of every type over pipelines to each master, and the harness's keys of
/// every encoding through the proxy.
fn load(seed: u16, proxy: &Proxy) {
    let owner = owners(seed);
    for (port, keys) in by_owner(&owner, (0..STRINGS).map(|i| (i, string_key(i)))) {
        let mut c = conn(port);
        for chunk in keys.chunks(5_000) {
            let mut p = redis::pipe();
            for (i, k) in chunk {
                p.cmd("SET").arg(k).arg(string_value(*i)).ignore();
                if i % 10 == 0 {
                    p.cmd("PEXPIRE").arg(k).arg(HOUR_MS).ignore();
                }
            }
            p.query::<()>(&mut c).expect("load strings");
        }
    }
    for (port, keys) in by_owner(&owner, typed_keys().into_iter().enumerate()) {
        let mut c = conn(port);
        for chunk in keys.chunks(2_000) {
            let mut p = redis::pipe();
            for (n, k) in chunk {
                let i = n / 5;
                match &k[..2] {
                    "tl" => p.cmd("RPUSH").arg(k).arg(i).arg("b").arg(format!("c{i}")).ignore(),
                    "th" => p.cmd("HSET").arg(k).arg("f").arg(i).arg("g").arg("v").ignore(),
                    "ts" => p.cmd("SADD").arg(k).arg(i).arg("m").arg(format!("n{i}")).ignore(),
                    "tz" => p.cmd("ZADD").arg(k).arg(1.5).arg("a").arg(i).arg(format!("b{i}")).ignore(),
                    _ => p
                        .cmd("XADD")
                        .arg(k)
                        .arg("*")
                        .arg("f")
                        .arg(i)
                        .ignore()
                        .cmd("XADD")
                        .arg(k)
                        .arg("*")
                        .arg("g")
                        .arg("h")
                        .ignore(),
                };
                if i % 7 == 0 {
                    p.cmd("PEXPIRE").arg(k).arg(HOUR_MS).ignore();
                }
            }
            p.query::<()>(&mut c).expect("load typed keys");
        }
    }
    run_all(&mut proxy.conn(), &slotgate_tests::every_type_commands());
}

/// Value and TTL of a key; TTLs count as equal within two minutes.
fn compare(src: &mut redis::Connection, dst: &mut redis::Connection, key: &str) {
    assert_eq!(value_snapshot(src, key), value_snapshot(dst, key), "key {key}");
    let (a, b): (i64, i64) = (q(src, &["PTTL", key]).unwrap(), q(dst, &["PTTL", key]).unwrap());
    assert!(
        (a < 0 && a == b) || (a > 0 && b > 0 && (a - b).abs() < 120_000),
        "PTTL of {key}: source {a}, restored {b}"
    );
}

/// The only directory under `root`.
fn only_backup(root: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(root).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

/// Numbers of `"field": N` in pretty JSON, in order.
fn numbers(json: &str, field: &str) -> Vec<u64> {
    let pat = format!("\"{field}\": ");
    json.match_indices(&pat)
        .filter_map(|(at, _)| {
            let rest = &json[at + pat.len()..];
            rest[..rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len())].parse().ok()
        })
        .collect()
}

/// The number just before `what` in a text (`2002 keys restored`).
fn count_before(text: &str, what: &str) -> u64 {
    let at = text.find(what).unwrap_or_else(|| panic!("{what:?} not in {text}"));
    text[..at].trim_end().rsplit(' ').next().unwrap().parse().unwrap()
}

fn a_backup_under_writes_restores_into_another_shape(kind: Kind) {
    if (kind == Kind::Redis && !require_tool("redis-server"))
        || !require_tool("redis-cli")
        || !require_tool("redis-check-rdb")
    {
        return;
    }
    let source = Cluster::create(kind, 3, 1, 5000);
    let seed = source.ports()[0];
    let proxy = Arc::new(Proxy::start(seed, &[]));
    load(seed, &proxy);
    // Keys that expire between the backup and the restore.
    let mut pc = proxy.conn();
    for i in 0..SHORT {
        let () = redis::cmd("SET").arg(format!("short:{i}")).arg(i).arg("PX").arg(6_000).query(&mut pc).unwrap();
    }
    let short_set = Instant::now();

    // A client writes through the proxy during the backup (bounded in time and count).
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicU64::new(0));
    let writer = {
        let (proxy, stop, acked) = (proxy.clone(), stop.clone(), acked.clone());
        std::thread::spawn(move || {
            let mut c = proxy.conn();
            let deadline = Instant::now() + Duration::from_secs(60);
            for n in 0..1_000_000u64 {
                if stop.load(Ordering::Relaxed) || Instant::now() > deadline {
                    break;
                }
                let r: redis::RedisResult<()> =
                    redis::cmd("SET").arg(format!("w:{n}")).arg(format!("v{n}")).query(&mut c);
                r.expect("a write through the proxy failed during the backup");
                acked.store(n + 1, Ordering::Relaxed);
            }
        })
    };
    assert!(slotgate_tests::wait_until(Duration::from_secs(10), || acked.load(Ordering::Relaxed) >= 200));
    let acked_before = acked.load(Ordering::Relaxed);

    let root = scratch_dir("backups");
    let seed_arg = format!("127.0.0.1:{seed}");
    let started = Instant::now();
    let (code, out, err) = slotgate(&["backup", "create", "-s", &seed_arg, root.to_str().unwrap(), "--json"]);
    let took = started.elapsed();
    assert_eq!(code, 0, "backup create failed:\n{out}\n{err}");
    let (code, zout, err) =
        slotgate(&["backup", "create", "-s", &seed_arg, root.join("z").to_str().unwrap(), "--compress"]);
    assert_eq!(code, 0, "backup create --compress failed:\n{zout}\n{err}");
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    let written = acked.load(Ordering::Relaxed);
    assert!(written > acked_before, "the writer kept writing during the backups");

    // The manifest: shape, every master with its file, checksum and keys.
    let dir = std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).find(|p| !p.ends_with("z")).unwrap();
    let manifest = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    assert!(
        manifest.contains("\"success\": true") && manifest.contains("\"format\": \"slotgate-backup\""),
        "{manifest}"
    );
    assert!(manifest.contains("\"compression\": \"none\""), "{manifest}");
    assert_eq!(numbers(&manifest, "masters"), vec![3], "{manifest}");
    assert_eq!(numbers(&manifest, "replicas"), vec![3], "{manifest}");
    for n in source.nodes() {
        assert!(manifest.contains(&format!("\"id\": \"{}\"", n.id)), "node {} missing from {manifest}", n.id);
    }
    let keys = numbers(&manifest, "keys");
    assert_eq!(keys.len(), 3, "{manifest}");
    let in_backup: u64 = keys.iter().sum();
    let base = (STRINGS + TYPED * 5 + every_type_keys().len()) as u64;
    assert!(
        in_backup >= base + acked_before && in_backup <= base + SHORT as u64 + written,
        "{in_backup} keys in the backup"
    );
    assert_eq!(manifest.matches("\"sha256\": \"").count(), 3, "{manifest}");
    assert!(out.contains(&format!("\"dir\": \"{}\"", dir.display())), "{out}");
    let mut files = 0;
    for f in std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()) {
        if f.extension().is_some_and(|e| e == "rdb") {
            run_tool("redis-check-rdb", &f);
            files += 1;
        }
    }
    assert_eq!(files, 3);

    // verify, and list shows both backups' figures.
    let (code, out, err) = slotgate(&["backup", "verify", dir.join("manifest.json").to_str().unwrap()]);
    assert_eq!(code, 0, "verify failed:\n{out}\n{err}");
    assert!(out.contains("every check passed"), "{out}");
    let zdir = only_backup(&root.join("z"));
    let (code, out, _) = slotgate(&["backup", "verify", zdir.to_str().unwrap()]);
    assert_eq!(code, 0, "verify of the compressed backup failed:\n{out}");
    let zfiles: Vec<PathBuf> = std::fs::read_dir(&zdir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".rdb.zst"))
        .collect();
    assert_eq!(zfiles.len(), 3);
    // The zstd command is optional (verify above already decompressed and parsed the files).
    let has_zstd = Command::new("sh").args(["-c", "command -v zstd"]).output().is_ok_and(|o| o.status.success());
    for z in zfiles.iter().filter(|_| has_zstd) {
        let plain = z.with_extension("");
        let ok = Command::new("zstd").args(["-d", "-q", "-o"]).arg(&plain).arg(z).status().unwrap();
        assert!(ok.success(), "zstd -d {}", z.display());
        run_tool("redis-check-rdb", &plain);
        std::fs::remove_file(&plain).unwrap();
    }
    let (code, out, _) = slotgate(&["backup", "list", root.to_str().unwrap()]);
    assert_eq!(code, 0);
    let id = dir.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        out.lines().any(|l| l.starts_with(&id)
            && l.contains(" 3 ")
            && l.contains(&in_backup.to_string())
            && l.ends_with("yes")),
        "{out}"
    );

    // Restore the compressed backup into 4 masters, once the short keys have expired.
    let target = Cluster::create(kind, 4, 0, 5000);
    let tseed = target.ports()[0];
    let tseed_arg = format!("127.0.0.1:{tseed}");
    std::thread::sleep(Duration::from_millis(6_100).saturating_sub(short_set.elapsed()));
    let (code, out, err) = slotgate(&["backup", "restore", "-s", &tseed_arg, zdir.to_str().unwrap()]);
    assert_eq!(code, 0, "restore failed:\n{out}\n{err}");
    let restored = count_before(&out, "keys restored");
    let skipped = count_before(&out, "expired keys skipped");
    assert!(out.contains(" 0 errors"), "{out}");
    let zkeys: u64 = numbers(&std::fs::read_to_string(zdir.join("manifest.json")).unwrap(), "keys").iter().sum();
    assert_eq!(restored + skipped, zkeys, "{out}");
    if took < Duration::from_secs(4) {
        assert!(skipped > 0, "the short-lived keys were in the backup and have expired since: {out}");
    }
    let tproxy = Proxy::start(tseed, &[]);
    let total: i64 = target.master_ports().iter().map(|&p| q::<i64>(&mut conn(p), &["DBSIZE"]).unwrap()).sum();
    assert_eq!(total as u64, restored);

    // Strings by pipelines to the target's owners: values, and TTLs where set.
    let towner = owners(tseed);
    for (port, keys) in by_owner(&towner, (0..STRINGS).map(|i| (i, string_key(i)))) {
        let mut c = conn(port);
        for chunk in keys.chunks(5_000) {
            let mut p = redis::pipe();
            for (_, k) in chunk {
                p.cmd("GET").arg(k).cmd("PTTL").arg(k);
            }
            let got: Vec<(Option<String>, i64)> = p.query(&mut c).unwrap();
            for ((i, k), (v, ttl)) in chunk.iter().zip(got) {
                assert_eq!(v.as_deref(), Some(string_value(*i).as_str()), "{k}");
                if i % 10 == 0 {
                    assert!(ttl > HOUR_MS - 300_000 && ttl <= HOUR_MS, "PTTL of {k}: {ttl}");
                } else {
                    assert_eq!(ttl, -1, "PTTL of {k}");
                }
            }
        }
    }
    // Every other key compared with the source, type by type.
    let (mut src, mut dst) = (proxy.conn(), tproxy.conn());
    let mut typed = typed_keys();
    typed.extend(every_type_keys());
    for k in &typed {
        compare(&mut src, &mut dst, k);
    }
    // The writer's keys: all acknowledged before the backup are there, none differs.
    for n in 0..written {
        let v: Option<String> = q(&mut dst, &["GET", &format!("w:{n}")]).unwrap();
        if n < acked_before {
            assert_eq!(v, Some(format!("v{n}")), "w:{n} was acknowledged before the backup");
        } else if let Some(v) = v {
            assert_eq!(v, format!("v{n}"));
        }
    }
    for i in 0..SHORT {
        let exists: i64 = q(&mut dst, &["EXISTS", &format!("short:{i}")]).unwrap();
        assert_eq!(exists, 0, "short:{i} expired before the restore");
    }

    // A cluster holding keys is refused without --replace, and nothing changes.
    let (code, out, err) = slotgate(&["backup", "restore", "-s", &tseed_arg, dir.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("refusing to restore into a cluster that holds keys") && err.contains("--replace"), "{err}");
    let again: i64 = target.master_ports().iter().map(|&p| q::<i64>(&mut conn(p), &["DBSIZE"]).unwrap()).sum();
    assert_eq!(again, total);
    let _ = std::fs::remove_dir_all(&root);
}

/// The keys `every_type_commands` writes (XGROUP and XREADGROUP name them elsewhere, and
/// their streams are written by XADD too).
fn every_type_keys() -> Vec<String> {
    let mut keys: Vec<String> = slotgate_tests::every_type_commands()
        .into_iter()
        .filter(|c| c[0] != "XGROUP" && c[0] != "XREADGROUP")
        .map(|c| c[1].clone())
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Flips one byte in the middle of `path`.
fn flip_byte(path: &Path) {
    let mut data = std::fs::read(path).unwrap();
    let at = data.len() / 2;
    data[at] ^= 0x20;
    std::fs::write(path, data).unwrap();
}

fn damaged_backups_and_bad_access_are_refused(kind: Kind) {
    if (kind == Kind::Redis && !require_tool("redis-server")) || !require_tool("redis-cli") {
        return;
    }
    let mut cluster = Cluster::create(kind, 3, 0, 5000);
    let seed = cluster.ports()[0];
    let seed_arg = format!("127.0.0.1:{seed}");
    let proxy = Proxy::start(seed, &[]);
    let mut c = proxy.conn();
    for i in 0..300 {
        let () = redis::cmd("SET").arg(format!("key:{i}")).arg(i).query(&mut c).unwrap();
    }
    let root = scratch_dir("backups");
    let r = root.to_str().unwrap();

    // An old slotgate backup and a foreign directory: retention removes only the former.
    let (code, out, err) = slotgate(&["backup", "create", "-s", &seed_arg, r]);
    assert_eq!(code, 0, "{out}{err}");
    let first = only_backup(&root);
    let old = root.join("20200101T000000Z-000000");
    std::fs::create_dir(&old).unwrap();
    let manifest = std::fs::read_to_string(first.join("manifest.json")).unwrap();
    let started = manifest.lines().find(|l| l.contains("\"started_at\"")).unwrap();
    let first_id = first.file_name().unwrap().to_string_lossy().into_owned();
    let aged = manifest
        .replace(started, "  \"started_at\": \"2020-01-01T00:00:00Z\",")
        .replace(&first_id, "20200101T000000Z-000000");
    std::fs::write(old.join("manifest.json"), aged).unwrap();
    let foreign = root.join("not-a-backup");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("manifest.json"), "{\"started_at\": \"2000-01-01T00:00:00Z\"}").unwrap();
    let (code, out, _) = slotgate(&["backup", "list", r]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 3, "a header and two backups: {out}");
    assert!(out.lines().nth(1).unwrap().starts_with("20200101T000000Z-000000"), "oldest first: {out}");
    let (code, out, err) = slotgate(&["backup", "create", "-s", &seed_arg, r, "--retention-days", "30"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("retention: removed {}", old.display())), "{out}");
    assert!(!old.exists() && foreign.exists() && first.exists());

    // --replace restores over the keys (the cluster is not empty).
    let _: () = redis::cmd("SET").arg("key:1").arg("changed").query(&mut c).unwrap();
    let (code, out, err) = slotgate(&["backup", "restore", "-s", &seed_arg, first.to_str().unwrap(), "--replace"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("300 keys restored"), "{out}");
    assert_eq!(q::<String>(&mut c, &["GET", "key:1"]).unwrap(), "1");

    // A flipped byte: verify names the file, restore refuses and writes nothing.
    let file = std::fs::read_dir(&first)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "rdb"))
        .unwrap();
    flip_byte(&file);
    let (code, out, _) = slotgate(&["backup", "verify", first.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}");
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    assert!(out.contains(&format!("{name}: checksum mismatch")), "{out}");
    for p in cluster.master_ports() {
        let () = redis::cmd("FLUSHALL").query(&mut conn(p)).unwrap();
    }
    let (code, out, err) = slotgate(&["backup", "restore", "-s", &seed_arg, first.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("does not verify; nothing was written") && err.contains("checksum mismatch"), "{err}");
    assert_eq!(cluster.master_ports().iter().map(|&p| q::<i64>(&mut conn(p), &["DBSIZE"]).unwrap()).sum::<i64>(), 0);
    std::fs::remove_file(&file).unwrap();
    let (code, _, err) = slotgate(&["backup", "restore", "-s", &seed_arg, first.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains(&format!("backup file {name}")) && err.contains("is missing"), "{err}");

    // An unreachable seed, and a wrong password.
    let dead = format!("127.0.0.1:{}", slotgate_tests::free_port());
    let (code, _, err) = slotgate(&["backup", "create", "-s", &dead, r]);
    assert_eq!(code, 2);
    assert!(err.contains("no seed answered") && err.contains(&dead), "{err}");
    let victim = cluster.master_ports().into_iter().find(|&p| p != seed).unwrap();
    let victim_id = cluster.node_id(victim);
    for p in cluster.ports() {
        let () = redis::cmd("CONFIG").arg("SET").arg("requirepass").arg("s3cret").query(&mut conn(p)).unwrap();
    }
    let (code, _, err) = slotgate(&["backup", "create", "-s", &seed_arg, "-a", "wrong", r]);
    assert_eq!(code, 2);
    assert!(err.contains("AUTH failed"), "{err}");
    let fresh = scratch_dir("backups-auth");
    let (code, out, err) = slotgate(&["backup", "create", "-s", &seed_arg, "-a", "s3cret", fresh.to_str().unwrap()]);
    assert_eq!(code, 0, "with the password: {out}{err}");

    // A dead master: exit 2, the manifest names it, the other masters' files are kept.
    cluster.kill(victim);
    let dead_root = scratch_dir("backups-dead");
    let (code, out, err) =
        slotgate(&["backup", "create", "-s", &seed_arg, "-a", "s3cret", "--timeout", "1", dead_root.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.contains("FAILED"), "{out}");
    let dir = only_backup(&dead_root);
    let manifest = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    assert!(manifest.contains("\"success\": false"), "{manifest}");
    assert_eq!(manifest.matches("\"error\": null").count(), 2, "{manifest}");
    assert!(manifest.contains(&format!("127.0.0.1:{victim}: ")), "the error names the dead master: {manifest}");
    assert!(!dir.join(format!("{victim_id}.rdb")).exists());
    assert_eq!(
        std::fs::read_dir(&dir)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|e| e == "rdb"))
            .count(),
        2
    );
    let (code, out, _) = slotgate(&["backup", "verify", dir.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("did not complete") && out.contains("failed during the backup"), "{out}");
    for d in [&root, &fresh, &dead_root] {
        let _ = std::fs::remove_dir_all(d);
    }
}
