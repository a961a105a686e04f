//! Crate-level tests: every directive through apply/get/set, loading files and command lines,
//! includes, error locations, and CONFIG REWRITE on real temp files.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::*;

/// A unique temp directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "slotgate-config-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

#[test]
fn defaults_as_config_get_reports_them() {
    let c = NodeConfig::default();
    let expect = [
        ("port", "6379"),
        ("bind", "* -::*"),
        ("dir", "."),
        ("daemonize", "no"),
        ("pidfile", ""),
        ("loglevel", "notice"),
        ("tcp-keepalive", "300"),
        ("tcp-backlog", "511"),
        ("protected-mode", "yes"),
        ("maxclients", "10000"),
        ("requirepass", ""),
        ("maxmemory", "0"),
        ("maxmemory-policy", "noeviction"),
        ("maxmemory-samples", "5"),
        ("save", "3600 1 300 100 60 10000"),
        ("dbfilename", "dump.rdb"),
        ("appendonly", "no"),
        ("appendfilename", "appendonly.aof"),
        ("appenddirname", "appendonlydir"),
        ("appendfsync", "everysec"),
        ("auto-aof-rewrite-min-size", "67108864"),
        ("cluster-config-file", "nodes.conf"),
        ("cluster-node-timeout", "15000"),
        ("proto-max-bulk-len", "536870912"),
        ("client-query-buffer-limit", "1073741824"),
        ("hz", "10"),
        ("databases", "16"),
        ("busy-reply-threshold", "5000"),
        ("acllog-max-len", "128"),
        ("tracking-table-max-keys", "1000000"),
        ("lua-time-limit", "5000"),
        ("repl-backlog-size", "1048576"),
        ("client-output-buffer-limit", "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"),
        ("tls-port", "0"),
        ("tls-cert-file", ""),
        ("tls-auth-clients", "yes"),
        ("tls-cluster", "no"),
        ("tls-replication", "no"),
    ];
    for (name, value) in expect {
        assert_eq!(c.get(name).as_deref(), Some(value), "{name}");
    }
    assert_eq!(c.get("no-such-thing"), None);
    // names() lists exactly the table, and every name is lowercase.
    let table: Vec<&str> = crate::table::TABLE.iter().map(|d| d.name).collect();
    assert_eq!(NodeConfig::names(), &table[..]);
    for name in NodeConfig::names() {
        assert!(c.get(name).is_some(), "{name}");
        assert_eq!(*name, name.to_ascii_lowercase());
    }
}

