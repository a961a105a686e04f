//! ACLs on the node: every command checked against the client's user before it runs (at the
//! top level, when queued in MULTI, again at EXEC, and for each `redis.call` of a script), with
//! refusals in the ACL LOG; and the ACL command family, answered by the shared
//! `config::acl::AclStore`, whose effects (users deleted or replaced, channels taken away)
//! close connections here as Redis 7.0 does.

use config::acl::{Denial, Effect, LogContext};
use protocol::command::{flags, CommandSpec};

use super::{Ctx, Error, Handler};
use crate::server::{Client, Server};

pub fn register(h: &mut Vec<(&'static str, Handler)>) {
    if let Some(spec) = protocol::lookup(b"acl") {
        h.extend(spec.subcommands.iter().map(|sub| (sub.name, acl as Handler)));
    }
}

/// The client's CLIENT INFO line, as ACL LOG shows it.
fn client_info(client: &Client) -> String {
    client.info_line().trim_end().to_string()
}

/// Whether the ACL has nothing to say about this invocation: commands anyone may run before
/// logging in, and an unknown subcommand (whose own error comes first, as in Redis).
fn exempt(spec: &CommandSpec) -> bool {
    spec.has(flags::NO_AUTH) || !spec.subcommands.is_empty()
}

/// Checks a command a client sends (or EXEC runs); the NOPERM reply when it is refused, after
/// logging it. The caller has already excused users that may run anything.
pub fn refusal(srv: &mut Server, client: &Client, spec: &CommandSpec, args: &[bytes::Bytes]) -> Option<String> {
    if exempt(spec) {
        return None;
    }
    let refs: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
    let context = if client.multi.is_some() || client.in_exec { LogContext::Multi } else { LogContext::Toplevel };
    let denial = srv.acl.check_and_log(&client.user, &refs, context, || client_info(client)).err()?;
    if !client.in_exec {
        return Some(denial.error_message());
    }
    // Queued commands were checked when queued: the rules changed since.
    let reason = match denial {
        Denial::Command { .. } => "no permission to execute the command or subcommand",
        Denial::Key { .. } => "no permission to touch the specified keys",
        Denial::Channel { .. } => "no permission to access one of the channels used as arguments",
    };
    Some(format!(
        "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This \
         command is no longer allowed for the following reason: {reason}"
    ))
}

/// Checks a `redis.call` of a script; Redis's script error text (after `ERR `) when refused.
pub fn script_refusal(srv: &mut Server, client: &Client, spec: &CommandSpec, args: &[bytes::Bytes]) -> Option<String> {
    if client.is_master || exempt(spec) || srv.acl.permits_all(&client.user) {
        return None;
    }
    let refs: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
    let denial = srv.acl.check_and_log(&client.user, &refs, LogContext::Lua, || client_info(client)).err()?;
    Some(
        match denial {
            Denial::Command { .. } => "ERR The user executing the script can't run this command or subcommand",
            Denial::Key { .. } => {
                "ERR The user executing the script can't access at least one of the keys mentioned in the command \
                 arguments"
            }
            Denial::Channel { .. } => {
                "ERR The user executing the script can't publish to the channel mentioned in \
                                       the command"
            }
        }
        .to_string(),
    )
}

/// ACL <subcommand> ...: the shared implementation, then its effect on connections.
fn acl(ctx: &mut Ctx) -> Result<(), Error> {
    let args: Vec<&[u8]> = ctx.args.iter().map(|a| &a[..]).collect();
    let caller = ctx.client.user.clone();
    match ctx.srv.acl.command(&caller, &args, ctx.out) {
        Effect::None => {}
        Effect::UsersDeleted(names) => {
            super::connection::kill_matching(ctx, |c| names.contains(&c.user), false);
        }
        Effect::UsersReplaced => {
            super::connection::kill_matching(ctx, |c| c.user != "default" && !c.is_master, false);
        }
        Effect::ChannelsRevoked { user, grant } => {
            let lost = |c: &Client| c.user == user && grant.leaves_uncovered(&c.psubs, c.subs.iter().chain(&c.ssubs));
            super::connection::kill_matching(ctx, lost, false);
        }
    }
    Ok(())
}
