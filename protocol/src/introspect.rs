//! The COMMAND family (COMMAND, COUNT, INFO, LIST, DOCS, GETKEYS, HELP), answered from the
//! command table. The node and the proxy describe the commands each serves with it, so both
//! answer from the one table that also drives their dispatch, routing and ACL checks.

use bytes::Bytes;

use crate::command::{acl, flags, lookup, CommandSpec, KeySpec, COMMANDS};
use crate::encode::Reply;
use crate::glob::glob_match_nocase;

/// Answers `args` (`COMMAND [subcommand ...]`) into `out`; `serves` says which commands of the
/// table this server runs. An error is the reply text without its leading `-`.
pub fn command(out: &mut Reply, args: &[Bytes], serves: &dyn Fn(&CommandSpec) -> bool) -> Result<(), String> {
    let Some(sub) = args.get(1) else {
        all(out, serves);
        return Ok(());
    };
    let Some(spec) = lookup(b"command").and_then(|c| c.subcommand(sub)) else {
        return Err(format!("ERR unknown subcommand '{}'. Try COMMAND HELP.", String::from_utf8_lossy(sub)));
    };
    if !spec.arity_ok(args.len()) {
        return Err(format!("ERR wrong number of arguments for '{}' command", spec.name));
    }
    match spec.name {
        "command|count" => out.int(top_level(serves).count() as i64),
        "command|info" if args.len() == 2 => all(out, serves),
        "command|info" => {
            out.array(args.len() - 2);
            for name in &args[2..] {
                match find(name, serves) {
                    Some(spec) => info(out, spec, serves),
                    None => out.null_array(),
                }
            }
        }
        "command|list" => list(out, args, serves)?,
        "command|docs" => docs(out, args, serves),
        "command|getkeys" => getkeys(out, &args[2..])?,
        _ => help(out),
    }
    Ok(())
}

fn top_level<'a>(serves: &'a dyn Fn(&CommandSpec) -> bool) -> impl Iterator<Item = &'static CommandSpec> + 'a {
    COMMANDS.iter().filter(move |c| serves(c))
}

fn find(name: &[u8], serves: &dyn Fn(&CommandSpec) -> bool) -> Option<&'static CommandSpec> {
    let text = std::str::from_utf8(name).ok()?;
    let spec = match text.split_once('|') {
        Some((top, sub)) => lookup(top.as_bytes())?.subcommand(sub.as_bytes())?,
        None => lookup(name)?,
    };
    serves(spec).then_some(spec)
}

fn all(out: &mut Reply, serves: &dyn Fn(&CommandSpec) -> bool) {
    let specs: Vec<_> = top_level(serves).collect();
    out.array(specs.len());
    for s in specs {
        info(out, s, serves);
    }
}

/// One COMMAND INFO entry, in Redis 7.0's ten-field shape.
fn info(out: &mut Reply, spec: &CommandSpec, serves: &dyn Fn(&CommandSpec) -> bool) {
    out.array(10);
    out.bulk(spec.name.as_bytes());
    out.int(spec.arity as i64);
    let movable = matches!(spec.keys, KeySpec::NumKeys { .. } | KeySpec::Keyword { .. } | KeySpec::Streams { .. });
    let mut fl: Vec<&str> = flags::NAMES
        .iter()
        .filter(|(f, _)| spec.flags & f != 0 && *f != flags::MAY_REPLICATE)
        .map(|(_, n)| *n)
        .collect();
    if movable {
        // Redis prints it between no_multi and allow_busy.
        let at = fl.iter().position(|f| *f == "allow_busy").unwrap_or(fl.len());
        fl.insert(at, "movablekeys");
    }
    out.set(fl.len());
    for f in fl {
        out.simple(f);
    }
    // Redis's legacy range: the fixed key of a command whose other keys follow a count.
    let (first, last, step) = match spec.keys {
        KeySpec::NumKeys { fixed: Some(k), .. } => (k as i32, k as i32, 1),
        _ => spec.key_range(),
    };
    out.int(first as i64);
    out.int(last as i64);
    out.int(step as i64);
    let cats = spec.categories();
    let names: Vec<&str> = acl::NAMES.iter().filter(|(c, _)| cats & c != 0).map(|(_, n)| *n).collect();
    out.set(names.len());
    for n in names {
        out.simple(&format!("@{n}"));
    }
    out.array(0); // tips
    out.array(0); // key specs
    let subs: Vec<&CommandSpec> = spec.subcommands.iter().filter(|s| serves(s)).collect();
    out.array(subs.len());
    for s in subs {
        info(out, s, serves);
    }
}

