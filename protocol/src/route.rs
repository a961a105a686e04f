//! How a command is served when the keyspace is split over the masters of a cluster, as data
//! beside each command of the table: the proxy's strategy ([`Route`]), whether sending a write
//! twice is harmless ([`Retry`]), and how each key is used ([`KeyUse`], for ACL key checks).

/// How replies of several nodes become the one reply a single Redis gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// Integers added (DEL, EXISTS, DBSIZE).
    Sum,
    /// OK when every node said OK, else the first error (MSET, FLUSHALL).
    AllOk,
    /// Array items put back in the order of the request's keys (MGET).
    InKeyOrder,
    /// Arrays concatenated (KEYS).
    Concat,
    /// Per position, 1 only when every node said 1 (SCRIPT EXISTS).
    AllTrue,
    /// The first error, else the first node's reply (SCRIPT LOAD: the same SHA everywhere).
    FirstReply,
    /// The proxy's own INFO with the nodes' keyspace sections summed.
    Info,
    /// RANDOMKEY: every master's DBSIZE, then RANDOMKEY on one master picked by its share of
    /// the keys, so every key of the keyspace is as likely as on one Redis.
    RandomKey,
}

/// How the proxy computes a multi-key command whose keys sit on several slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gather {
    /// Sources copied (DUMP/RESTORE) to temporary keys sharing one slot, the command run there
    /// by the node itself, and a destination written back in one RESTORE: set and sorted-set
    /// algebra, the *STORE commands, LCS, PFCOUNT, PFMERGE, BITOP.
    Colocate,
    /// RENAME: value and TTL copied, then the source deleted only if unchanged meanwhile.
    Rename,
    /// RENAMENX: RENAME unless the destination exists.
    RenameNx,
    /// COPY [REPLACE]: value and absolute expiry copied.
    Copy,
    /// SMOVE: added to the destination, then removed from the source.
    Smove,
    /// LMOVE, RPOPLPUSH: popped, pushed, pushed back if the push fails.
    Lmove,
    /// MSETNX: no key exists, then every key set.
    Msetnx,
    /// LMPOP, ZMPOP: the first non-empty key in the order given.
    FirstNonEmpty,
}

/// Connections a client keeps for itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pin {
    /// MULTI, EXEC, DISCARD, UNWATCH: the transaction is queued by the proxy.
    Transaction,
    /// WATCH: held on the node of its keys until EXEC, DISCARD or UNWATCH.
    Watch,
    /// Blocking pops and moves: a connection of their own while they wait.
    Blocking,
    /// XREAD/XREADGROUP: blocking only when a BLOCK option comes before STREAMS.
    BlockOption,
}

/// The index of the timeout after a BLOCK option before STREAMS (XREAD, XREADGROUP).
pub fn block_option(args: &[impl AsRef<[u8]>]) -> Option<usize> {
    let streams = args.iter().position(|a| a.as_ref().eq_ignore_ascii_case(b"streams")).unwrap_or(args.len());
    let at = args[..streams].iter().skip(1).position(|a| a.as_ref().eq_ignore_ascii_case(b"block"))? + 1;
    (at + 1 < streams).then_some(at + 1)
}

/// The proxy's strategy for a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Not set: the table test fails on it.
    Unset,
    /// Every key in one slot, sent to its master (a read may go to a replica); a keyless
    /// command goes to the client's master.
    Slot,
    /// One sub-request per slot, `stride` arguments per key, replies merged.
    Split { stride: u8, merge: Merge },
    /// The same request to every master, replies merged.
    Fanout(Merge),
    /// Keys in one slot go as [`Route::Slot`]; across slots the proxy computes the answer.
    CrossSlot(Gather),
    /// A connection of the client's own.
    Pinned(Pin),
    /// SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE: the session streams from subscriber connections.
    Subscribe,
    /// SCAN: the proxy's cursor walks the masters in turn.
    Scan,
    /// WAIT: every node the client wrote to since its last WAIT.
    Wait,
    /// Answered by the proxy itself (connection state, ACL, COMMAND, cluster emulation).
    Local,
    /// Acts on one node's replication or lifecycle: Redis's unknown-command error.
    NotServed,
}

/// Whether a write may be sent again when its node stalled or dropped the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Applying it twice may leave other data than once (INCR, LPUSH, ...).
    Never,
    /// Applying it twice leaves the same data (DEL, HSET, SADD, EXPIREAT, ...).
    Always,
    /// Idempotent unless one of these options is given (SET ... NX, ZADD ... INCR).
    Unless(&'static [&'static str]),
}

impl Retry {
    /// Whether this invocation (`args[0]` is the name) may be sent twice.
    pub fn allows<A: AsRef<[u8]>>(self, args: &[A]) -> bool {
        match self {
            Retry::Never => false,
            Retry::Always => true,
            Retry::Unless(opts) => {
                !args.iter().skip(2).any(|a| opts.iter().any(|o| a.as_ref().eq_ignore_ascii_case(o.as_bytes())))
            }
        }
    }
}

/// How a command uses one of its keys, from Redis 7.0's key specs (`COMMAND INFO`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUse {
    /// Metadata only (EXISTS, TYPE, STRLEN).
    Neither,
    Read,
    Write,
    ReadWrite,
    /// Sits in a key position for routing but is not a key (shard channels).
    NotKey,
}

impl KeyUse {
    /// `(needs read, needs write)`.
    pub fn needs(self) -> (bool, bool) {
        match self {
            KeyUse::Neither | KeyUse::NotKey => (false, false),
            KeyUse::Read => (true, false),
            KeyUse::Write => (false, true),
            KeyUse::ReadWrite => (true, true),
        }
    }
}

#[cfg(test)]
mod block_option_tests {
    use super::block_option;

    #[test]
    fn block_counts_only_before_streams() {
        assert_eq!(block_option(&["XREAD", "COUNT", "1", "BLOCK", "100", "STREAMS", "s", "$"]), Some(4));
        assert_eq!(block_option(&["xreadgroup", "GROUP", "g", "c", "block", "0", "STREAMS", "s", ">"]), Some(5));
        assert_eq!(block_option(&["XREAD", "STREAMS", "block", "0"]), None);
        assert_eq!(block_option(&["XREAD", "BLOCK", "STREAMS", "s", "$"]), None);
        assert_eq!(block_option(&["XREAD", "COUNT", "1", "STREAMS", "s", "$"]), None);
    }
}
