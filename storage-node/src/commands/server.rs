//! Server commands: COMMAND, CONFIG, DBSIZE, FLUSHALL/FLUSHDB, TIME, LASTSAVE, SHUTDOWN.

use config::NodeConfig;
use protocol::glob::{glob_match, glob_match_nocase};

use super::{err, help_reply, is, Ctx, Error, Handler};

pub fn register(h: &mut Vec<(&'static str, Handler)>) {
    h.extend([
        ("command", command as Handler),
        ("command|count", command),
        ("command|info", command),
        ("command|list", command),
        ("command|docs", command),
        ("command|getkeys", command),
        ("command|help", command),
        ("config|get", config_get),
        ("config|set", config_set),
        ("config|rewrite", config_rewrite),
        ("config|resetstat", config_resetstat),
        ("config|help", config_help),
        ("dbsize", dbsize),
        ("time", time),
        ("lastsave", lastsave),
        ("shutdown", shutdown),
    ]);
}

/// The COMMAND family, from the shared table: the commands this node has handlers for.
fn command(ctx: &mut Ctx) -> Result<(), Error> {
    let commands = &ctx.srv.commands;
    protocol::introspect::command(ctx.out, ctx.args, &|s| commands.find(s.name.as_bytes()).is_some())
        .map_err(Error::Msg)
}

fn config_get(ctx: &mut Ctx) -> Result<(), Error> {
    let mut found: Vec<(String, String)> = Vec::new();
    for pat in &ctx.args[2..] {
        let literal = !pat.iter().any(|b| matches!(b, b'*' | b'?' | b'['));
        for name in NodeConfig::names() {
            if glob_match_nocase(pat, name.as_bytes()) && !found.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                // A name asked for without glob characters is echoed as the client spelled it.
                let shown = if literal { String::from_utf8_lossy(pat).into_owned() } else { name.to_string() };
                // Redis reports `dir` as the absolute working directory it moved into.
                let value = match *name {
                    "dir" => std::env::current_dir().ok().map(|d| d.display().to_string()),
                    _ => ctx.srv.config.get(name),
                };
                if let Some(v) = value {
                    found.push((shown, v));
                }
            }
        }
    }
    ctx.out.map(found.len());
    for (n, v) in found {
        ctx.out.bulk(n.as_bytes());
        ctx.out.bulk(v.as_bytes());
    }
    Ok(())
}

/// Settings that move where the node writes its files: CONFIG SET takes them only under
/// `enable-protected-configs` (Redis 7.0's PROTECTED_CONFIG).
const PROTECTED: &[&str] = &["dir", "dbfilename"];

/// `enable-protected-configs yes`, or `local` for a client on a loopback address.
fn protected_allowed(config: &NodeConfig, peer: &str) -> bool {
    match config.enable_protected_configs.as_str() {
        "yes" => true,
        "local" => peer.parse::<std::net::SocketAddr>().is_ok_and(|a| a.ip().to_canonical().is_loopback()),
        _ => false,
    }
}

fn config_set(ctx: &mut Ctx) -> Result<(), Error> {
    let args = &ctx.args[2..];
    // configSetCommand: pairs only (too few arguments were refused by the arity check).
    if !args.len().is_multiple_of(2) {
        return Err(Error::Syntax);
    }
    // All or nothing: apply to a copy, keep it only if every pair succeeds.
    let mut next = ctx.srv.config.clone();
    let mut seen = Vec::new();
    for pair in args.chunks(2) {
        let name = String::from_utf8_lossy(&pair[0]).to_lowercase();
        if seen.contains(&name) {
            return err(format!("ERR CONFIG SET failed (possibly related to argument '{name}') - duplicate parameter"));
        }
        seen.push(name.clone());
        if NodeConfig::names().iter().all(|n| *n != name) && ctx.srv.config.get(&name).is_none() {
            return err(format!("ERR Unknown option or number of arguments for CONFIG SET - '{name}'"));
        }
        if PROTECTED.contains(&name.as_str()) && !protected_allowed(&ctx.srv.config, &ctx.client.addr) {
            return err(format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - can't set protected config"
            ));
        }
        let value = String::from_utf8_lossy(&pair[1]);
        if let Err(e) = next.set(&name, &value) {
            return err(format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {e}"));
        }
    }
    // Any tls-* setting reads the certificates again, as Redis does (even with the same paths,
    // so a renewed certificate is picked up). New connections use the new configuration;
    // established ones keep theirs. A bad file changes nothing.
    if let Some(name) = seen.iter().find(|n| n.starts_with("tls-")) {
        match crate::transport::NodeTls::from_config(&next) {
            Ok(tls) => ctx.srv.tls = tls,
            Err(e) => {
                crate::log(&ctx.srv.config, &format!("Warning: Failed to update TLS configuration: {e}"));
                return err(format!(
                    "ERR CONFIG SET failed (possibly related to argument '{name}') - Unable to update TLS configuration. Check server logs."
                ));
            }
        }
    }
    // `dir` is the working directory, where saves and the AOF go: changed at once, as in Redis.
    if seen.iter().any(|n| n == "dir") && next.dir != ctx.srv.config.dir {
        if let Err(e) = std::env::set_current_dir(&next.dir) {
            // Redis's strerror text for the usual case.
            let why = if e.kind() == std::io::ErrorKind::NotFound {
                "No such file or directory".into()
            } else {
                e.kind().to_string()
            };
            return err(format!("ERR CONFIG SET failed (possibly related to argument 'dir') - {why}"));
        }
    }
    if seen.iter().any(|n| n == "requirepass") {
        // requirepass is the default user's password, as in Redis.
        ctx.srv.acl.set_default_password(next.requirepass.as_deref().map(str::as_bytes));
    }
    ctx.srv.config = next;
    ctx.srv.config_changed();
    ctx.out.ok();
    Ok(())
}

