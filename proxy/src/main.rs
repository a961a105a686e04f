//! slotgate-proxy: a legacy (non-cluster) client connects here and sees one big Redis; the
//! proxy routes each request to the cluster node that owns its keys (see `session`).

mod acl;
mod admin;
mod backend;
mod blocking;
mod config;
mod crossslot;
mod emulation;
mod exec;
mod local;
mod merge;
mod metrics;
mod outbox;
mod pinned;
mod plan;
mod pubsub;
mod security;
mod session;
mod state;
mod status;
mod tick;
mod topology;
mod wait;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use tokio::net::TcpListener;

use backend::{BackendOpts, Pools};
use config::{Flags, ProxyConfig};
use session::Proxy;
use topology::Topology;

fn main() {
    let cfg = match ProxyConfig::load(Flags::parse()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("slotgate-proxy: bad configuration: {e}");
            std::process::exit(1);
        }
    };
    tracing_subscriber::fmt().with_max_level(cfg.log_level).with_target(false).with_writer(std::io::stderr).init();
    let mut builder = if cfg.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(cfg.threads);
        b
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("slotgate-proxy: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    std::process::exit(runtime.block_on(run(cfg)));
}

async fn run(cfg: ProxyConfig) -> i32 {
    let security = match security::Security::load(cfg.aclfile.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("aclfile: {e}");
            eprintln!("slotgate-proxy: bad configuration: aclfile: {e}");
            return 1;
        }
    };
    let tls_port = match &cfg.tls {
        Some((listen, settings)) => match tls::Reloadable::new(settings.clone()) {
            Ok(t) => Some((*listen, Arc::new(t))),
            Err(e) => {
                tracing::error!("TLS: {e}");
                eprintln!("slotgate-proxy: bad configuration: {e}");
                return 1;
            }
        },
        None => None,
    };
    let pools = Pools::new(BackendOpts {
        connect_timeout: cfg.connect_timeout,
        user: cfg.backend_user.clone(),
        password: cfg.backend_password.clone(),
        per_node: cfg.connections_per_node,
        readonly: cfg.read_policy == config::ReadPolicy::PreferReplica,
        tls: cfg.backend_tls.clone(),
    });
    let topo = Topology::new(cfg.seeds.clone(), pools.clone());
    if let Err(e) = topo.refresh().await {
        // Start anyway: the cluster may come up later, and every request retries discovery.
        tracing::warn!("topology not available yet: {e}");
    }
    tokio::spawn(topo.clone().refresh_periodically(cfg.refresh_interval));
    let listener = match TcpListener::bind(cfg.listen).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("cannot listen on {}: {e}", cfg.listen);
            return 1;
        }
    };
    println!("slotgate-proxy listening on {} in front of {} master(s)", cfg.listen, topo.snapshot().masters.len());
    tracing::info!(
        listen = %cfg.listen,
        masters = topo.snapshot().masters.len(),
        read_policy = ?cfg.read_policy,
        cluster_emulation = cfg.cluster_emulation,
        "slotgate-proxy started"
    );
    let proxy = Arc::new(Proxy {
        cfg,
        pools,
        topo,
        next_id: AtomicU64::new(1),
        clients: AtomicU64::new(0),
        unauthenticated: AtomicU64::new(0),
        commands: AtomicU64::new(0),
        redirects: AtomicU64::new(0),
        write_ack_failures: AtomicU64::new(0),
        retries: AtomicU64::new(0),
        backend_errors: AtomicU64::new(0),
        started: Instant::now(),
        metrics: metrics::Metrics::default(),
        security,
        status: Default::default(),
    });
    if let Some(admin) = proxy.cfg.admin_listen {
        match TcpListener::bind(admin).await {
            Ok(l) => {
                tokio::spawn(admin::serve(proxy.clone(), l));
                // The status page's model is kept only for someone to look at it.
                tokio::spawn(status::run(proxy.clone()));
            }
            Err(e) => {
                tracing::error!("cannot listen on admin address {admin}: {e}");
                return 1;
            }
        }
    }
    let tls_reload = match tls_port {
        Some((listen, tls)) => match TcpListener::bind(listen).await {
            Ok(l) => {
                tracing::info!(listen = %listen, "TLS port open");
                tokio::spawn(accept_tls(proxy.clone(), l, tls.clone()));
                Some(tls)
            }
            Err(e) => {
                tracing::error!("cannot listen on TLS address {listen}: {e}");
                return 1;
            }
        },
        None => None,
    };
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    loop {
        tokio::select! {
            _ = async { match hangup.as_mut() { Some(h) => { h.recv().await; } None => std::future::pending().await } } => {
                // SIGHUP reloads the ACL file; a bad one keeps the current users.
                match proxy.security.reload() {
                    Ok(()) => tracing::info!("ACL file reloaded"),
                    Err(e) => tracing::warn!("ACL file not reloaded, keeping the current users: {e}"),
                }
                // New handshakes use the new certificate; established connections keep theirs.
                if let Some(tls) = &tls_reload {
                    match tls.reload() {
                        Ok(()) => tracing::info!("TLS certificate reloaded"),
                        Err(e) => tracing::warn!("TLS certificate not reloaded, keeping the current one: {e}"),
                    }
                }
            }
            (stream, peer) = accept_next(&listener) => {
                let _ = stream.set_nodelay(true);
                let local = stream.local_addr().ok();
                tokio::spawn(session::serve(proxy.clone(), stream, local, Some(peer), None));
            }
            _ = tokio::signal::ctrl_c() => return 0,
        }
    }
}

/// The next connection; on errors (out of file descriptors and similar) it backs off instead
/// of spinning.
async fn accept_next(listener: &TcpListener) -> (tokio::net::TcpStream, std::net::SocketAddr) {
    loop {
        match listener.accept().await {
            Ok(x) => return x,
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
        }
    }
}

/// How long a TLS client may take to finish its handshake.
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Accepts TLS clients; each handshake runs in the connection's own task, bounded in time, so
/// a slow or plaintext client never holds up the others.
async fn accept_tls(proxy: Arc<Proxy>, listener: TcpListener, tls: Arc<tls::Reloadable>) {
    loop {
        let (stream, peer) = accept_next(&listener).await;
        let _ = stream.set_nodelay(true);
        let local = stream.local_addr().ok();
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.config());
        let proxy = proxy.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls_stream)) => {
                    let cert_user = if proxy.cfg.tls_cert_user {
                        tls_stream
                            .get_ref()
                            .1
                            .peer_certificates()
                            .and_then(|c| c.first())
                            .and_then(|c| tls::subject_common_name(c))
                    } else {
                        None
                    };
                    session::serve(proxy, tls_stream, local, Some(peer), cert_user).await
                }
                Ok(Err(e)) => tracing::warn!(%peer, "TLS handshake refused: {e}"),
                Err(_) => tracing::warn!(%peer, "TLS handshake timed out"),
            }
        });
    }
}
