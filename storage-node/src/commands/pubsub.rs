//! Pub/Sub: channel, pattern and shard-channel subscriptions, PUBLISH/SPUBLISH and PUBSUB
//! introspection. Messages for other clients go through their outbox; a subscriber whose
//! outbox passes the `pubsub` output-buffer limit is disconnected instead of growing memory.

use std::collections::HashMap;
use std::time::Instant;

use bytes::Bytes;
use protocol::glob::glob_match;
use protocol::{Proto, Reply};

use super::{help_reply, Ctx, Error, Handler};
use crate::server::{Client, ClientHandle, Server};

pub fn register(h: &mut Vec<(&'static str, Handler)>) {
    h.extend([
        ("subscribe", subscribe as Handler),
        ("unsubscribe", unsubscribe),
        ("psubscribe", psubscribe),
        ("punsubscribe", punsubscribe),
        ("ssubscribe", ssubscribe),
        ("sunsubscribe", sunsubscribe),
        ("publish", publish),
        ("spublish", spublish),
        ("pubsub|channels", pubsub_channels),
        ("pubsub|numsub", pubsub_numsub),
        ("pubsub|numpat", pubsub_numpat),
        ("pubsub|shardchannels", pubsub_shardchannels),
        ("pubsub|shardnumsub", pubsub_shardnumsub),
        ("pubsub|help", pubsub_help),
    ]);
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Channel,
    Pattern,
    Shard,
}

impl Kind {
    fn names(self) -> (&'static [u8], &'static [u8]) {
        match self {
            Kind::Channel => (b"subscribe", b"unsubscribe"),
            Kind::Pattern => (b"psubscribe", b"punsubscribe"),
            Kind::Shard => (b"ssubscribe", b"sunsubscribe"),
        }
    }
}

fn registry(srv: &mut Server, kind: Kind) -> &mut HashMap<Box<[u8]>, Vec<u64>> {
    match kind {
        Kind::Channel => &mut srv.channels,
        Kind::Pattern => &mut srv.patterns,
        Kind::Shard => &mut srv.shard_channels,
    }
}

/// The `[kind, name, count]` confirmation (a push frame in RESP3).
fn confirm(out: &mut Reply, what: &[u8], name: Option<&[u8]>, count: usize) {
    out.push(3);
    out.bulk(what);
    match name {
        Some(n) => out.bulk(n),
        None => out.null(),
    }
    out.int(count as i64);
}

fn sub(ctx: &mut Ctx, kind: Kind) -> Result<(), Error> {
    for name in &ctx.args[1..] {
        let name: Box<[u8]> = Box::from(&name[..]);
        let set = match kind {
            Kind::Channel => &mut ctx.client.subs,
            Kind::Pattern => &mut ctx.client.psubs,
            Kind::Shard => &mut ctx.client.ssubs,
        };
        if set.insert(name.clone()) {
            registry(ctx.srv, kind).entry(name.clone()).or_default().push(ctx.client.id);
        }
        let count = if kind == Kind::Shard { ctx.client.ssubs.len() } else { ctx.client.sub_count() };
        confirm(ctx.out, kind.names().0, Some(&name), count);
    }
    Ok(())
}

fn unsub(ctx: &mut Ctx, kind: Kind) -> Result<(), Error> {
    let names: Vec<Box<[u8]>> = if ctx.args.len() > 1 {
        ctx.args[1..].iter().map(|a| Box::from(&a[..])).collect()
    } else {
        let set = match kind {
            Kind::Channel => &ctx.client.subs,
            Kind::Pattern => &ctx.client.psubs,
            Kind::Shard => &ctx.client.ssubs,
        };
        set.iter().cloned().collect()
    };
    if names.is_empty() {
        let count = if kind == Kind::Shard { ctx.client.ssubs.len() } else { ctx.client.sub_count() };
        confirm(ctx.out, kind.names().1, None, count);
        return Ok(());
    }
    for name in names {
        let set = match kind {
            Kind::Channel => &mut ctx.client.subs,
            Kind::Pattern => &mut ctx.client.psubs,
            Kind::Shard => &mut ctx.client.ssubs,
        };
        if set.remove(&name) {
            let map = registry(ctx.srv, kind);
            if let Some(ids) = map.get_mut(&name) {
                ids.retain(|id| *id != ctx.client.id);
                if ids.is_empty() {
                    map.remove(&name);
                }
            }
        }
        let count = if kind == Kind::Shard { ctx.client.ssubs.len() } else { ctx.client.sub_count() };
        confirm(ctx.out, kind.names().1, Some(&name), count);
    }
    Ok(())
}

fn subscribe(ctx: &mut Ctx) -> Result<(), Error> {
    sub(ctx, Kind::Channel)
}
fn psubscribe(ctx: &mut Ctx) -> Result<(), Error> {
    sub(ctx, Kind::Pattern)
}
fn ssubscribe(ctx: &mut Ctx) -> Result<(), Error> {
    sub(ctx, Kind::Shard)
}
fn unsubscribe(ctx: &mut Ctx) -> Result<(), Error> {
    unsub(ctx, Kind::Channel)
}
fn punsubscribe(ctx: &mut Ctx) -> Result<(), Error> {
    unsub(ctx, Kind::Pattern)
}
fn sunsubscribe(ctx: &mut Ctx) -> Result<(), Error> {
    unsub(ctx, Kind::Shard)
}

/// Encodes a message frame for a subscriber speaking `proto`.
fn message(proto: Proto, parts: &[&[u8]]) -> bytes::BytesMut {
    let mut r = Reply { buf: bytes::BytesMut::new(), proto };
    r.push(parts.len());
    for p in parts {
        r.bulk(p);
    }
    r.buf
}

/// Sends a frame to client `id`: straight into the reply buffer when it is the caller (so it
/// lands in order with the caller's replies), else through its outbox with the buffer limit.
fn send(ctx: &mut Ctx, id: u64, parts: &[&[u8]]) {
    if id == ctx.client.id {
        let frame = message(ctx.client.proto, parts);
        ctx.out.raw(&frame);
        return;
    }
    deliver_to(ctx.srv, id, parts);
}

/// Queues a frame in another client's outbox, within its output buffer limit.
fn deliver_to(srv: &Server, id: u64, parts: &[&[u8]]) {
    let Some(handle) = srv.clients.borrow().get(&id).cloned() else { return };
    let frame = message(handle.proto.get(), parts);
    handle.deliver(&frame);
    enforce_limit(srv, &handle);
}

/// Disconnects a subscriber whose pending output passed the pubsub hard limit, or stayed above
/// the soft limit for longer than allowed (`client-output-buffer-limit pubsub`).
fn enforce_limit(srv: &Server, handle: &ClientHandle) {
    let Some((_, hard, soft, secs)) = srv.config.client_output_buffer_limit.iter().find(|(c, ..)| c == "pubsub") else {
        return;
    };
    let pending = handle.outbox.borrow().len() as u64;
    if *hard > 0 && pending > *hard {
        handle.kill();
    } else if *soft > 0 && pending > *soft {
        match handle.soft_since.get() {
            None => handle.soft_since.set(Some(Instant::now())),
            Some(t) if t.elapsed().as_secs() >= *secs => handle.kill(),
            Some(_) => {}
        }
    } else {
        handle.soft_since.set(None);
    }
}

fn publish(ctx: &mut Ctx) -> Result<(), Error> {
    let (channel, msg) = (ctx.args[1].clone(), ctx.args[2].clone());
    let receivers = deliver_publish(ctx.srv, Some((ctx.client, &mut *ctx.out)), &channel, &msg);
    // In a cluster the message reaches the subscribers of every node.
    if let Some(cluster) = ctx.srv.cluster.as_mut() {
        crate::cluster::bus::broadcast_publish(cluster, &channel, &msg);
    }
    ctx.out.int(receivers);
    Ok(())
}

/// Delivers a PUBLISH to this node's channel and pattern subscribers; `caller` (when the
/// publisher is itself subscribed) gets its copy in order with its replies.
pub fn deliver_publish(
    srv: &mut Server,
    mut caller: Option<(&mut Client, &mut Reply)>,
    channel: &[u8],
    msg: &[u8],
) -> i64 {
    let mut receivers = 0;
    let mut frames: Vec<(u64, Vec<&[u8]>)> = Vec::new();
    if let Some(ids) = srv.channels.get(channel) {
        frames.extend(ids.iter().map(|id| (*id, vec![&b"message"[..], channel, msg])));
    }
    let patterns: Vec<(Box<[u8]>, Vec<u64>)> =
        srv.patterns.iter().filter(|(p, _)| glob_match(p, channel)).map(|(p, ids)| (p.clone(), ids.clone())).collect();
    for (pat, ids) in &patterns {
        frames.extend(ids.iter().map(|id| (*id, vec![&b"pmessage"[..], pat, channel, msg])));
    }
    for (id, parts) in frames {
        receivers += 1;
        if let Some((client, out)) = caller.as_mut() {
            if client.id == id {
                out.raw(&message(client.proto, &parts));
                continue;
            }
        }
        deliver_to(srv, id, &parts);
    }
    receivers
}

fn spublish(ctx: &mut Ctx) -> Result<(), Error> {
    let (channel, msg): (Bytes, Bytes) = (ctx.args[1].clone(), ctx.args[2].clone());
    let ids: Vec<u64> = ctx.srv.shard_channels.get(&channel[..]).cloned().unwrap_or_default();
    for id in &ids {
        send(ctx, *id, &[b"smessage", &channel, &msg]);
    }
    ctx.out.int(ids.len() as i64);
    Ok(())
}

fn list_channels(ctx: &mut Ctx, kind: Kind) -> Result<(), Error> {
    let pattern = ctx.args.get(2).cloned();
    let names: Vec<Box<[u8]>> =
        registry(ctx.srv, kind).keys().filter(|n| pattern.as_ref().is_none_or(|p| glob_match(p, n))).cloned().collect();
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk(&n);
    }
    Ok(())
}

