//! Bitmap commands on strings: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO.
//! Argument rules, lookup order and error texts follow Redis 7.0's `bitops.c`; the bit logic
//! itself is in `keyspace::bits`. Strings held as integers read as their decimal text and are
//! turned into plain bytes when written, as Redis unshares them.

use super::{err, is, Ctx, Error, Handler};
use crate::keyspace::bits::{self, BitOp, FieldType, FieldWrite, Overflow, Unit};
use crate::keyspace::value::canonical_int;
use crate::keyspace::Value;
use crate::server::Server;

pub fn register(h: &mut Vec<(&'static str, Handler)>) {
    h.extend([
        ("setbit", setbit as Handler),
        ("getbit", getbit),
        ("bitcount", bitcount),
        ("bitpos", bitpos),
        ("bitop", bitop),
        ("bitfield", bitfield),
        ("bitfield_ro", bitfield_ro),
    ]);
}

const BAD_OFFSET: &str = "ERR bit offset is not an integer or out of range";
const BAD_TYPE: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

/// An integer argument the way Redis's string2ll reads it (no `+`, no leading zeros).
fn int_arg(b: &[u8]) -> Result<i64, Error> {
    canonical_int(b).ok_or(Error::NotInteger)
}

/// Whether limits on the client's input are waived: our master and the AOF are obeyed
/// whatever they send (Redis's mustObeyClient).
fn obeyed(ctx: &Ctx) -> bool {
    ctx.client.is_master || ctx.srv.prop.loading
}

/// A bit offset (getBitOffsetFromArgument): non-negative, its byte within
/// `proto-max-bulk-len`. With `field_bits`, `#n` means the n-th field of that width.
fn bit_offset(ctx: &Ctx, arg: &[u8], field_bits: Option<u32>) -> Result<u64, Error> {
    let bad = || Error::Msg(BAD_OFFSET.into());
    let (hash, digits) = match (arg.first(), field_bits) {
        (Some(b'#'), Some(bits)) => (Some(bits), &arg[1..]),
        _ => (None, arg),
    };
    let mut offset = canonical_int(digits).ok_or_else(bad)?;
    if let Some(bits) = hash {
        // Redis multiplies in C's wrapping arithmetic; a wrapped product is judged as is.
        offset = offset.wrapping_mul(bits as i64);
    }
    if offset < 0 || (!obeyed(ctx) && (offset as u64 >> 3) >= ctx.srv.config.proto_max_bulk_len) {
        return Err(bad());
    }
    Ok(offset as u64)
}

/// A read lookup (its hit or miss was counted by `server::notify::count_reads`), then the type.
fn read_string<'a>(srv: &'a mut Server, key: &[u8], now: i64) -> Result<Option<&'a Value>, Error> {
    match srv.db.get(key, now) {
        None => Ok(None),
        Some(e) => {
            if e.value.is_string() {
                Ok(Some(&e.value))
            } else {
                Err(Error::WrongType)
            }
        }
    }
}

/// The string at `key` made writable and zero-padded to hold bit `max_bit`, created when
/// missing (lookupStringForBitCommand). Returns the buffer and whether it grew.
fn string_for_bits<'a>(
    srv: &'a mut Server,
    key: &[u8],
    now: i64,
    max_bit: u64,
) -> Result<(&'a mut Vec<u8>, bool), Error> {
    let oom = || Error::Msg("OOM command not allowed when used memory > 'maxmemory'.".into());
    let need = usize::try_from((max_bit >> 3) + 1).map_err(|_| oom())?;
    let exists = match srv.db.get(key, now) {
        None => false,
        Some(e) if e.value.is_string() => true,
        Some(_) => return Err(Error::WrongType),
    };
    let zeroed = |buf: &mut Vec<u8>| -> Result<(), Error> {
        if buf.len() < need {
            buf.try_reserve_exact(need - buf.len()).map_err(|_| oom())?;
            buf.resize(need, 0);
        }
        Ok(())
    };
    if !exists {
        let mut buf = Vec::new();
        zeroed(&mut buf)?;
        srv.db.set(key, Value::Growable(Box::new(buf)), None);
    }
    let buf = srv.db.get(key, now).and_then(|e| e.value.make_growable()).ok_or(Error::WrongType)?;
    let old_len = buf.len();
    zeroed(buf)?;
    let grew = !exists || buf.len() != old_len;
    Ok((buf, grew))
}

