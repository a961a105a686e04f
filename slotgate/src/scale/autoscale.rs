//! `slotgate autoscale --policy policy.toml`: decides from the masters' figures whether to add
//! masters, remove some, or do nothing, says why, and (without `--dry-run`) does it: new nodes
//! come from the policy's `provision` command and join with `scale add` (and a rebalance);
//! removed masters are those holding the fewest slots (seeds last), emptied with `scale remove`, then
//! handed to the `deprovision` command. `decide` is pure.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use clap::Args;
use serde::{Deserialize, Serialize};

use super::membership;
use super::rebalance::{self, Params};
use super::{Outcome, Pool, Snapshot};
use crate::metrics::{self, NodeMetrics};
use crate::{Common, Status};

#[derive(Args)]
pub struct AutoscaleArgs {
    #[command(flatten)]
    pub common: Common,
    /// The policy file (TOML).
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// Print the decision, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Seconds between the two INFO samples.
    #[arg(long, default_value_t = 1.0)]
    pub interval: f64,
}

/// Averages over masters that trigger a change.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Average used_memory as a percentage of maxmemory (masters with a maxmemory).
    pub memory_pct: Option<f64>,
    /// Average connected_clients per master.
    pub clients_per_master: Option<f64>,
}

/// The policy file.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub min_masters: usize,
    pub max_masters: usize,
    /// Masters added or removed at a time.
    #[serde(default = "one")]
    pub step: usize,
    /// Scale up when any of these is exceeded.
    #[serde(default)]
    pub scale_up: Thresholds,
    /// Scale down when every one of these is undercut.
    #[serde(default)]
    pub scale_down: Thresholds,
    /// `sh -c` command that starts nodes and prints their `host:port`, one per line.
    pub provision: String,
    /// `sh -c` command that gets a removed node's `host:port` as its argument.
    pub deprovision: Option<String>,
    /// Seconds either command may run before it is killed.
    #[serde(default = "five_minutes")]
    pub command_timeout: u64,
}

fn one() -> usize {
    1
}

fn five_minutes() -> u64 {
    300
}

impl Policy {
    pub fn parse(text: &str) -> Result<Policy, String> {
        let p: Policy = toml::from_str(text).map_err(|e| e.to_string())?;
        if p.min_masters == 0 || p.max_masters < p.min_masters || p.step == 0 {
            return Err("need 1 <= min_masters <= max_masters and step >= 1".into());
        }
        let below = |down: Option<f64>, up: Option<f64>| match (down, up) {
            (Some(d), Some(u)) => d < u,
            _ => true,
        };
        if !below(p.scale_down.memory_pct, p.scale_up.memory_pct)
            || !below(p.scale_down.clients_per_master, p.scale_up.clients_per_master)
        {
            return Err("scale_down thresholds must be below the scale_up ones".into());
        }
        Ok(p)
    }
}

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Up,
    Down,
    None,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub action: Action,
    /// Masters to add or remove.
    pub count: usize,
    pub reason: String,
    pub masters: usize,
    pub avg_memory_pct: Option<f64>,
    pub avg_clients: f64,
}

