//! The ACL command family on an [`AclStore`], with Redis 7.0's replies: WHOAMI, USERS, LIST,
//! GETUSER, CAT, DRYRUN, SETUSER, DELUSER, LOAD, SAVE, LOG, GENPASS, HELP. The node and the
//! proxy both answer ACL with this; the caller's right to run the subcommand was checked
//! before, like any command's.

use std::time::Instant;

use protocol::Reply;

use super::store::{AclStore, Effect};
use super::{category_commands, category_names, DryRun};

/// ACL HELP's lines after the first, as Redis 7.0 prints them.
const HELP: &[&str] = &[
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
    "HELP",
    "    Prints this help.",
];

fn text(a: &[u8]) -> String {
    String::from_utf8_lossy(a).into_owned()
}

/// A whole argument as a signed integer, as Redis's string2l reads it (no `+`, no spaces).
fn parse_long(a: &[u8]) -> Option<i64> {
    std::str::from_utf8(a).ok().filter(|s| !s.starts_with('+')).and_then(|s| s.parse().ok())
}

fn strings<S: AsRef<[u8]>>(out: &mut Reply, items: &[S]) {
    out.array(items.len());
    for i in items {
        out.bulk(i.as_ref());
    }
}

impl AclStore {
    /// Runs `ACL <subcommand> ...` for a connection logged in as `caller`, writing the reply.
    pub fn command(&mut self, caller: &str, args: &[&[u8]], out: &mut Reply) -> Effect {
        let sub = args.get(1).map(|a| text(a).to_ascii_lowercase()).unwrap_or_default();
        match (sub.as_str(), args.len()) {
            ("whoami", 2) => out.bulk(caller.as_bytes()),
            ("users", 2) => strings(out, &self.acl.usernames()),
            ("list", 2) => strings(out, &self.acl.list()),
            ("getuser", 3) => self.getuser(&text(args[2]), out),
            ("cat", 2) => strings(out, &category_names()),
            ("cat", 3) => match category_commands(&text(args[2])) {
                Ok(cmds) => strings(out, &cmds),
                Err(e) => out.error(&format!("ERR {e}")),
            },
            ("dryrun", n) if n >= 4 => match self.acl.dryrun(&text(args[2]), &args[3..]) {
                Ok(DryRun::Allowed) => out.ok(),
                Ok(DryRun::Denied(d)) => out.bulk(d.dryrun_text().as_bytes()),
                Err(e) => out.error(&format!("ERR {e}")),
            },
            ("setuser", n) if n >= 3 => return self.setuser(&text(args[2]), &args[3..], out),
            ("deluser", n) if n >= 3 => {
                let names: Vec<String> = args[2..].iter().map(|a| text(a)).collect();
                let refs: Vec<&str> = names.iter().map(String::as_str).collect();
                let existing: Vec<String> = names.iter().filter(|n| self.acl.user(n).is_some()).cloned().collect();
                match self.acl.deluser(&refs) {
                    Ok(n) => {
                        self.changed();
                        out.int(n as i64);
                        return Effect::UsersDeleted(existing);
                    }
                    Err(e) => out.error(&format!("ERR {e}")),
                }
            }
            ("load", 2) => match self.reload() {
                Ok(()) => {
                    out.ok();
                    return Effect::UsersReplaced;
                }
                Err(e) => out.error(&format!("ERR {e}")),
            },
            ("save", 2) => match self.save() {
                Ok(()) => out.ok(),
                Err(e) => out.error(&format!("ERR {e}")),
            },
            ("log", 2 | 3) => self.log_command(args.get(2).copied(), out),
            ("genpass", 2 | 3) => {
                let bits = match args.get(2).map(|b| parse_long(b)) {
                    None => 256,
                    Some(None) => {
                        out.error("ERR value is not an integer or out of range");
                        return Effect::None;
                    }
                    Some(Some(b)) if b > 0 && b <= 4096 => b as usize,
                    Some(_) => {
                        out.error(
                            "ERR ACL GENPASS argument must be the number of bits for the output password, a \
                             positive number up to 4096",
                        );
                        return Effect::None;
                    }
                };
                out.bulk(random_hex(bits.div_ceil(4)).as_bytes());
            }
            ("help", 2) => {
                out.array(HELP.len() + 1);
                out.simple("ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
                for l in HELP {
                    out.simple(l);
                }
            }
            ("whoami" | "users" | "list" | "getuser" | "cat" | "load" | "save" | "help", _)
            | ("dryrun" | "setuser" | "deluser" | "log" | "genpass", _) => {
                out.error(&format!("ERR wrong number of arguments for 'acl|{sub}' command"))
            }
            _ => out.error(&format!(
                "ERR unknown subcommand '{}'. Try ACL HELP.",
                args.get(1).map(|a| text(a)).unwrap_or_default()
            )),
        }
        Effect::None
    }

    fn getuser(&self, name: &str, out: &mut Reply) {
        let Some(info) = self.acl.getuser(name) else {
            out.null();
            return;
        };
        out.map(6);
        out.bulk(b"flags");
        strings(out, &info.flags);
        out.bulk(b"passwords");
        strings(out, &info.passwords);
        for (k, v) in [("commands", &info.root.commands), ("keys", &info.root.keys), ("channels", &info.root.channels)]
        {
            out.bulk(k.as_bytes());
            out.bulk(v.as_bytes());
        }
        out.bulk(b"selectors");
        out.array(info.selectors.len());
        for sel in &info.selectors {
            out.map(3);
            for (k, v) in [("commands", &sel.commands), ("keys", &sel.keys), ("channels", &sel.channels)] {
                out.bulk(k.as_bytes());
                out.bulk(v.as_bytes());
            }
        }
    }

    fn setuser(&mut self, name: &str, rules: &[&[u8]], out: &mut Reply) -> Effect {
        let old = self.acl.user(name).cloned();
        if let Err(e) = self.acl.setuser(name, rules) {
            out.error(&format!("ERR {e}"));
            return Effect::None;
        }
        self.changed();
        out.ok();
        let grant = match (old, self.acl.user(name)) {
            (Some(old), Some(new)) => new.channels_revoked_from(&old),
            _ => None,
        };
        match grant {
            Some(grant) => Effect::ChannelsRevoked { user: name.to_string(), grant },
            None => Effect::None,
        }
    }

    /// `ACL LOG [count | RESET]`: ten entries by default, a negative count as zero.
    fn log_command(&mut self, arg: Option<&[u8]>, out: &mut Reply) {
        let count = match arg {
            Some(a) if a.eq_ignore_ascii_case(b"reset") => {
                self.log.reset();
                out.ok();
                return;
            }
            Some(a) => match parse_long(a) {
                Some(c) => c.max(0) as usize,
                None => {
                    out.error("ERR value is not an integer or out of range");
                    return;
                }
            },
            None => 10,
        };
        let now = Instant::now();
        let entries: Vec<_> = self.log.entries(Some(count)).collect();
        out.array(entries.len());
        for e in entries {
            out.map(7);
            out.bulk(b"count");
            out.int(e.count as i64);
            for (k, v) in [("reason", e.reason.as_str()), ("context", e.context.as_str())] {
                out.bulk(k.as_bytes());
                out.bulk(v.as_bytes());
            }
            out.bulk(b"object");
            out.bulk(&e.object);
            out.bulk(b"username");
            out.bulk(e.username.as_bytes());
            out.bulk(b"age-seconds");
            out.double(e.age_seconds(now));
            out.bulk(b"client-info");
            out.bulk(e.client_info.as_bytes());
        }
    }
}

/// `n` hex digits from the kernel's random source, as Redis's GENPASS reads /dev/urandom.
fn random_hex(n: usize) -> String {
    use std::io::Read;
    let mut bytes = vec![0u8; n.div_ceil(2)];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = f.read_exact(&mut bytes);
    }
    let mut out: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    out.truncate(n);
    out
}
