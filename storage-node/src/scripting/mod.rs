//! Lua scripting (EVAL and friends): one Lua 5.1 state with Redis's sandbox and libraries, the
//! `redis.*` bridge into command dispatch, and the conversions between Lua values and RESP.
//! A script runs inside the calling command, on the node's single thread, so it is atomic.
//! Functions (FUNCTION LOAD / FCALL) live in a Lua state of their own built the same way, see
//! `functions.rs`, and run through the same `redis.call` bridge.

mod busy;
mod convert;
pub mod functions;

pub use busy::Adopted;
pub use functions::Functions;
mod libs;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Instant;

use bytes::Bytes;
use hashbrown::HashMap;
use mlua::{HookTriggers, Lua, LuaOptions, StdLib, Value};
use protocol::command::flags;
use protocol::{Proto, Reply};

use crate::commands::{admit, execute_for_script, Caller, Error, ScriptCall};
use crate::server::{Client, Server};

/// The scripting engine of a node.
pub struct Scripting {
    lua: Lua,
    /// Loaded scripts by SHA1 (lowercase hex).
    scripts: HashMap<String, Rc<Script>>,
    /// The same scripts by body, so an EVAL of a body seen before skips hashing it with SHA1.
    by_body: HashMap<Bytes, Rc<Script>>,
    /// The function libraries (untouched by SCRIPT FLUSH, as in Redis).
    pub functions: Functions,
}

/// A compiled script.
pub struct Script {
    pub sha: String,
    func: mlua::Function,
    /// The flags of a `#!lua flags=...` shebang; `None` for a script without one (Redis's
    /// eval compatibility mode).
    pub flags: Option<u32>,
}

/// Reads a script's shebang as evalExtractShebangFlags: its flags and the shebang's length
/// (0 without one).
pub fn shebang_flags(body: &[u8]) -> Result<(Option<u32>, usize), String> {
    if !body.starts_with(b"#!") {
        return Ok((None, 0));
    }
    let Some(end) = body.iter().position(|&b| b == b'\n') else { return Err("ERR Invalid script shebang".into()) };
    let line = String::from_utf8_lossy(&body[..end]);
    let parts = config::split::split_args(&line).map_err(|_| "ERR Invalid engine in script shebang".to_string())?;
    match parts.first().map(String::as_str) {
        None => return Err("ERR Invalid engine in script shebang".into()),
        Some("#!lua") => {}
        Some(other) => return Err(format!("ERR Unexpected engine in script shebang: {other}")),
    }
    let mut flags = 0;
    for part in &parts[1..] {
        let Some(list) = part.strip_prefix("flags=") else {
            return Err(format!("ERR Unknown lua shebang option: {part}"));
        };
        for name in list.split(',').filter(|n| !n.is_empty()) {
            let Some((f, _)) = functions::flag::NAMES.iter().find(|(_, n)| *n == name) else {
                return Err(format!("ERR Unexpected flag in script shebang: {name}"));
            };
            flags |= f;
        }
    }
    Ok((Some(flags), end))
}

/// SHA1 of a script body, lowercase hex, as Redis names scripts.
pub fn sha1_hex(body: &[u8]) -> String {
    sha1_smol::Sha1::from(body).digest().to_string()
}

