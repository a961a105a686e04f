//! The command table as the ACL engine sees it: every command and subcommand of
//! `protocol::command::COMMANDS` numbered densely (Redis's command ids), its ACL categories, how
//! a concrete invocation resolves to one of them, and whether each key is read or written.

use std::sync::OnceLock;

use protocol::command::{acl as cat, CommandSpec, COMMANDS};

/// Redis 7.0's full command list with categories (see the file's header).
const REDIS_COMMANDS: &str = include_str!("redis_commands.txt");

/// One numbered command (top-level or `container|sub`).
pub(crate) struct Entry {
    pub name: &'static str,
    /// None for a Redis 7.0 command that slotgate's table lacks: rules may name it and ACL LIST
    /// describes it, but no invocation resolves to it.
    pub spec: Option<&'static CommandSpec>,
    pub categories: u32,
    /// Ids of the subcommands when this is a container.
    pub children: Vec<usize>,
    /// True for subcommands.
    pub has_parent: bool,
}

/// Every command, numbered: top-level commands in table order, each followed by its subcommands.
pub(crate) struct CommandIndex {
    pub entries: Vec<Entry>,
    by_name: protocol::command::NameMap<&'static str, usize>,
}

impl CommandIndex {
    /// The process-wide index over the protocol table.
    pub fn get() -> &'static CommandIndex {
        static INDEX: OnceLock<CommandIndex> = OnceLock::new();
        INDEX.get_or_init(CommandIndex::build)
    }

    fn build() -> CommandIndex {
        let mut entries = Vec::new();
        for spec in COMMANDS {
            let id = entries.len();
            let categories = spec.categories();
            entries.push(Entry {
                name: spec.name,
                spec: Some(spec),
                categories,
                children: Vec::new(),
                has_parent: false,
            });
            for sub in spec.subcommands {
                let sid = entries.len();
                let categories = sub.categories();
                entries.push(Entry {
                    name: sub.name,
                    spec: Some(sub),
                    categories,
                    children: Vec::new(),
                    has_parent: true,
                });
                entries[id].children.push(sid);
            }
        }
        let mut by_name: protocol::command::NameMap<&'static str, usize> =
            entries.iter().enumerate().map(|(i, e)| (e.name, i)).collect();
        for line in REDIS_COMMANDS.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
            let mut words = line.split(' ');
            let name = words.next().unwrap_or_default();
            if by_name.contains_key(name) {
                continue;
            }
            let categories = words.filter_map(|w| category(w.as_bytes())).fold(0, |acc, bit| acc | bit);
            let parent = name.split_once('|').and_then(|(p, _)| by_name.get(p).copied());
            let id = entries.len();
            entries.push(Entry { name, spec: None, categories, children: Vec::new(), has_parent: parent.is_some() });
            if let Some(p) = parent {
                entries[p].children.push(id);
            }
            by_name.insert(name, id);
        }
        CommandIndex { entries, by_name }
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Id of a full name (`get`, `config|get`), case-insensitively, as Redis's ACL rules look up
    /// commands: at most one `|`, and `cmd|sub` only names a real subcommand.
    pub fn id(&self, name: &[u8]) -> Option<usize> {
        // Lowercased on the stack: this runs for every command a client sends.
        let mut lower = [0u8; 64];
        let lower = lower.get_mut(..name.len())?;
        for (d, s) in lower.iter_mut().zip(name) {
            *d = s.to_ascii_lowercase();
        }
        self.by_name.get(std::str::from_utf8(lower).ok()?).copied()
    }

    /// Top-level ids, in table order.
    pub fn top_level(&self) -> impl Iterator<Item = usize> + '_ {
        self.entries.iter().enumerate().filter(|(_, e)| !e.has_parent).map(|(i, _)| i)
    }

    /// The command a concrete invocation runs, as Redis's `lookupCommand` resolves it: a container
    /// with an argument resolves to the subcommand (None when there is no such subcommand).
    pub fn resolve(&self, args: &[&[u8]]) -> Option<usize> {
        let first = args.first()?;
        let top = self.id(first)?;
        let spec = self.entries[top].spec?;
        if spec.subcommands.is_empty() || args.len() < 2 {
            return Some(top);
        }
        let sub = spec.subcommand(args[1])?;
        self.by_name.get(sub.name).copied()
    }
}

/// The category bit named `name` (case-insensitive, without `@`).
pub(crate) fn category(name: &[u8]) -> Option<u32> {
    cat::NAMES.iter().find(|(_, n)| n.as_bytes().eq_ignore_ascii_case(name)).map(|(bit, _)| *bit)
}

/// How a command uses one of its keys, as the command table says (Redis 7 key-spec flags: ACCESS
/// needs read permission; INSERT, DELETE and UPDATE need write permission).
pub(crate) use protocol::command::KeyUse;

