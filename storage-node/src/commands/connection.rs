//! Connection commands: PING, ECHO, HELLO, AUTH, QUIT, RESET and the CLIENT family (SELECT is
//! with the numbered databases, in `databases.rs`).

use config::acl::{LogContext, AUTH_WITHOUT_PASSWORD};
use protocol::Proto;

use super::{arg_i64, err, help_reply, is, Ctx, Error, Handler};

pub fn register(h: &mut Vec<(&'static str, Handler)>) {
    h.extend([
        ("ping", ping as Handler),
        ("echo", echo),
        ("hello", hello),
        ("auth", auth),
        ("quit", quit),
        ("reset", reset),
        ("client|id", client_id),
        ("client|setname", client_setname),
        ("client|getname", client_getname),
        ("client|list", client_list),
        ("client|info", client_info),
        ("client|kill", client_kill),
        ("client|help", client_help),
        ("client|pause", client_pause),
        ("client|unpause", client_unpause),
    ]);
}

fn ping(ctx: &mut Ctx) -> Result<(), Error> {
    // A subscribed RESP2 client gets PING answered in the message shape.
    if ctx.client.proto == Proto::Resp2 && ctx.client.subscribed() {
        ctx.out.array(2);
        ctx.out.bulk(b"pong");
        ctx.out.bulk(ctx.args.get(1).map_or(&b""[..], |a| &a[..]));
        return Ok(());
    }
    match ctx.args.len() {
        1 => ctx.out.simple("PONG"),
        2 => ctx.out.bulk(&ctx.args[1]),
        _ => return err("ERR wrong number of arguments for 'ping' command"),
    }
    Ok(())
}

fn echo(ctx: &mut Ctx) -> Result<(), Error> {
    ctx.out.bulk(&ctx.args[1]);
    Ok(())
}

/// Logs the client in as `user` when the password fits; WRONGPASS (and an ACL LOG entry)
/// otherwise. `command` is AUTH or HELLO as sent, for the log.
fn login(ctx: &mut Ctx, command: &[u8], user: &[u8], pass: &[u8]) -> Result<(), Error> {
    let name = String::from_utf8_lossy(user).into_owned();
    let client = &*ctx.client;
    let context = if client.multi.is_some() { LogContext::Multi } else { LogContext::Toplevel };
    let info = || client.info_line().trim_end().to_string();
    ctx.srv.acl.login(command, &name, pass, context, info).map_err(|e| Error::Msg(e.into()))?;
    ctx.client.authenticated = true;
    ctx.client.user = name;
    Ok(())
}

fn auth(ctx: &mut Ctx) -> Result<(), Error> {
    let (user, pass) = match ctx.args.len() {
        2 => (&b"default"[..], &ctx.args[1]),
        3 => (&ctx.args[1][..], &ctx.args[2]),
        _ => return Err(Error::Syntax),
    };
    if ctx.args.len() == 2 && ctx.srv.acl.auth_needs_username() {
        return err(AUTH_WITHOUT_PASSWORD);
    }
    login(ctx, &ctx.args[0], user, pass)?;
    ctx.out.ok();
    Ok(())
}

fn hello(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let mut proto = None;
    let mut i = 1;
    if args.len() >= 2 {
        let v = arg_i64(&args[1])
            .map_err(|_| Error::Msg("ERR Protocol version is not an integer or out of range".into()))?;
        if !(2..=3).contains(&v) {
            return err("NOPROTO unsupported protocol version");
        }
        proto = Some(if v == 3 { Proto::Resp3 } else { Proto::Resp2 });
        i = 2;
    }
    let mut setname = None;
    let mut credentials = None;
    while i < args.len() {
        if is(&args[i], "auth") && i + 2 < args.len() {
            credentials = Some((&args[i + 1], &args[i + 2]));
            i += 3;
        } else if is(&args[i], "setname") && i + 1 < args.len() {
            validate_name(&args[i + 1])?;
            setname = Some(args[i + 1].clone());
            i += 2;
        } else {
            return err(format!("ERR Syntax error in HELLO option '{}'", String::from_utf8_lossy(&args[i])));
        }
    }
    if let Some((user, pass)) = credentials {
        login(ctx, &args[0], user, pass)?;
    }
    if !ctx.client.authenticated && !ctx.srv.acl.default_open() {
        return err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
    }
    if let Some(name) = setname {
        ctx.client.name = (!name.is_empty()).then_some(name);
    }
    if let Some(p) = proto {
        ctx.client.proto = p;
        ctx.out.proto = p;
    }
    let out = &mut *ctx.out;
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(crate::REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(if ctx.client.proto == Proto::Resp3 { 3 } else { 2 });
    out.bulk(b"id");
    out.int(ctx.client.id as i64);
    out.bulk(b"mode");
    out.bulk(if ctx.srv.config.cluster_enabled { b"cluster" } else { b"standalone" });
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array(0);
    Ok(())
}

fn quit(ctx: &mut Ctx) -> Result<(), Error> {
    ctx.client.close_after_reply = true;
    ctx.out.ok();
    Ok(())
}

fn reset(ctx: &mut Ctx) -> Result<(), Error> {
    ctx.client.multi = None;
    ctx.client.multi_error = false;
    super::unwatch_all(ctx.srv, ctx.client);
    for (kind, names) in [
        ("unsubscribe", ctx.client.subs.len()),
        ("punsubscribe", ctx.client.psubs.len()),
        ("sunsubscribe", ctx.client.ssubs.len()),
    ] {
        if names > 0 {
            let mut scratch = protocol::Reply::new();
            let args = [bytes::Bytes::from(kind)];
            let mut clock = super::Clock::start();
            super::dispatch(ctx.srv, ctx.client, &args, &mut scratch, &mut clock);
        }
    }
    if ctx.client.track.get().on {
        let cell = ctx.client.track.clone();
        crate::server::tracking::disable(ctx.srv, ctx.client.id, &cell);
    }
    ctx.client.proto = Proto::Resp2;
    ctx.out.proto = Proto::Resp2;
    ctx.client.name = None;
    ctx.client.authenticated = ctx.srv.acl.default_open();
    ctx.client.user = "default".into();
    ctx.client.asking = false;
    ctx.client.readonly = false;
    // clearClientConnectionState selects database 0.
    ctx.client.db = 0;
    ctx.out.simple("RESET");
    Ok(())
}

fn client_id(ctx: &mut Ctx) -> Result<(), Error> {
    ctx.out.int(ctx.client.id as i64);
    Ok(())
}

fn validate_name(name: &[u8]) -> Result<(), Error> {
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return err("ERR Client names cannot contain spaces, newlines or special characters.");
    }
    Ok(())
}

fn client_setname(ctx: &mut Ctx) -> Result<(), Error> {
    let name = &ctx.args[2];
    validate_name(name)?;
    ctx.client.name = (!name.is_empty()).then(|| name.clone());
    ctx.out.ok();
    Ok(())
}

fn client_getname(ctx: &mut Ctx) -> Result<(), Error> {
    match &ctx.client.name {
        Some(n) => ctx.out.bulk(n),
        None => ctx.out.null(),
    }
    Ok(())
}

/// Calls `f` for every client, the calling one included (it is borrowed by the caller).
fn for_each_client(ctx: &mut Ctx, mut f: impl FnMut(&super::Client)) {
    let mut ids: Vec<u64> = ctx.srv.clients.borrow().keys().copied().collect();
    ids.sort_unstable();
    for id in ids {
        if id == ctx.client.id {
            f(ctx.client);
        } else if let Some(h) = ctx.srv.clients.borrow().get(&id).cloned() {
            if let Ok(c) = h.state.try_borrow() {
                f(&c);
            }
        }
    }
}

fn client_list(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let mut ids: Option<Vec<u64>> = None;
    let mut i = 2;
    while i < args.len() {
        if is(&args[i], "type") && i + 1 < args.len() {
            let t = String::from_utf8_lossy(&args[i + 1]).to_lowercase();
            if !["normal", "master", "replica", "slave", "pubsub"].contains(&t.as_str()) {
                return err(format!("ERR Unknown client type '{t}'"));
            }
            if t != "normal" {
                ids = Some(Vec::new());
            }
            i += 2;
        } else if is(&args[i], "id") && i + 1 < args.len() {
            let mut list = Vec::new();
            for a in &args[i + 1..] {
                match arg_i64(a) {
                    Ok(n) if n > 0 => list.push(n as u64),
                    _ => return err("ERR Invalid client ID"),
                }
            }
            ids = Some(list);
            i = args.len();
        } else {
            return Err(Error::Syntax);
        }
    }
    let mut text = String::new();
    for_each_client(ctx, |c| {
        if ids.as_ref().is_none_or(|ids| ids.contains(&c.id)) {
            text.push_str(&c.info_line());
        }
    });
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

fn client_info(ctx: &mut Ctx) -> Result<(), Error> {
    ctx.out.verbatim(ctx.client.info_line().as_bytes());
    Ok(())
}

fn client_kill(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    // Old form: CLIENT KILL addr:port.
    if args.len() == 3 {
        let addr = String::from_utf8_lossy(&args[2]).into_owned();
        let n = kill_matching(ctx, |c| c.addr == addr, false);
        if n == 0 {
            return err("ERR No such client");
        }
        ctx.out.ok();
        return Ok(());
    }
    let (mut id, mut addr, mut laddr, mut user, mut skipme) = (None, None, None, None, true);
    let mut i = 2;
    while i + 1 < args.len() {
        let v = String::from_utf8_lossy(&args[i + 1]).into_owned();
        match String::from_utf8_lossy(&args[i]).to_lowercase().as_str() {
            "id" => {
                id = Some(
                    arg_i64(&args[i + 1])
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or(Error::Msg("ERR client-id should be greater than 0".into()))? as u64,
                )
            }
            "addr" => addr = Some(v),
            "laddr" => laddr = Some(v),
            "user" => user = Some(v),
            "type" => {
                if !["normal", "master", "replica", "slave", "pubsub"].contains(&v.to_lowercase().as_str()) {
                    return err(format!("ERR Unknown client type '{v}'"));
                }
            }
            "skipme" => {
                skipme = match v.to_lowercase().as_str() {
                    "yes" => true,
                    "no" => false,
                    _ => return Err(Error::Syntax),
                }
            }
            _ => return Err(Error::Syntax),
        }
        i += 2;
    }
    if i != args.len() {
        return Err(Error::Syntax);
    }
    let n = kill_matching(
        ctx,
        |c| {
            id.is_none_or(|id| c.id == id)
                && addr.as_ref().is_none_or(|a| &c.addr == a)
                && laddr.as_ref().is_none_or(|a| &c.laddr == a)
                && user.as_ref().is_none_or(|u| &c.user == u)
        },
        skipme,
    );
    ctx.out.int(n as i64);
    Ok(())
}

/// Closes every connection `pred` picks (the caller's own after its reply, unless `skipme`);
/// how many.
pub(super) fn kill_matching(ctx: &mut Ctx, pred: impl Fn(&super::Client) -> bool, skipme: bool) -> usize {
    let mut n = 0;
    if pred(ctx.client) && !skipme {
        ctx.client.close_after_reply = true;
        n += 1;
    }
    for (id, handle) in ctx.srv.clients.borrow().iter() {
        if *id == ctx.client.id {
            continue;
        }
        if handle.state.try_borrow().is_ok_and(|c| pred(&c)) {
            handle.kill();
            n += 1;
        }
    }
    n
}

/// CLIENT PAUSE timeout [WRITE|ALL] (networking.c's clientCommand, in its order of checks).
fn client_pause(ctx: &mut Ctx) -> Result<(), Error> {
    if ctx.args.len() > 4 {
        let name = String::from_utf8_lossy(&ctx.args[1]);
        return Err(Error::Msg(format!(
            "ERR unknown subcommand or wrong number of arguments for '{name}'. Try CLIENT HELP."
        )));
    }
    let all = match ctx.args.get(3) {
        None => true,
        Some(m) if is(m, "write") => false,
        Some(m) if is(m, "all") => true,
        Some(_) => return err("ERR CLIENT PAUSE mode must be WRITE or ALL"),
    };
    let ms =
        super::arg_i64(&ctx.args[2]).map_err(|_| Error::Msg("ERR timeout is not an integer or out of range".into()))?;
    if ms < 0 {
        return err("ERR timeout is negative");
    }
    let end = ctx.now.checked_add(ms).ok_or_else(|| Error::Msg("ERR timeout is out of range".into()))?;
    crate::server::pause::pause(ctx.srv, end, all);
    ctx.out.ok();
    Ok(())
}

fn client_unpause(ctx: &mut Ctx) -> Result<(), Error> {
    crate::server::pause::unpause(ctx.srv, ctx.now);
    ctx.out.ok();
    Ok(())
}

fn client_help(ctx: &mut Ctx) -> Result<(), Error> {
    help_reply(
        ctx.out,
        "CLIENT",
        &[
            "CACHING (YES|NO)",
            "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
            "GETREDIR",
            "    Return the client ID we are redirecting to when tracking is enabled.",
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are: ID, TYPE, USER, ADDR, LADDR, SKIPME.",
            "LIST [options ...]",
            "    Return information about client connections. Options: TYPE, ID.",
            "UNPAUSE",
            "    Stop the current client pause, resuming traffic.",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Suspend all, or just write, clients for <timeout> milliseconds.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
            "         [OPTIN] [OPTOUT] [NOLOOP]",
            "    Control server assisted client side caching.",
            "TRACKINGINFO",
            "    Report tracking status for the current connection.",
        ],
    );
    Ok(())
}