/// A failure inside `redis.call`, carried through Lua to the reply.
#[derive(Debug)]
struct CallError {
    msg: String,
    line: i32,
    /// The error is a called command's reply, already counted in errorstats.
    counted: bool,
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for CallError {}

/// What `redis.call` needs while a script runs: set by `run` for the duration of the call.
struct CallCtx {
    srv: *mut Server,
    client: *mut Client,
    wrote: Rc<Cell<bool>>,
    /// Time stands still while a script runs (Redis's time snapshot), for expiry decisions.
    now_ms: i64,
    /// A function's flags relax or tighten the checks on each call (see `RunFlags`).
    flags: RunFlags,
    /// The slot the script's keys hash to so far (cluster mode, functions only).
    slot: Cell<Option<u16>>,
}

/// How a script or function may call commands.
#[derive(Clone, Copy, Default)]
pub struct RunFlags {
    /// Writes are refused (`*_RO` commands, functions flagged `no-writes`).
    pub readonly: bool,
    /// `allow-oom`: writes that need memory run over `maxmemory`.
    pub allow_oom: bool,
    /// Called keys are checked against the node's slots (functions in cluster mode).
    pub cluster_checks: bool,
    /// `allow-cross-slot-keys`: keys of several slots may be called.
    pub allow_cross_slot: bool,
}

impl RunFlags {
    /// What a script's or function's flags allow when it runs.
    pub fn of(script_flags: u32, ro: bool, cluster_checks: bool) -> RunFlags {
        use functions::flag;
        RunFlags {
            readonly: ro || script_flags & flag::NO_WRITES != 0,
            allow_oom: script_flags & flag::ALLOW_OOM != 0,
            cluster_checks,
            allow_cross_slot: script_flags & flag::ALLOW_CROSS_SLOT != 0,
        }
    }
}

thread_local! {
    /// The running script's context. Scripts cannot nest (EVAL is `noscript`), so at most one
    /// exists, and `run` clears it before the borrows it was made from end.
    static CURRENT: RefCell<Option<CallCtx>> = const { RefCell::new(None) };
    /// The running script's busy watch, read by the instruction hook.
    static WATCH: RefCell<Option<Rc<busy::Watch>>> = const { RefCell::new(None) };
}

/// Whether a script is running (commands it calls see Redis's CLIENT_SCRIPT flag).
pub fn script_running() -> bool {
    CURRENT.with(|cur| cur.try_borrow().is_ok_and(|c| c.is_some()))
}

/// `redis.call` / `redis.pcall`.
fn redis_call(lua: &Lua, args: mlua::Variadic<Value>, raise: bool) -> mlua::Result<Value> {
    let proto = lua.app_data_ref::<Proto>().map_or(Proto::Resp2, |p| *p);
    let outcome = CURRENT.with(|cur| {
        let cur = cur.borrow();
        let Some(ctx) = cur.as_ref() else {
            return Err(("ERR redis.call is only available while a script runs".to_string(), false));
        };
        // SAFETY: `run` stores pointers to the server and client it holds `&mut` to, for the
        // duration of the script only, and nothing else touches them until it returns.
        let (srv, client) = unsafe { (&mut *ctx.srv, &mut *ctx.client) };
        call_command(srv, client, &args, ctx, proto)
    });
    match outcome {
        Ok(reply) => convert::resp_to_lua(lua, &reply),
        Err((msg, counted)) if raise => {
            let line = lua.inspect_stack(1).map_or(0, |d| d.curr_line());
            Err(mlua::Error::external(CallError { msg, line, counted }))
        }
        Err((msg, counted)) => {
            let t = lua.create_table()?;
            t.set("err", msg)?;
            if counted {
                // As Redis marks it: a script returning this table does not count it again.
                t.set(convert::COUNTED, true)?;
            }
            Ok(Value::Table(t))
        }
    }
}

/// Lua code run once per state: Redis's sandbox (no file access, read-only globals).
const SANDBOX: &str = r#"
loadfile = nil
dofile = nil
local rawset, error, setmetatable = rawset, error, setmetatable
setmetatable(_G, {
  __index = function(_, k) error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2) end,
  __newindex = function(_, k) error("Attempt to modify a readonly table", 2) end,
})
"#;

