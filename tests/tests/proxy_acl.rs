//! ACLs at slotgate-proxy: the guide's users through a plain client (AUTH, HELLO AUTH, NOAUTH,
//! WRONGPASS, NOPERM for commands, keys (also inside MGET, EVAL and MULTI) and channels), the ACL
//! command family and ACL LOG, ACL changes closing the subscribers they no longer cover, a
//! reload on SIGHUP, a bad file at start-up, and 200+ (user, command) decisions compared with
//! Debian's redis-server `ACL DRYRUN` on the same file.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use slotgate_tests::{q, require_tool, resp, scratch_dir, wait_until, Cluster, Proxy, Server};

const USERS: &str = "\
user default off
user app_user on >secure_password ~cached:* ~session:* +get +set +del +exists +expire +ttl
user monitor_user on >monitor_password ~* +info +ping +cluster +client
user script_user on >script_password ~allowed:* +eval +get +set
user chan_user on >chan_password &news:* +subscribe +publish +ping
user reader on >reader_password %R~data:* %W~out:* +@read +@write -@dangerous
user admin on >admin_password ~* &* +@all
user tx_user on >tx_password ~tx:* +multi +exec +set +get
";

fn write_acl(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("users.acl");
    std::fs::write(&path, text).unwrap();
    path
}

fn setup(text: &str) -> Option<(Cluster, Proxy, std::path::PathBuf)> {
    if !require_tool("redis-server") {
        return None;
    }
    let cluster = Cluster::redis(3, 0, 5000);
    let dir = scratch_dir("acl");
    let path = write_acl(&dir, text);
    let proxy = Proxy::start(cluster.ports()[0], &["--aclfile", path.to_str().unwrap()]);
    Some((cluster, proxy, path))
}

/// A connection logged in as `user`.
fn login(proxy: &Proxy, user: &str, pass: &str) -> redis::Connection {
    redis::Client::open(format!("redis://{user}:{pass}@127.0.0.1:{}/", proxy.port)).unwrap().get_connection().unwrap()
}

/// True when logging in as `user` is refused.
fn login_fails(proxy: &Proxy, user: &str, pass: &str) -> bool {
    redis::Client::open(format!("redis://{user}:{pass}@127.0.0.1:{}/", proxy.port))
        .and_then(|c| c.get_connection())
        .is_err()
}

fn error_of<T: redis::FromRedisValue + std::fmt::Debug>(r: redis::RedisResult<T>) -> String {
    let e = r.expect_err("expected an error reply");
    // The reply's own text: code and detail.
    match (e.code(), e.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        _ => e.to_string(),
    }
}

