//! Plain TCP or TLS, for every connection the node accepts or opens. `NodeTls` holds what the
//! `tls-*` directives describe, as Redis uses it: the TLS client port checks certificates per
//! `tls-auth-clients`; the cluster bus always wants the peer's certificate; the node's own links
//! (replication, bus, MIGRATE) present `tls-client-cert-file` or else the server certificate.
//! Every handshake is bounded in time and runs in the connection's own task.

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use config::{NodeConfig, TlsAuthClients};
use tls::rustls::{ClientConfig, ClientConnection, ServerConfig, StreamOwned};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

pub mod shared_tls;
pub use shared_tls::SharedTls;

/// How long a peer may take to finish a TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// The node's TLS configurations (cheap to clone; rebuilt whole when a `tls-*` setting changes).
#[derive(Clone)]
pub struct NodeTls {
    /// For clients (and replicas) on the TLS port.
    clients: Arc<ServerConfig>,
    /// For links other nodes open to our cluster bus.
    bus: Arc<ServerConfig>,
    /// For the links we open to other nodes.
    outgoing: Arc<ClientConfig>,
}

/// An optional string directive: empty means unset.
fn set(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

fn path(s: &str) -> Option<PathBuf> {
    set(s).map(PathBuf::from)
}

impl NodeTls {
    /// Reads the certificates the directives name; `None` when TLS is used nowhere. Errors
    /// name the directive or the file at fault.
    pub fn from_config(c: &NodeConfig) -> Result<Option<NodeTls>, String> {
        if !c.tls_wanted() {
            return Ok(None);
        }
        let cert_file = path(&c.tls_cert_file).ok_or("No tls-cert-file configured!")?;
        let key_file = path(&c.tls_key_file).ok_or("No tls-key-file configured!")?;
        let (ca_cert_file, ca_cert_dir) = (path(&c.tls_ca_cert_file), path(&c.tls_ca_cert_dir));
        if ca_cert_file.is_none() && ca_cert_dir.is_none() {
            return Err("Either tls-ca-cert-file or tls-ca-cert-dir must be specified".into());
        }
        let settings = tls::Settings {
            cert_file,
            key_file,
            ca_cert_file,
            ca_cert_dir,
            auth_clients: match c.tls_auth_clients {
                TlsAuthClients::Yes => tls::AuthClients::Yes,
                TlsAuthClients::No => tls::AuthClients::No,
                TlsAuthClients::Optional => tls::AuthClients::Optional,
            },
            protocols: set(&c.tls_protocols),
            ciphersuites: set(&c.tls_ciphersuites),
        };
        let clients = tls::server_config(&settings)?;
        let bus = tls::server_config(&tls::Settings { auth_clients: tls::AuthClients::Yes, ..settings.clone() })?;
        let identity = match (path(&c.tls_client_cert_file), path(&c.tls_client_key_file)) {
            (Some(cert), Some(key)) => (cert, key),
            (None, None) => (settings.cert_file.clone(), settings.key_file.clone()),
            (Some(_), None) => return Err("tls-client-cert-file needs tls-client-key-file".into()),
            (None, Some(_)) => return Err("tls-client-key-file needs tls-client-cert-file".into()),
        };
        let outgoing = tls::peer_client_config(&settings, (&identity.0, &identity.1))?;
        Ok(Some(NodeTls { clients, bus, outgoing }))
    }

    /// Finishes the handshake of a client on the TLS port. The session is then shared with a
    /// busy script's hook, which answers the client while the script runs.
    pub async fn accept_client(&self, tcp: TcpStream) -> Result<Stream, String> {
        let (tcp, session) = handshake(TlsAcceptor::from(self.clients.clone()), tcp).await?.into_inner();
        Ok(Stream::TlsClient(SharedTls::new(tcp, session)))
    }

    /// The configuration clients on the TLS port are served with (for handshakes a busy
    /// script's hook runs itself).
    pub fn client_config(&self) -> Arc<ServerConfig> {
        self.clients.clone()
    }

    /// Finishes the handshake of a node on our cluster bus.
    pub async fn accept_peer(&self, tcp: TcpStream) -> Result<Stream, String> {
        let s = handshake(TlsAcceptor::from(self.bus.clone()), tcp).await?;
        Ok(Stream::Tls(Box::new(s.into())))
    }

    /// Starts TLS on a connection we opened to `host`.
    pub async fn connect(&self, tcp: TcpStream, host: &str) -> Result<Stream, String> {
        let name = tls::server_name(host)?;
        let handshake = TlsConnector::from(self.outgoing.clone()).connect(name, tcp);
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
            Ok(Ok(s)) => Ok(Stream::Tls(Box::new(s.into()))),
            Ok(Err(e)) => Err(format!("TLS handshake with {host}: {e}")),
            Err(_) => Err(format!("TLS handshake with {host} timed out")),
        }
    }

    /// Starts TLS on a blocking connection to `host` (MIGRATE); the socket's own timeouts
    /// bound the handshake.
    pub fn connect_blocking(&self, mut tcp: std::net::TcpStream, host: &str) -> std::io::Result<BlockingStream> {
        let name = tls::server_name(host).map_err(std::io::Error::other)?;
        let mut conn = ClientConnection::new(self.outgoing.clone(), name).map_err(std::io::Error::other)?;
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp)?;
        }
        Ok(BlockingStream::Tls(Box::new(StreamOwned::new(conn, tcp))))
    }
}

/// The server side of a handshake, bounded in time.
async fn handshake(
    acceptor: TlsAcceptor,
    tcp: TcpStream,
) -> Result<tokio_rustls::server::TlsStream<TcpStream>, String> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(format!("TLS handshake refused: {e}")),
        Err(_) => Err("TLS handshake timed out".into()),
    }
}

/// A connection: plain TCP or TLS (either side). Writes to a TLS stream may stay buffered in
/// the session until `flush`, so writers flush after each batch.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::TlsStream<TcpStream>>),
    /// A client on the TLS port.
    TlsClient(SharedTls),
}

impl Stream {
    /// The socket underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.get_ref().0,
            Stream::TlsClient(s) => &s.tcp,
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::TlsClient(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::TlsClient(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::TlsClient(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Stream::TlsClient(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// A blocking connection (MIGRATE's): plain TCP or TLS.
pub enum BlockingStream {
    Plain(std::net::TcpStream),
    Tls(Box<StreamOwned<ClientConnection, std::net::TcpStream>>),
}

impl BlockingStream {
    /// The socket underneath (for its timeouts).
    pub fn tcp(&self) -> &std::net::TcpStream {
        match self {
            BlockingStream::Plain(s) => s,
            BlockingStream::Tls(s) => s.get_ref(),
        }
    }
}

impl std::io::Read for BlockingStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            BlockingStream::Plain(s) => s.read(buf),
            BlockingStream::Tls(s) => s.read(buf),
        }
    }
}

impl std::io::Write for BlockingStream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            BlockingStream::Plain(s) => s.write(buf),
            BlockingStream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            BlockingStream::Plain(s) => s.flush(),
            BlockingStream::Tls(s) => s.flush(),
        }
    }
}
