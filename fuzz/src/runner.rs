//! The mutational loop: pick a corpus entry (or a recent mutant, so edits stack deeper), mutate
//! it, run the target under `catch_unwind`, stop at the first panic or at the budget's end.
//! No coverage feedback: the properties each target asserts do the finding.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use crate::mutate::mutate;
use crate::rng::Rng;
use crate::Target;

/// An input slower than this is reported as a crash: a parser that takes seconds over a few
/// KB is a denial of service.
pub const SLOW: Duration = Duration::from_secs(2);

/// How long a run goes on.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub time: Duration,
    /// Stop after this many inputs even if time is left.
    pub max_execs: Option<u64>,
}

/// An input that made the target panic (or take longer than [`SLOW`]).
#[derive(Debug)]
pub struct Crash {
    pub input: Vec<u8>,
    pub message: String,
}

/// Runs the target on one input; the panic's message if it panicked or was too slow.
pub fn run_one(target: &Target, input: &[u8]) -> Result<(), String> {
    let started = Instant::now();
    catch_unwind(AssertUnwindSafe(|| (target.run)(input))).map_err(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panic with a non-string payload".into())
    })?;
    let took = started.elapsed();
    if took > SLOW {
        return Err(format!("took {took:?} on a {}-byte input", input.len()));
    }
    Ok(())
}

/// Mutates `corpus` entries for the budget with a generator seeded by `seed`; the number of
/// inputs run, or the first crash.
pub fn fuzz(target: &Target, corpus: &[Vec<u8>], seed: u64, budget: Budget) -> Result<u64, Crash> {
    let seeds: Vec<Vec<u8>> = if corpus.is_empty() { vec![Vec::new()] } else { corpus.to_vec() };
    let mut rng = Rng::new(seed);
    // Recent mutants, mutated again now and then: deeper edits than one round reaches.
    let mut recent: Vec<Vec<u8>> = Vec::new();
    let deadline = Instant::now() + budget.time;
    let mut execs = 0u64;
    while Instant::now() < deadline && budget.max_execs.is_none_or(|m| execs < m) {
        let mut input = if !recent.is_empty() && rng.chance(30) { rng.pick(&recent) } else { rng.pick(&seeds) }.clone();
        mutate(&mut rng, &mut input, &seeds, target.tokens);
        if let Err(message) = run_one(target, &input) {
            return Err(Crash { input, message });
        }
        execs += 1;
        if recent.len() < 64 {
            recent.push(input);
        } else {
            let i = rng.below(recent.len());
            recent[i] = input;
        }
    }
    Ok(execs)
}
