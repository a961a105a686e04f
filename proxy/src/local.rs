//! Commands the proxy answers itself: connection state (PING, ECHO, HELLO, SELECT, CLIENT,
//! RESET, QUIT), AUTH and ACL, COMMAND from the shared table, cluster emulation, and the
//! unsubscribe family for a client with no subscriptions. Replies are built with
//! `protocol::Reply`, so RESP3 clients get RESP3 shapes.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use crate::plan::lower;
use crate::state::{Proxy, Session};

/// The reply to a command whose route is [`protocol::command::Route::Local`]; `name` is its
/// table name (a container's, for CLIENT and CLUSTER).
pub(crate) fn answer(proxy: &Proxy, s: &mut Session, name: &str, args: &[Bytes]) -> Bytes {
    let mut r = s.reply();
    match name {
        "ping" => match args.len() {
            1 => r.simple("PONG"),
            2 => r.bulk(&args[1]),
            _ => r.error("ERR wrong number of arguments for 'ping' command"),
        },
        "echo" => r.bulk(&args[1]),
        "quit" => {
            s.close = true;
            r.ok();
        }
        "select" => match &args[1][..] {
            b"0" => r.ok(),
            _ => r.error("ERR DB index is out of range"),
        },
        "hello" => return hello(proxy, s, args),
        "auth" => return crate::acl::auth(proxy, s, args),
        "acl" => return crate::acl::command(proxy, s, args),
        "reset" => {
            s.resp3 = false;
            s.name = None;
            s.pinned = None;
            s.multi = None;
            s.multi_slot = None;
            s.multi_error = false;
            r = s.reply();
            r.simple("RESET");
        }
        "unwatch" => {
            // Dropping the pinned connection drops its WATCHes too.
            s.pinned = None;
            r.ok();
        }
        "client" => client(proxy, s, &mut r, args),
        "cluster" if proxy.cfg.cluster_emulation => {
            let sub = args.get(1).map(|a| lower(a)).unwrap_or_default();
            return crate::emulation::cluster(proxy, s, &sub, args);
        }
        "cluster" | "readonly" | "readwrite" => r.error("ERR This instance has cluster support disabled"),
        "asking" if proxy.cfg.cluster_emulation => r.ok(),
        "asking" => r.error(&protocol::introspect::unknown_command(args)),
        "command" => {
            let emulation = proxy.cfg.cluster_emulation;
            if let Err(e) = protocol::introspect::command(&mut r, args, &|spec| crate::plan::serves(spec, emulation)) {
                r = s.reply();
                r.error(&e);
            }
        }
        "unsubscribe" | "punsubscribe" | "sunsubscribe" => {
            // Not subscribed: answered as Redis does for a client with no subscriptions.
            let kind = Bytes::copy_from_slice(name.as_bytes());
            return crate::merge::unsubscribed(&kind, args.len() > 1, &args[1..], s.resp3);
        }
        _ => r.error(&protocol::introspect::unknown_command(args)),
    }
    r.buf.freeze()
}

fn hello(proxy: &Proxy, s: &mut Session, args: &[Bytes]) -> Bytes {
    let mut r = s.reply();
    let proto = match args.get(1).map(|v| &v[..]) {
        None => s.resp3,
        Some(b"2") => false,
        Some(b"3") => true,
        Some(_) => {
            r.error("NOPROTO unsupported protocol version");
            return r.buf.freeze();
        }
    };
    let mut i = 2;
    let mut name = None;
    while i < args.len() {
        let opt = lower(&args[i]);
        if opt == "setname" && i + 1 < args.len() {
            name = Some(args[i + 1].clone());
            i += 2;
        } else if opt == "auth" && i + 2 < args.len() {
            let user = String::from_utf8_lossy(&args[i + 1]).into_owned();
            if let Err(e) = crate::acl::login(proxy, s, &user, &args[i + 2]) {
                return e;
            }
            i += 3;
        } else {
            r.error(&format!("ERR Syntax error in HELLO option '{}'", String::from_utf8_lossy(&args[i])));
            return r.buf.freeze();
        }
    }
    if !s.authenticated {
        r.error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
        return r.buf.freeze();
    }
    s.resp3 = proto;
    if name.is_some() {
        s.name = name;
    }
    let mut r = s.reply();
    r.map(7);
    r.bulk(b"server");
    r.bulk(b"redis");
    r.bulk(b"version");
    r.bulk(b"7.0.15");
    r.bulk(b"proto");
    r.int(if s.resp3 { 3 } else { 2 });
    r.bulk(b"id");
    r.int(s.id as i64);
    r.bulk(b"mode");
    r.bulk(b"standalone");
    r.bulk(b"role");
    r.bulk(b"master");
    r.bulk(b"modules");
    r.array(0);
    r.buf.freeze()
}

fn client(proxy: &Proxy, s: &mut Session, r: &mut protocol::Reply, args: &[Bytes]) {
    let sub = args.get(1).map(|a| lower(a)).unwrap_or_default();
    match sub.as_str() {
        "id" => r.int(s.id as i64),
        "setname" if args.len() == 3 => {
            if args[2].iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
                r.error("ERR Client names cannot contain spaces, newlines or special characters.");
                return;
            }
            s.name = (!args[2].is_empty()).then(|| args[2].clone());
            r.ok();
        }
        "getname" => match &s.name {
            Some(n) => r.bulk(n),
            None => r.null(),
        },
        "list" | "info" => {
            let line = format!(
                "id={} addr={} laddr={} name={} resp={} user={} connected_clients={}\n",
                s.id,
                s.peer_text(),
                s.local_text(),
                s.name.as_ref().map(|n| String::from_utf8_lossy(n).into_owned()).unwrap_or_default(),
                if s.resp3 { 3 } else { 2 },
                s.user,
                proxy.clients.load(Ordering::Relaxed)
            );
            r.verbatim(line.as_bytes());
        }
        _ => r.error(&format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
            String::from_utf8_lossy(args.get(1).map_or(&b""[..], |a| &a[..]))
        )),
    }
}