/// The decision from the masters' figures.
pub fn decide(policy: &Policy, nodes: &[NodeMetrics]) -> Decision {
    let masters: Vec<&NodeMetrics> = nodes.iter().filter(|m| m.role == "master").collect();
    let n = masters.len();
    let pcts: Vec<f64> = masters.iter().filter_map(|m| m.memory_pct).collect();
    let avg_memory_pct = (!pcts.is_empty()).then(|| pcts.iter().sum::<f64>() / pcts.len() as f64);
    let avg_clients = masters.iter().map(|m| m.connected_clients as f64).sum::<f64>() / n.max(1) as f64;
    let mut d =
        Decision { action: Action::None, count: 0, reason: String::new(), masters: n, avg_memory_pct, avg_clients };
    let failing: Vec<&str> = masters.iter().filter(|m| m.error.is_some()).map(|m| m.addr.as_str()).collect();
    if !failing.is_empty() || n == 0 {
        d.reason = format!("no decision: master(s) not answering: {}", failing.join(", "));
        return d;
    }
    let mem = |v: f64| format!("average memory {v:.1}% of maxmemory");
    if n < policy.min_masters {
        return Decision {
            action: Action::Up,
            count: policy.min_masters - n,
            reason: format!("{n} masters, below min_masters {}", policy.min_masters),
            ..d
        };
    }
    if n > policy.max_masters {
        return Decision {
            action: Action::Down,
            count: n - policy.max_masters,
            reason: format!("{n} masters, above max_masters {}", policy.max_masters),
            ..d
        };
    }
    let mut up = Vec::new();
    if let (Some(v), Some(t)) = (avg_memory_pct, policy.scale_up.memory_pct) {
        if v > t {
            up.push(format!("{} > {t}%", mem(v)));
        }
    }
    if let Some(t) = policy.scale_up.clients_per_master {
        if avg_clients > t {
            up.push(format!("average {avg_clients:.1} clients per master > {t}"));
        }
    }
    if !up.is_empty() {
        if n >= policy.max_masters {
            d.reason = format!("would scale up ({}) but already at max_masters {}", up.join(", "), policy.max_masters);
            return d;
        }
        let count = policy.step.min(policy.max_masters - n);
        return Decision { action: Action::Up, count, reason: up.join(", "), ..d };
    }
    // Down only when every configured lower threshold is undercut, and at least one is set.
    let mut down = Vec::new();
    let mut all_below = policy.scale_down.memory_pct.is_some() || policy.scale_down.clients_per_master.is_some();
    if let Some(t) = policy.scale_down.memory_pct {
        match avg_memory_pct {
            Some(v) if v < t => down.push(format!("{} < {t}%", mem(v))),
            _ => all_below = false,
        }
    }
    if let Some(t) = policy.scale_down.clients_per_master {
        if avg_clients < t {
            down.push(format!("average {avg_clients:.1} clients per master < {t}"));
        } else {
            all_below = false;
        }
    }
    if all_below {
        if n <= policy.min_masters {
            d.reason =
                format!("would scale down ({}) but already at min_masters {}", down.join(", "), policy.min_masters);
            return d;
        }
        let count = policy.step.min(n - policy.min_masters);
        // The remaining masters take the load: it must not cross a scale-up threshold.
        let factor = n as f64 / (n - count) as f64;
        let mem_after = avg_memory_pct.map(|v| v * factor);
        let crosses = matches!((mem_after, policy.scale_up.memory_pct), (Some(v), Some(t)) if v > t)
            || policy.scale_up.clients_per_master.is_some_and(|t| avg_clients * factor > t);
        if crosses {
            d.reason = format!(
                "would scale down ({}) but {} masters would cross a scale-up threshold",
                down.join(", "),
                n - count
            );
            return d;
        }
        return Decision { action: Action::Down, count, reason: down.join(", "), ..d };
    }
    let mut now = vec![format!("{n} masters")];
    now.extend(avg_memory_pct.map(mem));
    now.push(format!("average {avg_clients:.1} clients per master"));
    d.reason = format!("within thresholds: {}", now.join(", "));
    d
}

