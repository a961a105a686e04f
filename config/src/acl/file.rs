//! ACL files (`aclfile`) and redis.conf `user` directives: one `user <name> <rules...>` per line,
//! loaded all-or-nothing, every bad line reported as `file:line: message`.

use std::path::Path;

use super::user::User;
use super::{merge_selector_args, Acl, RuleError};
use crate::ConfigError;

/// The errors of an ACL file that was refused, one per bad line, in line order.
#[derive(Debug, Clone, PartialEq)]
pub struct AclFileError {
    pub errors: Vec<ConfigError>,
}

impl AclFileError {
    fn one(file: &str, line: usize, message: impl Into<String>) -> AclFileError {
        AclFileError { errors: vec![ConfigError::new(file, line, message)] }
    }

    /// `ACL LOAD`'s error text (after `ERR `), shaped like Redis's.
    pub fn reply_text(&self) -> String {
        let mut out: String = self.errors.iter().map(|e| format!("{e}. ")).collect();
        out.push_str("WARNING: ACL errors detected, no change to the previously active ACL rules was performed");
        out
    }
}

impl std::fmt::Display for AclFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lines: Vec<String> = self.errors.iter().map(ToString::to_string).collect();
        f.write_str(&lines.join("; "))
    }
}

impl std::error::Error for AclFileError {}

/// Applies a line's rules to `user`. Like Redis, an unknown command is reported for each rule
/// naming one (it leaks nothing), any other error only once per line (it may be a password).
fn apply_rules(user: &mut User, rules: &[Vec<u8>], file: &str, line: usize, errors: &mut Vec<ConfigError>) {
    let mut reported = false;
    for rule in rules {
        let rule = trim(rule, b"\t\r\n");
        if let Err(e) = user.apply(rule) {
            if e == RuleError::UnknownCommand {
                let msg = format!("Error in applying operation '{}': {e}", String::from_utf8_lossy(rule));
                errors.push(ConfigError::new(file, line, msg));
            } else if !reported {
                errors.push(ConfigError::new(file, line, e.to_string()));
                reported = true;
            }
        }
    }
}

fn trim<'a>(mut s: &'a [u8], set: &[u8]) -> &'a [u8] {
    while let Some((first, rest)) = s.split_first() {
        if !set.contains(first) {
            break;
        }
        s = rest;
    }
    while let Some((last, rest)) = s.split_last() {
        if !set.contains(last) {
            break;
        }
        s = rest;
    }
    s
}

impl Acl {
    /// Parses an ACL file's text; `file` names it in errors. Lines are split on single spaces
    /// exactly as Redis 7.0 splits ACL files (no quoting), blank lines are skipped, and so are
    /// lines starting with `#` (an extension: Redis 7.0 refuses them). Without a `default` line
    /// the default user is Redis's (`on nopass ~* &* +@all`).
    pub fn parse(file: &str, text: &str) -> Result<Acl, AclFileError> {
        let mut acl = Acl { users: Default::default() };
        let mut errors = Vec::new();
        for (i, raw) in text.split('\n').enumerate() {
            let line_no = i + 1;
            let line = trim(raw.as_bytes(), b" \t\r\n");
            if line.is_empty() || line[0] == b'#' {
                continue;
            }
            let args: Vec<&[u8]> = line.split(|&c| c == b' ').collect();
            if args[0] != b"user" || args.len() < 2 {
                errors.push(ConfigError::new(file, line_no, "should start with user keyword followed by the username"));
                continue;
            }
            let Ok(name) = std::str::from_utf8(args[1]) else {
                errors.push(ConfigError::new(file, line_no, "username is not valid UTF-8"));
                continue;
            };
            if super::bad_username(name) {
                errors.push(ConfigError::new(file, line_no, format!("username '{name}' contains invalid characters")));
                continue;
            }
            if acl.users.contains_key(name) {
                errors.push(ConfigError::new(file, line_no, format!("Duplicate user '{name}' found")));
                continue;
            }
            let rules = match merge_selector_args(&args[2..]) {
                Ok(r) => r,
                Err(e) => {
                    errors.push(ConfigError::new(file, line_no, e.0));
                    continue;
                }
            };
            let mut user = User::new(name);
            apply_rules(&mut user, &rules, file, line_no, &mut errors);
            acl.users.insert(name.to_string(), user);
        }
        if !errors.is_empty() {
            return Err(AclFileError { errors });
        }
        acl.users.entry("default".to_string()).or_insert_with(User::new_default);
        Ok(acl)
    }

