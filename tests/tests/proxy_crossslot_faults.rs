//! Cross-slot work through `slotgate-proxy` while the cluster changes underneath: WAIT through
//! a SIGKILL failover, and RENAME/SMOVE/LMOVE moving values between masters during a live
//! reshard and while a master is SIGKILLed. Afterwards no acknowledged value is lost and none
//! sits in two places after an acknowledged move.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::{cmd, RedisResult};
use slotgate_tests::{cluster_nodes, key_in, require_tool, slot_owner, wait_until, Cluster, Kind, Proxy};

slotgate_tests::on_both_clusters!(
    wait_keeps_every_write_it_confirmed_through_a_failover,
    moves_across_slots_while_resharding_lose_and_duplicate_nothing,
    moves_across_slots_while_a_master_dies_lose_and_duplicate_nothing
);

/// 8 clients through the proxy each SET a unique key then WAIT 1 1000 while a master is
/// SIGKILLed and its replica takes over (node timeout 2000): no write whose WAIT answered at
/// least 1 is lost.
fn wait_keeps_every_write_it_confirmed_through_a_failover(kind: Kind) {
    if (kind == Kind::Redis && !require_tool("redis-server")) || !require_tool("redis-cli") {
        return;
    }
    let mut cluster = Cluster::create(kind, 3, 1, 2000);
    let seed = cluster.ports()[0];
    let proxy = Arc::new(Proxy::start(seed, &["--retry-deadline-ms", "8000"]));
    let nodes = cluster.nodes();
    let victim = nodes.iter().find(|n| n.is_master() && n.slots > 0 && n.port != seed).expect("a master").clone();
    let replica = nodes.iter().find(|n| n.master_id.as_deref() == Some(victim.id.as_str())).expect("a replica").clone();
    let observer = cluster.ports().into_iter().find(|&p| p != victim.port && p != replica.port).unwrap();

    const WRITERS: usize = 8;
    const PER_WRITER: usize = 600;
    let stop = Arc::new(AtomicBool::new(false));
    let confirmed = Arc::new(Mutex::new(Vec::new()));
    let attempted = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(90);
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (proxy, stop, confirmed, attempted) =
                (proxy.clone(), stop.clone(), confirmed.clone(), attempted.clone());
            std::thread::spawn(move || {
                let mut c = proxy.conn();
                for i in 0..PER_WRITER {
                    if stop.load(Ordering::Relaxed) || Instant::now() > deadline {
                        break;
                    }
                    attempted.fetch_add(1, Ordering::Relaxed);
                    let key = format!("wait:{w}:{i}");
                    let set: RedisResult<()> = cmd("SET").arg(&key).arg(i).query(&mut c);
                    if set.is_err() {
                        continue;
                    }
                    let acked: RedisResult<i64> = cmd("WAIT").arg(1).arg(1000).query(&mut c);
                    if acked.is_ok_and(|n| n >= 1) {
                        confirmed.lock().unwrap().push((key, i));
                    }
                }
            })
        })
        .collect();
    let going = wait_until(Duration::from_secs(30), || confirmed.lock().unwrap().len() >= 200);
    assert!(going, "writes with WAIT do not get going");
    let before_kill = confirmed.lock().unwrap().len();
    cluster.kill(victim.port);
    let failed_over = wait_until(Duration::from_secs(30), || {
        cluster_nodes(observer).is_some_and(|ns| ns.iter().any(|n| n.id == replica.id && n.is_master()))
    });
    assert!(failed_over, "replica {} did not take over from {}", replica.port, victim.port);
    let at_failover = confirmed.lock().unwrap().len();
    let continued = wait_until(Duration::from_secs(30), || confirmed.lock().unwrap().len() >= at_failover + 200);
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    assert!(continued, "confirmed writes did not continue after the failover");
    let confirmed = confirmed.lock().unwrap();
    let mut c = proxy.conn();
    let lost: Vec<&String> = confirmed
        .iter()
        .filter(|(key, i)| cmd("GET").arg(key).query::<Option<String>>(&mut c).ok().flatten() != Some(i.to_string()))
        .map(|(key, _)| key)
        .collect();
    println!(
        "{} writes attempted, {} confirmed by WAIT (>= 1): {before_kill} before the kill, {} after the failover",
        attempted.load(Ordering::Relaxed),
        confirmed.len(),
        confirmed.len() - at_failover
    );
    assert!(lost.is_empty(), "{} writes confirmed by WAIT are lost: {:?}", lost.len(), &lost[..lost.len().min(10)]);
}

/// Keys on two masters that values move between: the low ones in slots 0..900 (which a
/// reshard of 1000 slots from slot 0's master moves), the high ones in 11000..16384.
struct MoveKeys {
    rename: [String; 2],
    set: [String; 2],
    list: [String; 2],
}

