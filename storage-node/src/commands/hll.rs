//! HyperLogLog commands on strings in Redis's `HYLL` format: PFADD, PFCOUNT, PFMERGE, PFDEBUG,
//! PFSELFTEST (`pfaddCommand` and friends in Redis's `hyperloglog.c`). The format and the
//! estimator live in `keyspace::hll`; here are the lookups, errors and side effects.

use super::{err, is, Ctx, Error, Handler};
use crate::keyspace::hll::{self, Corrupt, REGISTERS};
use crate::keyspace::Value;
use crate::server::Server;

pub fn register(h: &mut Vec<(&'static str, Handler)>) {
    h.extend([
        ("pfadd", pfadd as Handler),
        ("pfcount", pfcount),
        ("pfmerge", pfmerge),
        ("pfdebug", pfdebug),
        ("pfselftest", pfselftest),
    ]);
}

/// A string that is not an HLL (Redis's text, WRONGTYPE code included).
const NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
/// An HLL whose registers do not decode.
const CORRUPT: &str = "INVALIDOBJ Corrupted HLL object detected";

impl From<Corrupt> for Error {
    fn from(_: Corrupt) -> Error {
        Error::Msg(CORRUPT.into())
    }
}

/// Checks a looked-up value the way `isHLLObjectOrReply` does: other types get the usual
/// WRONGTYPE, strings that are not HLLs (integers included) get NOT_HLL.
fn check(value: &Value) -> Result<(), Error> {
    if !value.is_string() {
        return Err(Error::WrongType);
    }
    if !value.raw_bytes().is_some_and(hll::is_hll) {
        return err(NOT_HLL);
    }
    Ok(())
}

/// An HLL to read (its hit or miss was counted by `server::notify::count_reads`).
fn read<'a>(srv: &'a mut Server, key: &[u8], now: i64) -> Result<Option<&'a [u8]>, Error> {
    let entry = srv.db.get(key, now);
    match entry {
        None => Ok(None),
        Some(e) => {
            check(&e.value)?;
            Ok(e.value.raw_bytes())
        }
    }
}

/// An HLL to modify in place.
fn write<'a>(srv: &'a mut Server, key: &[u8], now: i64) -> Result<Option<&'a mut Vec<u8>>, Error> {
    let entry = srv.db.get(key, now);
    let Some(e) = entry else { return Ok(None) };
    check(&e.value)?;
    // Redis unshares the string here too, so OBJECT ENCODING reports `raw` afterwards.
    Ok(e.value.make_growable())
}

/// The HLL at `key`, created empty (sparse) when missing; true when it was created.
fn write_or_create<'a>(srv: &'a mut Server, key: &[u8], now: i64) -> Result<(&'a mut Vec<u8>, bool), Error> {
    let created = write(srv, key, now)?.is_none();
    if created {
        srv.db.set(key, Value::Growable(Box::new(hll::empty())), Some(0));
    }
    let s = write(srv, key, now)?.ok_or(Error::WrongType)?;
    Ok((s, created))
}

fn sparse_max_bytes(srv: &Server) -> usize {
    usize::try_from(srv.config.compat.hll_sparse_max_bytes).unwrap_or(usize::MAX)
}

fn pfadd(ctx: &mut Ctx) -> Result<(), Error> {
    let max_bytes = sparse_max_bytes(ctx.srv);
    let (s, created) = write_or_create(ctx.srv, &ctx.args[1], ctx.now)?;
    let mut updated = created as u64;
    for ele in &ctx.args[2..] {
        // Registers raised before a corrupt part is met stay raised, as in Redis.
        if hll::add(s, ele, max_bytes)? {
            updated += 1;
        }
    }
    if updated > 0 {
        hll::invalidate_cache(s);
        ctx.srv.dirty += updated;
        crate::server::notify::notify(ctx.srv, crate::server::notify::STRING, "pfadd", &ctx.args[1]);
    }
    ctx.out.int((updated > 0) as i64);
    Ok(())
}

