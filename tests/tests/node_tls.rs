//! TLS at slotgate-node, as redis-server does it: `redis-cli --tls` and a raw rustls client on
//! `tls-port`, client certificates under `tls-auth-clients yes|optional` (missing, expired and
//! wrongly signed ones refused; the CA from a file or a folder), TLS 1.2 only, plaintext and
//! stalled clients on the TLS port, a certificate reload by CONFIG SET while a session stays
//! up, bad certificate files at start-up, MIGRATE over TLS, and a TLS-only cluster (`port 0`,
//! `tls-cluster yes`, `tls-replication yes`) made by `redis-cli --tls --cluster create` whose
//! bus refuses a plaintext peer. Certificates are made with `openssl` for each run.

use std::collections::HashSet;
use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use slotgate_tests::pki::{presented_subject, stdout, tls_cli, Pki};
use slotgate_tests::{
    binary, cluster_port, free_port, parse_cluster_nodes, redis_cli, require_tool, scratch_dir, wait_until, NodeInfo,
};
use tls::rustls::{ClientConnection, StreamOwned};

/// A slotgate-node with the PKI's server certificate, killed on drop.
struct TlsNode {
    child: Child,
    tls_port: u16,
    /// The plaintext port; 0 with `port 0`.
    port: u16,
    dir: PathBuf,
    /// `redis-cli` arguments that reach the TLS port with the client certificate.
    cli_args: Vec<String>,
}

impl TlsNode {
    /// Starts a node on a free TLS port (and a free plaintext one when `plain`).
    fn start(pki: &Pki, plain: bool, extra: &[&str]) -> TlsNode {
        for _attempt in 0..5 {
            let port = if plain { free_port() } else { 0 };
            if let Some(node) = TlsNode::spawn(pki, free_port(), port, extra) {
                return node;
            }
        }
        panic!("slotgate-node with TLS did not start");
    }

    /// Starts a node on `tls_port`; `None` if it exits or does not answer over TLS.
    fn spawn(pki: &Pki, tls_port: u16, port: u16, extra: &[&str]) -> Option<TlsNode> {
        let dir = scratch_dir("tls-node");
        let log = File::create(dir.join("node.log")).expect("node log");
        let child = Command::new(binary("slotgate-node"))
            .args(["--port", &port.to_string(), "--tls-port", &tls_port.to_string(), "--bind", "127.0.0.1"])
            .args(["--tls-cert-file", &pki.path("server.crt"), "--tls-key-file", &pki.path("server.key")])
            .args(["--tls-ca-cert-file", &pki.path("ca.crt")])
            .args(["--save", "", "--appendonly", "no", "--loglevel", "verbose", "--dir"])
            .arg(&dir)
            .args(extra)
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("cannot start slotgate-node");
        let cli_args = ["--tls", "--cacert", &pki.path("ca.crt"), "--cert", &pki.path("client.crt")]
            .into_iter()
            .map(str::to_string)
            .chain(["--key".into(), pki.path("client.key"), "-p".into(), tls_port.to_string()])
            .collect();
        let mut node = TlsNode { child, tls_port, port, dir, cli_args };
        let up = wait_until(Duration::from_secs(10), || node.exited() || node.cli(&["PING"]) == "PONG");
        (up && !node.exited()).then_some(node)
    }

    fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// `redis-cli --tls` with the client certificate; its trimmed output.
    fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli").args(&self.cli_args).args(args).output().expect("redis-cli");
        stdout(&out)
    }

    /// Runs the lines of `script` on one `redis-cli --tls` connection.
    fn cli_script(&self, script: &str) -> String {
        let mut child = Command::new("redis-cli")
            .args(&self.cli_args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("redis-cli");
        let _ = child.stdin.take().expect("stdin").write_all(script.as_bytes());
        String::from_utf8_lossy(&child.wait_with_output().expect("redis-cli").stdout).trim().to_string()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("node.log")).unwrap_or_default()
    }
}

