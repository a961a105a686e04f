//! INFO errorstats: error replies counted by their code (the text before the first space),
//! as Redis 7.0's afterErrorReply / incrementErrorCount keep them in `server.errors`.

use std::collections::BTreeMap;

/// Counts per error code, in Redis's (byte-wise, rax) order.
#[derive(Debug, Default)]
pub struct ErrorStats {
    pub by_code: BTreeMap<String, u64>,
}

/// The code Redis files an error under: the first word when it sits within the first 32 bytes of the reply (its `-` included)
/// else `ERR`.
pub fn code_of(msg: &str) -> &str {
    let head = &msg.as_bytes()[..msg.len().min(31)];
    match head.iter().position(|&b| b == b' ') {
        Some(0) | None => "ERR",
        Some(at) => &msg[..at],
    }
}

impl ErrorStats {
    /// Counts one error reply.
    pub fn count(&mut self, msg: &str) {
        *self.by_code.entry(code_of(msg).to_string()).or_default() += 1;
    }

    /// The section's lines.
    pub fn info(&self, out: &mut String) {
        for (code, n) in &self.by_code {
            out.push_str(&format!("errorstat_{code}:count={n}\r\n"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!(code_of("ERR syntax error"), "ERR");
        assert_eq!(code_of("WRONGTYPE Operation against a key"), "WRONGTYPE");
        assert_eq!(code_of("NOSPACE"), "ERR");
        assert_eq!(code_of(&format!("{} x", "A".repeat(40))), "ERR");
        let mut s = ErrorStats::default();
        s.count("ERR a");
        s.count("ERR b");
        s.count("EXECABORT c");
        let mut out = String::new();
        s.info(&mut out);
        assert_eq!(out, "errorstat_ERR:count=2\r\nerrorstat_EXECABORT:count=1\r\n");
    }
}