/// Round trip of one value per directive through apply and get (and set when mutable).
#[test]
fn every_directive_round_trips() {
    let cases: &[(&str, &str, &str)] = &[
        ("port", "7000", "7000"),
        ("bind", "127.0.0.1 ::1", "127.0.0.1 ::1"),
        ("dir", "/tmp", "/tmp"),
        ("daemonize", "yes", "yes"),
        ("pidfile", "/var/run/x.pid", "/var/run/x.pid"),
        ("logfile", "node.log", "node.log"),
        ("loglevel", "WARNING", "warning"),
        ("timeout", "30", "30"),
        ("tcp-keepalive", "60", "60"),
        ("tcp-backlog", "128", "128"),
        ("protected-mode", "no", "no"),
        ("maxclients", "50", "50"),
        ("requirepass", "s3cret", "s3cret"),
        ("maxmemory", "100mb", "104857600"),
        ("maxmemory-policy", "allkeys-lru", "allkeys-lru"),
        ("maxmemory-samples", "10", "10"),
        ("save", "900 1", "900 1"),
        ("dbfilename", "x.rdb", "x.rdb"),
        ("appendonly", "yes", "yes"),
        ("appendfilename", "x.aof", "x.aof"),
        ("appenddirname", "aofdir", "aofdir"),
        ("appendfsync", "always", "always"),
        ("auto-aof-rewrite-percentage", "50", "50"),
        ("auto-aof-rewrite-min-size", "1gb", "1073741824"),
        ("aof-load-truncated", "no", "no"),
        ("cluster-enabled", "yes", "yes"),
        ("cluster-config-file", "n.conf", "n.conf"),
        ("cluster-node-timeout", "5000", "5000"),
        ("cluster-port", "17000", "17000"),
        ("cluster-announce-ip", "10.0.0.1", "10.0.0.1"),
        ("cluster-announce-hostname", "node-0.slotgate.default.svc", "node-0.slotgate.default.svc"),
        ("cluster-preferred-endpoint-type", "HOSTNAME", "hostname"),
        ("cluster-announce-port", "7001", "7001"),
        ("cluster-announce-bus-port", "17001", "17001"),
        ("cluster-announce-tls-port", "7101", "7101"),
        ("cluster-require-full-coverage", "no", "no"),
        ("cluster-allow-reads-when-down", "yes", "yes"),
        ("cluster-replica-validity-factor", "0", "0"),
        ("cluster-migration-barrier", "2", "2"),
        ("cluster-replica-no-failover", "yes", "yes"),
        ("cluster-allow-replica-migration", "no", "no"),
        ("proto-max-bulk-len", "2mb", "2097152"),
        ("client-query-buffer-limit", "2mb", "2097152"),
        ("hz", "100", "100"),
        ("databases", "1", "1"),
        ("busy-reply-threshold", "100", "100"),
        ("acllog-max-len", "5", "5"),
        ("tracking-table-max-keys", "10", "10"),
        ("repl-backlog-size", "10kb", "10240"),
        ("repl-ping-replica-period", "3", "3"),
        ("masteruser", "repl", "repl"),
        ("masterauth", "pw", "pw"),
        ("min-replicas-to-write", "1", "1"),
        ("min-replicas-max-lag", "5", "5"),
        ("aclfile", "users.acl", "users.acl"),
        (
            "client-output-buffer-limit",
            "pubsub 1mb 2mb 3",
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 2097152 3",
        ),
        ("tls-port", "6380", "6380"),
        ("tls-cert-file", "node.crt", "node.crt"),
        ("tls-key-file", "node.key", "node.key"),
        ("tls-client-cert-file", "client.crt", "client.crt"),
        ("tls-client-key-file", "client.key", "client.key"),
        ("tls-ca-cert-file", "ca.crt", "ca.crt"),
        ("tls-ca-cert-dir", "/etc/ssl/certs", "/etc/ssl/certs"),
        ("tls-auth-clients", "OPTIONAL", "optional"),
        ("tls-protocols", "TLSv1.2 TLSv1.3", "TLSv1.2 TLSv1.3"),
        ("tls-ciphersuites", "TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384"),
        ("tls-cluster", "yes", "yes"),
        ("tls-replication", "yes", "yes"),
        ("enable-protected-configs", "LOCAL", "local"),
        ("stop-writes-on-bgsave-error", "no", "no"),
        ("rdbchecksum", "no", "no"),
        ("replica-read-only", "no", "no"),
        ("replica-priority", "0", "0"),
        ("disable-thp", "no", "no"),
        ("hash-max-listpack-entries", "100", "100"),
        ("hash-max-listpack-value", "1kb", "1024"),
        ("set-max-intset-entries", "10", "10"),
        ("zset-max-listpack-entries", "7", "7"),
        ("zset-max-listpack-value", "32", "32"),
        ("always-show-logo", "yes", "yes"),
        ("set-proc-title", "no", "no"),
        ("proc-title-template", "{title} X", "{title} X"),
        ("rdbcompression", "no", "no"),
        ("rdb-del-sync-files", "yes", "yes"),
        ("replica-serve-stale-data", "YES", "yes"),
        ("repl-diskless-sync", "no", "no"),
        ("repl-diskless-sync-delay", "0", "0"),
        ("repl-diskless-sync-max-replicas", "2", "2"),
        ("repl-diskless-load", "SWAPDB", "swapdb"),
        ("repl-disable-tcp-nodelay", "yes", "yes"),
        ("lazyfree-lazy-eviction", "yes", "yes"),
        ("lazyfree-lazy-expire", "yes", "yes"),
        ("lazyfree-lazy-server-del", "yes", "yes"),
        ("lazyfree-lazy-user-del", "yes", "yes"),
        ("lazyfree-lazy-user-flush", "yes", "yes"),
        ("replica-lazy-flush", "yes", "yes"),
        ("oom-score-adj", "no", "no"),
        ("oom-score-adj-values", "0 100 -2000", "0 100 -2000"),
        ("no-appendfsync-on-rewrite", "yes", "yes"),
        ("aof-use-rdb-preamble", "no", "no"),
        ("aof-timestamp-enabled", "no", "no"),
        ("aof-rewrite-incremental-fsync", "no", "no"),
        ("rdb-save-incremental-fsync", "no", "no"),
        ("slowlog-log-slower-than", "-1", "-1"),
        ("slowlog-max-len", "1000", "1000"),
        ("latency-monitor-threshold", "100", "100"),
        ("latency-tracking", "no", "no"),
        ("latency-tracking-info-percentiles", "50 99.9", "50 99.9"),
        ("enable-debug-command", "LOCAL", "local"),
        ("notify-keyspace-events", "KEA", "AKE"),
        ("list-max-listpack-size", "-5", "-5"),
        ("list-compress-depth", "2", "2"),
        ("hll-sparse-max-bytes", "1kb", "1024"),
        ("stream-node-max-bytes", "8kb", "8192"),
        ("stream-node-max-entries", "50", "50"),
        ("activerehashing", "no", "no"),
        ("dynamic-hz", "no", "no"),
        ("jemalloc-bg-thread", "no", "no"),
        ("replicaof", "10.1.1.1 6379", "10.1.1.1 6379"),
    ];
    let mut covered: Vec<&str> = Vec::new();
    for &(name, input, shown) in cases {
        covered.push(name);
        let mut c = NodeConfig::default();
        let args: Vec<String> = if matches!(name, "bind" | "save" | "replicaof") {
            input.split(' ').map(str::to_string).collect()
        } else {
            vec![input.to_string()]
        };
        c.apply(name, &args).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(c.get(name).as_deref(), Some(shown), "apply {name}");
        // Case-insensitive names.
        assert_eq!(c.get(&name.to_ascii_uppercase()).as_deref(), Some(shown));

        let mut c = NodeConfig::default();
        match c.set(name, input) {
            Ok(()) => assert_eq!(c.get(name).as_deref(), Some(shown), "set {name}"),
            Err(e) => assert_eq!(e, "can't set immutable config", "set {name}"),
        }
    }
    for name in NodeConfig::names() {
        assert!(covered.contains(name), "no round-trip case for {name}");
    }
}

