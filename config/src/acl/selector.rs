//! One ACL selector: the command, key and channel permissions that the root of a user and each
//! `(...)` selector hold. Rules apply in order onto a command bitmap as Redis 7.0 does, and the
//! bitmap is described back the way `ACL LIST` prints it.

use std::collections::BTreeMap;

use protocol::command::acl::NAMES as CATEGORY_NAMES;
use protocol::glob_match;

use super::commands::{category, channels_of, keys_of, ChannelUse, CommandIndex};
use super::RuleError;

/// Why a selector refused an invocation; ordered like Redis's ACL_DENIED_* codes (command <
/// key < channel), which decides which error a user with several selectors reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Refusal {
    Command,
    /// The key at this argument index.
    Key(usize),
    /// The channel at this argument index.
    Channel(usize),
}

/// A key pattern with the access it grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyPattern {
    pub pattern: Vec<u8>,
    pub read: bool,
    pub write: bool,
}

/// Commands, keys and channels one selector allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Selector {
    /// One bit per command id of [`CommandIndex`].
    allowed: Vec<u64>,
    /// Redis's reserved "future commands" bit: set by `+@all`, cleared by `-@all`.
    all_commands_base: bool,
    /// Allowed first arguments of otherwise denied commands (`+select|0`), by command id.
    first_args: BTreeMap<usize, Vec<Vec<u8>>>,
    all_keys: bool,
    keys: Vec<KeyPattern>,
    all_channels: bool,
    channels: Vec<Vec<u8>>,
}