/// The keys of an invocation with how each is used: `(argument index, use)`. A bad `numkeys`
/// yields no keys (Redis's key extraction finds none and the command itself fails later).
pub(crate) fn keys_of(spec: &CommandSpec, args: &[&[u8]]) -> Vec<(usize, KeyUse)> {
    let Ok(idx) = spec.key_indexes(args.len(), |i| args.get(i).copied()) else {
        return Vec::new();
    };
    let (first, rest) = match spec.name {
        // SET reads its key only with the GET option (Redis's setGetKeys).
        "set" if args.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get")) => (KeyUse::ReadWrite, KeyUse::ReadWrite),
        "bitfield" if bitfield_only_reads(args) => (KeyUse::Read, KeyUse::Read),
        _ => spec.uses.unwrap_or((KeyUse::Neither, KeyUse::Neither)),
    };
    idx.into_iter().enumerate().map(|(n, i)| (i, if n == 0 { first } else { rest })).collect()
}

/// Whether a BITFIELD invocation only reads its key (Redis's bitfieldGetKeys): GETs and
/// OVERFLOWs alone; anything else, a malformed argument included, counts as a write.
fn bitfield_only_reads(args: &[&[u8]]) -> bool {
    let mut i = 2;
    while i < args.len() {
        let remaining = args.len() - i - 1;
        let arg = args[i];
        if arg.eq_ignore_ascii_case(b"get") && remaining >= 2 {
            i += 3;
        } else if arg.eq_ignore_ascii_case(b"overflow") && remaining >= 1 {
            i += 2;
        } else {
            return false;
        }
    }
    true
}

/// How an invocation touches pub/sub channels (Redis's channel table: SUBSCRIBE, SSUBSCRIBE,
/// PSUBSCRIBE, PUBLISH, SPUBLISH; the unsubscribe family is never checked).
pub(crate) enum ChannelUse {
    /// Channels at these argument indexes, matched against the user's patterns.
    Literal(std::ops::Range<usize>),
    /// Patterns at these indexes, which must equal one of the user's patterns.
    Pattern(std::ops::Range<usize>),
}

/// The channels an invocation of `spec` names, if it is one of the checked commands.
pub(crate) fn channels_of(spec: &CommandSpec, argc: usize) -> Option<ChannelUse> {
    match spec.name {
        "subscribe" | "ssubscribe" => Some(ChannelUse::Literal(1..argc)),
        "publish" | "spublish" => Some(ChannelUse::Literal(1..argc.min(2))),
        "psubscribe" => Some(ChannelUse::Pattern(1..argc)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use KeyUse::{Read as R, ReadWrite as RW, Write as W};

    #[test]
    fn resolves_subcommands() {
        let ix = CommandIndex::get();
        let id = ix.resolve(&[b"CONFIG", b"get", b"x"]).unwrap();
        assert_eq!(ix.entries[id].name, "config|get");
        assert!(ix.resolve(&[b"config", b"nosuch"]).is_none());
        assert_eq!(ix.entries[ix.resolve(&[b"config"]).unwrap()].name, "config");
        assert!(ix.id(b"get|x").is_none());
        // Redis commands missing from the table are known to rules but never resolve.
        assert!(ix.id(b"lolwut").is_some());
        assert!(ix.resolve(&[b"lolwut", b"version", b"5"]).is_none());
    }

    #[test]
    fn key_uses_follow_key_specs() {
        let ix = CommandIndex::get();
        let spec = |n: &[u8]| ix.entries[ix.id(n).unwrap()].spec.unwrap();
        let args: &[&[u8]] = &[b"lmove", b"a", b"b", b"left", b"right"];
        assert_eq!(keys_of(spec(b"lmove"), args), vec![(1, RW), (2, W)]);
        let args: &[&[u8]] = &[b"zunionstore", b"d", b"2", b"a", b"b"];
        assert_eq!(keys_of(spec(b"zunionstore"), args), vec![(1, W), (3, R), (4, R)]);
        let args: &[&[u8]] = &[b"set", b"k", b"v", b"GET"];
        assert_eq!(keys_of(spec(b"set"), args), vec![(1, RW)]);
        let args: &[&[u8]] = &[b"bitfield", b"k", b"GET", b"u8", b"0", b"overflow", b"sat"];
        assert_eq!(keys_of(spec(b"bitfield"), args), vec![(1, R)]);
        let args: &[&[u8]] = &[b"bitfield", b"k", b"get", b"u8", b"0", b"incrby", b"u8", b"0", b"1"];
        assert_eq!(keys_of(spec(b"bitfield"), args), vec![(1, RW)]);
        let args: &[&[u8]] = &[b"bitfield", b"k", b"get", b"u8"];
        assert_eq!(keys_of(spec(b"bitfield"), args), vec![(1, RW)]);
        let args: &[&[u8]] = &[b"eval", b"s", b"x"];
        assert!(keys_of(spec(b"eval"), args).is_empty());
    }
}