#[test]
fn directives_for_features_slotgate_lacks_take_only_what_it_does() {
    let mut c = NodeConfig::default();
    let one = |v: &str| vec![v.to_string()];
    for (name, value) in
        [("aof-timestamp-enabled", "yes"), ("oom-score-adj", "relative"), ("replica-serve-stale-data", "no")]
    {
        let e = c.apply(name, &[value.to_string()]).unwrap_err();
        assert!(e.starts_with("only '"), "{name} {value}: {e}");
    }
    assert_eq!(c.apply("oom-score-adj-values", &one("0 200 3000")), Err("Invalid oom-score-adj-values".into()));
    assert_eq!(c.apply("notify-keyspace-events", &one("KEAZ")), Err(crate::notify::INVALID.into()));
    assert_eq!(c.set("notify-keyspace-events", "Kx"), Ok(()));
    assert_eq!(c.set("notify-keyspace-events", "x y"), Err(crate::notify::INVALID.into()));
    assert_eq!(c.get("notify-keyspace-events").as_deref(), Some("xK"), "a refused value keeps the old one");
    assert_eq!(c.set("notify-keyspace-events", ""), Ok(()));
    assert_eq!(
        c.apply("proc-title-template", &one("{server-mode}")).unwrap_err(),
        "format is invalid or missing the {title} placeholder"
    );
    assert_eq!(c, NodeConfig::default(), "a refused value changes nothing");
}