/// Runs the provisioning command until it has named `count` nodes (one call per node at
/// most); SLOTGATE_PROVISION_COUNT tells it how many are still wanted.
fn provision(cmd: &str, count: usize, limit: Duration) -> Result<Vec<String>, String> {
    let mut addrs = Vec::new();
    for _ in 0..count {
        if addrs.len() >= count {
            break;
        }
        let mut c = Command::new("sh");
        c.arg("-c").arg(cmd).env("SLOTGATE_PROVISION_COUNT", (count - addrs.len()).to_string());
        let out = run_bounded(c, limit).map_err(|e| format!("provision command: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "provision command failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let before = addrs.len();
        for line in String::from_utf8_lossy(&out.stdout).lines().map(str::trim).filter(|l| !l.is_empty()) {
            if !line.contains(':') {
                return Err(format!("provision command printed {line:?}, not host:port"));
            }
            addrs.push(line.to_string());
        }
        if addrs.len() == before {
            return Err("provision command printed no node address".into());
        }
    }
    Ok(addrs)
}

/// Runs a command, its output collected, killed when it takes longer than `limit`.
fn run_bounded(mut cmd: Command, limit: Duration) -> Result<Output, String> {
    let mut child =
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().map_err(|e| e.to_string())?;
    // Read both pipes meanwhile so a chatty command cannot block on a full pipe.
    let drain = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(child.stdout.take().map(|r| Box::new(r) as Box<dyn Read + Send>));
    let err = drain(child.stderr.take().map(|r| Box::new(r) as Box<dyn Read + Send>));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(st) = child.try_wait().map_err(|e| e.to_string())? {
            break st;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("still running after {} s: killed", limit.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Ok(Output { status, stdout: out.join().unwrap_or_default(), stderr: err.join().unwrap_or_default() })
}

pub fn run(a: &AutoscaleArgs) -> Result<Status, String> {
    let text = std::fs::read_to_string(&a.policy).map_err(|e| format!("{}: {e}", a.policy.display()))?;
    let policy = Policy::parse(&text).map_err(|e| format!("{}: {e}", a.policy.display()))?;
    let json = a.common.json;
    let nodes = metrics::collect(&a.common, false, a.interval)?;
    let d = decide(&policy, &nodes);
    let verb = match d.action {
        Action::Up => format!("scale up by {}", d.count),
        Action::Down => format!("scale down by {}", d.count),
        Action::None => "no change".into(),
    };
    if !json {
        println!("decision: {verb} ({})", d.reason);
    }
    let mut out = Outcome::new();
    let result = if a.dry_run || d.action == Action::None { Ok(()) } else { apply(a, &policy, &d, &mut out) };
    if json {
        #[derive(Serialize)]
        struct Report<'a> {
            decision: &'a Decision,
            dry_run: bool,
            outcome: &'a Outcome,
            error: Option<&'a String>,
        }
        let r = Report { decision: &d, dry_run: a.dry_run, outcome: &out, error: result.as_ref().err() };
        println!("{}", serde_json::to_string_pretty(&r).map_err(|e| e.to_string())?);
    }
    result?;
    if !json && !a.dry_run && d.action != Action::None {
        println!("done: {} slot(s) moved, {} key(s)", out.slots_moved, out.keys_moved);
    }
    Ok(out.status)
}

fn apply(a: &AutoscaleArgs, policy: &Policy, d: &Decision, out: &mut Outcome) -> Result<(), String> {
    let json = a.common.json;
    let mut pool = Pool::new(a.common.conn_opts()?);
    match d.action {
        Action::None => Ok(()),
        Action::Up => {
            let addrs = provision(&policy.provision, d.count, Duration::from_secs(policy.command_timeout))?;
            out.act(json, format!("provisioned {}", addrs.join(" ")));
            membership::add(&a.common, &mut pool, &addrs, None, out)?;
            let p = Params { weights: Vec::new(), threshold: 2.0, use_empty: true, dry_run: false, pipeline: 10 };
            rebalance::rebalance(&a.common, &mut pool, &p, out).map(|_| ())
        }
        Action::Down => {
            let snap = Snapshot::take(&a.common.seeds, &mut pool)?;
            // Fewest slots first; the seeds given last, as they are the way in.
            let mut masters: Vec<(bool, usize, String)> =
                snap.masters().map(|m| (a.common.seeds.contains(&m.addr), m.slot_count(), m.addr.clone())).collect();
            masters.sort();
            for (_, _, addr) in masters.into_iter().take(d.count) {
                // The node being removed must not be the only way in.
                let mut common = a.common.clone();
                common.seeds.retain(|s| *s != addr);
                common.seeds.extend(snap.masters().filter(|m| m.addr != addr).map(|m| m.addr.clone()));
                membership::remove(&common, &mut pool, &addr, 2.0, 10, false, out)?;
                if let Some(cmd) = &policy.deprovision {
                    let mut c = Command::new("sh");
                    c.arg("-c").arg(format!("{cmd} \"$1\"")).arg("sh").arg(&addr);
                    let st = run_bounded(c, Duration::from_secs(policy.command_timeout))
                        .map_err(|e| format!("deprovision command: {e}"))?
                        .status;
                    if st.success() {
                        out.act(json, format!("deprovisioned {addr}"));
                    } else {
                        out.warn(json, format!("deprovision command for {addr} failed ({st})"));
                    }
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"
min_masters = 3
max_masters = 5
step = 2
provision = "start-node"
[scale_up]
memory_pct = 70
clients_per_master = 100
[scale_down]
memory_pct = 20
clients_per_master = 10
"#;

    fn masters(n: usize, pct: f64, clients: u64) -> Vec<NodeMetrics> {
        (0..n)
            .map(|i| NodeMetrics {
                addr: format!("h:{i}"),
                role: "master".into(),
                memory_pct: Some(pct),
                maxmemory: 100,
                connected_clients: clients,
                ..Default::default()
            })
            .collect()
    }

    #[test]
    fn policy_parses_and_is_checked() {
        let p = Policy::parse(POLICY).unwrap();
        assert_eq!((p.min_masters, p.max_masters, p.step), (3, 5, 2));
        assert!(p.deprovision.is_none());
        assert_eq!(p.command_timeout, 300);
        assert!(Policy::parse("min_masters = 3\nmax_masters = 2\nprovision = \"x\"").is_err());
        assert!(Policy::parse("min_masters = 3\nmax_masters = 4\nprovision = \"x\"\nbogus = 1").is_err());
        let inverted = POLICY.replace("memory_pct = 20", "memory_pct = 90");
        assert!(Policy::parse(&inverted).is_err());
    }

    #[test]
    fn commands_are_bounded_and_their_output_kept() {
        let mut c = Command::new("sh");
        c.arg("-c").arg("echo 127.0.0.1:7000; echo oops >&2");
        let out = run_bounded(c, Duration::from_secs(10)).unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "127.0.0.1:7000\n");
        assert_eq!(String::from_utf8_lossy(&out.stderr), "oops\n");
        let mut c = Command::new("sh");
        c.arg("-c").arg("sleep 30");
        let started = Instant::now();
        assert!(run_bounded(c, Duration::from_millis(200)).is_err());
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn memory_over_threshold_scales_up_by_step_up_to_max() {
        let p = Policy::parse(POLICY).unwrap();
        let d = decide(&p, &masters(3, 85.0, 1));
        assert_eq!((d.action, d.count), (Action::Up, 2));
        assert!(d.reason.contains("85.0%"), "{}", d.reason);
        let d = decide(&p, &masters(4, 85.0, 1));
        assert_eq!((d.action, d.count), (Action::Up, 1));
        let d = decide(&p, &masters(5, 85.0, 1));
        assert_eq!(d.action, Action::None);
        assert!(d.reason.contains("max_masters"), "{}", d.reason);
    }

    #[test]
    fn clients_alone_scale_up() {
        let p = Policy::parse(POLICY).unwrap();
        assert_eq!(decide(&p, &masters(3, 40.0, 500)).action, Action::Up);
    }

    #[test]
    fn scale_down_needs_every_lower_threshold_and_no_rebound() {
        let p = Policy::parse(POLICY).unwrap();
        let d = decide(&p, &masters(5, 10.0, 1));
        assert_eq!((d.action, d.count), (Action::Down, 2));
        // Clients still above their lower threshold: nothing.
        assert_eq!(decide(&p, &masters(5, 10.0, 50)).action, Action::None);
        // At the minimum: nothing.
        assert!(decide(&p, &masters(3, 10.0, 1)).reason.contains("min_masters"));
        // 5 -> 3 masters at 19% each would be 31.7%: fine; with a scale-up at 30% it is not.
        let tight = POLICY.replace("memory_pct = 70", "memory_pct = 30");
        let d = decide(&Policy::parse(&tight).unwrap(), &masters(5, 19.0, 1));
        assert_eq!(d.action, Action::None);
        assert!(d.reason.contains("cross"), "{}", d.reason);
    }

    #[test]
    fn bounds_and_silent_masters() {
        let p = Policy::parse(POLICY).unwrap();
        assert_eq!(
            decide(&p, &masters(2, 50.0, 20)),
            Decision {
                action: Action::Up,
                count: 1,
                reason: "2 masters, below min_masters 3".into(),
                masters: 2,
                avg_memory_pct: Some(50.0),
                avg_clients: 20.0
            }
        );
        assert_eq!(decide(&p, &masters(7, 50.0, 20)).action, Action::Down);
        let mut m = masters(3, 99.0, 1);
        m[1].error = Some("refused".into());
        assert_eq!(decide(&p, &m).action, Action::None);
        // Without maxmemory the memory rule does not apply.
        let mut m = masters(3, 0.0, 1);
        m.iter_mut().for_each(|x| x.memory_pct = None);
        assert_eq!(decide(&p, &m).action, Action::None);
        assert_eq!(decide(&p, &masters(4, 50.0, 20)).action, Action::None);
    }
}
