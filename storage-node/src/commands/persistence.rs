//! Persistence commands: SAVE, BGSAVE, BGREWRITEAOF (the work is in `crate::persist`).

use super::{err, is, Ctx, Error, Handler};
use crate::persist;

pub fn register(h: &mut Vec<(&'static str, Handler)>) {
    h.extend([("save", save as Handler), ("bgsave", bgsave), ("bgrewriteaof", bgrewriteaof)]);
}

fn save(ctx: &mut Ctx) -> Result<(), Error> {
    if ctx.srv.persist.saving() {
        return err("ERR Background save already in progress");
    }
    persist::save(ctx.srv).map_err(|_| Error::Msg("ERR".into()))?;
    ctx.out.ok();
    Ok(())
}

fn bgsave(ctx: &mut Ctx) -> Result<(), Error> {
    let schedule = match ctx.args.len() {
        1 => false,
        2 if is(&ctx.args[1], "schedule") => true,
        _ => return Err(Error::Syntax),
    };
    let p = &mut ctx.srv.persist;
    if p.saving() {
        return err("ERR Background save already in progress");
    }
    if p.child.is_some() {
        if !schedule {
            return err("ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.");
        }
        p.bgsave_scheduled = true;
        ctx.out.simple("Background saving scheduled");
        return Ok(());
    }
    persist::bgsave(ctx.srv).map_err(|e| Error::Msg(format!("ERR {e}")))?;
    ctx.out.simple("Background saving started");
    Ok(())
}

fn bgrewriteaof(ctx: &mut Ctx) -> Result<(), Error> {
    let p = &mut ctx.srv.persist;
    if p.aof.is_none() {
        // Redis 7.0 would write an AOF nobody appends to; slotgate rewrites only a live AOF.
        return err("ERR BGREWRITEAOF needs appendonly yes");
    }
    if p.rewriting() {
        return err("ERR Background append only file rewriting already in progress");
    }
    if p.child.is_some() {
        p.rewrite_scheduled = true;
        ctx.out.simple("Background append only file rewriting scheduled");
        return Ok(());
    }
    persist::bgrewriteaof(ctx.srv).map_err(|e| Error::Msg(format!("ERR {e}")))?;
    ctx.out.simple("Background append only file rewriting started");
    Ok(())
}
