//! One ACL user: whether it is enabled, its password hashes, its root selector and its extra
//! `(...)` selectors; the rules that change them, the checks against them, and their description.

use sha2::{Digest, Sha256};

use super::commands::CommandIndex;
use super::selector::{Refusal, Selector};
use super::{Denial, RuleError};

/// A user of the ACL, with Redis 7.0's semantics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    name: String,
    enabled: bool,
    nopass: bool,
    /// `Some(true)` after `sanitize-payload`, `Some(false)` after `skip-sanitize-payload`.
    sanitize_payload: Option<bool>,
    /// Lowercase hex SHA-256 of each password, in the order they were added.
    passwords: Vec<String>,
    root: Selector,
    selectors: Vec<Selector>,
    /// Some selector allows everything: checks can skip the work (kept up to date by `apply`).
    unrestricted: bool,
}

/// One selector's permissions as `ACL GETUSER` reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectorInfo {
    /// Command rules, e.g. `-@all +get`.
    pub commands: String,
    /// Key patterns, e.g. `~cached:* %R~ro:*` (`~*` for all keys, empty for none).
    pub keys: String,
    /// Channel patterns, e.g. `&news.*` (`&*` for all channels, empty for none).
    pub channels: String,
}

/// `ACL GETUSER`'s reply as data: the caller encodes it as a RESP map (Redis's field order is
/// flags, passwords, commands, keys, channels, selectors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    /// `on`/`off`, `nopass`, `skip-sanitize-payload`/`sanitize-payload`.
    pub flags: Vec<&'static str>,
    /// Password hashes (lowercase hex SHA-256).
    pub passwords: Vec<String>,
    /// The root selector.
    pub root: SelectorInfo,
    /// The `(...)` selectors, in order.
    pub selectors: Vec<SelectorInfo>,
}

/// The channel patterns a changed user still has; a subscription they do not cover ends its
/// connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelGrant {
    patterns: Vec<Vec<u8>>,
}

impl ChannelGrant {
    /// Whether a subscription survives: a pattern subscription must equal a granted pattern, a
    /// channel must match one.
    pub fn allows(&self, name: &[u8], is_pattern: bool) -> bool {
        self.patterns.iter().any(|p| if is_pattern { p == name } else { protocol::glob_match(p, name) })
    }

    /// Whether a subscriber holding these pattern and channel (plain or shard) subscriptions
    /// loses one: Redis closes such a client after ACL SETUSER.
    pub fn leaves_uncovered<P, C>(&self, patterns: P, channels: C) -> bool
    where
        P: IntoIterator,
        P::Item: AsRef<[u8]>,
        C: IntoIterator,
        C::Item: AsRef<[u8]>,
    {
        patterns.into_iter().any(|p| !self.allows(p.as_ref(), true))
            || channels.into_iter().any(|c| !self.allows(c.as_ref(), false))
    }
}