const MEMBERS: usize = 20;

fn move_keys() -> MoveKeys {
    let pair = |p: &str| [key_in(0..900, p), key_in(11000..16384, p)];
    MoveKeys { rename: pair("rn:"), set: pair("st:"), list: pair("ls:") }
}

/// A token under the first rename key, MEMBERS members in the first set, as many elements in
/// the first list.
fn seed(proxy: &Proxy, k: &MoveKeys) {
    let mut c = proxy.conn();
    let _: () = cmd("SET").arg(&k.rename[0]).arg("token").query(&mut c).unwrap();
    let members: Vec<String> = (0..MEMBERS).map(|i| format!("m{i}")).collect();
    let _: i64 = cmd("SADD").arg(&k.set[0]).arg(&members).query(&mut c).unwrap();
    let _: i64 = cmd("RPUSH").arg(&k.list[0]).arg(&members).query(&mut c).unwrap();
}

/// Which command families got an error reply, and the first few errors.
#[derive(Default)]
struct MoveErrors {
    rename: bool,
    smove: bool,
    lmove: bool,
    seen: Vec<String>,
}

/// Moves values back and forth (RENAME, SMOVE, LMOVE across slots) until `stop` or 120 s,
/// counting three per round in `ops`.
fn spawn_mover(
    proxy: Arc<Proxy>,
    stop: Arc<AtomicBool>,
    ops: Arc<AtomicUsize>,
    errors: Arc<Mutex<MoveErrors>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let k = move_keys();
        let mut c = proxy.conn();
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut token_low = true;
        let note = |what: &str, e: redis::RedisError| {
            let mut errors = errors.lock().unwrap();
            match what {
                "RENAME" => errors.rename = true,
                "SMOVE" => errors.smove = true,
                _ => errors.lmove = true,
            }
            if errors.seen.len() < 10 {
                errors.seen.push(format!("{what}: {e}"));
            }
        };
        for i in 0..200_000usize {
            if stop.load(Ordering::Relaxed) || Instant::now() > deadline {
                break;
            }
            let (src, dst) = if token_low { (&k.rename[0], &k.rename[1]) } else { (&k.rename[1], &k.rename[0]) };
            match cmd("RENAME").arg(src).arg(dst).query::<()>(&mut c) {
                Ok(()) => token_low = !token_low,
                Err(e) => note("RENAME", e),
            }
            let member = format!("m{}", i % MEMBERS);
            let (a, b) = if i.is_multiple_of(2) { (&k.set[0], &k.set[1]) } else { (&k.set[1], &k.set[0]) };
            if let Err(e) = cmd("SMOVE").arg(a).arg(b).arg(&member).query::<i64>(&mut c) {
                note("SMOVE", e);
            }
            let (a, b) =
                if (i / MEMBERS).is_multiple_of(2) { (&k.list[0], &k.list[1]) } else { (&k.list[1], &k.list[0]) };
            if let Err(e) = cmd("LMOVE").arg(a).arg(b).arg("LEFT").arg("RIGHT").query::<Option<String>>(&mut c) {
                note("LMOVE", e);
            }
            ops.fetch_add(3, Ordering::Relaxed);
        }
    })
}

/// Every value is somewhere (none lost); it is in one place only, unless a move of its family
/// reported an error (a failed second step leaves a copy in both, never in neither).
fn check_each_value_once(proxy: &Proxy, k: &MoveKeys, errors: &MoveErrors) {
    let mut c = proxy.conn();
    let tokens: Vec<Option<String>> = cmd("MGET").arg(&k.rename[0]).arg(&k.rename[1]).query(&mut c).unwrap();
    let tokens: Vec<String> = tokens.into_iter().flatten().collect();
    assert!(!tokens.is_empty(), "the renamed value is lost");
    assert!(tokens.len() == 1 || errors.rename, "the renamed value is under both names: {tokens:?}");
    let want: std::collections::BTreeSet<String> = (0..MEMBERS).map(|i| format!("m{i}")).collect();
    for (what, got, erred) in [
        (
            "set members",
            [&k.set[0], &k.set[1]].map(|key| cmd("SMEMBERS").arg(key).query::<Vec<String>>(&mut c).unwrap()),
            errors.smove,
        ),
        (
            "list elements",
            [&k.list[0], &k.list[1]]
                .map(|key| cmd("LRANGE").arg(key).arg(0).arg(-1).query::<Vec<String>>(&mut c).unwrap()),
            errors.lmove,
        ),
    ] {
        let all: Vec<String> = got.concat();
        let distinct: std::collections::BTreeSet<String> = all.iter().cloned().collect();
        assert_eq!(distinct, want, "{what}: some are lost");
        assert!(all.len() == MEMBERS || erred, "{what} in two places after acknowledged moves: {all:?}");
    }
}

