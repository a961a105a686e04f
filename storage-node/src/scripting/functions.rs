//! Redis 7.0 functions (functions.c, function_lua.c): libraries of Lua code, each starting with
//! a `#!lua name=<lib>` shebang, that register named functions with `redis.register_function`
//! when FUNCTION LOAD runs them. They live in a Lua state of their own: library code sees
//! a globals table whose fallback is switched between the loading API (`redis.register_function`
//! and `redis.log` only) while loading and the full scripting API when a function is called.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hashbrown::HashMap;
use mlua::{Lua, Table, Value};

/// Function flags, in the order Redis lists them (script.c's `scripts_flags_def`).
pub mod flag {
    pub const NO_WRITES: u32 = 1;
    pub const ALLOW_OOM: u32 = 1 << 1;
    pub const ALLOW_STALE: u32 = 1 << 2;
    pub const NO_CLUSTER: u32 = 1 << 3;
    pub const ALLOW_CROSS_SLOT: u32 = 1 << 4;
    pub const NAMES: &[(u32, &str)] = &[
        (NO_WRITES, "no-writes"),
        (ALLOW_OOM, "allow-oom"),
        (ALLOW_STALE, "allow-stale"),
        (NO_CLUSTER, "no-cluster"),
        (ALLOW_CROSS_SLOT, "allow-cross-slot-keys"),
    ];
}

/// How long a library's code may run while loading (Redis's fixed 500 ms).
const LOAD_TIMEOUT: Duration = Duration::from_millis(500);

/// A registered function.
pub struct Function {
    pub name: String,
    pub description: Option<Bytes>,
    pub flags: u32,
    pub func: mlua::Function,
}

/// A loaded library: its code as given and its functions in registration order.
pub struct Library {
    pub name: String,
    pub code: Bytes,
    pub functions: Vec<Rc<Function>>,
}

/// The functions engine: the Lua state and the loaded libraries.
pub struct Functions {
    lua: Lua,
    /// Metatable of the globals library code sees; its `__index` is switched while loading.
    env_meta: Table,
    env: Table,
    load_api: Table,
    /// By name (case-sensitive, as Redis), sorted for FUNCTION LIST and DUMP.
    libraries: BTreeMap<String, Library>,
    /// Function name, lowercased (Redis compares function names without case) → library.
    by_function: HashMap<String, (String, Rc<Function>)>,
}

thread_local! {
    /// Functions registered by the library being loaded; None outside FUNCTION LOAD.
    static LOADING: RefCell<Option<Vec<Rc<Function>>>> = const { RefCell::new(None) };
    static LOAD_DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// True when the library being loaded has run past the load timeout (checked by the hook).
pub fn load_timed_out() -> bool {
    LOAD_DEADLINE.with(|d| d.get().is_some_and(|at| Instant::now() > at))
}

/// An error raised by the `redis` API with Redis's full text (`ERR ...`).
#[derive(Debug)]
struct ApiError(String);

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ApiError {}

fn api_err<T>(msg: &str) -> mlua::Result<T> {
    Err(mlua::Error::external(ApiError(format!("ERR {msg}"))))
}

/// The `ApiError` in an mlua error chain, if the error came from the API.
fn api_error(e: &mlua::Error) -> Option<&ApiError> {
    match e {
        mlua::Error::CallbackError { cause, .. } => api_error(cause),
        mlua::Error::ExternalError(ext) => ext.downcast_ref::<ApiError>(),
        _ => None,
    }
}

/// Library code's environment and the loading API, built in Lua for the error levels to match.
const ENV: &str = r#"
local error, setmetatable, tostring = error, setmetatable, tostring
local function protect(t)
  return setmetatable(t, {
    __index = function(_, k) error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2) end,
    __newindex = function() error("Attempt to modify a readonly table", 2) end,
  })
end
local register, log = ...
local load_redis = { register_function = register, log = log, REDIS_VERSION = redis.REDIS_VERSION, REDIS_VERSION_NUM = redis.REDIS_VERSION_NUM }
for _, level in ipairs({"LOG_DEBUG", "LOG_VERBOSE", "LOG_NOTICE", "LOG_WARNING"}) do load_redis[level] = redis[level] end
local load_api = protect({ redis = protect(load_redis) })
local meta = { __newindex = function() error("Attempt to modify a readonly table", 2) end }
local env = setmetatable({}, meta)
return env, meta, load_api
"#;

/// `redis.register_function`'s arguments, parsed.
struct Registration {
    name: String,
    description: Option<Bytes>,
    flags: u32,
    callback: mlua::Function,
}

