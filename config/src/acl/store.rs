//! The ACL a server keeps, shared by the node and the proxy: the users as start-up made them
//! (`requirepass`, then `aclfile` or `user` directives), the ACL LOG, the file behind ACL
//! LOAD/SAVE, logins and permission checks that log what they refuse. The ACL command family
//! on this state is in `family.rs`; hosts apply its [`Effect`] to their connections.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::file::UserDirective;
use super::user::ChannelGrant;
use super::{Acl, AclLog, Denial, LogContext, LogReason};

/// The reply to a failed AUTH or HELLO AUTH (without the leading `-`).
pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// The reply to `AUTH <password>` while the default user needs no password.
pub const AUTH_WITHOUT_PASSWORD: &str = "ERR AUTH <password> called without any password configured for the default \
                                         user. Are you sure your configuration is correct?";

/// ACL LOAD and ACL SAVE without an `aclfile`.
const NO_ACL_FILE: &str = "This Redis instance is not configured to use an ACL file. You may want to \
                                      specify users via the ACL SETUSER command and then issue a CONFIG REWRITE \
                                      (assuming you have a Redis configuration file set) in order to store users \
                                      in the Redis configuration.";

/// What a host must do to its connections after an ACL command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Nothing.
    None,
    /// `ACL SETUSER` took channels away from `user`: its subscribed connections holding a
    /// subscription the grant no longer covers are closed.
    ChannelsRevoked { user: String, grant: ChannelGrant },
    /// `ACL DELUSER`: connections authenticated as these users are closed (the caller's own
    /// after its reply).
    UsersDeleted(Vec<String>),
    /// `ACL LOAD` replaced every user: connections authenticated as anyone but `default` are
    /// closed, as Redis 7.0 does.
    UsersReplaced,
}

/// Users, log and file of one server.
#[derive(Debug, Clone)]
pub struct AclStore {
    pub(crate) acl: Acl,
    pub(crate) log: AclLog,
    pub(crate) file: Option<PathBuf>,
    /// `default` is on and nopass: connections start logged in and need no AUTH.
    default_open: bool,
}

impl Default for AclStore {
    fn default() -> Self {
        AclStore::new(Acl::new(), None)
    }
}

impl AclStore {
    /// A store over `acl`; `file` is what ACL LOAD and ACL SAVE use.
    pub fn new(acl: Acl, file: Option<PathBuf>) -> AclStore {
        let mut store = AclStore { acl, log: AclLog::default(), file, default_open: false };
        store.refresh();
        store
    }

    /// The users at start-up, as Redis 7.0 builds them: `requirepass` gives `default` its
    /// password, then the ACL file or the `user` directives (never both) define the users; a
    /// file without a `default` line leaves the stock, passwordless one. The error is the text
    /// Redis logs before it exits.
    pub fn at_startup(
        aclfile: Option<&Path>,
        users: &[UserDirective],
        requirepass: Option<&str>,
    ) -> Result<AclStore, String> {
        if aclfile.is_some() && !users.is_empty() {
            return Err("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path \
                        is invalid. This setup is very likely to lead to configuration errors and security holes, \
                        please define either an ACL file or declare users directly in your redis.conf, but not both."
                .into());
        }
        let mut acl = Acl::new();
        acl.set_default_password(requirepass.map(str::as_bytes));
        if let Some(path) = aclfile {
            acl = read_file(path).map_err(|e| format!("Aborting Redis startup because of ACL errors: {e}"))?;
        }
        acl.apply_directives(users).map_err(|e| format!("Error loading ACLs from the configuration: {e}"))?;
        Ok(AclStore::new(acl, aclfile.map(Path::to_path_buf)))
    }

    /// The users.
    pub fn acl(&self) -> &Acl {
        &self.acl
    }

    /// The ACL LOG.
    pub fn log(&self) -> &AclLog {
        &self.log
    }

    /// Changes the ACL LOG's bound (`acllog-max-len`).
    pub fn set_log_max_len(&mut self, max_len: usize) {
        self.log.set_max_len(max_len);
    }

    fn refresh(&mut self) {
        self.default_open = self.acl.user("default").is_some_and(|u| u.enabled() && u.nopass());
    }

    /// Whether connections need no AUTH: `default` is on and nopass (Redis's authRequired).
    pub fn default_open(&self) -> bool {
        self.default_open
    }