#[test]
fn typed_fields_follow_values() {
    let mut c = NodeConfig::default();
    c.apply_text(
        "maxmemory-policy volatile-ttl\nappendfsync no\nloglevel nothing\n\
         requirepass \"\"\nmasterauth abc\nlua-time-limit 42\nhz 100000",
        "t.conf",
    )
    .unwrap();
    assert_eq!(c.maxmemory_policy, EvictionPolicy::VolatileTtl);
    assert_eq!(c.appendfsync, AppendFsync::No);
    assert_eq!(c.loglevel, LogLevel::Nothing);
    assert_eq!(c.requirepass, None);
    assert_eq!(c.masterauth.as_deref(), Some("abc"));
    assert_eq!(c.busy_reply_threshold, 42);
    assert_eq!(c.hz, 500, "hz is capped");
    c.set("hz", "0").unwrap();
    assert_eq!(c.hz, 1);
    c.set("requirepass", "").unwrap();
    assert_eq!(c.get("requirepass").as_deref(), Some(""));
    assert_eq!(EvictionPolicy::from_name("ALLKEYS-LFU"), Some(EvictionPolicy::AllKeysLfu));
}

#[test]
fn value_errors_use_redis_texts() {
    let mut c = NodeConfig::default();
    let one = |v: &str| vec![v.to_string()];
    assert_eq!(c.apply("port", &one("abc")), Err("argument couldn't be parsed into an integer".into()));
    assert_eq!(c.apply("port", &one("65536")), Err("argument must be between 0 and 65535 inclusive".into()));
    assert_eq!(c.apply("maxclients", &one("-1")), Err("argument must be between 1 and 4294967295 inclusive".into()));
    assert_eq!(c.apply("maxmemory", &one("10xb")), Err("argument must be a memory value".into()));
    assert_eq!(
        c.apply("proto-max-bulk-len", &one("1000")),
        Err("argument must be between 1048576 and 9223372036854775807 inclusive".into())
    );
    assert_eq!(c.apply("appendonly", &one("maybe")), Err("argument must be 'yes' or 'no'".into()));
    assert_eq!(
        c.apply("appendfsync", &one("sometimes")),
        Err("argument(s) must be one of the following: always, everysec, no".into())
    );
    assert_eq!(c.apply("port", &strs(&["7000", "extra"])), Err("wrong number of arguments".into()));
    assert_eq!(c.apply("no-such-directive", &one("1")), Err("Bad directive or wrong number of arguments".into()));
    assert_eq!(c.apply("dbfilename", &one("a/b.rdb")), Err("dbfilename can't be a path, just a filename".into()));
    assert_eq!(
        c.apply("cluster-announce-hostname", &one("node_0")),
        Err("Hostnames may only contain alphanumeric characters, hyphens or dots".into())
    );
    assert_eq!(
        c.apply("cluster-announce-hostname", &one(&"a".repeat(256))),
        Err("Hostnames must be less than 256 characters".into())
    );
    assert_eq!(c.apply("save", &strs(&["900"])), Err("Invalid save parameters".into()));
    assert_eq!(c.apply("save", &strs(&["0", "1"])), Err("Invalid save parameters".into()));
    assert_eq!(
        c.apply("client-output-buffer-limit", &strs(&["master", "0", "0", "0"])),
        Err("Invalid client class specified in buffer limit configuration.".into())
    );
    assert_eq!(
        c.apply("client-output-buffer-limit", &strs(&["normal", "0", "0"])),
        Err("Wrong number of arguments in buffer limit configuration.".into())
    );
    assert_eq!(
        c.apply("client-output-buffer-limit", &strs(&["normal", "x", "0", "0"])),
        Err("Error in hard, soft or soft_seconds setting in buffer limit configuration.".into())
    );
    // Nothing above changed anything.
    assert_eq!(format!("{c:?}"), format!("{:?}", NodeConfig::default()));
    // Deprecated directives are accepted and ignored.
    c.apply("list-max-ziplist-entries", &one("512")).unwrap();
}

