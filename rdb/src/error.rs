use std::fmt;

/// A decoding failure. `offset` is the byte position (within the payload or file being read)
/// where the problem was found, so corrupt input can be located with a hex dump.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    pub offset: usize,
    pub msg: String,
}

impl Error {
    pub(crate) fn new(offset: usize, msg: impl Into<String>) -> Self {
        Error { offset, msg: msg.into() }
    }

    /// Re-anchors an error found inside a nested blob (listpack, ziplist, ...) that starts at
    /// `base` in the outer input. Offsets inside a decompressed blob do not exist in the input,
    /// so for those we point at the blob and keep the inner position in the message.
    pub(crate) fn rebase(self, base: usize, compressed: bool) -> Self {
        if compressed {
            Error::new(base, format!("{} (at offset {} of the LZF-decompressed blob)", self.msg, self.offset))
        } else {
            Error::new(base + self.offset, self.msg)
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at offset {}", self.msg, self.offset)
    }
}

impl std::error::Error for Error {}
