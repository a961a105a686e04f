//! TLS at slotgate-proxy: `redis-cli --tls` through the TLS port, client certificates under
//! `tls-auth-clients yes` (missing, expired and wrongly signed ones refused, with the reason
//! logged), a plaintext client on the TLS port, and a certificate reload on SIGHUP while
//! connections stay up (a bad new certificate keeps the old one). Certificates are made with
//! `openssl` for each run.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use slotgate_tests::pki::{presented_subject, stdout, tls_cli, Pki};
use slotgate_tests::{free_port, require_tool, scratch_dir, wait_until, Cluster, Proxy};

fn start(pki: &Pki, cluster: &Cluster, extra: &[&str]) -> (Proxy, u16) {
    let tls_port = free_port();
    let listen = format!("127.0.0.1:{tls_port}");
    let (cert, key, ca) = (pki.path("server.crt"), pki.path("server.key"), pki.path("ca.crt"));
    let mut args =
        vec!["--tls-listen", &listen, "--tls-cert-file", &cert, "--tls-key-file", &key, "--tls-ca-cert-file", &ca];
    args.extend(extra);
    let proxy = Proxy::start(cluster.ports()[0], &args);
    assert!(wait_until(Duration::from_secs(5), || std::net::TcpStream::connect(("127.0.0.1", tls_port)).is_ok()));
    (proxy, tls_port)
}

#[test]
fn clients_connect_over_tls_with_certificates_checked() {
    if !require_tool("redis-server") || !require_tool("openssl") {
        return;
    }
    let pki = Pki::create();
    let cluster = Cluster::redis(3, 0, 5000);
    let (proxy, port) = start(&pki, &cluster, &["--tls-auth-clients", "yes"]);
    let ok = tls_cli(&pki, port, Some("client"), &["SET", "tls:k", "v"]);
    assert_eq!(stdout(&ok), "OK", "{}", String::from_utf8_lossy(&ok.stderr));
    assert_eq!(stdout(&tls_cli(&pki, port, Some("client"), &["GET", "tls:k"])), "v");
    // The plain port serves the same data.
    assert_eq!(slotgate_tests::redis_cli(proxy.port, &["GET", "tls:k"]).as_deref(), Some("v"));
    // redis-rs over rustls, with and without a client certificate.
    let mut rs = slotgate_tests::pki::redis_rs_tls(&pki, port, Some("client")).expect("redis-rs TLS connection");
    let _: () = redis::cmd("SET").arg("tls:rs").arg("rustls").query(&mut rs).expect("SET over redis-rs TLS");
    assert_eq!(redis::cmd("GET").arg("tls:rs").query::<String>(&mut rs).unwrap(), "rustls");
    let refused = slotgate_tests::pki::redis_rs_tls(&pki, port, None)
        .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
    assert!(refused.is_err(), "redis-rs without a client certificate got in: {refused:?}");
    for who in [None, Some("expired"), Some("stranger")] {
        let refused = tls_cli(&pki, port, who, &["PING"]);
        assert_ne!(stdout(&refused), "PONG", "{who:?} got in");
    }
    // Four refusals (redis-rs and redis-cli without a certificate, the expired one, the
    // stranger's); the log lines may come in any order, so wait for the last reason too.
    let stranger_logged = |log: &str| log.contains("UnknownIssuer") || log.contains("unknown issuer");
    assert!(wait_until(Duration::from_secs(5), || {
        let log = proxy.log();
        log.matches("TLS handshake refused").count() >= 3 && stranger_logged(&log)
    }));
    let log = proxy.log();
    assert!(log.contains("Expired") || log.contains("expired"), "the expired certificate's reason is logged: {log}");
    assert!(log.contains("UnknownIssuer") || log.contains("unknown issuer"), "{log}");
    // A plaintext client on the TLS port is dropped; the port keeps serving.
    let mut plain = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    plain.set_read_timeout(Some(Duration::from_secs(6))).unwrap();
    let _ = plain.write_all(b"PING\r\n");
    let mut buf = [0u8; 64];
    let n = plain.read(&mut buf).unwrap_or(0);
    assert!(!buf[..n].starts_with(b"+PONG"), "plaintext was served on the TLS port");
    assert_eq!(stdout(&tls_cli(&pki, port, Some("client"), &["PING"])), "PONG");
}