/// RENAME, SMOVE and LMOVE move values back and forth between keys on two masters while
/// `redis-cli --cluster reshard` moves the low keys' slots to a third: afterwards every value
/// is in exactly one place, and no move got an error.
fn moves_across_slots_while_resharding_lose_and_duplicate_nothing(kind: Kind) {
    if (kind == Kind::Redis && !require_tool("redis-server")) || !require_tool("redis-cli") {
        return;
    }
    let cluster = Cluster::create(kind, 3, 0, 5000);
    let seed_port = cluster.ports()[0];
    let proxy = Arc::new(Proxy::start(seed_port, &[]));
    let k = move_keys();
    let from = slot_owner(seed_port, 0).expect("slot 0 has an owner");
    let high_owner = slot_owner(seed_port, protocol::key_slot(k.rename[1].as_bytes())).unwrap();
    let to = cluster.master_ports().into_iter().find(|&p| p != from && p != high_owner).expect("a third master");
    seed(&proxy, &k);
    let (stop, ops, errors) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)), Arc::default());
    let mover = spawn_mover(proxy.clone(), stop.clone(), ops.clone(), Arc::clone(&errors));
    assert!(wait_until(Duration::from_secs(30), || ops.load(Ordering::Relaxed) >= 300), "moves do not get going");
    let before = ops.load(Ordering::Relaxed);
    let out = std::process::Command::new("redis-cli")
        .args(["--cluster", "reshard", &format!("127.0.0.1:{from}")])
        .args(["--cluster-from", &cluster.node_id(from), "--cluster-to", &cluster.node_id(to)])
        .args(["--cluster-slots", "1000", "--cluster-yes"])
        .output()
        .expect("redis-cli --cluster reshard");
    let after = ops.load(Ordering::Relaxed);
    let continued = wait_until(Duration::from_secs(30), || ops.load(Ordering::Relaxed) >= after + 300);
    stop.store(true, Ordering::Relaxed);
    mover.join().unwrap();
    assert!(
        out.status.success(),
        "reshard failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(slot_owner(seed_port, protocol::key_slot(k.rename[0].as_bytes())), Some(to), "the low keys' slot moved");
    let errors = errors.lock().unwrap();
    println!("{} moves during the reshard; errors: {:?}", after - before, errors.seen);
    assert!(continued, "moves stalled after the reshard");
    check_each_value_once(&proxy, &k, &errors);
    assert!(errors.seen.is_empty(), "moves got errors: {:?}", errors.seen);
}

/// The same moves while the master holding the high keys is SIGKILLed and its replica takes
/// over (node timeout 2000, a replica per master): no value lost, and a value in two places only
/// where a move of its family reported an error.
fn moves_across_slots_while_a_master_dies_lose_and_duplicate_nothing(kind: Kind) {
    if (kind == Kind::Redis && !require_tool("redis-server")) || !require_tool("redis-cli") {
        return;
    }
    let mut cluster = Cluster::create(kind, 3, 1, 2000);
    let seed_port = cluster.ports()[0];
    let k = move_keys();
    let victim_port = slot_owner(seed_port, protocol::key_slot(k.rename[1].as_bytes())).expect("an owner");
    let seed_port = cluster.ports().into_iter().find(|&p| p != victim_port).unwrap();
    let proxy = Arc::new(Proxy::start(seed_port, &["--retry-deadline-ms", "15000"]));
    let nodes = cluster.nodes();
    let victim = nodes.iter().find(|n| n.port == victim_port).unwrap().clone();
    let replica = nodes.iter().find(|n| n.master_id.as_deref() == Some(victim.id.as_str())).expect("a replica").clone();
    seed(&proxy, &k);
    let (stop, ops, errors) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)), Arc::default());
    let mover = spawn_mover(proxy.clone(), stop.clone(), ops.clone(), Arc::clone(&errors));
    assert!(wait_until(Duration::from_secs(30), || ops.load(Ordering::Relaxed) >= 300), "moves do not get going");
    cluster.kill(victim.port);
    let failed_over = wait_until(Duration::from_secs(30), || {
        cluster_nodes(seed_port).is_some_and(|ns| ns.iter().any(|n| n.id == replica.id && n.is_master()))
    });
    let after = ops.load(Ordering::Relaxed);
    let continued = wait_until(Duration::from_secs(60), || ops.load(Ordering::Relaxed) >= after + 300);
    stop.store(true, Ordering::Relaxed);
    mover.join().unwrap();
    assert!(failed_over, "replica {} did not take over from {}", replica.port, victim.port);
    assert!(continued, "moves stalled after the failover");
    let errors = errors.lock().unwrap();
    println!("{after} moves before the failover settled; errors: {:?}", errors.seen);
    check_each_value_once(&proxy, &k, &errors);
}
