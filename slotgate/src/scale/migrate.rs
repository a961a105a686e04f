//! Moving slots from a master to another while clients keep using them, in redis-cli's order
//! (clusterManagerMoveSlot): `SETSLOT IMPORTING` on the target first (so the target accepts
//! the ASKING clients the source will send it), then `SETSLOT MIGRATING` on the source, then
//! the keys in batches (GETKEYSINSLOT + MIGRATE ... KEYS), then `SETSLOT NODE target` on the
//! target, then on the source and every other master. Slots between the same two masters go
//! in batches that take each step together (pipelined), since every SETSLOT makes a node
//! save its configuration to disk, and Redis saves once per batch it reads. A key that exists
//! on both sides (BUSYKEY) is replaced only when both copies are equal (DEBUG DIGEST-VALUE as
//! redis-cli checks, or DUMP where DEBUG is disabled), or always in `fix --replace` mode.

use protocol::Frame;

use super::Pool;
use crate::client::{self, Error};

/// How keys move.
#[derive(Debug, Clone)]
pub struct KeyMover {
    /// Keys per GETKEYSINSLOT/MIGRATE round (redis-cli's --cluster-pipeline, 10).
    pub batch: usize,
    /// MIGRATE's timeout, milliseconds.
    pub timeout_ms: u64,
    /// Replace keys the target already has without comparing them (fix --replace).
    pub replace: bool,
    /// AUTH arguments MIGRATE passes on to the target.
    pub user: Option<String>,
    pub pass: Option<String>,
}

/// A master as a move needs it.
#[derive(Debug, Clone)]
pub struct End<'a> {
    pub id: &'a str,
    pub addr: &'a str,
}

fn setslot(pool: &mut Pool, addr: &str, slot: u16, how: &str, id: Option<&str>) -> Result<(), Error> {
    let slot = slot.to_string();
    let mut args = vec!["CLUSTER", "SETSLOT", slot.as_str(), how];
    args.extend(id);
    pool.call(addr, &args).map(|_| ())
}

/// Gives the slot to `to` everywhere: on `to` first (it must not answer MOVED back to the
/// source), then on the source, then on every other master. Errors on the first two are fatal;
/// others are returned as warnings (gossip carries the new owner to them anyway).
pub fn assign(pool: &mut Pool, slot: u16, to: &End, from: Option<&End>, others: &[End]) -> Result<Vec<String>, String> {
    setslot(pool, to.addr, slot, "NODE", Some(to.id))
        .map_err(|e| format!("SETSLOT {slot} NODE on {}: {e}", to.addr))?;
    if let Some(f) = from {
        setslot(pool, f.addr, slot, "NODE", Some(to.id))
            .map_err(|e| format!("SETSLOT {slot} NODE on {}: {e}", f.addr))?;
    }
    let mut warnings = Vec::new();
    for o in others {
        if o.id == to.id || from.is_some_and(|f| f.id == o.id) {
            continue;
        }
        if let Err(e) = setslot(pool, o.addr, slot, "NODE", Some(to.id)) {
            warnings.push(format!("SETSLOT {slot} NODE on {}: {e}", o.addr));
        }
    }
    Ok(warnings)
}

/// Clears a node's open state of `slot`.
pub fn stable(pool: &mut Pool, addr: &str, slot: u16) -> Result<(), String> {
    setslot(pool, addr, slot, "STABLE", None).map_err(|e| format!("SETSLOT {slot} STABLE on {addr}: {e}"))
}

/// Sends every command to `addr` without waiting, then reads as many replies: a node saves
/// its cluster configuration once per batch it read, not once per SETSLOT, so a batch of
/// slots costs about what one slot does.
fn send_all(pool: &mut Pool, addr: &str, cmds: &[Vec<String>]) -> Result<(), Error> {
    pool.with(addr, |c| cmds.iter().try_for_each(|cmd| c.send(cmd)))
}

/// The replies to `n` commands sent with `send_all`: an error reply is `Err(text)`.
fn read_all(pool: &mut Pool, addr: &str, n: usize) -> Result<Vec<Result<(), String>>, Error> {
    pool.with(addr, |c| {
        (0..n)
            .map(|_| match c.read_frame()? {
                Frame::Error(e) => Ok(Err(String::from_utf8_lossy(&e).into_owned())),
                _ => Ok(Ok(())),
            })
            .collect()
    })
}

fn setslots(slots: &[u16], how: &str, id: &str) -> Vec<Vec<String>> {
    slots.iter().map(|s| ["CLUSTER", "SETSLOT", &s.to_string(), how, id].map(str::to_string).to_vec()).collect()
}