#[test]
fn save_and_obuf_forms() {
    let mut c = NodeConfig::default();
    c.apply_text("save 900 1 300 10\nsave 60 10000\n", "f").unwrap();
    assert_eq!(c.save, vec![(900, 1), (300, 10), (60, 10000)]);
    c.apply_text("save \"900 1\"", "f").unwrap();
    assert_eq!(c.save, vec![(900, 1)]);
    c.apply_text("save \"\"", "f").unwrap();
    assert!(c.save.is_empty());
    assert_eq!(c.get("save").as_deref(), Some(""));
    c.set("save", "10 2 20 3").unwrap();
    assert_eq!(c.save, vec![(10, 2), (20, 3)]);
    c.set("save", "").unwrap();
    assert!(c.save.is_empty());

    c.apply_text("client-output-buffer-limit slave 1gb 512mb 30", "f").unwrap();
    assert_eq!(c.client_output_buffer_limit[1], ("replica".to_string(), 1 << 30, 512 << 20, 30));
    c.set("client-output-buffer-limit", "normal 1mb 1mb 1 pubsub 0 0 0").unwrap();
    assert_eq!(
        c.get("client-output-buffer-limit").as_deref(),
        Some("normal 1048576 1048576 1 slave 1073741824 536870912 30 pubsub 0 0 0")
    );
    c.set("bind", "").unwrap();
    assert!(c.bind.is_empty());
    let many = vec!["1.1.1.1"; 17].join(" ");
    assert_eq!(c.set("bind", &many), Err("Too many bind addresses specified.".into()));
}

#[test]
fn config_set_rules() {
    let mut c = NodeConfig::default();
    for name in [
        "daemonize",
        "cluster-enabled",
        "cluster-config-file",
        "databases",
        "cluster-port",
        "logfile",
        "pidfile",
        "aclfile",
        "tcp-backlog",
        "appenddirname",
    ] {
        let value = c.get(name).unwrap();
        assert_eq!(c.set(name, &value), Err("can't set immutable config".into()), "{name}");
    }
    assert_eq!(c.set("nope", "1"), Err("Unknown option or number of arguments for CONFIG SET - 'nope'".into()));
    c.set("MaxMemory", "1gb").unwrap();
    assert_eq!(c.maxmemory, 1 << 30);
    c.set("lua-time-limit", "7").unwrap();
    assert_eq!(c.busy_reply_threshold, 7);
    // Runtime values are taken verbatim, not re-split.
    c.set("requirepass", "with space").unwrap();
    assert_eq!(c.requirepass.as_deref(), Some("with space"));
}

#[test]
fn file_errors_name_file_and_line() {
    let mut c = NodeConfig::default();
    let text = "# comment\n\n   \nport 7000\n  # indented comment\nport 7000 extra\n";
    let e = c.apply_text(text, "path/redis.conf").unwrap_err();
    assert_eq!(e, ConfigError { file: "path/redis.conf".into(), line: 6, message: "wrong number of arguments".into() });
    assert_eq!(e.to_string(), "path/redis.conf:6: wrong number of arguments");
    assert_eq!(c.port, 7000);

    let e = c.apply_text("port 1\nfrobnicate yes", "r.conf").unwrap_err();
    assert_eq!(e.to_string(), "r.conf:2: Bad directive or wrong number of arguments");
    let e = c.apply_text("requirepass \"abc", "r.conf").unwrap_err();
    assert_eq!(e.to_string(), "r.conf:1: Unbalanced quotes in configuration line");
    let e = c.apply_text("PORT x", "r.conf").unwrap_err();
    assert_eq!(e.to_string(), "r.conf:1: argument couldn't be parsed into an integer");
    // CRLF line endings and quoted values.
    c.apply_text("port 7005\r\nrequirepass \"a b\"\r\n", "crlf.conf").unwrap();
    assert_eq!(c.port, 7005);
    assert_eq!(c.requirepass.as_deref(), Some("a b"));
}

