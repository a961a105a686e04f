//! Redis 7.0's ACL engine as a library: users and their rules, ACL files, permission checks with
//! Redis's denial texts, authentication, and the data behind the ACL command family (LIST, USERS,
//! GETUSER, CAT, SETUSER, DELUSER, DRYRUN, SAVE, LOAD, LOG). `AclStore` is the state a server
//! keeps (users, log, file) and answers the ACL command family on it, so the node and the proxy
//! run the same code; they only apply its effects to their connections.
//!
//! Commands, categories and key positions come from `protocol::command::COMMANDS`; per-key
//! read/write use comes from the command table (`protocol::command::KeyUse`, from Redis 7.0's key specs).

mod commands;
mod family;
mod file;
mod log;
mod selector;
mod store;
mod user;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use protocol::command::acl::NAMES as CATEGORY_NAMES;

pub use file::{check_user_directive, AclFileError, UserDirective};
pub use log::{AclLog, AclLogEntry, LogContext, LogReason, DEFAULT_MAX_LEN as DEFAULT_LOG_MAX_LEN};
pub use store::{AclStore, Effect, AUTH_WITHOUT_PASSWORD, WRONGPASS};
pub use user::{hash_password, ChannelGrant, SelectorInfo, User, UserInfo};

use commands::{category, CommandIndex};

/// Why a rule could not be applied; `Display` is Redis's text (ACLSetUserStringError).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleError {
    Syntax,
    UnknownCommand,
    KeysAfterAll,
    ChannelsAfterAll,
    NoSuchPassword,
    BadHash,
    FirstArgOfSubcommand,
}

impl std::fmt::Display for RuleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RuleError::Syntax => "Syntax error",
            RuleError::UnknownCommand => "Unknown command or category name in ACL",
            RuleError::KeysAfterAll => {
                "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any \
                 effect. Try 'resetkeys' to start with an empty list of patterns"
            }
            RuleError::ChannelsAfterAll => {
                "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any \
                 effect. Try 'resetchannels' to start with an empty list of channels"
            }
            RuleError::NoSuchPassword => "The password you are trying to remove from the user does not exist",
            RuleError::BadHash => {
                "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"
            }
            RuleError::FirstArgOfSubcommand => "Allowing first-arg of a subcommand is not supported",
        })
    }
}

impl std::error::Error for RuleError {}

/// A refused command, with Redis 7.0's texts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// The command is not allowed; `command` is its full name (`get`, `config|get`).
    Command { command: String },
    /// A key is not allowed (the last one no selector allowed).
    Key { key: Vec<u8> },
    /// A channel is not allowed.
    Channel { channel: Vec<u8> },
}

impl Denial {
    /// The error reply without the leading `-`:
    /// `NOPERM this user has no permissions to run the 'get' command` and the key/channel forms.
    pub fn error_message(&self) -> String {
        match self {
            Denial::Command { command } => {
                format!("NOPERM this user has no permissions to run the '{command}' command")
            }
            Denial::Key { .. } => {
                "NOPERM this user has no permissions to access one of the keys used as arguments".into()
            }
            Denial::Channel { .. } => {
                "NOPERM this user has no permissions to access one of the channels used as arguments".into()
            }
        }
    }

    /// `ACL DRYRUN`'s bulk reply for this denial.
    pub fn dryrun_text(&self) -> String {
        match self {
            Denial::Command { command } => format!("This user has no permissions to run the '{command}' command"),
            Denial::Key { key } => {
                format!("This user has no permissions to access the '{}' key", String::from_utf8_lossy(key))
            }
            Denial::Channel { channel } => {
                format!("This user has no permissions to access the '{}' channel", String::from_utf8_lossy(channel))
            }
        }
    }

    /// The ACL LOG reason.
    pub fn reason(&self) -> LogReason {
        match self {
            Denial::Command { .. } => LogReason::Command,
            Denial::Key { .. } => LogReason::Key,
            Denial::Channel { .. } => LogReason::Channel,
        }
    }