/// SETSLOT for every slot on one node; the first error fails.
fn batch(pool: &mut Pool, addr: &str, slots: &[u16], how: &str, id: &str) -> Result<(), String> {
    let cmds = setslots(slots, how, id);
    let replies = send_all(pool, addr, &cmds).and_then(|_| read_all(pool, addr, cmds.len()));
    let replies = replies.map_err(|e| format!("SETSLOT {how} on {addr}: {e}"))?;
    match slots.iter().zip(replies).find_map(|(s, r)| r.err().map(|e| (s, e))) {
        Some((s, e)) => Err(format!("SETSLOT {s} {how} on {addr}: {e}")),
        None => Ok(()),
    }
}

/// Moves slots live from `from` to `to`, each step for the whole batch at once (every slot
/// is importing on `to` before it is migrating on `from`, and owned by `to` on `to` before
/// anywhere else); returns the keys moved, warnings, and notes on what happened besides.
pub fn move_batch(
    pool: &mut Pool,
    mover: &KeyMover,
    slots: &[u16],
    from: &End,
    to: &End,
    others: &[End],
) -> Result<(u64, Vec<String>, Vec<String>), String> {
    batch(pool, to.addr, slots, "IMPORTING", from.id)?;
    batch(pool, from.addr, slots, "MIGRATING", to.id)?;
    let mut keys = 0;
    for &slot in slots {
        keys += move_keys(pool, mover, slot, from, to, false)?;
    }
    batch(pool, to.addr, slots, "NODE", to.id)?;
    // The source and every other master at once.
    let cmds = setslots(slots, "NODE", to.id);
    let rest: Vec<&End> =
        std::iter::once(from).chain(others.iter().filter(|o| o.id != to.id && o.id != from.id)).collect();
    let mut sent = Vec::new();
    for e in &rest {
        sent.push(send_all(pool, e.addr, &cmds));
    }
    let mut warnings = Vec::new();
    let mut notes = Vec::new();
    for (i, (e, sent)) in rest.iter().zip(sent).enumerate() {
        let replies = sent.and_then(|_| read_all(pool, e.addr, cmds.len()));
        let failed: Vec<String> = match replies {
            Ok(r) => slots.iter().zip(r).filter_map(|(s, r)| r.err().map(|e| format!("slot {s}: {e}"))).collect(),
            Err(err) => vec![err.to_string()],
        };
        if failed.is_empty() {
            continue;
        }
        let what = format!("SETSLOT NODE on {}: {} slot(s) refused, first {}", e.addr, failed.len(), failed[0]);
        if i > 0 {
            warnings.push(what);
        } else if still_owns(pool, from.addr, slots) == Some(false) {
            // Gossip took the source's last slot away first and it became a replica of the
            // new owner (Redis's cluster-allow-replica-migration): it serves none of them.
            notes.push(format!("{} gave up its last slots and now follows {}", from.addr, to.addr));
        } else {
            return Err(what);
        }
    }
    Ok((keys, warnings, notes))
}

/// Whether the node at `addr` still says it serves any of `slots` (None when it does not answer).
fn still_owns(pool: &mut Pool, addr: &str, slots: &[u16]) -> Option<bool> {
    let text = pool.call_text(addr, &["CLUSTER", "NODES"]).ok()?;
    let lines = crate::topology::parse_nodes(&text, crate::topology::host_of(addr)).ok()?;
    let me = lines.into_iter().find(|l| l.is_myself())?;
    Some(slots.iter().any(|s| me.slots.iter().any(|&(a, b)| (a..=b).contains(s))))
}

/// Moves every key of `slot` from `from` to `to` (the slot must already be open, or `to` own
/// it). `asking` sends ASKING before each MIGRATE, for a source that does not own the slot.
pub fn move_keys(
    pool: &mut Pool,
    mover: &KeyMover,
    slot: u16,
    from: &End,
    to: &End,
    asking: bool,
) -> Result<u64, String> {
    let (host, port) = to.addr.rsplit_once(':').ok_or_else(|| format!("{}: no port", to.addr))?;
    let host = host.trim_matches(['[', ']']);
    let ctx = |e: Error| format!("moving slot {slot} from {} to {}: {e}", from.addr, to.addr);
    let mut moved = 0u64;
    // Each round moves at least one key or fails, and a slot holds a bounded number of keys;
    // the cap only guards against a node that keeps answering the same keys.
    for _round in 0..10_000_000u64 {
        let keys = getkeys(pool, from.addr, slot, mover.batch).map_err(ctx)?;
        if keys.is_empty() {
            return Ok(moved);
        }
        match migrate(pool, mover, from.addr, host, port, &keys, mover.replace, asking) {
            Ok(()) => {}
            // The target's refusal comes wrapped: "ERR Target instance replied with error: BUSYKEY ...".
            Err(Error::Reply(e)) if e.contains("BUSYKEY") => {
                let left = still_there(pool, from.addr, &keys).map_err(ctx)?;
                if !mover.replace {
                    let differ = differing(pool, from.addr, to.addr, &left).map_err(ctx)?;
                    if !differ.is_empty() {
                        let names: Vec<String> =
                            differ.iter().map(|k| String::from_utf8_lossy(k).into_owned()).collect();
                        return Err(format!(
                            "slot {slot}: {} key(s) exist on both {} and {} with different values: {} \
                             (run `slotgate fix --replace` to keep the source's values)",
                            names.len(),
                            from.addr,
                            to.addr,
                            names.join(", ")
                        ));
                    }
                }
                migrate(pool, mover, from.addr, host, port, &left, true, asking).map_err(ctx)?;
            }
            Err(e) => return Err(ctx(e)),
        }
        moved += keys.len() as u64;
    }
    Err(format!("slot {slot} on {}: keys keep coming back after MIGRATE", from.addr))
}

