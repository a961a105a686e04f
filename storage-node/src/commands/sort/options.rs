//! SORT's SQL-like options, parsed left to right as Redis 7.0's sortCommandGeneric does: the
//! first bad option decides the error, and the cluster and ACL refusals of BY/GET patterns are
//! made while parsing, so an earlier syntax error wins over them.

use bytes::Bytes;

use crate::commands::{arg_i64, is, Error};

/// What SORT was asked to do.
#[derive(Debug, Default, PartialEq)]
pub struct SortOptions<'a> {
    pub desc: bool,
    pub alpha: bool,
    /// LIMIT offset and count as given (`0, -1` without LIMIT).
    pub offset: i64,
    pub count: i64,
    /// The last BY pattern.
    pub by: Option<&'a [u8]>,
    /// A BY pattern without `*` was seen: nothing to sort (BY nosort). A later real pattern
    /// does not undo it, as in Redis.
    pub dontsort: bool,
    /// GET patterns in order.
    pub gets: Vec<&'a [u8]>,
    /// The last STORE destination.
    pub store: Option<&'a [u8]>,
}

/// Where the parse runs: what Redis checks besides the syntax.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context {
    /// SORT_RO: STORE is not an option (a syntax error).
    pub readonly: bool,
    /// `cluster-enabled yes`: key patterns (BY with `*`, any GET) are refused.
    pub cluster: bool,
    /// The user may read every key: otherwise key patterns are refused.
    pub full_key_access: bool,
}

/// The bytes C code sees of an argument: up to the first NUL.
pub fn c_str(b: &[u8]) -> &[u8] {
    b.iter().position(|&c| c == 0).map_or(b, |n| &b[..n])
}

/// Parses `args[2..]` of SORT / SORT_RO.
pub fn parse<'a>(args: &'a [Bytes], cx: Context) -> Result<SortOptions<'a>, Error> {
    let mut o = SortOptions { count: -1, ..Default::default() };
    let mut j = 2;
    while j < args.len() {
        let a = &args[j][..];
        let left = args.len() - j - 1;
        if is(a, "asc") {
            o.desc = false;
        } else if is(a, "desc") {
            o.desc = true;
        } else if is(a, "alpha") {
            o.alpha = true;
        } else if is(a, "limit") && left >= 2 {
            o.offset = arg_i64(&args[j + 1])?;
            o.count = arg_i64(&args[j + 2])?;
            j += 2;
        } else if !cx.readonly && is(a, "store") && left >= 1 {
            o.store = Some(&args[j + 1]);
            j += 1;
        } else if is(a, "by") && left >= 1 {
            let pattern = &args[j + 1][..];
            o.by = Some(pattern);
            if !c_str(pattern).contains(&b'*') {
                o.dontsort = true;
            } else if cx.cluster {
                return Err(Error::Msg("ERR BY option of SORT denied in Cluster mode.".into()));
            } else if !cx.full_key_access {
                return Err(Error::Msg("ERR BY option of SORT denied due to insufficient ACL permissions.".into()));
            }
            j += 1;
        } else if is(a, "get") && left >= 1 {
            // Redis 7.0 refuses even `GET #` here: it does not look at the pattern.
            if cx.cluster {
                return Err(Error::Msg("ERR GET option of SORT denied in Cluster mode.".into()));
            }
            if !cx.full_key_access {
                return Err(Error::Msg("ERR GET option of SORT denied due to insufficient ACL permissions.".into()));
            }
            o.gets.push(&args[j + 1]);
            j += 1;
        } else {
            return Err(Error::Syntax);
        }
        j += 1;
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<Bytes> {
        line.split(' ').map(|w| Bytes::copy_from_slice(w.as_bytes())).collect()
    }

    const OPEN: Context = Context { readonly: false, cluster: false, full_key_access: true };

    #[test]
    fn options_in_any_order_last_one_wins() {
        let a = args("sort k desc limit 1 2 by w_* get # get h_*->f alpha store d1 store d2 asc");
        let o = parse(&a, OPEN).unwrap();
        assert!(!o.desc && o.alpha && !o.dontsort);
        assert_eq!((o.offset, o.count), (1, 2));
        assert_eq!(o.by, Some(&b"w_*"[..]));
        assert_eq!(o.gets, vec![&b"#"[..], &b"h_*->f"[..]]);
        assert_eq!(o.store, Some(&b"d2"[..]));
    }

    #[test]
    fn nosort_sticks_once_seen() {
        let a = args("sort k by nosort by w_*");
        let o = parse(&a, OPEN).unwrap();
        assert!(o.dontsort);
        assert_eq!(o.by, Some(&b"w_*"[..]));
    }

    #[test]
    fn errors_follow_redis() {
        let err = |line: &str, cx| parse(&args(line), cx).unwrap_err();
        assert_eq!(err("sort k limit 1", OPEN), Error::Syntax);
        assert_eq!(err("sort k limit x 1", OPEN), Error::NotInteger);
        assert_eq!(err("sort k by", OPEN), Error::Syntax);
        assert_eq!(err("sort k foo", OPEN), Error::Syntax);
        let ro = Context { readonly: true, ..OPEN };
        assert_eq!(err("sort_ro k store d", ro), Error::Syntax);
        let cluster = Context { cluster: true, ..OPEN };
        assert!(err("sort k by {k}*", cluster).text().contains("BY option of SORT denied in Cluster mode."));
        assert!(err("sort k get #", cluster).text().contains("GET option"));
        assert!(parse(&args("sort k by nosort"), cluster).is_ok());
        // The first problem decides: a syntax error before the refusal wins.
        assert_eq!(err("sort k foo by w_*", cluster), Error::Syntax);
        let acl = Context { full_key_access: false, ..OPEN };
        assert!(err("sort k get #", acl).text().contains("insufficient ACL permissions"));
        assert!(parse(&args("sort k by nosort"), acl).is_ok());
    }
}