#[test]
fn from_args_file_then_overrides() {
    let t = TempDir::new("args");
    let conf = t.file("redis.conf", "port 7000\nsave 900 1\nappendonly yes\nrequirepass \"from file\"\n");
    let c = NodeConfig::from_args(&strs(&[&path_str(&conf), "--port", "7001", "--save", "", "--maxmemory", "2mb"]))
        .unwrap();
    assert_eq!(c.port, 7001);
    assert!(c.save.is_empty());
    assert!(c.appendonly);
    assert_eq!(c.requirepass.as_deref(), Some("from file"));
    assert_eq!(c.maxmemory, 2 * 1024 * 1024);
    assert_eq!(c.config_file.as_deref(), Some(conf.as_path()));
    assert!(c.config_file.as_ref().unwrap().is_absolute());

    // Without a file; multi-value options; bare --save before another option.
    let c = NodeConfig::from_args(&strs(&["--save", "--bind", "127.0.0.1", "::1", "--port 7002"])).unwrap();
    assert!(c.save.is_empty());
    assert_eq!(c.bind, vec!["127.0.0.1", "::1"]);
    assert_eq!(c.port, 7002);
    assert_eq!(c.config_file, None);

    // The file's save lines replace the defaults, --save on the command line appends.
    let c = NodeConfig::from_args(&strs(&[&path_str(&conf), "--save", "60", "5"])).unwrap();
    assert_eq!(c.save, vec![(900, 1), (60, 5)]);

    let c = NodeConfig::from_args(&[]).unwrap();
    assert_eq!(c, NodeConfig::default());
}

#[test]
fn from_args_errors() {
    let e = NodeConfig::from_args(&strs(&["--port", "7000", "--maxmemory", "lots"])).unwrap_err();
    assert_eq!(e.file, COMMAND_LINE);
    assert_eq!(e.line, 2);
    assert_eq!(e.to_string(), "command line: argument must be a memory value");
    let e = NodeConfig::from_args(&strs(&["--port", "1", "2"])).unwrap_err();
    assert_eq!(e.message, "wrong number of arguments");
    let e = NodeConfig::from_args(&strs(&["--bogus", "1"])).unwrap_err();
    assert_eq!(e.message, "Bad directive or wrong number of arguments");

    let t = TempDir::new("argerr");
    let conf = t.file("bad.conf", "\nport 1\nmaxclients 0\n");
    let e = NodeConfig::from_args(&strs(&[&path_str(&conf), "--port", "2"])).unwrap_err();
    assert_eq!(e.file, path_str(&conf));
    assert_eq!(e.line, 3);
    assert_eq!(e.to_string(), format!("{}:3: argument must be between 1 and 4294967295 inclusive", path_str(&conf)));
    let missing = t.0.join("missing.conf");
    let e = NodeConfig::from_args(&strs(&[&path_str(&missing)])).unwrap_err();
    assert_eq!(e.line, 0);
    assert!(e.message.starts_with("Fatal error, can't open config file"));
}

