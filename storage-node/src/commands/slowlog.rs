//! SLOWLOG GET / LEN / RESET / HELP (slowlog.c's slowlogCommand).

use super::{arg_i64, err, help_reply, Ctx, Error, Handler};

pub fn register(h: &mut Vec<(&'static str, Handler)>) {
    h.push(("slowlog|get", get as Handler));
    h.push(("slowlog|len", len));
    h.push(("slowlog|reset", reset));
    h.push(("slowlog|help", help));
}

fn get(ctx: &mut Ctx) -> Result<(), Error> {
    const MSG: &str = "ERR count should be greater than or equal to -1";
    let count = match ctx.args.get(2) {
        None => 10,
        Some(a) => match arg_i64(a) {
            Ok(n) if n >= -1 => n,
            _ => return err(MSG),
        },
    };
    if ctx.args.len() > 3 {
        return err(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try SLOWLOG HELP.",
            String::from_utf8_lossy(&ctx.args[1])
        ));
    }
    let log = &ctx.srv.introspect.slowlog.entries;
    let n = if count == -1 { log.len() } else { (count as usize).min(log.len()) };
    ctx.out.array(n);
    for e in log.iter().take(n) {
        ctx.out.array(6);
        ctx.out.int(e.id as i64);
        ctx.out.int(e.time);
        ctx.out.int(e.duration_us as i64);
        ctx.out.array(e.args.len());
        for a in &e.args {
            ctx.out.bulk(a);
        }
        ctx.out.bulk(e.peer.as_bytes());
        ctx.out.bulk(&e.name);
    }
    Ok(())
}

fn len(ctx: &mut Ctx) -> Result<(), Error> {
    ctx.out.int(ctx.srv.introspect.slowlog.entries.len() as i64);
    Ok(())
}

fn reset(ctx: &mut Ctx) -> Result<(), Error> {
    ctx.srv.introspect.slowlog.entries.clear();
    ctx.out.ok();
    Ok(())
}

fn help(ctx: &mut Ctx) -> Result<(), Error> {
    help_reply(
        ctx.out,
        "SLOWLOG",
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    );
    Ok(())
}