/// A Lua value as `lua_isstring` takes it: a string, or a number turned into one.
fn lua_string(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Integer(i) => Some(i.to_string().into_bytes()),
        Value::Number(n) => Some(protocol::encode::format_g17(*n).into_bytes()),
        _ => None,
    }
}

fn read_flags(t: &Table) -> mlua::Result<u32> {
    let mut flags = 0;
    for i in 1.. {
        let v: Value = t.get(i)?;
        if v.is_nil() {
            break;
        }
        let Some(s) = lua_string(&v) else { return api_err("unknown flag given") };
        match flag::NAMES.iter().find(|(_, n)| n.as_bytes().eq_ignore_ascii_case(&s)) {
            Some((f, _)) => flags |= f,
            None => return api_err("unknown flag given"),
        }
    }
    Ok(flags)
}

fn read_registration(args: mlua::Variadic<Value>) -> mlua::Result<Registration> {
    if args.is_empty() || args.len() > 2 {
        return api_err("wrong number of arguments to redis.register_function");
    }
    if args.len() == 2 {
        let Some(name) = lua_string(&args[0]) else {
            return api_err("first argument to redis.register_function must be a string");
        };
        let Value::Function(callback) = &args[1] else {
            return api_err("second argument to redis.register_function must be a function");
        };
        let name = String::from_utf8_lossy(&name).into_owned();
        return Ok(Registration { name, description: None, flags: 0, callback: callback.clone() });
    }
    let Value::Table(t) = &args[0] else {
        return api_err("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).");
    };
    let (mut name, mut description, mut flags, mut callback) = (None, None, 0, None);
    for pair in t.clone().pairs::<Value, Value>() {
        let (k, v) = pair?;
        let Some(key) = lua_string(&k) else {
            return api_err("named argument key given to redis.register_function is not a string");
        };
        let key = String::from_utf8_lossy(&key).to_ascii_lowercase();
        match key.as_str() {
            "function_name" => match lua_string(&v) {
                Some(n) => name = Some(String::from_utf8_lossy(&n).into_owned()),
                None => return api_err("function_name argument given to redis.register_function must be a string"),
            },
            "description" => match lua_string(&v) {
                Some(d) => description = Some(Bytes::from(d)),
                None => return api_err("description argument given to redis.register_function must be a string"),
            },
            "callback" => match v {
                Value::Function(f) => callback = Some(f),
                _ => return api_err("callback argument given to redis.register_function must be a function"),
            },
            "flags" => match &v {
                Value::Table(ft) => flags = read_flags(ft)?,
                _ => {
                    return api_err(
                        "flags argument to redis.register_function must be a table representing function flags",
                    )
                }
            },
            _ => return api_err("unknown argument given to redis.register_function"),
        }
    }
    let Some(name) = name else { return api_err("redis.register_function must get a function name argument") };
    let Some(callback) = callback else { return api_err("redis.register_function must get a callback argument") };
    Ok(Registration { name, description, flags, callback })
}

/// `redis.register_function`: adds a function to the library being loaded.
fn register_function(_: &Lua, args: mlua::Variadic<Value>) -> mlua::Result<()> {
    if LOADING.with(|l| l.borrow().is_none()) {
        return api_err("redis.register_function can only be called on FUNCTION LOAD command");
    }
    let r = read_registration(args)?;
    if !valid_name(r.name.as_bytes()) {
        return api_err(BAD_NAME);
    }
    LOADING.with(|l| {
        let mut l = l.borrow_mut();
        let Some(list) = l.as_mut() else {
            return api_err("redis.register_function can only be called on FUNCTION LOAD command");
        };
        // Within a library names are compared as they are; across libraries without case.
        if list.iter().any(|f| f.name == r.name) {
            return api_err("Function already exists in the library");
        }
        list.push(Rc::new(Function { name: r.name, description: r.description, flags: r.flags, func: r.callback }));
        Ok(())
    })
}

const BAD_NAME: &str =
    "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// Library and function names: letters, digits and underscores, at least one.
pub fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// The shebang of a library: its engine and name, and where the code after the shebang starts.
#[derive(Debug, PartialEq)]
pub struct Metadata {
    pub engine: String,
    pub name: String,
    pub body_at: usize,
}