/// A Lua state with Redis's libraries, the `redis` table and the sandbox, and the hook that
/// keeps a slow script answering (EVAL's state and the functions' state are both built so).
fn build_lua() -> mlua::Result<Lua> {
    let lua = Lua::new_with(StdLib::TABLE | StdLib::STRING | StdLib::MATH, LuaOptions::default())?;
    libs::install_bit(&lua)?;
    libs::install_cjson(&lua)?;
    let redis = lua.create_table()?;
    redis.set("sha1hex", lua.create_function(|_, s: mlua::String| Ok(sha1_hex(&s.as_bytes())))?)?;
    redis.set(
        "error_reply",
        lua.create_function(|lua, s: mlua::String| {
            let t = lua.create_table()?;
            t.set("err", s)?;
            Ok(t)
        })?,
    )?;
    redis.set(
        "status_reply",
        lua.create_function(|lua, s: mlua::String| {
            let t = lua.create_table()?;
            t.set("ok", s)?;
            Ok(t)
        })?,
    )?;
    redis.set(
        "log",
        lua.create_function(|_, (level, msg): (i64, mlua::String)| {
            if !(0..=3).contains(&level) {
                return Err(mlua::Error::runtime("Invalid debug level."));
            }
            eprintln!("{}:M * <script> {}", std::process::id(), msg.to_string_lossy());
            Ok(())
        })?,
    )?;
    redis.set(
        "setresp",
        lua.create_function(|lua, v: i64| {
            if v != 2 && v != 3 {
                return Err(mlua::Error::runtime("RESP version must be 2 or 3."));
            }
            lua.set_app_data(if v == 3 { Proto::Resp3 } else { Proto::Resp2 });
            Ok(())
        })?,
    )?;
    for (i, name) in ["LOG_DEBUG", "LOG_VERBOSE", "LOG_NOTICE", "LOG_WARNING"].iter().enumerate() {
        redis.set(*name, i)?;
    }
    redis.set("call", lua.create_function(|lua, args| redis_call(lua, args, true))?)?;
    redis.set("pcall", lua.create_function(|lua, args| redis_call(lua, args, false))?)?;
    lua.globals().set("redis", redis)?;
    lua.load(SANDBOX).set_name("@sandbox").exec()?;
    // A slow script answers others with -BUSY and honours SCRIPT KILL (see busy.rs).
    lua.set_hook(HookTriggers::new().every_nth_instruction(100_000), |_, _| {
        if functions::load_timed_out() {
            return Err(mlua::Error::runtime("FUNCTION LOAD timeout"));
        }
        let killed = WATCH.with(|w| w.borrow().as_ref().is_some_and(|w| w.poll()));
        if killed {
            // Redis words it so for functions too.
            return Err(mlua::Error::runtime("Script killed by user with SCRIPT KILL..."));
        }
        Ok(mlua::VmState::Continue)
    });
    // Scripts run under xpcall with a handler that notes the user code's line, as Redis's
    // error handler does, and keeps error tables (`error({err=...})`) intact.
    let handler = lua.create_function(error_handler)?;
    let wrapper: mlua::Function = lua.load(RUN_WRAPPER).set_name("@run_wrapper").call(handler)?;
    lua.set_named_registry_value(RUN_WRAPPER_KEY, wrapper)?;
    Ok(lua)
}

const RUN_WRAPPER_KEY: &str = "slotgate_run";
const RUN_WRAPPER: &str = r#"
local xpcall, handler = xpcall, ...
return function(f, with_args, a, b)
  if not with_args then return xpcall(f, handler) end
  return xpcall(function() return f(a, b) end, handler)
end
"#;

/// The message handler: the error value with the line of the innermost user code frame.
fn error_handler(lua: &Lua, err: Value) -> mlua::Result<mlua::Table> {
    let mut line = 0;
    for level in 1.. {
        let Some(frame) = lua.inspect_stack(level) else { break };
        if frame.source().source.is_some_and(|s| s.starts_with("@user_")) {
            line = frame.curr_line();
            break;
        }
    }
    let t = lua.create_table()?;
    t.raw_set("error", err)?;
    t.raw_set("line", line)?;
    Ok(t)
}

impl Scripting {
    /// Bytes the EVAL Lua state holds, and how many scripts are cached (INFO memory).
    pub fn memory(&self) -> (usize, usize) {
        (self.lua.used_memory(), self.scripts.len())
    }

    /// A fresh engine with the sandbox applied.
    pub fn new() -> mlua::Result<Scripting> {
        let lua = build_lua()?;
        Ok(Scripting { lua, scripts: HashMap::new(), by_body: HashMap::new(), functions: Functions::new()? })
    }

    /// The script loaded under `sha` (any case).
    pub fn find(&self, sha: &[u8]) -> Option<Rc<Script>> {
        self.scripts.get(&String::from_utf8_lossy(sha).to_lowercase()).cloned()
    }

    /// The script EVALSHA would run, if it is loaded (without cloning it).
    pub fn loaded(&self, sha: &[u8]) -> Option<&Script> {
        self.scripts.get(&String::from_utf8_lossy(sha).to_lowercase()).map(|s| &**s)
    }