    /// Reads and parses an ACL file (start-up, `ACL LOAD`).
    pub fn load_file(path: &Path) -> Result<Acl, AclFileError> {
        let name = path.display().to_string();
        let text = std::fs::read(path)
            .map_err(|e| AclFileError::one(&name, 0, format!("Error loading ACLs, opening file '{name}': {e}")))?;
        Acl::parse(&name, &String::from_utf8_lossy(&text))
    }

    /// Applies a redis.conf `user <name> <rules...>` directive (arguments already split the
    /// redis.conf way). As in Redis 7.0, `default` starts again from `reset` and any other user
    /// from a new, empty user; a name may be defined only once.
    pub fn add_config_user(&mut self, file: &str, line: usize, args: &[Vec<u8>]) -> Result<(), AclFileError> {
        let Some(name) = args.first().and_then(|n| std::str::from_utf8(n).ok()) else {
            return Err(AclFileError::one(file, line, "wrong number of arguments"));
        };
        if super::bad_username(name) {
            return Err(AclFileError::one(file, line, format!("username '{name}' contains invalid characters")));
        }
        let rest: Vec<&[u8]> = args[1..].iter().map(Vec::as_slice).collect();
        let rules = merge_selector_args(&rest).map_err(|e| AclFileError::one(file, line, e.0))?;
        let mut user = User::new(name);
        let mut errors = Vec::new();
        if name == "default" {
            apply_rules(&mut user, &[b"reset".to_vec()], file, line, &mut errors);
        }
        apply_rules(&mut user, &rules, file, line, &mut errors);
        if !errors.is_empty() {
            return Err(AclFileError { errors });
        }
        self.users.insert(name.to_string(), user);
        Ok(())
    }

    /// The users of `user` directives, on top of a fresh ACL (whose `default` the caller may
    /// have given `requirepass`'s password).
    pub fn apply_directives(&mut self, users: &[UserDirective]) -> Result<(), AclFileError> {
        for u in users {
            let args: Vec<Vec<u8>> = u.args.iter().map(|a| a.as_bytes().to_vec()).collect();
            self.add_config_user(&u.file, u.line, &args)?;
        }
        Ok(())
    }
}

/// A `user <name> <rules...>` directive of redis.conf or the command line, and where it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDirective {
    pub file: String,
    pub line: usize,
    /// The name, then the rules.
    pub args: Vec<String>,
}

/// Checks a `user` directive while the config loads, as Redis's ACLAppendUserForLoading does:
/// Redis's message for a name defined twice or a rule that does not apply.
pub fn check_user_directive(args: &[String], earlier: &[UserDirective]) -> Result<(), String> {
    let Some(name) = args.first() else {
        return Err("wrong number of arguments".into());
    };
    let declaration = |what: &str, msg: &dyn std::fmt::Display| format!("Error in user declaration '{what}': {msg}");
    if earlier.iter().any(|u| u.args.first() == Some(name)) {
        return Err(declaration(name, &"Duplicate user found. A user can only be defined once in config files"));
    }
    if super::bad_username(name) {
        return Err(declaration(name, &"Usernames can't contain spaces or null characters"));
    }
    let rest: Vec<&[u8]> = args[1..].iter().map(|a| a.as_bytes()).collect();
    let rules = merge_selector_args(&rest).map_err(|e| declaration(name, &e))?;
    let mut fake = User::new(name);
    for rule in &rules {
        fake.apply(rule).map_err(|e| declaration(&String::from_utf8_lossy(rule), &e))?;
    }
    Ok(())
}