/// Splits a line into words as Redis's `sdssplitargs` does for plain words and quoted ones;
/// None for an unbalanced quote.
fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut words = Vec::new();
    let mut i = 0;
    let space = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    while i < line.len() {
        while i < line.len() && space(line[i]) {
            i += 1;
        }
        if i >= line.len() {
            break;
        }
        let mut word = Vec::new();
        let mut quote: Option<u8> = None;
        loop {
            match (quote, line.get(i).copied()) {
                (Some(_), None) => return None,
                (None, None) => break,
                (None, Some(c)) if space(c) => break,
                (None, Some(q @ (b'"' | b'\''))) => quote = Some(q),
                (Some(q), Some(c)) if c == q => {
                    // A closing quote must be followed by a space or the end.
                    if line.get(i + 1).is_some_and(|&n| !space(n)) {
                        return None;
                    }
                    quote = None;
                }
                (Some(b'"'), Some(b'\\')) if i + 1 < line.len() => {
                    i += 1;
                    word.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        c => c,
                    });
                }
                (_, Some(c)) => word.push(c),
            }
            i += 1;
        }
        words.push(word);
    }
    Some(words)
}

/// Reads the `#!<engine> name=<name>` line (functionExtractLibMetaData); errors are Redis's.
pub fn parse_metadata(code: &[u8]) -> Result<Metadata, String> {
    if !code.starts_with(b"#!") {
        return Err("ERR Missing library metadata".into());
    }
    let Some(end) = code.iter().position(|&c| c == b'\n') else {
        return Err("ERR Invalid library metadata".into());
    };
    let parts = match split_args(&code[..end]) {
        Some(p) if !p.is_empty() => p,
        _ => return Err("ERR Invalid library metadata".into()),
    };
    let engine = String::from_utf8_lossy(&parts[0][2..]).into_owned();
    let mut name = None;
    for part in &parts[1..] {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err("ERR Invalid metadata value, name argument was given multiple times".into());
            }
            name = Some(String::from_utf8_lossy(&part[5..]).into_owned());
        } else {
            return Err(format!("ERR Invalid metadata value given: {}", String::from_utf8_lossy(part)));
        }
    }
    let Some(name) = name else { return Err("ERR Library name was not given".into()) };
    Ok(Metadata { engine, name, body_at: end })
}

impl Functions {
    /// An engine with no libraries.
    pub fn new() -> mlua::Result<Functions> {
        let lua = super::build_lua()?;
        let redis: Table = lua.globals().get("redis")?;
        redis.raw_set("REDIS_VERSION", crate::REDIS_VERSION)?;
        let num = crate::REDIS_VERSION.split('.').fold(0i64, |acc, p| acc * 256 + p.parse::<i64>().unwrap_or(0));
        redis.raw_set("REDIS_VERSION_NUM", num)?;
        // Only the loading API has register_function; a called function finds it nil.
        let register = lua.create_function(register_function)?;
        let log: mlua::Function = redis.get("log")?;
        let (env, env_meta, load_api): (Table, Table, Table) =
            lua.load(ENV).set_name("@functions_env").call((register, log))?;
        env_meta.raw_set("__index", lua.globals())?;
        Ok(Functions { lua, env_meta, env, load_api, libraries: BTreeMap::new(), by_function: HashMap::new() })
    }

    /// The engine's Lua state.
    pub fn lua(&self) -> &Lua {
        &self.lua
    }

    /// The function named `name` (any case).
    pub fn find(&self, name: &[u8]) -> Option<Rc<Function>> {
        let key = String::from_utf8_lossy(name).to_lowercase();
        self.by_function.get(&key).map(|(_, f)| f.clone())
    }

    /// Libraries in name order.
    pub fn libraries(&self) -> impl Iterator<Item = &Library> {
        self.libraries.values()
    }

    /// Every library's code, for DUMP, RDB files and full syncs.
    pub fn codes(&self) -> Vec<Bytes> {
        self.libraries.values().map(|l| l.code.clone()).collect()
    }

    /// Bytes the functions' Lua state holds (INFO memory's used_memory_vm_functions).
    pub fn vm_memory(&self) -> usize {
        self.lua.used_memory()
    }

    /// (libraries, functions) loaded.
    pub fn counts(&self) -> (usize, usize) {
        (self.libraries.len(), self.libraries.values().map(|l| l.functions.len()).sum())
    }

