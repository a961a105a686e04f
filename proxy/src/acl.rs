//! Access control at the front door: Redis ACL users (from `aclfile`, or the stock `default`
//! user), AUTH and HELLO AUTH, every command checked against the user's command, key and
//! channel rules before anything reaches a node, the ACL command family, and ACL LOG. The rules
//! themselves are `config::acl`; this module applies them to sessions.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

use bytes::Bytes;
use config::acl::{AclStore, ChannelGrant, Effect, LogContext, AUTH_WITHOUT_PASSWORD};
use protocol::command::flags;
use protocol::{lookup, CommandSpec, Proto, Reply};

use crate::state::{Proxy, Session};

/// The users, what they were refused, and the ACL file: `config::acl::AclStore`, which also
/// answers the ACL command family, shared between the proxy's sessions.
pub struct Security {
    store: RwLock<AclStore>,
    /// Bumped by every ACL change that ends sessions; sessions compare it with the last one
    /// they saw.
    epoch: AtomicU64,
    /// What each of those ended, by epoch.
    revoked: Mutex<Vec<(u64, Revocation)>>,
    /// Wakes subscribed sessions, which wait on their nodes' streams rather than on requests.
    changed: tokio::sync::watch::Sender<u64>,
}

/// What an ACL change ends.
enum Revocation {
    /// Sessions of these users (ACL DELUSER), or of everyone but `default` (ACL LOAD: `None`).
    Users(Option<Vec<String>>),
    /// Subscribed sessions of this user holding a subscription the grant no longer covers
    /// (ACL SETUSER took channels away).
    Channels(String, ChannelGrant),
}

impl Security {
    /// Loads `aclfile` (a bad line stops start-up, named); without one, the stock `default`.
    pub fn load(file: Option<&Path>) -> Result<Security, String> {
        let store = AclStore::at_startup(file, &[], None)?;
        Ok(Security {
            store: RwLock::new(store),
            epoch: AtomicU64::new(0),
            revoked: Mutex::new(Vec::new()),
            changed: tokio::sync::watch::Sender::new(0),
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, AclStore> {
        self.store.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, AclStore> {
        self.store.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads the ACL file again (SIGHUP); on any error the old users stay and the error is
    /// returned. Established sessions keep working.
    pub fn reload(&self) -> Result<(), String> {
        self.write().reload()
    }

    /// The current revocation epoch (what a new session starts from).
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Whether a session logged in as `user`, which has seen revocations up to `seen`, was ended
    /// by a later ACL DELUSER or ACL LOAD (as Redis closes those clients). Updates `seen`.
    pub fn revoked(&self, user: &str, seen: &mut u64) -> bool {
        // A session outside subscribed mode holds no subscription to lose.
        self.subscriber_revoked(user, seen, |_| false)
    }

    /// `revoked` for a subscribed session: also true when ACL SETUSER took away channels its
    /// subscriptions need (`lost` says whether a grant leaves one uncovered), as Redis closes
    /// those clients.
    pub fn subscriber_revoked(&self, user: &str, seen: &mut u64, lost: impl Fn(&ChannelGrant) -> bool) -> bool {
        let now = self.epoch();
        if now == *seen {
            return false;
        }
        let list = self.revoked.lock().unwrap_or_else(|e| e.into_inner());
        let hit = list.iter().filter(|(e, _)| *e > *seen).any(|(_, r)| match r {
            Revocation::Users(Some(users)) => users.iter().any(|u| u == user),
            Revocation::Users(None) => user != "default",
            Revocation::Channels(whose, grant) => whose == user && lost(grant),
        });
        *seen = now;
        hit
    }

    /// Changes whenever an ACL change may end sessions.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }

    fn revoke(&self, what: Revocation) {
        let mut list = self.revoked.lock().unwrap_or_else(|e| e.into_inner());
        let epoch = self.epoch.fetch_add(1, Ordering::AcqRel) + 1;
        list.push((epoch, what));
        self.changed.send_replace(epoch);
        // Every session catches up at its next request; old entries only matter to sessions
        // idle since then, so a bounded list is enough (they are checked against all kept).
        if list.len() > 1024 {
            list.remove(0);
        }
    }

    /// Whether `user` exists and is enabled: a verified client certificate naming it logs in
    /// as it (`tls-cert-user`).
    pub fn certificate_login(&self, user: &str) -> bool {
        self.read().acl().user(user).is_some_and(|u| u.enabled())
    }

    /// Whether a new connection starts logged in as `default` (Redis: `default` is on and nopass).
    pub fn default_login(&self) -> bool {
        self.read().default_open()
    }
}

fn error(msg: &str) -> Bytes {
    Bytes::from(format!("-{msg}\r\n"))
}

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