fn getkeys(pool: &mut Pool, addr: &str, slot: u16, n: usize) -> Result<Vec<Vec<u8>>, Error> {
    let reply = pool.call(addr, &["CLUSTER", "GETKEYSINSLOT", &slot.to_string(), &n.max(1).to_string()])?;
    match reply {
        Frame::Array(items) => Ok(items
            .into_iter()
            .filter_map(|f| match f {
                Frame::Bulk(b) | Frame::Simple(b) => Some(b.to_vec()),
                _ => None,
            })
            .collect()),
        other => Err(Error::Io(format!("{addr}: GETKEYSINSLOT answered {other:?}"))),
    }
}

#[allow(clippy::too_many_arguments)]
fn migrate(
    pool: &mut Pool,
    mover: &KeyMover,
    addr: &str,
    host: &str,
    port: &str,
    keys: &[Vec<u8>],
    replace: bool,
    asking: bool,
) -> Result<(), Error> {
    let mut args: Vec<Vec<u8>> =
        ["MIGRATE", host, port, "", "0", &mover.timeout_ms.to_string()].iter().map(|s| s.as_bytes().to_vec()).collect();
    if replace {
        args.push(b"REPLACE".to_vec());
    }
    match (&mover.user, &mover.pass) {
        (Some(u), Some(p)) => args.extend([b"AUTH2".to_vec(), u.as_bytes().to_vec(), p.as_bytes().to_vec()]),
        (None, Some(p)) => args.extend([b"AUTH".to_vec(), p.as_bytes().to_vec()]),
        _ => {}
    }
    args.push(b"KEYS".to_vec());
    args.extend(keys.iter().cloned());
    pool.with(addr, |c| {
        if asking {
            c.call(&["ASKING"])?;
        }
        match c.call(&args)? {
            // NOKEY: every key expired meanwhile, which is fine.
            Frame::Simple(s) if s.as_ref() == b"OK" || s.as_ref() == b"NOKEY" => Ok(()),
            other => Err(Error::Io(format!("{addr}: MIGRATE answered {other:?}"))),
        }
    })
}

/// The keys of `keys` the source still holds (MIGRATE moved the others before BUSYKEY).
fn still_there(pool: &mut Pool, addr: &str, keys: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, Error> {
    let mut left = Vec::new();
    for k in keys {
        if pool.call_int(addr, &[b"EXISTS".as_slice(), k])? > 0 {
            left.push(k.clone());
        }
    }
    Ok(left)
}

/// Keys whose values differ between the two nodes: DEBUG DIGEST-VALUE, as redis-cli compares,
/// or, where DEBUG is disabled (Redis 7's enable-debug-command), the DUMP payloads.
fn differing(pool: &mut Pool, a: &str, b: &str, keys: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, Error> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut args: Vec<Vec<u8>> = vec![b"DEBUG".to_vec(), b"DIGEST-VALUE".to_vec()];
    args.extend(keys.iter().cloned());
    let digests = |pool: &mut Pool, addr: &str| -> Result<Vec<Option<Vec<u8>>>, Error> {
        match pool.call(addr, &args) {
            Ok(Frame::Array(items)) => Ok(items.iter().map(|f| client::text(f).map(String::into_bytes)).collect()),
            Ok(other) => Err(Error::Io(format!("{addr}: DEBUG DIGEST-VALUE answered {other:?}"))),
            Err(Error::Reply(_)) => keys
                .iter()
                .map(|k| {
                    pool.with(addr, |c| {
                        // The key's slot is open on both sides: ASKING lets the importing one answer.
                        c.call(&["ASKING"])?;
                        match c.call(&[b"DUMP".as_slice(), k])? {
                            Frame::Bulk(b) => Ok(Some(b.to_vec())),
                            _ => Ok(None),
                        }
                    })
                })
                .collect(),
            Err(e) => Err(e),
        }
    };
    let (da, db) = (digests(pool, a)?, digests(pool, b)?);
    Ok(keys.iter().zip(da.iter().zip(db.iter())).filter(|(_, (x, y))| x != y).map(|(k, _)| k.clone()).collect())
}