    /// The ACL LOG object: the command's full name, the key or the channel.
    pub fn object(&self) -> &[u8] {
        match self {
            Denial::Command { command } => command.as_bytes(),
            Denial::Key { key } => key,
            Denial::Channel { channel } => channel,
        }
    }
}

impl std::fmt::Display for Denial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.error_message())
    }
}

/// An ACL command's error; `Display` is the text after `ERR `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclError(pub String);

impl std::fmt::Display for AclError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AclError {}

/// `ACL DRYRUN`'s outcome when user and command exist and the arity fits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DryRun {
    /// Replied `+OK`.
    Allowed,
    /// Replied with [`Denial::dryrun_text`] as a bulk string.
    Denied(Denial),
}

/// The set of users. Always holds `default`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acl {
    users: BTreeMap<String, User>,
}

impl Default for Acl {
    fn default() -> Self {
        Acl::new()
    }
}

/// Whether a username is refused (spaces or NUL, as Redis's ACLStringHasSpaces).
fn bad_username(name: &str) -> bool {
    name.bytes().any(|c| c.is_ascii_whitespace() || c == 0)
}

/// Joins `ACL SETUSER` arguments so that a selector split over several arguments, `(~x` `+get)`,
/// becomes one rule; an unclosed selector is an error naming its first argument.
pub fn merge_selector_args(args: &[&[u8]]) -> Result<Vec<Vec<u8>>, AclError> {
    let mut out = Vec::new();
    let mut open: Option<(usize, Vec<u8>)> = None;
    for (i, &a) in args.iter().enumerate() {
        if let Some((_, sel)) = open.as_mut() {
            sel.push(b' ');
            sel.extend_from_slice(a);
            if a.last() == Some(&b')') {
                out.push(open.take().map(|(_, s)| s).unwrap_or_default());
            }
        } else if a.first() == Some(&b'(') && a.last() != Some(&b')') {
            open = Some((i, a.to_vec()));
        } else {
            out.push(a.to_vec());
        }
    }
    match open {
        Some((i, _)) => Err(AclError(format!(
            "Unmatched parenthesis in acl selector starting at '{}'.",
            String::from_utf8_lossy(args[i])
        ))),
        None => Ok(out),
    }
}

impl Acl {
    /// A fresh server's ACL: only `default` (`on nopass ~* &* +@all`).
    pub fn new() -> Acl {
        let mut users = BTreeMap::new();
        users.insert("default".to_string(), User::new_default());
        Acl { users }
    }

    /// The user named `name`.
    pub fn user(&self, name: &str) -> Option<&User> {
        self.users.get(name)
    }

    /// `ACL USERS`: names in Redis's (byte) order.
    pub fn usernames(&self) -> Vec<&str> {
        self.users.keys().map(String::as_str).collect()
    }

    /// `ACL LIST`: one `user <name> <rules>` line per user.
    pub fn list(&self) -> Vec<String> {
        self.users.values().map(|u| format!("user {} {}", u.name(), u.describe())).collect()
    }

    /// `ACL SAVE`'s file text: the `ACL LIST` lines, newline-terminated.
    pub fn save_text(&self) -> String {
        self.list().into_iter().map(|l| l + "\n").collect()
    }

    /// `ACL GETUSER`: None when there is no such user (Redis replies null).
    pub fn getuser(&self, name: &str) -> Option<UserInfo> {
        self.users.get(name).map(User::info)
    }

    /// `ACL SETUSER name rules...`: applies the rules in order to a copy of the user (a new user
    /// when absent) and keeps the result only when every rule applied.
    pub fn setuser(&mut self, name: &str, rules: &[&[u8]]) -> Result<(), AclError> {
        if bad_username(name) {
            return Err(AclError("Usernames can't contain spaces or null characters".into()));
        }
        let merged = merge_selector_args(rules)?;
        let mut user = self.users.get(name).cloned().unwrap_or_else(|| User::new(name));
        for rule in &merged {
            user.apply(rule).map_err(|e| {
                AclError(format!("Error in ACL SETUSER modifier '{}': {e}", String::from_utf8_lossy(rule)))
            })?;
        }
        self.users.insert(name.to_string(), user);
        Ok(())
    }