    /// Compiles `body` as `f_<sha>` unless already loaded.
    pub fn load(&mut self, body: &Bytes) -> Result<Rc<Script>, Error> {
        if let Some(script) = self.by_body.get(body) {
            return Ok(script.clone());
        }
        let sha = sha1_hex(body);
        let (flags, shebang) = shebang_flags(body).map_err(Error::Msg)?;
        // The body is compiled as a chunk of its own, so line numbers match the user's text
        // (the shebang goes, its line feed stays).
        let func = self
            .lua
            .load(&body[shebang..])
            .set_name("@user_script")
            .into_function()
            .map_err(|e| Error::Msg(format!("ERR Error compiling script (new function): {}", lua_message(&e))))?;
        self.lua.globals().raw_set(format!("f_{sha}"), func.clone()).map_err(internal)?;
        let script = Rc::new(Script { sha: sha.clone(), func, flags });
        self.scripts.insert(sha, script.clone());
        self.by_body.insert(body.clone(), script.clone());
        Ok(script)
    }

    /// Forgets every script (SCRIPT FLUSH): a brand-new Lua state. Functions stay.
    pub fn flush(&mut self) -> Result<(), Error> {
        self.lua = build_lua().map_err(internal)?;
        self.scripts.clear();
        self.by_body.clear();
        Ok(())
    }
}

fn internal(e: mlua::Error) -> Error {
    Error::Msg(format!("ERR {}", lua_message(&e)))
}

/// The text of a Lua error without mlua's decorations.
fn lua_message(e: &mlua::Error) -> String {
    match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        // Redis shows the message alone, without Lua's traceback.
        mlua::Error::RuntimeError(m) => m.split("\nstack traceback:").next().unwrap_or(m).to_string(),
        mlua::Error::CallbackError { cause, .. } => lua_message(cause),
        mlua::Error::ExternalError(ext) => ext.to_string(),
        other => other.to_string(),
    }
}

/// Finds a `CallError` raised by `redis.call` in an mlua error chain.
fn call_error(e: &mlua::Error) -> Option<&CallError> {
    match e {
        mlua::Error::CallbackError { cause, .. } => call_error(cause),
        mlua::Error::ExternalError(ext) => ext.downcast_ref::<CallError>(),
        _ => None,
    }
}

/// Runs script `sha` for a client with KEYS/ARGV, writing the script's reply into `out`.
pub fn run(
    srv: &mut Server,
    client: &mut Client,
    script: &Script,
    keys: &[Bytes],
    argv: &[Bytes],
    readonly: bool,
    out: &mut Reply,
) -> Result<(), Error> {
    let lua = srv.scripting.lua.clone();
    let globals = lua.globals();
    globals.raw_set("KEYS", args_table(&lua, keys).map_err(internal)?).map_err(internal)?;
    globals.raw_set("ARGV", args_table(&lua, argv).map_err(internal)?).map_err(internal)?;
    let target =
        Target { lua: &lua, func: &script.func, label: &script.sha, chunk: "user_script", function: None, slot: None };
    // In a cluster every key a script calls must be served here, but a script without flags
    // may call keys of several slots (Redis's eval compatibility mode).
    let cluster_checks = srv.cluster.is_some() && !client.is_master;
    let flags = match script.flags {
        None => RunFlags { readonly, cluster_checks, allow_cross_slot: true, ..RunFlags::default() },
        Some(f) => {
            crate::commands::prepare_script(srv, client, f, readonly).map_err(Error::Msg)?;
            RunFlags::of(f, readonly, cluster_checks)
        }
    };
    invoke(srv, client, target, None, flags, out)
}

/// Runs a function for FCALL `call` (its arguments), whose keys are `call[3..split]`: the
/// callback gets the keys and the other arguments as its two tables.
pub fn run_function(
    srv: &mut Server,
    client: &mut Client,
    f: &functions::Function,
    call: &[Bytes],
    split: usize,
    flags: RunFlags,
    out: &mut Reply,
) -> Result<(), Error> {
    let (keys, argv) = (&call[3..split], &call[split..]);
    let lua = srv.scripting.functions.lua().clone();
    let args = (args_table(&lua, keys).map_err(internal)?, args_table(&lua, argv).map_err(internal)?);
    let slot = keys.first().map(|k| protocol::slot::key_slot(k));
    let target = Target {
        lua: &lua,
        func: &f.func,
        label: &f.name,
        chunk: "user_function",
        function: Some(call.to_vec()),
        slot,
    };
    invoke(srv, client, target, Some(args), flags, out)
}

