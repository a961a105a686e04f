//! String commands: GET/SET and friends, counters, ranges, APPEND and LCS.

use protocol::encode::format_human;
use protocol::Reply;

use super::{arg_f64, arg_i64, err, get_string, is, Ctx, Error, Handler};
use crate::keyspace::value::canonical_int;
use crate::keyspace::Value;
use crate::server::notify::{lookup_read, notify, GENERIC, STRING};

pub fn register(h: &mut Vec<(&'static str, Handler)>) {
    h.extend([
        ("get", get as Handler),
        ("set", set),
        ("setnx", setnx),
        ("setex", setex),
        ("psetex", psetex),
        ("getset", getset),
        ("getdel", getdel),
        ("getex", getex),
        ("mget", mget),
        ("mset", mset),
        ("msetnx", msetnx),
        ("incr", incr),
        ("decr", decr),
        ("incrby", incrby),
        ("decrby", decrby),
        ("incrbyfloat", incrbyfloat),
        ("append", append),
        ("strlen", strlen),
        ("getrange", getrange),
        ("substr", getrange),
        ("setrange", setrange),
        ("lcs", lcs),
    ]);
}

/// Turns an EX/PX/EXAT/PXAT amount into absolute unix ms, with Redis's validity rules.
pub fn expire_at(now: i64, amount: &[u8], seconds: bool, absolute: bool, cmd: &str) -> Result<i64, Error> {
    let v = arg_i64(amount)?;
    let invalid = || Error::Msg(format!("ERR invalid expire time in '{cmd}' command"));
    if v <= 0 || (seconds && v > i64::MAX / 1000) {
        return Err(invalid());
    }
    let ms = if seconds { v * 1000 } else { v };
    if absolute {
        Ok(ms)
    } else {
        ms.checked_add(now).ok_or_else(invalid)
    }
}

/// Writes a string value as a bulk reply.
fn write_value(out: &mut Reply, v: &Value) {
    match v {
        Value::Int(n) => out.bulk_int(*n),
        other => out.bulk(other.raw_bytes().unwrap_or_default()),
    }
}

fn reply_value(ctx: &mut Ctx, v: &Value) {
    write_value(ctx.out, v);
}

fn get(ctx: &mut Ctx) -> Result<(), Error> {
    match lookup_read(ctx.srv, &ctx.args[1], ctx.now) {
        None => ctx.out.null(),
        Some(e) if e.value.is_string() => write_value(ctx.out, &e.value),
        Some(_) => return Err(Error::WrongType),
    }
    Ok(())
}

/// The shared SET implementation: options parsed from `args[3..]`.
fn set(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let (mut nx, mut xx, mut get, mut keepttl) = (false, false, false, false);
    let mut expire: Option<i64> = None;
    let mut i = 3;
    while i < args.len() {
        let a = &args[i];
        let has_next = i + 1 < args.len();
        if is(a, "nx") && !xx {
            nx = true;
        } else if is(a, "xx") && !nx {
            xx = true;
        } else if is(a, "get") {
            get = true;
        } else if is(a, "keepttl") && expire.is_none() {
            keepttl = true;
        } else if has_next
            && expire.is_none()
            && !keepttl
            && (is(a, "ex") || is(a, "px") || is(a, "exat") || is(a, "pxat"))
        {
            let seconds = is(a, "ex") || is(a, "exat");
            let absolute = is(a, "exat") || is(a, "pxat");
            expire = Some(expire_at(ctx.now, &args[i + 1], seconds, absolute, "set")?);
            i += 1;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    let key = &args[1];
    let now = ctx.now;
    if !(get || nx || xx || keepttl) {
        // The common case needs no lookup: one probe stores the value and clears any TTL.
        let ttl = expire.unwrap_or(0);
        ctx.srv.db.set(key, Value::string(&args[2]), Some(ttl));
        ctx.srv.dirty += 1;
        notify(ctx.srv, STRING, "set", key);
        if ttl != 0 {
            notify(ctx.srv, GENERIC, "expire", key);
        }
        if ttl != 0 && ttl <= now {
            ctx.srv.db.remove(key);
        }
        ctx.out.ok();
        return Ok(());
    }
    let existing = ctx.srv.db.get(key, now);
    if get {
        match &existing {
            Some(e) if !e.value.is_string() => return Err(Error::WrongType),
            Some(e) => {
                let v = e.value.clone();
                reply_value(ctx, &v);
            }
            None => ctx.out.null(),
        }
    }
    let exists = ctx.srv.db.peek(key).is_some();
    if (nx && exists) || (xx && !exists) {
        if !get {
            ctx.out.null();
        }
        return Ok(());
    }
    let ttl = match (keepttl, expire) {
        (true, _) => None,
        (false, Some(at)) => Some(at),
        (false, None) => Some(0),
    };
    ctx.srv.db.set(key, Value::string(&args[2]), ttl);
    ctx.srv.dirty += 1;
    notify(ctx.srv, STRING, "set", key);
    if expire.is_some() {
        notify(ctx.srv, GENERIC, "expire", key);
    }
    if expire.is_some_and(|at| at <= now) {
        ctx.srv.db.remove(key);
    }
    if !get {
        ctx.out.ok();
    }
    Ok(())
}

fn setnx(ctx: &mut Ctx) -> Result<(), Error> {
    let key = &ctx.args[1];
    if ctx.srv.db.get(key, ctx.now).is_some() {
        ctx.out.int(0);
    } else {
        ctx.srv.db.set(key, Value::string(&ctx.args[2]), Some(0));
        ctx.srv.dirty += 1;
        notify(ctx.srv, STRING, "set", key);
        ctx.out.int(1);
    }
    Ok(())
}

fn setex_generic(ctx: &mut Ctx, seconds: bool, cmd: &str) -> Result<(), Error> {
    let at = expire_at(ctx.now, &ctx.args[2], seconds, false, cmd)?;
    ctx.srv.db.set(&ctx.args[1], Value::string(&ctx.args[3]), Some(at));
    ctx.srv.dirty += 1;
    notify(ctx.srv, STRING, "set", &ctx.args[1]);
    notify(ctx.srv, GENERIC, "expire", &ctx.args[1]);
    ctx.out.ok();
    Ok(())
}

fn setex(ctx: &mut Ctx) -> Result<(), Error> {
    setex_generic(ctx, true, "setex")
}

fn psetex(ctx: &mut Ctx) -> Result<(), Error> {
    setex_generic(ctx, false, "psetex")
}

fn getset(ctx: &mut Ctx) -> Result<(), Error> {
    let key = &ctx.args[1];
    let old = get_string(ctx, key)?.map(|v| v.clone());
    match old {
        Some(v) => reply_value(ctx, &v),
        None => ctx.out.null(),
    }
    ctx.srv.db.set(key, Value::string(&ctx.args[2]), Some(0));
    ctx.srv.dirty += 1;
    notify(ctx.srv, STRING, "set", key);
    Ok(())
}

fn getdel(ctx: &mut Ctx) -> Result<(), Error> {
    let key = &ctx.args[1];
    if get_string(ctx, key)?.is_none() {
        ctx.out.null();
        return Ok(());
    }
    if let Some(e) = ctx.srv.db.remove(key) {
        reply_value(ctx, &e.value);
        ctx.srv.dirty += 1;
        notify(ctx.srv, GENERIC, "del", key);
    }
    Ok(())
}

fn getex(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let mut new_ttl: Option<i64> = None;
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        if is(a, "persist") && new_ttl.is_none() {
            new_ttl = Some(0);
        } else if i + 1 < args.len()
            && new_ttl.is_none()
            && (is(a, "ex") || is(a, "px") || is(a, "exat") || is(a, "pxat"))
        {
            let seconds = is(a, "ex") || is(a, "exat");
            let absolute = is(a, "exat") || is(a, "pxat");
            new_ttl = Some(expire_at(ctx.now, &args[i + 1], seconds, absolute, "getex")?);
            i += 1;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    let key = &args[1];
    let Some(v) = get_string(ctx, key)?.map(|v| v.clone()) else {
        ctx.out.null();
        return Ok(());
    };
    reply_value(ctx, &v);
    if let Some(at) = new_ttl {
        let had_ttl = ctx.srv.db.peek(key).is_some_and(|e| e.expire_at != 0);
        if at != 0 && at <= ctx.now {
            ctx.srv.db.remove(key);
            notify(ctx.srv, GENERIC, "del", key);
        } else {
            ctx.srv.db.set_expire(key, at);
            if at != 0 {
                notify(ctx.srv, GENERIC, "expire", key);
            } else if had_ttl {
                notify(ctx.srv, GENERIC, "persist", key);
            }
        }
        ctx.srv.dirty += 1;
    }
    Ok(())
}

fn mget(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    ctx.out.array(args.len() - 1);
    for key in &args[1..] {
        let now = ctx.now;
        match lookup_read(ctx.srv, key, now) {
            Some(e) if e.value.is_string() => write_value(ctx.out, &e.value),
            _ => ctx.out.null(),
        }
    }
    Ok(())
}

fn mset(ctx: &mut Ctx) -> Result<(), Error> {
    if ctx.args.len().is_multiple_of(2) {
        return err("ERR wrong number of arguments for 'mset' command");
    }
    mset_pairs(ctx);
    ctx.out.ok();
    Ok(())
}

fn msetnx(ctx: &mut Ctx) -> Result<(), Error> {
    if ctx.args.len().is_multiple_of(2) {
        return err("ERR wrong number of arguments for 'msetnx' command");
    }
    let now = ctx.now;
    if ctx.args[1..].chunks(2).any(|p| ctx.srv.db.get(&p[0], now).is_some()) {
        ctx.out.int(0);
        return Ok(());
    }
    mset_pairs(ctx);
    ctx.out.int(1);
    Ok(())
}

fn mset_pairs(ctx: &mut Ctx) {
    for pair in ctx.args[1..].chunks(2) {
        ctx.srv.db.set(&pair[0], Value::string(&pair[1]), Some(0));
        notify(ctx.srv, STRING, "set", &pair[0]);
    }
    ctx.srv.dirty += (ctx.args.len() / 2) as u64;
}

/// Adds `by` to the integer at `key` (missing = 0) and replies with the result.
fn incr_by(ctx: &mut Ctx, by: i64) -> Result<(), Error> {
    let key = &ctx.args[1];
    let now = ctx.now;
    let result = match ctx.srv.db.get(key, now) {
        None => by,
        Some(e) => {
            let cur = match &e.value {
                Value::Int(n) => *n,
                other if !other.is_string() => return Err(Error::WrongType),
                other => other.raw_bytes().and_then(canonical_int).ok_or(Error::NotInteger)?,
            };
            let next = cur.checked_add(by).ok_or(Error::Overflow)?;
            e.value = Value::Int(next);
            ctx.srv.dirty += 1;
            notify(ctx.srv, STRING, "incrby", key);
            ctx.out.int(next);
            return Ok(());
        }
    };
    ctx.srv.db.set(key, Value::Int(result), None);
    ctx.srv.dirty += 1;
    notify(ctx.srv, STRING, "incrby", key);
    ctx.out.int(result);
    Ok(())
}

fn incr(ctx: &mut Ctx) -> Result<(), Error> {
    incr_by(ctx, 1)
}

fn decr(ctx: &mut Ctx) -> Result<(), Error> {
    incr_by(ctx, -1)
}

fn incrby(ctx: &mut Ctx) -> Result<(), Error> {
    let by = arg_i64(&ctx.args[2])?;
    incr_by(ctx, by)
}

fn decrby(ctx: &mut Ctx) -> Result<(), Error> {
    let by = arg_i64(&ctx.args[2])?;
    if by == i64::MIN {
        return err("ERR decrement would overflow");
    }
    incr_by(ctx, -by)
}

fn incrbyfloat(ctx: &mut Ctx) -> Result<(), Error> {
    let by = arg_f64(&ctx.args[2])?;
    let key = &ctx.args[1];
    let cur = match get_string(ctx, key)? {
        None => 0.0,
        Some(v) => arg_f64(&v.as_bytes().unwrap_or_default())?,
    };
    let next = cur + by;
    if !next.is_finite() {
        return err("ERR increment would produce NaN or Infinity");
    }
    let text = format_human(next);
    ctx.srv.db.set(key, Value::string(text.as_bytes()), None);
    ctx.srv.dirty += 1;
    notify(ctx.srv, STRING, "incrbyfloat", key);
    ctx.out.bulk(text.as_bytes());
    Ok(())
}

fn check_size(ctx: &Ctx, len: u64) -> Result<(), Error> {
    if len > ctx.srv.config.proto_max_bulk_len {
        return err("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
    }
    Ok(())
}

fn append(ctx: &mut Ctx) -> Result<(), Error> {
    let key = &ctx.args[1];
    let add = &ctx.args[2];
    let cur_len = get_string(ctx, key)?.map(|v| v.str_len().unwrap_or(0));
    let Some(cur_len) = cur_len else {
        ctx.srv.db.set(key, Value::string(add), None);
        ctx.srv.dirty += 1;
        notify(ctx.srv, STRING, "append", key);
        ctx.out.int(add.len() as i64);
        return Ok(());
    };
    check_size(ctx, (cur_len + add.len()) as u64)?;
    let now = ctx.now;
    let len = match ctx.srv.db.get(key, now).and_then(|e| e.value.make_growable()) {
        Some(buf) => {
            buf.extend_from_slice(add);
            buf.len()
        }
        None => return Err(Error::WrongType),
    };
    ctx.srv.dirty += 1;
    notify(ctx.srv, STRING, "append", key);
    ctx.out.int(len as i64);
    Ok(())
}

fn strlen(ctx: &mut Ctx) -> Result<(), Error> {
    let key = &ctx.args[1];
    let len = get_string(ctx, key)?.map_or(0, |v| v.str_len().unwrap_or(0));
    ctx.out.int(len as i64);
    Ok(())
}

fn getrange(ctx: &mut Ctx) -> Result<(), Error> {
    let (mut start, mut end) = (arg_i64(&ctx.args[2])?, arg_i64(&ctx.args[3])?);
    let key = &ctx.args[1];
    let Some(v) = get_string(ctx, key)? else {
        ctx.out.bulk(b"");
        return Ok(());
    };
    let bytes = v.as_bytes().unwrap_or_default().into_owned();
    let len = bytes.len() as i64;
    if start < 0 && end < 0 && start > end {
        ctx.out.bulk(b"");
        return Ok(());
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        ctx.out.bulk(b"");
    } else {
        ctx.out.bulk(&bytes[start as usize..=end as usize]);
    }
    Ok(())
}

fn setrange(ctx: &mut Ctx) -> Result<(), Error> {
    let offset = arg_i64(&ctx.args[2])?;
    if offset < 0 {
        return err("ERR offset is out of range");
    }
    let (key, val) = (&ctx.args[1], &ctx.args[3]);
    let cur_len = get_string(ctx, key)?.map(|v| v.str_len().unwrap_or(0));
    if val.is_empty() {
        ctx.out.int(cur_len.unwrap_or(0) as i64);
        return Ok(());
    }
    check_size(ctx, offset as u64 + val.len() as u64)?;
    if cur_len.is_none() {
        ctx.srv.db.set(key, Value::Growable(Box::default()), None);
    }
    let now = ctx.now;
    let buf = ctx.srv.db.get(key, now).and_then(|e| e.value.make_growable()).ok_or(Error::WrongType)?;
    let end = offset as usize + val.len();
    if buf.len() < end {
        buf.resize(end, 0);
    }
    buf[offset as usize..end].copy_from_slice(val);
    let len = buf.len();
    ctx.srv.dirty += 1;
    notify(ctx.srv, STRING, "setrange", key);
    ctx.out.int(len as i64);
    Ok(())
}

fn lcs(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let (mut want_len, mut want_idx, mut withmatchlen, mut minmatchlen) = (false, false, false, 0i64);
    let mut i = 3;
    while i < args.len() {
        if is(&args[i], "len") {
            want_len = true;
        } else if is(&args[i], "idx") {
            want_idx = true;
        } else if is(&args[i], "withmatchlen") {
            withmatchlen = true;
        } else if is(&args[i], "minmatchlen") && i + 1 < args.len() {
            minmatchlen = arg_i64(&args[i + 1])?.max(0);
            i += 1;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    if want_len && want_idx {
        return err("ERR If you want both the length and indexes, please just use IDX.");
    }
    let mut fetch = |key: &[u8]| -> Result<Vec<u8>, Error> {
        match ctx.srv.db.get(key, ctx.now) {
            None => Ok(Vec::new()),
            Some(e) if e.value.is_string() => Ok(e.value.as_bytes().unwrap_or_default().into_owned()),
            Some(_) => err("ERR The specified keys must contain string values"),
        }
    };
    let a = fetch(&args[1])?;
    let b = fetch(&args[2])?;
    let (alen, blen) = (a.len(), b.len());
    let cells = (alen as u64 + 1) * (blen as u64 + 1);
    if cells * 4 > ctx.srv.config.proto_max_bulk_len {
        return err("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
    }
    let w = blen + 1;
    let mut t = vec![0u32; cells as usize];
    for i in 1..=alen {
        for j in 1..=blen {
            t[i * w + j] = if a[i - 1] == b[j - 1] {
                t[(i - 1) * w + j - 1] + 1
            } else {
                t[(i - 1) * w + j].max(t[i * w + j - 1])
            };
        }
    }
    let total = t[alen * w + blen] as usize;
    if want_len {
        ctx.out.int(total as i64);
        return Ok(());
    }
    // Walk back from the end, collecting the common string and the matching ranges.
    let mut result = vec![0u8; total];
    let mut ranges: Vec<[usize; 4]> = Vec::new();
    let (mut i, mut j, mut idx) = (alen, blen, total);
    let (mut a_start, mut a_end, mut b_start, mut b_end) = (alen, 0, 0, 0);
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            result[idx - 1] = a[i - 1];
            if a_start == alen {
                (a_start, a_end, b_start, b_end) = (i - 1, i - 1, j - 1, j - 1);
            } else if a_start == i && b_start == j {
                a_start -= 1;
                b_start -= 1;
            } else {
                emit = true;
            }
            if a_start == 0 || b_start == 0 {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if t[(i - 1) * w + j] > t[i * w + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            if a_start != alen {
                emit = true;
            }
        }
        if emit {
            let len = a_end - a_start + 1;
            if minmatchlen == 0 || len as i64 >= minmatchlen {
                ranges.push([a_start, a_end, b_start, b_end]);
            }
            a_start = alen;
        }
    }
    if !want_idx {
        ctx.out.bulk(&result);
        return Ok(());
    }
    let out = &mut *ctx.out;
    out.map(2);
    out.bulk(b"matches");
    out.array(ranges.len());
    for [as_, ae, bs, be] in ranges {
        out.array(2 + withmatchlen as usize);
        out.array(2);
        out.int(as_ as i64);
        out.int(ae as i64);
        out.array(2);
        out.int(bs as i64);
        out.int(be as i64);
        if withmatchlen {
            out.int((ae - as_ + 1) as i64);
        }
    }
    out.bulk(b"len");
    out.int(total as i64);
    Ok(())
}