    /// `ACL DELUSER names...`: how many existed and were removed; `default` cannot be removed.
    pub fn deluser(&mut self, names: &[&str]) -> Result<usize, AclError> {
        if names.contains(&"default") {
            return Err(AclError("The 'default' user cannot be removed".into()));
        }
        Ok(names.iter().filter(|n| self.users.remove(**n).is_some()).count())
    }

    /// Whether `user` may log in with `password` (AUTH, HELLO AUTH): the user exists, is `on`, and
    /// is `nopass` or has the password. Hashes are compared in constant time.
    pub fn authenticate(&self, user: &str, password: &[u8]) -> bool {
        self.users.get(user).is_some_and(|u| u.authenticate(password))
    }

    /// Checks a command (`args[0]` is its name) against `user`'s permissions. The caller answers
    /// unknown commands and wrong arity first, as Redis does; here an unknown command, like an
    /// unknown user, is denied as a command.
    pub fn check(&self, user: &str, args: &[&[u8]]) -> Result<(), Denial> {
        match self.users.get(user) {
            Some(u) => u.check(args),
            None => Err(Denial::Command {
                command: args.first().map(|a| String::from_utf8_lossy(a).to_lowercase()).unwrap_or_default(),
            }),
        }
    }

    /// `ACL DRYRUN user command args...`: errors for an unknown user, an unknown command and a
    /// wrong argument count with Redis's texts, else the check's outcome.
    pub fn dryrun(&self, user: &str, args: &[&[u8]]) -> Result<DryRun, AclError> {
        let u = self.users.get(user).ok_or_else(|| AclError(format!("User '{user}' not found")))?;
        let first = args.first().map(|a| String::from_utf8_lossy(a).into_owned()).unwrap_or_default();
        let ix = CommandIndex::get();
        let not_found = || AclError(format!("Command '{first}' not found"));
        let id = ix.resolve(args).ok_or_else(not_found)?;
        let spec = ix.entries[id].spec.ok_or_else(not_found)?;
        if !spec.arity_ok(args.len()) {
            return Err(AclError(format!("wrong number of arguments for '{}' command", spec.name)));
        }
        Ok(match u.check(args) {
            Ok(()) => DryRun::Allowed,
            Err(d) => DryRun::Denied(d),
        })
    }

    /// Gives `default` exactly this password (`requirepass`), or makes it `nopass` for None,
    /// as Redis's ACLUpdateDefaultUserPassword does.
    pub fn set_default_password(&mut self, password: Option<&[u8]>) {
        let user = self.users.entry("default".to_string()).or_insert_with(User::new_default);
        // Both rules always apply.
        let _ = user.apply(b"resetpass");
        let _ = match password {
            Some(p) => user.apply(&[&b">"[..], p].concat()),
            None => user.apply(b"nopass"),
        };
    }

    /// Replaces the ACL with the file's users (`ACL LOAD`); on error nothing changes.
    pub fn reload(&mut self, file: &str, text: &str) -> Result<(), AclFileError> {
        *self = Acl::parse(file, text)?;
        Ok(())
    }
}

/// `ACL CAT`: the category names.
pub fn category_names() -> Vec<&'static str> {
    CATEGORY_NAMES.iter().map(|(_, n)| *n).collect()
}

/// `ACL CAT <category>`: full names of the commands and subcommands in it that slotgate serves.
pub fn category_commands(name: &str) -> Result<Vec<&'static str>, AclError> {
    let bit = category(name.as_bytes()).ok_or_else(|| AclError(format!("Unknown category '{name}'")))?;
    let ix = CommandIndex::get();
    Ok(ix.entries.iter().filter(|e| e.spec.is_some() && e.categories & bit != 0).map(|e| e.name).collect())
}
