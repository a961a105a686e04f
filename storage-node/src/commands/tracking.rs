//! CLIENT TRACKING, CLIENT CACHING, CLIENT TRACKINGINFO and CLIENT GETREDIR: the client-side
//! caching subcommands of Redis 7.0's `clientCommand`, with its checks in its order. The table
//! they drive lives in `server::tracking`.

use bytes::Bytes;

use super::{arg_i64, err, is, Ctx, Error, Handler};
use crate::server::tracking::{self, Track};

pub fn register(h: &mut Vec<(&'static str, Handler)>) {
    h.extend([
        ("client|tracking", client_tracking as Handler),
        ("client|caching", client_caching),
        ("client|trackinginfo", client_trackinginfo),
        ("client|getredir", client_getredir),
    ]);
}

/// CLIENT TRACKING ON|OFF [REDIRECT id] [BCAST] [PREFIX p ...] [OPTIN] [OPTOUT] [NOLOOP].
fn client_tracking(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let mut opts = Track::default();
    let mut prefixes: Vec<Bytes> = Vec::new();
    // Every option is parsed (and REDIRECT checked) before ON/OFF is looked at, as in Redis.
    let mut j = 3;
    while j < args.len() {
        let more = j + 1 < args.len();
        let a = &args[j];
        if is(a, "redirect") && more {
            j += 1;
            if opts.redirect != 0 {
                return err("ERR A client can only redirect to a single other client");
            }
            let id = arg_i64(&args[j])?;
            let exists = id > 0 && (id as u64 == ctx.client.id || ctx.srv.clients.borrow().contains_key(&(id as u64)));
            if !exists {
                return err("ERR The client ID you want redirect to does not exist");
            }
            opts.redirect = id as u64;
        } else if is(a, "bcast") {
            opts.bcast = true;
        } else if is(a, "optin") {
            opts.optin = true;
        } else if is(a, "optout") {
            opts.optout = true;
        } else if is(a, "noloop") {
            opts.noloop = true;
        } else if is(a, "prefix") && more {
            j += 1;
            prefixes.push(args[j].clone());
        } else {
            return Err(Error::Syntax);
        }
        j += 1;
    }
    if is(&args[2], "on") {
        if !opts.bcast && !prefixes.is_empty() {
            return err("ERR PREFIX option requires BCAST mode to be enabled");
        }
        let st = ctx.client.track.get();
        if st.on && st.bcast != opts.bcast {
            return err("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.");
        }
        if opts.bcast && (opts.optin || opts.optout) {
            return err("ERR OPTIN and OPTOUT are not compatible with BCAST");
        }
        if opts.optin && opts.optout {
            return err("ERR You can't specify both OPTIN mode and OPTOUT mode");
        }
        if (opts.optin && st.optout) || (opts.optout && st.optin) {
            return err("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.");
        }
        if opts.bcast {
            if let Some(msg) = tracking::prefix_collision(ctx.srv, ctx.client.id, &prefixes) {
                return err(msg);
            }
        }
        tracking::enable(ctx.srv, ctx.client, opts, &prefixes);
    } else if is(&args[2], "off") {
        let cell = ctx.client.track.clone();
        tracking::disable(ctx.srv, ctx.client.id, &cell);
    } else {
        return Err(Error::Syntax);
    }
    ctx.out.ok();
    Ok(())
}

/// CLIENT CACHING YES|NO: whether the next command's keys are remembered, in OPTIN / OPTOUT
/// mode.
fn client_caching(ctx: &mut Ctx) -> Result<(), Error> {
    let st = ctx.client.track.get();
    if !st.on {
        return err("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled");
    }
    let opt = &ctx.args[2];
    if is(opt, "yes") {
        if !st.optin {
            return err("ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.");
        }
    } else if is(opt, "no") {
        if !st.optout {
            return err("ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.");
        }
    } else {
        return Err(Error::Syntax);
    }
    ctx.client.track.set(Track { caching: true, ..st });
    ctx.out.ok();
    Ok(())
}

/// CLIENT TRACKINGINFO: the flags, the redirection and the prefixes.
fn client_trackinginfo(ctx: &mut Ctx) -> Result<(), Error> {
    let st = ctx.client.track.get();
    let mut flags: Vec<&[u8]> = vec![if st.on { b"on" } else { b"off" }];
    if st.bcast {
        flags.push(b"bcast");
    }
    if st.optin {
        flags.push(b"optin");
        if st.caching {
            flags.push(b"caching-yes");
        }
    }
    if st.optout {
        flags.push(b"optout");
        if st.caching {
            flags.push(b"caching-no");
        }
    }
    if st.noloop {
        flags.push(b"noloop");
    }
    if st.broken_redirect {
        flags.push(b"broken_redirect");
    }
    let prefixes = ctx.srv.tracking.prefixes_of(ctx.client.id);
    let out = &mut *ctx.out;
    out.map(3);
    out.bulk(b"flags");
    out.set(flags.len());
    for f in flags {
        out.bulk(f);
    }
    out.bulk(b"redirect");
    out.int(if st.on { st.redirect as i64 } else { -1 });
    out.bulk(b"prefixes");
    out.array(prefixes.len());
    for p in prefixes {
        out.bulk(&p);
    }
    Ok(())
}

/// CLIENT GETREDIR: the client invalidations go to, 0 for itself, -1 when not tracking.
fn client_getredir(ctx: &mut Ctx) -> Result<(), Error> {
    let st = ctx.client.track.get();
    ctx.out.int(if st.on { st.redirect as i64 } else { -1 });
    Ok(())
}
