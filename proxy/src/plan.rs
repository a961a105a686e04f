//! Planning: what one request becomes, as a pure function of its command's table entry (the
//! route), its arguments, one slot-map snapshot and the client's settings. Nothing here sends:
//! the session sends what the plan says. Unit-tested over every route without sockets.

use std::net::SocketAddr;

use bytes::Bytes;
use protocol::command::{flags, Gather, Merge, Pin, Route};
use protocol::{key_slot, CommandSpec};

use crate::config::{CrossSlot, ReadPolicy};
use crate::topology::SlotMap;

pub(crate) const CROSSSLOT: &str = "CROSSSLOT Keys in request don't hash to the same slot";
/// SCAN cursors carry the master's index in their top bits.
pub(crate) const SCAN_NODE_SHIFT: u32 = 54;

/// What planning needs of the client and the proxy's settings.
pub(crate) struct Ctx<'a> {
    pub map: &'a SlotMap,
    /// The client's number: picks its master for keyless commands and its replica for reads.
    pub client: usize,
    pub read_policy: ReadPolicy,
    pub cross_slot: CrossSlot,
}

/// One request to one node.
#[derive(Debug, PartialEq)]
pub(crate) struct Part {
    pub target: SocketAddr,
    pub slot: Option<u16>,
    /// What to send.
    pub args: PartArgs,
    /// Sending it twice leaves the same data as once (a read, or an idempotent write).
    pub repeatable: bool,
}

/// The arguments of a part.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PartArgs {
    /// The request as it came.
    Whole,
    /// Arguments of its own (SCAN with the node's cursor, INFO keyspace).
    Own(Vec<Bytes>),
    /// The command name and the keys at `range` of the plan's key list (by their order among
    /// the request's keys), each with the arguments that follow it, `stride` in all (MSET's
    /// key and value).
    Keys { stride: usize, range: std::ops::Range<usize> },
}

/// What a request becomes.
#[derive(Debug, PartialEq)]
pub(crate) enum Plan {
    /// An error for the client at once.
    Error(String),
    /// A reply known without asking a node.
    Reply(&'static [u8]),
    /// Answered by the proxy itself.
    Local,
    /// One node.
    One(Part),
    /// One part per slot, merged. Each part has [`PartArgs::Keys`], a range of the list that
    /// follows: `(slot, key's order among the request's keys)`, sorted.
    Split(Merge, Vec<Part>, Vec<(u16, usize)>),
    /// Every master, merged.
    Fanout(Merge, Vec<Part>),
    /// SCAN on the master at this index.
    Scan(usize, Part),
    /// Keys across slots: the proxy computes the answer.
    Gather(Gather),
    /// A connection of the client's own, on the slot all keys share (`None`: none or several).
    Pinned(Pin, Option<u16>),
    /// WAIT on every node the client wrote to.
    Wait,
    /// The session turns into a subscriber.
    Subscribe,
}

impl Plan {
    fn error(msg: impl Into<String>) -> Plan {
        Plan::Error(msg.into())
    }
}

/// The entry that describes this invocation: the subcommand's for a container.
pub(crate) fn resolve<'a>(spec: &'a CommandSpec, args: &[Bytes]) -> &'a CommandSpec {
    match args.get(1) {
        Some(sub) if !spec.subcommands.is_empty() => spec.subcommand(sub).unwrap_or(spec),
        _ => spec,
    }
}

