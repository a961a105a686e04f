//! Which node serves a command, as Redis's getNodeByQuery decides: all keys in one slot, the
//! slot served here (or being imported and the client said ASKING), else a redirection with
//! Redis's exact texts.

use bytes::Bytes;
use protocol::command::{flags, CommandSpec, KeySpec};
use protocol::slot::key_slot;

use super::flag;
use crate::server::{Client, Server};

/// `None` when this node serves the command; otherwise the error reply text.
pub fn check(srv: &Server, client: &Client, spec: &CommandSpec, args: &[Bytes], now: i64) -> Option<String> {
    let cl = srv.cluster.as_deref()?;
    let single;
    let many;
    let keys: &[usize] = match spec.keys {
        KeySpec::None => return None,
        // The common case (GET, SET, HSET, ...) without allocating.
        KeySpec::Range { first: 1, last: 1, .. } if args.len() > 1 => {
            single = [1usize];
            &single
        }
        _ => {
            // A malformed key count is the command's own error to report.
            many = spec.key_indexes(args.len(), |i| args.get(i).map(|a| &a[..])).ok()?;
            &many
        }
    };
    let first = keys.first()?;
    let slot = key_slot(&args[*first]);
    if keys.iter().any(|i| key_slot(&args[*i]) != slot) {
        return Some("CROSSSLOT Keys in request don't hash to the same slot".into());
    }
    let Some(owner) = cl.slots[slot as usize].as_ref() else {
        return Some("CLUSTERDOWN Hash slot not served".into());
    };
    if !cl.state_ok {
        if !srv.config.cluster_allow_reads_when_down {
            return Some("CLUSTERDOWN The cluster is down".into());
        }
        if spec.has(flags::WRITE) {
            return Some("CLUSTERDOWN The cluster is down and only accepts read commands".into());
        }
    }
    let shard_pubsub = spec.has(flags::PUBSUB);
    let migrating = cl.migrating.get(&slot).filter(|_| **owner == *cl.myself);
    let importing = cl.importing.contains_key(&slot);
    if (migrating.is_some() || importing) && !shard_pubsub {
        let exists = |i: &usize| srv.db.peek(&args[*i]).is_some_and(|e| e.expire_at == 0 || e.expire_at > now);
        let present = keys.iter().filter(|i| exists(i)).count();
        let missing = keys.len() - present;
        if let Some(target) = migrating {
            if missing > 0 {
                if present > 0 {
                    return Some("TRYAGAIN Multiple keys request during rehashing of slot".into());
                }
                return Some(redirect(srv, client, "ASK", slot, target));
            }
        }
        if importing && (client.asking || spec.has(flags::ASKING)) {
            if keys.len() > 1 && missing > 0 {
                return Some("TRYAGAIN Multiple keys request during rehashing of slot".into());
            }
            return None;
        }
    }
    if **owner == *cl.myself {
        return None;
    }
    // A replica serves reads of its master's slots to READONLY clients.
    let me = cl.me();
    if client.readonly && !spec.has(flags::WRITE) && me.has(flag::SLAVE) && me.master.as_ref() == Some(owner) {
        return None;
    }
    Some(redirect(srv, client, "MOVED", slot, owner))
}

/// `MOVED slot endpoint:port`, the endpoint as `cluster-preferred-endpoint-type` says.
fn redirect(srv: &Server, client: &Client, kind: &str, slot: u16, to: &str) -> String {
    let node = srv.cluster.as_deref().and_then(|cl| cl.nodes.get(to));
    match node {
        Some(n) => {
            let endpoint = n.endpoint(srv.config.cluster_preferred_endpoint_type);
            format!("{kind} {slot} {endpoint}:{}", n.client_port(!client.tls))
        }
        None => "CLUSTERDOWN Hash slot not served".into(),
    }
}
