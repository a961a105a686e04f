//! Planning over every route and command family, on a three-master map with one replica each,
//! without sockets (as Envoy tests its command splitter).

use super::*;
use crate::topology::UNASSIGNED;

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Masters 7000, 7001, 7002 own thirds of the slots; replicas on 8000, 8001, 8002.
fn map() -> SlotMap {
    let slots = (0..protocol::SLOT_COUNT).map(|s| (s * 3 / protocol::SLOT_COUNT) as u16).collect();
    SlotMap {
        slots,
        masters: vec![addr(7000), addr(7001), addr(7002)],
        replicas: vec![vec![addr(8000)], vec![addr(8001)], vec![addr(8002)]],
    }
}

fn ctx(map: &SlotMap) -> Ctx<'_> {
    Ctx { map, client: 4, read_policy: ReadPolicy::Master, cross_slot: CrossSlot::Emulate }
}

fn args(words: &[&str]) -> Vec<Bytes> {
    words.iter().map(|w| Bytes::copy_from_slice(w.as_bytes())).collect()
}

fn run(ctx: &Ctx, words: &[&str]) -> Plan {
    let a = args(words);
    plan(ctx, protocol::lookup(&a[0]), &a)
}

/// The master owning `key`'s slot.
fn owner(key: &str) -> SocketAddr {
    map().master_of(key_slot(key.as_bytes())).unwrap()
}

/// Two keys on different masters.
fn apart() -> (&'static str, &'static str) {
    let keys = ["a", "b", "c", "d", "e", "f", "g", "h"];
    for x in keys {
        for y in keys {
            if owner(x) != owner(y) {
                return (x, y);
            }
        }
    }
    unreachable!("eight keys on one master")
}

#[test]
fn single_slot_commands_go_to_the_slot_master() {
    let m = map();
    let Plan::One(p) = run(&ctx(&m), &["GET", "user:1"]) else { panic!() };
    assert_eq!(p.target, owner("user:1"));
    assert_eq!(p.slot, Some(key_slot(b"user:1")));
    assert!(p.repeatable && p.args == PartArgs::Whole);
    // Hash-tagged multi-key commands stay whole on their slot.
    let Plan::One(p) = run(&ctx(&m), &["SINTER", "{t}a", "{t}b"]) else { panic!() };
    assert_eq!(p.target, owner("t"));
}

#[test]
fn reads_go_to_a_replica_under_prefer_replica_and_writes_do_not() {
    let m = map();
    let c = Ctx { read_policy: ReadPolicy::PreferReplica, ..ctx(&m) };
    let Plan::One(read) = run(&c, &["GET", "k"]) else { panic!() };
    let Plan::One(write) = run(&c, &["SET", "k", "v"]) else { panic!() };
    assert_eq!(write.target, owner("k"));
    assert_eq!(read.target.port(), owner("k").port() + 1000);
}

#[test]
fn keyless_commands_go_to_the_clients_master() {
    let m = map();
    for cmd in [&["TIME"][..], &["CONFIG", "GET", "maxmemory"], &["LASTSAVE"]] {
        let Plan::One(p) = run(&ctx(&m), cmd) else { panic!("{cmd:?}") };
        assert_eq!(p.target, m.masters[4 % 3], "{cmd:?}");
    }
}

#[test]
fn retry_rule_comes_from_the_table() {
    let m = map();
    let repeatable = |w: &[&str]| match run(&ctx(&m), w) {
        Plan::One(p) => p.repeatable,
        other => panic!("{other:?}"),
    };
    assert!(repeatable(&["SET", "k", "v"]));
    assert!(!repeatable(&["SET", "k", "v", "NX"]));
    assert!(!repeatable(&["INCR", "k"]));
    assert!(repeatable(&["HSET", "h", "f", "v"]));
    assert!(repeatable(&["LRANGE", "l", "0", "-1"]));
    assert!(!repeatable(&["LPUSH", "l", "x"]));
}