#[test]
fn the_guides_users_behave_as_written() {
    let Some((_cluster, proxy, _)) = setup(USERS) else { return };
    // No default user: everything but AUTH/HELLO is refused before login.
    let mut raw = proxy.raw();
    raw.roundtrip(&resp(&[b"GET", b"cached:1"]), "-NOAUTH Authentication required.\r\n");
    raw.roundtrip(
        &resp(&[b"AUTH", b"app_user", b"nope"]),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    );
    raw.roundtrip(&resp(&[b"AUTH", b"app_user", b"secure_password"]), "+OK\r\n");
    raw.roundtrip(&resp(&[b"SET", b"cached:1", b"v"]), "+OK\r\n");
    raw.roundtrip(&resp(&[b"GET", b"cached:1"]), "$1\r\nv\r\n");
    raw.roundtrip(&resp(&[b"EXPIRE", b"cached:1", b"100"]), ":1\r\n");
    raw.roundtrip(
        &resp(&[b"HSET", b"cached:h", b"f", b"v"]),
        "-NOPERM this user has no permissions to run the 'hset' command\r\n",
    );
    raw.roundtrip(
        &resp(&[b"GET", b"other:1"]),
        "-NOPERM this user has no permissions to access one of the keys used as arguments\r\n",
    );
    // One forbidden key inside an otherwise allowed multi-key command.
    raw.roundtrip(
        &resp(&[b"DEL", b"cached:1", b"session:1", b"private:1"]),
        "-NOPERM this user has no permissions to access one of the keys used as arguments\r\n",
    );
    raw.roundtrip(&resp(&[b"EXISTS", b"cached:1"]), ":1\r\n");
    // Keys queued in MULTI are checked when queued; the transaction is then refused.
    raw.roundtrip(&resp(&[b"MULTI"]), "-NOPERM this user has no permissions to run the 'multi' command\r\n");
    let mut tx = proxy.raw();
    tx.roundtrip(&resp(&[b"AUTH", b"tx_user", b"tx_password"]), "+OK\r\n");
    tx.roundtrip(&resp(&[b"MULTI"]), "+OK\r\n");
    tx.roundtrip(&resp(&[b"SET", b"tx:1", b"a"]), "+QUEUED\r\n");
    tx.roundtrip(
        &resp(&[b"SET", b"other:1", b"a"]),
        "-NOPERM this user has no permissions to access one of the keys used as arguments\r\n",
    );
    tx.roundtrip(&resp(&[b"EXEC"]), "-EXECABORT Transaction discarded because of previous errors.\r\n");
    tx.roundtrip(&resp(&[b"GET", b"tx:1"]), "$-1\r\n");

    let mut monitor = login(&proxy, "monitor_user", "monitor_password");
    let info: String = q(&mut monitor, &["INFO", "server"]).unwrap();
    assert!(info.contains("redis_version"));
    assert_eq!(q::<String>(&mut monitor, &["PING"]).unwrap(), "PONG");
    assert_eq!(
        error_of(q::<String>(&mut monitor, &["GET", "cached:1"])),
        "NOPERM this user has no permissions to run the 'get' command"
    );

    // A forbidden key passed to EVAL.
    let mut script = login(&proxy, "script_user", "script_password");
    let ok: i64 = q(&mut script, &["EVAL", "return 1", "1", "allowed:1"]).unwrap();
    assert_eq!(ok, 1);
    assert_eq!(
        error_of(q::<i64>(&mut script, &["EVAL", "return 1", "1", "forbidden:1"])),
        "NOPERM this user has no permissions to access one of the keys used as arguments"
    );
    // MGET with one key out of reach.
    let mut reader = login(&proxy, "reader", "reader_password");
    let _: Vec<Option<String>> = q(&mut reader, &["MGET", "data:1", "data:2"]).unwrap();
    assert_eq!(
        error_of(q::<Vec<Option<String>>>(&mut reader, &["MGET", "data:1", "out:1"])),
        "NOPERM this user has no permissions to access one of the keys used as arguments"
    );
    // %W~out:* lets the user write there but not read.
    assert_eq!(q::<String>(&mut reader, &["SET", "out:1", "x"]).unwrap(), "OK");

    // Channels.
    let mut chan = login(&proxy, "chan_user", "chan_password");
    let _: i64 = q(&mut chan, &["PUBLISH", "news:today", "hi"]).unwrap();
    assert_eq!(
        error_of(q::<i64>(&mut chan, &["PUBLISH", "gossip", "hi"])),
        "NOPERM this user has no permissions to access one of the channels used as arguments"
    );

    // HELLO 3 AUTH logs in and switches protocol in one go.
    let mut raw = proxy.raw();
    raw.send(&resp(&[b"HELLO", b"3", b"AUTH", b"app_user", b"secure_password"]));
    let head = raw.read_exact_len(3);
    assert!(head.starts_with(b"%7\r"), "a RESP3 map: {head:?}");

    // ACL commands, each guarded by the caller's own permissions.
    let mut app = login(&proxy, "app_user", "secure_password");
    assert_eq!(
        error_of(q::<String>(&mut app, &["ACL", "WHOAMI"])),
        "NOPERM this user has no permissions to run the 'acl|whoami' command"
    );
    let mut admin = login(&proxy, "admin", "admin_password");
    assert_eq!(q::<String>(&mut admin, &["ACL", "WHOAMI"]).unwrap(), "admin");
    let users: Vec<String> = q(&mut admin, &["ACL", "USERS"]).unwrap();
    assert_eq!(users.len(), 8);
    assert_eq!(q::<String>(&mut admin, &["ACL", "DRYRUN", "app_user", "get", "cached:9"]).unwrap(), "OK");
    let log: Vec<redis::Value> = q(&mut admin, &["ACL", "LOG", "100"]).unwrap();
    assert!(log.len() >= 5, "denials and the bad password are logged: {log:?}");
    let text = format!("{log:?}");
    assert!(text.contains("app_user") && text.contains("private:1") && text.contains("auth"), "{text}");
    assert_eq!(q::<String>(&mut admin, &["ACL", "SETUSER", "temp", "on", ">t", "+ping"]).unwrap(), "OK");
    let mut temp = login(&proxy, "temp", "t");
    assert_eq!(q::<String>(&mut temp, &["PING"]).unwrap(), "PONG");
    assert_eq!(q::<i64>(&mut admin, &["ACL", "DELUSER", "temp"]).unwrap(), 1);
    // As in Redis, the deleted user's connection is closed: its next command gets no reply.
    assert!(q::<String>(&mut temp, &["PING"]).is_err(), "a deleted user's session still runs commands");
    assert!(login_fails(&proxy, "temp", "t"));
    // ACL LOAD replaces every user: sessions of anyone but `default` are closed.
    let mut app2 = login(&proxy, "app_user", "secure_password");
    assert_eq!(q::<String>(&mut admin, &["ACL", "LOAD"]).unwrap(), "OK");
    assert!(q::<String>(&mut app2, &["GET", "cached:1"]).is_err(), "a session survived ACL LOAD");
    assert!(q::<String>(&mut admin, &["ACL", "WHOAMI"]).is_err(), "the caller's session survived ACL LOAD");
    let mut admin = login(&proxy, "admin", "admin_password");
    let bad = q::<String>(&mut admin, &["ACL", "SETUSER", "x", "+nosuchcommand"]);
    assert!(error_of(bad).contains("Error in ACL SETUSER modifier '+nosuchcommand'"));
}