impl Drop for TlsNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A raw rustls connection (the `tls` crate's client configuration) speaking RESP.
struct RawTls(StreamOwned<ClientConnection, TcpStream>);

impl RawTls {
    fn connect(pki: &Pki, port: u16) -> RawTls {
        let (cert, key) = (pki.path("client.crt"), pki.path("client.key"));
        let config = tls::client_config(Path::new(&pki.path("ca.crt")), Some((Path::new(&cert), Path::new(&key))))
            .expect("client config");
        let conn = ClientConnection::new(config, tls::server_name("127.0.0.1").unwrap()).unwrap();
        let sock = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        RawTls(StreamOwned::new(conn, sock))
    }

    /// Sends one command and returns the reply's bytes (small replies arrive in one record).
    fn call(&mut self, args: &[&str]) -> String {
        let parts: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.0.write_all(&slotgate_tests::resp(&parts)).expect("write");
        self.0.flush().expect("flush");
        let mut buf = [0u8; 1024];
        let n = self.0.read(&mut buf).expect("read");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

/// Reads until the peer closes (true) or `within` passes without that (false). Whatever it
/// sent meanwhile is returned too.
fn closed_within(sock: &mut TcpStream, within: Duration) -> (bool, Vec<u8>) {
    sock.set_read_timeout(Some(within)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match sock.read(&mut buf) {
            Ok(0) => return (true, got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (true, got),
            Err(_) => return (false, got),
        }
    }
}

fn tools() -> bool {
    require_tool("redis-cli") && require_tool("openssl")
}

#[test]
fn clients_connect_over_tls_with_certificates_checked() {
    if !tools() {
        return;
    }
    let pki = Pki::create();
    // tls-auth-clients defaults to yes, as in Redis.
    let node = TlsNode::start(&pki, true, &[]);
    assert_eq!(node.cli(&["SET", "tls:k", "v"]), "OK");
    assert_eq!(node.cli(&["GET", "tls:k"]), "v");
    // The plaintext port serves the same data.
    assert_eq!(redis_cli(node.port, &["GET", "tls:k"]).as_deref(), Some("v"));
    let mut raw = RawTls::connect(&pki, node.tls_port);
    assert_eq!(raw.call(&["PING"]), "+PONG\r\n");
    assert_eq!(raw.call(&["GET", "tls:k"]), "$1\r\nv\r\n");
    // redis-rs over rustls, with a client certificate; without one it is refused.
    let mut rs =
        slotgate_tests::pki::redis_rs_tls(&pki, node.tls_port, Some("client")).expect("redis-rs TLS connection");
    assert_eq!(redis::cmd("GET").arg("tls:k").query::<String>(&mut rs).expect("GET over redis-rs TLS"), "v");
    let refused = slotgate_tests::pki::redis_rs_tls(&pki, node.tls_port, None)
        .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
    assert!(refused.is_err(), "redis-rs without a client certificate got in: {refused:?}");
    for who in [None, Some("expired"), Some("stranger")] {
        let refused = tls_cli(&pki, node.tls_port, who, &["PING"]);
        assert_ne!(stdout(&refused), "PONG", "{who:?} got in");
    }
    assert!(wait_until(Duration::from_secs(5), || node.log().matches("TLS handshake refused").count() >= 3));
    let log = node.log();
    assert!(log.contains("Expired") || log.contains("expired"), "the expired certificate's reason is logged: {log}");
    assert!(log.contains("UnknownIssuer") || log.contains("unknown issuer"), "{log}");
    // A client that never finishes its handshake holds up no one, and is dropped in time.
    let mut stalled = TcpStream::connect(("127.0.0.1", node.tls_port)).unwrap();
    assert_eq!(node.cli(&["PING"]), "PONG");
    let (closed, _) = closed_within(&mut stalled, Duration::from_secs(10));
    assert!(closed, "a stalled handshake was not timed out");
    // A plaintext client on the TLS port is dropped; the port keeps serving.
    let mut plain = TcpStream::connect(("127.0.0.1", node.tls_port)).unwrap();
    plain.write_all(b"PING\r\n").unwrap();
    let (closed, got) = closed_within(&mut plain, Duration::from_secs(10));
    assert!(closed && !got.starts_with(b"+PONG"), "plaintext was served on the TLS port: {got:?}");
    assert_eq!(node.cli(&["PING"]), "PONG");
    assert_eq!(raw.call(&["PING"]), "+PONG\r\n", "an established session is unaffected");
}

#[test]
fn optional_client_certificates_ca_folder_and_tls12_only() {
    if !tools() {
        return;
    }
    let pki = Pki::create();
    // The CA comes from a folder this time (files that hold no certificate are skipped).
    let ca_dir = pki.dir.join("ca-dir");
    std::fs::create_dir_all(&ca_dir).unwrap();
    std::fs::copy(pki.dir.join("ca.crt"), ca_dir.join("ca.pem")).unwrap();
    std::fs::write(ca_dir.join("README"), "not a certificate").unwrap();
    let ca_dir = ca_dir.display().to_string();
    let node = TlsNode::start(
        &pki,
        false,
        &["--tls-ca-cert-file", "", "--tls-ca-cert-dir", &ca_dir, "--tls-auth-clients", "optional"],
    );
    assert_eq!(node.cli(&["CONFIG", "SET", "tls-protocols", "TLSv1.2"]), "OK");
    assert_eq!(stdout(&tls_cli(&pki, node.tls_port, None, &["PING"])), "PONG");
    assert_eq!(stdout(&tls_cli(&pki, node.tls_port, Some("client"), &["PING"])), "PONG");
    // A wrongly signed certificate is still refused when presented.
    assert_ne!(stdout(&tls_cli(&pki, node.tls_port, Some("stranger"), &["PING"])), "PONG");
    let out = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{}", node.tls_port), "-CAfile", &pki.path("ca.crt")])
        .arg("-tls1_3")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains("TLSv1.3"), "TLS 1.3 was negotiated");
    // CONFIG SET changes the rule for new connections.
    assert_eq!(node.cli(&["CONFIG", "SET", "tls-auth-clients", "yes"]), "OK");
    assert_ne!(stdout(&tls_cli(&pki, node.tls_port, None, &["PING"])), "PONG");
    assert_eq!(node.cli(&["CONFIG", "GET", "tls-auth-clients"]), "tls-auth-clients\nyes");
}

#[test]
fn certificate_reload_by_config_set_keeps_sessions() {
    if !tools() {
        return;
    }
    let pki = Pki::create();
    let node = TlsNode::start(&pki, false, &["--tls-auth-clients", "no"]);
    assert!(presented_subject(&pki, node.tls_port).contains("127.0.0.1"));
    let mut session = RawTls::connect(&pki, node.tls_port);
    assert_eq!(session.call(&["SET", "reload:before", "1"]), "+OK\r\n");
    // Redis reads the files again on CONFIG SET of a tls-* setting, even with the same path.
    std::fs::copy(pki.dir.join("server2.crt"), pki.dir.join("server.crt")).unwrap();
    std::fs::copy(pki.dir.join("server2.key"), pki.dir.join("server.key")).unwrap();
    let (cert, key) = (pki.path("server.crt"), pki.path("server.key"));
    assert_eq!(node.cli(&["CONFIG", "SET", "tls-cert-file", &cert, "tls-key-file", &key]), "OK");
    assert!(presented_subject(&pki, node.tls_port).contains("second server cert"), "new handshakes get it");
    assert_eq!(session.call(&["GET", "reload:before"]), "$1\r\n1\r\n", "the established session survives");
    // A broken file is refused and the current certificate stays.
    std::fs::write(pki.dir.join("server.crt"), "not a certificate").unwrap();
    let reply = node.cli(&["CONFIG", "SET", "tls-cert-file", &cert]);
    assert!(reply.contains("Unable to update TLS configuration"), "{reply}");
    assert!(node.log().contains("server.crt"), "the log names the file");
    assert!(presented_subject(&pki, node.tls_port).contains("second server cert"));
    assert_eq!(session.call(&["PING"]), "+PONG\r\n");
}

/// Runs slotgate-node expecting it to refuse to start: its exit code and stderr.
#[test]
fn tls_clients_get_busy_replies_and_can_kill_a_slow_script() {
    if !tools() {
        return;
    }
    let pki = Pki::create();
    let node = TlsNode::start(&pki, false, &["--busy-reply-threshold", "100"]);
    // A client whose session was set up before the script started.
    let mut other = RawTls::connect(&pki, node.tls_port);
    assert_eq!(other.call(&["PING"]), "+PONG\r\n");
    let mut runner = RawTls::connect(&pki, node.tls_port);
    assert_eq!(runner.call(&["PING"]), "+PONG\r\n");
    runner.0.write_all(&slotgate_tests::resp(&[b"EVAL", b"while true do end", b"0"])).unwrap();
    runner.0.flush().unwrap();
    let mut last = String::new();
    let busy = wait_until(Duration::from_secs(10), || {
        last = other.call(&["GET", "k"]);
        last.starts_with("-BUSY Redis is busy running a script.")
    });
    assert!(busy, "the established TLS client got no -BUSY: {last:?}");
    // A client that connects while the script runs: its handshake and its -BUSY come from
    // the script's hook.
    let mut fresh = RawTls::connect(&pki, node.tls_port);
    assert_eq!(
        fresh.call(&["PING"]),
        "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n"
    );
    // The operator's way out: redis-cli --tls, connecting now.
    assert_eq!(node.cli(&["SCRIPT", "KILL"]), "OK");
    let mut buf = [0u8; 256];
    let n = runner.0.read(&mut buf).expect("the runner's reply");
    let reply = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(reply.starts_with("-ERR Script killed by user with SCRIPT KILL"), "{reply:?}");
    // Every session goes on as before.
    assert_eq!(other.call(&["SET", "k", "v"]), "+OK\r\n");
    assert_eq!(fresh.call(&["GET", "k"]), "$1\r\nv\r\n");
    assert_eq!(runner.call(&["PING"]), "+PONG\r\n");
    assert_eq!(node.cli(&["GET", "k"]), "v");
}

fn refused_start(args: &[&str]) -> (Option<i32>, String) {
    let dir = scratch_dir("tls-bad");
    let mut child = Command::new(binary("slotgate-node"))
        .args(["--bind", "127.0.0.1", "--port", "0", "--tls-port", &free_port().to_string(), "--dir"])
        .arg(&dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("slotgate-node");
    let exited = wait_until(Duration::from_secs(10), || matches!(child.try_wait(), Ok(Some(_))));
    if !exited {
        let _ = child.kill();
    }
    let out = child.wait_with_output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(exited, "slotgate-node started with {args:?}");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn bad_certificates_stop_start_up_naming_the_file() {
    if !tools() {
        return;
    }
    let pki = Pki::create();
    let (ca, cert, key) = (pki.path("ca.crt"), pki.path("server.crt"), pki.path("server.key"));
    let ca_key = pki.path("ca.key");
    // A key where the certificate should be.
    let (code, err) = refused_start(&["--tls-cert-file", &ca_key, "--tls-key-file", &key, "--tls-ca-cert-file", &ca]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("ca.key"), "{err}");
    let (code, err) = refused_start(&[
        "--tls-cert-file",
        &cert,
        "--tls-key-file",
        "/nonexistent/node.key",
        "--tls-ca-cert-file",
        &ca,
    ]);
    assert_eq!(code, Some(1));
    assert!(err.contains("/nonexistent/node.key"), "{err}");
    let (code, err) = refused_start(&["--tls-cert-file", &cert, "--tls-key-file", &key]);
    assert_eq!(code, Some(1));
    assert!(err.contains("tls-ca-cert-file"), "{err}");
    let (code, err) = refused_start(&[
        "--tls-cert-file",
        &cert,
        "--tls-key-file",
        &key,
        "--tls-ca-cert-file",
        &ca,
        "--tls-protocols",
        "TLSv1.1",
    ]);
    assert_eq!(code, Some(1));
    assert!(err.contains("tls-protocols"), "{err}");
}

#[test]
fn migrate_speaks_tls_under_tls_cluster() {
    if !tools() {
        return;
    }
    let pki = Pki::create();
    let source = TlsNode::start(&pki, false, &["--tls-cluster", "yes"]);
    let target = TlsNode::start(&pki, false, &["--tls-cluster", "yes"]);
    assert_eq!(source.cli(&["SET", "moving", "along"]), "OK");
    let to = target.tls_port.to_string();
    assert_eq!(source.cli(&["MIGRATE", "127.0.0.1", &to, "moving", "0", "5000"]), "OK");
    assert_eq!(target.cli(&["GET", "moving"]), "along");
    assert_eq!(source.cli(&["EXISTS", "moving"]), "0");
    // Without tls-cluster, MIGRATE speaks plaintext, which the TLS port refuses.
    let plain = TlsNode::start(&pki, true, &[]);
    assert_eq!(plain.cli(&["SET", "stays", "here"]), "OK");
    let reply = plain.cli(&["MIGRATE", "127.0.0.1", &to, "stays", "0", "2000"]);
    assert!(reply.contains("IOERR"), "{reply}");
    assert_eq!(plain.cli(&["GET", "stays"]), "here");
}

/// Six TLS-only nodes (`port 0`) with `tls-cluster` and `tls-replication`, in no cluster yet.
fn tls_only_nodes(pki: &Pki, count: usize) -> Vec<TlsNode> {
    let mut taken = HashSet::new();
    let mut nodes = Vec::new();
    while nodes.len() < count {
        // The bus port is the TLS port + 10000, so both must be free.
        let port = cluster_port(&taken);
        taken.insert(port);
        let extra = [
            "--cluster-enabled",
            "yes",
            "--cluster-node-timeout",
            "5000",
            "--tls-cluster",
            "yes",
            "--tls-replication",
            "yes",
        ];
        if let Some(node) = TlsNode::spawn(pki, port, 0, &extra) {
            nodes.push(node);
        }
        assert!(taken.len() < count + 10, "TLS cluster nodes did not start");
    }
    nodes
}

fn nodes_seen_by(node: &TlsNode) -> Vec<NodeInfo> {
    parse_cluster_nodes(&node.cli(&["CLUSTER", "NODES"])).unwrap_or_default()
}

#[test]
fn tls_only_cluster_with_replicas_formed_by_redis_cli() {
    if !tools() {
        return;
    }
    let pki = Pki::create();
    let nodes = tls_only_nodes(&pki, 6);
    let addrs: Vec<String> = nodes.iter().map(|n| format!("127.0.0.1:{}", n.tls_port)).collect();
    let out = Command::new("redis-cli")
        .args(["--tls", "--cacert", &pki.path("ca.crt"), "--cert", &pki.path("client.crt")])
        .args(["--key", &pki.path("client.key"), "--cluster", "create"])
        .args(&addrs)
        .args(["--cluster-replicas", "1", "--cluster-yes"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let formed = wait_until(Duration::from_secs(60), || {
        nodes.iter().all(|n| {
            let info = n.cli(&["CLUSTER", "INFO"]);
            let repl = n.cli(&["INFO", "replication"]);
            info.contains("cluster_state:ok")
                && info.contains("cluster_known_nodes:6")
                && (repl.contains("role:master") || repl.contains("master_link_status:up"))
                && nodes_seen_by(n).iter().filter(|i| i.master_id.is_some()).count() == 3
        })
    });
    let logs: Vec<String> = nodes.iter().map(TlsNode::log).collect();
    assert!(formed, "the TLS cluster did not form: {logs:#?}");
    // Nodes are known by their TLS ports, with the bus at TLS port + 10000.
    let tls_ports: HashSet<u16> = nodes.iter().map(|n| n.tls_port).collect();
    let text = nodes[0].cli(&["CLUSTER", "NODES"]);
    for n in &nodes {
        assert!(text.contains(&format!("127.0.0.1:{}@{}", n.tls_port, n.tls_port + 10000)), "{text}");
    }
    assert!(nodes[0].cli(&["CLUSTER", "SHARDS"]).contains("tls-port"));
    // Writes through TLS (following MOVED to TLS ports) reach the replicas over TLS.
    for i in 0..30 {
        let reply = nodes[0].cli(&["-c", "SET", &format!("tls:{i}"), &i.to_string()]);
        assert_eq!(reply, "OK");
    }
    let view = nodes_seen_by(&nodes[0]);
    let slot: u16 = nodes[0].cli(&["CLUSTER", "KEYSLOT", "tls:7"]).parse().unwrap();
    let master = view.iter().find(|n| n.ranges.iter().any(|(a, b)| (*a..=*b).contains(&slot))).unwrap();
    let replica = view.iter().find(|n| n.master_id.as_deref() == Some(master.id.as_str())).unwrap();
    let replica = nodes.iter().find(|n| n.tls_port == replica.port).unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || replica.cli_script("READONLY\nGET tls:7\n") == "OK\n7"),
        "the replica did not get the write"
    );
    // CLUSTER SLOTS lists a replica once it holds data (offset > 0), as Redis 7.0 does.
    let mut slots = String::new();
    let listed = wait_until(Duration::from_secs(15), || {
        slots = nodes[0].cli(&["CLUSTER", "SLOTS"]);
        slots
            .lines()
            .filter_map(|l| l.parse::<u16>().ok())
            .filter(|p| tls_ports.contains(p))
            .collect::<HashSet<_>>()
            .len()
            == 6
    });
    assert!(listed, "CLUSTER SLOTS lists every node's TLS port: {slots}");
    // A plaintext peer on a TLS bus port gets no bus reply and is dropped; nothing changes.
    let before = nodes_seen_by(&nodes[1]).len();
    let mut intruder = TcpStream::connect(("127.0.0.1", nodes[1].tls_port + 10000)).unwrap();
    let mut meet = b"SGbu\x00\x01\x00\x02".to_vec();
    meet.extend_from_slice(&[0u8; 200]);
    intruder.write_all(&meet).unwrap();
    let (closed, got) = closed_within(&mut intruder, Duration::from_secs(10));
    assert!(closed, "the plaintext bus peer was not dropped");
    assert!(!got.starts_with(b"SGbu"), "a plaintext peer got a bus reply");
    assert_eq!(nodes_seen_by(&nodes[1]).len(), before);
    assert!(nodes.iter().all(|n| n.cli(&["CLUSTER", "INFO"]).contains("cluster_state:ok")));
}

/// Under `tls-cluster`, nodes that also have a plaintext port show it to plaintext clients
/// (CLUSTER SLOTS and NODES, MOVED), and their TLS port to TLS clients, as Redis 7.0 does; the
/// plaintext port travels in the bus messages. CLUSTER SHARDS lists both.
#[test]
fn tls_cluster_shows_plaintext_clients_the_plaintext_ports() {
    if !tools() {
        return;
    }
    let pki = Pki::create();
    let mut taken = HashSet::new();
    let mut nodes = Vec::new();
    while nodes.len() < 2 {
        let tls_port = cluster_port(&taken);
        taken.insert(tls_port);
        let extra = ["--cluster-enabled", "yes", "--cluster-node-timeout", "5000", "--tls-cluster", "yes"];
        if let Some(node) = TlsNode::spawn(&pki, tls_port, free_port(), &extra) {
            nodes.push(node);
        }
        assert!(taken.len() < 12, "TLS cluster nodes did not start");
    }
    let (a, b) = (&nodes[0], &nodes[1]);
    assert_eq!(a.cli(&["CLUSTER", "ADDSLOTSRANGE", "0", "8191"]), "OK");
    assert_eq!(b.cli(&["CLUSTER", "ADDSLOTSRANGE", "8192", "16383"]), "OK");
    assert_eq!(a.cli(&["CLUSTER", "MEET", "127.0.0.1", &b.tls_port.to_string()]), "OK");
    let plain_slots = || redis_cli(a.port, &["CLUSTER", "SLOTS"]).unwrap_or_default();
    let formed = wait_until(Duration::from_secs(30), || {
        nodes.iter().all(|n| n.cli(&["CLUSTER", "INFO"]).contains("cluster_state:ok"))
            && plain_slots().lines().any(|l| l == b.port.to_string())
    });
    assert!(formed, "the cluster did not form: {}", plain_slots());
    // Plaintext client: plaintext ports everywhere, the bus port unchanged.
    let slots = plain_slots();
    for n in &nodes {
        assert!(slots.lines().any(|l| l == n.port.to_string()), "{slots}");
        assert!(!slots.lines().any(|l| l == n.tls_port.to_string()), "{slots}");
    }
    let text = redis_cli(a.port, &["CLUSTER", "NODES"]).unwrap();
    for n in &nodes {
        assert!(text.contains(&format!("127.0.0.1:{}@{}", n.port, n.tls_port + 10000)), "{text}");
    }
    // A key of b's slots: MOVED to b's plaintext port, or its TLS port for a TLS client.
    let key = "{a}key";
    let slot: u16 = a.cli(&["CLUSTER", "KEYSLOT", key]).parse().unwrap();
    assert!(slot >= 8192, "pick a key of b's half");
    // (redis-cli exits non-zero on an error reply; its output is what counts here.)
    let moved = Command::new("redis-cli").args(["-p", &a.port.to_string(), "SET", key, "v"]).output().unwrap();
    assert_eq!(stdout(&moved), format!("MOVED {slot} 127.0.0.1:{}", b.port));
    assert_eq!(a.cli(&["SET", key, "v"]), format!("MOVED {slot} 127.0.0.1:{}", b.tls_port));
    // A plaintext cluster client follows it.
    assert_eq!(redis_cli(a.port, &["-c", "SET", key, "v"]).as_deref(), Some("OK"));
    assert_eq!(b.cli(&["GET", key]), "v");
    // TLS client: TLS ports.
    let slots = a.cli(&["CLUSTER", "SLOTS"]);
    for n in &nodes {
        assert!(slots.lines().any(|l| l == n.tls_port.to_string()), "{slots}");
    }
    // SHARDS: both ports, named.
    let shards = redis_cli(a.port, &["CLUSTER", "SHARDS"]).unwrap();
    let lines: Vec<&str> = shards.lines().collect();
    for n in &nodes {
        let port_at = lines.iter().position(|l| *l == n.port.to_string()).expect("port listed");
        assert_eq!(lines[port_at - 1], "port", "{shards}");
        let tls_at = lines.iter().position(|l| *l == n.tls_port.to_string()).expect("tls-port listed");
        assert_eq!(lines[tls_at - 1], "tls-port", "{shards}");
    }
}

/// `cluster-announce-tls-port` and `cluster-announce-port` under `tls-cluster`: the first is
/// the port TLS clients are shown, the second the one plaintext clients are shown.
#[test]
fn announced_ports_under_tls_cluster() {
    if !tools() {
        return;
    }
    let pki = Pki::create();
    let extra = ["--cluster-enabled", "yes", "--tls-cluster", "yes"];
    let extra: Vec<&str> =
        extra.into_iter().chain(["--cluster-announce-tls-port", "6390", "--cluster-announce-port", "6391"]).collect();
    let node = TlsNode::start(&pki, true, &extra);
    let bus = node.tls_port + 10000;
    let over_tls = node.cli(&["CLUSTER", "NODES"]);
    assert!(over_tls.contains(&format!(":6390@{bus} myself,master")), "{over_tls}");
    let plain = redis_cli(node.port, &["CLUSTER", "NODES"]).unwrap();
    assert!(plain.contains(&format!(":6391@{bus} myself,master")), "{plain}");
    assert_eq!(node.cli(&["CONFIG", "GET", "cluster-announce-tls-port"]), "cluster-announce-tls-port\n6390");
}