#[test]
fn split_commands_carry_their_keys_per_slot() {
    let m = map();
    let (x, y) = apart();
    let Plan::Split(Merge::InKeyOrder, parts, keys) = run(&ctx(&m), &["MGET", x, y, x]) else { panic!() };
    assert_eq!(parts.len(), 2);
    let carried = |p: &Part| match &p.args {
        PartArgs::Keys { stride, range } => (*stride, keys[range.clone()].iter().map(|k| k.1).collect::<Vec<_>>()),
        other => panic!("{other:?}"),
    };
    let (on_x, on_y) = if parts[0].target == owner(x) { (&parts[0], &parts[1]) } else { (&parts[1], &parts[0]) };
    assert_eq!(carried(on_x), (1, vec![0, 2]));
    assert_eq!(carried(on_y), (1, vec![1]));
    assert_eq!(on_y.target, owner(y));
    let Plan::Split(Merge::AllOk, parts, keys) = run(&ctx(&m), &["MSET", x, "1", y, "2"]) else { panic!() };
    let on_y = parts.iter().find(|p| p.target == owner(y)).unwrap();
    let PartArgs::Keys { stride: 2, range } = &on_y.args else { panic!() };
    assert_eq!(keys[range.clone()].iter().map(|k| k.1).collect::<Vec<_>>(), [1]);
    assert!(matches!(run(&ctx(&m), &["DEL", x, y]), Plan::Split(Merge::Sum, ..)));
    assert!(matches!(run(&ctx(&m), &["EXISTS", x, y]), Plan::Split(Merge::Sum, ..)));
    // One slot: sent as it came, and the node's reply is the answer.
    let Plan::One(part) = run(&ctx(&m), &["DEL", "{t}1", "{t}2"]) else { panic!() };
    assert_eq!(part.args, PartArgs::Whole);
    assert_eq!(
        run(&ctx(&m), &["MSET", "a", "1", "b"]),
        Plan::Error("ERR wrong number of arguments for 'mset' command".into())
    );
}

#[test]
fn fanout_commands_reach_every_master() {
    let m = map();
    for (cmd, merge) in [
        (&["DBSIZE"][..], Merge::Sum),
        (&["KEYS", "*"], Merge::Concat),
        (&["FLUSHALL"], Merge::AllOk),
        (&["SCRIPT", "LOAD", "return 1"], Merge::FirstReply),
        (&["SCRIPT", "EXISTS", "abc"], Merge::AllTrue),
        (&["script", "flush"], Merge::AllOk),
    ] {
        let Plan::Fanout(got, parts) = run(&ctx(&m), cmd) else { panic!("{cmd:?}") };
        assert_eq!(got, merge, "{cmd:?}");
        assert_eq!(parts.iter().map(|p| p.target).collect::<Vec<_>>(), m.masters);
    }
    let Plan::Fanout(Merge::Info, parts) = run(&ctx(&m), &["INFO"]) else { panic!() };
    assert_eq!(parts[0].args, PartArgs::Own(args(&["INFO", "keyspace"])));
    let Plan::Fanout(Merge::RandomKey, parts) = run(&ctx(&m), &["RANDOMKEY"]) else { panic!() };
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[2].args, PartArgs::Own(args(&["DBSIZE"])));
}

#[test]
fn cross_slot_commands_are_gathered_or_refused() {
    let m = map();
    let (x, y) = apart();
    for (cmd, gather) in [
        (vec!["SINTER", x, y], Gather::Colocate),
        (vec!["SUNIONSTORE", x, y], Gather::Colocate),
        (vec!["ZUNION", "2", x, y], Gather::Colocate),
        (vec!["ZINTERSTORE", x, "1", y], Gather::Colocate),
        (vec!["LCS", x, y], Gather::Colocate),
        (vec!["SORT", x, "STORE", y], Gather::Colocate),
        (vec!["RENAME", x, y], Gather::Rename),
        (vec!["RENAMENX", x, y], Gather::RenameNx),
        (vec!["COPY", x, y, "REPLACE"], Gather::Copy),
        (vec!["SMOVE", x, y, "m"], Gather::Smove),
        (vec!["LMOVE", x, y, "LEFT", "RIGHT"], Gather::Lmove),
        (vec!["RPOPLPUSH", x, y], Gather::Lmove),
        (vec!["MSETNX", x, "1", y, "2"], Gather::Msetnx),
        (vec!["LMPOP", "2", x, y, "LEFT"], Gather::FirstNonEmpty),
        (vec!["ZMPOP", "2", x, y, "MIN"], Gather::FirstNonEmpty),
    ] {
        assert_eq!(run(&ctx(&m), &cmd), Plan::Gather(gather), "{cmd:?}");
        let refuse = Ctx { cross_slot: CrossSlot::Refuse, ..ctx(&m) };
        assert_eq!(run(&refuse, &cmd), Plan::Error(CROSSSLOT.into()), "{cmd:?}");
    }
    // Scripts cannot be split: their keys must share a slot, as in Redis Cluster.
    assert_eq!(run(&ctx(&m), &["EVAL", "return 1", "2", x, y]), Plan::Error(CROSSSLOT.into()));
}

