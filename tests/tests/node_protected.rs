//! `protected-mode`, differential against redis-server 7.0: with it on (the default) and no
//! password for `default`, a client from another address (here 127.0.0.2, which Redis does not
//! count as local) gets Redis's `-DENIED ...` text and is closed, counted in
//! `rejected_connections`; 127.0.0.1 is served. A password, or `protected-mode no`, lets the
//! other address in.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use slotgate_tests::{require_tool, Server};

/// Connects from `source` (a loopback address) to the server, sends PING and returns all it
/// answers, and whether it closed the connection (rather than going quiet for a second).
fn ping_from(source: [u8; 4], port: u16) -> (String, bool) {
    use socket2::{Domain, Socket, Type};
    let sock = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    sock.bind(&SocketAddr::from((source, 0)).into()).expect("bind a loopback source address");
    sock.connect(&SocketAddr::from(([127, 0, 0, 1], port)).into()).expect("connect");
    let mut s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    s.write_all(b"PING\r\n").unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = loop {
        match s.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            // Our PING may reach a socket the server already closed: it answers with a reset.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
            Err(_) => break false,
        }
    };
    (String::from_utf8_lossy(&out).into_owned(), closed)
}

fn cli(port: u16, args: &[&str]) -> String {
    slotgate_tests::redis_cli(port, args).unwrap_or_default()
}

/// What a server does for the sequence, step by step.
fn run(server: &Server) -> Vec<String> {
    let p = server.port;
    let mut seen = Vec::new();
    let (reply, closed) = ping_from([127, 0, 0, 2], p);
    seen.push(format!("other host: {reply:?} closed={closed}"));
    seen.push(format!("loopback: {:?}", ping_from([127, 0, 0, 1], p)));
    let rejected =
        cli(p, &["INFO", "stats"]).lines().find(|l| l.starts_with("rejected_connections:")).map(str::to_string);
    seen.push(format!("{rejected:?}"));
    // A password for default: the other host may connect (and must authenticate).
    seen.push(cli(p, &["CONFIG", "SET", "requirepass", "s3cret"]));
    seen.push(format!("with a password: {:?}", ping_from([127, 0, 0, 2], p)));
    seen.push(cli(p, &["-a", "s3cret", "--no-auth-warning", "CONFIG", "SET", "requirepass", ""]));
    seen.push(format!("password removed: {:?}", ping_from([127, 0, 0, 2], p)));
    seen.push(cli(p, &["CONFIG", "SET", "protected-mode", "no"]));
    seen.push(format!("protected-mode no: {:?}", ping_from([127, 0, 0, 2], p)));
    seen
}

#[test]
fn protected_mode_refuses_other_hosts_like_redis() {
    if !require_tool("redis-server") || !require_tool("redis-cli") {
        return;
    }
    let redis = run(&Server::redis(&[]));
    let ours = run(&Server::node(&[]));
    assert_eq!(ours, redis, "slotgate (left) and redis-server (right) differ");
    // The sequence exercised what it should.
    assert!(
        ours[0].starts_with("other host: \"-DENIED Redis is running in protected mode")
            && ours[0].ends_with("closed=true")
    );
    assert_eq!(ours[1], "loopback: (\"+PONG\\r\\n\", false)");
    assert_eq!(ours[2], "Some(\"rejected_connections:1\")");
    assert!(ours[4].contains("NOAUTH"), "{}", ours[4]);
    assert!(ours[6].contains("-DENIED"), "{}", ours[6]);
    assert!(ours[8].contains("+PONG"), "{}", ours[8]);
}