fn config_rewrite(ctx: &mut Ctx) -> Result<(), Error> {
    if ctx.srv.config.config_file.is_none() {
        return err("ERR The server is running without a config file");
    }
    ctx.srv.config.rewrite().map_err(|e| Error::Msg(format!("ERR Rewriting config file: {e}")))?;
    ctx.out.ok();
    Ok(())
}

fn config_resetstat(ctx: &mut Ctx) -> Result<(), Error> {
    ctx.srv.stats = Default::default();
    for c in &mut ctx.srv.commands.commands {
        c.stats = Default::default();
    }
    // Error counts and latency histograms go too (resetServerStats, resetCommandTableStats).
    ctx.srv.introspect.errors = Default::default();
    ctx.srv.introspect.histograms.clear();
    ctx.out.ok();
    Ok(())
}

fn config_help(ctx: &mut Ctx) -> Result<(), Error> {
    help_reply(
        ctx.out,
        "CONFIG",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    );
    Ok(())
}

fn dbsize(ctx: &mut Ctx) -> Result<(), Error> {
    ctx.out.int(ctx.srv.db.len() as i64);
    Ok(())
}

fn time(ctx: &mut Ctx) -> Result<(), Error> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    ctx.out.array(2);
    ctx.out.bulk_int(now.as_secs() as i64);
    ctx.out.bulk_int(now.subsec_micros() as i64);
    Ok(())
}

fn lastsave(ctx: &mut Ctx) -> Result<(), Error> {
    ctx.out.int(ctx.srv.lastsave);
    Ok(())
}

fn shutdown(ctx: &mut Ctx) -> Result<(), Error> {
    let (mut save, mut nosave, mut force) = (false, false, false);
    for a in &ctx.args[1..] {
        if is(a, "save") {
            save = true;
        } else if is(a, "nosave") {
            nosave = true;
        } else if is(a, "force") {
            force = true;
        } else if is(a, "abort") {
            return err("ERR No shutdown in progress.");
        } else if !is(a, "now") {
            return Err(Error::Syntax);
        }
    }
    if save && nosave {
        return Err(Error::Syntax);
    }
    let save_rdb = if save {
        Some(true)
    } else if nosave {
        Some(false)
    } else {
        None
    };
    if let Err(e) = crate::persist::shutdown(ctx.srv, save_rdb) {
        crate::log(&ctx.srv.config, &format!("Warning: Error trying to save the DB, can't exit: {e}"));
        if !force {
            return err("ERR Errors trying to SHUTDOWN. Check logs.");
        }
    }
    crate::log(&ctx.srv.config, "User requested shutdown...");
    ctx.srv.shutdown.notify_one();
    ctx.client.close_after_reply = true;
    Ok(())
}

/// Matches a key against a SCAN/KEYS pattern; `*` matches everything, the empty key included.
pub fn key_matches(pattern: Option<&[u8]>, key: &[u8]) -> bool {
    match pattern {
        None | Some(b"*") => true,
        Some(p) => glob_match(p, key),
    }
}
