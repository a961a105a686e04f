//! Access control at the front door: Redis ACL users (from `aclfile`, or the stock `default`
//! user), AUTH and HELLO AUTH, every command checked against the user's command, key and
//! channel rules before anything reaches a node, the ACL command family, and ACL LOG. The rules
//! themselves are `config::acl`; this module applies them to sessions.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};
use std::time::Instant;

use bytes::Bytes;
use config::acl::{Acl, AclLog, DryRun, LogContext, LogReason};
use protocol::command::flags;
use protocol::{lookup, Proto, Reply};

use crate::session::{lower, Proxy, Session};

/// The users and what they were refused.
pub struct Security {
    acl: RwLock<Acl>,
    log: Mutex<AclLog>,
    file: Option<PathBuf>,
}

impl Security {
    /// Loads `aclfile` (a bad line stops start-up, named); without one, the stock `default`.
    pub fn load(file: Option<&Path>) -> Result<Security, String> {
        let acl = match file {
            Some(path) => Acl::load_file(path).map_err(|e| e.reply_text())?,
            None => Acl::new(),
        };
        Ok(Security { acl: RwLock::new(acl), log: Mutex::new(AclLog::default()), file: file.map(Path::to_path_buf) })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Acl> {
        self.acl.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Acl> {
        self.acl.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads the ACL file again; on any error the old users stay and the error is returned.
    pub fn reload(&self) -> Result<(), String> {
        let Some(path) = &self.file else {
            return Err("This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.".into());
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("Error loading ACLs, opening file '{}': {e}", path.display()))?;
        self.write().reload(&path.display().to_string(), &text).map_err(|e| e.reply_text())
    }

    /// Whether `user` exists and is enabled: a verified client certificate naming it logs in
    /// as it (`tls-cert-user`).
    pub fn certificate_login(&self, user: &str) -> bool {
        self.read().user(user).is_some_and(|u| u.enabled())
    }

    /// Whether a new connection starts logged in as `default` (Redis: `default` is on and nopass).
    pub fn default_login(&self) -> bool {
        self.read().user("default").is_some_and(|u| u.enabled() && u.nopass())
    }

    fn record(&self, s: &Session, reason: LogReason, object: &[u8], username: &str) {
        let context = if s.in_multi() { LogContext::Multi } else { LogContext::Toplevel };
        let client = format!("id={} addr={} laddr={} user={}", s.id, s.peer_text(), s.local_text(), s.user);
        self.log.lock().unwrap_or_else(|e| e.into_inner()).record(
            reason,
            context,
            object,
            username,
            &client,
            Instant::now(),
        );
    }
}

fn error(msg: &str) -> Bytes {
    Bytes::from(format!("-{msg}\r\n"))
}

/// Refuses a command the session may not run: NOAUTH before login, NOPERM after. `None` lets
/// it through. Unknown commands and wrong arities pass here, so they get Redis's own errors.
pub fn gate(proxy: &Proxy, s: &Session, args: &[Bytes]) -> Option<Bytes> {
    let spec = lookup(&args[0])?;
    if !s.authenticated {
        return (!spec.has(flags::NO_AUTH)).then(|| error("NOAUTH Authentication required."));
    }
    // As in Redis, an unknown subcommand or a wrong arity is answered as such, not as NOPERM.
    let unknown_sub = !spec.subcommands.is_empty() && args.len() > 1 && spec.subcommand(&args[1]).is_none();
    if spec.has(flags::NO_AUTH) || !spec.arity_ok(args.len()) || unknown_sub {
        return None;
    }
    let refs: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
    let denial = proxy.security.read().check(&s.user, &refs).err()?;
    proxy.security.record(s, denial.reason(), denial.object(), &s.user);
    Some(error(&denial.error_message()))
}

/// AUTH [user] password.
pub fn auth(proxy: &Proxy, s: &mut Session, args: &[Bytes]) -> Bytes {
    let (user, pass) = match args.len() {
        2 => ("default".to_string(), &args[1]),
        3 => (String::from_utf8_lossy(&args[1]).into_owned(), &args[2]),
        _ => return error("ERR syntax error"),
    };
    if args.len() == 2 && proxy.security.default_login() && !proxy.security.read().authenticate("default", pass) {
        // Redis 7's reply when only the passwordless default user exists.
        return error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
    }
    match login(proxy, s, &user, pass) {
        Ok(()) => Bytes::from_static(b"+OK\r\n"),
        Err(e) => e,
    }
}

/// Switches the session to `user` when the password fits; WRONGPASS (and an ACL LOG entry)
/// otherwise.
pub fn login(proxy: &Proxy, s: &mut Session, user: &str, pass: &[u8]) -> Result<(), Bytes> {
    if proxy.security.read().authenticate(user, pass) {
        s.user = user.to_string();
        s.authenticated = true;
        return Ok(());
    }
    proxy.security.record(s, LogReason::Auth, user.as_bytes(), user);
    Err(error("WRONGPASS invalid username-password pair or user is disabled."))
}

fn reply(s: &Session) -> Reply {
    let mut r = Reply::new();
    if s.resp3 {
        r.proto = Proto::Resp3;
    }
    r
}

/// The ACL command family (the caller's own permissions were checked by `gate`).
pub fn command(proxy: &Proxy, s: &mut Session, args: &[Bytes]) -> Bytes {
    let sub = args.get(1).map(|a| lower(a)).unwrap_or_default();
    let sec = &proxy.security;
    let mut r = reply(s);
    let text = |a: &Bytes| String::from_utf8_lossy(a).into_owned();
    match (sub.as_str(), args.len()) {
        ("whoami", 2) => r.bulk(s.user.as_bytes()),
        ("users", 2) => {
            let acl = sec.read();
            let names = acl.usernames();
            r.array(names.len());
            for n in names {
                r.bulk(n.as_bytes());
            }
        }
        ("list", 2) => {
            let lines = sec.read().list();
            r.array(lines.len());
            for l in lines {
                r.bulk(l.as_bytes());
            }
        }
        ("getuser", 3) => match sec.read().getuser(&text(&args[2])) {
            None => r.null(),
            Some(info) => {
                r.map(6);
                r.bulk(b"flags");
                r.array(info.flags.len());
                for f in &info.flags {
                    r.bulk(f.as_bytes());
                }
                r.bulk(b"passwords");
                r.array(info.passwords.len());
                for p in &info.passwords {
                    r.bulk(p.as_bytes());
                }
                for (k, v) in
                    [("commands", &info.root.commands), ("keys", &info.root.keys), ("channels", &info.root.channels)]
                {
                    r.bulk(k.as_bytes());
                    r.bulk(v.as_bytes());
                }
                r.bulk(b"selectors");
                r.array(info.selectors.len());
                for sel in &info.selectors {
                    r.map(3);
                    for (k, v) in [("commands", &sel.commands), ("keys", &sel.keys), ("channels", &sel.channels)] {
                        r.bulk(k.as_bytes());
                        r.bulk(v.as_bytes());
                    }
                }
            }
        },
        ("cat", 2) => {
            let names = config::acl::category_names();
            r.array(names.len());
            for n in names {
                r.bulk(n.as_bytes());
            }
        }
        ("cat", 3) => match config::acl::category_commands(&text(&args[2])) {
            Ok(cmds) => {
                r.array(cmds.len());
                for c in cmds {
                    r.bulk(c.as_bytes());
                }
            }
            Err(e) => r.error(&format!("ERR {}", e.0)),
        },
        ("dryrun", n) if n >= 4 => {
            let refs: Vec<&[u8]> = args[3..].iter().map(|a| &a[..]).collect();
            match sec.read().dryrun(&text(&args[2]), &refs) {
                Ok(DryRun::Allowed) => r.ok(),
                Ok(DryRun::Denied(d)) => r.bulk(d.dryrun_text().as_bytes()),
                Err(e) => r.error(&format!("ERR {}", e.0)),
            }
        }
        ("setuser", n) if n >= 3 => {
            let rules: Vec<&[u8]> = args[3..].iter().map(|a| &a[..]).collect();
            match sec.write().setuser(&text(&args[2]), &rules) {
                Ok(()) => r.ok(),
                Err(e) => r.error(&format!("ERR {}", e.0)),
            }
        }
        ("deluser", n) if n >= 3 => {
            let names: Vec<String> = args[2..].iter().map(text).collect();
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            match sec.write().deluser(&refs) {
                Ok(n) => r.int(n as i64),
                Err(e) => r.error(&format!("ERR {}", e.0)),
            }
        }
        ("load", 2) => match sec.reload() {
            Ok(()) => r.ok(),
            Err(e) => r.error(&format!("ERR {e}")),
        },
        ("save", 2) => match save(sec) {
            Ok(()) => r.ok(),
            Err(e) => r.error(&format!("ERR {e}")),
        },
        ("log", 2 | 3) => {
            let mut log = sec.log.lock().unwrap_or_else(|e| e.into_inner());
            let count = match args.get(2) {
                Some(a) if lower(a) == "reset" => {
                    log.reset();
                    r.ok();
                    return r.buf.freeze();
                }
                Some(a) => match std::str::from_utf8(a).ok().and_then(|c| c.parse::<i64>().ok()) {
                    Some(c) if c >= 0 => Some(c as usize),
                    _ => {
                        r.error("ERR value is out of range, must be positive");
                        return r.buf.freeze();
                    }
                },
                None => Some(10),
            };
            let now = Instant::now();
            let entries: Vec<_> = log.entries(count).collect();
            r.array(entries.len());
            for e in entries {
                r.map(7);
                r.bulk(b"count");
                r.int(e.count as i64);
                for (k, v) in [("reason", e.reason.as_str()), ("context", e.context.as_str())] {
                    r.bulk(k.as_bytes());
                    r.bulk(v.as_bytes());
                }
                r.bulk(b"object");
                r.bulk(&e.object);
                r.bulk(b"username");
                r.bulk(e.username.as_bytes());
                r.bulk(b"age-seconds");
                r.double(e.age_seconds(now));
                r.bulk(b"client-info");
                r.bulk(e.client_info.as_bytes());
            }
        }
        ("genpass", 2 | 3) => {
            let bits = match args.get(2).map(|b| std::str::from_utf8(b).ok().and_then(|v| v.parse::<i64>().ok())) {
                None => 256,
                Some(Some(b)) if b > 0 && b <= 4096 => b as usize,
                Some(_) => {
                    r.error("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096");
                    return r.buf.freeze();
                }
            };
            r.bulk(random_hex(bits.div_ceil(4)).as_bytes());
        }
        ("help", 2) => {
            let lines = [
                "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "CAT [<category>]",
                "DELUSER <username> [<username> ...]",
                "DRYRUN <username> <command> [<arg> ...]",
                "GETUSER <username>",
                "LIST",
                "USERS",
                "SETUSER <username> <attribute> [<attribute> ...]",
                "SAVE",
                "LOAD",
                "LOG [<count> | RESET]",
                "GENPASS [<bits>]",
                "WHOAMI",
                "HELP",
            ];
            r.array(lines.len());
            for l in lines {
                r.simple(l);
            }
        }
        ("whoami" | "users" | "list" | "getuser" | "cat" | "load" | "save" | "help", _)
        | ("dryrun" | "setuser" | "deluser" | "log" | "genpass", _) => {
            r.error(&format!("ERR wrong number of arguments for 'acl|{sub}' command"))
        }
        _ => r.error(&format!("ERR unknown subcommand '{}'. Try ACL HELP.", text(&args[1]))),
    }
    r.buf.freeze()
}

/// ACL SAVE: the users in file form, replacing the file atomically.
fn save(sec: &Security) -> Result<(), String> {
    let Some(path) = &sec.file else {
        return Err("This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.".into());
    };
    let text = sec.read().save_text();
    let tmp = path.with_extension("tmp-acl");
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        format!("There was an error trying to save the ACLs. Please check the server logs for more information ({e})")
    })
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
