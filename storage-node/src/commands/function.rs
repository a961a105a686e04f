//! FUNCTION and FCALL: Lua libraries registered with `redis.register_function` (functions.c's
//! commands; the engine is `scripting::functions`). Library changes bump `dirty`, so FUNCTION
//! LOAD/DELETE/FLUSH/RESTORE propagate as given; FCALL propagates the writes it made.

use bytes::Bytes;
use protocol::command::{flags, CommandSpec};

use super::{arg_i64, err, is, Ctx, Error, Handler};
use crate::scripting::functions::flag;
use crate::scripting::{self, RunFlags};
use crate::server::Server;

pub fn register(h: &mut Vec<(&'static str, Handler)>) {
    h.extend([
        ("fcall", fcall as Handler),
        ("fcall_ro", fcall_ro),
        ("function|load", function_load),
        ("function|delete", function_delete),
        ("function|flush", function_flush),
        ("function|restore", function_restore),
        ("function|list", function_list),
        ("function|dump", function_dump),
        ("function|stats", function_stats),
        ("function|kill", function_kill),
        ("function|help", function_help),
    ]);
}

/// The flags a command runs with: FCALL's are derived from the function it calls, as Redis's
/// scriptFlagsToCmdFlags does (a writing function makes FCALL a write, denyoom unless
/// `allow-oom`), so the dispatcher's replica, disk-error and memory checks see them.
pub fn effective_flags(srv: &Server, spec: &CommandSpec, args: &[Bytes]) -> u32 {
    let script_flags = match spec.name {
        "fcall" | "fcall_ro" => args.get(1).and_then(|name| srv.scripting.functions.find(name)).map(|f| f.flags),
        // Only a body with a shebang has flags, read from it even before it is compiled.
        "eval" | "eval_ro" if args.get(1).is_some_and(|b| b.starts_with(b"#!")) => {
            scripting::shebang_flags(&args[1]).ok().and_then(|(f, _)| f)
        }
        "evalsha" | "evalsha_ro" => args.get(1).and_then(|sha| srv.scripting.loaded(sha)).and_then(|s| s.flags),
        _ => None,
    };
    let Some(f) = script_flags else { return spec.flags };
    let mut out = spec.flags & !(flags::STALE | flags::DENYOOM | flags::WRITE | flags::MAY_REPLICATE);
    if f & (flag::ALLOW_OOM | flag::NO_WRITES) == 0 {
        out |= flags::DENYOOM;
    }
    if f & flag::NO_WRITES == 0 {
        out |= flags::WRITE;
    }
    if f & flag::ALLOW_STALE != 0 {
        out |= flags::STALE;
    }
    out
}

fn fcall(ctx: &mut Ctx) -> Result<(), Error> {
    fcall_generic(ctx, false)
}

fn fcall_ro(ctx: &mut Ctx) -> Result<(), Error> {
    fcall_generic(ctx, true)
}

/// fcallCommandGeneric and scriptPrepareForRun: find the function, split keys from arguments,
/// and refuse what its flags do not allow here.
fn fcall_generic(ctx: &mut Ctx, ro: bool) -> Result<(), Error> {
    let args = ctx.args;
    let Some(f) = ctx.srv.scripting.functions.find(&args[1]) else { return err("ERR Function not found") };
    let numkeys = arg_i64(&args[2]).map_err(|_| Error::Msg("ERR Bad number of keys provided".into()))?;
    if numkeys > (args.len() - 3) as i64 {
        return err("ERR Number of keys can't be greater than number of args");
    }
    if numkeys < 0 {
        return err("ERR Number of keys can't be negative");
    }
    super::prepare_script(ctx.srv, ctx.client, f.flags, ro).map_err(Error::Msg)?;
    let split = 3 + numkeys as usize;
    let flags = RunFlags::of(f.flags, ro, !ctx.client.is_master);
    scripting::run_function(ctx.srv, ctx.client, &f, args, split, flags, ctx.out)
}

fn subcommand_syntax_error(ctx: &Ctx) -> Result<(), Error> {
    let sub = String::from_utf8_lossy(&ctx.args[1]);
    err(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try FUNCTION HELP.",
        protocol::introspect::truncate(&sub, 128)
    ))
}

fn function_load(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let mut replace = false;
    for a in &args[2..args.len() - 1] {
        if !is(a, "replace") {
            return err(format!("ERR Unknown option given: {}", String::from_utf8_lossy(a)));
        }
        replace = true;
    }
    let code = &args[args.len() - 1];
    let name = ctx.srv.scripting.functions.load(code, replace).map_err(Error::Msg)?;
    ctx.srv.dirty += 1;
    ctx.out.bulk(name.as_bytes());
    Ok(())
}

fn function_delete(ctx: &mut Ctx) -> Result<(), Error> {
    let name = String::from_utf8_lossy(&ctx.args[2]).into_owned();
    if !ctx.srv.scripting.functions.delete(&name) {
        return err("ERR Library not found");
    }
    ctx.srv.dirty += 1;
    ctx.out.ok();
    Ok(())
}

fn function_flush(ctx: &mut Ctx) -> Result<(), Error> {
    match ctx.args.len() {
        2 => {}
        3 if is(&ctx.args[2], "async") || is(&ctx.args[2], "sync") => {}
        3 => return err("ERR FUNCTION FLUSH only supports SYNC|ASYNC option"),
        _ => return subcommand_syntax_error(ctx),
    }
    ctx.srv.scripting.functions.flush().map_err(|e| Error::Msg(format!("ERR {e}")))?;
    ctx.srv.dirty += 1;
    ctx.out.ok();
    Ok(())
}

