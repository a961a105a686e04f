//! Talking to one master for a backup: BGSAVE and waiting for it, then receiving its RDB as a
//! replica does (`REPLCONF rdb-only 1`, `PSYNC ? -1`, the `$<len>` payload), without announcing
//! `capa eof`, so the master sends a length-prefixed payload from a disk snapshot.

use std::time::{Duration, Instant};

use crate::client::{Conn, ConnOpts, Error};
use crate::topology::parse_info;

/// What a line of the sync preamble says.
#[derive(Debug, Clone, PartialEq)]
pub enum Preamble {
    /// `+FULLRESYNC <replid> <offset>`: the payload follows.
    FullResync { replid: String, offset: i64 },
    /// `$<len>`: exactly `len` bytes of RDB follow.
    Length(usize),
    /// `$EOF:<40-byte mark>`: the RDB ends with the mark (diskless sync).
    EofMark(Vec<u8>),
}

/// Parses one `\r\n`-terminated line of the preamble (without the `\r\n`). Bare `\n` bytes the
/// master sends as keep-alives while it prepares the snapshot may precede it.
pub fn parse_preamble(line: &[u8]) -> Result<Preamble, String> {
    let start = line.iter().position(|&b| b != b'\n').unwrap_or(line.len());
    let line = &line[start..];
    let text = String::from_utf8_lossy(line);
    if let Some(rest) = line.strip_prefix(b"$EOF:") {
        if rest.len() != 40 {
            return Err(format!("bad EOF mark in {text:?}"));
        }
        return Ok(Preamble::EofMark(rest.to_vec()));
    }
    if let Some(rest) = text.strip_prefix('$') {
        return rest.parse().map(Preamble::Length).map_err(|_| format!("bad payload length in {text:?}"));
    }
    if let Some(rest) = text.strip_prefix("+FULLRESYNC ") {
        let mut f = rest.split(' ');
        let (Some(replid), Some(offset), None) = (f.next(), f.next(), f.next()) else {
            return Err(format!("bad FULLRESYNC line {text:?}"));
        };
        let offset = offset.parse().map_err(|_| format!("bad FULLRESYNC offset in {text:?}"))?;
        return Ok(Preamble::FullResync { replid: replid.to_string(), offset });
    }
    if let Some(e) = text.strip_prefix('-') {
        return Err(format!("the master refused to sync: {e}"));
    }
    Err(format!("unexpected sync reply {text:?}"))
}

/// How far a node's BGSAVE is, from INFO persistence.
#[derive(Debug, Clone, PartialEq)]
pub struct SaveState {
    pub in_progress: bool,
    pub last_save: i64,
    pub saves: Option<i64>,
    pub last_ok: bool,
}

impl SaveState {
    pub fn from_info(text: &str) -> Result<SaveState, String> {
        let info = parse_info(text);
        let get = |k: &str| info.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        let int = |k: &str| get(k).and_then(|v| v.parse::<i64>().ok());
        Ok(SaveState {
            in_progress: int("rdb_bgsave_in_progress").ok_or("INFO persistence has no rdb_bgsave_in_progress")? != 0,
            last_save: int("rdb_last_save_time").ok_or("INFO persistence has no rdb_last_save_time")?,
            saves: int("rdb_saves"),
            last_ok: get("rdb_last_bgsave_status") != Some("err"),
        })
    }

    /// Whether a save finished after `before` was taken (LASTSAVE or the save count moved).
    pub fn finished_since(&self, before: &SaveState) -> bool {
        !self.in_progress
            && (self.last_save > before.last_save || matches!((self.saves, before.saves), (Some(a), Some(b)) if a > b))
    }
}

fn persistence(c: &mut Conn) -> Result<SaveState, String> {
    let text = c.call_text(&["INFO", "persistence"]).map_err(|e| e.to_string())?;
    SaveState::from_info(&text).map_err(|e| format!("{}: {e}", c.addr))
}