fn numsub(ctx: &mut Ctx, kind: Kind) -> Result<(), Error> {
    let args = ctx.args;
    ctx.out.map(args.len() - 2);
    for ch in &args[2..] {
        let n = registry(ctx.srv, kind).get(&ch[..]).map_or(0, |v| v.len());
        ctx.out.bulk(ch);
        ctx.out.int(n as i64);
    }
    Ok(())
}

fn pubsub_channels(ctx: &mut Ctx) -> Result<(), Error> {
    list_channels(ctx, Kind::Channel)
}
fn pubsub_shardchannels(ctx: &mut Ctx) -> Result<(), Error> {
    list_channels(ctx, Kind::Shard)
}
fn pubsub_numsub(ctx: &mut Ctx) -> Result<(), Error> {
    numsub(ctx, Kind::Channel)
}
fn pubsub_shardnumsub(ctx: &mut Ctx) -> Result<(), Error> {
    numsub(ctx, Kind::Shard)
}

fn pubsub_numpat(ctx: &mut Ctx) -> Result<(), Error> {
    let n = ctx.srv.patterns.len();
    ctx.out.int(n as i64);
    Ok(())
}

fn pubsub_help(ctx: &mut Ctx) -> Result<(), Error> {
    help_reply(
        ctx.out,
        "PUBSUB",
        &[
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
        ],
    );
    Ok(())
}