/// How FUNCTION RESTORE treats the libraries already loaded.
#[derive(PartialEq)]
enum Policy {
    Flush,
    Append,
    Replace,
}

fn function_restore(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    if args.len() > 4 {
        return subcommand_syntax_error(ctx);
    }
    let policy = match args.get(3) {
        None => Policy::Append,
        Some(a) if is(a, "flush") => Policy::Flush,
        Some(a) if is(a, "append") => Policy::Append,
        Some(a) if is(a, "replace") => Policy::Replace,
        Some(_) => return err("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."),
    };
    let codes = rdb::restore_functions(&args[2]).map_err(|e| Error::Msg(format!("ERR {e}")))?;
    let functions = &mut ctx.srv.scripting.functions;
    if policy == Policy::Flush {
        functions.replace_all(&codes).map_err(Error::Msg)?;
    } else {
        functions.add_all(&codes, policy == Policy::Replace).map_err(Error::Msg)?;
    }
    ctx.srv.dirty += 1;
    ctx.out.ok();
    Ok(())
}

fn function_list(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let (mut with_code, mut pattern): (bool, Option<&Bytes>) = (false, None);
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        if !with_code && is(a, "withcode") {
            with_code = true;
        } else if pattern.is_none() && is(a, "libraryname") {
            if i + 1 >= args.len() {
                return err("ERR library name argument was not given");
            }
            i += 1;
            pattern = Some(&args[i]);
        } else {
            return err(format!("ERR Unknown argument {}", String::from_utf8_lossy(a)));
        }
        i += 1;
    }
    let libs: Vec<_> = ctx
        .srv
        .scripting
        .functions
        .libraries()
        .filter(|l| pattern.is_none_or(|p| protocol::glob::glob_match_nocase(p, l.name.as_bytes())))
        .collect();
    let out = &mut *ctx.out;
    out.array(libs.len());
    for lib in libs {
        out.map(if with_code { 4 } else { 3 });
        out.bulk(b"library_name");
        out.bulk(lib.name.as_bytes());
        out.bulk(b"engine");
        out.bulk(b"LUA");
        out.bulk(b"functions");
        let mut functions: Vec<_> = lib.functions.iter().collect();
        functions.sort_by(|a, b| a.name.cmp(&b.name));
        out.array(functions.len());
        for f in functions {
            out.map(3);
            out.bulk(b"name");
            out.bulk(f.name.as_bytes());
            out.bulk(b"description");
            match &f.description {
                Some(d) => out.bulk(d),
                None => out.null(),
            }
            out.bulk(b"flags");
            let names: Vec<&str> = flag::NAMES.iter().filter(|(fl, _)| f.flags & fl != 0).map(|(_, n)| *n).collect();
            out.set(names.len());
            for n in names {
                out.simple(n);
            }
        }
        if with_code {
            out.bulk(b"library_code");
            out.bulk(&lib.code);
        }
    }
    Ok(())
}

fn function_dump(ctx: &mut Ctx) -> Result<(), Error> {
    let payload = rdb::dump_functions(&ctx.srv.scripting.functions.codes());
    ctx.out.bulk(&payload);
    Ok(())
}

fn function_stats(ctx: &mut Ctx) -> Result<(), Error> {
    // A running function answers FUNCTION STATS itself (see scripting::busy).
    let (libraries, functions) = ctx.srv.scripting.functions.counts();
    let out = &mut *ctx.out;
    out.map(2);
    out.bulk(b"running_script");
    out.null();
    out.bulk(b"engines");
    out.map(1);
    out.bulk(b"LUA");
    out.map(2);
    out.bulk(b"libraries_count");
    out.int(libraries as i64);
    out.bulk(b"functions_count");
    out.int(functions as i64);
    Ok(())
}

fn function_kill(_ctx: &mut Ctx) -> Result<(), Error> {
    // Functions run to completion on the serving thread; a busy one is killed from its hook.
    err("NOTBUSY No scripts in execution right now.")
}

fn function_help(ctx: &mut Ctx) -> Result<(), Error> {
    // Redis words the HELP line of FUNCTION HELP its own way ("Prints"), so it is written here.
    let lines: &[&str] = &[
            "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Create a new library with the given library name and code.",
            "DELETE <LIBRARY NAME>",
            "    Delete the given library.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Return general information on all the libraries:",
            "    * Library name",
            "    * The engine used to run the Library",
            "    * Library description",
            "    * Functions list",
            "    * Library code (if WITHCODE is given)",
            "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
            "STATS",
            "    Return information about the current function running:",
            "    * Function name",
            "    * Command used to run the function",
            "    * Duration in MS that the function is running",
            "    If no function is running, return nil",
            "    In addition, returns a list of available engines.",
            "KILL",
            "    Kill the current running function.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
            "DUMP",
            "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
            "    control how to handle existing libraries (default APPEND):",
            "    * FLUSH: delete all existing libraries.",
            "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
            "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
            "      libraries with the new libraries (notice that even on this option there is a chance of failure",
            "      in case of functions name collision with another library).",
            "HELP",
            "    Prints this help.",
    ];
    ctx.out.array(lines.len());
    for l in lines {
        ctx.out.simple(l);
    }
    Ok(())
}
