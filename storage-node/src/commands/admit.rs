//! The precondition chain: the checks Redis's `processCommand` makes before a client's command
//! runs, and `scriptCall` before a script's `redis.call`, in Redis's order and with its texts.
//! The normal dispatch, EXEC (for itself and for each command it runs) and scripts all ask
//! `admit`, so a check added here holds on every path.

use std::cell::Cell;

use bytes::Bytes;
use protocol::command::{flags, CommandSpec};

use crate::server::{Client, Server};

/// Who asks to run a command: some checks answer differently, or not at all, for each.
#[derive(Clone, Copy)]
pub enum Caller<'a> {
    /// A client's own command (EXEC included: its flags cover what it queued).
    Client,
    /// A command EXEC runs from its queue: everything but the ACL rules was checked when it
    /// was queued and at EXEC.
    Queued,
    /// A script's `redis.call` / `redis.pcall`.
    Script(&'a ScriptCall<'a>),
}

/// What a script's `redis.call` brings to the checks.
pub struct ScriptCall<'a> {
    /// `EVAL_RO`, `FCALL_RO` or a `no-writes` function: writes are refused.
    pub readonly: bool,
    /// `allow-oom`: writes that need memory run over `maxmemory`.
    pub allow_oom: bool,
    /// The script already wrote: the state checks can no longer stop it halfway.
    pub wrote: bool,
    /// Functions in cluster mode: keys are checked against the node's slots.
    pub cluster_checks: bool,
    /// `allow-cross-slot-keys`.
    pub allow_cross_slot: bool,
    /// The one slot the script's keys hash to so far.
    pub slot: &'a Cell<Option<u16>>,
    pub now_ms: i64,
}

/// What the chain decides for a command that is not refused.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    Run,
    /// Inside MULTI: the command joins the queue.
    Queue,
    /// A manual failover pauses writes: the command waits, then runs.
    Pause,
}

/// Commands a RESP2 client may send while subscribed.
const SUBSCRIBED_OK: &[&str] =
    &["subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe", "ping", "quit", "reset"];
/// Commands that act on a transaction instead of being queued by it.
const MULTI_CONTROL: &[&str] = &["exec", "discard", "multi", "watch", "quit", "reset"];
/// Commands inside MULTI that the OOM check lets through (they free the queue or end it).
const MULTI_OOM_EXEMPT: &[&str] = &["exec", "discard", "quit", "reset"];

/// Redis's reply to writes while the last background save failed.
const MISCONF: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";
const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
const NOREPLICAS: &str = "NOREPLICAS Not enough good replicas to write.";
const READONLY: &str = "READONLY You can't write against a read only replica.";

/// The flags a command runs with: FCALL takes them from the function it calls, EXEC from the
/// commands it queued (as Redis's `getCommandFlags` and `mstate.cmd_flags`).
pub fn command_flags(srv: &Server, client: &Client, spec: &CommandSpec, args: &[Bytes]) -> u32 {
    if spec.name == "exec" {
        let queued = client.multi.iter().flatten().map(|q| queued_flags(srv, q)).fold(0, |a, f| a | f);
        return spec.flags | (queued & (flags::WRITE | flags::DENYOOM | flags::MAY_REPLICATE));
    }
    super::function::effective_flags(srv, spec, args)
}

fn queued_flags(srv: &Server, args: &[Bytes]) -> u32 {
    let Some(mut idx) = srv.commands.lookup(&args[0]) else { return 0 };
    let spec = srv.commands.commands[idx].spec;
    if !spec.subcommands.is_empty() && args.len() >= 2 {
        idx = srv.commands.lookup_sub(idx, &args[1]).unwrap_or(idx);
    }
    super::function::effective_flags(srv, srv.commands.commands[idx].spec, args)
}