    /// Whether `default` is `nopass` (enabled or not): protected mode then turns away clients
    /// from other hosts, as Redis's clientAcceptHandler does.
    pub fn default_nopass(&self) -> bool {
        self.acl.user("default").is_some_and(|u| u.nopass())
    }

    /// `CONFIG SET requirepass`: `default` gets this password alone, or `nopass` when None.
    pub fn set_default_password(&mut self, password: Option<&[u8]>) {
        self.acl.set_default_password(password);
        self.refresh();
    }

    /// Whether `user` may run anything at all: its commands need no check.
    pub fn permits_all(&self, user: &str) -> bool {
        self.acl.user(user).is_some_and(|u| u.permits_all())
    }

    /// Whether `user` may run this invocation with read access to every key (SORT's BY/GET).
    pub fn reads_all_keys_for(&self, user: &str, args: &[&[u8]]) -> bool {
        self.acl.user(user).is_some_and(|u| u.reads_all_keys_for(args))
    }

    /// Checks a command (`args[0]` is its name) for `user` without logging; see [`Acl::check`].
    pub fn check(&self, user: &str, args: &[&[u8]]) -> Result<(), Denial> {
        self.acl.check(user, args)
    }

    /// Records a refused command in the ACL LOG.
    pub fn record_denial(&mut self, denial: &Denial, context: LogContext, user: &str, client_info: &str) {
        self.log.record_denial(denial, context, user, client_info, Instant::now());
    }

    /// Checks a command and logs a refusal; `client_info` is asked for only then.
    pub fn check_and_log(
        &mut self,
        user: &str,
        args: &[&[u8]],
        context: LogContext,
        client_info: impl FnOnce() -> String,
    ) -> Result<(), Denial> {
        self.check(user, args).inspect_err(|d| self.record_denial(d, context, user, &client_info()))
    }

    /// AUTH or HELLO AUTH (`command` as the client sent it): Ok when `password` logs `user` in,
    /// else an ACL LOG entry and [`WRONGPASS`].
    pub fn login(
        &mut self,
        command: &[u8],
        user: &str,
        password: &[u8],
        context: LogContext,
        client_info: impl FnOnce() -> String,
    ) -> Result<(), &'static str> {
        if self.acl.authenticate(user, password) {
            return Ok(());
        }
        self.log.record(LogReason::Auth, context, command, user, &client_info(), Instant::now());
        Err(WRONGPASS)
    }

    /// Whether `AUTH <password>` (no username) is refused with [`AUTH_WITHOUT_PASSWORD`]:
    /// Redis does so whenever `default` is nopass.
    pub fn auth_needs_username(&self) -> bool {
        self.acl.user("default").is_some_and(|u| u.nopass())
    }

    /// Reads the ACL file again (ACL LOAD, the proxy's SIGHUP); on any error nothing changes.
    /// The error is Redis's text (after `ERR `).
    pub fn reload(&mut self) -> Result<(), String> {
        let path = self.file.as_ref().ok_or(NO_ACL_FILE)?;
        self.acl = read_file(path)?;
        self.refresh();
        Ok(())
    }

    /// ACL SAVE: the users in file form, replacing the file atomically.
    pub fn save(&self) -> Result<(), String> {
        let path = self.file.as_ref().ok_or(NO_ACL_FILE)?;
        let text = self.acl.save_text();
        let tmp = path.with_extension("tmp-acl");
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|e| {
            format!(
                "There was an error trying to save the ACLs. Please check the server logs for more information ({e})"
            )
        })
    }

    /// Marks the cached facts stale after the users changed (SETUSER, DELUSER).
    pub(crate) fn changed(&mut self) {
        self.refresh();
    }
}

/// Reads an ACL file with Redis's error texts: the opening error alone, or each bad line as
/// `file:line: message` followed by Redis's warning.
fn read_file(path: &Path) -> Result<Acl, String> {
    let text = std::fs::read(path)
        .map_err(|e| format!("Error loading ACLs, opening file '{}': {}", path.display(), io_text(&e)))?;
    Acl::parse(&path.display().to_string(), &String::from_utf8_lossy(&text)).map_err(|e| e.reply_text())
}

/// strerror()'s text, without Rust's ` (os error N)`.
fn io_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}