/// BGSAVE on `addr` and waits until it has finished by `deadline`. A save already running
/// counts (the node is saving anyway); when another child runs, the save is scheduled.
pub fn bgsave(addr: &str, opts: &ConnOpts, deadline: Instant) -> Result<(), String> {
    let mut c = Conn::open(addr, opts).map_err(|e| e.to_string())?;
    let before = persistence(&mut c)?;
    let mut started = false;
    match c.call_text(&["BGSAVE"]) {
        Ok(_) => started = true,
        Err(Error::Reply(e)) if e.contains("already in progress") => started = true,
        Err(Error::Reply(e)) if e.contains("BGSAVE SCHEDULE") || e.contains("child process is active") => {
            c.call_text(&["BGSAVE", "SCHEDULE"]).map_err(|e| format!("{addr}: BGSAVE SCHEDULE: {e}"))?;
        }
        Err(e) => return Err(format!("{addr}: BGSAVE: {e}")),
    }
    // Bounded by the deadline; a poll every 100 ms. Once our save (or the one already running)
    // has started, the first poll that finds none running sees it ended.
    loop {
        let now = persistence(&mut c)?;
        if now.finished_since(&before) || (started && !now.in_progress) {
            return if now.last_ok {
                Ok(())
            } else {
                Err(format!("{addr}: BGSAVE failed (rdb_last_bgsave_status:err)"))
            };
        }
        if Instant::now() >= deadline {
            return Err(format!("{addr}: BGSAVE did not finish before the deadline"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What a sync delivered: the RDB, or as much of it as arrived and why it stopped.
pub struct Received {
    pub data: Vec<u8>,
    pub error: Option<String>,
}

/// Receives `addr`'s RDB as a replica's full sync does; `progress(done, total)` is called as
/// bytes arrive (`total` is 0 while unknown). The connection is closed after the payload.
pub fn fetch_rdb(addr: &str, opts: &ConnOpts, deadline: Instant, mut progress: impl FnMut(u64, u64)) -> Received {
    let mut data = Vec::new();
    let error = fetch_into(addr, opts, deadline, &mut data, &mut progress).err();
    Received { data, error }
}

fn fetch_into(
    addr: &str,
    opts: &ConnOpts,
    deadline: Instant,
    data: &mut Vec<u8>,
    progress: &mut impl FnMut(u64, u64),
) -> Result<(), String> {
    // Reads wait as long as the deadline allows: the master may take a while to fork and save.
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(format!("{addr}: no time left for the transfer before the deadline"));
    }
    let sync_opts = ConnOpts { timeout: left.max(opts.timeout), ..opts.clone() };
    let mut c = Conn::open(addr, &sync_opts).map_err(|e| e.to_string())?;
    // Older servers do not know rdb-only; it only spares the master a replication buffer.
    let _ = c.call(&["REPLCONF", "rdb-only", "1"]);
    c.send(&["PSYNC", "?", "-1"]).map_err(|e| e.to_string())?;
    let fail = |e: Error| e.to_string();
    let first = parse_preamble(&c.read_line(64 * 1024).map_err(fail)?).map_err(|e| format!("{addr}: {e}"))?;
    let payload = match first {
        Preamble::FullResync { .. } => {
            parse_preamble(&c.read_line(64 * 1024).map_err(fail)?).map_err(|e| format!("{addr}: {e}"))?
        }
        other => other,
    };
    match payload {
        Preamble::FullResync { .. } => Err(format!("{addr}: two FULLRESYNC lines")),
        Preamble::Length(len) => {
            data.reserve(len.min(1 << 30));
            let total = len as u64;
            progress(0, total);
            c.read_exact_into(len, data, |done| progress(done as u64, total)).map_err(fail)
        }
        Preamble::EofMark(mark) => {
            // Bounded by the deadline (each read waits at most until then).
            loop {
                if Instant::now() >= deadline {
                    return Err(format!("{addr}: the transfer did not finish before the deadline"));
                }
                data.extend_from_slice(&c.read_some().map_err(fail)?);
                progress(data.len() as u64, 0);
                if data.ends_with(&mark) {
                    data.truncate(data.len() - mark.len());
                    return Ok(());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::backup::fake;

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(10)
    }

    /// A master whose PSYNC reply is `reply`.
    fn syncing(reply: Vec<u8>) -> String {
        fake::master(
            1,
            Arc::new(move |w| match w[0].as_str() {
                "REPLCONF" => (b"+OK\r\n".to_vec(), false),
                "PSYNC" => (reply.clone(), false),
                _ => (Vec::new(), true),
            }),
        )
    }

    #[test]
    fn receives_a_length_prefixed_payload_after_keepalives() {
        let data = fake::rdb(50);
        let reply =
            [b"+FULLRESYNC 0123 0\r\n\n\n".as_slice(), format!("${}\r\n", data.len()).as_bytes(), &data].concat();
        let mut last = (0, 0);
        let got = fetch_rdb(&syncing(reply), &ConnOpts::default(), soon(), |d, t| last = (d, t));
        assert_eq!(got.error, None);
        assert_eq!(got.data, data);
        assert_eq!(last, (data.len() as u64, data.len() as u64));
    }

    #[test]
    fn receives_an_eof_marked_payload_and_a_legacy_one() {
        let data = fake::rdb(20);
        let mark = b"0123456789abcdef0123456789abcdef01234567";
        let reply = [b"+FULLRESYNC 0123 0\r\n$EOF:".as_slice(), mark, b"\r\n", &data, mark].concat();
        let got = fetch_rdb(&syncing(reply), &ConnOpts::default(), soon(), |_, _| {});
        assert_eq!((got.error, got.data == data), (None, true));
        // SYNC-style: the length comes first.
        let reply = [format!("${}\r\n", data.len()).as_bytes(), &data].concat();
        let got = fetch_rdb(&syncing(reply), &ConnOpts::default(), soon(), |_, _| {});
        assert_eq!((got.error, got.data == data), (None, true));
    }

    #[test]
    fn a_cut_transfer_keeps_what_arrived() {
        let data = fake::rdb(50);
        let reply = [format!("+FULLRESYNC 0123 0\r\n${}\r\n", data.len()).as_bytes(), &data[..data.len() / 2]].concat();
        let addr = fake::master(
            1,
            Arc::new(move |w| match w[0].as_str() {
                "REPLCONF" => (b"+OK\r\n".to_vec(), false),
                // The half, then the connection closes.
                "PSYNC" => (reply.clone(), true),
                _ => (Vec::new(), true),
            }),
        );
        let got = fetch_rdb(&addr, &ConnOpts::default(), soon(), |_, _| {});
        assert!(got.error.as_deref().is_some_and(|e| e.contains("closed")), "{:?}", got.error);
        assert_eq!(got.data, data[..data.len() / 2], "what arrived is kept");
        let refused = fetch_rdb(&syncing(b"-NOPERM no\r\n".to_vec()), &ConnOpts::default(), soon(), |_, _| {});
        assert!(refused.error.unwrap().contains("refused to sync: NOPERM"));
    }

    #[test]
    fn preamble_lines() {
        assert_eq!(
            parse_preamble(b"+FULLRESYNC 8371b4fb1155b71f4a04d3e1bc3e18c4a990aeeb 1234").unwrap(),
            Preamble::FullResync { replid: "8371b4fb1155b71f4a04d3e1bc3e18c4a990aeeb".into(), offset: 1234 }
        );
        assert_eq!(parse_preamble(b"$175").unwrap(), Preamble::Length(175));
        // Keep-alive newlines before the length.
        assert_eq!(parse_preamble(b"\n\n\n$42").unwrap(), Preamble::Length(42));
        let mark = [b'a'; 40];
        assert_eq!(parse_preamble(&[b"\n$EOF:".as_slice(), &mark].concat()).unwrap(), Preamble::EofMark(mark.to_vec()));
        assert!(parse_preamble(b"$EOF:short").is_err());
        assert!(parse_preamble(b"$-1").is_err());
        assert!(parse_preamble(b"+FULLRESYNC id").is_err());
        assert!(parse_preamble(b"+CONTINUE").unwrap_err().contains("unexpected"));
        let e = parse_preamble(b"-NOPERM this user has no permissions").unwrap_err();
        assert!(e.contains("refused") && e.contains("NOPERM"), "{e}");
    }

    #[test]
    fn save_state() {
        let info = "# Persistence\r\nloading:0\r\nrdb_bgsave_in_progress:1\r\nrdb_last_save_time:100\r\nrdb_last_bgsave_status:ok\r\nrdb_saves:3\r\n";
        let before = SaveState::from_info(info).unwrap();
        assert!(before.in_progress && before.last_ok && before.saves == Some(3));
        let same_second = SaveState { in_progress: false, last_save: 100, saves: Some(4), last_ok: true };
        assert!(same_second.finished_since(&before));
        let not_yet = SaveState { in_progress: false, last_save: 100, saves: Some(3), last_ok: true };
        assert!(!not_yet.finished_since(&before));
        let running = SaveState { in_progress: true, last_save: 101, saves: Some(4), last_ok: true };
        assert!(!running.finished_since(&before));
        let no_count = SaveState { in_progress: false, last_save: 101, saves: None, last_ok: true };
        assert!(no_count.finished_since(&SaveState { saves: None, ..before.clone() }));
        assert!(SaveState::from_info("role:master\r\n").is_err());
    }
}
