//! The slow log: commands that ran longer than `slowlog-log-slower-than` µs, newest first,
//! at most `slowlog-max-len` of them. Entries are built as Redis 7.0's slowlogCreateEntry
//! builds them: at most 32 arguments (the last saying how many more there were), each at most
//! 128 bytes (with how many more there were).

use std::collections::VecDeque;

use bytes::Bytes;

/// Redis's SLOWLOG_ENTRY_MAX_ARGC and SLOWLOG_ENTRY_MAX_STRING.
const MAX_ARGC: usize = 32;
const MAX_STRING: usize = 128;

/// One logged command.
#[derive(Debug, Clone)]
pub struct Entry {
    pub id: u64,
    /// Unix seconds when it was logged.
    pub time: i64,
    pub duration_us: u64,
    pub args: Vec<Bytes>,
    pub peer: String,
    pub name: Bytes,
}

/// The log, newest entry first.
#[derive(Debug, Default)]
pub struct SlowLog {
    pub entries: VecDeque<Entry>,
    pub next_id: u64,
}

/// The arguments as an entry keeps them.
pub fn entry_args(args: &[Bytes]) -> Vec<Bytes> {
    let keep = args.len().min(MAX_ARGC);
    let mut out = Vec::with_capacity(keep);
    for (j, a) in args.iter().take(keep).enumerate() {
        if keep != args.len() && j == keep - 1 {
            out.push(Bytes::from(format!("... ({} more arguments)", args.len() - keep + 1)));
        } else if a.len() > MAX_STRING {
            let mut s = a[..MAX_STRING].to_vec();
            s.extend_from_slice(format!("... ({} more bytes)", a.len() - MAX_STRING).as_bytes());
            out.push(Bytes::from(s));
        } else {
            out.push(a.clone());
        }
    }
    out
}

impl SlowLog {
    /// slowlogPushEntryIfNeeded: logs when `threshold` (µs) is non-negative and reached.
    #[allow(clippy::too_many_arguments)]
    pub fn push_if_needed(
        &mut self,
        threshold: i64,
        max_len: usize,
        args: Vec<Bytes>,
        duration_us: u64,
        time: i64,
        peer: &str,
        name: &[u8],
    ) {
        if threshold < 0 || (duration_us as i64) < threshold {
            return;
        }
        let id = self.next_id;
        self.next_id += 1;
        self.entries.push_front(Entry {
            id,
            time,
            duration_us,
            args: entry_args(&args),
            peer: peer.to_string(),
            name: Bytes::copy_from_slice(name),
        });
        self.entries.truncate(max_len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::from(s.to_string())
    }

    #[test]
    fn truncation_as_redis() {
        let mut args: Vec<Bytes> = vec![b("sadd"), b("set")];
        args.extend((3..=33).map(|i| b(&i.to_string())));
        let e = entry_args(&args);
        assert_eq!(e.len(), 32);
        assert_eq!(e[31], b("... (2 more arguments)"));
        assert_eq!(e[30], b("31"));
        let long = entry_args(&[b("x"), b(&"A".repeat(129))]);
        assert_eq!(long[1], b(&format!("{}... (1 more bytes)", "A".repeat(128))));
    }

    #[test]
    fn threshold_and_max_len() {
        let mut log = SlowLog::default();
        log.push_if_needed(-1, 10, vec![b("ping")], 5, 0, "", b"");
        assert!(log.entries.is_empty());
        for i in 0..5 {
            log.push_if_needed(0, 3, vec![b("ping")], i, 0, "", b"");
        }
        assert_eq!(log.entries.len(), 3);
        assert_eq!(log.entries[0].id, 4);
        log.push_if_needed(10, 3, vec![b("ping")], 9, 0, "", b"");
        assert_eq!(log.next_id, 5);
    }
}
