//! A one-line progress display on stderr, redrawn a few times a second, only when stderr is a
//! terminal (scripts and logs get the final report alone).

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::output::human_bytes;

/// Where one item (a master, the restore) is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Phase {
    Waiting,
    Saving,
    /// Bytes received of the total (0 while unknown).
    Fetching(u64, u64),
    Checking,
    /// Items done of a total (keys restored).
    Count(u64, u64),
    Done,
    Failed,
}

impl Phase {
    fn text(self) -> String {
        match self {
            Phase::Waiting => "waiting".into(),
            Phase::Saving => "BGSAVE".into(),
            Phase::Fetching(d, 0) => format!("receiving {}", human_bytes(d)),
            Phase::Fetching(d, t) => format!("receiving {}/{} {}%", human_bytes(d), human_bytes(t), d * 100 / t),
            Phase::Checking => "checking".into(),
            Phase::Count(d, 0) => d.to_string(),
            Phase::Count(d, t) => format!("{d}/{t} {}%", d * 100 / t),
            Phase::Done => "done".into(),
            Phase::Failed => "FAILED".into(),
        }
    }
}

struct Shared {
    title: String,
    items: Mutex<Vec<(String, Phase)>>,
    stop: AtomicBool,
    drawer: Mutex<Option<JoinHandle<()>>>,
}

/// A handle to the display, shared by the workers that update it.
#[derive(Clone)]
pub struct Progress(Arc<Shared>);

impl Progress {
    /// Starts drawing (when stderr is a terminal) for the labelled items.
    pub fn start(title: &str, labels: Vec<String>) -> Progress {
        let shared = Arc::new(Shared {
            title: title.to_string(),
            items: Mutex::new(labels.into_iter().map(|l| (l, Phase::Waiting)).collect()),
            stop: AtomicBool::new(false),
            drawer: Mutex::new(None),
        });
        if std::io::stderr().is_terminal() {
            let s = shared.clone();
            let handle = std::thread::spawn(move || {
                while !s.stop.load(Ordering::Relaxed) {
                    draw(&s);
                    std::thread::sleep(Duration::from_millis(200));
                }
            });
            if let Ok(mut d) = shared.drawer.lock() {
                *d = Some(handle);
            }
        }
        Progress(shared)
    }

    pub fn set(&self, index: usize, phase: Phase) {
        if let Ok(mut items) = self.0.items.lock() {
            if let Some(item) = items.get_mut(index) {
                item.1 = phase;
            }
        }
    }

    /// Stops drawing and clears the line.
    pub fn finish(&self) {
        self.0.stop.store(true, Ordering::Relaxed);
        let handle = self.0.drawer.lock().ok().and_then(|mut d| d.take());
        if let Some(h) = handle {
            let _ = h.join();
            eprint!("\r\x1b[2K");
        }
    }
}

fn draw(s: &Shared) {
    let Ok(items) = s.items.lock() else { return };
    let parts: Vec<String> = items.iter().map(|(l, p)| format!("{l} {}", p.text())).collect();
    let mut line = format!("{}: {}", s.title, parts.join(" | "));
    // One terminal line: longer text would wrap and leave copies behind.
    if line.chars().count() > 160 {
        line = line.chars().take(157).collect::<String>() + "...";
    }
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\r\x1b[2K{line}");
    let _ = err.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_read_well() {
        assert_eq!(Phase::Fetching(512, 1024).text(), "receiving 512B/1.00K 50%");
        assert_eq!(Phase::Fetching(2048, 0).text(), "receiving 2.00K");
        assert_eq!(Phase::Count(25, 100).text(), "25/100 25%");
        let p = Progress::start("t", vec!["a".into()]);
        p.set(0, Phase::Done);
        p.set(5, Phase::Done);
        assert_eq!(p.0.items.lock().unwrap()[0].1, Phase::Done);
        p.finish();
    }
}
