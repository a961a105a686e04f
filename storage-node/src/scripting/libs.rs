//! The libraries Redis gives scripts besides Lua's own: `bit` (Lua BitOp) and `cjson`.

use mlua::{Lua, Result, Table, Value};

/// Lua BitOp's normalisation of a number to a signed 32-bit integer.
fn tobit(n: f64) -> i32 {
    (n.rem_euclid(4294967296.0) as u64 as u32) as i32
}

fn num(v: &Value) -> Result<f64> {
    match v {
        Value::Integer(i) => Ok(*i as f64),
        Value::Number(n) => Ok(*n),
        Value::String(s) => s
            .to_str()?
            .trim()
            .parse()
            .map_err(|_| mlua::Error::runtime("bad argument to bit operation (number expected)")),
        _ => Err(mlua::Error::runtime("bad argument to bit operation (number expected)")),
    }
}

/// Installs the `bit` table.
pub fn install_bit(lua: &Lua) -> Result<()> {
    let bit = lua.create_table()?;
    bit.set("tobit", lua.create_function(|_, v: Value| Ok(tobit(num(&v)?)))?)?;
    bit.set("bnot", lua.create_function(|_, v: Value| Ok(!tobit(num(&v)?)))?)?;
    let fold = |lua: &Lua, f: fn(i32, i32) -> i32| {
        lua.create_function(move |_, args: mlua::Variadic<Value>| {
            let mut acc = tobit(num(args.first().unwrap_or(&Value::Nil))?);
            for a in args.iter().skip(1) {
                acc = f(acc, tobit(num(a)?));
            }
            Ok(acc)
        })
    };
    bit.set("band", fold(lua, |a, b| a & b)?)?;
    bit.set("bor", fold(lua, |a, b| a | b)?)?;
    bit.set("bxor", fold(lua, |a, b| a ^ b)?)?;
    let shift = |lua: &Lua, f: fn(i32, u32) -> i32| {
        lua.create_function(move |_, (v, n): (Value, Value)| Ok(f(tobit(num(&v)?), (tobit(num(&n)?) & 31) as u32)))
    };
    bit.set("lshift", shift(lua, |a, n| ((a as u32) << n) as i32)?)?;
    bit.set("rshift", shift(lua, |a, n| ((a as u32) >> n) as i32)?)?;
    bit.set("arshift", shift(lua, |a, n| a >> n)?)?;
    bit.set("rol", shift(lua, |a, n| (a as u32).rotate_left(n) as i32)?)?;
    bit.set("ror", shift(lua, |a, n| (a as u32).rotate_right(n) as i32)?)?;
    bit.set("bswap", lua.create_function(|_, v: Value| Ok((tobit(num(&v)?) as u32).swap_bytes() as i32))?)?;
    bit.set(
        "tohex",
        lua.create_function(|_, (v, n): (Value, Option<Value>)| {
            let x = tobit(num(&v)?) as u32;
            let n = match n {
                Some(n) => tobit(num(&n)?),
                None => 8,
            };
            let upper = n < 0;
            let width = n.unsigned_abs().min(8) as usize;
            let s = format!("{x:08x}");
            let s = &s[8 - width..];
            Ok(if upper { s.to_uppercase() } else { s.to_string() })
        })?,
    )?;
    lua.globals().set("bit", bit)
}

fn to_json(v: &Value, depth: usize) -> Result<serde_json::Value> {
    if depth > 1000 {
        return Err(mlua::Error::runtime("Cannot serialise, excessive nesting (1001)"));
    }
    Ok(match v {
        Value::Nil => serde_json::Value::Null,
        Value::Boolean(b) => serde_json::Value::Bool(*b),
        Value::Integer(i) => serde_json::Value::from(*i),
        Value::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => serde_json::Value::from(*n as i64),
        Value::Number(n) => serde_json::Number::from_f64(*n)
            .map(serde_json::Value::Number)
            .ok_or_else(|| mlua::Error::runtime("Cannot serialise number: must not be NaN or Inf"))?,
        Value::String(s) => serde_json::Value::String(s.to_string_lossy()),
        Value::Table(t) => {
            let len = t.raw_len();
            let pairs = t.clone().pairs::<Value, Value>().count();
            if len > 0 && pairs == len {
                serde_json::Value::Array((1..=len).map(|i| to_json(&t.raw_get(i)?, depth + 1)).collect::<Result<_>>()?)
            } else {
                let mut map = serde_json::Map::new();
                for pair in t.clone().pairs::<Value, Value>() {
                    let (k, v) = pair?;
                    let key = match &k {
                        Value::String(s) => s.to_string_lossy(),
                        Value::Integer(i) => i.to_string(),
                        Value::Number(n) => n.to_string(),
                        _ => {
                            return Err(mlua::Error::runtime(
                                "Cannot serialise table: table key must be a number or string",
                            ))
                        }
                    };
                    map.insert(key, to_json(&v, depth + 1)?);
                }
                serde_json::Value::Object(map)
            }
        }
        other => {
            return Err(mlua::Error::runtime(format!("Cannot serialise {}: type not supported", other.type_name())))
        }
    })
}

fn from_json(lua: &Lua, v: &serde_json::Value) -> Result<Value> {
    Ok(match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Boolean(*b),
        serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => Value::String(lua.create_string(s)?),
        serde_json::Value::Array(a) => {
            let t = lua.create_table()?;
            for (i, x) in a.iter().enumerate() {
                t.raw_set(i + 1, from_json(lua, x)?)?;
            }
            Value::Table(t)
        }
        serde_json::Value::Object(o) => {
            let t = lua.create_table()?;
            for (k, x) in o {
                t.raw_set(k.as_str(), from_json(lua, x)?)?;
            }
            Value::Table(t)
        }
    })
}

/// Installs the `cjson` table (encode/decode).
pub fn install_cjson(lua: &Lua) -> Result<()> {
    let cjson: Table = lua.create_table()?;
    cjson.set(
        "encode",
        lua.create_function(|_, v: Value| {
            let j = to_json(&v, 0)?;
            serde_json::to_string(&j).map_err(mlua::Error::external)
        })?,
    )?;
    cjson.set(
        "decode",
        lua.create_function(|lua, s: mlua::String| {
            let j: serde_json::Value = serde_json::from_slice(&s.as_bytes())
                .map_err(|e| mlua::Error::runtime(format!("Expected value but found invalid token: {e}")))?;
            from_json(lua, &j)
        })?,
    )?;
    lua.globals().set("cjson", cjson)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitop_semantics() {
        assert_eq!(tobit(4294967295.0), -1);
        assert_eq!(tobit(-1.0), -1);
        assert_eq!(tobit(2147483648.0), i32::MIN);
        let lua = Lua::new();
        install_bit(&lua).unwrap();
        install_cjson(&lua).unwrap();
        let r: (i32, i32, String, i32) = lua
            .load("return bit.band(0xff, 0x0f), bit.lshift(1, 33), bit.tohex(255, -4), bit.bxor(1, 3)")
            .eval()
            .unwrap();
        assert_eq!(r, (15, 2, "00FF".into(), 2));
        let s: String = lua.load("return cjson.encode({1,2,{a='b'}})").eval().unwrap();
        assert_eq!(s, r#"[1,2,{"a":"b"}]"#);
        let n: f64 = lua.load(r#"return cjson.decode('{"x":[10,20]}').x[2]"#).eval().unwrap();
        assert_eq!(n, 20.0);
    }
}