    /// Compiles and runs a library's code, collecting the functions it registers; nothing is
    /// installed. `replace` lets it take the place of a library of the same name.
    pub fn compile(&self, code: &Bytes, replace: bool) -> Result<Library, String> {
        let md = parse_metadata(code)?;
        if !md.engine.eq_ignore_ascii_case("lua") {
            return Err(format!("ERR Engine '{}' not found", md.engine));
        }
        if !valid_name(md.name.as_bytes()) {
            return Err(format!("ERR {BAD_NAME}"));
        }
        if self.libraries.contains_key(&md.name) && !replace {
            return Err(format!("ERR Library '{}' already exists", md.name));
        }
        // The code after the shebang, from its newline on, so line numbers match the text.
        let chunk = self
            .lua
            .load(&code[md.body_at..])
            .set_name("@user_function")
            .set_environment(self.env.clone())
            .into_function()
            .map_err(|e| format!("ERR Error compiling function: {}", super::lua_message(&e)))?;
        let set_index = |v: Value| self.env_meta.raw_set("__index", v).map_err(|e| format!("ERR {e}"));
        set_index(Value::Table(self.load_api.clone()))?;
        LOADING.with(|l| *l.borrow_mut() = Some(Vec::new()));
        LOAD_DEADLINE.with(|d| d.set(Some(Instant::now() + LOAD_TIMEOUT)));
        let ran = chunk.call::<()>(());
        LOAD_DEADLINE.with(|d| d.set(None));
        let functions = LOADING.with(|l| l.borrow_mut().take()).unwrap_or_default();
        set_index(Value::Table(self.lua.globals()))?;
        if let Err(e) = ran {
            let msg = match api_error(&e) {
                Some(api) => api.0.clone(),
                None => format!("ERR {}", super::lua_message(&e)),
            };
            return Err(format!("ERR Error registering functions: {msg}"));
        }
        if functions.is_empty() {
            return Err("ERR No functions registered".into());
        }
        Ok(Library { name: md.name, code: code.clone(), functions })
    }

    /// FUNCTION LOAD: compiles and installs a library; returns its name.
    pub fn load(&mut self, code: &Bytes, replace: bool) -> Result<String, String> {
        let lib = self.compile(code, replace)?;
        let name = lib.name.clone();
        self.install(vec![lib], true)?;
        Ok(name)
    }

    /// Installs compiled libraries, all or none: a library of the same name is replaced when
    /// `replace`, and no function may clash with another library's.
    pub fn install(&mut self, libs: Vec<Library>, replace: bool) -> Result<(), String> {
        for lib in &libs {
            if !replace && self.libraries.contains_key(&lib.name) {
                return Err(format!("ERR Library {} already exists", lib.name));
            }
        }
        for lib in &libs {
            for f in &lib.functions {
                let owner = self.by_function.get(&f.name.to_lowercase()).map(|(l, _)| l);
                if owner.is_some_and(|o| !libs.iter().any(|l| &l.name == o)) {
                    return Err(format!("ERR Function {} already exists", f.name));
                }
            }
        }
        for lib in libs {
            self.delete(&lib.name);
            for f in &lib.functions {
                self.by_function.insert(f.name.to_lowercase(), (lib.name.clone(), f.clone()));
            }
            self.libraries.insert(lib.name.clone(), lib);
        }
        Ok(())
    }

    /// FUNCTION DELETE: false when there is no such library.
    pub fn delete(&mut self, name: &str) -> bool {
        let Some(lib) = self.libraries.remove(name) else { return false };
        for f in &lib.functions {
            self.by_function.remove(&f.name.to_lowercase());
        }
        true
    }

    /// FUNCTION FLUSH: no libraries, and a brand-new Lua state.
    pub fn flush(&mut self) -> mlua::Result<()> {
        *self = Functions::new()?;
        Ok(())
    }

    /// Replaces every library with those in `codes` (RDB loading, full syncs); all or none.
    pub fn replace_all(&mut self, codes: &[Vec<u8>]) -> Result<(), String> {
        let mut fresh = Functions::new().map_err(|e| format!("ERR {e}"))?;
        fresh.add_all(codes, false)?;
        *self = fresh;
        Ok(())
    }