#[test]
fn acl_file_reload_on_sighup_and_bad_files() {
    let Some((cluster, proxy, path)) = setup(USERS) else { return };
    let mut old = login(&proxy, "app_user", "secure_password");
    assert_eq!(q::<String>(&mut old, &["SET", "session:1", "a"]).unwrap(), "OK");
    // A bad file keeps the current users.
    std::fs::write(&path, format!("{USERS}user broken on +nosuchcommand\n")).unwrap();
    Command::new("kill").args(["-HUP", &proxy.pid().to_string()]).status().unwrap();
    assert!(wait_until(Duration::from_secs(5), || proxy.log().contains("keeping the current users")));
    assert!(proxy.log().contains("users.acl:9"), "the bad line is named: {}", proxy.log());
    // A good file with a new user: new logins use it, old connections keep working.
    std::fs::write(&path, format!("{USERS}user newbie on >n ~* +get\n")).unwrap();
    Command::new("kill").args(["-HUP", &proxy.pid().to_string()]).status().unwrap();
    assert!(wait_until(Duration::from_secs(5), || proxy.log().contains("ACL file reloaded")));
    let mut newbie = login(&proxy, "newbie", "n");
    assert_eq!(q::<String>(&mut newbie, &["GET", "session:1"]).unwrap(), "a");
    assert_eq!(q::<String>(&mut old, &["GET", "session:1"]).unwrap(), "a");

    // A bad file at start-up stops the proxy with the line named.
    let dir = scratch_dir("acl-bad");
    let bad = write_acl(&dir, "user default on nopass ~* +@all\nuser x on +frobnicate\n");
    let out = Command::new(slotgate_tests::binary("slotgate-proxy"))
        .args(["--listen", "127.0.0.1:0", "--seed", &format!("127.0.0.1:{}", cluster.ports()[0])])
        .args(["--aclfile", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("users.acl:2"), "{stderr}");
}

/// Decisions of the proxy's engine (through its own ACL DRYRUN, which shares the code path of
/// every check) against redis-server's, on the same file.
#[test]
fn decisions_match_redis_acl_dryrun() {
    let Some((_cluster, proxy, path)) = setup(USERS) else { return };
    let redis = Server::redis(&["--aclfile", path.to_str().unwrap()]);
    let mut r = redis::Client::open(format!("redis://admin:admin_password@127.0.0.1:{}/", redis.port))
        .unwrap()
        .get_connection()
        .unwrap();
    let mut p = login(&proxy, "admin", "admin_password");
    let users = ["app_user", "monitor_user", "script_user", "chan_user", "reader", "admin", "tx_user"];
    let commands: Vec<Vec<&str>> = vec![
        vec!["get", "cached:1"],
        vec!["get", "data:1"],
        vec!["get", "out:1"],
        vec!["set", "cached:1", "v"],
        vec!["set", "out:1", "v"],
        vec!["set", "data:1", "v"],
        vec!["set", "out:1", "v", "get"],
        vec!["del", "cached:1", "session:2"],
        vec!["del", "cached:1", "other"],
        vec!["mget", "data:1", "data:2"],
        vec!["mget", "data:1", "out:2"],
        vec!["mset", "out:1", "a", "out:2", "b"],
        vec!["exists", "out:1"],
        vec!["expire", "cached:1", "10"],
        vec!["ttl", "session:1"],
        vec!["hset", "cached:h", "f", "v"],
        vec!["hget", "data:h", "f"],
        vec!["lpush", "out:l", "a"],
        vec!["lrange", "data:l", "0", "-1"],
        vec!["zadd", "out:z", "1", "m"],
        vec!["incr", "cached:n"],
        vec!["eval", "return 1", "1", "allowed:1"],
        vec!["eval", "return 1", "1", "cached:1"],
        vec!["publish", "news:1", "m"],
        vec!["publish", "other", "m"],
        vec!["subscribe", "news:x"],
        vec!["info"],
        vec!["ping"],
        vec!["flushall"],
        vec!["keys", "*"],
        vec!["client", "list"],
        vec!["config", "get", "maxmemory"],
        vec!["rename", "out:1", "out:2"],
        vec!["copy", "data:1", "out:1"],
        vec!["lmove", "data:l", "out:l", "left", "right"],
    ];
    let mut cases = 0;
    for user in users {
        for cmd in &commands {
            let mut args = vec!["ACL", "DRYRUN", user];
            args.extend(cmd);
            let ours: redis::Value = q(&mut p, &args).unwrap();
            let theirs: redis::Value = q(&mut r, &args).unwrap();
            assert_eq!(format!("{ours:?}"), format!("{theirs:?}"), "{user} {cmd:?}");
            cases += 1;
        }
    }
    assert!(cases >= 200, "{cases} cases");
    // And enforcement agrees with DRYRUN: a denied case really is refused through the proxy.
    let mut reader = login(&proxy, "reader", "reader_password");
    let e = q::<String>(&mut reader, &["GET", "out:1"]).unwrap_err().to_string();
    assert!(e.contains("no permissions"), "{e}");
}

/// Reads one reply's worth of bytes (`expected`'s length) and compares.
fn expect(c: &mut slotgate_tests::RawConn, expected: &str, what: &str) {
    let got = c.read_exact_len(expected.len());
    assert_eq!(String::from_utf8_lossy(&got), expected, "{what}");
}

/// A raw connection logged in as chan_user and subscribed to `channel`.
fn subscriber(port: u16, channel: &str) -> slotgate_tests::RawConn {
    let s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut c = slotgate_tests::RawConn(s);
    c.roundtrip(&resp(&[b"AUTH", b"chan_user", b"chan_password"]), "+OK\r\n");
    c.send(&resp(&[b"SUBSCRIBE", channel.as_bytes()]));
    expect(&mut c, &format!("*3\r\n$9\r\nsubscribe\r\n${}\r\n{channel}\r\n:1\r\n", channel.len()), "subscribed");
    c
}

/// ACL changes reach subscribed clients as in Redis: channels taken away close a subscriber
/// that needs them (and only that one), ACL DELUSER closes the user's subscribers. The same
/// steps run against redis-server with the same file.
#[test]
fn acl_changes_close_subscribers_they_no_longer_cover() {
    let Some((_cluster, proxy, path)) = setup(USERS) else { return };
    let redis = Server::redis(&["--aclfile", path.to_str().unwrap()]);
    for (name, port) in [("redis-server", redis.port), ("slotgate-proxy", proxy.port)] {
        let mut admin = redis::Client::open(format!("redis://admin:admin_password@127.0.0.1:{port}/"))
            .unwrap()
            .get_connection()
            .unwrap();
        let mut today = subscriber(port, "news:today");
        let mut sport = subscriber(port, "news:sport");
        assert_eq!(
            q::<String>(&mut admin, &["ACL", "SETUSER", "chan_user", "resetchannels", "&news:today"]).unwrap(),
            "OK"
        );
        assert!(sport.closed(), "{name}: the subscriber to a channel taken away is closed");
        // The other one is still subscribed and served.
        today.send(&resp(&[b"PING"]));
        expect(&mut today, "*2\r\n$4\r\npong\r\n$0\r\n\r\n", &format!("{name}: PING in subscribed mode"));
        let mut publisher = redis::Client::open(format!("redis://chan_user:chan_password@127.0.0.1:{port}/"))
            .unwrap()
            .get_connection()
            .unwrap();
        assert!(wait_until(Duration::from_secs(5), || {
            // Through the proxy the message travels the cluster bus to the subscriber's node.
            let _: i64 = q(&mut publisher, &["PUBLISH", "news:today", "hi"]).unwrap();
            let mut buf = [0u8; 256];
            today.0.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
            matches!(std::io::Read::read(&mut today.0, &mut buf), Ok(n) if String::from_utf8_lossy(&buf[..n]).contains("$2\r\nhi\r\n"))
        }));
        today.0.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert_eq!(q::<i64>(&mut admin, &["ACL", "DELUSER", "chan_user"]).unwrap(), 1);
        assert!(today.closed(), "{name}: ACL DELUSER closes the user's subscriber");
    }
}
