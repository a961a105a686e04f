//! `slotgate scale`, `rebalance`, `fix` and `autoscale` against real clusters: scaling out from
//! 3 to 5 masters and back while clients write and read through the proxy (no error reply, no
//! acknowledged write lost, slots balanced at the end), a rebalance SIGKILLed halfway and run
//! again, autoscaling from memory pressure with a provisioning script, and bad input.

use std::collections::BTreeSet;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::{cmd, RedisResult};
use slotgate_tests::{binary, cluster_nodes, redis_cli, require_tool, scratch_dir, wait_until, Cluster, Kind, Proxy};

slotgate_tests::on_both_clusters!(
    scales_out_to_five_masters_and_back_under_load,
    replicas_join_and_are_re_pointed_when_their_master_goes,
    busy_keys_are_compared_before_they_are_replaced
);

fn slotgate(args: &[&str]) -> Output {
    Command::new(binary("slotgate")).args(args).stdin(Stdio::null()).output().expect("run slotgate")
}

fn show(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn seed(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

/// Slot counts of the masters that hold slots, as `via` sees them, and whether any node shows
/// an open slot.
fn slot_counts(cluster: &Cluster) -> Vec<usize> {
    cluster.nodes().iter().filter(|n| n.is_master() && n.slots > 0).map(|n| n.slots).collect()
}

fn open_slots(cluster: &Cluster) -> Vec<String> {
    cluster
        .ports()
        .iter()
        .filter_map(|&p| redis_cli(p, &["cluster", "nodes"]))
        .flat_map(|t| {
            t.lines().filter(|l| l.contains("myself") && l.contains('[')).map(str::to_string).collect::<Vec<_>>()
        })
        .collect()
}

/// Every master within 2% of an even share (redis-cli's rebalance threshold), all 16384 covered.
fn assert_balanced(cluster: &Cluster, masters: usize) {
    let settled = wait_until(Duration::from_secs(20), || {
        let c = slot_counts(cluster);
        c.len() == masters && c.iter().sum::<usize>() == 16384
    });
    let counts = slot_counts(cluster);
    assert!(settled, "expected {masters} masters covering every slot, got {counts:?}");
    let even = 16384.0 / masters as f64;
    for c in &counts {
        assert!((100.0 - 100.0 * even / *c as f64).abs() <= 2.0, "unbalanced: {counts:?}");
    }
    assert!(open_slots(cluster).is_empty(), "open slots left: {:?}", open_slots(cluster));
}

/// Writers through the proxy: each SETs unique keys and GETs them back; every error reply is
/// kept, every acknowledged key too.
struct Load {
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<(String, String)>>>,
    errors: Arc<Mutex<Vec<String>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(proxy: &Arc<Proxy>, writers: usize, per_writer: usize, limit: Duration) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(Mutex::new(Vec::new()));
        let errors = Arc::new(Mutex::new(Vec::new()));
        let deadline = Instant::now() + limit;
        let threads = (0..writers)
            .map(|w| {
                let (proxy, stop, acked, errors) = (proxy.clone(), stop.clone(), acked.clone(), errors.clone());
                std::thread::spawn(move || {
                    let mut c = proxy.conn();
                    for i in 0..per_writer {
                        if stop.load(Ordering::Relaxed) || Instant::now() > deadline {
                            break;
                        }
                        let (key, val) = (format!("load:{w}:{i}"), format!("v{w}-{i}"));
                        let set: RedisResult<()> = cmd("SET").arg(&key).arg(&val).query(&mut c);
                        if let Err(e) = set {
                            errors.lock().unwrap().push(format!("SET {key}: {e}"));
                            continue;
                        }
                        acked.lock().unwrap().push((key.clone(), val.clone()));
                        let got: RedisResult<Option<String>> = cmd("GET").arg(&key).query(&mut c);
                        match got {
                            Ok(Some(v)) if v == val => {}
                            other => errors.lock().unwrap().push(format!("GET {key}: {other:?}")),
                        }
                    }
                })
            })
            .collect();
        Load { stop, acked, errors, threads }
    }

    /// Stops the writers and checks that no error was seen and every acknowledged key reads back.
    fn finish(self, proxy: &Proxy) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.join().expect("writer panicked");
        }
        let errors = self.errors.lock().unwrap().clone();
        assert!(errors.is_empty(), "{} error(s), first: {:?}", errors.len(), &errors[..errors.len().min(5)]);
        let acked = self.acked.lock().unwrap().clone();
        let mut c = proxy.conn();
        let lost: Vec<&String> = acked
            .iter()
            .filter(|(k, v)| {
                cmd("GET").arg(k).query::<Option<String>>(&mut c).ok().flatten().as_deref() != Some(v.as_str())
            })
            .map(|(k, _)| k)
            .collect();
        assert!(lost.is_empty(), "{} acknowledged key(s) lost, first: {:?}", lost.len(), &lost[..lost.len().min(5)]);
        acked.len()
    }
}