    /// Loads several libraries (FUNCTION RESTORE APPEND/REPLACE), all or none: the set itself
    /// must be free of clashes, then joins the loaded ones as `install` does.
    pub fn add_all(&mut self, codes: &[Vec<u8>], replace: bool) -> Result<(), String> {
        let mut libs: Vec<Library> = Vec::new();
        for code in codes {
            let lib = self.compile(&Bytes::copy_from_slice(code), true)?;
            if libs.iter().any(|l| l.name == lib.name) {
                return Err(format!("ERR Library '{}' already exists", lib.name));
            }
            for f in &lib.functions {
                if libs.iter().flat_map(|l| &l.functions).any(|g| g.name.eq_ignore_ascii_case(&f.name)) {
                    return Err(format!("ERR Function {} already exists", f.name));
                }
            }
            libs.push(lib);
        }
        self.install(libs, replace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata() {
        let md = parse_metadata(b"#!lua name=lib\nreturn").unwrap();
        assert_eq!((md.engine.as_str(), md.name.as_str(), md.body_at), ("lua", "lib", 14));
        assert_eq!(parse_metadata(b"#!LUA  NAME=x  \r\n").unwrap().name, "x");
        let e = |c: &[u8]| parse_metadata(c).unwrap_err();
        assert_eq!(e(b"redis.call()"), "ERR Missing library metadata");
        assert_eq!(e(b"#!lua name=x"), "ERR Invalid library metadata");
        assert_eq!(e(b"#!lua\n"), "ERR Library name was not given");
        assert_eq!(e(b"#!lua foo=bar\n"), "ERR Invalid metadata value given: foo=bar");
        assert_eq!(e(b"#!lua name=a name=b\n"), "ERR Invalid metadata value, name argument was given multiple times");
        assert_eq!(e(b"#!lua name=\"x\n"), "ERR Invalid library metadata");
        assert!(valid_name(b"a_1") && !valid_name(b"a-b") && !valid_name(b""));
    }

    #[test]
    fn load_register_and_errors() {
        let mut f = Functions::new().unwrap();
        let code = Bytes::from_static(
            b"#!lua name=lib\nredis.register_function('f1', function(k, a) return 1 end)\nredis.register_function{function_name='F2', callback=function() return 2 end, flags={'no-writes', 'ALLOW-OOM'}, description='d'}",
        );
        assert_eq!(f.load(&code, false).unwrap(), "lib");
        let f2 = f.find(b"f2").unwrap();
        assert_eq!((f2.flags, f2.description.as_deref()), (flag::NO_WRITES | flag::ALLOW_OOM, Some(&b"d"[..])));
        assert_eq!(f.load(&code, false).unwrap_err(), "ERR Library 'lib' already exists");
        assert_eq!(f.load(&code, true).unwrap(), "lib");
        let clash = Bytes::from_static(b"#!lua name=other\nredis.register_function('F1', function() end)");
        assert_eq!(f.load(&clash, false).unwrap_err(), "ERR Function F1 already exists");
        let cases: &[(&[u8], &str)] = &[
            (b"#!lua name=x\nredis.call('ping')", "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'call'"),
            (b"#!lua name=x\nx = 1", "ERR Error registering functions: ERR user_function:2: Attempt to modify a readonly table"),
            (b"#!lua name=x\nlocal a = 1", "ERR No functions registered"),
            (b"#!lua name=x\nredis.register_function('a-b', function() end)", "ERR Error registering functions: ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"),
            (b"#!lua name=x\nredis.register_function{function_name='a', callback=function() end, flags={'nope'}}", "ERR Error registering functions: ERR unknown flag given"),
            (b"#!lua name=x\nredis.register_function('a', function() end)\nredis.register_function('a', function() end)", "ERR Error registering functions: ERR Function already exists in the library"),
            (b"#!lua name=x\nsyntax error here", "ERR Error compiling function: user_function:2: '=' expected near 'error'"),
            (b"#!python name=x\n", "ERR Engine 'python' not found"),
        ];
        for (code, want) in cases {
            assert_eq!(f.load(&Bytes::copy_from_slice(code), false).unwrap_err(), *want);
        }
        assert_eq!(f.counts(), (1, 2));
        // Restoring several libraries is all or none.
        let good = b"#!lua name=good\nredis.register_function('g', function() end)".to_vec();
        let bad = b"#!lua name=bad\nnot lua".to_vec();
        assert!(f.add_all(&[good.clone(), bad], false).unwrap_err().starts_with("ERR Error compiling function"));
        assert!(f.find(b"g").is_none());
        let twin = b"#!lua name=twin\nredis.register_function('G', function() end)".to_vec();
        assert_eq!(f.add_all(&[good.clone(), twin], false).unwrap_err(), "ERR Function G already exists");
        f.add_all(std::slice::from_ref(&good), false).unwrap();
        assert_eq!(f.add_all(&[good], false).unwrap_err(), "ERR Library good already exists");
        f.delete("good");
        assert!(f.delete("lib") && !f.delete("lib"));
        assert!(f.find(b"f1").is_none());
    }
}