fn str_of(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn has_space(b: &[u8]) -> bool {
    b.iter().any(|c| c.is_ascii_whitespace() || *c == 0)
}

impl Selector {
    /// An empty selector (`resetkeys resetchannels -@all`), as Redis 7.0 creates them.
    pub fn new() -> Selector {
        let words = CommandIndex::get().len().div_ceil(64);
        Selector {
            allowed: vec![0; words],
            all_commands_base: false,
            first_args: BTreeMap::new(),
            all_keys: false,
            keys: Vec::new(),
            all_channels: false,
            channels: Vec::new(),
        }
    }

    fn bit(&self, id: usize) -> bool {
        self.allowed[id / 64] & (1 << (id % 64)) != 0
    }

    fn set_bit(&mut self, id: usize, on: bool) {
        if on {
            self.allowed[id / 64] |= 1 << (id % 64);
        } else {
            self.allowed[id / 64] &= !(1 << (id % 64));
        }
    }

    /// Allows or denies a command and, for a container, all its subcommands (ACLChangeSelectorPerm).
    fn change_perm(&mut self, id: usize, on: bool) {
        self.set_bit(id, on);
        self.first_args.remove(&id);
        for &sub in &CommandIndex::get().entries[id].children {
            self.set_bit(sub, on);
        }
    }

    /// Applies `+@cat`/`-@cat`: every command in the category, containers taking their subcommands.
    fn change_category(&mut self, bit: u32, on: bool) {
        for (id, e) in CommandIndex::get().entries.iter().enumerate() {
            if e.categories & bit != 0 {
                self.change_perm(id, on);
            }
        }
    }

    /// Applies one rule that a selector understands; anything else is a syntax error.
    pub fn apply(&mut self, op: &[u8]) -> Result<(), RuleError> {
        let is = |word: &str| op.eq_ignore_ascii_case(word.as_bytes());
        if op.is_empty() {
            return Ok(());
        }
        if is("allkeys") || op == b"~*" {
            self.all_keys = true;
            self.keys.clear();
        } else if is("resetkeys") {
            self.all_keys = false;
            self.keys.clear();
        } else if is("allchannels") || op == b"&*" {
            self.all_channels = true;
            self.channels.clear();
        } else if is("resetchannels") {
            self.all_channels = false;
            self.channels.clear();
        } else if is("allcommands") || is("+@all") {
            self.allowed.iter_mut().for_each(|w| *w = u64::MAX);
            self.all_commands_base = true;
            self.first_args.clear();
        } else if is("nocommands") || is("-@all") {
            self.allowed.iter_mut().for_each(|w| *w = 0);
            self.all_commands_base = false;
            self.first_args.clear();
        } else if op[0] == b'~' || op[0] == b'%' {
            self.add_key_pattern(op)?;
        } else if op[0] == b'&' {
            if self.all_channels {
                return Err(RuleError::ChannelsAfterAll);
            }
            let pat = &op[1..];
            if has_space(pat) {
                return Err(RuleError::Syntax);
            }
            if !self.channels.iter().any(|c| c == pat) {
                self.channels.push(pat.to_vec());
            }
        } else if (op[0] == b'+' || op[0] == b'-') && op.get(1) == Some(&b'@') {
            let bit = category(&op[2..]).ok_or(RuleError::UnknownCommand)?;
            self.change_category(bit, op[0] == b'+');
        } else if op[0] == b'+' {
            self.allow_command(&op[1..])?;
        } else if op[0] == b'-' {
            let id = CommandIndex::get().id(&op[1..]).ok_or(RuleError::UnknownCommand)?;
            self.change_perm(id, false);
        } else {
            return Err(RuleError::Syntax);
        }
        Ok(())
    }

    fn add_key_pattern(&mut self, op: &[u8]) -> Result<(), RuleError> {
        if self.all_keys {
            return Err(RuleError::KeysAfterAll);
        }
        let (mut read, mut write) = (true, true);
        let mut offset = 1;
        if op[0] == b'%' {
            (read, write) = (false, false);
            while offset < op.len() {
                match op[offset].to_ascii_uppercase() {
                    b'R' if !read => read = true,
                    b'W' if !write => write = true,
                    b'~' => {
                        offset += 1;
                        break;
                    }
                    _ => return Err(RuleError::Syntax),
                }
                offset += 1;
            }
            if !read && !write {
                return Err(RuleError::Syntax);
            }
        }
        let pat = &op[offset..];
        if has_space(pat) {
            return Err(RuleError::Syntax);
        }
        match self.keys.iter_mut().find(|k| k.pattern == pat) {
            Some(k) => {
                k.read |= read;
                k.write |= write;
            }
            None => self.keys.push(KeyPattern { pattern: pat.to_vec(), read, write }),
        }
        Ok(())
    }

    /// `+cmd`, `+container|sub`, or the first-argument form `+cmd|arg` of a plain command.
    fn allow_command(&mut self, name: &[u8]) -> Result<(), RuleError> {
        let ix = CommandIndex::get();
        let Some(bar) = name.iter().rposition(|&c| c == b'|') else {
            let id = ix.id(name).ok_or(RuleError::UnknownCommand)?;
            self.change_perm(id, true);
            return Ok(());
        };
        let (cmd, sub) = (&name[..bar], &name[bar + 1..]);
        let id = ix.id(cmd).ok_or(RuleError::UnknownCommand)?;
        let entry = &ix.entries[id];
        if entry.has_parent {
            return Err(RuleError::FirstArgOfSubcommand);
        }
        if sub.is_empty() {
            return Err(RuleError::Syntax);
        }
        if !entry.children.is_empty() {
            let sid = ix.id(name).ok_or(RuleError::UnknownCommand)?;
            self.change_perm(sid, true);
        } else {
            // Kept as written; matched and deduplicated case-insensitively, as Redis does.
            let args = self.first_args.entry(id).or_default();
            if !args.iter().any(|a| a.eq_ignore_ascii_case(sub)) {
                args.push(sub.to_vec());
            }
        }
        Ok(())
    }

    /// Checks one invocation (`args[0]` is the name) of command `id` as ACLSelectorCheckCmd does.
    pub fn check(&self, id: usize, args: &[&[u8]]) -> Result<(), Refusal> {
        let entry = &CommandIndex::get().entries[id];
        let Some(spec) = entry.spec else { return Err(Refusal::Command) };
        if !spec.has(protocol::command::flags::NO_AUTH) && !self.bit(id) {
            let arg_at = if entry.has_parent { 2 } else { 1 };
            let allowed = match (self.first_args.get(&id), args.get(arg_at)) {
                (Some(list), Some(arg)) => list.iter().any(|a| a.eq_ignore_ascii_case(arg)),
                _ => false,
            };
            if !allowed {
                return Err(Refusal::Command);
            }
        }
        if !self.all_keys {
            for (i, usage) in keys_of(spec, args) {
                let (read, write) = usage.needs();
                if usage == super::commands::KeyUse::NotKey {
                    continue;
                }
                let ok = self
                    .keys
                    .iter()
                    .any(|k| (!read || k.read) && (!write || k.write) && glob_match(&k.pattern, args[i]));
                if !ok {
                    return Err(Refusal::Key(i));
                }
            }
        }
        if !self.all_channels {
            let (range, pattern) = match channels_of(spec, args.len()) {
                Some(ChannelUse::Literal(r)) => (r, false),
                Some(ChannelUse::Pattern(r)) => (r, true),
                None => (0..0, false),
            };
            for i in range {
                let ch = args[i];
                // A PSUBSCRIBE pattern must equal a user pattern; channels are glob-matched.
                let ok = self.channels.iter().any(|p| if pattern { p == ch } else { glob_match(p, ch) });
                if !ok {
                    return Err(Refusal::Channel(i));
                }
            }
        }
        Ok(())
    }

    /// Every key may be read: `allkeys`, or the literal pattern `*` with read access (Redis
    /// 7.0's ACLSelectorHasUnrestrictedKeyAccess for CMD_KEY_ACCESS; `~a*` does not count).
    pub fn reads_all_keys(&self) -> bool {
        self.all_keys || self.keys.iter().any(|k| k.read && k.pattern == b"*")
    }

    /// True when this selector allows every command, key and channel (no check can fail).
    pub fn permits_all(&self) -> bool {
        self.all_keys && self.all_channels && (0..CommandIndex::get().len()).all(|id| self.bit(id))
    }

    /// `&*` (or `allchannels`) is in force.
    pub fn all_channels(&self) -> bool {
        self.all_channels
    }

    /// The channel patterns, when not all channels.
    pub fn channel_patterns(&self) -> &[Vec<u8>] {
        &self.channels
    }

    /// Key patterns as `ACL GETUSER` shows them (`~*`, or `~a %R~b %W~c`).
    pub fn describe_keys(&self) -> String {
        if self.all_keys {
            return "~*".to_string();
        }
        self.keys.iter().map(describe_pattern).collect::<Vec<_>>().join(" ")
    }

    /// Channel patterns as `ACL GETUSER` shows them (`&*`, or `&a &b`).
    pub fn describe_channels(&self) -> String {
        if self.all_channels {
            return "&*".to_string();
        }
        self.channels.iter().map(|c| format!("&{}", str_of(c))).collect::<Vec<_>>().join(" ")
    }

    /// The selector as `ACL LIST` prints it: keys, channels, then command rules.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        if self.all_keys {
            out.push_str("~* ");
        } else {
            for k in &self.keys {
                out.push_str(&describe_pattern(k));
                out.push(' ');
            }
        }
        if self.all_channels {
            out.push_str("&* ");
        } else {
            out.push_str("resetchannels ");
            for c in &self.channels {
                out.push('&');
                out.push_str(&str_of(c));
                out.push(' ');
            }
        }
        out.push_str(&self.describe_commands());
        out
    }

    /// Command rules rebuilt from the bitmap like Redis 7.0's ACLDescribeSelectorCommandRules:
    /// `+@all`/`-@all`, then greedily the categories that fit best, then single commands. The
    /// single commands come in table order (Redis prints them in hash order, which varies by run).
    pub fn describe_commands(&self) -> String {
        let ix = CommandIndex::get();
        let additive = !self.all_commands_base;
        let mut rules: Vec<String> = vec![if additive { "-@all" } else { "+@all" }.to_string()];
        let mut fake = Selector::new();
        let base: &[u8] = if additive { b"-@all" } else { b"+@all" };
        let _ = fake.apply(base);
        let mut temp = self.clone();
        let mut applied = vec![false; CATEGORY_NAMES.len()];
        loop {
            let mut best: Option<usize> = None;
            let (mut mindiff, mut maxsame) = (usize::MAX, 0usize);
            for (j, (bit, _)) in CATEGORY_NAMES.iter().enumerate() {
                if applied[j] {
                    continue;
                }
                let (mut on, mut off) = (0usize, 0usize);
                for (id, e) in ix.entries.iter().enumerate() {
                    if e.categories & bit != 0 {
                        if temp.bit(id) {
                            on += 1;
                        } else {
                            off += 1;
                        }
                    }
                }
                let (diff, same) = if additive { (off, on) } else { (on, off) };
                if same > diff && (diff < mindiff || (diff == mindiff && same > maxsame)) {
                    best = Some(j);
                    mindiff = diff;
                    maxsame = same;
                }
            }
            let Some(j) = best else { break };
            let (bit, name) = CATEGORY_NAMES[j];
            fake.change_category(bit, additive);
            temp.change_category(bit, !additive);
            rules.push(format!("{}@{name}", if additive { '+' } else { '-' }));
            applied[j] = true;
        }
        for top in ix.top_level() {
            self.describe_single(top, &mut fake, &mut rules);
            for &sub in &ix.entries[top].children {
                self.describe_single(sub, &mut fake, &mut rules);
            }
        }
        rules.join(" ")
    }

    fn describe_single(&self, id: usize, fake: &mut Selector, rules: &mut Vec<String>) {
        let name = CommandIndex::get().entries[id].name;
        let user_bit = self.bit(id);
        if user_bit != fake.bit(id) {
            rules.push(format!("{}{name}", if user_bit { '+' } else { '-' }));
            fake.change_perm(id, user_bit);
        }
        if !user_bit {
            for arg in self.first_args.get(&id).into_iter().flatten() {
                rules.push(format!("+{name}|{}", str_of(arg)));
            }
        }
    }
}

fn describe_pattern(k: &KeyPattern) -> String {
    let prefix = match (k.read, k.write) {
        (true, false) => "%R~",
        (false, true) => "%W~",
        _ => "~",
    };
    format!("{prefix}{}", str_of(&k.pattern))
}
