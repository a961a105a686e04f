//! redis.conf text as the node loads it (`NodeConfig::apply_text`), then every directive read
//! back as CONFIG GET does; the lines as a redis-server command line (`--name value ...`); each
//! `name value` line through CONFIG SET's runtime path; and every argument through the value
//! parsers (memory units, booleans, keyspace event classes).

use config::{parse_bool, parse_memory, split_args, NodeConfig};

pub const TOKENS: &[&[u8]] = &[
    b"\n",
    b"#",
    b" ",
    b"\"",
    b"'",
    b"port ",
    b"save ",
    b"maxmemory ",
    b"1gb",
    b"-1",
    b"yes",
    b"no",
    b"bind ",
    b"user ",
    b"rename-command ",
    b"notify-keyspace-events ",
    b"client-output-buffer-limit ",
    b"dir ",
    b"KEA",
];

pub fn run(data: &[u8]) {
    let text = without_includes(&String::from_utf8_lossy(data));
    let mut cfg = NodeConfig::default();
    let _ = cfg.apply_text(&text, "fuzz.conf");
    for name in NodeConfig::names() {
        let _ = cfg.get(name);
    }
    command_line(&text);
    let mut runtime = NodeConfig::default();
    for line in text.lines() {
        let Ok(args) = split_args(line) else { continue };
        for a in &args {
            let _ = parse_memory(a);
            let _ = parse_bool(a);
            let _ = config::notify::parse(a).map(config::notify::format);
        }
        if let [name, value] = &args[..] {
            if runtime.set(name, value).is_ok() {
                let _ = runtime.get(name);
            }
        }
    }
}

/// The text without `include` lines: those read files of the machine running the fuzzer.
fn without_includes(text: &str) -> String {
    text.split('\n')
        .filter(|line| {
            let first = split_args(line).ok().and_then(|a| a.into_iter().next());
            !first.is_some_and(|w| w.eq_ignore_ascii_case("include"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The lines as command-line arguments, when they make one that reads no file: no config file
/// first, no `-` (stdin), nothing that could spell `include`.
fn command_line(text: &str) {
    let args: Vec<String> = text.split('\n').map(str::to_string).collect();
    let reads_files =
        !args[0].starts_with("--") || args.iter().any(|a| a == "-" || a.to_ascii_lowercase().contains("include"));
    if !reads_files {
        let _ = NodeConfig::from_args(&args);
    }
}