#[test]
fn include_files_and_globs() {
    let t = TempDir::new("include");
    let inner = t.file("inner.conf", "maxclients 77\n\ntimeout oops\n");
    t.file("part-a.conf", "tcp-keepalive 11\n");
    t.file("part-b.conf", "tcp-keepalive 22\nhz 20\n");
    t.file(".part-hidden.conf", "hz 99\n");
    let main = t.file("main.conf", &format!("port 7100\ninclude {}\nport 7200\n", repr_path(&t.0.join("part-*.conf"))));
    let c = NodeConfig::from_args(&strs(&[&path_str(&main)])).unwrap();
    assert_eq!(c.port, 7200);
    assert_eq!(c.tcp_keepalive, 22, "sorted: part-b after part-a");
    assert_eq!(c.hz, 20, "hidden files don't match *");

    // An error inside an included file names that file and its own line.
    let mut c = NodeConfig::default();
    let text = format!("port 7300\ninclude {}\n", repr_path(&inner));
    let e = c.apply_text(&text, "main.conf").unwrap_err();
    assert_eq!(e.file, path_str(&inner));
    assert_eq!(e.line, 3);
    assert_eq!(c.maxclients, 77);

    // A glob matching nothing is fine; a missing plain include is not.
    let mut c = NodeConfig::default();
    c.apply_text(&format!("include {}", repr_path(&t.0.join("none-*.conf"))), "m").unwrap();
    let e = c.apply_text(&format!("include {}", repr_path(&t.0.join("none.conf"))), "m").unwrap_err();
    assert_eq!(e.line, 0);

    // Cycles stop instead of recursing forever.
    let cyc = t.0.join("cycle.conf");
    std::fs::write(&cyc, format!("include {}\n", repr_path(&cyc))).unwrap();
    let e = c.apply_text(&format!("include {}", repr_path(&cyc)), "m").unwrap_err();
    assert!(e.message.contains("too deep"), "{e}");
}

fn repr_path(p: &Path) -> String {
    crate::units::repr(path_str(p).as_bytes())
}

#[test]
fn rewrite_keeps_comments_and_replaces_values() {
    let t = TempDir::new("rewrite");
    let original = "# Top comment\n\
                    port 7000\n\
                    \n\
                    # memory section\n\
                    maxmemory 100mb\n\
                    requirepass old\n\
                    timeout 5\n\
                    timeout 6\n\
                    some-unknown-directive 1\n\
                    include /nonexistent/extra.conf\n\
                    save 900 1\n";
    let path = t.file("redis.conf", original);
    let mut c = NodeConfig::default();
    c.apply_text("port 7000\nmaxmemory 100mb\nrequirepass old\ntimeout 5\ntimeout 6\nsave 900 1\n", "x").unwrap();
    c.config_file = Some(path.clone());
    c.set("port", "7001").unwrap();
    c.set("requirepass", "").unwrap();
    c.set("appendonly", "yes").unwrap();
    c.set("maxmemory-policy", "allkeys-lru").unwrap();
    c.set("client-output-buffer-limit", "pubsub 64mb 16mb 90").unwrap();
    c.rewrite().unwrap();

    let got = std::fs::read_to_string(&path).unwrap();
    let expected = "# Top comment\n\
                    port 7001\n\
                    \n\
                    # memory section\n\
                    maxmemory 100mb\n\
                    \n\
                    timeout 6\n\
                    \n\
                    # ??? some-unknown-directive 1\n\
                    include /nonexistent/extra.conf\n\
                    save 900 1\n\
                    # Generated by CONFIG REWRITE\n\
                    maxmemory-policy allkeys-lru\n\
                    appendonly yes\n\
                    client-output-buffer-limit pubsub 64mb 16mb 90\n";
    assert_eq!(got, expected);

    // The rewritten file loads back to the same values, and a second rewrite is stable.
    let again = NodeConfig::from_args(&strs(&[&path_str(&path)]));
    // The include points nowhere, so loading fails; strip it and compare the rest.
    assert!(again.is_err());
    let loadable = got.replace("include /nonexistent/extra.conf\n", "");
    let mut back = NodeConfig::default();
    back.apply_text(&loadable, "back").unwrap();
    back.config_file = c.config_file.clone();
    assert_eq!(back, c);
    c.rewrite().unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), expected);

    // No temp files are left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&t.0)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .filter(|n| n != "redis.conf")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn rewrite_creates_missing_file_and_needs_a_path() {
    assert!(NodeConfig::default().rewrite().is_err());
    let t = TempDir::new("rewrite-new");
    let c = NodeConfig {
        config_file: Some(t.0.join("fresh.conf")),
        port: 7777,
        save: Vec::new(),
        dbfilename: "we ird\".rdb".into(),
        ..NodeConfig::default()
    };
    c.rewrite().unwrap();
    let got = std::fs::read_to_string(t.0.join("fresh.conf")).unwrap();
    assert_eq!(got, "# Generated by CONFIG REWRITE\nport 7777\nsave \"\"\ndbfilename \"we ird\\\".rdb\"\n");
    let mut back = NodeConfig::default();
    back.apply_text(&got, "fresh").unwrap();
    assert_eq!(back.dbfilename, c.dbfilename);
    assert!(back.save.is_empty());
}