fn setbit(ctx: &mut Ctx) -> Result<(), Error> {
    let offset = bit_offset(ctx, &ctx.args[2], None)?;
    let on = match canonical_int(&ctx.args[3]) {
        Some(0) => false,
        Some(1) => true,
        _ => return err("ERR bit is not an integer or out of range"),
    };
    let (buf, grew) = string_for_bits(ctx.srv, &ctx.args[1], ctx.now, offset)?;
    let old = bits::set_bit(buf, offset, on);
    // A write that changes nothing is not a change (no dirty, no propagation), as in Redis.
    if grew || old != on {
        ctx.srv.dirty += 1;
        crate::server::notify::notify(ctx.srv, crate::server::notify::STRING, "setbit", &ctx.args[1]);
    }
    ctx.out.int(old as i64);
    Ok(())
}

fn getbit(ctx: &mut Ctx) -> Result<(), Error> {
    let offset = bit_offset(ctx, &ctx.args[2], None)?;
    let bit = match read_string(ctx.srv, &ctx.args[1], ctx.now)? {
        Some(v) => bits::get_bit(&v.as_bytes().unwrap_or_default(), offset),
        None => false,
    };
    ctx.out.int(bit as i64);
    Ok(())
}

/// `BIT` or `BYTE`.
fn unit_arg(b: &[u8]) -> Result<Unit, Error> {
    if is(b, "bit") {
        Ok(Unit::Bit)
    } else if is(b, "byte") {
        Ok(Unit::Byte)
    } else {
        Err(Error::Syntax)
    }
}

fn bitcount(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    // Redis 7.0 looks the key up before it reads the range: a missing key counts 0 whatever
    // the other arguments are.
    let Some(v) = read_string(ctx.srv, &args[1], ctx.now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let range = match args.len() {
        2 => None,
        4 | 5 => {
            let (start, end) = (int_arg(&args[2])?, int_arg(&args[3])?);
            let unit = if args.len() == 5 { unit_arg(&args[4])? } else { Unit::Byte };
            Some((start, end, unit))
        }
        _ => return Err(Error::Syntax),
    };
    let n = bits::bitcount(&v.as_bytes().unwrap_or_default(), range);
    ctx.out.int(n);
    Ok(())
}

fn bitpos(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let bit = match int_arg(&args[2])? {
        0 => false,
        1 => true,
        _ => return err("ERR The bit argument must be 1 or 0."),
    };
    // As in Redis 7.0, a missing key answers before the range is read: it is an endless run
    // of clear bits.
    let Some(v) = read_string(ctx.srv, &args[1], ctx.now)? else {
        ctx.out.int(if bit { -1 } else { 0 });
        return Ok(());
    };
    let (mut start, mut end, mut unit) = (None, None, Unit::Byte);
    match args.len() {
        3 => {}
        4..=6 => {
            start = Some(int_arg(&args[3])?);
            if args.len() == 6 {
                unit = unit_arg(&args[5])?;
            }
            if args.len() >= 5 {
                end = Some(int_arg(&args[4])?);
            }
        }
        _ => return Err(Error::Syntax),
    }
    let pos = bits::bitpos(&v.as_bytes().unwrap_or_default(), bit, start, end, unit);
    ctx.out.int(pos);
    Ok(())
}

fn bitop(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let op = match &args[1] {
        o if is(o, "and") => BitOp::And,
        o if is(o, "or") => BitOp::Or,
        o if is(o, "xor") => BitOp::Xor,
        o if is(o, "not") => BitOp::Not,
        _ => return Err(Error::Syntax),
    };
    if op == BitOp::Not && args.len() != 4 {
        return err("ERR BITOP NOT must be called with a single source key.");
    }
    // First the lookups proper (expiry, hit/miss counts, type checks, in argument order),
    // then the values are borrowed all at once rather than copied.
    for key in &args[3..] {
        read_string(ctx.srv, key, ctx.now)?;
    }
    let db = &ctx.srv.db;
    let sources: Vec<_> =
        args[3..].iter().map(|k| db.peek(k).and_then(|e| e.value.as_bytes()).unwrap_or_default()).collect();
    let refs: Vec<&[u8]> = sources.iter().map(|s| &s[..]).collect();
    let result = bits::bitop(op, &refs);
    let len = result.len();
    let dest = &args[2];
    if len > 0 {
        // Stored as a fresh raw string: any old value and TTL of the destination go.
        ctx.srv.db.set(dest, Value::Growable(Box::new(result)), Some(0));
        ctx.srv.dirty += 1;
        crate::server::notify::notify(ctx.srv, crate::server::notify::STRING, "set", dest);
    } else if ctx.srv.db.remove(dest).is_some() {
        ctx.srv.dirty += 1;
        crate::server::notify::notify(ctx.srv, crate::server::notify::GENERIC, "del", dest);
    }
    ctx.out.int(len as i64);
    Ok(())
}

/// One parsed BITFIELD operation.
enum FieldOp {
    Get(FieldType, u64),
    Write(FieldType, u64, FieldWrite, Overflow),
}

/// `i1`..`i64` or `u1`..`u63`.
fn field_type(b: &[u8]) -> Result<FieldType, Error> {
    let bad = || Error::Msg(BAD_TYPE.into());
    let signed = match b.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(bad()),
    };
    let bits = canonical_int(&b[1..]).ok_or_else(bad)?;
    let max = if signed { 64 } else { 63 };
    if !(1..=max).contains(&bits) {
        return Err(bad());
    }
    Ok(FieldType { signed, bits: bits as u32 })
}

