//! slotgate's configuration: the redis.conf grammar (Redis 7.0 semantics), redis-server style
//! command-line overrides, the typed `NodeConfig`, CONFIG GET/SET values and CONFIG REWRITE.

pub mod acl;
mod load;
mod node;
pub mod notify;
mod rewrite;
pub mod split;
mod table;
mod units;
mod value;

#[cfg(test)]
mod tests;

pub use node::{AppendFsync, EndpointType, EvictionPolicy, LogLevel, NodeConfig, TlsAuthClients};
pub use split::{split_args, split_args_bytes};
pub use units::{parse_bool, parse_memory};

/// The `file` of errors raised by `--directive` command-line options.
pub const COMMAND_LINE: &str = "command line";

/// A config error, displayed as `file:line: message` (or `file: message` when there is no line
/// or the source is the command line).
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    /// Config file path as given, `"command line"` or `"stdin"`.
    pub file: String,
    /// 1-based line number; 0 when the error is not about a line (e.g. the file can't be opened).
    pub line: usize,
    /// Redis's error text.
    pub message: String,
}

impl ConfigError {
    pub(crate) fn new(file: &str, line: usize, message: impl Into<String>) -> ConfigError {
        ConfigError { file: file.to_string(), line, message: message.into() }
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.file.is_empty() {
            write!(f, "{}", self.message)
        } else if self.line == 0 || self.file == COMMAND_LINE {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

/// `slotgate-node -v` version line in redis-server's shape.
pub fn version_line(version: &str) -> String {
    format!("Redis server v=7.0.15 sha=00000000:0 malloc=libc bits=64 build=slotgate-{version}")
}
