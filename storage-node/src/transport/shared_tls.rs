//! A TLS client connection whose session a busy script can reach too. The node's thread runs
//! a slow script to its end, so the Lua hook answers other clients itself (`scripting::busy`);
//! for a TLS client that means decrypting its requests and encrypting `-BUSY` with the same
//! session the connection's task uses. The session therefore sits behind an `Rc<RefCell>` that
//! the stream borrows only within a poll, never across an await, and the hook borrows only
//! while it runs (between polls, on the same thread).

use std::cell::RefCell;
use std::io::{ErrorKind, Read, Write};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{ready, Context, Poll};

use tls::rustls::ServerConnection;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// The session of one TLS client, shared with the busy-script hook.
pub type Session = Rc<RefCell<ServerConnection>>;

pub struct SharedTls {
    pub tcp: TcpStream,
    pub session: Session,
    close_sent: bool,
}

impl SharedTls {
    pub fn new(tcp: TcpStream, session: ServerConnection) -> SharedTls {
        SharedTls { tcp, session: Rc::new(RefCell::new(session)), close_sent: false }
    }
}

/// Non-blocking reads and writes on the tokio socket, for rustls's `read_tls`/`write_tls`
/// (a `WouldBlock` also clears tokio's readiness, so the next poll registers the waker).
struct Nonblocking<'a>(&'a TcpStream);

impl Read for Nonblocking<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.try_read(buf)
    }
}

impl Write for Nonblocking<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.try_write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes out what the session has queued; `Ok(false)` when the socket is full.
pub fn write_queued(session: &mut ServerConnection, socket: &mut impl Write) -> std::io::Result<bool> {
    while session.wants_write() {
        match session.write_tls(socket) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Reads what arrived on the socket into the session and decrypts it: `None` when nothing was
/// there, `Some(0)` at the end of the stream. A TLS error is answered with its alert before
/// it is returned.
pub fn read_arrived(
    session: &mut ServerConnection,
    socket: &mut impl Read,
    alert_to: &mut impl Write,
) -> std::io::Result<Option<usize>> {
    match session.read_tls(socket) {
        Ok(n) => {
            if let Err(e) = session.process_new_packets() {
                let _ = write_queued(session, alert_to);
                return Err(std::io::Error::new(ErrorKind::InvalidData, e));
            }
            Ok(Some(n))
        }
        Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(e),
    }
}

impl AsyncRead for SharedTls {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        loop {
            {
                let mut session = this.session.borrow_mut();
                // Plaintext already decrypted (Ok(0) is the peer's close_notify).
                match session.reader().read(buf.initialize_unfilled()) {
                    Ok(n) => {
                        buf.advance(n);
                        return Poll::Ready(Ok(()));
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(e) => return Poll::Ready(Err(e)),
                }
                // Records the session owes the peer (a ticket, a key update) go out on the way.
                write_queued(&mut session, &mut Nonblocking(&this.tcp))?;
                let tcp = &this.tcp;
                // After the end of the stream the reader answers (Ok(0) or UnexpectedEof).
                if read_arrived(&mut session, &mut Nonblocking(tcp), &mut Nonblocking(tcp))?.is_some() {
                    continue;
                }
            }
            ready!(this.tcp.poll_read_ready(cx))?;
        }
    }
}

impl AsyncWrite for SharedTls {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        loop {
            {
                let mut session = this.session.borrow_mut();
                write_queued(&mut session, &mut Nonblocking(&this.tcp))?;
                // The session takes what fits its send buffer (none when the buffer is full).
                let n = session.writer().write(buf)?;
                if n > 0 || buf.is_empty() {
                    write_queued(&mut session, &mut Nonblocking(&this.tcp))?;
                    return Poll::Ready(Ok(n));
                }
            }
            ready!(this.tcp.poll_write_ready(cx))?;
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        loop {
            if write_queued(&mut this.session.borrow_mut(), &mut Nonblocking(&this.tcp))? {
                return Poll::Ready(Ok(()));
            }
            ready!(this.tcp.poll_write_ready(cx))?;
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if !self.close_sent {
            self.session.borrow_mut().send_close_notify();
            self.close_sent = true;
        }
        ready!(self.as_mut().poll_flush(cx))?;
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}
