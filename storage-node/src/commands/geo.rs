//! Geo commands (Redis's `geo.c`) on sorted sets scored by 52-bit geohashes: GEOADD is a ZADD
//! with computed scores (and is propagated as that ZADD, as Redis does), GEOPOS, GEODIST and
//! GEOHASH decode scores, and GEORADIUS*, GEOSEARCH and GEOSEARCHSTORE scan the cells
//! `keyspace::geohash` plans. The arithmetic lives there; this file parses and replies.

use bytes::Bytes;
use protocol::Proto;

use super::zset::{store_result, zadd};
use super::{arg_f64_strict, arg_i64, err, get_zset, is, Ctx, Error, Handler};
use crate::keyspace::geohash::{self, Extent, Shape};
use crate::keyspace::pqsort::pqsort;
use crate::keyspace::skiplist::ScoreRange;
use crate::keyspace::zset::ZSetVal;

pub fn register(h: &mut Vec<(&'static str, Handler)>) {
    h.extend([
        ("geoadd", geoadd as Handler),
        ("geopos", geopos),
        ("geodist", geodist),
        ("geohash", geohash_cmd),
        ("georadius", georadius),
        ("georadius_ro", georadius_ro),
        ("georadiusbymember", georadiusbymember),
        ("georadiusbymember_ro", georadiusbymember_ro),
        ("geosearch", geosearch),
        ("geosearchstore", geosearchstore),
    ]);
}

/// Parses a longitude/latitude pair and checks GEOADD's limits.
fn lon_lat(lon: &[u8], lat: &[u8]) -> Result<(f64, f64), Error> {
    let (lon, lat) = (arg_f64_strict(lon)?, arg_f64_strict(lat)?);
    if !geohash::valid_lon_lat(lon, lat) {
        return err(format!("ERR invalid longitude,latitude pair {lon:.6},{lat:.6}"));
    }
    Ok((lon, lat))
}

/// Metres per unit (`m`, `km`, `ft`, `mi`, in any case).
fn unit(b: &[u8]) -> Result<f64, Error> {
    match () {
        _ if is(b, "m") => Ok(1.0),
        _ if is(b, "km") => Ok(1000.0),
        _ if is(b, "ft") => Ok(0.3048),
        _ if is(b, "mi") => Ok(1609.34),
        _ => err("ERR unsupported unit provided. please use M, KM, FT, MI"),
    }
}

/// `radius unit`: the radius (in its unit) and the unit's metres.
fn radius(r: &[u8], u: &[u8]) -> Result<(Extent, f64), Error> {
    let r = arg_f64_strict(r).map_err(|_| Error::Msg("ERR need numeric radius".into()))?;
    if r < 0.0 {
        return err("ERR radius cannot be negative");
    }
    Ok((Extent::Radius(r), unit(u)?))
}

/// `width height unit`.
fn bybox(w: &[u8], h: &[u8], u: &[u8]) -> Result<(Extent, f64), Error> {
    let width = arg_f64_strict(w).map_err(|_| Error::Msg("ERR need numeric width".into()))?;
    let height = arg_f64_strict(h).map_err(|_| Error::Msg("ERR need numeric height".into()))?;
    if height < 0.0 || width < 0.0 {
        return err("ERR height or width cannot be negative");
    }
    Ok((Extent::Box { width, height }, unit(u)?))
}

/// A coordinate as Redis's `addReplyHumanLongDouble` sends it: a bulk string in RESP2, a
/// double in RESP3.
fn human_double(ctx: &mut Ctx, d: f64) {
    let s = geohash::format_coord(d);
    if ctx.out.proto == Proto::Resp3 {
        ctx.out.raw(format!(",{s}\r\n").as_bytes());
    } else {
        ctx.out.bulk(s.as_bytes());
    }
}

/// GEOADD key [NX|XX] [CH] lon lat member ...: runs ZADD with the cells' scores.
fn geoadd(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let (mut at, mut nx, mut xx) = (2, false, false);
    while at < args.len() {
        let a = &args[at];
        match () {
            _ if is(a, "nx") => nx = true,
            _ if is(a, "xx") => xx = true,
            _ if is(a, "ch") => {}
            _ => break,
        }
        at += 1;
    }
    if !(args.len() - at).is_multiple_of(3) || (nx && xx) {
        return Err(Error::Syntax);
    }
    let mut zargs: Vec<Bytes> = Vec::with_capacity(at + (args.len() - at) / 3 * 2);
    zargs.push(Bytes::from_static(b"zadd"));
    zargs.extend(args[1..at].iter().cloned());
    for triple in args[at..].chunks(3) {
        let (lon, lat) = lon_lat(&triple[0], &triple[1])?;
        let score = geohash::score_of(lon, lat).unwrap_or(0);
        zargs.push(Bytes::from(score.to_string()));
        zargs.push(triple[2].clone());
    }
    let dirty = ctx.srv.dirty;
    let mut inner =
        Ctx { srv: &mut *ctx.srv, client: &mut *ctx.client, args: &zargs, out: &mut *ctx.out, now: ctx.now };
    zadd(&mut inner)?;
    if ctx.srv.dirty != dirty {
        ctx.propagate_as(vec![zargs]);
    }
    Ok(())
}

/// GEOPOS key member ...
fn geopos(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let scores: Vec<Option<f64>> = {
        let z = get_zset(&mut ctx.srv.db, &args[1], ctx.now)?;
        args[2..].iter().map(|m| z.as_ref().and_then(|z| z.score(m))).collect()
    };
    ctx.out.array(scores.len());
    for s in scores {
        match s {
            Some(s) => {
                let (lon, lat) = geohash::decode_score(s);
                ctx.out.array(2);
                human_double(ctx, lon);
                human_double(ctx, lat);
            }
            None => ctx.out.null_array(),
        }
    }
    Ok(())
}

/// GEODIST key member1 member2 [unit]
fn geodist(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let to_meter = match args.len() {
        4 => 1.0,
        5 => unit(&args[4])?,
        _ => return Err(Error::Syntax),
    };
    let scores =
        get_zset(&mut ctx.srv.db, &args[1], ctx.now)?.and_then(|z| Some((z.score(&args[2])?, z.score(&args[3])?)));
    match scores {
        Some((a, b)) => {
            let ((lon1, lat1), (lon2, lat2)) = (geohash::decode_score(a), geohash::decode_score(b));
            let d = geohash::distance(lon1, lat1, lon2, lat2) / to_meter;
            ctx.out.bulk(geohash::format_distance(d).as_bytes());
        }
        None => ctx.out.null(),
    }
    Ok(())
}

/// GEOHASH key member ...
fn geohash_cmd(ctx: &mut Ctx) -> Result<(), Error> {
    let args = ctx.args;
    let hashes: Vec<Option<String>> = {
        let z = get_zset(&mut ctx.srv.db, &args[1], ctx.now)?;
        args[2..].iter().map(|m| z.as_ref().and_then(|z| z.score(m)).map(geohash::geohash_string)).collect()
    };
    ctx.out.array(hashes.len());
    for h in hashes {
        match h {
            Some(h) => ctx.out.bulk(h.as_bytes()),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// Which search command runs (Redis's `georadiusGeneric` flags).
#[derive(Clone, Copy, PartialEq)]
enum Form {
    /// GEORADIUS[_RO] key lon lat radius unit ...
    Radius { store_ok: bool },
    /// GEORADIUSBYMEMBER[_RO] key member radius unit ...
    ByMember { store_ok: bool },
    /// GEOSEARCH key ...
    Search,
    /// GEOSEARCHSTORE dst key ...
    SearchStore,
}

#[derive(Clone, Copy, PartialEq)]
enum Sort {
    None,
    Asc,
    Desc,
}

/// A parsed search request.
struct Query {
    centre: Option<(f64, f64)>,
    extent: Option<(Extent, f64)>,
    withdist: bool,
    withhash: bool,
    withcoord: bool,
    sort: Sort,
    any: bool,
    /// 0 for no COUNT.
    count: usize,
    store: Option<Bytes>,
    storedist: bool,
}

/// A member found by a search.
struct Point {
    member: Vec<u8>,
    lon: f64,
    lat: f64,
    /// Metres from the centre.
    dist: f64,
    score: f64,
}

/// The position of a member of `z`.
fn member_pos(z: &ZSetVal, m: &[u8]) -> Result<(f64, f64), Error> {
    match z.score(m) {
        Some(s) => Ok(geohash::decode_score(s)),
        None => err("ERR could not decode requested zset member"),
    }
}

/// Parses a search as Redis does, in its order: the fixed arguments, then the options left to
/// right (a missing source key skips the member lookups but not the checks).
fn parse(args: &[Bytes], form: Form, z: Option<&ZSetVal>) -> Result<Query, Error> {
    let mut q = Query {
        centre: None,
        extent: None,
        withdist: false,
        withhash: false,
        withcoord: false,
        sort: Sort::None,
        any: false,
        count: 0,
        store: None,
        storedist: false,
    };
    let (base, store_ok, search) = match form {
        Form::Radius { store_ok } => {
            q.centre = Some(lon_lat(&args[2], &args[3])?);
            q.extent = Some(radius(&args[4], &args[5])?);
            (6, store_ok, false)
        }
        Form::ByMember { store_ok } => {
            if let Some(z) = z {
                q.centre = Some(member_pos(z, &args[2])?);
                q.extent = Some(radius(&args[3], &args[4])?);
            }
            (5, store_ok, false)
        }
        Form::Search => (2, false, true),
        Form::SearchStore => {
            q.store = Some(args[1].clone());
            (3, false, true)
        }
    };
    let (mut frommember, mut fromloc, mut byradius, mut bybox_seen) = (false, false, false, false);
    let mut i = base;
    while i < args.len() {
        let a = &args[i];
        let left = args.len() - i - 1;
        match () {
            _ if is(a, "withdist") => q.withdist = true,
            _ if is(a, "withhash") => q.withhash = true,
            _ if is(a, "withcoord") => q.withcoord = true,
            _ if is(a, "any") => q.any = true,
            _ if is(a, "asc") => q.sort = Sort::Asc,
            _ if is(a, "desc") => q.sort = Sort::Desc,
            _ if is(a, "count") && left >= 1 => {
                let n = arg_i64(&args[i + 1])?;
                if n <= 0 {
                    return err("ERR COUNT must be > 0");
                }
                q.count = n as usize;
                i += 1;
            }
            _ if (is(a, "store") || is(a, "storedist")) && left >= 1 && store_ok => {
                q.store = Some(args[i + 1].clone());
                q.storedist = is(a, "storedist");
                i += 1;
            }
            _ if is(a, "storedist") && form == Form::SearchStore => q.storedist = true,
            _ if is(a, "frommember") && left >= 1 && search && !fromloc => {
                if let Some(z) = z {
                    q.centre = Some(member_pos(z, &args[i + 1])?);
                }
                frommember = true;
                i += 1;
            }
            _ if is(a, "fromlonlat") && left >= 2 && search && !frommember => {
                q.centre = Some(lon_lat(&args[i + 1], &args[i + 2])?);
                fromloc = true;
                i += 2;
            }
            _ if is(a, "byradius") && left >= 2 && search && !bybox_seen => {
                q.extent = Some(radius(&args[i + 1], &args[i + 2])?);
                byradius = true;
                i += 2;
            }
            _ if is(a, "bybox") && left >= 3 && search && !byradius => {
                q.extent = Some(bybox(&args[i + 1], &args[i + 2], &args[i + 3])?);
                bybox_seen = true;
                i += 3;
            }
            _ => return Err(Error::Syntax),
        }
        i += 1;
    }
    if q.store.is_some() && (q.withdist || q.withhash || q.withcoord) {
        let who = if form == Form::SearchStore { "GEOSEARCHSTORE" } else { "STORE option in GEORADIUS" };
        return err(format!("ERR {who} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"));
    }
    // Redis names the command as the client spelled it.
    let name = String::from_utf8_lossy(&args[0]);
    if search && !(frommember || fromloc) {
        return err(format!("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"));
    }
    if search && !(byradius || bybox_seen) {
        return err(format!("ERR exactly one of BYRADIUS and BYBOX can be specified for {name}"));
    }
    if q.any && q.count == 0 {
        return err("ERR the ANY argument requires COUNT argument");
    }
    Ok(q)
}

/// The members inside `shape`, scanning Redis's cells in its order; with `limit` (COUNT ANY)
/// the scan stops once that many were found.
fn collect(z: &ZSetVal, shape: &Shape, limit: usize) -> Vec<Point> {
    let mut found = Vec::new();
    for (min, max) in shape.scan_ranges() {
        if limit > 0 && found.len() >= limit {
            break;
        }
        let r = ScoreRange { min, max, minex: false, maxex: true };
        z.visit_score_range(&r, |m, score| {
            let (lon, lat) = geohash::decode_score(score);
            if let Some(dist) = shape.contains(lon, lat) {
                found.push(Point { member: m.to_vec(), lon, lat, dist, score });
            }
            !(limit > 0 && found.len() >= limit)
        });
    }
    found
}

/// Redis's comparator: by distance only, so ties keep whatever order the sort leaves them in.
fn by_dist(a: &Point, b: &Point) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    if a.dist > b.dist {
        Greater
    } else if a.dist == b.dist {
        Equal
    } else {
        Less
    }
}

/// Orders the points as Redis does: a full sort with glibc's qsort (a stable merge sort)
/// when every point is returned, its partial quicksort when COUNT cuts the list.
fn order(points: &mut [Point], sort: Sort, returned: usize) {
    let cmp = |a: &Point, b: &Point| if sort == Sort::Desc { by_dist(a, b).reverse() } else { by_dist(a, b) };
    if sort == Sort::None || points.is_empty() {
        return;
    }
    if returned == points.len() {
        points.sort_by(cmp);
    } else {
        pqsort(points, cmp, 0, returned - 1);
    }
}

fn search(ctx: &mut Ctx, form: Form) -> Result<(), Error> {
    let args = ctx.args;
    let src = &args[if form == Form::SearchStore { 2 } else { 1 }];
    let (q, found) = {
        let z = get_zset(&mut ctx.srv.db, src, ctx.now)?.map(|z| &*z);
        let mut q = parse(args, form, z)?;
        // COUNT without an order means the nearest ones (not so with ANY).
        if q.count != 0 && q.sort == Sort::None && !q.any {
            q.sort = Sort::Asc;
        }
        let found = match (z, q.centre, q.extent) {
            (Some(z), Some((lon, lat)), Some((extent, conversion))) => {
                let shape = Shape { lon, lat, extent, conversion };
                Some(collect(z, &shape, if q.any { q.count } else { 0 }))
            }
            _ => None,
        };
        (q, found)
    };
    let Some(mut points) = found else {
        // No source key: the destination goes, the reply is empty.
        match &q.store {
            Some(dst) => {
                if ctx.srv.db.remove(dst).is_some() {
                    ctx.srv.dirty += 1;
                    crate::server::notify::notify(ctx.srv, crate::server::notify::GENERIC, "del", dst);
                }
                ctx.out.int(0);
            }
            None => ctx.out.array(0),
        }
        return Ok(());
    };
    let returned = if q.count == 0 { points.len() } else { points.len().min(q.count) };
    order(&mut points, q.sort, returned);
    points.truncate(returned);
    let conversion = q.extent.map_or(1.0, |(_, c)| c);
    if let Some(dst) = &q.store {
        if points.is_empty() {
            if ctx.srv.db.remove(dst).is_some() {
                ctx.srv.dirty += 1;
                crate::server::notify::notify(ctx.srv, crate::server::notify::GENERIC, "del", dst);
            }
        } else {
            let items: Vec<(Vec<u8>, f64)> = points
                .into_iter()
                .map(|p| {
                    let score = if q.storedist { p.dist / conversion } else { p.score };
                    (p.member, score)
                })
                .collect();
            let search = super::is(&ctx.args[0], "geosearchstore");
            store_result(ctx, dst, &items, if search { "geosearchstore" } else { "georadiusstore" });
        }
        ctx.out.int(returned as i64);
        return Ok(());
    }
    let extras = q.withdist as usize + q.withhash as usize + q.withcoord as usize;
    ctx.out.array(points.len());
    for p in &points {
        if extras > 0 {
            ctx.out.array(extras + 1);
        }
        ctx.out.bulk(&p.member);
        if q.withdist {
            ctx.out.bulk(geohash::format_distance(p.dist / conversion).as_bytes());
        }
        if q.withhash {
            ctx.out.int(p.score as i64);
        }
        if q.withcoord {
            ctx.out.array(2);
            human_double(ctx, p.lon);
            human_double(ctx, p.lat);
        }
    }
    Ok(())
}

fn georadius(ctx: &mut Ctx) -> Result<(), Error> {
    search(ctx, Form::Radius { store_ok: true })
}
fn georadius_ro(ctx: &mut Ctx) -> Result<(), Error> {
    search(ctx, Form::Radius { store_ok: false })
}
fn georadiusbymember(ctx: &mut Ctx) -> Result<(), Error> {
    search(ctx, Form::ByMember { store_ok: true })
}
fn georadiusbymember_ro(ctx: &mut Ctx) -> Result<(), Error> {
    search(ctx, Form::ByMember { store_ok: false })
}
fn geosearch(ctx: &mut Ctx) -> Result<(), Error> {
    search(ctx, Form::Search)
}
fn geosearchstore(ctx: &mut Ctx) -> Result<(), Error> {
    search(ctx, Form::SearchStore)
}