fn args_table(lua: &Lua, items: &[Bytes]) -> mlua::Result<mlua::Table> {
    let t = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, a) in items.iter().enumerate() {
        t.raw_set(i + 1, lua.create_string(&a[..])?)?;
    }
    Ok(t)
}

/// What runs: the Lua function, and how errors name it (`script: <label>, on @<chunk>:<line>.`).
struct Target<'a> {
    lua: &'a Lua,
    func: &'a mlua::Function,
    label: &'a str,
    chunk: &'static str,
    /// For a function, the FCALL arguments (FUNCTION STATS shows them while it runs).
    function: Option<Vec<Bytes>>,
    /// The slot of the declared keys: the one slot the script works on.
    slot: Option<u16>,
}

fn invoke(
    srv: &mut Server,
    client: &mut Client,
    target: Target,
    args: Option<(mlua::Table, mlua::Table)>,
    flags: RunFlags,
    out: &mut Reply,
) -> Result<(), Error> {
    let lua = target.lua;
    let busy_ms = srv.config.busy_reply_threshold;
    lua.set_app_data(Proto::Resp2);
    let wrote = Rc::new(Cell::new(false));
    let watch = Rc::new(busy::Watch {
        started: Instant::now(),
        threshold_ms: busy_ms,
        runner: client.id,
        clients: srv.clients.clone(),
        wrote: wrote.clone(),
        kill: Cell::new(false),
        listeners: srv.listeners.clone(),
        tls_listeners: srv.tls_listeners.clone(),
        tls_config: srv.tls.as_ref().map(|t| t.client_config()),
        accepted: Default::default(),
        function: target.function.map(|args| (target.label.to_string(), args)),
        counts: srv.scripting.functions.counts(),
        resp3: Cell::new(false),
    });
    WATCH.with(|w| *w.borrow_mut() = Some(watch.clone()));
    let slot = target.slot;
    let call = CallCtx {
        srv: &mut *srv,
        client: &mut *client,
        wrote,
        now_ms: crate::keyspace::now_ms(),
        flags,
        slot: Cell::new(slot),
    };
    // SELECT inside the script changes the script's database only (Redis 7.0 gives the
    // caller its own back when the script ends).
    let caller_db = client.db;
    CURRENT.with(|c| *c.borrow_mut() = Some(call));
    let wrapper = lua.named_registry_value::<mlua::Function>(RUN_WRAPPER_KEY);
    let result = wrapper.and_then(|w| match args {
        None => w.call::<(bool, Value)>((target.func.clone(), false)),
        Some((a, b)) => w.call::<(bool, Value)>((target.func.clone(), true, a, b)),
    });
    CURRENT.with(|c| *c.borrow_mut() = None);
    client.db = caller_db;
    WATCH.with(|w| *w.borrow_mut() = None);
    // Clients that connected during a busy script get their connection task now.
    srv.adopt.extend(watch.accepted.borrow_mut().drain(..));
    let resp3 = lua.app_data_ref::<Proto>().is_some_and(|p| *p == Proto::Resp3);
    let (label, chunk) = (target.label, target.chunk);
    let (error, line) = match result {
        Ok((true, v)) => {
            // An error table returned is the command's error reply, counted as such.
            if let Value::Table(t) = &v {
                if let Ok(Value::String(e)) = t.raw_get::<Value>("err") {
                    let text = e.to_string_lossy();
                    let counted = t.raw_get::<bool>(convert::COUNTED).unwrap_or(false);
                    return Err(if counted { Error::Counted(text) } else { Error::Msg(text) });
                }
            }
            let mut errors = Vec::new();
            convert::lua_to_resp(&v, out, resp3, 0, &mut errors);
            // Errors inside the reply: each new one is counted, and the call failed once for
            // them, plus once per error counted already (afterErrorReply's two branches).
            let fresh = errors.iter().filter(|(_, counted)| !counted).count();
            for (text, _) in errors.iter().filter(|(_, counted)| !counted) {
                crate::introspect::count_error(srv, text);
            }
            srv.reply_errors += (errors.len() - fresh) as u32 + u32::from(fresh > 0);
            return Ok(());
        }
        Ok((false, Value::Table(t))) => {
            (t.raw_get::<Value>("error").unwrap_or(Value::Nil), t.raw_get("line").unwrap_or(0))
        }
        Ok((false, other)) => (other, 0),
        Err(e) => (Value::Error(Box::new(e)), 0),
    };
    let msg = match error {
        // error({err = "CODE text"}) replies with that text as is.
        Value::Table(t) => match t.raw_get::<Value>("err") {
            Ok(Value::String(e)) => e.to_string_lossy(),
            _ => "ERR unknown error".to_string(),
        },
        Value::Error(e) => match call_error(&e) {
            Some(ce) => {
                let text = format!("{} script: {label}, on @{chunk}:{}.", ce.msg, ce.line);
                return Err(if ce.counted { Error::Counted(text) } else { Error::Msg(text) });
            }
            None => format!("ERR {}", lua_message(&e)),
        },
        Value::String(s) => format!("ERR {}", s.to_string_lossy()),
        other => format!("ERR {}", other.to_string().unwrap_or_default()),
    };
    Err(Error::Msg(format!("{msg} script: {label}, on @{chunk}:{line}.")))
}

