//! The CLUSTER family and the connection commands of cluster mode (ASKING, READONLY,
//! READWRITE), with Redis 7.0's replies and error texts.

use config::EndpointType;
use protocol::slot::key_slot;

use super::{arg_i64, err, help_reply, is, Ctx, Error, Handler};
use crate::cluster::wire::Type;
use crate::cluster::{bus, failure, flag, random_id, Cluster, Node, NodeId, SLOTS};
use crate::keyspace::now_ms;

pub fn register(h: &mut Vec<(&'static str, Handler)>) {
    h.extend([
        ("cluster|addslots", addslots as Handler),
        ("cluster|addslotsrange", addslotsrange),
        ("cluster|bumpepoch", bumpepoch),
        ("cluster|count-failure-reports", count_failure_reports),
        ("cluster|countkeysinslot", countkeysinslot),
        ("cluster|delslots", delslots),
        ("cluster|delslotsrange", delslotsrange),
        ("cluster|flushslots", flushslots),
        ("cluster|forget", forget),
        ("cluster|getkeysinslot", getkeysinslot),
        ("cluster|help", help),
        ("cluster|info", info),
        ("cluster|keyslot", keyslot),
        ("cluster|links", links),
        ("cluster|meet", meet),
        ("cluster|myid", myid),
        ("cluster|myshardid", myshardid),
        ("cluster|nodes", nodes),
        ("cluster|replicas", replicas),
        ("cluster|replicate", replicate),
        ("cluster|failover", failover),
        ("cluster|slaves", replicas),
        ("cluster|reset", reset),
        ("cluster|saveconfig", saveconfig),
        ("cluster|set-config-epoch", set_config_epoch),
        ("cluster|setslot", setslot),
        ("cluster|shards", shards),
        ("cluster|slots", slots),
        ("asking", asking),
        ("readonly", readonly),
        ("readwrite", readwrite),
    ]);
}

const DISABLED: &str = "ERR This instance has cluster support disabled";

/// The cluster view, or Redis's error for a node not in cluster mode.
fn cluster<'a>(ctx: &'a mut Ctx) -> Result<&'a mut Cluster, Error> {
    ctx.srv.cluster.as_deref_mut().ok_or_else(|| Error::Msg(DISABLED.into()))
}

/// Persists and re-evaluates after a configuration change, before the reply goes out; a new
/// role takes effect in replication at once (INFO agrees with CLUSTER NODES, as in Redis).
fn changed(ctx: &mut Ctx) {
    if let Some(cl) = ctx.srv.cluster.as_deref_mut() {
        cl.todo_save = true;
    }
    failure::flush(ctx.srv);
    failure::follow_master(ctx.srv);
}

fn parse_slot(b: &[u8]) -> Result<u16, Error> {
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .filter(|s| (0..SLOTS as i64).contains(s))
        .map(|s| s as u16)
        .ok_or_else(|| Error::Msg("ERR Invalid or out of range slot".into()))
}

fn unknown_node(name: &[u8]) -> Error {
    Error::Msg(format!("ERR Unknown node {}", String::from_utf8_lossy(name)))
}

fn node_id(cl: &Cluster, name: &[u8]) -> Option<NodeId> {
    cl.node_by_name(name).map(|n| n.id.clone())
}

/// The IP to advertise for a node; our own may be unknown until someone MEETs us, then the
/// address the client reached us on is the right answer.
fn node_ip(ctx: &Ctx, n: &Node) -> String {
    if n.ip.is_empty() && n.has(flag::MYSELF) {
        ctx.client.laddr.rsplit_once(':').map(|(ip, _)| ip.trim_matches(['[', ']']).to_string()).unwrap_or_default()
    } else {
        n.ip.clone()
    }
}

fn asking(ctx: &mut Ctx) -> Result<(), Error> {
    cluster(ctx)?;
    ctx.client.asking = true;
    ctx.out.ok();
    Ok(())
}

fn readonly(ctx: &mut Ctx) -> Result<(), Error> {
    cluster(ctx)?;
    ctx.client.readonly = true;
    ctx.out.ok();
    Ok(())
}

