//! The differential harness of `node_tracking.rs`: raw RESP connections that keep every frame
//! (pushes included), named connections per server, and scripted sessions run on a node and
//! a redis-server side by side.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use slotgate_tests::{require_tool, resp, Server};

/// One raw connection with a read buffer.
pub struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
    id: u64,
    /// Between MULTI and EXEC/DISCARD (no PING sentinel then: it would be queued).
    in_multi: bool,
}

/// Length of the complete RESP frame at the start of `b`, if it is all there.
pub fn frame_len(b: &[u8]) -> Option<usize> {
    let line_end = b.windows(2).position(|w| w == b"\r\n")?;
    let head = std::str::from_utf8(&b[1..line_end]).ok()?;
    let after = line_end + 2;
    match b.first()? {
        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Some(after),
        b'$' | b'=' | b'!' => {
            let n: i64 = head.parse().ok()?;
            if n < 0 {
                return Some(after);
            }
            let end = after + n as usize + 2;
            (b.len() >= end).then_some(end)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n: i64 = head.parse().ok()?;
            let n = if matches!(b[0], b'%' | b'|') { n * 2 } else { n };
            let mut at = after;
            for _ in 0..n.max(0) {
                at += frame_len(&b[at..])?;
            }
            Some(at)
        }
        _ => None,
    }
}

impl Conn {
    pub fn open(port: u16) -> Conn {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_nodelay(true).ok();
        let mut c = Conn { s, buf: Vec::new(), id: 0, in_multi: false };
        c.send(&[b"CLIENT", b"ID"]);
        let id = c.frame(Duration::from_secs(5)).expect("CLIENT ID reply");
        c.id = id.trim_start_matches(':').trim().parse().expect("client id");
        c
    }

    pub fn send(&mut self, args: &[&[u8]]) {
        self.s.write_all(&resp(args)).expect("send");
    }

    /// The next frame, waiting at most `wait`.
    pub fn frame(&mut self, wait: Duration) -> Option<String> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(n) = frame_len(&self.buf) {
                let f: Vec<u8> = self.buf.drain(..n).collect();
                return Some(String::from_utf8_lossy(&f).into_owned());
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            self.s.set_read_timeout(Some(left.max(Duration::from_millis(1)))).ok();
            let mut tmp = [0u8; 65536];
            match self.s.read(&mut tmp) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&tmp[..n]),
                Err(_) => {
                    if Instant::now() >= deadline {
                        return None;
                    }
                }
            }
        }
    }

    /// Every frame up to the reply of a PING sent now (which is left out).
    pub fn until_sentinel(&mut self) -> Vec<String> {
        self.send(&[b"PING"]);
        let mut frames = Vec::new();
        for _ in 0..1000 {
            let f = self.frame(Duration::from_secs(5)).expect("a frame before the PING reply");
            if f == "+PONG\r\n" || f == "*2\r\n$4\r\npong\r\n$0\r\n\r\n" {
                return frames;
            }
            frames.push(f);
        }
        panic!("no PING reply among 1000 frames");
    }
}

/// The connections of one server, by name.
struct Side {
    port: u16,
    conns: HashMap<String, Conn>,
}

impl Side {
    fn new(server: &Server) -> Side {
        // Client ids from 100 on, so a normalised id never looks like an ordinary small reply.
        let side = Side { port: server.port, conns: HashMap::new() };
        for _ in 0..200 {
            if Conn::open(side.port).id >= 100 {
                break;
            }
        }
        side
    }

    fn conn(&mut self, name: &str) -> &mut Conn {
        let port = self.port;
        self.conns.entry(name.to_string()).or_insert_with(|| Conn::open(port))
    }

