//! SORT and SORT_RO over lists, sets and sorted sets, as Redis 7.0's sortCommandGeneric: the
//! elements are loaded (BY nosort takes a list's or sorted set's own order, LIMIT cutting the
//! range directly), weighed by the element or the key a BY pattern names, sorted, then
//! replied or stored as a list, each element replaced by the GET patterns' values.

mod options;
mod order;

use crate::keyspace::{Db, KeyBuf, Value};
use crate::server::Server;

use options::{Context, SortOptions};
use order::{Item, Mode, Target};

use super::{Ctx, Error, Handler};

pub fn register(h: &mut Vec<(&'static str, Handler)>) {
    h.extend([("sort", sort as Handler), ("sort_ro", sort_ro)]);
}

fn sort(ctx: &mut Ctx) -> Result<(), Error> {
    sort_generic(ctx, false)
}

fn sort_ro(ctx: &mut Ctx) -> Result<(), Error> {
    sort_generic(ctx, true)
}

/// Whether the client may read any key, which BY and GET patterns need.
fn full_key_access(ctx: &Ctx) -> bool {
    let acl = &ctx.srv.acl;
    let user = &ctx.client.user;
    if ctx.client.is_master || acl.permits_all(user) {
        return true;
    }
    let args: Vec<&[u8]> = ctx.args.iter().map(|a| &a[..]).collect();
    acl.reads_all_keys_for(user, &args)
}

/// The elements SORT works on, and whether they are already the window LIMIT selects.
struct Loaded {
    elems: Vec<Vec<u8>>,
    windowed: bool,
}

fn sort_generic(ctx: &mut Ctx, readonly: bool) -> Result<(), Error> {
    let args = ctx.args;
    let cx = Context { readonly, cluster: ctx.srv.cluster.is_some(), full_key_access: full_key_access(ctx) };
    let mut o = options::parse(args, cx)?;
    let (db, now) = (&mut ctx.srv.db, ctx.now);
    let kind = match db.get(&args[1], now).map(|e| &e.value) {
        None => None,
        Some(Value::List(_)) => Some(Kind::List),
        Some(Value::Set(_)) => Some(Kind::Set),
        Some(Value::ZSet(_)) => Some(Kind::ZSet),
        Some(_) => return Err(Error::WrongType),
    };
    // A set has no order of its own: replies must not depend on its layout when they are
    // stored or seen by a script, so BY nosort becomes an alphabetic sort there.
    if o.dontsort && kind == Some(Kind::Set) && (o.store.is_some() || crate::scripting::script_running()) {
        o.dontsort = false;
        o.alpha = true;
        o.by = None;
    }
    let len = db.peek(&args[1]).map_or(0, |e| value_len(&e.value));
    let (mut start, mut end) = order::window(o.offset, o.count, len);
    let loaded = load(db, now, &args[1], &o, start, end);
    // Pattern lookups below count as reads of their own (hits, misses, keymiss).
    if loaded.windowed {
        end -= start;
        start = 0;
    }
    let mut items: Vec<Item> = loaded.elems.into_iter().map(|elem| Item { elem, score: 0.0, by_value: None }).collect();
    if !o.dontsort {
        let mut bad_score = false;
        for it in &mut items {
            let weight = match o.by {
                Some(p) => match lookup(ctx.srv, now, p, &it.elem) {
                    Some(w) => w,
                    None => continue,
                },
                None => it.elem.clone(),
            };
            if o.alpha {
                if o.by.is_some() {
                    it.by_value = Some(weight);
                }
            } else {
                match order::score(&weight) {
                    Some(s) => it.score = s,
                    None => bad_score = true,
                }
            }
        }
        if bad_score {
            return Err(Error::Msg("ERR One or more scores can't be converted into double".into()));
        }
        let mode = Mode { alpha: o.alpha, desc: o.desc, by_pattern: o.by.is_some(), store: o.store.is_some() };
        // A stable sort, as glibc's qsort (a merge sort) is.
        items.sort_by(|a, b| order::compare(a, b, mode));
    }
    let window = if end >= start { &items[start as usize..=end as usize] } else { &[][..] };
    match o.store {
        None => reply(ctx, &o, window),
        Some(dst) => store(ctx, &o, window, dst),
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    List,
    Set,
    ZSet,
}

fn value_len(v: &Value) -> usize {
    match v {
        Value::List(l) => l.len(),
        Value::Set(s) => s.len(),
        Value::ZSet(z) => z.len(),
        _ => 0,
    }
}

/// Loads the elements: with BY nosort a list or sorted set gives just the LIMIT window, in its
/// own order (reversed by DESC); otherwise everything.
fn load(db: &mut Db, now: i64, key: &[u8], o: &SortOptions, start: i64, end: i64) -> Loaded {
    let Some(entry) = db.get(key, now) else { return Loaded { elems: Vec::new(), windowed: false } };
    let len = value_len(&entry.value) as i64;
    let windowed = o.dontsort && (start != 0 || end != len - 1);
    let (from, to) = if o.dontsort { (start, end) } else { (0, len - 1) };
    let span = |len: i64| if to >= from { (from as usize, (to - from + 1) as usize) } else { (len as usize, 0) };
    let elems = match &mut entry.value {
        Value::List(l) if o.dontsort => {
            let (skip, take) = span(len);
            if o.desc {
                l.iter().rev().skip(skip).take(take).map(|e| e.to_vec()).collect()
            } else {
                l.iter().skip(skip).take(take).map(|e| e.to_vec()).collect()
            }
        }
        Value::List(l) => l.iter().map(|e: &KeyBuf| e.to_vec()).collect(),
        Value::Set(s) => s.members(),
        Value::ZSet(z) => {
            // Redis turns a listpack sorted set into a skip list before sorting it.
            z.convert_to_skiplist();
            if o.dontsort {
                let (skip, take) = span(len);
                if take == 0 {
                    Vec::new()
                } else {
                    z.range_by_rank(skip, skip + take - 1, o.desc).into_iter().map(|(m, _)| m).collect()
                }
            } else {
                z.iter().map(|(m, _)| m.to_vec()).collect()
            }
        }
        _ => Vec::new(),
    };
    Loaded { elems, windowed: windowed && matches!(entry.value, Value::List(_) | Value::ZSet(_)) }
}

/// The value a BY/GET pattern names for `elem` (lookupKeyByPattern): a string key or a hash
/// field; anything else, or a missing key, names nothing. The key is looked up as a read
/// (lookupKeyRead): it counts as a hit or a miss.
fn lookup(srv: &mut Server, now: i64, pattern: &[u8], elem: &[u8]) -> Option<Vec<u8>> {
    use crate::server::notify::lookup_read;
    match order::target(pattern, elem) {
        Target::Itself => Some(elem.to_vec()),
        Target::Nothing => None,
        Target::Key(k) => lookup_read(srv, &k, now)?.value.as_bytes().map(|b| b.into_owned()),
        Target::Field(k, f) => match &lookup_read(srv, &k, now)?.value {
            Value::Hash(h) => h.get(f).map(<[u8]>::to_vec),
            _ => None,
        },
    }
}

fn reply(ctx: &mut Ctx, o: &SortOptions, window: &[Item]) {
    let per = o.gets.len().max(1);
    ctx.out.array(window.len() * per);
    for it in window {
        if o.gets.is_empty() {
            ctx.out.bulk(&it.elem);
        }
        for p in &o.gets {
            match lookup(ctx.srv, ctx.now, p, &it.elem) {
                Some(v) => ctx.out.bulk(&v),
                None => ctx.out.null(),
            }
        }
    }
}

/// STORE: the result replaces `dst` as a list (GET values missing become empty strings); an
/// empty result deletes it.
fn store(ctx: &mut Ctx, o: &SortOptions, window: &[Item], dst: &[u8]) {
    let mut list = std::collections::VecDeque::with_capacity(window.len() * o.gets.len().max(1));
    for it in window {
        if o.gets.is_empty() {
            list.push_back(KeyBuf::new(&it.elem));
        }
        for p in &o.gets {
            let v = lookup(ctx.srv, ctx.now, p, &it.elem).unwrap_or_default();
            list.push_back(KeyBuf::new(&v));
        }
    }
    let n = list.len();
    if n > 0 {
        ctx.srv.db.set(dst, Value::List(Box::new(list)), Some(0));
        crate::server::notify::notify(ctx.srv, crate::server::notify::LIST, "sortstore", dst);
        ctx.srv.key_ready(dst);
        ctx.srv.dirty += n as u64;
    } else if ctx.srv.db.get(dst, ctx.now).is_some() {
        ctx.srv.db.remove(dst);
        crate::server::notify::notify(ctx.srv, crate::server::notify::GENERIC, "del", dst);
        ctx.srv.dirty += 1;
    }
    ctx.out.int(n as i64);
}
