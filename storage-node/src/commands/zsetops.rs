//! Sorted-set algebra: ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD. Plain sets
//! count as sorted sets whose members all score 1, as in Redis.

use super::set::card_args;
use super::zset::{reply_pairs, store_result};
use super::{arg_f64, arg_i64, err, is, Ctx, Error, Handler};
use crate::keyspace::Value;

pub fn register(h: &mut Vec<(&'static str, Handler)>) {
    h.extend([
        ("zunion", zunion as Handler),
        ("zinter", zinter),
        ("zdiff", zdiff),
        ("zunionstore", zunionstore),
        ("zinterstore", zinterstore),
        ("zdiffstore", zdiffstore),
        ("zintercard", zintercard),
    ]);
}

#[derive(Clone, Copy, PartialEq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

/// Reads a sorted set or a plain set (members scored 1) as `(member, score)` pairs.
fn load_input(ctx: &mut Ctx, key: &[u8]) -> Result<Vec<(Vec<u8>, f64)>, Error> {
    match ctx.srv.db.get(key, ctx.now).map(|e| &e.value) {
        None => Ok(Vec::new()),
        Some(Value::ZSet(z)) => Ok(z.iter().map(|(m, s)| (m.to_vec(), s)).collect()),
        Some(Value::Set(s)) => Ok(s.members().into_iter().map(|m| (m, 1.0)).collect()),
        Some(_) => Err(Error::WrongType),
    }
}

fn combine(op: SetOp, inputs: Vec<Vec<(Vec<u8>, f64)>>, weights: &[f64], agg: Aggregate) -> Vec<(Vec<u8>, f64)> {
    use std::collections::HashMap;
    let fold = |a: f64, b: f64| {
        let r = match agg {
            Aggregate::Sum => a + b,
            Aggregate::Min => a.min(b),
            Aggregate::Max => a.max(b),
        };
        // inf + -inf is treated as 0, as Redis does.
        if r.is_nan() {
            0.0
        } else {
            r
        }
    };
    let weighted = |s: f64, w: f64| {
        let r = s * w;
        if r.is_nan() {
            0.0
        } else {
            r
        }
    };
    let mut acc: HashMap<Vec<u8>, f64> = HashMap::new();
    let mut order: Vec<Vec<u8>> = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let w = weights.get(i).copied().unwrap_or(1.0);
        match op {
            SetOp::Union => {
                for (m, s) in input {
                    let v = weighted(*s, w);
                    match acc.get_mut(m) {
                        Some(cur) => *cur = fold(*cur, v),
                        None => {
                            acc.insert(m.clone(), v);
                            order.push(m.clone());
                        }
                    }
                }
            }
            SetOp::Inter => {
                if i == 0 {
                    for (m, s) in input {
                        acc.insert(m.clone(), weighted(*s, w));
                        order.push(m.clone());
                    }
                } else {
                    let here: HashMap<&[u8], f64> = input.iter().map(|(m, s)| (&m[..], *s)).collect();
                    order.retain(|m| here.contains_key(&m[..]));
                    for m in &order {
                        if let (Some(cur), Some(s)) = (acc.get_mut(m), here.get(&m[..])) {
                            *cur = fold(*cur, weighted(*s, w));
                        }
                    }
                }
            }
            SetOp::Diff => {
                if i == 0 {
                    for (m, s) in input {
                        acc.insert(m.clone(), *s);
                        order.push(m.clone());
                    }
                } else {
                    let here: std::collections::HashSet<&[u8]> = input.iter().map(|(m, _)| &m[..]).collect();
                    order.retain(|m| !here.contains(&m[..]));
                }
            }
        }
    }
    let mut out: Vec<(Vec<u8>, f64)> = order.into_iter().filter_map(|m| acc.get(&m).map(|s| (m.clone(), *s))).collect();
    out.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal).then_with(|| a.0.cmp(&b.0)));
    out
}

/// ZUNION/ZINTER/ZDIFF and their STORE forms; `at` is the index of numkeys.
fn zsetop(ctx: &mut Ctx, op: SetOp, at: usize, store: bool) -> Result<(), Error> {
    let args = ctx.args;
    let name = String::from_utf8_lossy(&args[0]).to_lowercase();
    let n = arg_i64(&args[at])?;
    if n <= 0 {
        return err(format!("ERR at least 1 input key is needed for '{name}' command"));
    }
    let n = n as usize;
    if at + 1 + n > args.len() {
        return Err(Error::Syntax);
    }
    let keys = &args[at + 1..at + 1 + n];
    let mut weights = Vec::new();
    let mut agg = Aggregate::Sum;
    let mut withscores = false;
    let mut i = at + 1 + n;
    while i < args.len() {
        let a = &args[i];
        if op != SetOp::Diff && is(a, "weights") && i + n < args.len() {
            for w in &args[i + 1..=i + n] {
                weights.push(arg_f64(w).map_err(|_| Error::Msg("ERR weight value is not a float".into()))?);
            }
            i += n;
        } else if op != SetOp::Diff && is(a, "aggregate") && i + 1 < args.len() {
            let v = &args[i + 1];
            agg = if is(v, "sum") {
                Aggregate::Sum
            } else if is(v, "min") {
                Aggregate::Min
            } else if is(v, "max") {
                Aggregate::Max
            } else {
                return Err(Error::Syntax);
            };
            i += 1;
        } else if !store && is(a, "withscores") {
            withscores = true;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    let inputs = keys.iter().map(|k| load_input(ctx, k)).collect::<Result<Vec<_>, _>>()?;
    let result = combine(op, inputs, &weights, agg);
    if store {
        let event = match op {
            SetOp::Union => "zunionstore",
            SetOp::Inter => "zinterstore",
            SetOp::Diff => "zdiffstore",
        };
        store_result(ctx, &args[1], &result, event);
        ctx.out.int(result.len() as i64);
    } else {
        reply_pairs(ctx, &result, withscores);
    }
    Ok(())
}

fn zunion(ctx: &mut Ctx) -> Result<(), Error> {
    zsetop(ctx, SetOp::Union, 1, false)
}
fn zinter(ctx: &mut Ctx) -> Result<(), Error> {
    zsetop(ctx, SetOp::Inter, 1, false)
}
fn zdiff(ctx: &mut Ctx) -> Result<(), Error> {
    zsetop(ctx, SetOp::Diff, 1, false)
}
fn zunionstore(ctx: &mut Ctx) -> Result<(), Error> {
    zsetop(ctx, SetOp::Union, 2, true)
}
fn zinterstore(ctx: &mut Ctx) -> Result<(), Error> {
    zsetop(ctx, SetOp::Inter, 2, true)
}
fn zdiffstore(ctx: &mut Ctx) -> Result<(), Error> {
    zsetop(ctx, SetOp::Diff, 2, true)
}

fn zintercard(ctx: &mut Ctx) -> Result<(), Error> {
    let (keys, limit) = card_args(ctx.args, true)?;
    let inputs = keys.iter().map(|k| load_input(ctx, k)).collect::<Result<Vec<_>, _>>()?;
    let n = combine(SetOp::Inter, inputs, &[], Aggregate::Sum).len().min(limit);
    ctx.out.int(n as i64);
    Ok(())
}