#[test]
fn optional_client_certificates_and_tls12_only() {
    if !require_tool("redis-server") || !require_tool("openssl") {
        return;
    }
    let pki = Pki::create();
    let cluster = Cluster::redis(3, 0, 5000);
    let (_proxy, port) = start(&pki, &cluster, &["--tls-auth-clients", "optional", "--tls-protocols", "TLSv1.2"]);
    assert_eq!(stdout(&tls_cli(&pki, port, None, &["PING"])), "PONG");
    assert_eq!(stdout(&tls_cli(&pki, port, Some("client"), &["PING"])), "PONG");
    // A wrongly signed certificate is still refused when presented.
    assert_ne!(stdout(&tls_cli(&pki, port, Some("stranger"), &["PING"])), "PONG");
    let out = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}"), "-CAfile", &pki.path("ca.crt"), "-tls1_3"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("TLSv1.3"),
        "TLS 1.3 was negotiated although only TLSv1.2 is allowed"
    );
}

#[test]
fn certificate_reload_keeps_connections_and_refuses_bad_files() {
    if !require_tool("redis-server") || !require_tool("openssl") {
        return;
    }
    let pki = Pki::create();
    let cluster = Cluster::redis(3, 0, 5000);
    let (proxy, port) = start(&pki, &cluster, &["--tls-auth-clients", "no"]);
    assert!(presented_subject(&pki, port).contains("127.0.0.1"));
    // An established TLS session (redis-cli reading commands from stdin) survives the reload.
    let mut session = Command::new("redis-cli")
        .args(["--tls", "--cacert", &pki.path("ca.crt"), "-p", &port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = session.stdin.take().unwrap();
    writeln!(stdin, "SET reload:before 1").unwrap();
    std::fs::copy(pki.dir.join("server2.crt"), pki.dir.join("server.crt")).unwrap();
    std::fs::copy(pki.dir.join("server2.key"), pki.dir.join("server.key")).unwrap();
    Command::new("kill").args(["-HUP", &proxy.pid().to_string()]).status().unwrap();
    assert!(wait_until(Duration::from_secs(5), || proxy.log().contains("TLS certificate reloaded")));
    assert!(presented_subject(&pki, port).contains("second server cert"), "new handshakes get the new certificate");
    writeln!(stdin, "GET reload:before").unwrap();
    drop(stdin);
    let out = session.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "OK\n1");
    // A broken certificate file keeps the current one.
    std::fs::write(pki.dir.join("server.crt"), "not a certificate").unwrap();
    Command::new("kill").args(["-HUP", &proxy.pid().to_string()]).status().unwrap();
    assert!(wait_until(Duration::from_secs(5), || proxy.log().contains("TLS certificate not reloaded")));
    assert!(presented_subject(&pki, port).contains("second server cert"));
}

#[test]
fn bad_tls_settings_stop_start_up() {
    if !require_tool("redis-server") || !require_tool("openssl") {
        return;
    }
    let pki = Pki::create();
    let cluster = Cluster::redis(3, 0, 5000);
    let seed = format!("127.0.0.1:{}", cluster.ports()[0]);
    let tls = format!("127.0.0.1:{}", free_port());
    let run = |args: &[&str]| -> (Option<i32>, String) {
        let out = Command::new(slotgate_tests::binary("slotgate-proxy"))
            .args(["--listen", &format!("127.0.0.1:{}", free_port()), "--seed", &seed])
            .args(args)
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, err) =
        run(&["--tls-listen", &tls, "--tls-cert-file", &pki.path("ca.key"), "--tls-key-file", &pki.path("server.key")]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("ca.key"), "{err}");
    let (code, err) = run(&["--tls-listen", &tls, "--tls-cert-file", &pki.path("server.crt")]);
    assert_eq!(code, Some(1));
    assert!(err.contains("tls-key-file"), "{err}");
    let (code, err) = run(&[
        "--tls-listen",
        &tls,
        "--tls-cert-file",
        &pki.path("server.crt"),
        "--tls-key-file",
        &pki.path("server.key"),
        "--tls-protocols",
        "TLSv1.1",
    ]);
    assert_eq!(code, Some(1));
    assert!(err.contains("tls-protocols"), "{err}");
}

/// Redis servers killed on drop.
struct Servers(Vec<std::process::Child>);

impl Drop for Servers {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[test]
fn the_proxy_speaks_tls_to_a_tls_only_cluster() {
    if !require_tool("redis-server") || !require_tool("openssl") {
        return;
    }
    let pki = Pki::create();
    let mut taken = std::collections::HashSet::new();
    let mut servers = Servers(Vec::new());
    let mut ports = Vec::new();
    for _ in 0..3 {
        let port = slotgate_tests::cluster_port(&taken);
        taken.insert(port);
        let dir = scratch_dir("tls-node");
        let child = Command::new("redis-server")
            .args(["--port", "0", "--tls-port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--tls-cluster", "yes", "--tls-auth-clients", "no"])
            .args(["--tls-cert-file", &pki.path("server.crt"), "--tls-key-file", &pki.path("server.key")])
            .args(["--tls-ca-cert-file", &pki.path("ca.crt")])
            .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "5000", "--save", "", "--dir"])
            .arg(&dir)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        servers.0.push(child);
        ports.push(port);
    }
    let tls_up = |p: u16| stdout(&tls_cli(&pki, p, None, &["PING"])) == "PONG";
    assert!(wait_until(Duration::from_secs(10), || ports.iter().all(|p| tls_up(*p))));
    // Plaintext is refused by these nodes: only TLS gets through.
    assert_ne!(slotgate_tests::redis_cli(ports[0], &["PING"]).as_deref(), Some("PONG"));
    let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let out = Command::new("redis-cli")
        .args(["--tls", "--cacert", &pki.path("ca.crt"), "--cluster", "create"])
        .args(&addrs)
        .args(["--cluster-yes"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(wait_until(Duration::from_secs(30), || ports.iter().all(|p| stdout(&tls_cli(
        &pki,
        *p,
        None,
        &["CLUSTER", "INFO"]
    ))
    .contains("cluster_state:ok"))));
    let proxy = Proxy::start(ports[0], &["--backend-tls-ca-cert-file", &pki.path("ca.crt")]);
    let mut c = proxy.conn();
    for i in 0..100 {
        let () = redis::cmd("SET").arg(format!("t:{i}")).arg(i).query(&mut c).unwrap();
    }
    let got: Vec<i64> = redis::cmd("MGET").arg(&["t:1", "t:50", "t:99"]).query(&mut c).unwrap();
    assert_eq!(got, vec![1, 50, 99]);
    let total: u64 = ports.iter().map(|p| stdout(&tls_cli(&pki, *p, None, &["DBSIZE"])).parse::<u64>().unwrap()).sum();
    assert_eq!(total, 100);
    // A CA that did not sign the nodes' certificates: the proxy refuses to talk to them.
    let wrong = Proxy::start(ports[0], &["--backend-tls-ca-cert-file", &pki.path("other-ca.crt")]);
    let e = slotgate_tests::redis_cli(wrong.port, &["GET", "t:1"]).unwrap_or_default();
    assert!(e.contains("ERR") || e.contains("CLUSTERDOWN"), "{e}");
}

/// `--tls-cert-user`: a verified client certificate whose CN names an enabled ACL user logs
/// the client in as that user, with that user's rules; other clients still need AUTH.
#[test]
fn a_client_certificate_can_name_the_acl_user() {
    if !require_tool("redis-server") || !require_tool("openssl") {
        return;
    }
    let pki = Pki::create();
    let cluster = Cluster::redis(3, 0, 5000);
    let acl = scratch_dir("certuser").join("users.acl");
    std::fs::write(&acl, "user default off\nuser app on >app_password ~app:* +@all\n").unwrap();
    let acl = acl.display().to_string();
    let (proxy, port) =
        start(&pki, &cluster, &["--aclfile", &acl, "--tls-auth-clients", "optional", "--tls-cert-user"]);
    // The client certificate's subject is CN=app.
    assert_eq!(stdout(&tls_cli(&pki, port, Some("client"), &["ACL", "WHOAMI"])), "app");
    assert_eq!(stdout(&tls_cli(&pki, port, Some("client"), &["SET", "app:1", "x"])), "OK");
    let denied = stdout(&tls_cli(&pki, port, Some("client"), &["SET", "other", "x"]));
    assert!(denied.contains("NOPERM"), "app's key rules apply: {denied}");
    assert!(proxy.log().contains("logged in by client certificate"), "{}", proxy.log());
    // No certificate, or one whose CN is no user: AUTH is needed as usual.
    for who in [None, Some("server2")] {
        let out = stdout(&tls_cli(&pki, port, who, &["GET", "app:1"]));
        assert!(out.contains("NOAUTH"), "{who:?}: {out}");
    }
    // Without the option the same certificate logs no one in.
    let (_plain, port2) = start(&pki, &cluster, &["--aclfile", &acl, "--tls-auth-clients", "optional"]);
    let out = stdout(&tls_cli(&pki, port2, Some("client"), &["GET", "app:1"]));
    assert!(out.contains("NOAUTH"), "{out}");
}
