//! Loading: redis-server's command line (`[file] [--name value ...]`), config file text,
//! `include` (with glob patterns, as in Redis 7.0) and stdin.

use std::io::Read;
use std::path::Path;

use crate::split::{split_args, split_args_bytes};
use crate::table::LoadState;
use crate::units::{repr, trim};
use crate::{ConfigError, NodeConfig, COMMAND_LINE};

/// Include nesting limit; Redis has none and recurses until it crashes on a cycle.
const MAX_INCLUDE_DEPTH: usize = 16;

impl NodeConfig {
    /// Parses redis-server's command line (args without argv[0]): `[config-file] [--directive value ...]`.
    pub fn from_args(args: &[String]) -> Result<NodeConfig, ConfigError> {
        let mut cfg = NodeConfig::default();
        let mut start = 0;
        let mut file = None;
        if let Some(first) = args.first() {
            if !first.starts_with('-') {
                let abs = std::path::absolute(first).map_err(|e| ConfigError::new(first, 0, open_error(first, &e)))?;
                cfg.config_file = Some(abs);
                file = Some(first.as_str());
                start = 1;
            }
        }
        let (options, from_stdin) = command_line_options(args, start);
        // One load state across file, stdin and options: Redis loads them as one text.
        let mut st = LoadState::default();
        if let Some(path) = file {
            cfg.load_file(path, &mut st)?;
        }
        if from_stdin {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(|e| ConfigError::new("stdin", 0, format!("can't read stdin: {e}")))?;
            cfg.load_bytes(&buf, "stdin", &mut st)?;
        }
        cfg.load_bytes(options.as_bytes(), COMMAND_LINE, &mut st)?;
        if cfg.cluster_enabled && cfg.replicaof.is_some() {
            return Err(ConfigError::new("", 0, "replicaof directive not allowed in cluster mode"));
        }
        Ok(cfg)
    }

    /// Applies config file text; `file` names the source in errors and `include` is followed.
    pub fn apply_text(&mut self, text: &str, file: &str) -> Result<(), ConfigError> {
        self.load_bytes(text.as_bytes(), file, &mut LoadState::default())
    }

    /// Reads and applies one config file.
    fn load_file(&mut self, path: &str, st: &mut LoadState) -> Result<(), ConfigError> {
        let bytes = std::fs::read(path).map_err(|e| ConfigError::new(path, 0, open_error(path, &e)))?;
        self.load_bytes(&bytes, path, st)
    }

    /// Applies config text line by line, like loadServerConfigFromString.
    pub(crate) fn load_bytes(&mut self, text: &[u8], file: &str, st: &mut LoadState) -> Result<(), ConfigError> {
        for (idx, raw) in text.split(|&b| b == b'\n').enumerate() {
            let err = |message: &str| ConfigError::new(file, idx + 1, message);
            let line = trim(raw);
            if line.is_empty() || line[0] == b'#' {
                continue;
            }
            let argv = split_args_bytes(line).map_err(|_| err("Unbalanced quotes in configuration line"))?;
            let Some((name, rest)) = argv.split_first() else {
                continue;
            };
            // Values are Strings: a \xHH escape producing invalid UTF-8 is rejected, not mangled.
            let args = rest
                .iter()
                .map(|a| String::from_utf8(a.clone()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| err("argument is not valid UTF-8"))?;
            let name = String::from_utf8_lossy(name).to_ascii_lowercase();
            if name == "include" && args.len() == 1 {
                if st.depth >= MAX_INCLUDE_DEPTH {
                    return Err(err("include nesting too deep (include cycle?)"));
                }
                st.depth += 1;
                let res = self.load_include(&args[0], st);
                st.depth -= 1;
                res?;
                continue;
            }
            if name == "user" && !args.is_empty() {
                // Users are made once the whole config is read (they may meet an `aclfile`).
                crate::acl::check_user_directive(&args, &self.users).map_err(|m| err(&m))?;
                self.users.push(crate::acl::UserDirective { file: file.to_string(), line: idx + 1, args });
                continue;
            }
            self.apply_loading(&name, &args, st).map_err(|m| err(&m))?;
        }
        Ok(())
    }

    /// `include <path>`: a relative path is relative to the process cwd; a path with
    /// `*`, `?` or `[` in its file name loads every match (sorted), none is not an error.
    fn load_include(&mut self, pattern: &str, st: &mut LoadState) -> Result<(), ConfigError> {
        if !pattern.contains(['*', '?', '[']) {
            return self.load_file(pattern, st);
        }
        let path = Path::new(pattern);
        let file_pat = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
        if dir.is_some_and(|d| d.to_string_lossy().contains(['*', '?', '['])) {
            return Err(ConfigError::new(pattern, 0, "wildcards in include are supported in the file name only"));
        }
        let entries = match std::fs::read_dir(dir.unwrap_or(Path::new("."))) {
            Ok(e) => e,
            // glob() with no match (or no directory) loads nothing.
            Err(_) => return Ok(()),
        };
        let mut matches: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| !t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|name| glob_match(file_pat.as_bytes(), name.as_bytes()))
            .collect();
        matches.sort();
        for name in matches {
            let full = match dir {
                Some(d) => d.join(&name).to_string_lossy().into_owned(),
                None => name,
            };
            self.load_file(&full, st)?;
        }
        Ok(())
    }
}