fn pfcount(ctx: &mut Ctx) -> Result<(), Error> {
    let (args, now) = (ctx.args, ctx.now);
    if args.len() > 2 {
        // The union of several HLLs, counted without touching them.
        let mut max = Box::new([0u8; REGISTERS]);
        for key in &args[1..] {
            if let Some(s) = read(ctx.srv, key, now)? {
                hll::merge_into(&mut max, s)?;
            }
        }
        ctx.out.int(hll::count_registers(&max) as i64);
        return Ok(());
    }
    let key = &args[1];
    let Some(s) = write(ctx.srv, key, now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let (card, recomputed) = hll::cardinality(s)?;
    if recomputed {
        // The cached count is part of the string: the change reaches watchers, the AOF and
        // the replicas, as Redis propagates this PFCOUNT.
        ctx.srv.touch_key(key);
        ctx.srv.dirty += 1;
        ctx.propagate_as(vec![args.to_vec()]);
    }
    ctx.out.int(card as i64);
    Ok(())
}

fn pfmerge(ctx: &mut Ctx) -> Result<(), Error> {
    let (args, now) = (ctx.args, ctx.now);
    let max_bytes = sparse_max_bytes(ctx.srv);
    let mut max = Box::new([0u8; REGISTERS]);
    // The destination counts among the sources; a dense source makes the result dense.
    let mut dense = false;
    for key in &args[1..] {
        if let Some(s) = read(ctx.srv, key, now)? {
            dense |= !hll::is_sparse(s);
            hll::merge_into(&mut max, s)?;
        }
    }
    let (s, _) = write_or_create(ctx.srv, &args[1], now)?;
    if dense {
        hll::to_dense(s)?;
    }
    for (index, &v) in max.iter().enumerate() {
        if v != 0 {
            // Redis ignores a failed update here (the destination decoded above).
            let _ = hll::raise(s, index, v, max_bytes);
        }
    }
    hll::invalidate_cache(s);
    ctx.srv.dirty += 1;
    crate::server::notify::notify(ctx.srv, crate::server::notify::STRING, "pfadd", &args[1]);
    ctx.out.ok();
    Ok(())
}

fn pfdebug(ctx: &mut Ctx) -> Result<(), Error> {
    let (sub, key) = (&ctx.args[1], &ctx.args[2]);
    let Some(s) = write(ctx.srv, key, ctx.now)? else {
        return err("ERR The specified key does not exist");
    };
    if is(sub, "getreg") {
        let converted = hll::to_dense(s)?;
        let regs = hll::registers(s);
        if converted {
            // The encoding change is propagated.
            ctx.srv.dirty += 1;
        }
        ctx.out.array(regs.len());
        for r in regs {
            ctx.out.int(r as i64);
        }
    } else if is(sub, "decode") {
        if !hll::is_sparse(s) {
            return err("ERR HLL encoding is not sparse");
        }
        let text = hll::sparse::decode(s);
        ctx.out.bulk(text.as_bytes());
    } else if is(sub, "encoding") {
        ctx.out.simple(if hll::is_sparse(s) { "sparse" } else { "dense" });
    } else if is(sub, "todense") {
        let converted = hll::to_dense(s)?;
        if converted {
            ctx.srv.dirty += 1;
        }
        ctx.out.int(converted as i64);
    } else {
        // Redis prints the name as a C string: it ends at a NUL byte.
        let name = sub.split(|&b| b == 0).next().unwrap_or_default();
        return err(format!("ERR Unknown PFDEBUG subcommand '{}'", String::from_utf8_lossy(name)));
    }
    Ok(())
}

fn pfselftest(ctx: &mut Ctx) -> Result<(), Error> {
    let max_bytes = sparse_max_bytes(ctx.srv);
    match hll::selftest(max_bytes, crate::keyspace::evict::rand) {
        Ok(()) => {
            ctx.out.ok();
            Ok(())
        }
        Err(msg) => err(format!("ERR {msg}")),
    }
}