fn list(out: &mut Reply, args: &[Bytes], serves: &dyn Fn(&CommandSpec) -> bool) -> Result<(), String> {
    let is = |a: &Bytes, s: &str| a.eq_ignore_ascii_case(s.as_bytes());
    let filter: Box<dyn Fn(&CommandSpec) -> bool> = match args.len() {
        2 => Box::new(|_| true),
        5 if is(&args[2], "filterby") => {
            let v = args[4].clone();
            if is(&args[3], "module") {
                Box::new(|_| false)
            } else if is(&args[3], "aclcat") {
                let cat = acl::NAMES.iter().find(|(_, n)| v.eq_ignore_ascii_case(n.as_bytes())).map(|(c, _)| *c);
                Box::new(move |s: &CommandSpec| cat.is_some_and(|c| s.categories() & c != 0))
            } else if is(&args[3], "pattern") {
                Box::new(move |s: &CommandSpec| glob_match_nocase(&v, s.name.as_bytes()))
            } else {
                return Err("ERR syntax error".into());
            }
        }
        _ => return Err("ERR syntax error".into()),
    };
    // Containers are listed by name, leaf commands and subcommands by their full names.
    let names: Vec<&str> = COMMANDS
        .iter()
        .flat_map(|c| std::iter::once(c).chain(c.subcommands.iter()))
        .filter(|s| serves(s) && filter(s))
        .map(|s| s.name)
        .collect();
    out.array(names.len());
    for n in names {
        out.bulk(n.as_bytes());
    }
    Ok(())
}

/// The documentation group Redis files a command under, from its categories.
/// COMMAND DOCS's group, from the command's ACL categories (the first that names one).
const GROUPS: &[(u32, &str)] = &[
    (acl::PUBSUB, "pubsub"),
    (acl::SCRIPTING, "scripting"),
    (acl::TRANSACTION, "transactions"),
    (acl::GEO, "geo"),
    (acl::BITMAP, "bitmap"),
    (acl::HYPERLOGLOG, "hyperloglog"),
    (acl::STREAM, "stream"),
    (acl::HASH, "hash"),
    (acl::LIST, "list"),
    (acl::SET, "set"),
    (acl::SORTEDSET, "sorted-set"),
    (acl::STRING, "string"),
    (acl::CONNECTION, "connection"),
    (acl::KEYSPACE, "generic"),
];

/// Commands Redis files elsewhere than their categories say.
const GROUP_EXCEPTIONS: &[(&str, &str)] = &[
    ("cluster", "cluster"),
    ("readonly", "cluster"),
    ("readwrite", "cluster"),
    ("asking", "cluster"),
    ("command", "server"),
    ("dbsize", "server"),
    ("flushall", "server"),
    ("flushdb", "server"),
    ("restore-asking", "server"),
    ("swapdb", "server"),
    ("wait", "generic"),
];

fn group(spec: &CommandSpec) -> &'static str {
    let name = spec.name.split('|').next().unwrap_or(spec.name);
    if let Some((_, g)) = GROUP_EXCEPTIONS.iter().find(|(n, _)| *n == name) {
        return g;
    }
    // A container is filed under its subcommands' group.
    let cats = spec.subcommands.iter().fold(spec.categories(), |c, s| c | s.categories());
    // A command over several collection types (SORT) is filed under generic.
    if [acl::SET, acl::SORTEDSET, acl::LIST].iter().filter(|c| cats & **c != 0).count() > 1 {
        return "generic";
    }
    GROUPS.iter().find(|(c, _)| cats & c != 0).map_or("server", |(_, g)| g)
}

fn docs(out: &mut Reply, args: &[Bytes], serves: &dyn Fn(&CommandSpec) -> bool) {
    let specs: Vec<&'static CommandSpec> = if args.len() == 2 {
        top_level(serves).collect()
    } else {
        args[2..].iter().filter_map(|n| find(n, serves)).collect()
    };
    out.map(specs.len());
    for s in specs {
        out.bulk(s.name.as_bytes());
        out.map(1);
        out.bulk(b"group");
        out.bulk(group(s).as_bytes());
    }
}

fn getkeys(out: &mut Reply, args: &[Bytes]) -> Result<(), String> {
    let Some(mut spec) = lookup(&args[0]) else {
        return Err("ERR Invalid command specified".into());
    };
    if !spec.subcommands.is_empty() && args.len() > 1 {
        spec = spec.subcommand(&args[1]).unwrap_or(spec);
    }
    if !spec.arity_ok(args.len()) {
        return Err("ERR Invalid number of arguments specified for command".into());
    }
    let idx = spec.key_indexes(args.len(), |i| args.get(i).map(|a| &a[..])).map_err(str::to_string)?;
    if idx.is_empty() {
        return Err("ERR The command has no key arguments".into());
    }
    out.array(idx.len());
    for i in idx {
        out.bulk(&args[i]);
    }
    Ok(())
}

fn help(out: &mut Reply) {
    out.help(
        "COMMAND",
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
        ],
    );
}

/// A string cut to at most `n` characters.
pub fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// `ERR unknown command` with the first arguments quoted, as Redis 7.0 prints it.
pub fn unknown_command(args: &[Bytes]) -> String {
    let mut msg = format!(
        "ERR unknown command '{}', with args beginning with: ",
        truncate(&String::from_utf8_lossy(&args[0]), 128)
    );
    for a in args.iter().skip(1) {
        let a = String::from_utf8_lossy(a);
        let room = 128usize.saturating_sub(msg.len());
        if room == 0 {
            break;
        }
        msg.push_str(&format!("'{}' ", truncate(&a, room)));
    }
    msg
}
