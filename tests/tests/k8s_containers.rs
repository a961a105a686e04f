//! The StatefulSet's pods as Docker containers: six slotgate-node containers run with the
//! args, environment and ConfigMap of `deploy/k8s/nodes.yaml` (each with its pod IP and its
//! stable DNS name as a network alias, a volume of its own), the cluster formed by the create
//! Job's container and the proxy run as `proxy.yaml` runs it. Then a pod is rescheduled: its
//! container is removed and a new one comes up with the same name and volume but a new IP. It
//! rejoins as itself, the other nodes learn its new address, and the proxy — never restarted —
//! finds it by name and serves its slots again.

use std::process::Command;
use std::time::{Duration, Instant};

use slotgate_tests::docker::{leftovers, require_docker, run_once, Container, Image, Network, Volume};
use slotgate_tests::k8s::{block_list, config_block, list, manifest};
use slotgate_tests::{require_tool, scratch_dir, wait_until};

/// `redis-cli -h ip -p 6379 <args>`, stdout when it succeeded.
fn cli(ip: &str, args: &[&str]) -> Option<String> {
    let out = Command::new("redis-cli").args(["-h", ip, "-p", "6379"]).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The body of `GET path` (the request in one write, as the admin server wants it).
fn http_get(ip: &str, port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect((ip, port)).expect("admin port");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// Pod `i` of the StatefulSet: its name, DNS names and the `docker run` of its container.
struct Pod {
    name: String,
    /// `$(POD_NAME).slotgate-nodes.$(POD_NAMESPACE).svc`, as the node announces it.
    fqdn: String,
}

impl Pod {
    fn new(i: usize) -> Pod {
        let name = format!("slotgate-{i}");
        Pod { fqdn: format!("{name}.slotgate-nodes.default.svc"), name }
    }

    /// Starts the pod's container at `ip`: nodes.yaml's args with the downward-API variables
    /// filled in, the ConfigMap at /etc/slotgate, the volume at /data; reachable under the
    /// names the headless Service gives it.
    fn start(&self, image: &Image, net: &Network, ip: &str, volume: &Volume, config_dir: &str) -> Container {
        let args: Vec<String> = list(&manifest("nodes.yaml"), "name: node", "args")
            .into_iter()
            .map(|a| {
                a.replace("$(POD_IP)", ip).replace("$(POD_NAME)", &self.name).replace("$(POD_NAMESPACE)", "default")
            })
            .collect();
        let short = format!("{}.slotgate-nodes", self.name);
        let data = format!("{}:/data", volume.name);
        let config = format!("{config_dir}:/etc/slotgate:ro");
        let options = [
            "--ip",
            ip,
            "--hostname",
            &self.name,
            "--network-alias",
            &self.fqdn,
            "--network-alias",
            &short,
            "-v",
            &data,
            "-v",
            &config,
        ];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Container::run_with(image, net, &options, &args)
    }
}

/// The line of CLUSTER NODES (as `via` sees it) for the node announcing `fqdn`.
fn line_of(via: &str, fqdn: &str) -> Option<String> {
    cli(via, &["CLUSTER", "NODES"])?.lines().find(|l| l.contains(&format!(",{fqdn} "))).map(str::to_string)
}

#[test]
fn a_pod_back_with_a_new_ip_rejoins_and_the_proxy_follows_it() {
    if !require_docker() || !require_tool("redis-cli") {
        return;
    }
    {
        // Declared in this order so drop removes containers, then volumes, network and image.
        let image = Image::build();
        let (net, prefix) = Network::with_subnet();
        let volumes: Vec<Volume> = (0..6).map(|_| Volume::create()).collect();
        let config_dir = scratch_dir("k8s-config");
        std::fs::write(config_dir.join("redis.conf"), config_block("redis.conf")).unwrap();
        std::fs::create_dir_all(config_dir.join("secrets")).unwrap();
        std::fs::write(config_dir.join("secrets/users.acl"), config_block("users.acl")).unwrap();
        let config = config_dir.to_str().unwrap().to_string();
        let pods: Vec<Pod> = (0..6).map(Pod::new).collect();
        let ip = |n: usize| format!("{prefix}.{n}");
        let mut nodes: Vec<Container> =
            pods.iter().enumerate().map(|(i, p)| p.start(&image, &net, &ip(10 + i), &volumes[i], &config)).collect();
        let logs = |nodes: &[Container]| {
            nodes.iter().map(|n| format!("{} ({}):\n{}", n.name, n.ip, n.logs())).collect::<Vec<_>>()
        };
        for n in &nodes {
            let up = wait_until(Duration::from_secs(15), || cli(&n.ip, &["PING"]).as_deref() == Some("PONG"));
            assert!(up, "{} does not answer:\n{:#?}", n.ip, logs(&nodes));
        }

        // The create Job, as jobs.yaml runs it.
        let jobs = manifest("jobs.yaml");
        let mut create = list(&jobs, "name: create", "command");
        create.extend(block_list(&jobs, "name: create", "args"));
        let entry = format!("--entrypoint={}", create[0]);
        let create_args: Vec<&str> = create[1..].iter().map(String::as_str).collect();
        let out = run_once(&image, &net, &[&entry], &create_args);
        assert!(
            out.status.success(),
            "the create Job failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for n in &nodes {
            let ok = wait_until(Duration::from_secs(30), || {
                cli(&n.ip, &["CLUSTER", "INFO"]).is_some_and(|i| i.contains("cluster_state:ok"))
            });
            assert!(ok, "{} never reached cluster_state:ok:\n{:#?}", n.ip, logs(&nodes));
        }
        // Every node lists every pod by IP and DNS name; clients are sent to the names.
        for p in &pods {
            let line = line_of(&nodes[0].ip, &p.fqdn).unwrap_or_default();
            assert!(line.contains(":6379@16379,"), "{} is not listed by name: {line:?}", p.fqdn);
        }
        let slots = cli(&nodes[0].ip, &["CLUSTER", "SLOTS"]).unwrap();
        assert!(slots.contains(&format!("{}\n6379\n", pods[0].fqdn)), "the endpoint is not the name:\n{slots}");

        // The proxy Deployment's container, its seeds the pods' short names.
        let proxy_yaml = manifest("proxy.yaml");
        let mut proxy_cmd = list(&proxy_yaml, "name: proxy", "command");
        proxy_cmd.extend(list(&proxy_yaml, "name: proxy", "args"));
        let entry = format!("--entrypoint={}", proxy_cmd[0]);
        let secrets = format!("{config}/secrets:/etc/slotgate/secrets:ro");
        let proxy_args: Vec<&str> = proxy_cmd[1..].iter().map(String::as_str).collect();
        let proxy = Container::run_with(&image, &net, &[&entry, "-v", &secrets], &proxy_args);
        let started = proxy.inspect("{{.State.StartedAt}}");
        let up =
            wait_until(Duration::from_secs(20), || cli(&proxy.ip, &["SET", "probe", "1"]).as_deref() == Some("OK"));
        assert!(up, "the proxy does not serve:\n{}", proxy.logs());
        let keys: Vec<String> = (0..300).map(|i| format!("order:{i}")).collect();
        let mut conn = redis::Client::open(format!("redis://{}:6379/", proxy.ip)).unwrap().get_connection().unwrap();
        for k in &keys {
            let ok: String = redis::cmd("SET").arg(k).arg(k).query(&mut conn).expect("SET through the proxy");
            assert_eq!(ok, "OK");
        }

        // Pod slotgate-0 is rescheduled: same name, same volume, a new IP.
        let moved = ip(30);
        let old = nodes.remove(0);
        let old_ip = old.ip.clone();
        let id = cli(&old_ip, &["CLUSTER", "MYID"]).unwrap();
        drop(old);
        let replaced = pods[0].start(&image, &net, &moved, &volumes[0], &config);
        assert_eq!(replaced.ip, moved);
        nodes.insert(0, replaced);
        let t0 = Instant::now();
        let rejoined = wait_until(Duration::from_secs(60), || {
            nodes.iter().all(|n| {
                let line = line_of(&n.ip, &pods[0].fqdn).unwrap_or_default();
                line.starts_with(&id)
                    && line.contains(&format!(" {moved}:6379@16379,"))
                    && !line.contains("fail")
                    && cli(&n.ip, &["CLUSTER", "INFO"]).is_some_and(|i| i.contains("cluster_state:ok"))
            })
        });
        assert!(rejoined, "the pod did not rejoin at {moved} as {id}:\n{:#?}", logs(&nodes));
        println!("rejoined at the new IP in {:?}", t0.elapsed());
        // If the others failed it over meanwhile, it takes its slots back, so the proxy must
        // reach it at its new address to serve them.
        let role = cli(&moved, &["ROLE"]).unwrap_or_default();
        if !role.starts_with("master") {
            assert_eq!(cli(&moved, &["CLUSTER", "FAILOVER"]).as_deref(), Some("OK"));
            let back =
                wait_until(Duration::from_secs(30), || cli(&moved, &["ROLE"]).is_some_and(|r| r.starts_with("master")));
            assert!(back, "the replaced pod did not become a master again:\n{:#?}", logs(&nodes));
        }
        let served = cli(&moved, &["CLUSTER", "NODES"]).unwrap();
        let mine = served.lines().find(|l| l.contains("myself")).unwrap();
        assert!(mine.split_whitespace().count() > 8, "the replaced pod serves no slots: {mine}");

        // The same proxy process reads every key and writes new ones, its slots included.
        let served_all = wait_until(Duration::from_secs(30), || {
            keys.iter().all(|k| {
                redis::cmd("GET").arg(k).query::<Option<String>>(&mut conn).ok().flatten().as_deref()
                    == Some(k.as_str())
            })
        });
        assert!(served_all, "the proxy does not serve every key after the move:\n{}", proxy.logs());
        for k in &keys {
            let ok: String = redis::cmd("SET").arg(k).arg("after").query(&mut conn).expect("SET after the move");
            assert_eq!(ok, "OK");
        }
        assert_eq!(proxy.inspect("{{.State.StartedAt}}"), started, "the proxy was restarted");
        assert_eq!(proxy.inspect("{{.RestartCount}}"), "0");
        // Its per-node metrics name the pod at its new address.
        let metrics = http_get(&proxy.ip, 8080, "/metrics");
        assert!(metrics.contains(&format!("node=\"{moved}:6379\"")), "metrics do not name {moved}:6379:\n{metrics}");
    }
    assert_eq!(leftovers(), Vec::<String>::new(), "containers, volumes, networks or images were left behind");
}