fn readwrite(ctx: &mut Ctx) -> Result<(), Error> {
    cluster(ctx)?;
    ctx.client.readonly = false;
    ctx.out.ok();
    Ok(())
}

fn info(ctx: &mut Ctx) -> Result<(), Error> {
    let cl = cluster(ctx)?;
    let (mut assigned, mut pfail, mut fail) = (0, 0, 0);
    for owner in cl.slots.iter().flatten() {
        assigned += 1;
        match cl.nodes.get(owner) {
            Some(n) if n.has(flag::FAIL) => fail += 1,
            Some(n) if n.has(flag::PFAIL) => pfail += 1,
            _ => {}
        }
    }
    let my_epoch = cl.nodes.get(cl.my_master()).map_or(0, |n| n.config_epoch);
    let mut text = format!(
        "cluster_state:{}\r\ncluster_slots_assigned:{assigned}\r\ncluster_slots_ok:{}\r\ncluster_slots_pfail:{pfail}\r\ncluster_slots_fail:{fail}\r\ncluster_known_nodes:{}\r\ncluster_size:{}\r\ncluster_current_epoch:{}\r\ncluster_my_epoch:{my_epoch}\r\n",
        if cl.state_ok { "ok" } else { "fail" },
        assigned - pfail - fail,
        cl.nodes.len(),
        cl.size,
        cl.current_epoch,
    );
    for (i, name) in crate::cluster::MSG_NAMES.iter().enumerate() {
        if cl.sent[i] > 0 {
            text.push_str(&format!("cluster_stats_messages_{name}_sent:{}\r\n", cl.sent[i]));
        }
    }
    text.push_str(&format!("cluster_stats_messages_sent:{}\r\n", cl.sent.iter().sum::<u64>()));
    for (i, name) in crate::cluster::MSG_NAMES.iter().enumerate() {
        if cl.received[i] > 0 {
            text.push_str(&format!("cluster_stats_messages_{name}_received:{}\r\n", cl.received[i]));
        }
    }
    text.push_str(&format!("cluster_stats_messages_received:{}\r\n", cl.received.iter().sum::<u64>()));
    text.push_str("total_cluster_links_buffer_limit_exceeded:0\r\n");
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

fn myid(ctx: &mut Ctx) -> Result<(), Error> {
    let id = cluster(ctx)?.myself.clone();
    ctx.out.bulk(id.as_bytes());
    Ok(())
}

/// A shard is a master and its replicas; the master's name identifies it.
fn myshardid(ctx: &mut Ctx) -> Result<(), Error> {
    let id = cluster(ctx)?.my_master().clone();
    ctx.out.bulk(id.as_bytes());
    Ok(())
}

fn nodes(ctx: &mut Ctx) -> Result<(), Error> {
    let plaintext = !ctx.client.tls;
    let cl = cluster(ctx)?;
    let mut text = cl.nodes_text(plaintext);
    if cl.me().ip.is_empty() {
        // Before anyone met us our IP is unknown; show the address the client used.
        let me = cl.me();
        let (id, port) = (me.id.clone(), me.client_port(plaintext));
        let ip = node_ip(ctx, &ctx.srv.cluster.as_deref().expect("checked").nodes[&id]);
        text = text.replace(&format!("{id} :{port}@"), &format!("{id} {ip}:{port}@"));
    }
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

fn keyslot(ctx: &mut Ctx) -> Result<(), Error> {
    cluster(ctx)?;
    ctx.out.int(key_slot(&ctx.args[2]) as i64);
    Ok(())
}

fn countkeysinslot(ctx: &mut Ctx) -> Result<(), Error> {
    cluster(ctx)?;
    let slot = arg_i64(&ctx.args[2])
        .ok()
        .filter(|s| (0..SLOTS as i64).contains(s))
        .ok_or_else(|| Error::Msg("ERR Invalid slot".into()))?;
    ctx.out.int(ctx.srv.db.count_in_slot(slot as usize) as i64);
    Ok(())
}

fn getkeysinslot(ctx: &mut Ctx) -> Result<(), Error> {
    cluster(ctx)?;
    let bad = || Error::Msg("ERR Invalid slot or number of keys".into());
    let slot = arg_i64(&ctx.args[2]).map_err(|_| bad())?;
    let count = arg_i64(&ctx.args[3]).map_err(|_| bad())?;
    if !(0..SLOTS as i64).contains(&slot) || count < 0 {
        return Err(bad());
    }
    let keys: Vec<Vec<u8>> =
        ctx.srv.db.slot_entries(slot as usize).take(count as usize).map(|e| e.key.to_vec()).collect();
    ctx.out.array(keys.len());
    for k in keys {
        ctx.out.bulk(&k);
    }
    Ok(())
}

/// Slots named by ADDSLOTS/DELSLOTS (`ranges` false) or by their RANGE forms.
fn slot_args(ctx: &Ctx, ranges: bool) -> Result<Vec<u16>, Error> {
    let args = &ctx.args[2..];
    let mut out = Vec::new();
    if ranges {
        if !args.len().is_multiple_of(2) {
            let sub = String::from_utf8_lossy(&ctx.args[1]).to_lowercase();
            return err(format!("ERR wrong number of arguments for 'cluster|{sub}' command"));
        }
        for pair in args.chunks(2) {
            let (start, end) = (parse_slot(&pair[0])?, parse_slot(&pair[1])?);
            if start > end {
                return err(format!("ERR start slot number {start} is greater than end slot number {end}"));
            }
            out.extend(start..=end);
        }
    } else {
        for a in args {
            out.push(parse_slot(a)?);
        }
    }
    let mut seen = vec![false; SLOTS];
    for s in &out {
        if std::mem::replace(&mut seen[*s as usize], true) {
            return err(format!("ERR Slot {s} specified multiple times"));
        }
    }
    Ok(out)
}

fn add_slots(ctx: &mut Ctx, ranges: bool) -> Result<(), Error> {
    cluster(ctx)?;
    let slots = slot_args(ctx, ranges)?;
    let cl = cluster(ctx)?;
    if let Some(s) = slots.iter().find(|s| cl.slots[**s as usize].is_some()) {
        return err(format!("ERR Slot {s} is already busy"));
    }
    let me = cl.myself.clone();
    for s in slots {
        cl.importing.remove(&s);
        cl.assign(s, Some(me.clone()));
    }
    changed(ctx);
    ctx.out.ok();
    Ok(())
}

fn del_slots(ctx: &mut Ctx, ranges: bool) -> Result<(), Error> {
    cluster(ctx)?;
    let slots = slot_args(ctx, ranges)?;
    let cl = cluster(ctx)?;
    if let Some(s) = slots.iter().find(|s| cl.slots[**s as usize].is_none()) {
        return err(format!("ERR Slot {s} is already unassigned"));
    }
    for s in slots {
        cl.assign(s, None);
    }
    changed(ctx);
    ctx.out.ok();
    Ok(())
}

fn addslots(ctx: &mut Ctx) -> Result<(), Error> {
    add_slots(ctx, false)
}
fn addslotsrange(ctx: &mut Ctx) -> Result<(), Error> {
    add_slots(ctx, true)
}
fn delslots(ctx: &mut Ctx) -> Result<(), Error> {
    del_slots(ctx, false)
}
fn delslotsrange(ctx: &mut Ctx) -> Result<(), Error> {
    del_slots(ctx, true)
}

fn flushslots(ctx: &mut Ctx) -> Result<(), Error> {
    cluster(ctx)?;
    if !ctx.srv.db.is_empty() {
        return err("ERR DB must be empty to perform CLUSTER FLUSHSLOTS.");
    }
    let cl = cluster(ctx)?;
    let me = cl.myself.clone();
    for s in 0..SLOTS as u16 {
        if cl.slots[s as usize].as_ref() == Some(&me) {
            cl.assign(s, None);
        }
    }
    changed(ctx);
    ctx.out.ok();
    Ok(())
}

fn bumpepoch(ctx: &mut Ctx) -> Result<(), Error> {
    let cl = cluster(ctx)?;
    let bumped = cl.bump_epoch_without_consensus();
    let epoch = cl.me().config_epoch;
    changed(ctx);
    ctx.out.simple(&format!("{} {epoch}", if bumped { "BUMPED" } else { "STILL" }));
    Ok(())
}

fn set_config_epoch(ctx: &mut Ctx) -> Result<(), Error> {
    let arg = ctx.args[2].clone();
    let cl = cluster(ctx)?;
    let epoch = std::str::from_utf8(&arg).ok().and_then(|s| s.parse::<i64>().ok());
    let epoch = match epoch {
        Some(e) if e >= 0 => e as u64,
        _ => return err(format!("ERR Invalid config epoch specified: {}", String::from_utf8_lossy(&arg))),
    };
    if cl.nodes.len() > 1 {
        return err("ERR The user can assign a config epoch only when the node does not know any other node.");
    }
    if cl.me().config_epoch != 0 {
        return err("ERR Node config epoch is already non-zero");
    }
    cl.me_mut().config_epoch = epoch;
    cl.current_epoch = cl.current_epoch.max(epoch);
    changed(ctx);
    ctx.out.ok();
    Ok(())
}

fn count_failure_reports(ctx: &mut Ctx) -> Result<(), Error> {
    let name = ctx.args[2].clone();
    let cl = cluster(ctx)?;
    let id = node_id(cl, &name).ok_or_else(|| unknown_node(&name))?;
    let n = failure::report_count(cl, &id, now_ms());
    ctx.out.int(n as i64);
    Ok(())
}

fn meet(ctx: &mut Ctx) -> Result<(), Error> {
    cluster(ctx)?;
    if ctx.args.len() > 5 {
        return err("ERR wrong number of arguments for 'cluster|meet' command");
    }
    let (host, port_arg) = (ctx.args[2].clone(), ctx.args[3].clone());
    let port = arg_i64(&port_arg).ok().filter(|p| (0..=65535).contains(p)).ok_or_else(|| {
        Error::Msg(format!("ERR Invalid base port specified: {}", String::from_utf8_lossy(&port_arg)))
    })?;
    let cport = match ctx.args.get(4) {
        Some(a) => arg_i64(a)
            .ok()
            .filter(|p| (0..=65535).contains(p))
            .ok_or_else(|| Error::Msg(format!("ERR Invalid bus port specified: {}", String::from_utf8_lossy(a))))?,
        None => port + 10000,
    };
    let ip: Option<std::net::IpAddr> = std::str::from_utf8(&host).ok().and_then(|h| h.parse().ok());
    let Some(ip) = ip.filter(|_| port != 0 && cport <= 65535) else {
        return err(format!(
            "ERR Invalid node address specified: {}:{}",
            String::from_utf8_lossy(&host),
            String::from_utf8_lossy(&port_arg)
        ));
    };
    let ip = ip.to_canonical().to_string();
    let cl = cluster(ctx)?;
    let in_progress = cl
        .nodes
        .values()
        .any(|n| n.has(flag::HANDSHAKE) && n.ip == ip && n.port == port as u16 && n.cport == cport as u16);
    if !in_progress {
        let node = Node::new(random_id(), ip, port as u16, cport as u16, flag::HANDSHAKE | flag::MEET);
        cl.add_node(node);
    }
    changed(ctx);
    ctx.out.ok();
    Ok(())
}

fn forget(ctx: &mut Ctx) -> Result<(), Error> {
    let name = ctx.args[2].clone();
    let cl = cluster(ctx)?;
    let id = node_id(cl, &name).ok_or_else(|| unknown_node(&name))?;
    if id == cl.myself {
        return err("ERR I tried hard but I can't forget myself...");
    }
    if cl.me().master.as_ref() == Some(&id) {
        return err("ERR Can't forget my master!");
    }
    cl.blacklist_add(&id);
    cl.del_node(&id);
    changed(ctx);
    ctx.out.ok();
    Ok(())
}

fn replicas(ctx: &mut Ctx) -> Result<(), Error> {
    let name = ctx.args[2].clone();
    let plaintext = !ctx.client.tls;
    let cl = cluster(ctx)?;
    let id = node_id(cl, &name).ok_or_else(|| unknown_node(&name))?;
    if !cl.nodes[&id].is_master() {
        return err("ERR The specified node is not a master");
    }
    let lines: Vec<String> = cl.replicas_of(&id).map(|n| cl.node_line(n, plaintext)).collect();
    ctx.out.array(lines.len());
    for l in lines {
        ctx.out.bulk(l.as_bytes());
    }
    Ok(())
}

fn reset(ctx: &mut Ctx) -> Result<(), Error> {
    let hard = match ctx.args.get(2) {
        None => false,
        Some(a) if is(a, "soft") => false,
        Some(a) if is(a, "hard") => true,
        Some(_) => return Err(Error::Syntax),
    };
    if ctx.args.len() > 3 {
        return Err(Error::Syntax);
    }
    let has_keys = !ctx.srv.db.is_empty();
    let cl = cluster(ctx)?;
    if cl.me().is_master() && has_keys {
        return err("ERR CLUSTER RESET can't be called with master nodes containing keys");
    }
    let me = cl.myself.clone();
    cl.set_role(&me, None);
    cl.migrating.clear();
    cl.importing.clear();
    let others: Vec<NodeId> = cl.nodes.keys().filter(|id| **id != me).cloned().collect();
    for id in others {
        cl.del_node(&id);
    }
    for s in 0..SLOTS as u16 {
        cl.assign(s, None);
    }
    if hard {
        cl.current_epoch = 0;
        cl.last_vote_epoch = 0;
        cl.me_mut().config_epoch = 0;
        let new = random_id();
        cl.rename(&me, &new);
        cl.myself = new;
    }
    changed(ctx);
    ctx.out.ok();
    Ok(())
}

fn saveconfig(ctx: &mut Ctx) -> Result<(), Error> {
    let cl = cluster(ctx)?;
    crate::cluster::nodes_conf::save(cl)
        .map_err(|e| Error::Msg(format!("ERR error saving the cluster node config: {e}")))?;
    ctx.out.ok();
    Ok(())
}

fn setslot(ctx: &mut Ctx) -> Result<(), Error> {
    cluster(ctx)?;
    let args = ctx.args;
    let slot = parse_slot(&args[2])?;
    let bad_action =
        || Error::Msg("ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP".into());
    let action = &args[3];
    let target = args.get(4).cloned();
    let keys_in_slot = ctx.srv.db.count_in_slot(slot as usize);
    let cl = cluster(ctx)?;
    if !cl.me().is_master() {
        return err("ERR Please use SETSLOT only with masters.");
    }
    let lookup = |cl: &Cluster, name: &Option<bytes::Bytes>| -> Result<NodeId, Error> {
        let name = name.as_ref().ok_or_else(bad_action)?;
        node_id(cl, name)
            .ok_or_else(|| Error::Msg(format!("ERR I don't know about node {}", String::from_utf8_lossy(name))))
    };
    if is(action, "migrating") && args.len() == 5 {
        if !cl.owns(slot) {
            return err(format!("ERR I'm not the owner of hash slot {slot}"));
        }
        let to = lookup(cl, &target)?;
        if !cl.nodes[&to].is_master() {
            return err("ERR Target node is not a master");
        }
        cl.migrating.insert(slot, to);
    } else if is(action, "importing") && args.len() == 5 {
        if cl.owns(slot) {
            return err(format!("ERR I'm already the owner of hash slot {slot}"));
        }
        let from = lookup(cl, &target)?;
        if !cl.nodes[&from].is_master() {
            return err("ERR Target node is not a master");
        }
        cl.importing.insert(slot, from);
    } else if is(action, "stable") && args.len() == 4 {
        cl.migrating.remove(&slot);
        cl.importing.remove(&slot);
    } else if is(action, "node") && args.len() == 5 {
        let to = lookup(cl, &target)?;
        if !cl.nodes[&to].is_master() {
            return err("ERR Target node is not a master");
        }
        let mine = cl.owns(slot);
        if mine && to != cl.myself && keys_in_slot > 0 {
            return err(format!(
                "ERR Can't assign hashslot {slot} to a different node while I still hold keys for this hash slot."
            ));
        }
        if keys_in_slot == 0 && cl.migrating.contains_key(&slot) {
            cl.migrating.remove(&slot);
        }
        // Taking over an imported slot: a new epoch makes the move win everywhere.
        if to == cl.myself && cl.importing.remove(&slot).is_some() {
            cl.assign(slot, Some(to.clone()));
            cl.bump_epoch_without_consensus();
            let pong = bus::ping(cl, Type::Pong);
            bus::broadcast(cl, Type::Pong, pong);
        }
        cl.assign(slot, Some(to));
    } else {
        return Err(bad_action());
    }
    changed(ctx);
    ctx.out.ok();
    Ok(())
}

/// Contiguous runs of slots with the same owner, in slot order.
fn slot_runs(cl: &Cluster) -> Vec<(u16, u16, NodeId)> {
    let mut runs: Vec<(u16, u16, NodeId)> = Vec::new();
    for (slot, owner) in cl.slots.iter().enumerate() {
        let Some(owner) = owner else { continue };
        let slot = slot as u16;
        match runs.last_mut() {
            Some((_, end, o)) if *end + 1 == slot && o == owner => *end = slot,
            _ => runs.push((slot, slot, owner.clone())),
        }
    }
    runs
}

fn slots(ctx: &mut Ctx) -> Result<(), Error> {
    let my_offset = ctx.srv.repl.offset;
    let cl = cluster(ctx)?;
    let runs = slot_runs(cl);
    // Replicas that failed or hold nothing yet (offset 0) are left out, as in Redis 7.0's
    // isReplicaAvailable: a client must not read from a replica that never synced.
    let available = |r: &Node| {
        let offset = if r.has(flag::MYSELF) { my_offset } else { r.repl_offset };
        !r.has(flag::FAIL) && offset != 0
    };
    let entries: Vec<(u16, u16, Vec<NodeId>)> = runs
        .into_iter()
        .map(|(s, e, owner)| {
            let mut nodes = vec![owner.clone()];
            nodes.extend(cl.replicas_of(&owner).filter(|r| available(r)).map(|r| r.id.clone()));
            (s, e, nodes)
        })
        .collect();
    ctx.out.array(entries.len());
    for (start, end, nodes) in entries {
        ctx.out.array(2 + nodes.len());
        ctx.out.int(start as i64);
        ctx.out.int(end as i64);
        for id in nodes {
            let cl = ctx.srv.cluster.as_deref().expect("checked");
            let n = &cl.nodes[&id];
            let ip = node_ip(ctx, n);
            let port = n.client_port(!ctx.client.tls);
            // The preferred endpoint first; the map holds the other names the node has
            // (Redis 7.0's addNodeToNodeReply).
            let kind = ctx.srv.config.cluster_preferred_endpoint_type;
            // Null for `unknown-endpoint`: the client reuses the address it asked.
            let endpoint = match kind {
                EndpointType::Ip => Some(ip.clone()),
                EndpointType::Hostname => Some(n.endpoint(kind).to_string()),
                EndpointType::UnknownEndpoint => None,
            };
            let mut extra: Vec<(&str, String)> = Vec::new();
            if kind != EndpointType::Ip {
                extra.push(("ip", ip));
            }
            if kind != EndpointType::Hostname && !n.hostname.is_empty() {
                extra.push(("hostname", n.hostname.clone()));
            }
            ctx.out.array(4);
            match endpoint {
                Some(e) => ctx.out.bulk(e.as_bytes()),
                None => ctx.out.null(),
            }
            ctx.out.int(port as i64);
            ctx.out.bulk(id.as_bytes());
            ctx.out.map(extra.len());
            for (k, v) in extra {
                ctx.out.bulk(k.as_bytes());
                ctx.out.bulk(v.as_bytes());
            }
        }
    }
    Ok(())
}

fn shards(ctx: &mut Ctx) -> Result<(), Error> {
    let cl = cluster(ctx)?;
    let mut masters: Vec<NodeId> =
        cl.nodes.values().filter(|n| n.is_master() && !n.has(flag::HANDSHAKE)).map(|n| n.id.clone()).collect();
    masters.sort();
    type Shard = (Vec<(u16, u16)>, Vec<NodeId>);
    let shards: Vec<Shard> = masters
        .into_iter()
        .map(|m| {
            let mut members = vec![m.clone()];
            members.extend(cl.replicas_of(&m).map(|r| r.id.clone()));
            (cl.slot_ranges(&m), members)
        })
        .collect();
    ctx.out.array(shards.len());
    for (ranges, members) in shards {
        ctx.out.map(2);
        ctx.out.bulk(b"slots");
        ctx.out.array(ranges.len() * 2);
        for (s, e) in ranges {
            ctx.out.int(s as i64);
            ctx.out.int(e as i64);
        }
        ctx.out.bulk(b"nodes");
        ctx.out.array(members.len());
        for id in members {
            let cl = ctx.srv.cluster.as_deref().expect("checked");
            let n = &cl.nodes[&id];
            let (ip, offset) = (node_ip(ctx, n), n.repl_offset);
            let role = if n.is_master() { "master" } else { "replica" };
            let health = if n.failing() { "failed" } else { "online" };
            // Under tls-cluster the port nodes announce is their TLS port, and Redis lists it as
            // `tls-port`, after the plaintext `port` when the node has one.
            let (port, tls_port) = if ctx.srv.config.tls_cluster { (n.pport, n.port) } else { (n.port, 0) };
            let ports: Vec<(&str, u16)> =
                [("port", port), ("tls-port", tls_port)].into_iter().filter(|p| p.1 != 0).collect();
            let kind = ctx.srv.config.cluster_preferred_endpoint_type;
            let endpoint = if kind == EndpointType::Ip { ip.clone() } else { n.endpoint(kind).to_string() };
            let hostname = (!n.hostname.is_empty()).then(|| n.hostname.clone());
            ctx.out.map(6 + ports.len() + usize::from(hostname.is_some()));
            ctx.out.bulk(b"id");
            ctx.out.bulk(id.as_bytes());
            for (k, v) in ports {
                ctx.out.bulk(k.as_bytes());
                ctx.out.int(v as i64);
            }
            ctx.out.bulk(b"ip");
            ctx.out.bulk(ip.as_bytes());
            ctx.out.bulk(b"endpoint");
            ctx.out.bulk(endpoint.as_bytes());
            if let Some(h) = hostname {
                ctx.out.bulk(b"hostname");
                ctx.out.bulk(h.as_bytes());
            }
            ctx.out.bulk(b"role");
            ctx.out.bulk(role.as_bytes());
            ctx.out.bulk(b"replication-offset");
            ctx.out.int(offset as i64);
            ctx.out.bulk(b"health");
            ctx.out.bulk(health.as_bytes());
        }
    }
    Ok(())
}

fn links(ctx: &mut Ctx) -> Result<(), Error> {
    let cl = cluster(ctx)?;
    let mut rows: Vec<(&str, String, i64)> = Vec::new();
    for n in cl.nodes.values() {
        if let Some(l) = n.link.as_ref().filter(|l| l.connected) {
            rows.push(("to", n.id.to_string(), l.ctime));
        }
    }
    for (peer, ctime) in cl.inbound.values() {
        if let Some(peer) = peer {
            rows.push(("from", peer.to_string(), *ctime));
        }
    }
    ctx.out.array(rows.len());
    for (dir, node, ctime) in rows {
        ctx.out.map(6);
        ctx.out.bulk(b"direction");
        ctx.out.bulk(dir.as_bytes());
        ctx.out.bulk(b"node");
        ctx.out.bulk(node.as_bytes());
        ctx.out.bulk(b"create-time");
        ctx.out.int(ctime);
        ctx.out.bulk(b"events");
        ctx.out.bulk(b"r");
        ctx.out.bulk(b"send-buffer-allocated");
        ctx.out.int(0);
        ctx.out.bulk(b"send-buffer-used");
        ctx.out.int(0);
    }
    Ok(())
}

fn help(ctx: &mut Ctx) -> Result<(), Error> {
    cluster(ctx)?;
    help_reply(
        ctx.out,
        "CLUSTER",
        &[
            "ADDSLOTS <slot> [<slot> ...]",
            "    Assign slots to current node.",
            "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
            "    Assign slots which are between <start-slot> and <end-slot> to current node.",
            "BUMPEPOCH",
            "    Advance the cluster config epoch.",
            "COUNT-FAILURE-REPORTS <node-id>",
            "    Return number of failure reports for <node-id>.",
            "COUNTKEYSINSLOT <slot>",
            "    Return the number of keys in <slot>.",
            "DELSLOTS <slot> [<slot> ...]",
            "    Delete slots information from current node.",
            "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
            "    Delete slots information which are between <start-slot> and <end-slot> from current node.",
            "FLUSHSLOTS",
            "    Delete current node own slots information.",
            "FORGET <node-id>",
            "    Remove a node from the cluster.",
            "GETKEYSINSLOT <slot> <count>",
            "    Return key names stored by current node in a slot.",
            "INFO",
            "    Return information about the cluster.",
            "KEYSLOT <key>",
            "    Return the hash slot for <key>.",
            "LINKS",
            "    Return information about all network links between this node and its peers.",
            "MEET <ip> <port> [<bus-port>]",
            "    Connect nodes into a working cluster.",
            "MYID",
            "    Return the node id.",
            "MYSHARDID",
            "    Return the node's shard id.",
            "NODES",
            "    Return cluster configuration seen by node. Output format:",
            "    <id> <ip:port@bus-port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
            "REPLICAS <node-id>",
            "    Return <node-id> replicas.",
            "RESET [HARD|SOFT]",
            "    Reset current node (default: soft).",
            "SAVECONFIG",
            "    Force saving cluster configuration on disk.",
            "SET-CONFIG-EPOCH <epoch>",
            "    Set config epoch of current node.",
            "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
            "    Set slot state.",
            "SHARDS",
            "    Return information about slot range mappings and the nodes associated with them.",
            "SLAVES <node-id>",
            "    Return <node-id> replicas.",
            "SLOTS",
            "    Return information about slots range mappings. Each range is made of:",
            "    start, end, master and replicas IP addresses, ports and ids",
        ],
    );
    Ok(())
}

fn replicate(ctx: &mut Ctx) -> Result<(), Error> {
    let name = ctx.args[2].clone();
    let has_keys = !ctx.srv.db.is_empty();
    let cl = cluster(ctx)?;
    let id = node_id(cl, &name).ok_or_else(|| unknown_node(&name))?;
    if id == cl.myself {
        return err("ERR Can't replicate myself");
    }
    if !cl.nodes[&id].is_master() {
        return err("ERR I can only replicate a master, not a replica.");
    }
    let me = cl.myself.clone();
    if cl.me().is_master() && (cl.slot_count(&me) > 0 || has_keys) {
        return err("ERR To set a master the node must be empty and without assigned slots.");
    }
    cl.set_role(&me, Some(id));
    changed(ctx);
    ctx.out.ok();
    Ok(())
}

fn failover(ctx: &mut Ctx) -> Result<(), Error> {
    let mode = match ctx.args.get(2) {
        None => "",
        Some(a) if is(a, "force") => "force",
        Some(a) if is(a, "takeover") => "takeover",
        Some(_) => return Err(Error::Syntax),
    };
    if ctx.args.len() > 3 {
        return Err(Error::Syntax);
    }
    let now = ctx.now;
    let cl = cluster(ctx)?;
    crate::cluster::failover::manual(cl, mode, now).map_err(Error::Msg)?;
    changed(ctx);
    ctx.out.ok();
    Ok(())
}
