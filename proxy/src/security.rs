//! The proxy's ACL store: the users (from `aclfile`, or the stock `default` user), what they
//! were refused (ACL LOG), revocations that close sessions, and reloading. The rules themselves
//! are `config::acl`; `acl` applies them to sessions.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

use config::acl::{AclStore, ChannelGrant};

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
pub(crate) enum Revocation {
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

    pub(crate) fn read(&self) -> std::sync::RwLockReadGuard<'_, AclStore> {
        self.store.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn write(&self) -> std::sync::RwLockWriteGuard<'_, AclStore> {
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

    pub(crate) fn revoke(&self, what: Revocation) {
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