/// Plans one request; `spec` is `None` for a command the table does not describe.
pub(crate) fn plan(ctx: &Ctx, spec: Option<&CommandSpec>, args: &[Bytes]) -> Plan {
    let Some(spec) = spec else {
        // Its first argument is taken as the key, and a MOVED reply corrects the guess.
        let slot = args.get(1).map(|k| key_slot(k));
        return one(ctx, slot, false, false);
    };
    let spec = resolve(spec, args);
    if !spec.arity_ok(args.len()) {
        return Plan::error(format!("ERR wrong number of arguments for '{}' command", spec.name));
    }
    let readonly = spec.has(flags::READONLY);
    let repeatable = readonly || spec.retry.allows(args);
    match spec.route {
        Route::Unset | Route::Local => Plan::Local,
        Route::NotServed => Plan::Error(protocol::introspect::unknown_command(args)),
        Route::Subscribe => Plan::Subscribe,
        Route::Wait => Plan::Wait,
        Route::Scan => scan(ctx, args),
        Route::Fanout(merge) => {
            // INFO through the proxy is the proxy's own, with the nodes' keyspace summed;
            // RANDOMKEY first weighs the masters by their key counts.
            let sub = match merge {
                Merge::Info => PartArgs::Own(vec![Bytes::from_static(b"INFO"), Bytes::from_static(b"keyspace")]),
                Merge::RandomKey => PartArgs::Own(vec![Bytes::from_static(b"DBSIZE")]),
                _ => PartArgs::Whole,
            };
            if ctx.map.masters.is_empty() {
                return Plan::error("CLUSTERDOWN The cluster is down");
            }
            let parts = ctx
                .map
                .masters
                .iter()
                .map(|m| Part { target: *m, slot: None, args: sub.clone(), repeatable })
                .collect();
            Plan::Fanout(merge, parts)
        }
        Route::Split { stride, merge } => split(ctx, args, stride as usize, merge, readonly, repeatable),
        Route::Slot => match command_slot(spec, args) {
            Ok(slot) => one(ctx, slot, readonly, repeatable),
            Err(e) => Plan::Error(e),
        },
        Route::CrossSlot(gather) => match command_slot(spec, args) {
            Ok(slot) => one(ctx, slot, readonly, repeatable),
            Err(e) if e == CROSSSLOT && ctx.cross_slot == CrossSlot::Emulate => Plan::Gather(gather),
            Err(e) => Plan::Error(e),
        },
        Route::Pinned(Pin::Transaction) => Plan::Pinned(Pin::Transaction, None),
        // Without BLOCK, XREAD and XREADGROUP are ordinary commands on their slot.
        Route::Pinned(Pin::BlockOption) => match command_slot(spec, args) {
            Ok(slot) if protocol::command::block_option(args).is_some() => Plan::Pinned(Pin::Blocking, slot),
            Ok(slot) => one(ctx, slot, readonly, repeatable),
            Err(e) => Plan::Error(e),
        },
        Route::Pinned(pin) => match command_slot(spec, args) {
            Ok(slot) => Plan::Pinned(pin, slot),
            // Blocking pops over several slots poll each key's node; WATCH cannot span nodes.
            Err(e) if e == CROSSSLOT && pin == Pin::Blocking && ctx.cross_slot == CrossSlot::Emulate => {
                Plan::Pinned(pin, None)
            }
            Err(e) => Plan::Error(e),
        },
    }
}

/// A request to the master of `slot` (a read to one of its replicas under `prefer-replica`,
/// each client sticking to one so its reads stay in order); keyless to the client's master.
fn one(ctx: &Ctx, slot: Option<u16>, readonly: bool, repeatable: bool) -> Plan {
    match target(ctx, slot, readonly) {
        Ok(target) => Plan::One(Part { target, slot, args: PartArgs::Whole, repeatable }),
        Err(e) => Plan::Error(e),
    }
}

/// Where a request for `slot` goes (see [`one`]).
pub(crate) fn target(ctx: &Ctx, slot: Option<u16>, readonly: bool) -> Result<SocketAddr, String> {
    let Some(slot) = slot else {
        return match ctx.map.masters.len() {
            0 => Err("CLUSTERDOWN The cluster is down".into()),
            n => Ok(ctx.map.masters[ctx.client % n]),
        };
    };
    let Some(master) = ctx.map.master_of(slot) else {
        return Err("CLUSTERDOWN Hash slot not served".into());
    };
    match ctx.map.replicas_of(slot) {
        Some(replicas) if readonly && ctx.read_policy == ReadPolicy::PreferReplica && !replicas.is_empty() => {
            Ok(replicas[ctx.client % replicas.len()])
        }
        _ => Ok(master),
    }
}