/// Executes one `redis.call` command; returns the raw reply, or the error text and whether it
/// is the command's own reply (counted in errorstats already).
fn call_command(
    srv: &mut Server,
    client: &mut Client,
    args: &mlua::Variadic<Value>,
    ctx: &CallCtx,
    proto: Proto,
) -> Result<Bytes, (String, bool)> {
    // Every argument in one buffer: one allocation per call instead of one per argument.
    let mut data = bytes::BytesMut::with_capacity(
        args.iter().map(|a| if let Value::String(s) = a { s.as_bytes().len() } else { 24 }).sum(),
    );
    let mut argv = Vec::with_capacity(args.len());
    for a in args.iter() {
        match a {
            Value::String(s) => data.extend_from_slice(&s.as_bytes()),
            Value::Integer(i) => {
                let _ = std::fmt::Write::write_fmt(&mut data, format_args!("{i}"));
            }
            Value::Number(n) => data.extend_from_slice(protocol::encode::format_g17(*n).as_bytes()),
            _ => return Err(("ERR Lua redis lib command arguments must be strings or integers".into(), false)),
        }
        argv.push(data.split().freeze());
    }
    if argv.is_empty() {
        return Err(("ERR Please specify at least one argument for this redis lib call".into(), false));
    }
    let Some(idx) = srv.commands.lookup(&argv[0]) else {
        // scriptCall's refusals are error replies of the script's client: counted here.
        let msg = "ERR Unknown Redis command called from script";
        crate::introspect::count_error(srv, msg);
        return Err((msg.into(), true));
    };
    let mut spec = srv.commands.commands[idx].spec;
    let mut idx = idx;
    if !spec.subcommands.is_empty() && argv.len() > 1 {
        if let Some(sub) = srv.commands.lookup_sub(idx, &argv[1]) {
            idx = sub;
            spec = srv.commands.commands[idx].spec;
        }
    }
    let call = ScriptCall {
        readonly: ctx.flags.readonly,
        allow_oom: ctx.flags.allow_oom,
        wrote: ctx.wrote.get(),
        cluster_checks: ctx.flags.cluster_checks,
        allow_cross_slot: ctx.flags.allow_cross_slot,
        slot: &ctx.slot,
        now_ms: ctx.now_ms,
    };
    if let Err(e) = admit(srv, client, spec, &argv, spec.flags, Caller::Script(&call), ctx.now_ms) {
        srv.commands.commands[idx].stats.rejected_calls += 1;
        crate::introspect::count_error(srv, &e);
        return Err((e, true));
    }
    if spec.has(flags::WRITE) {
        ctx.wrote.set(true);
    }
    let mut out = Reply { buf: bytes::BytesMut::new(), proto };
    execute_for_script(srv, client, idx, &argv, &mut out, ctx.now_ms).map_err(|e| (e.text().into_owned(), true))?;
    Ok(out.buf.freeze())
}