/// Runs the checks for `spec` with `cmd_flags` (from `command_flags`); the refusal's reply
/// text otherwise. The client's ASKING flag is consumed by the caller.
pub fn admit(
    srv: &mut Server,
    client: &mut Client,
    spec: &CommandSpec,
    args: &[Bytes],
    cmd_flags: u32,
    caller: Caller,
    now_ms: i64,
) -> Result<Verdict, String> {
    let writes = cmd_flags & flags::WRITE != 0;
    match caller {
        Caller::Queued => acl(srv, client, spec, args).map(|_| Verdict::Run),
        Caller::Script(call) => {
            if !spec.arity_ok(args.len()) {
                return Err("ERR Wrong number of args calling Redis command from script".into());
            }
            if spec.has(flags::NOSCRIPT) {
                return Err("ERR This Redis command is not allowed from script".into());
            }
            if let Some(msg) = super::acl::script_refusal(srv, client, spec, args) {
                return Err(msg);
            }
            // Redis counts commands that may propagate (PFCOUNT) as writes here.
            if call.readonly && spec.has(flags::WRITE | flags::MAY_REPLICATE) {
                return Err("ERR Write commands are not allowed from read-only scripts.".into());
            }
            // Once a script wrote, an unpredictable state error must not stop it halfway.
            if writes && !call.wrote {
                if replica_read_only(srv, client) {
                    return Err(READONLY.into());
                }
                if disk_error(srv) {
                    return Err(MISCONF.into());
                }
                if !good_replicas(srv) {
                    return Err(NOREPLICAS.into());
                }
            }
            let oom_applies = cmd_flags & flags::DENYOOM != 0 && !call.allow_oom && !call.wrote;
            if oom_applies && srv.config.maxmemory > 0 && !client.is_master && srv.oom_at_command_start {
                return Err(OOM.into());
            }
            if call.cluster_checks && srv.cluster.is_some() {
                script_cluster_check(srv, client, spec, args, call)?;
            }
            Ok(Verdict::Run)
        }
        Caller::Client => {
            if !spec.arity_ok(args.len()) {
                return Err(format!("ERR wrong number of arguments for '{}' command", spec.name));
            }
            // Protected commands (enable-debug-command).
            if spec.name.starts_with("debug") && !super::debug::allowed(srv, client) {
                return Err(super::debug::NOT_ALLOWED.into());
            }
            if !client.authenticated && !spec.has(flags::NO_AUTH) && !srv.acl.default_open() {
                return Err("NOAUTH Authentication required.".into());
            }
            if client.multi.is_some() && spec.has(flags::NO_MULTI) {
                return Err("ERR Command not allowed inside a transaction".into());
            }
            acl(srv, client, spec, args)?;
            if srv.cluster.is_some() && !client.is_master {
                cluster_check(srv, client, spec, args, now_ms)?;
            }
            let top = spec.name.split('|').next().unwrap_or(spec.name);
            if srv.config.maxmemory > 0 && !crate::scripting::script_running() {
                // Evictions run before every command, as performEvictions does.
                let out_of_memory = !srv.make_room();
                srv.oom_at_command_start = out_of_memory;
                // Queueing takes memory too: only what ends the transaction gets through.
                let in_multi = client.multi.is_some() && !MULTI_OOM_EXEMPT.contains(&top);
                if out_of_memory && (cmd_flags & flags::DENYOOM != 0 || in_multi) {
                    return Err(OOM.into());
                }
            }
            if !client.is_master && (writes || top == "ping") && disk_error(srv) {
                return Err(MISCONF.into());
            }
            if writes && !good_replicas(srv) {
                return Err(NOREPLICAS.into());
            }
            if writes && replica_read_only(srv, client) {
                return Err(READONLY.into());
            }
            if client.proto == protocol::Proto::Resp2 && client.subscribed() && !SUBSCRIBED_OK.contains(&top) {
                return Err(format!("ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context", spec.name));
            }
            // A WRITE pause holds back whatever may replicate (EVAL and FCALL too), an ALL
            // pause everything, as Redis's pauseClients does; a master's link is never held.
            if let Some(all) = crate::server::pause::held(srv, now_ms) {
                let may_replicate = cmd_flags & (flags::WRITE | flags::MAY_REPLICATE) != 0;
                if (all || may_replicate) && !client.is_master {
                    return Ok(Verdict::Pause);
                }
            }
            if client.multi.is_some() && !MULTI_CONTROL.contains(&top) {
                return Ok(Verdict::Queue);
            }
            Ok(Verdict::Run)
        }
    }
}

