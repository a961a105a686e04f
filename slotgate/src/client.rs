//! A blocking connection to one node, as redis-cli makes it: RESP2 over TCP or TLS, AUTH with
//! `--user/--pass`, and a timeout on every read and write so a silent node cannot hang the tool.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use protocol::Frame;

/// How to reach and authenticate to every node of a cluster.
#[derive(Clone)]
pub struct ConnOpts {
    pub user: Option<String>,
    pub pass: Option<String>,
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub timeout: Duration,
}

impl Default for ConnOpts {
    fn default() -> Self {
        ConnOpts { user: None, pass: None, tls: None, timeout: Duration::from_secs(5) }
    }
}

/// Why a call failed: the node could not be reached or spoke no RESP (`Io`), or it answered
/// with an error reply (`Reply`, its text as sent).
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    Io(String),
    Reply(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Io(e) | Error::Reply(e) => f.write_str(e),
        }
    }
}

trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// One connection and its read buffer.
pub struct Conn {
    pub addr: String,
    stream: Box<dyn Stream>,
    buf: BytesMut,
}

impl Conn {
    /// Connects to `addr` (`host:port`) and authenticates if a password is set.
    pub fn open(addr: &str, opts: &ConnOpts) -> Result<Conn, Error> {
        let io = |e: std::io::Error| Error::Io(format!("{addr}: {e}"));
        let sock =
            addr.to_socket_addrs().map_err(io)?.next().ok_or_else(|| Error::Io(format!("{addr}: no address")))?;
        let tcp = TcpStream::connect_timeout(&sock, opts.timeout).map_err(io)?;
        tcp.set_read_timeout(Some(opts.timeout)).map_err(io)?;
        tcp.set_write_timeout(Some(opts.timeout)).map_err(io)?;
        tcp.set_nodelay(true).map_err(io)?;
        let stream: Box<dyn Stream> = match &opts.tls {
            None => Box::new(tcp),
            Some(config) => {
                let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h).trim_matches(['[', ']']);
                let name = tls::server_name(host).map_err(|e| Error::Io(format!("{addr}: {e}")))?;
                let session = rustls::ClientConnection::new(config.clone(), name)
                    .map_err(|e| Error::Io(format!("{addr}: {e}")))?;
                Box::new(rustls::StreamOwned::new(session, tcp))
            }
        };
        let mut conn = Conn { addr: addr.to_string(), stream, buf: BytesMut::new() };
        if let Some(pass) = &opts.pass {
            let reply = match &opts.user {
                Some(user) => conn.call(&["AUTH", user, pass]),
                None => conn.call(&["AUTH", pass]),
            };
            reply.map_err(|e| Error::Io(format!("{addr}: AUTH failed: {e}")))?;
        }
        Ok(conn)
    }

    /// Sends one command and reads its reply; an error reply is `Err(Error::Reply)`.
    pub fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Frame, Error> {
        self.send(args)?;
        match self.read_frame()? {
            Frame::Error(e) => Err(Error::Reply(String::from_utf8_lossy(&e).into_owned())),
            f => Ok(f),
        }
    }

    /// A call whose reply is text (a bulk or simple string), as CLUSTER NODES and INFO reply.
    pub fn call_text<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<String, Error> {
        match self.call(args)? {
            Frame::Bulk(b) | Frame::Simple(b) | Frame::Verbatim(_, b) => Ok(String::from_utf8_lossy(&b).into_owned()),
            other => Err(self.unexpected(&other)),
        }
    }

    /// A call whose reply is an integer.
    pub fn call_int<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<i64, Error> {
        match self.call(args)? {
            Frame::Integer(n) => Ok(n),
            other => Err(self.unexpected(&other)),
        }
    }

    /// Writes a command without reading its reply (pipelining; SYNC).
    pub fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<(), Error> {
        let mut out = BytesMut::new();
        protocol::encode::write_command(&mut out, args);
        self.stream.write_all(&out).and_then(|_| self.stream.flush()).map_err(|e| self.io(e))
    }

    /// Reads the next reply frame, error replies included.
    pub fn read_frame(&mut self) -> Result<Frame, Error> {
        loop {
            match Frame::parse(&self.buf) {
                Ok(Some((frame, used))) => {
                    let _ = self.buf.split_to(used);
                    return Ok(frame);
                }
                Ok(None) => self.fill()?,
                Err(e) => return Err(Error::Io(format!("{}: not a RESP reply ({e:?})", self.addr))),
            }
        }
    }

    /// Reads one `\r\n`-terminated line (without it), as SYNC's preamble comes.
    pub fn read_line(&mut self, max: usize) -> Result<Vec<u8>, Error> {
        loop {
            if let Some(at) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = self.buf.split_to(at + 2);
                return Ok(line[..at].to_vec());
            }
            if self.buf.len() > max {
                return Err(Error::Io(format!("{}: line longer than {max} bytes", self.addr)));
            }
            self.fill()?;
        }
    }

    /// Reads exactly `n` bytes into `out`, calling `progress` with the bytes read so far.
    pub fn read_exact_into(
        &mut self,
        n: usize,
        out: &mut impl Write,
        mut progress: impl FnMut(usize),
    ) -> Result<(), Error> {
        let mut done = 0;
        while done < n {
            if self.buf.is_empty() {
                self.fill()?;
            }
            let take = self.buf.len().min(n - done);
            let chunk = self.buf.split_to(take);
            out.write_all(&chunk).map_err(|e| Error::Io(format!("writing {}'s data: {e}", self.addr)))?;
            done += take;
            progress(done);
        }
        Ok(())
    }

    /// Reads whatever arrives next (at least one byte) into the buffer; for streams without a
    /// length up front (SYNC's EOF-marked payload).
    pub fn read_some(&mut self) -> Result<Vec<u8>, Error> {
        if self.buf.is_empty() {
            self.fill()?;
        }
        Ok(self.buf.split().to_vec())
    }

    fn fill(&mut self) -> Result<(), Error> {
        let mut chunk = [0u8; 64 * 1024];
        let n = self.stream.read(&mut chunk).map_err(|e| self.io(e))?;
        if n == 0 {
            return Err(Error::Io(format!("{}: connection closed", self.addr)));
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    fn io(&self, e: std::io::Error) -> Error {
        Error::Io(format!("{}: {e}", self.addr))
    }

    fn unexpected(&self, f: &Frame) -> Error {
        Error::Io(format!("{}: unexpected reply {f:?}", self.addr))
    }
}

/// Text of a bulk or simple string frame.
pub fn text(f: &Frame) -> Option<String> {
    match f {
        Frame::Bulk(b) | Frame::Simple(b) | Frame::Verbatim(_, b) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    }
}