/// Redis's "can't open config file" message.
fn open_error(path: &str, e: &std::io::Error) -> String {
    format!("Fatal error, can't open config file '{path}': {e}")
}

/// Builds the option text redis-server appends after the config file: each `--name` starts a
/// line, following arguments are its quoted values until the next `--name`. Returns the text
/// and whether `-` asked for stdin.
fn command_line_options(args: &[String], start: usize) -> (String, bool) {
    let mut options = String::new();
    let mut from_stdin = false;
    // False right after a bare `--name`: the next argument is its value even if it starts with `--`.
    let mut handled_last = true;
    let n = args.len();
    for k in start..n {
        let a = &args[k];
        if a == "-" && (k == 0 || k == n - 1) {
            from_stdin = true;
        } else if handled_last && a.starts_with("--") {
            if !options.is_empty() {
                options.push('\n');
            }
            options.push_str(&a[2..]);
            options.push(' ');
            if split_args(a).map(|v| v.len()).unwrap_or(0) == 1 {
                handled_last = false;
                // `--save` with no value (last, or followed by another option) means `save ""`.
                if a.eq_ignore_ascii_case("--save") {
                    if k == n - 1 {
                        options.push_str("\"\"");
                    } else if args[k + 1].starts_with("--") {
                        options.push_str("\"\"");
                        handled_last = true;
                    }
                }
            } else {
                // `"--port 7000"` as one argument carries its own value.
                handled_last = true;
            }
        } else {
            options.push_str(&repr(a.as_bytes()));
            options.push(' ');
            handled_last = true;
        }
    }
    (options, from_stdin)
}

/// fnmatch-style matching of one path component: `*`, `?`, `[set]`, `[!set]`, `[a-z]`;
/// a leading dot must be matched literally, as glob(3) requires.
fn glob_match(pat: &[u8], name: &[u8]) -> bool {
    if name.first() == Some(&b'.') && pat.first() != Some(&b'.') {
        return false;
    }
    match_from(pat, name)
}

fn match_from(pat: &[u8], name: &[u8]) -> bool {
    match pat.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|i| match_from(rest, &name[i..])),
        Some((b'?', rest)) => !name.is_empty() && match_from(rest, &name[1..]),
        Some((b'[', rest)) => {
            let Some((&c, name_rest)) = name.split_first() else {
                return false;
            };
            match match_class(rest, c) {
                Some((true, after)) => match_from(after, name_rest),
                Some((false, _)) => false,
                // No closing ']': the '[' is literal.
                None => c == b'[' && match_from(rest, name_rest),
            }
        }
        Some((&p, rest)) => name.first() == Some(&p) && match_from(rest, &name[1..]),
    }
}

/// Matches `c` against a bracket class starting after '['; returns (matched, rest after ']').
fn match_class(pat: &[u8], c: u8) -> Option<(bool, &[u8])> {
    let (negate, mut i) = match pat.first() {
        Some(b'!') | Some(b'^') => (true, 1),
        _ => (false, 0),
    };
    let mut matched = false;
    let mut first = true;
    while i < pat.len() {
        if pat[i] == b']' && !first {
            return Some((matched != negate, &pat[i + 1..]));
        }
        first = false;
        if i + 2 < pat.len() && pat[i + 1] == b'-' && pat[i + 2] != b']' {
            matched |= (pat[i]..=pat[i + 2]).contains(&c);
            i += 3;
        } else {
            matched |= pat[i] == c;
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn option_text_like_redis() {
        let (o, stdin) = command_line_options(&args(&["--port", "7000", "--save", "900", "1"]), 0);
        assert_eq!(o, "port \"7000\" \nsave \"900\" \"1\" ");
        assert!(!stdin);
        let (o, _) = command_line_options(&args(&["--save", "--port", "1"]), 0);
        assert_eq!(o, "save \"\"\nport \"1\" ");
        let (o, _) = command_line_options(&args(&["--port", "1", "--save"]), 0);
        assert_eq!(o, "port \"1\" \nsave \"\"");
        let (o, _) = command_line_options(&args(&["--port 7000", "--requirepass", "--x"]), 0);
        assert_eq!(o, "port 7000 \nrequirepass \"--x\" ");
        let (_, stdin) = command_line_options(&args(&["-", "--port", "1"]), 0);
        assert!(stdin);
    }

    #[test]
    fn globbing() {
        assert!(glob_match(b"*.conf", b"a.conf"));
        assert!(!glob_match(b"*.conf", b".hidden.conf"));
        assert!(glob_match(b"n?de-[0-9].conf", b"node-7.conf"));
        assert!(!glob_match(b"node-[!0-9].conf", b"node-7.conf"));
        assert!(glob_match(b"[]a]", b"]"));
        assert!(!glob_match(b"*.conf", b"a.conf.bak"));
    }

    #[test]
    fn trimming() {
        assert_eq!(trim(b" \t port 1 \r"), b"port 1");
        assert_eq!(trim(b" \r\n"), b"");
    }
}
