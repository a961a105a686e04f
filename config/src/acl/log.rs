//! The ACL LOG: recent denials and failed logins, newest first, similar events within a minute
//! folded into one entry with a count, as Redis 7.0 keeps it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Redis's default `acllog-max-len`.
pub const DEFAULT_MAX_LEN: usize = 128;

/// Events this close together (and otherwise equal) share one entry.
const GROUPING_WINDOW: Duration = Duration::from_secs(60);

/// How many of the newest entries are searched for one to fold an event into.
const GROUPING_DEPTH: usize = 10;

/// What was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogReason {
    Command,
    Key,
    Channel,
    Auth,
}

impl LogReason {
    /// The `reason` field's text.
    pub fn as_str(self) -> &'static str {
        match self {
            LogReason::Command => "command",
            LogReason::Key => "key",
            LogReason::Channel => "channel",
            LogReason::Auth => "auth",
        }
    }
}

/// Where the refused command ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogContext {
    Toplevel,
    Multi,
    Lua,
}

impl LogContext {
    /// The `context` field's text.
    pub fn as_str(self) -> &'static str {
        match self {
            LogContext::Toplevel => "toplevel",
            LogContext::Multi => "multi",
            LogContext::Lua => "lua",
        }
    }
}

/// One ACL LOG entry.
#[derive(Debug, Clone, PartialEq)]
pub struct AclLogEntry {
    /// How many similar events this entry stands for.
    pub count: u64,
    pub reason: LogReason,
    pub context: LogContext,
    /// The command (`config|get`), key or channel refused; for `auth`, the command name as sent.
    pub object: Vec<u8>,
    pub username: String,
    /// When the latest of the folded events happened.
    pub created: Instant,
    /// The client's `CLIENT INFO`-style line at the latest event.
    pub client_info: String,
}

impl AclLogEntry {
    /// The `age-seconds` field at `now`.
    pub fn age_seconds(&self, now: Instant) -> f64 {
        now.saturating_duration_since(self.created).as_millis() as f64 / 1000.0
    }
}

/// The bounded list of entries, newest first.
#[derive(Debug, Clone)]
pub struct AclLog {
    entries: VecDeque<AclLogEntry>,
    max_len: usize,
}

impl Default for AclLog {
    fn default() -> Self {
        AclLog::new(DEFAULT_MAX_LEN)
    }
}

impl AclLog {
    /// An empty log keeping at most `max_len` entries.
    pub fn new(max_len: usize) -> AclLog {
        AclLog { entries: VecDeque::new(), max_len }
    }

    /// Changes the bound (`CONFIG SET acllog-max-len`). As in Redis, a log over the new bound
    /// is trimmed (oldest entries first) when the next entry is recorded, not at once.
    pub fn set_max_len(&mut self, max_len: usize) {
        self.max_len = max_len;
    }

    /// Records an event at `now`, folding it into a recent similar entry when there is one.
    pub fn record(
        &mut self,
        reason: LogReason,
        context: LogContext,
        object: &[u8],
        username: &str,
        client_info: &str,
        now: Instant,
    ) {
        let similar = self.entries.iter_mut().take(GROUPING_DEPTH).find(|e| {
            e.reason == reason
                && e.context == context
                && e.object == object
                && e.username == username
                && now.saturating_duration_since(e.created) <= GROUPING_WINDOW
        });
        if let Some(e) = similar {
            e.count += 1;
            e.created = now;
            e.client_info = client_info.to_string();
            return;
        }
        self.entries.push_front(AclLogEntry {
            count: 1,
            reason,
            context,
            object: object.to_vec(),
            username: username.to_string(),
            created: now,
            client_info: client_info.to_string(),
        });
        self.entries.truncate(self.max_len);
    }

    /// Records a refused command (reason and object from the denial).
    pub fn record_denial(
        &mut self,
        denial: &super::Denial,
        context: LogContext,
        username: &str,
        client_info: &str,
        now: Instant,
    ) {
        self.record(denial.reason(), context, denial.object(), username, client_info, now);
    }

    /// The newest `count` entries (all when None), newest first (`ACL LOG [count]`).
    pub fn entries(&self, count: Option<usize>) -> impl Iterator<Item = &AclLogEntry> {
        self.entries.iter().take(count.unwrap_or(usize::MAX))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Empties the log (`ACL LOG RESET`).
    pub fn reset(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_similar_events_and_bounds_length() {
        let t0 = Instant::now();
        let mut log = AclLog::new(3);
        log.record(LogReason::Command, LogContext::Toplevel, b"get", "u", "id=1", t0);
        log.record(LogReason::Command, LogContext::Toplevel, b"get", "u", "id=2", t0 + Duration::from_secs(1));
        assert_eq!(log.len(), 1);
        let e = log.entries(None).next().unwrap();
        assert_eq!((e.count, e.client_info.as_str()), (2, "id=2"));
        assert_eq!(e.age_seconds(t0 + Duration::from_millis(3500)), 2.5);
        // A different context, or the same event after the window, is a new entry.
        log.record(LogReason::Command, LogContext::Multi, b"get", "u", "id=3", t0 + Duration::from_secs(2));
        log.record(LogReason::Command, LogContext::Toplevel, b"get", "u", "id=4", t0 + Duration::from_secs(90));
        assert_eq!(log.len(), 3);
        assert_eq!(log.entries(Some(1)).next().unwrap().client_info, "id=4");
        log.record(LogReason::Auth, LogContext::Toplevel, b"AUTH", "x", "id=5", t0 + Duration::from_secs(91));
        assert_eq!(log.len(), 3);
        assert_eq!(log.entries(None).last().unwrap().client_info, "id=3");
        let denial = super::super::Denial::Key { key: b"k".to_vec() };
        log.record_denial(&denial, LogContext::Lua, "u", "id=6", t0 + Duration::from_secs(92));
        let e = log.entries(None).next().unwrap();
        assert_eq!((e.reason.as_str(), e.context.as_str(), e.object.as_slice()), ("key", "lua", &b"k"[..]));
        log.set_max_len(1);
        assert_eq!(log.len(), 3);
        log.record(LogReason::Auth, LogContext::Toplevel, b"AUTH", "y", "id=7", t0 + Duration::from_secs(93));
        assert_eq!(log.len(), 1);
        assert_eq!(log.entries(None).next().unwrap().client_info, "id=7");
        log.reset();
        assert!(log.is_empty());
    }
}