/// One part per slot, keys in their order, `stride` arguments per key (MSET's key and value).
/// Keys sharing a slot (hash tags) need no split: the command goes as it came.
fn split(ctx: &Ctx, args: &[Bytes], stride: usize, merge: Merge, readonly: bool, repeatable: bool) -> Plan {
    if !(args.len() - 1).is_multiple_of(stride) {
        return Plan::error(format!("ERR wrong number of arguments for '{}' command", lower(&args[0])));
    }
    let n = (args.len() - 1) / stride;
    // Keys by slot, in request order within a slot: one list, a range of it per part.
    let mut by_slot: Vec<(u16, usize)> = (0..n).map(|i| (key_slot(&args[1 + i * stride]), i)).collect();
    by_slot.sort_unstable();
    if by_slot[0].0 == by_slot[n - 1].0 {
        return one(ctx, Some(by_slot[0].0), readonly, repeatable);
    }
    let mut parts: Vec<Part> = Vec::new();
    let mut start = 0;
    while start < n {
        let slot = by_slot[start].0;
        let end = start + by_slot[start..].iter().take_while(|(s, _)| *s == slot).count();
        match target(ctx, Some(slot), readonly) {
            Ok(target) => parts.push(Part {
                target,
                slot: Some(slot),
                args: PartArgs::Keys { stride, range: start..end },
                repeatable,
            }),
            Err(e) => return Plan::Error(e),
        }
        start = end;
    }
    Plan::Split(merge, parts, by_slot)
}

/// SCAN: the cursor's top bits say which master it is on.
fn scan(ctx: &Ctx, args: &[Bytes]) -> Plan {
    let Some(cursor) = std::str::from_utf8(&args[1]).ok().and_then(|c| c.parse::<u64>().ok()) else {
        return Plan::error("ERR invalid cursor");
    };
    let node = (cursor >> SCAN_NODE_SHIFT) as usize;
    let Some(&target) = ctx.map.masters.get(node) else {
        // A cursor from before the masters shrank: the iteration is over.
        return Plan::Reply(b"*2\r\n$1\r\n0\r\n*0\r\n");
    };
    let mut sub = args.to_vec();
    sub[1] = Bytes::from((cursor & ((1 << SCAN_NODE_SHIFT) - 1)).to_string());
    Plan::Scan(node, Part { target, slot: None, args: PartArgs::Own(sub), repeatable: true })
}

/// The one slot all keys of a command hash to: `Ok(None)` without keys, `Err` on CROSSSLOT or a
/// bad key count.
pub(crate) fn command_slot(spec: &CommandSpec, args: &[Bytes]) -> Result<Option<u16>, String> {
    if !spec.arity_ok(args.len()) {
        return Err(format!("ERR wrong number of arguments for '{}' command", spec.name));
    }
    let mut slot = None;
    let mut crossslot = false;
    spec.for_each_key(
        args.len(),
        |i| args.get(i).map(|a| &a[..]),
        |i| {
            let k = key_slot(&args[i]);
            crossslot |= slot.is_some_and(|x| x != k);
            slot = Some(k);
        },
    )
    .map_err(str::to_string)?;
    if crossslot {
        return Err(CROSSSLOT.to_string());
    }
    Ok(slot)
}

/// Whether the proxy serves a command of the table (what COMMAND describes).
pub(crate) fn serves(spec: &CommandSpec, cluster_emulation: bool) -> bool {
    let top = spec.name.split('|').next().unwrap_or(spec.name);
    match top {
        "cluster" | "asking" | "readonly" | "readwrite" => cluster_emulation,
        _ => spec.route != Route::NotServed,
    }
}

pub(crate) fn lower(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_ascii_lowercase()
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
