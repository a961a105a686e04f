//! Redis's conversions between RESP replies and Lua values, both ways, for RESP2 and RESP3.

use mlua::{Lua, Value};
use protocol::{Frame, Reply};

/// The field Redis sets on a `redis.pcall` error table holding a called command's error reply,
/// which errorstats counted already: the script returning it does not count it again.
pub const COUNTED: &str = "ignore_error_stats_update";

/// Converts a command's raw reply into the Lua value `redis.call` returns.
pub fn resp_to_lua(lua: &Lua, raw: &[u8]) -> mlua::Result<Value> {
    // The common single-value replies without building a frame first.
    if let Some(v) = simple_to_lua(lua, raw)? {
        return Ok(v);
    }
    match Frame::parse(raw) {
        Ok(Some((frame, _))) => frame_to_lua(lua, &frame),
        _ => Err(mlua::Error::runtime("internal error: unparsable reply")),
    }
}

/// An integer, bulk string or RESP2 null reply as Lua takes it; None for anything else.
fn simple_to_lua(lua: &Lua, raw: &[u8]) -> mlua::Result<Option<Value>> {
    let Some(body) = raw.strip_suffix(b"\r\n") else { return Ok(None) };
    let parse = |digits: &[u8]| std::str::from_utf8(digits).ok().and_then(|d| d.parse::<i64>().ok());
    Ok(match body.first() {
        Some(b':') if !body.contains(&b'\r') => parse(&body[1..]).map(Value::Integer),
        Some(b'$') => {
            let Some(cr) = body.iter().position(|&c| c == b'\r') else { return Ok(None) };
            match parse(&body[1..cr]) {
                Some(-1) if cr == body.len() => Some(Value::Boolean(false)),
                Some(n) if n >= 0 && body.len() == cr + 2 + n as usize => {
                    Some(Value::String(lua.create_string(&body[cr + 2..])?))
                }
                _ => None,
            }
        }
        _ => None,
    })
}

fn wrap(lua: &Lua, field: &str, v: Value) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.raw_set(field, v)?;
    Ok(Value::Table(t))
}

fn frame_to_lua(lua: &Lua, f: &Frame) -> mlua::Result<Value> {
    Ok(match f {
        Frame::Integer(n) => Value::Integer(*n as mlua::Integer),
        Frame::Bulk(b) => Value::String(lua.create_string(&b[..])?),
        Frame::Simple(s) => wrap(lua, "ok", Value::String(lua.create_string(&s[..])?))?,
        Frame::Error(e) => wrap(lua, "err", Value::String(lua.create_string(&e[..])?))?,
        // RESP2 nulls become false; the RESP3 null is nil (Redis's documented rules).
        Frame::Null => {
            if lua.app_data_ref::<protocol::Proto>().is_some_and(|p| *p == protocol::Proto::Resp3) {
                Value::Nil
            } else {
                Value::Boolean(false)
            }
        }
        Frame::Array(items) | Frame::Push(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, it) in items.iter().enumerate() {
                t.raw_set(i + 1, frame_to_lua(lua, it)?)?;
            }
            Value::Table(t)
        }
        Frame::Map(pairs) => {
            let m = lua.create_table()?;
            for (k, v) in pairs {
                m.raw_set(frame_to_lua(lua, k)?, frame_to_lua(lua, v)?)?;
            }
            wrap(lua, "map", Value::Table(m))?
        }
        Frame::Set(items) => {
            let s = lua.create_table()?;
            for it in items {
                s.raw_set(frame_to_lua(lua, it)?, true)?;
            }
            wrap(lua, "set", Value::Table(s))?
        }
        Frame::Double(d) => wrap(lua, "double", Value::Number(*d))?,
        Frame::Boolean(b) => Value::Boolean(*b),
        Frame::BigNumber(n) => wrap(lua, "big_number", Value::String(lua.create_string(&n[..])?))?,
        Frame::Verbatim(fmt, text) => {
            let t = lua.create_table()?;
            t.raw_set("format", lua.create_string(&fmt[..])?)?;
            t.raw_set("string", lua.create_string(&text[..])?)?;
            wrap(lua, "verbatim_string", Value::Table(t))?
        }
    })
}

/// Writes a script's return value as a reply, following Redis's Lua-to-RESP rules. Each
/// error reply written goes in `errors`, with whether it was counted already (`COUNTED`).
pub fn lua_to_resp(v: &Value, out: &mut Reply, resp3: bool, depth: usize, errors: &mut Vec<(String, bool)>) {
    if depth > 64 {
        out.error("ERR reached lua stack limit");
        errors.push(("ERR reached lua stack limit".into(), false));
        return;
    }
    match v {
        Value::Nil => out.null(),
        Value::Boolean(true) => {
            if resp3 {
                out.boolean(true)
            } else {
                out.int(1)
            }
        }
        Value::Boolean(false) => {
            if resp3 {
                out.boolean(false)
            } else {
                out.null()
            }
        }
        // Numbers become integers, truncated, as Redis converts them.
        Value::Integer(i) => out.int(*i),
        Value::Number(n) => out.int(*n as i64),
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Table(t) => {
            if let Ok(Value::String(e)) = t.raw_get::<Value>("err") {
                let text = e.to_string_lossy();
                out.error(&text);
                errors.push((text, t.raw_get::<bool>(COUNTED).unwrap_or(false)));
                return;
            }
            if let Ok(Value::String(s)) = t.raw_get::<Value>("ok") {
                out.simple(&s.to_string_lossy());
                return;
            }
            if resp3 {
                if let Ok(Value::Number(d)) = t.raw_get::<Value>("double") {
                    out.double(d);
                    return;
                }
                if let Ok(Value::Table(m)) = t.raw_get::<Value>("map") {
                    let pairs: Vec<(Value, Value)> = m.pairs().filter_map(Result::ok).collect();
                    out.map(pairs.len());
                    for (k, v) in pairs {
                        lua_to_resp(&k, out, resp3, depth + 1, errors);
                        lua_to_resp(&v, out, resp3, depth + 1, errors);
                    }
                    return;
                }
                if let Ok(Value::Table(s)) = t.raw_get::<Value>("set") {
                    let members: Vec<Value> =
                        s.pairs::<Value, Value>().filter_map(Result::ok).map(|(k, _)| k).collect();
                    out.set(members.len());
                    for m in members {
                        lua_to_resp(&m, out, resp3, depth + 1, errors);
                    }
                    return;
                }
            }
            // An array: elements 1..n up to the first nil.
            let mut items = Vec::new();
            let mut i = 1;
            while let Ok(v) = t.raw_get::<Value>(i) {
                if v.is_nil() {
                    break;
                }
                items.push(v);
                i += 1;
            }
            out.array(items.len());
            for it in &items {
                lua_to_resp(it, out, resp3, depth + 1, errors);
            }
        }
        _ => out.null(),
    }
}
