//! `slotgate-fuzz <target> [--seconds N] [--seed S] [--corpus DIR]`: fuzzes one target for a
//! bounded time; on a crash writes the input to `fuzz/crashes/<target>/<hash>` and exits 1.
//! `slotgate-fuzz <target> --replay FILE...` runs the target on given inputs.

use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Duration;

use slotgate_fuzz::runner::{fuzz, run_one, Budget};
use slotgate_fuzz::{corpus_dir, crashes_dir, hash, load_dir, target, TARGETS};

/// Where the last panic happened: the hook records it instead of printing every panic.
static PANIC_AT: Mutex<Option<String>> = Mutex::new(None);

fn main() -> ExitCode {
    match real_main() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("slotgate-fuzz: {e}");
            ExitCode::from(2)
        }
    }
}

fn usage() -> String {
    let names: Vec<&str> = TARGETS.iter().map(|t| t.name).collect();
    format!(
        "usage: slotgate-fuzz <target> [--seconds N] [--seed S] [--corpus DIR] | <target> --replay FILE...\ntargets: {}",
        names.join(" ")
    )
}

fn real_main() -> Result<ExitCode, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(name) = args.first() else { return Err(usage()) };
    let t = target(name).ok_or_else(|| format!("unknown target '{name}'\n{}", usage()))?;
    let mut seconds = 10u64;
    let mut seed = None;
    let mut corpus = corpus_dir(t.name);
    let mut replay = None;
    let mut rest = args[1..].iter();
    while let Some(flag) = rest.next() {
        let mut value = || rest.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--seconds" => seconds = value()?.parse().map_err(|_| "--seconds takes a number".to_string())?,
            "--seed" => seed = Some(value()?.parse::<u64>().map_err(|_| "--seed takes a number".to_string())?),
            "--corpus" => corpus = value()?.into(),
            "--replay" => {
                replay = Some(rest.by_ref().cloned().collect::<Vec<_>>());
                break;
            }
            other => return Err(format!("unknown option '{other}'\n{}", usage())),
        }
    }
    std::panic::set_hook(Box::new(|info| {
        if let Ok(mut at) = PANIC_AT.lock() {
            *at = Some(info.to_string());
        }
    }));
    if let Some(files) = replay {
        let mut failed = false;
        for f in files {
            let data = std::fs::read(&f).map_err(|e| format!("{f}: {e}"))?;
            if let Err(message) = run_one(t, &data) {
                eprintln!("{f}: {}", last_panic().unwrap_or(message));
                failed = true;
            }
        }
        return Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS });
    }
    let inputs: Vec<Vec<u8>> =
        load_dir(&corpus).map_err(|e| format!("{}: {e}", corpus.display()))?.into_iter().map(|(_, d)| d).collect();
    let seed = seed.unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
    });
    eprintln!("{}: {} corpus inputs, seed {seed}, {seconds}s", t.name, inputs.len());
    let budget = Budget { time: Duration::from_secs(seconds), max_execs: None };
    match fuzz(t, &inputs, seed, budget) {
        Ok(execs) => {
            eprintln!("{}: {execs} inputs, no crash", t.name);
            Ok(ExitCode::SUCCESS)
        }
        Err(crash) => {
            let dir = crashes_dir(t.name);
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let path = dir.join(format!("{:016x}", hash(&crash.input)));
            std::fs::write(&path, &crash.input).map_err(|e| format!("{}: {e}", path.display()))?;
            eprintln!("{}: CRASH (seed {seed}): {}", t.name, last_panic().unwrap_or(crash.message));
            eprintln!("input written to {}", path.display());
            Ok(ExitCode::FAILURE)
        }
    }
}

fn last_panic() -> Option<String> {
    PANIC_AT.lock().ok().and_then(|mut at| at.take())
}