/// scriptPrepareForRun: what a flagged script's or function's flags ask of the node's state
/// before it starts (a script without a shebang is checked call by call instead).
pub fn prepare_script(srv: &Server, client: &Client, script_flags: u32, ro: bool) -> Result<(), String> {
    use crate::scripting::functions::flag;
    let has = |f: u32| script_flags & f != 0;
    if has(flag::NO_CLUSTER) && srv.cluster.is_some() {
        return Err("ERR Can not run script on cluster, 'no-cluster' flag is set.".into());
    }
    let obey = client.is_master;
    if !has(flag::ALLOW_OOM | flag::NO_WRITES) && srv.config.maxmemory > 0 && !obey && srv.oom_at_command_start {
        return Err("OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'".into());
    }
    if has(flag::NO_WRITES) {
        return Ok(());
    }
    if replica_read_only(srv, client) {
        return Err("READONLY Can not run script with write flag on readonly replica".into());
    }
    if disk_error(srv) && !obey {
        return Err("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Writable scripts are blocked. Use 'no-writes' flag for read only scripts.".into());
    }
    if ro {
        return Err("ERR Can not execute a script with write flag using *_ro command.".into());
    }
    if !good_replicas(srv) {
        return Err(NOREPLICAS.into());
    }
    Ok(())
}

/// The user's rules. The link from our master is not checked (Redis runs it as no user).
fn acl(srv: &mut Server, client: &Client, spec: &CommandSpec, args: &[Bytes]) -> Result<(), String> {
    if client.is_master || srv.acl.permits_all(&client.user) {
        return Ok(());
    }
    super::acl::refusal(srv, client, spec, args).map_or(Ok(()), Err)
}

/// Key locality: for EXEC, the keys of every queued command (getNodeByQuery over the queue).
fn cluster_check(srv: &Server, client: &Client, spec: &CommandSpec, args: &[Bytes], now: i64) -> Result<(), String> {
    if spec.name != "exec" {
        return crate::cluster::routing::check(srv, client, spec, args, now).map_or(Ok(()), Err);
    }
    let queue = client.multi.as_deref().unwrap_or_default();
    if super::multi::spans_slots(srv, queue) {
        return Err("CROSSSLOT Keys in request don't hash to the same slot".into());
    }
    for q in queue {
        let Some(idx) = srv.commands.lookup(&q[0]) else { continue };
        let spec = srv.commands.commands[idx].spec;
        if let Some(refusal) = crate::cluster::routing::check(srv, client, spec, q, now) {
            return Err(refusal);
        }
    }
    Ok(())
}

/// Redis's cluster checks on a command a script calls: its keys must be served here and,
/// unless `allow-cross-slot-keys`, hash to the one slot the script works on.
fn script_cluster_check(
    srv: &Server,
    client: &Client,
    spec: &CommandSpec,
    argv: &[Bytes],
    call: &ScriptCall,
) -> Result<(), String> {
    if let Some(refusal) = crate::cluster::routing::check(srv, client, spec, argv, call.now_ms) {
        // A slot nobody serves is a non-local key to a script, whatever the cluster's state.
        return Err(if refusal.starts_with("CLUSTERDOWN Hash slot not served") {
            "ERR Script attempted to access a non local key in a cluster node".into()
        } else if refusal.starts_with("CLUSTERDOWN The cluster is down and only") {
            "ERR Script attempted to execute a write command while the cluster is down and readonly".into()
        } else if refusal.starts_with("CLUSTERDOWN") {
            "ERR Script attempted to execute a command while the cluster is down".into()
        } else {
            "ERR Script attempted to access a non local key in a cluster node".into()
        });
    }
    let keys = spec.key_indexes(argv.len(), |i| argv.get(i).map(|a| &a[..])).unwrap_or_default();
    let Some(first) = keys.first() else { return Ok(()) };
    let slot = protocol::slot::key_slot(&argv[*first]);
    match call.slot.get() {
        _ if call.allow_cross_slot => {}
        None => call.slot.set(Some(slot)),
        Some(s) if s != slot => {
            return Err("ERR Script attempted to access keys that do not hash to the same slot".into())
        }
        Some(_) => {}
    }
    Ok(())
}

/// A failed background save stops writes while saving is configured (writeCommandsDeniedByDiskError).
fn disk_error(srv: &Server) -> bool {
    !srv.persist.last_bgsave_ok && srv.config.stop_writes_on_bgsave_error && !srv.config.save.is_empty()
}

/// `min-replicas-to-write` is met, or does not apply (checkGoodReplicasStatus).
fn good_replicas(srv: &Server) -> bool {
    let wanted = srv.config.min_replicas_to_write as usize;
    let max_lag = srv.config.min_replicas_max_lag;
    wanted == 0 || max_lag == 0 || srv.repl.master.is_some() || srv.repl.good_replicas(max_lag) >= wanted
}

/// A read-only replica refuses writes from anyone but its master.
fn replica_read_only(srv: &Server, client: &Client) -> bool {
    srv.repl.master.is_some() && srv.config.replica_read_only && !client.is_master
}