/// Parses every operation before anything runs, as Redis does (an error runs nothing).
fn parse_field_ops(ctx: &Ctx) -> Result<Vec<FieldOp>, Error> {
    let args = ctx.args;
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < args.len() {
        let remaining = args.len() - j - 1;
        let sub = &args[j];
        if is(sub, "overflow") && remaining >= 1 {
            let kind = &args[j + 1];
            overflow = if is(kind, "wrap") {
                Overflow::Wrap
            } else if is(kind, "sat") {
                Overflow::Sat
            } else if is(kind, "fail") {
                Overflow::Fail
            } else {
                return err("ERR Invalid OVERFLOW type specified");
            };
            j += 2;
            continue;
        }
        let get = is(sub, "get") && remaining >= 2;
        let set = is(sub, "set") && remaining >= 3;
        let incr = is(sub, "incrby") && remaining >= 3;
        if !(get || set || incr) {
            return Err(Error::Syntax);
        }
        let ty = field_type(&args[j + 1])?;
        let offset = bit_offset(ctx, &args[j + 2], Some(ty.bits))?;
        if get {
            ops.push(FieldOp::Get(ty, offset));
            j += 3;
            continue;
        }
        let value = int_arg(&args[j + 3])?;
        let write = if set { FieldWrite::Set(value) } else { FieldWrite::IncrBy(value) };
        ops.push(FieldOp::Write(ty, offset, write, overflow));
        j += 4;
    }
    Ok(ops)
}

fn bitfield(ctx: &mut Ctx) -> Result<(), Error> {
    bitfield_generic(ctx, false)
}

fn bitfield_ro(ctx: &mut Ctx) -> Result<(), Error> {
    bitfield_generic(ctx, true)
}

fn bitfield_generic(ctx: &mut Ctx, read_only: bool) -> Result<(), Error> {
    let ops = parse_field_ops(ctx)?;
    let highest = ops
        .iter()
        .filter_map(|op| match op {
            FieldOp::Write(ty, offset, ..) => Some(offset + ty.bits as u64 - 1),
            FieldOp::Get(..) => None,
        })
        .max();
    let key = &ctx.args[1];
    let Some(highest) = highest else {
        // Only reads: the key is looked up for reading and never created.
        let bytes = read_string(ctx.srv, key, ctx.now)?.and_then(Value::as_bytes).unwrap_or_default();
        ctx.out.array(ops.len());
        for op in &ops {
            if let FieldOp::Get(ty, offset) = op {
                ctx.out.int(bits::read_field(&bytes, *offset, *ty));
            }
        }
        return Ok(());
    };
    if read_only {
        return err("ERR BITFIELD_RO only supports the GET subcommand");
    }
    // The string grows to the farthest field written even when every write then fails.
    let (buf, grew) = string_for_bits(ctx.srv, key, ctx.now, highest)?;
    let mut changes = 0u64;
    ctx.out.array(ops.len());
    for op in &ops {
        match *op {
            FieldOp::Get(ty, offset) => ctx.out.int(bits::read_field(buf, offset, ty)),
            FieldOp::Write(ty, offset, write, overflow) => {
                let (reply, changed) = bits::write_field(buf, offset, ty, write, overflow);
                match reply {
                    Some(n) => {
                        changes += (grew || changed) as u64;
                        ctx.out.int(n);
                    }
                    None => ctx.out.null(),
                }
            }
        }
    }
    ctx.srv.dirty += changes;
    if changes > 0 {
        crate::server::notify::notify(ctx.srv, crate::server::notify::STRING, "setbit", &ctx.args[1]);
    }
    Ok(())
}
