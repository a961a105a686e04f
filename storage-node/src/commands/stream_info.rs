//! XINFO STREAM [FULL [COUNT n]], XINFO GROUPS and XINFO CONSUMERS, in Redis 7.0's shapes
//! (maps in RESP3, flat arrays in RESP2).

use super::stream::reply_entry;
use super::stream_group::estimate_read;
use super::{arg_i64, err, get_stream, is, Ctx, Error, Handler};
use crate::keyspace::stream::{Stream, StreamId};
use crate::keyspace::stream_cg::{Group, ENTRIES_READ_UNKNOWN};
use protocol::Reply;

pub fn register(h: &mut Vec<(&'static str, Handler)>) {
    h.extend([
        ("xinfo|stream", xinfo as Handler),
        ("xinfo|groups", xinfo),
        ("xinfo|consumers", xinfo),
        ("xinfo|help", xinfo_help),
    ]);
}

fn syntax(ctx: &Ctx) -> Error {
    Error::Msg(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try XINFO HELP.",
        protocol::introspect::truncate(&String::from_utf8_lossy(&ctx.args[1]), 128)
    ))
}

fn xinfo_help(ctx: &mut Ctx) -> Result<(), Error> {
    // Redis's stream help says "Prints", unlike the shared helper.
    let lines = [
        "CONSUMERS <key> <groupname>",
        "    Show consumers of <groupname>.",
        "GROUPS <key>",
        "    Show the stream consumer groups.",
        "STREAM <key> [FULL [COUNT <count>]",
        "    Show information about the stream.",
    ];
    let out = &mut *ctx.out;
    out.array(lines.len() + 3);
    out.simple("XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
    for l in lines {
        out.simple(l);
    }
    out.simple("HELP");
    out.simple("    Prints this help.");
    Ok(())
}

fn id(out: &mut Reply, id: StreamId) {
    out.bulk(&id.to_bytes());
}

fn key(out: &mut Reply, k: &str) {
    out.bulk(k.as_bytes());
}

/// The group's lag as Redis 7.0 computes it (streamReplyWithCGLag); null when unknown.
fn lag(out: &mut Reply, s: &Stream, g: &Group) {
    if s.entries_added == 0 {
        return out.int(0);
    }
    if g.entries_read != ENTRIES_READ_UNKNOWN && !s.range_has_tombstones(g.last_id, StreamId::MAX) {
        return out.int((s.entries_added as i64).wrapping_sub(g.entries_read));
    }
    match estimate_read(s, g.last_id) {
        ENTRIES_READ_UNKNOWN => out.null(),
        read => out.int((s.entries_added as i64).wrapping_sub(read)),
    }
}

fn entries_read(out: &mut Reply, g: &Group) {
    if g.entries_read == ENTRIES_READ_UNKNOWN {
        out.null();
    } else {
        out.int(g.entries_read);
    }
}

fn xinfo(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let sub = args[1].to_ascii_lowercase();
    let now = super::stream_group::clock(ctx);
    let mut count = 10i64;
    let full = match &sub[..] {
        b"stream" => match args.len() - 3 {
            0 => false,
            1 | 3 if is(&args[3], "full") => {
                if args.len() == 6 {
                    if !is(&args[4], "count") {
                        return Err(syntax(ctx));
                    }
                    count = arg_i64(&args[5])?.max(0);
                }
                true
            }
            _ => return Err(syntax(ctx)),
        },
        _ => false,
    };
    let bad = syntax(ctx);
    let Some(s) = get_stream(&mut ctx.srv.db, &args[2], ctx.now)? else { return Err(Error::NoSuchKey) };
    let out = &mut *ctx.out;
    match &sub[..] {
        b"consumers" if args.len() == 4 => {
            let Some(g) = s.groups.get(&args[3][..]) else {
                return err(format!(
                    "NOGROUP No such consumer group '{}' for key name '{}'",
                    String::from_utf8_lossy(&args[3]),
                    String::from_utf8_lossy(&args[2])
                ));
            };
            out.array(g.consumers.len());
            for (name, c) in &g.consumers {
                out.map(3);
                key(out, "name");
                out.bulk(name);
                key(out, "pending");
                out.int(c.pel.len() as i64);
                key(out, "idle");
                out.int(now.wrapping_sub(c.seen_time).max(0));
            }
        }
        b"groups" if args.len() == 3 => {
            out.array(s.groups.len());
            for (name, g) in &s.groups {
                out.map(6);
                key(out, "name");
                out.bulk(name);
                key(out, "consumers");
                out.int(g.consumers.len() as i64);
                key(out, "pending");
                out.int(g.pel.len() as i64);
                key(out, "last-delivered-id");
                id(out, g.last_id);
                key(out, "entries-read");
                entries_read(out, g);
                key(out, "lag");
                lag(out, s, g);
            }
        }
        b"stream" => stream_info(out, s, full, count as usize),
        _ => return Err(bad),
    }
    Ok(())
}

fn stream_info(out: &mut Reply, s: &Stream, full: bool, count: usize) {
    out.map(if full { 9 } else { 10 });
    key(out, "length");
    out.int(s.length as i64);
    key(out, "radix-tree-keys");
    out.int(s.node_count() as i64);
    key(out, "radix-tree-nodes");
    out.int(s.rax_nodes() as i64);
    key(out, "last-generated-id");
    id(out, s.last_id);
    key(out, "max-deleted-entry-id");
    id(out, s.max_deleted_id);
    key(out, "entries-added");
    out.int(s.entries_added as i64);
    key(out, "recorded-first-entry-id");
    id(out, s.first_id);
    if !full {
        key(out, "groups");
        out.int(s.groups.len() as i64);
        for (name, rev) in [("first-entry", false), ("last-entry", true)] {
            key(out, name);
            match s.range(StreamId::MIN, StreamId::MAX, rev, 1).first() {
                Some(e) => reply_entry(out, e),
                None => out.null(),
            }
        }
        return;
    }
    let limit = if count == 0 { usize::MAX } else { count };
    key(out, "entries");
    let entries = s.range(StreamId::MIN, StreamId::MAX, false, count);
    out.array(entries.len());
    for e in &entries {
        reply_entry(out, e);
    }
    key(out, "groups");
    out.array(s.groups.len());
    for (name, g) in &s.groups {
        out.map(7);
        key(out, "name");
        out.bulk(name);
        key(out, "last-delivered-id");
        id(out, g.last_id);
        key(out, "entries-read");
        entries_read(out, g);
        key(out, "lag");
        lag(out, s, g);
        key(out, "pel-count");
        out.int(g.pel.len() as i64);
        key(out, "pending");
        let pel: Vec<_> = g.pel.iter().take(limit).collect();
        out.array(pel.len());
        for (pid, p) in pel {
            out.array(4);
            id(out, *pid);
            out.bulk(&p.consumer);
            out.int(p.delivery_time);
            out.int(p.delivery_count as i64);
        }
        key(out, "consumers");
        out.array(g.consumers.len());
        for (cname, c) in &g.consumers {
            out.map(4);
            key(out, "name");
            out.bulk(cname);
            key(out, "seen-time");
            out.int(c.seen_time);
            key(out, "pel-count");
            out.int(c.pel.len() as i64);
            key(out, "pending");
            let ids: Vec<_> = c.pel.iter().take(limit).collect();
            out.array(ids.len());
            for pid in ids {
                out.array(3);
                id(out, *pid);
                let p = g.pel.get(pid);
                out.int(p.map_or(0, |p| p.delivery_time));
                out.int(p.map_or(0, |p| p.delivery_count as i64));
            }
        }
    }
}