#[test]
fn pinned_commands() {
    let m = map();
    let (x, y) = apart();
    assert_eq!(run(&ctx(&m), &["MULTI"]), Plan::Pinned(Pin::Transaction, None));
    assert_eq!(run(&ctx(&m), &["EXEC"]), Plan::Pinned(Pin::Transaction, None));
    assert_eq!(run(&ctx(&m), &["WATCH", x]), Plan::Pinned(Pin::Watch, Some(key_slot(x.as_bytes()))));
    assert_eq!(run(&ctx(&m), &["WATCH", x, y]), Plan::Error(CROSSSLOT.into()));
    assert_eq!(run(&ctx(&m), &["BLPOP", x, "0"]), Plan::Pinned(Pin::Blocking, Some(key_slot(x.as_bytes()))));
    assert_eq!(run(&ctx(&m), &["BLPOP", x, y, "0"]), Plan::Pinned(Pin::Blocking, None));
    assert_eq!(run(&ctx(&m), &["BLMOVE", x, y, "LEFT", "LEFT", "0"]), Plan::Pinned(Pin::Blocking, None));
    let refuse = Ctx { cross_slot: CrossSlot::Refuse, ..ctx(&m) };
    assert_eq!(run(&refuse, &["BRPOP", x, y, "1"]), Plan::Error(CROSSSLOT.into()));
}

#[test]
fn local_special_and_refused_commands() {
    let m = map();
    for cmd in [
        &["PING"][..],
        &["HELLO", "3"],
        &["CLIENT", "GETNAME"],
        &["ACL", "WHOAMI"],
        &["COMMAND", "COUNT"],
        &["UNWATCH"],
    ] {
        assert_eq!(run(&ctx(&m), cmd), Plan::Local, "{cmd:?}");
    }
    assert_eq!(run(&ctx(&m), &["WAIT", "1", "0"]), Plan::Wait);
    assert_eq!(run(&ctx(&m), &["SUBSCRIBE", "c"]), Plan::Subscribe);
    let Plan::Error(e) = run(&ctx(&m), &["REPLICAOF", "no", "one"]) else { panic!() };
    assert!(e.starts_with("ERR unknown command 'REPLICAOF'"), "{e}");
    assert_eq!(run(&ctx(&m), &["GET"]), Plan::Error("ERR wrong number of arguments for 'get' command".into()));
    assert_eq!(
        run(&ctx(&m), &["CONFIG", "GET"]),
        Plan::Error("ERR wrong number of arguments for 'config|get' command".into())
    );
}

#[test]
fn scan_cursors_name_the_master() {
    let m = map();
    let Plan::Scan(0, p) = run(&ctx(&m), &["SCAN", "0", "COUNT", "10"]) else { panic!() };
    assert_eq!(p.target, m.masters[0]);
    let cursor = ((2u64 << SCAN_NODE_SHIFT) | 17).to_string();
    let Plan::Scan(2, p) = run(&ctx(&m), &["SCAN", &cursor]) else { panic!() };
    assert_eq!(p.args, PartArgs::Own(args(&["SCAN", "17"])));
    assert_eq!(run(&ctx(&m), &["SCAN", "x"]), Plan::Error("ERR invalid cursor".into()));
    let gone = (5u64 << SCAN_NODE_SHIFT).to_string();
    assert!(matches!(run(&ctx(&m), &["SCAN", &gone]), Plan::Reply(_)));
}

#[test]
fn unserved_slots_and_an_empty_map() {
    let mut m = map();
    m.slots[key_slot(b"k") as usize] = UNASSIGNED;
    assert_eq!(run(&ctx(&m), &["GET", "k"]), Plan::Error("CLUSTERDOWN Hash slot not served".into()));
    let empty = SlotMap { slots: vec![UNASSIGNED; protocol::SLOT_COUNT], masters: vec![], replicas: vec![] };
    assert_eq!(run(&ctx(&empty), &["DBSIZE"]), Plan::Error("CLUSTERDOWN The cluster is down".into()));
    assert_eq!(run(&ctx(&empty), &["TIME"]), Plan::Error("CLUSTERDOWN The cluster is down".into()));
}

#[test]
fn unknown_commands_route_by_their_first_argument() {
    let m = map();
    let a = args(&["XADD", "stream", "*", "f", "v"]);
    let Plan::One(p) = plan(&ctx(&m), None, &a) else { panic!() };
    assert_eq!(p.target, owner("stream"));
    assert!(!p.repeatable);
}

#[test]
fn every_command_of_the_table_plans() {
    // No route panics or falls through, whatever the arguments.
    let m = map();
    for spec in protocol::command::COMMANDS.iter().chain(protocol::command::COMMANDS.iter().flat_map(|c| c.subcommands))
    {
        let mut words = vec![spec.name.split('|').next().unwrap()];
        if let Some((_, sub)) = spec.name.split_once('|') {
            words.push(sub);
        }
        words.extend(["2", "k1", "k2", "0"]);
        let _ = run(&ctx(&m), &words);
        assert!(serves(spec, true) || spec.route == Route::NotServed, "{}", spec.name);
    }
}

