//! slotgate's fuzz harness, on stable Rust and without coverage instrumentation: every target
//! is a plain `fn(&[u8])` over one input format, driven by a seeded mutational loop over the
//! corpus kept in `fuzz/corpus/<target>/`. Inputs that ever crashed a target are kept under
//! `fuzz/regressions/<target>/` and replayed by the tests.

pub mod mutate;
pub mod rng;
pub mod runner;
pub mod targets;

use std::path::{Path, PathBuf};

/// One fuzz target.
pub struct Target {
    pub name: &'static str,
    /// Must not panic, whatever the input.
    pub run: fn(&[u8]),
    /// Pieces of the format's grammar the mutator inserts.
    pub tokens: &'static [&'static [u8]],
}

/// Every target, by name.
pub const TARGETS: &[Target] = &[
    Target { name: "resp", run: targets::resp::run, tokens: targets::resp::TOKENS },
    Target { name: "command", run: targets::command::run, tokens: targets::command::TOKENS },
    Target { name: "inline", run: targets::inline::run, tokens: targets::inline::TOKENS },
    Target { name: "redis_conf", run: targets::redis_conf::run, tokens: targets::redis_conf::TOKENS },
    Target { name: "acl", run: targets::acl::run, tokens: targets::acl::TOKENS },
    Target { name: "rdb", run: targets::rdb::run, tokens: targets::rdb::TOKENS },
];

/// The target called `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// The `fuzz/` folder of the source tree.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Where a target's seed inputs live.
pub fn corpus_dir(target: &str) -> PathBuf {
    root().join("corpus").join(target)
}

/// Where inputs that once crashed a target are kept, replayed by every test run.
pub fn regressions_dir(target: &str) -> PathBuf {
    root().join("regressions").join(target)
}

/// Where a fuzz run writes a new crashing input.
pub fn crashes_dir(target: &str) -> PathBuf {
    root().join("crashes").join(target)
}

/// The files of `dir` (sorted by name, so runs replay); none when it does not exist.
pub fn load_dir(dir: &Path) -> std::io::Result<Vec<(PathBuf, Vec<u8>)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut paths: Vec<PathBuf> = entries.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    paths.retain(|p| p.is_file());
    paths.sort();
    paths.into_iter().map(|p| std::fs::read(&p).map(|data| (p, data))).collect()
}

/// FNV-1a: names crash files by their content and seeds per-input choices.
pub fn hash(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}
