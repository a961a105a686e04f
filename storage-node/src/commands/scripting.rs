//! EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and the SCRIPT family.

use super::{arg_i64, err, help_reply, is, Ctx, Error, Handler};
use crate::scripting;

pub fn register(h: &mut Vec<(&'static str, Handler)>) {
    h.extend([
        ("eval", eval as Handler),
        ("evalsha", evalsha),
        ("eval_ro", eval_ro),
        ("evalsha_ro", evalsha_ro),
        ("script|load", script_load),
        ("script|exists", script_exists),
        ("script|flush", script_flush),
        ("script|kill", script_kill),
        ("script|help", script_help),
    ]);
}

/// Runs a script with the KEYS/ARGV split given by numkeys at `args[2]`.
fn run(ctx: &mut Ctx, script: &scripting::Script, readonly: bool) -> Result<(), Error> {
    let args = ctx.args;
    let numkeys = arg_i64(&args[2])?;
    if numkeys < 0 {
        return err("ERR Number of keys can't be negative");
    }
    if numkeys as usize > args.len() - 3 {
        return err("ERR Number of keys can't be greater than number of args");
    }
    let split = 3 + numkeys as usize;
    scripting::run(ctx.srv, ctx.client, script, &args[3..split], &args[split..], readonly, ctx.out)
}

fn eval_generic(ctx: &mut Ctx, readonly: bool) -> Result<(), Error> {
    let script = ctx.srv.scripting.load(&ctx.args[1])?;
    run(ctx, &script, readonly)
}

fn evalsha_generic(ctx: &mut Ctx, readonly: bool) -> Result<(), Error> {
    let Some(script) = ctx.srv.scripting.find(&ctx.args[1]) else {
        return err("NOSCRIPT No matching script. Please use EVAL.");
    };
    run(ctx, &script, readonly)
}

fn eval(ctx: &mut Ctx) -> Result<(), Error> {
    eval_generic(ctx, false)
}
fn eval_ro(ctx: &mut Ctx) -> Result<(), Error> {
    eval_generic(ctx, true)
}
fn evalsha(ctx: &mut Ctx) -> Result<(), Error> {
    evalsha_generic(ctx, false)
}
fn evalsha_ro(ctx: &mut Ctx) -> Result<(), Error> {
    evalsha_generic(ctx, true)
}

fn script_load(ctx: &mut Ctx) -> Result<(), Error> {
    let script = ctx.srv.scripting.load(&ctx.args[2])?;
    ctx.out.bulk(script.sha.as_bytes());
    Ok(())
}

fn script_exists(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    ctx.out.array(args.len() - 2);
    for sha in &args[2..] {
        let known = ctx.srv.scripting.find(sha).is_some();
        ctx.out.int(known as i64);
    }
    Ok(())
}

fn script_flush(ctx: &mut Ctx) -> Result<(), Error> {
    match ctx.args.get(2) {
        None => {}
        Some(a) if is(a, "async") || is(a, "sync") => {}
        Some(_) => return err("ERR SCRIPT FLUSH only support SYNC|ASYNC option"),
    }
    ctx.srv.scripting.flush()?;
    ctx.out.ok();
    Ok(())
}

fn script_kill(_ctx: &mut Ctx) -> Result<(), Error> {
    // Scripts run to completion on the serving thread, so none is ever running when this
    // command is processed.
    err("NOTBUSY No scripts in execution right now.")
}

fn script_help(ctx: &mut Ctx) -> Result<(), Error> {
    help_reply(
        ctx.out,
        "SCRIPT",
        &[
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
        ],
    );
    Ok(())
}