#[test]
fn version_line_shape() {
    assert_eq!(version_line("0.1.0"), "Redis server v=7.0.15 sha=00000000:0 malloc=libc bits=64 build=slotgate-0.1.0");
}

#[test]
fn user_directives_from_file_and_command_line() {
    let t = TempDir::new("users");
    let conf = t.file("redis.conf", "port 7000\nuser default off\nuser app on >pw ~app:* +@all\n");
    let c = NodeConfig::from_args(&strs(&[&path_str(&conf), "--user", "ops", "on", ">x", "+info"])).unwrap();
    let users: Vec<(usize, String)> = c.users.iter().map(|u| (u.line, u.args.join(" "))).collect();
    assert_eq!(
        users,
        [
            (2, "default off".to_string()),
            (3, "app on >pw ~app:* +@all".to_string()),
            (1, "ops on >x +info".to_string())
        ]
    );
    assert_eq!(c.users[2].file, crate::COMMAND_LINE);
    let e = NodeConfig::from_args(&strs(&[&path_str(&conf), "--user", "app", "off"])).unwrap_err();
    assert!(e.message.contains("Duplicate user found"), "{e}");
    let e = NodeConfig::from_args(&strs(&["--user", "x", "on", "+nosuchcommand"])).unwrap_err();
    assert_eq!(e.message, "Error in user declaration '+nosuchcommand': Unknown command or category name in ACL");
}

#[test]
fn replicaof_takes_a_master_as_redis_does() {
    let mut c = NodeConfig::default();
    assert_eq!(c.get("replicaof").as_deref(), Some(""));
    c.apply("replicaof", &strs(&["10.0.0.1", "6380"])).unwrap();
    assert_eq!(c.replicaof, Some(("10.0.0.1".to_string(), 6380)));
    assert_eq!(c.get("slaveof").as_deref(), Some("10.0.0.1 6380"));
    // One argument holding both, as `--replicaof "host port"` gives it.
    c.apply("slaveof", &strs(&["10.0.0.2 6381"])).unwrap();
    assert_eq!(c.replicaof, Some(("10.0.0.2".to_string(), 6381)));
    c.apply("replicaof", &strs(&["NO", "one"])).unwrap();
    assert_eq!(c.replicaof, None);
    assert_eq!(c.apply("replicaof", &strs(&["h", "65536"])), Err("Invalid master port".into()));
    assert_eq!(c.apply("replicaof", &strs(&["h", "x"])), Err("Invalid master port".into()));
    assert_eq!(c.apply("replicaof", &strs(&["h"])), Err("wrong number of arguments".into()));
    assert_eq!(c.set("replicaof", "h 1"), Err("can't set immutable config".into()));
    let args = strs(&["--cluster-enabled", "yes", "--replicaof", "h", "1"]);
    let e = NodeConfig::from_args(&args).unwrap_err();
    assert_eq!(e.to_string(), "replicaof directive not allowed in cluster mode");
    let ok = NodeConfig::from_args(&strs(&["--replicaof", "h 7"])).unwrap();
    assert_eq!(ok.replicaof, Some(("h".to_string(), 7)));
}
