//! `slotgate`, the operator's command for a Redis Cluster (slotgate-node, Redis or Valkey 7):
//! health, metrics, backup and restore, scaling. Each subcommand takes any node (`-s`) and
//! discovers the rest; exit status 0 when all is well, 1 when degraded, 2 when failed.

mod backup;
mod client;
mod health;
mod metrics;
mod output;
mod scale;
mod topology;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use client::ConnOpts;

#[derive(Parser)]
#[command(name = "slotgate", version, about = "Operate a Redis Cluster: health, metrics, backup, restore, scaling")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Every node's view of the cluster and every problem found in it.
    Health(health::HealthArgs),
    /// INFO of every master (every node with --all), summed and per node.
    Metrics(metrics::MetricsArgs),
    /// Back up every master's data (RDB files and a manifest), list, verify and restore backups.
    Backup(backup::BackupArgs),
    /// PING every seed: exit 0 when each answers PONG (a container's HEALTHCHECK).
    Ping(PingArgs),
    /// Form a cluster from empty nodes (masters first, then replicas), as redis-cli --cluster create.
    Create(scale::create::CreateArgs),
    /// Add or remove nodes (`scale add HOST:PORT...`, `scale remove NODE`).
    Scale(scale::membership::ScaleArgs),
    /// Move slots so every master holds its weighted share.
    Rebalance(scale::rebalance::RebalanceArgs),
    /// Finish half-moved slots and assign unassigned ones.
    Fix(scale::fix::FixArgs),
    /// Add or remove masters as a policy file says, from the masters' memory and clients.
    Autoscale(scale::autoscale::AutoscaleArgs),
}

/// Options every subcommand takes: where the cluster is and how to log in, as redis-cli has them.
#[derive(Args, Clone)]
pub struct Common {
    /// A node of the cluster, `host:port` (repeatable; the first that answers is used).
    #[arg(short = 's', long = "seed", value_name = "HOST:PORT", default_value = "127.0.0.1:6379")]
    pub seeds: Vec<String>,
    /// ACL user name (AUTH user pass).
    #[arg(long)]
    pub user: Option<String>,
    /// Password (AUTH [user] pass); REDISCLI_AUTH is read when this is not given.
    #[arg(long = "pass", short = 'a')]
    pub pass: Option<String>,
    /// Connect with TLS.
    #[arg(long)]
    pub tls: bool,
    /// CA certificate file to verify the nodes with.
    #[arg(long = "cacert", value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Client certificate to present.
    #[arg(long = "cert", value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// Private key of --cert.
    #[arg(long = "key", value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Seconds to wait for a node to connect or answer.
    #[arg(long, default_value_t = 5.0)]
    pub timeout: f64,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

impl Common {
    /// Connection options, or why they cannot be made (a missing certificate file, ...).
    pub fn conn_opts(&self) -> Result<ConnOpts, String> {
        let tls = if self.tls || self.cacert.is_some() {
            let ca = self.cacert.as_deref().ok_or("--tls needs --cacert FILE")?;
            let identity = match (&self.cert, &self.key) {
                (Some(c), Some(k)) => Some((c.as_path(), k.as_path())),
                (None, None) => None,
                _ => return Err("--cert and --key go together".into()),
            };
            Some(tls::client_config(ca, identity)?)
        } else {
            None
        };
        if !(self.timeout > 0.0 && self.timeout < 3600.0) {
            return Err("--timeout must be between 0 and 3600 seconds".into());
        }
        Ok(ConnOpts {
            user: self.user.clone(),
            pass: self.pass.clone().or_else(|| std::env::var("REDISCLI_AUTH").ok()),
            tls,
            timeout: Duration::from_secs_f64(self.timeout),
        })
    }
}

/// The outcome of a subcommand, as its exit status says it.
pub use clusterview::Status;

#[derive(Args)]
struct PingArgs {
    #[command(flatten)]
    common: Common,
    /// Also require CLUSTER INFO's cluster_state:ok (a Kubernetes readiness probe).
    #[arg(long)]
    cluster_ok: bool,
}

/// Each seed must answer PONG; the first that does not fails the check.
fn ping(a: &PingArgs) -> Result<Status, String> {
    let opts = a.common.conn_opts()?;
    for seed in &a.common.seeds {
        let mut c = client::Conn::open(seed, &opts).map_err(|e| e.to_string())?;
        let reply = c.call_text(&["PING"]).map_err(|e| format!("{seed}: {e}"))?;
        if reply != "PONG" {
            return Err(format!("{seed}: PING answered {reply:?}"));
        }
        if a.cluster_ok {
            let info = c.call_text(&["CLUSTER", "INFO"]).map_err(|e| format!("{seed}: {e}"))?;
            if !info.lines().any(|l| l.trim_end() == "cluster_state:ok") {
                return Err(format!("{seed}: cluster_state is not ok"));
            }
        }
        println!("{seed}: PONG");
    }
    Ok(Status::Ok)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match &cli.command {
        Command::Health(a) => health::run(a),
        Command::Ping(a) => ping(a),
        Command::Create(a) => scale::create::run(a),
        Command::Metrics(a) => metrics::run(a),
        Command::Backup(a) => backup::run(a),
        Command::Scale(a) => scale::membership::run(a),
        Command::Rebalance(a) => scale::rebalance::run(a),
        Command::Fix(a) => scale::fix::run(a),
        Command::Autoscale(a) => scale::autoscale::run(a),
    };
    match outcome {
        Ok(status) => ExitCode::from(status as u8),
        Err(e) => {
            eprintln!("slotgate: {e}");
            ExitCode::from(Status::Failed as u8)
        }
    }
}
