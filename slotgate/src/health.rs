//! `slotgate health`: every node's CLUSTER NODES, CLUSTER INFO and INFO replication, and every
//! problem found in them (the checks of `redis-cli --cluster check`, and more). Gathering talks
//! to the nodes; `assess` is a pure function of what they said.

use std::time::Duration;

use clap::Args;
pub use clusterview::health::*;

use crate::client::{Conn, ConnOpts};
use crate::output::{paint, Table, Tone};
use crate::topology::{self, parse_info, NodeLine};
use crate::{Common, Status};

#[derive(Args)]
pub struct HealthArgs {
    #[command(flatten)]
    pub common: Common,
    /// A replica further behind its master than this many bytes of replication stream is a problem.
    #[arg(long, default_value_t = 1 << 20, value_name = "BYTES")]
    pub max_lag: u64,
    /// Refresh the report every SECONDS until interrupted (or --count reports).
    #[arg(long, value_name = "SECONDS")]
    pub watch: Option<f64>,
    /// With --watch, stop after this many reports.
    #[arg(long)]
    pub count: Option<u64>,
}

/// Asks the seed for the node list, then every node for its own view.
pub fn gather(seeds: &[String], opts: &ConnOpts) -> Result<(Vec<NodeLine>, Observations), String> {
    let mut known = topology::discover(seeds, opts)?;
    let mut observations = Vec::new();
    let mut i = 0;
    // Nodes another node knows and the seed does not are added as they are found.
    while i < known.len() {
        let obs = observe(&known[i].addr, opts);
        if let Ok(o) = &obs {
            for n in &o.view.nodes {
                if !known.iter().any(|k| k.id == n.id) {
                    known.push(n.clone());
                }
            }
        }
        observations.push(obs);
        i += 1;
    }
    Ok((known, observations))
}

fn observe(addr: &str, opts: &ConnOpts) -> Result<Observation, String> {
    let view = topology::view_of(addr, opts).map_err(|e| e.to_string())?;
    let mut c = Conn::open(addr, opts).map_err(|e| e.to_string())?;
    let info = parse_info(&c.call_text(&["INFO"]).map_err(|e| e.to_string())?);
    Ok(Observation { view, info })
}

/// The report as tables.
pub fn render(r: &Report) -> String {
    let tone = match r.status {
        Status::Ok => Tone::Good,
        Status::Degraded => Tone::Warn,
        Status::Failed => Tone::Bad,
    };
    let mut out = format!(
        "cluster: {}  nodes {}/{} healthy  masters {}  replicas {}  slots {} assigned, {} unassigned\n\n",
        paint(&format!("{:?}", r.status).to_lowercase(), tone),
        r.nodes_healthy,
        r.nodes_total,
        r.masters,
        r.replicas,
        r.slots_assigned,
        r.slots_unassigned
    );
    let mut t = Table::new(&["node", "id", "role", "health", "slots", "epoch", "offset", "lag"]);
    for n in &r.nodes {
        let h = if n.health == "ok" { Tone::Good } else { Tone::Bad };
        let opt = |v: Option<i64>| v.map_or("-".to_string(), |v| v.to_string());
        t.row(vec![
            (n.addr.clone(), Tone::Plain),
            (n.id.chars().take(8).collect(), Tone::Plain),
            (n.role.clone(), Tone::Plain),
            (n.health.clone(), h),
            (if n.slots.is_empty() { "-".into() } else { format!("{} ({})", n.slots, n.slot_count) }, Tone::Plain),
            (n.config_epoch.to_string(), Tone::Plain),
            (opt(n.repl_offset), Tone::Plain),
            (opt(n.lag), Tone::Plain),
        ]);
    }
    out.push_str(&t.render());
    out.push('\n');
    if r.problems.is_empty() {
        out.push_str(&paint("no problems found\n", Tone::Good));
    } else {
        out.push_str(&format!("{} problems:\n", r.problems.len()));
        for p in &r.problems {
            let tone = if p.severity == Severity::Failed { Tone::Bad } else { Tone::Warn };
            let node = p.node.as_deref().map(|n| format!("{n}: ")).unwrap_or_default();
            out.push_str(&format!(
                "  {} {node}{}\n",
                paint(&format!("[{:?}]", p.severity).to_lowercase(), tone),
                p.text
            ));
        }
    }
    for n in &r.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out
}

/// One report of the cluster the seeds lead to.
pub fn report(common: &Common, max_lag: u64) -> Result<Report, String> {
    let opts = common.conn_opts()?;
    let (known, obs) = gather(&common.seeds, &opts)?;
    Ok(assess(&known, &obs, max_lag))
}

pub fn run(a: &HealthArgs) -> Result<Status, String> {
    let mut shown = 0u64;
    loop {
        let r = report(&a.common, a.max_lag)?;
        if a.common.json {
            println!("{}", serde_json::to_string_pretty(&r).map_err(|e| e.to_string())?);
        } else {
            if a.watch.is_some() && std::io::IsTerminal::is_terminal(&std::io::stdout()) {
                print!("\x1b[2J\x1b[H");
            }
            print!("{}", render(&r));
        }
        shown += 1;
        let Some(every) = a.watch else { return Ok(r.status) };
        if a.count.is_some_and(|c| shown >= c) {
            return Ok(r.status);
        }
        std::thread::sleep(Duration::from_secs_f64(every.clamp(0.1, 3600.0)));
        if !a.common.json {
            println!();
        }
    }
}