/// Shard channels whose slot this node no longer serves lose their subscribers, who get a
/// `sunsubscribe` message, as Redis 7.0 does when a slot moves away; they resubscribe where
/// the slot went.
pub fn drop_unserved_shard_channels(srv: &mut Server) {
    let Some(cl) = srv.cluster.as_deref() else { return };
    let served = cl.my_master().clone();
    let gone: Vec<Box<[u8]>> = srv
        .shard_channels
        .keys()
        .filter(|ch| cl.slots[protocol::slot::key_slot(ch) as usize].as_ref() != Some(&served))
        .cloned()
        .collect();
    for ch in gone {
        for id in srv.shard_channels.remove(&ch).unwrap_or_default() {
            let Some(handle) = srv.clients.borrow().get(&id).cloned() else { continue };
            // The client running this very command holds its own state; it sees the count drop next time.
            let remaining = match handle.state.try_borrow_mut() {
                Ok(mut c) => {
                    c.ssubs.remove(&ch);
                    c.sub_count()
                }
                Err(_) => 0,
            };
            let mut r = Reply { buf: bytes::BytesMut::new(), proto: handle.proto.get() };
            r.push(3);
            r.bulk(b"sunsubscribe");
            r.bulk(&ch);
            r.int(remaining as i64);
            handle.deliver(&r.buf);
        }
    }
}
