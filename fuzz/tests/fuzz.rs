//! The bounded CI form of fuzzing: every corpus input and every kept regression replays through
//! its target without a panic, then each target's mutational loop runs for a few seconds from a
//! fixed seed. `bench/fuzz.sh` is the long form.

use std::time::Duration;

use slotgate_fuzz::runner::{fuzz, run_one, Budget};
use slotgate_fuzz::{corpus_dir, load_dir, regressions_dir, Target, TARGETS};

/// Per target; six targets keep the whole test well under a minute.
const SECONDS: u64 = 4;

fn replay(t: &Target, dir: &std::path::Path) -> usize {
    let files = load_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for (path, data) in &files {
        if let Err(message) = run_one(t, data) {
            panic!("{}: {} fails: {message}", t.name, path.display());
        }
    }
    files.len()
}

#[test]
fn every_target_has_a_corpus_and_it_replays() {
    for t in TARGETS {
        let n = replay(t, &corpus_dir(t.name));
        assert!(n >= 3, "{}: only {n} corpus inputs in {}", t.name, corpus_dir(t.name).display());
    }
}

#[test]
fn kept_crashes_stay_fixed() {
    for t in TARGETS {
        replay(t, &regressions_dir(t.name));
    }
}

#[test]
fn bounded_mutational_run() {
    for t in TARGETS {
        let corpus: Vec<Vec<u8>> = load_dir(&corpus_dir(t.name)).unwrap().into_iter().map(|(_, d)| d).collect();
        let budget = Budget { time: Duration::from_secs(SECONDS), max_execs: None };
        match fuzz(t, &corpus, 0x5107_6a7e, budget) {
            Ok(execs) => {
                eprintln!("{}: {execs} inputs", t.name);
                assert!(execs > 100, "{}: only {execs} inputs in {SECONDS}s", t.name);
            }
            Err(crash) => panic!(
                "{}: {}\ninput ({} bytes): {:?}\nkeep it under fuzz/regressions/{}/ once fixed",
                t.name,
                crash.message,
                crash.input.len(),
                crash.input.escape_ascii().to_string(),
                t.name
            ),
        }
    }
}