    /// `{name}` in an argument becomes that connection's client id.
    fn expand(&mut self, word: &str) -> Vec<u8> {
        if let Some(name) = word.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
            return self.conn(name).id.to_string().into_bytes();
        }
        // `\s` and `\n` stand for a space and a line break (FUNCTION LOAD's source).
        word.replace("\\s", " ").replace("\\n", "\n").into_bytes()
    }

    /// Client ids in `frames` become `{name}`, so both servers' frames compare.
    fn normalise(&self, frames: Vec<String>) -> Vec<String> {
        let ids: Vec<(u64, &str)> = self.conns.iter().map(|(n, c)| (c.id, n.as_str())).collect();
        frames
            .into_iter()
            .map(|mut f| {
                for (id, name) in &ids {
                    f = f.replace(&format!(":{id}\r\n"), &format!(":{{{name}}}\r\n"));
                    f = f.replace(&format!("redir={id} "), &format!("redir={{{name}}} "));
                }
                f
            })
            .collect()
    }

    /// Runs one step and returns what the connection received.
    fn step(&mut self, name: &str, words: &[&str]) -> Vec<String> {
        match words {
            ["READ"] => {
                let frames = self.conn(name).until_sentinel();
                self.normalise(frames)
            }
            ["WAITPUSH", secs] => {
                let wait = Duration::from_secs_f64(secs.parse().expect("seconds"));
                let frames = self.conn(name).frame(wait).into_iter().collect();
                self.normalise(frames)
            }
            ["SEND", rest @ ..] => {
                // Sent without waiting for the reply (a blocking command).
                let args: Vec<Vec<u8>> = rest.iter().map(|w| self.expand(w)).collect();
                let argv: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
                self.conn(name).send(&argv);
                Vec::new()
            }
            ["SLEEP", secs] => {
                std::thread::sleep(Duration::from_secs_f64(secs.parse().expect("seconds")));
                Vec::new()
            }
            ["FLAGS"] => {
                // The tracking letters and redir= of CLIENT INFO.
                let c = self.conn(name);
                c.send(&[b"CLIENT", b"INFO"]);
                let line = c.frame(Duration::from_secs(5)).expect("CLIENT INFO");
                let fields: Vec<String> = line
                    .split_whitespace()
                    .filter(|f| f.starts_with("flags=") || f.starts_with("redir="))
                    .map(|f| format!("{f} "))
                    .collect();
                self.normalise(vec![fields.concat()])
            }
            ["INFO", field] => {
                let c = self.conn(name);
                c.send(&[b"INFO", b"everything"]);
                let info = c.frame(Duration::from_secs(5)).expect("INFO");
                let prefix = format!("{field}:");
                let line = info.split("\r\n").find(|l| l.starts_with(&prefix)).unwrap_or("(missing)").to_string();
                vec![line]
            }
            _ => {
                let args: Vec<Vec<u8>> = words.iter().map(|w| self.expand(w)).collect();
                let argv: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
                let c = self.conn(name);
                c.send(&argv);
                let cmd = words[0].to_ascii_lowercase();
                // The reply first: by then whatever the command caused (its own invalidations,
                // the broadcasts of its batch) is on the way, ahead of the sentinel's reply.
                let first = c.frame(Duration::from_secs(5)).expect("reply");
                let frames =
                    if (c.in_multi && !matches!(cmd.as_str(), "exec" | "discard")) || cmd == "multi" || cmd == "quit" {
                        // Queued (or closing): exactly one reply, nothing else is expected now.
                        vec![first]
                    } else {
                        let mut frames = vec![first];
                        frames.extend(c.until_sentinel());
                        frames
                    };
                match cmd.as_str() {
                    "multi" => c.in_multi = true,
                    "exec" | "discard" => c.in_multi = false,
                    _ => {}
                }
                self.normalise(frames)
            }
        }
    }
}

/// Runs `script` on a fresh node and a fresh redis-server started with `args`. Each line is
/// `conn COMMAND args...` (`{name}` stands for a connection's id), `conn READ` (what arrived),
/// `conn WAITPUSH secs` (the next frame, waiting), `conn SEND command...` (no reply
/// awaited), `conn FLAGS`, `conn INFO field`,
/// `conn SLEEP secs`. A line starting with `!` runs without comparing; one starting with `=`
/// must not get an error reply.
pub fn differential(script: &str, args: &[&str]) {
    if !require_tool("redis-server") {
        return;
    }
    let node = Server::node(args);
    let redis = Server::redis(args);
    let (mut n, mut r) = (Side::new(&node), Side::new(&redis));
    for (no, raw) in script.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (compare, line) = match line.strip_prefix('!') {
            Some(rest) => (false, rest.trim()),
            None => (true, line),
        };
        // `=` first: the reply must not be an error (so a setup step cannot fail on both alike).
        let (no_error, line) = match line.strip_prefix('=') {
            Some(rest) => (true, rest.trim()),
            None => (false, line),
        };
        let words: Vec<&str> = line.split_whitespace().collect();
        let (name, rest) = (words[0], &words[1..]);
        let got = n.step(name, rest);
        let want = r.step(name, rest);
        if no_error
            && (got.first().is_none_or(|f| f.starts_with('-')) || want.first().is_none_or(|f| f.starts_with('-')))
        {
            panic!("line {}: {line}\n    node:  {got:?}\n    redis: {want:?}", no + 1);
        }
        if compare && got != want {
            panic!("line {}: {line}\n    node:  {got:?}\n    redis: {want:?}", no + 1);
        }
    }
}