/// Bounded fuzzing of planning, whose input is whatever a client sends: random argument
/// vectors (table commands and subcommands in any case, keys, edge numbers, option words,
/// junk) over full, partial and empty slot maps and every client setting. Planning never
/// panics, and a split's key ranges index the request as `exec::push` reads them.
#[test]
fn random_requests_plan_without_panicking() {
    let mut state = 0x5107_6a7e_u64;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D) as usize
    };
    let full = map();
    let mut partial = map();
    partial.replicas.truncate(1);
    for s in partial.slots.iter_mut().step_by(7) {
        *s = UNASSIGNED;
    }
    partial.slots[100] = 9; // an index past the masters, as a map mid-refresh might hold
    let empty = SlotMap { slots: vec![UNASSIGNED; protocol::SLOT_COUNT], masters: Vec::new(), replicas: Vec::new() };
    let maps = [&full, &partial, &empty];
    let commands = protocol::command::COMMANDS;
    const WORDS: &[&str] = &[
        "0",
        "1",
        "2",
        "3",
        "-1",
        "-2",
        "100",
        "9223372036854775807",
        "18446744073709551615",
        "99999999999999999999",
        "1.5",
        "",
        "BLOCK",
        "COUNT",
        "STREAMS",
        "KEYS",
        "NUMKEYS",
        "WITHSCORES",
        "LIMIT",
        "STORE",
        "GET",
        "BY",
        "MATCH",
        "TYPE",
        "$",
        ">",
        "*",
        "{t}a",
        "{t}b",
        "{}",
        "{",
        "k1",
        "k2",
        "k3",
        "user:1",
    ];
    for _ in 0..iterations() {
        let mut args: Vec<Bytes> = Vec::new();
        if next() % 8 == 0 {
            args.push(Bytes::from((0..next() % 12).map(|_| next() as u8).collect::<Vec<u8>>()));
        } else {
            let spec = &commands[next() % commands.len()];
            let name: String =
                spec.name.chars().map(|c| if next() % 2 == 0 { c.to_ascii_uppercase() } else { c }).collect();
            args.push(Bytes::from(name));
            if !spec.subcommands.is_empty() && next() % 4 != 0 {
                let sub = &spec.subcommands[next() % spec.subcommands.len()];
                args.push(Bytes::from(sub.name.split_once('|').map_or(sub.name, |(_, s)| s).to_string()));
            }
        }
        for _ in 0..next() % 10 {
            let arg = match next() % 4 {
                0 => Bytes::from(format!("key:{}", next() % 50)),
                1 => Bytes::from((0..next() % 6).map(|_| next() as u8).collect::<Vec<u8>>()),
                _ => Bytes::from_static(WORDS[next() % WORDS.len()].as_bytes()),
            };
            args.push(arg);
        }
        let m = maps[next() % maps.len()];
        let ctx = Ctx {
            map: m,
            client: next() % 1000,
            read_policy: if next() % 2 == 0 { ReadPolicy::Master } else { ReadPolicy::PreferReplica },
            cross_slot: if next() % 2 == 0 { CrossSlot::Emulate } else { CrossSlot::Refuse },
        };
        let spec = protocol::lookup(&args[0]);
        let planned = plan(&ctx, spec, &args);
        if let Some(spec) = spec {
            let _ = command_slot(resolve(spec, &args), &args);
            let _ = spec.retry.allows(&args);
        }
        let _ = protocol::command::block_option(&args);
        match &planned {
            Plan::Split(_, parts, keys) => {
                for part in parts {
                    let PartArgs::Keys { stride, range } = &part.args else { panic!("{args:?}: {part:?}") };
                    let picked = keys.get(range.clone()).unwrap_or_else(|| panic!("{args:?}: {range:?} of {keys:?}"));
                    assert!(
                        picked.iter().all(|&(_, k)| args.get(1 + k * stride..1 + (k + 1) * stride).is_some()),
                        "{args:?}: {planned:?}"
                    );
                }
            }
            Plan::Scan(node, _) => assert!(*node < m.masters.len(), "{args:?}"),
            _ => {}
        }
    }
}

/// How many inputs the randomized test tries: a bounded number by default, more for the long
/// form (`bench/fuzz.sh` sets `SLOTGATE_FUZZ_ITERATIONS`).
fn iterations() -> usize {
    std::env::var("SLOTGATE_FUZZ_ITERATIONS").ok().and_then(|n| n.parse().ok()).unwrap_or(50_000)
}