/// Lowercase hex SHA-256 of a password, as Redis stores it.
pub fn hash_password(password: &[u8]) -> String {
    Sha256::digest(password).iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares two byte strings in time independent of where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn valid_hash(h: &[u8]) -> bool {
    h.len() == 64 && h.iter().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
}

impl User {
    /// A new user as Redis 7.0 creates it: `off`, no passwords, no keys, no channels, no commands.
    pub fn new(name: &str) -> User {
        User {
            name: name.to_string(),
            enabled: false,
            nopass: false,
            sanitize_payload: None,
            passwords: Vec::new(),
            root: Selector::new(),
            selectors: Vec::new(),
            unrestricted: false,
        }
    }

    /// The `default` user of a fresh server: `on nopass ~* &* +@all`.
    pub fn new_default() -> User {
        let mut u = User::new("default");
        for rule in ["+@all", "~*", "&*", "on", "nopass"] {
            // These rules are fixed and valid.
            let _ = u.apply(rule.as_bytes());
        }
        u
    }

    /// The user's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the user is `on`.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Whether the user accepts any password (`nopass`).
    pub fn nopass(&self) -> bool {
        self.nopass
    }

    /// Applies one rule (ACLSetUser): user-level rules here, a `(...)` selector, or a rule for the
    /// root selector. On error the user may be partly changed; callers stage changes on a copy.
    pub fn apply(&mut self, op: &[u8]) -> Result<(), RuleError> {
        let result = self.apply_rule(op);
        self.unrestricted = std::iter::once(&self.root).chain(&self.selectors).any(Selector::permits_all);
        result
    }

    fn apply_rule(&mut self, op: &[u8]) -> Result<(), RuleError> {
        let is = |word: &str| op.eq_ignore_ascii_case(word.as_bytes());
        if op.is_empty() {
            return Ok(());
        }
        if is("on") {
            self.enabled = true;
        } else if is("off") {
            self.enabled = false;
        } else if is("skip-sanitize-payload") {
            self.sanitize_payload = Some(false);
        } else if is("sanitize-payload") {
            self.sanitize_payload = Some(true);
        } else if is("nopass") {
            self.nopass = true;
            self.passwords.clear();
        } else if is("resetpass") {
            self.nopass = false;
            self.passwords.clear();
        } else if op[0] == b'>' || op[0] == b'#' {
            let hash = if op[0] == b'>' {
                hash_password(&op[1..])
            } else if valid_hash(&op[1..]) {
                String::from_utf8_lossy(&op[1..]).into_owned()
            } else {
                return Err(RuleError::BadHash);
            };
            if !self.passwords.contains(&hash) {
                self.passwords.push(hash);
            }
            self.nopass = false;
        } else if op[0] == b'<' || op[0] == b'!' {
            let hash = if op[0] == b'<' {
                hash_password(&op[1..])
            } else if valid_hash(&op[1..]) {
                String::from_utf8_lossy(&op[1..]).into_owned()
            } else {
                return Err(RuleError::BadHash);
            };
            let pos = self.passwords.iter().position(|p| *p == hash).ok_or(RuleError::NoSuchPassword)?;
            self.passwords.remove(pos);
        } else if is("reset") {
            for rule in
                ["resetpass", "resetkeys", "resetchannels", "off", "sanitize-payload", "clearselectors", "-@all"]
            {
                self.apply(rule.as_bytes())?;
            }
        } else if op[0] == b'(' && op.len() >= 2 && op[op.len() - 1] == b')' {
            let inner = &op[1..op.len() - 1];
            let args = protocol::split::split_args_bytes(inner).map_err(|_| RuleError::Syntax)?;
            let mut sel = Selector::new();
            for a in &args {
                sel.apply(a)?;
            }
            self.selectors.push(sel);
        } else if is("clearselectors") {
            self.selectors.clear();
        } else {
            self.root.apply(op)?;
        }
        Ok(())
    }

    /// Whether `password` logs this user in: enabled, and `nopass` or a matching password hash.
    pub fn authenticate(&self, password: &[u8]) -> bool {
        if !self.enabled {
            return false;
        }
        if self.nopass {
            return true;
        }
        let hash = hash_password(password);
        // Compare with every hash so the time taken does not tell which one matched.
        self.passwords.iter().fold(false, |ok, p| constant_time_eq(p.as_bytes(), hash.as_bytes()) | ok)
    }

    /// True when the user may run anything on any key and channel: a check cannot fail.
    pub fn permits_all(&self) -> bool {
        self.unrestricted
    }

    /// After `ACL SETUSER` made `self` out of `old`: the channel patterns still granted, when
    /// subscriptions may have lost their permission; None when none can have (Redis 7.0's
    /// ACLKillPubsubClientsIfNeeded shortcuts: a selector with all channels, or every old
    /// pattern kept).
    pub fn channels_revoked_from(&self, old: &User) -> Option<ChannelGrant> {
        let new_sels = || std::iter::once(&self.root).chain(&self.selectors);
        if new_sels().any(Selector::all_channels) {
            return None;
        }
        let patterns: Vec<Vec<u8>> = new_sels().flat_map(|s| s.channel_patterns().iter().cloned()).collect();
        let kept = std::iter::once(&old.root)
            .chain(&old.selectors)
            .flat_map(|s| s.channel_patterns())
            .all(|p| patterns.contains(p));
        (!kept).then_some(ChannelGrant { patterns })
    }

    /// Checks an invocation (`args[0]` is the command name) against the root selector and every
    /// selector; allowed when any of them allows the whole command (ACLCheckAllUserCommandPerm).
    /// An unknown command or subcommand is denied as a command.
    pub fn check(&self, args: &[&[u8]]) -> Result<(), Denial> {
        let ix = CommandIndex::get();
        let Some(id) = ix.resolve(args) else {
            let name = args.first().map(|a| String::from_utf8_lossy(a).to_lowercase()).unwrap_or_default();
            return Err(Denial::Command { command: name });
        };
        let mut worst = Refusal::Command;
        for sel in std::iter::once(&self.root).chain(&self.selectors) {
            match sel.check(id, args) {
                Ok(()) => return Ok(()),
                Err(r) => worst = worst.max(r),
            }
        }
        Err(match worst {
            Refusal::Command => Denial::Command { command: ix.entries[id].name.to_string() },
            Refusal::Key(i) => Denial::Key { key: args[i].to_vec() },
            Refusal::Channel(i) => Denial::Channel { channel: args[i].to_vec() },
        })
    }

    /// Whether one selector both allows this invocation and may read every key: what SORT's
    /// BY and GET patterns need (ACLUserCheckCmdWithUnrestrictedKeyAccess).
    pub fn reads_all_keys_for(&self, args: &[&[u8]]) -> bool {
        let Some(id) = CommandIndex::get().resolve(args) else { return false };
        std::iter::once(&self.root).chain(&self.selectors).any(|s| s.check(id, args).is_ok() && s.reads_all_keys())
    }

    /// The rules after `user <name> ` in `ACL LIST` and ACL files (Redis 7.0's ACLDescribeUser).
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for flag in self.flags() {
            out.push_str(flag);
            out.push(' ');
        }
        for p in &self.passwords {
            out.push('#');
            out.push_str(p);
            out.push(' ');
        }
        out.push_str(&self.root.describe());
        for sel in &self.selectors {
            out.push_str(" (");
            out.push_str(&sel.describe());
            out.push(')');
        }
        out
    }

    fn flags(&self) -> Vec<&'static str> {
        let mut flags = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            flags.push("nopass");
        }
        match self.sanitize_payload {
            Some(false) => flags.push("skip-sanitize-payload"),
            Some(true) => flags.push("sanitize-payload"),
            None => {}
        }
        flags
    }

    /// The `ACL GETUSER` reply as data.
    pub fn info(&self) -> UserInfo {
        let sel = |s: &Selector| SelectorInfo {
            commands: s.describe_commands(),
            keys: s.describe_keys(),
            channels: s.describe_channels(),
        };
        UserInfo {
            flags: self.flags(),
            passwords: self.passwords.clone(),
            root: sel(&self.root),
            selectors: self.selectors.iter().map(sel).collect(),
        }
    }
}
