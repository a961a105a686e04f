//! The `notify-keyspace-events` classes: Redis 7.0's keyspaceEventsStringToFlags and
//! keyspaceEventsFlagsToString (notify.c), with the same bit values as server.h.

/// `K`: publish on `__keyspace@<db>__:<key>`.
pub const KEYSPACE: u32 = 1 << 0;
/// `E`: publish on `__keyevent@<db>__:<event>`.
pub const KEYEVENT: u32 = 1 << 1;
/// `g`: generic commands (DEL, EXPIRE, RENAME ...).
pub const GENERIC: u32 = 1 << 2;
/// `$`: string commands.
pub const STRING: u32 = 1 << 3;
/// `l`: list commands.
pub const LIST: u32 = 1 << 4;
/// `s`: set commands.
pub const SET: u32 = 1 << 5;
/// `h`: hash commands.
pub const HASH: u32 = 1 << 6;
/// `z`: sorted set commands.
pub const ZSET: u32 = 1 << 7;
/// `x`: keys removed by expiry.
pub const EXPIRED: u32 = 1 << 8;
/// `e`: keys removed by eviction.
pub const EVICTED: u32 = 1 << 9;
/// `t`: stream commands.
pub const STREAM: u32 = 1 << 10;
/// `m`: read lookups that miss.
pub const KEY_MISS: u32 = 1 << 11;
/// `d`: module key types (accepted and shown; slotgate has no modules).
pub const MODULE: u32 = 1 << 13;
/// `n`: a key added to the keyspace.
pub const NEW: u32 = 1 << 14;
/// `A`: the alias for `g$lshzxetd` (not `m` nor `n`).
pub const ALL: u32 = GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

/// Redis's error for a character that names no class.
pub const INVALID: &str = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.";

/// The flags a class string names; `None` when a character names no class.
pub fn parse(classes: &str) -> Option<u32> {
    let mut flags = 0;
    for c in classes.chars() {
        flags |= match c {
            'A' => ALL,
            'g' => GENERIC,
            '$' => STRING,
            'l' => LIST,
            's' => SET,
            'h' => HASH,
            'z' => ZSET,
            'x' => EXPIRED,
            'e' => EVICTED,
            'K' => KEYSPACE,
            'E' => KEYEVENT,
            't' => STREAM,
            'm' => KEY_MISS,
            'd' => MODULE,
            'n' => NEW,
            _ => return None,
        };
    }
    Some(flags)
}

/// The canonical class string of `flags`, as CONFIG GET shows it (`AKE` for `KEA`).
pub fn format(flags: u32) -> String {
    let mut s = String::new();
    if flags & ALL == ALL {
        // As in Redis, `n` (outside `A`) is then not shown, though it stays in effect.
        s.push('A');
    } else {
        let classes = [
            (GENERIC, 'g'),
            (STRING, '$'),
            (LIST, 'l'),
            (SET, 's'),
            (HASH, 'h'),
            (ZSET, 'z'),
            (EXPIRED, 'x'),
            (EVICTED, 'e'),
            (STREAM, 't'),
            (MODULE, 'd'),
            (NEW, 'n'),
        ];
        s.extend(classes.iter().filter(|(f, _)| flags & f != 0).map(|(_, c)| c));
    }
    for (f, c) in [(KEYSPACE, 'K'), (KEYEVENT, 'E'), (KEY_MISS, 'm')] {
        if flags & f != 0 {
            s.push(c);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_strings_round_trip_as_redis_prints_them() {
        assert_eq!(parse(""), Some(0));
        assert_eq!(format(0), "");
        assert_eq!(format(parse("KEA").unwrap()), "AKE");
        assert_eq!(format(parse("nmKEgx").unwrap()), "gxnKEm");
        assert_eq!(format(parse("AAd").unwrap()), "A");
        assert_eq!(format(parse("Elg$").unwrap()), "g$lE");
        assert_eq!(format(parse("g$lshzxetd").unwrap()), "A");
        assert_eq!(format(parse("tdnmzhsl$gexEK").unwrap()), "AKEm");
        assert_eq!(parse("KEAZ"), None);
        assert_eq!(parse("a"), None);
        assert_eq!(parse(" "), None);
    }
}
