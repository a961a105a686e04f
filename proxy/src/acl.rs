//! Access control at the front door: Redis ACL users (from `aclfile`, or the stock `default`
//! user), AUTH and HELLO AUTH, every command checked against the user's command, key and
//! channel rules before anything reaches a node, the ACL command family, and ACL LOG. The rules
//! themselves are `config::acl`; this module applies them to sessions.

use bytes::Bytes;
use config::acl::{Effect, LogContext, AUTH_WITHOUT_PASSWORD};
use protocol::command::flags;
use protocol::{lookup, CommandSpec, Proto, Reply};

use crate::security::Revocation;
use crate::state::{error_reply as error, Proxy, Session};

fn context(s: &Session) -> LogContext {
    if s.in_multi() {
        LogContext::Multi
    } else {
        LogContext::Toplevel
    }
}

/// The session as ACL LOG's `client-info` shows it.
fn client_info(s: &Session) -> String {
    format!("id={} addr={} laddr={} user={}", s.id, s.peer_text(), s.local_text(), s.user)
}

/// Refuses a command the session may not run: NOAUTH before login, NOPERM after. `None` lets
/// it through. Unknown commands and wrong arities pass here, so they get Redis's own errors.
pub fn gate(proxy: &Proxy, s: &Session, args: &[Bytes]) -> Option<Bytes> {
    gate_spec(proxy, s, lookup(&args[0]), args)
}

/// `gate` for a command already looked up in the table.
pub fn gate_spec(proxy: &Proxy, s: &Session, spec: Option<&CommandSpec>, args: &[Bytes]) -> Option<Bytes> {
    let spec = spec?;
    if !s.authenticated {
        return (!spec.has(flags::NO_AUTH)).then(|| error("NOAUTH Authentication required."));
    }
    // As in Redis, an unknown subcommand or a wrong arity is answered as such, not as NOPERM.
    let unknown_sub = !spec.subcommands.is_empty() && args.len() > 1 && spec.subcommand(&args[1]).is_none();
    if spec.has(flags::NO_AUTH) || !spec.arity_ok(args.len()) || unknown_sub {
        return None;
    }
    let denial = {
        let store = proxy.security.read();
        if store.permits_all(&s.user) {
            return None;
        }
        let refs: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
        store.check(&s.user, &refs).err()?
    };
    proxy.security.write().record_denial(&denial, context(s), &s.user, &client_info(s));
    Some(error(&denial.error_message()))
}

/// AUTH [user] password.
pub fn auth(proxy: &Proxy, s: &mut Session, args: &[Bytes]) -> Bytes {
    let (user, pass) = match args.len() {
        2 => ("default".to_string(), &args[1]),
        3 => (String::from_utf8_lossy(&args[1]).into_owned(), &args[2]),
        _ => return error("ERR syntax error"),
    };
    if args.len() == 2 && proxy.security.read().auth_needs_username() {
        return error(AUTH_WITHOUT_PASSWORD);
    }
    match login_with(proxy, s, &args[0], &user, pass) {
        Ok(()) => Bytes::from_static(b"+OK\r\n"),
        Err(e) => e,
    }
}

/// HELLO AUTH: switches the session to `user` when the password fits; WRONGPASS (and an ACL
/// LOG entry) otherwise.
pub fn login(proxy: &Proxy, s: &mut Session, user: &str, pass: &[u8]) -> Result<(), Bytes> {
    login_with(proxy, s, b"HELLO", user, pass)
}

fn login_with(proxy: &Proxy, s: &mut Session, command: &[u8], user: &str, pass: &[u8]) -> Result<(), Bytes> {
    proxy.security.write().login(command, user, pass, context(s), || client_info(s)).map_err(error)?;
    s.user = user.to_string();
    s.authenticated = true;
    Ok(())
}

/// The ACL command family (the caller's own permissions were checked by `gate`). Sessions of
/// users that ACL DELUSER removed, and after ACL LOAD every session not logged in as
/// `default`, are closed before their next request (the caller's after this reply).
pub fn command(proxy: &Proxy, s: &mut Session, args: &[Bytes]) -> Bytes {
    let mut r = Reply::new();
    if s.resp3 {
        r.proto = Proto::Resp3;
    }
    let refs: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
    let effect = proxy.security.write().command(&s.user, &refs, &mut r);
    match effect {
        Effect::UsersDeleted(users) => proxy.security.revoke(Revocation::Users(Some(users))),
        Effect::UsersReplaced => proxy.security.revoke(Revocation::Users(None)),
        Effect::ChannelsRevoked { user, grant } => proxy.security.revoke(Revocation::Channels(user, grant)),
        Effect::None => {}
    }
    r.buf.freeze()
}