/// 3 -> 5 masters with `scale add`, then back to 3 with two `scale remove` (one added node,
/// one original), while 8 clients write and read through the proxy.
fn scales_out_to_five_masters_and_back_under_load(kind: Kind) {
    if (kind == Kind::Redis && !require_tool("redis-server")) || !require_tool("redis-cli") {
        return;
    }
    let mut cluster = Cluster::create(kind, 3, 0, 5000);
    let s = seed(cluster.ports()[0]);
    let original: Vec<u16> = cluster.ports();
    let (p4, p5) = (cluster.add_node(), cluster.add_node());
    let proxy = Arc::new(Proxy::start(original[0], &["--retry-deadline-ms", "8000"]));
    let load = Load::start(&proxy, 8, 200_000, Duration::from_secs(240));
    std::thread::sleep(Duration::from_millis(500));

    let out = slotgate(&["scale", "add", "-s", &s, &seed(p4), &seed(p5)]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_balanced(&cluster, 5);
    assert!(cluster_nodes(p5).unwrap().iter().any(|n| n.port == p5 && n.slots > 0));

    let out = slotgate(&["scale", "remove", "-s", &s, &seed(p4)]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    cluster.forget_process(p4);
    // An original master this time, stopped by the command.
    let victim = original[1];
    let out = slotgate(&["scale", "remove", "-s", &s, &seed(victim), "--shutdown"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(
        wait_until(Duration::from_secs(10), || redis_cli(victim, &["ping"]).is_none()),
        "--shutdown left it running"
    );
    cluster.forget_process(victim);
    assert_balanced(&cluster, 3);
    let known: Vec<u16> = cluster.nodes().iter().map(|n| n.port).collect();
    assert!(!known.contains(&p4) && !known.contains(&victim), "removed nodes still known: {known:?}");

    let written = load.finish(&proxy);
    assert!(written > 500, "only {written} writes were acknowledged");
}

/// A rebalance SIGKILLed while it moves slots leaves the cluster open or unbalanced; running it
/// again repairs and finishes it, and no key is lost.
#[test]
fn interrupted_rebalance_is_finished_by_running_it_again() {
    if !require_tool("redis-cli") {
        return;
    }
    let mut cluster = Cluster::create(Kind::Slotgate, 3, 0, 5000);
    let s = seed(cluster.ports()[0]);
    let p4 = cluster.add_node();
    let proxy = Proxy::start(cluster.ports()[0], &[]);
    let mut c = proxy.conn();
    let keys: Vec<String> = (0..20_000).map(|i| format!("k{i}")).collect();
    for chunk in keys.chunks(100) {
        for k in chunk {
            let _: () = cmd("SET").arg(k).arg(k).query(&mut c).expect("SET");
        }
    }
    let out = slotgate(&["scale", "add", "--no-rebalance", "-s", &s, &seed(p4)]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(slot_counts(&cluster).len(), 3, "--no-rebalance gave slots away");

    let mut child = Command::new(binary("slotgate"))
        .args(["rebalance", "--use-empty-masters", "-s", &s])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start slotgate rebalance");
    // Kill it while a slot is open, or after some slots moved when none is caught open.
    let started = Instant::now();
    let caught = wait_until(Duration::from_secs(20), || {
        !open_slots(&cluster).is_empty()
            || (started.elapsed() > Duration::from_secs(3) && slot_counts(&cluster).len() == 4)
    });
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    assert!(caught, "the rebalance neither opened a slot nor moved any within 20 s");
    let health = slotgate(&["health", "-s", &s]);
    let dry = slotgate(&["rebalance", "--use-empty-masters", "--dry-run", "-s", &s]);
    assert_eq!(dry.status.code(), Some(0), "{}", show(&dry));
    let dry_text = String::from_utf8_lossy(&dry.stdout).to_string() + &String::from_utf8_lossy(&dry.stderr);
    assert!(
        health.status.code() != Some(0) || dry_text.contains("would move"),
        "the killed rebalance left nothing to do:\n{}\n{}",
        show(&health),
        dry_text
    );

    let out = slotgate(&["rebalance", "--use-empty-masters", "-s", &s]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_balanced(&cluster, 4);
    let missing: Vec<&String> = keys
        .iter()
        .filter(|k| cmd("GET").arg(k).query::<Option<String>>(&mut c).ok().flatten().as_deref() != Some(k.as_str()))
        .collect();
    assert!(missing.is_empty(), "{} key(s) lost, first {:?}", missing.len(), &missing[..missing.len().min(5)]);
    let out = slotgate(&["rebalance", "--use-empty-masters", "-s", &s]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("No rebalancing needed"), "{}", show(&out));
}

fn info_num(port: u16, field: &str) -> u64 {
    let text = redis_cli(port, &["info", "memory"]).unwrap_or_default();
    text.lines().find_map(|l| l.strip_prefix(&format!("{field}:"))).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

/// A node's id, whether it is a master, and its slot ranges.
type NodeShape = (String, bool, Vec<(u16, u16)>);

/// What CLUSTER NODES says that matters: ids, roles and slots (not ping times).
fn shape(cluster: &Cluster) -> BTreeSet<NodeShape> {
    cluster.nodes().into_iter().map(|n| (n.id.clone(), n.is_master(), n.ranges.clone())).collect()
}

/// Memory over the policy's threshold: `--dry-run` only says so; the real run provisions one
/// node (step 3, capped by max_masters 4) through the script and rebalances onto it. With
/// the pressure gone, it scales back down to min_masters and deprovisions the removed nodes.
#[test]
fn autoscale_adds_masters_under_memory_pressure_and_removes_them_after() {
    if !require_tool("redis-cli") {
        return;
    }
    let mut cluster = Cluster::create(Kind::Slotgate, 3, 0, 5000);
    let s = seed(cluster.ports()[0]);
    let masters = cluster.ports();
    let spare = [cluster.add_node()];
    let proxy = Proxy::start(masters[0], &[]);
    let mut c = proxy.conn();
    let value = "x".repeat(1000);
    for i in 0..3000 {
        let _: () = cmd("SET").arg(format!("fill{i}")).arg(&value).query(&mut c).expect("SET");
    }
    for &p in &masters {
        let limit = info_num(p, "used_memory") * 100 / 85;
        redis_cli(p, &["config", "set", "maxmemory", &limit.to_string()]).expect("CONFIG SET");
    }
    for &p in &spare {
        redis_cli(p, &["config", "set", "maxmemory", &(info_num(masters[0], "used_memory") * 10).to_string()])
            .expect("CONFIG SET");
    }
    let dir = scratch_dir("autoscale");
    let pool: String = spare.iter().map(|p| format!("127.0.0.1:{p}\n")).collect();
    std::fs::write(dir.join("pool"), pool).unwrap();
    let script = dir.join("provision.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\nd=$(dirname \"$0\")\nn=$(cat \"$d/next\" 2>/dev/null || echo 0)\nline=$(sed -n \"$((n+1))p\" \"$d/pool\")\n\
         [ -n \"$line\" ] || { echo 'pool exhausted' >&2; exit 1; }\necho $((n+1)) > \"$d/next\"\necho \"$line\"\n",
    )
    .unwrap();
    let policy = dir.join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "min_masters = 3\nmax_masters = 4\nstep = 3\nprovision = \"sh {}\"\ndeprovision = \"echo >> {}\"\n\
             [scale_up]\nmemory_pct = 70\n[scale_down]\nmemory_pct = 20\nclients_per_master = 50\n",
            script.display(),
            dir.join("gone").display()
        ),
    )
    .unwrap();
    let policy = policy.to_str().unwrap();

    let before = shape(&cluster);
    let out = slotgate(&["autoscale", "--policy", policy, "--dry-run", "--json", "--interval", "0.2", "-s", &s]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("\"action\": \"up\"") && text.contains("\"count\": 1"), "{}", show(&out));
    assert!(text.contains("average memory"), "no reason given: {text}");
    assert_eq!(shape(&cluster), before, "--dry-run changed the cluster");
    assert!(!dir.join("next").exists(), "--dry-run ran the provisioning script");

    let out = slotgate(&["autoscale", "--policy", policy, "--interval", "0.2", "-s", &s]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("decision: scale up by 1"), "{}", show(&out));
    assert_balanced(&cluster, 4);

    // The pressure is gone: maxmemory far above use everywhere.
    for p in cluster.ports() {
        redis_cli(p, &["config", "set", "maxmemory", "4gb"]).expect("CONFIG SET");
    }
    let out = slotgate(&["autoscale", "--policy", policy, "--interval", "0.2", "-s", &s]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("decision: scale down by 1"), "{}", show(&out));
    let gone = std::fs::read_to_string(dir.join("gone")).unwrap_or_default();
    assert_eq!(gone.lines().count(), 1, "deprovision calls: {gone:?}");
    for addr in gone.lines() {
        let port: u16 = addr.trim().rsplit(':').next().unwrap().parse().unwrap();
        cluster.forget_process(port);
    }
    assert_balanced(&cluster, 3);
    let lost = (0..3000).filter(|i| cmd("EXISTS").arg(format!("fill{i}")).query::<i64>(&mut c).ok() != Some(1)).count();
    assert_eq!(lost, 0, "keys lost while autoscaling");
}

/// An unreachable seed and an unknown node fail with exit status 2 and say why.
#[test]
fn bad_input_fails_with_status_2() {
    let dead = format!("127.0.0.1:{}", slotgate_tests::free_port());
    for args in [vec!["rebalance", "-s", &dead, "--timeout", "1"], vec!["fix", "-s", &dead, "--timeout", "1"]] {
        let out = slotgate(&args);
        assert_eq!(out.status.code(), Some(2), "{}", show(&out));
        assert!(String::from_utf8_lossy(&out.stderr).contains("no seed answered"), "{}", show(&out));
    }
    if !require_tool("redis-cli") {
        return;
    }
    let mut cluster = Cluster::create(Kind::Slotgate, 3, 0, 5000);
    let s = seed(cluster.ports()[0]);
    let before = shape(&cluster);
    let out = slotgate(&["scale", "remove", "-s", &s, "0123456789abcdef0123456789abcdef01234567"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no node"), "{}", show(&out));
    let out = slotgate(&["rebalance", "-s", &s, "--weight", "nosuchnode:1=2"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let out = slotgate(&["scale", "add", "-s", &s, &dead]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert_eq!(shape(&cluster), before);

    // A node that died holding no slot is forgotten by every other node.
    let extra = cluster.add_node();
    let out = slotgate(&["scale", "add", "--no-rebalance", "-s", &s, &seed(extra)]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    cluster.forget_process(extra);
    let out = slotgate(&["scale", "remove", "-s", &s, &seed(extra)]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    for p in cluster.ports() {
        let known = cluster_nodes(p).unwrap_or_default();
        assert!(!known.iter().any(|n| n.port == extra), "{p} still knows the dead node");
    }
    assert_eq!(shape(&cluster), before);
}

/// `scale add --replica-of` makes a replica whose link comes up; removing its (empty) master
/// re-points it to a master that serves slots, and every node forgets the removed one.
fn replicas_join_and_are_re_pointed_when_their_master_goes(kind: Kind) {
    if (kind == Kind::Redis && !require_tool("redis-server")) || !require_tool("redis-cli") {
        return;
    }
    let mut cluster = Cluster::create(kind, 3, 0, 5000);
    let s = seed(cluster.ports()[0]);
    let (empty, replica) = (cluster.add_node(), cluster.add_node());
    let out = slotgate(&["scale", "add", "--no-rebalance", "-s", &s, &seed(empty)]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let out = slotgate(&["scale", "add", "--replica-of", &seed(empty), "-s", &s, &seed(replica)]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(redis_cli(replica, &["info", "replication"]).unwrap_or_default().contains("master_link_status:up"));
    let empty_id = cluster.node_id(empty);
    let me = |p: u16| cluster_nodes(p).unwrap_or_default().into_iter().find(|n| n.port == p);
    assert_eq!(me(replica).and_then(|n| n.master_id), Some(empty_id.clone()));

    let out = slotgate(&["scale", "remove", "-s", &s, &empty_id]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let masters: Vec<String> =
        cluster.nodes().into_iter().filter(|n| n.is_master() && n.slots > 0).map(|n| n.id).collect();
    let now = me(replica).and_then(|n| n.master_id).unwrap_or_default();
    assert!(masters.contains(&now), "the replica follows {now}, not a master with slots {masters:?}");
    for p in cluster.ports().into_iter().filter(|&p| p != empty) {
        assert!(
            !cluster_nodes(p).unwrap_or_default().iter().any(|n| n.id == empty_id),
            "{p} still knows the removed master"
        );
    }
}

/// Slots a master dropped (CLUSTER DELSLOTS) are assigned again by `fix`: the one holding a
/// key back to the master that has it, the empty ones spread over the masters.
#[test]
fn fix_assigns_unassigned_slots() {
    if !require_tool("redis-cli") {
        return;
    }
    let cluster = Cluster::create(Kind::Slotgate, 3, 0, 5000);
    let s = seed(cluster.ports()[0]);
    let key = slotgate_tests::key_on(0, "fixme");
    let slot = protocol::key_slot(key.as_bytes());
    let owner = slotgate_tests::slot_owner(cluster.ports()[0], slot).expect("owner");
    assert_eq!(redis_cli(owner, &["set", &key, "kept"]).as_deref(), Some("OK"));
    let slot_s = slot.to_string();
    let mut dropped: Vec<String> = vec![slot_s.clone()];
    dropped.extend((0..100u16).map(|i| (i + if slot < 200 { 300 } else { 0 }).to_string()).filter(|x| *x != slot_s));
    let mut args = vec!["cluster", "delslots"];
    args.extend(dropped.iter().map(String::as_str));
    assert_eq!(redis_cli(owner, &args).as_deref(), Some("OK"));
    let own_count =
        |p: u16| cluster_nodes(p).unwrap_or_default().into_iter().find(|n| n.port == p).map_or(0, |n| n.slots);
    let total = || cluster.ports().iter().map(|&p| own_count(p)).sum::<usize>();
    assert_eq!(total(), 16384 - dropped.len());

    let out = slotgate(&["fix", "-s", &s]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("assigned"), "{}", show(&out));
    assert_eq!(total(), 16384, "{}", show(&out));
    assert_eq!(slotgate_tests::slot_owner(owner, slot), Some(owner), "the slot with a key went elsewhere");
    assert_eq!(redis_cli(owner, &["get", &key]).as_deref(), Some("kept"));
    let out = slotgate(&["fix", "-s", &s]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Nothing to fix"), "{}", show(&out));
}

/// A key on both sides of a half-moved slot (BUSYKEY): equal copies are replaced silently,
/// different ones stop `fix` (exit 2, naming the key) until `fix --replace` keeps the source's.
fn busy_keys_are_compared_before_they_are_replaced(kind: Kind) {
    if (kind == Kind::Redis && !require_tool("redis-server")) || !require_tool("redis-cli") {
        return;
    }
    let cluster = Cluster::create(kind, 3, 0, 5000);
    let s = seed(cluster.ports()[0]);
    let (same, differ) = (slotgate_tests::key_on(0, "same"), slotgate_tests::key_on(0, "differ"));
    let owner = slotgate_tests::slot_owner(cluster.ports()[0], protocol::key_slot(same.as_bytes())).unwrap();
    let target = cluster.ports().into_iter().find(|&p| p != owner).unwrap();
    let (owner_id, target_id) = (cluster.node_id(owner), cluster.node_id(target));
    // Opens the key's slot from owner to target and writes `value` under `key` on both.
    let both = |key: &str, value_there: &str| {
        let slot = protocol::key_slot(key.as_bytes()).to_string();
        assert_eq!(redis_cli(owner, &["set", key, "source"]).as_deref(), Some("OK"));
        assert_eq!(redis_cli(target, &["cluster", "setslot", &slot, "importing", &owner_id]).as_deref(), Some("OK"));
        assert_eq!(redis_cli(owner, &["cluster", "setslot", &slot, "migrating", &target_id]).as_deref(), Some("OK"));
        let mut c = redis::Client::open(format!("redis://127.0.0.1:{target}/")).unwrap().get_connection().unwrap();
        let _: () = cmd("ASKING").query(&mut c).unwrap();
        let _: () = cmd("SET").arg(key).arg(value_there).query(&mut c).unwrap();
    };
    both(&same, "source");
    let out = slotgate(&["fix", "-s", &s]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(redis_cli(target, &["get", &same]).as_deref(), Some("source"));

    both(&differ, "target");
    let out = slotgate(&["fix", "-s", &s]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&differ), "{}", show(&out));
    let out = slotgate(&["fix", "--replace", "-s", &s]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(redis_cli(target, &["get", &differ]).as_deref(), Some("source"));
    assert!(open_slots(&cluster).is_empty(), "{:?}", open_slots(&cluster));
}
