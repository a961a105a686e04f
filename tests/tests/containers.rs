//! Docker works for the project: an image made from the workspace's own release binaries
//! (nothing pulled), three slotgate-node containers on a private network, a cluster formed with
//! `redis-cli --cluster create` against their container addresses, and everything removed after.

use std::process::Command;
use std::time::Duration;

use slotgate_tests::docker::{leftovers, require_docker, Container, Image, Network};
use slotgate_tests::{require_tool, wait_until};

/// `redis-cli -h ip -p 6379 <args>`, stdout when it succeeded.
fn cli(ip: &str, args: &[&str]) -> Option<String> {
    let out = Command::new("redis-cli").args(["-h", ip, "-p", "6379"]).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[test]
fn three_node_containers_form_a_cluster() {
    if !require_docker() || !require_tool("redis-cli") {
        return;
    }
    {
        // Declared in this order so drop removes containers, then the network, then the image.
        let image = Image::from_binaries(&["slotgate-node"]);
        let network = Network::create();
        let args = [
            "--port",
            "6379",
            "--bind",
            "0.0.0.0",
            "--protected-mode",
            "no",
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            "2000",
        ];
        let nodes: Vec<Container> = (0..3).map(|_| Container::run(&image, &network, &args)).collect();
        let logs = || nodes.iter().map(|n| format!("{} ({}):\n{}", n.name, n.ip, n.logs())).collect::<Vec<_>>();
        for node in &nodes {
            let up = wait_until(Duration::from_secs(15), || cli(&node.ip, &["PING"]).as_deref() == Some("PONG"));
            assert!(up, "node {} does not answer PING at its container address:\n{:#?}", node.ip, logs());
        }

        let addresses: Vec<String> = nodes.iter().map(|n| format!("{}:6379", n.ip)).collect();
        let create = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli");
        assert!(
            create.status.success(),
            "redis-cli --cluster create failed:\n{}\n{}\n{:#?}",
            String::from_utf8_lossy(&create.stdout),
            String::from_utf8_lossy(&create.stderr),
            logs()
        );

        for node in &nodes {
            let ok = wait_until(Duration::from_secs(20), || {
                cli(&node.ip, &["CLUSTER", "INFO"]).is_some_and(|info| info.contains("cluster_state:ok"))
            });
            assert!(ok, "node {} never reached cluster_state:ok:\n{:#?}", node.ip, logs());
            // Each node knows the others by their container addresses, as gossip spread them.
            let known = cli(&node.ip, &["CLUSTER", "NODES"]).unwrap_or_default();
            for other in &addresses {
                assert!(known.contains(other.as_str()), "{} does not list {other}:\n{known}", node.ip);
            }
        }

        // A key written through one node is read through another, redirected across containers.
        let first = &nodes[0].ip;
        let last = &nodes[2].ip;
        for i in 0..20 {
            let key = format!("key:{i}");
            let set = Command::new("redis-cli").args(["-c", "-h", first, "SET", &key, &i.to_string()]).output();
            assert!(set.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "OK"), "SET {key} failed");
            let get = Command::new("redis-cli").args(["-c", "-h", last, "GET", &key]).output().expect("redis-cli");
            assert_eq!(String::from_utf8_lossy(&get.stdout).trim(), i.to_string(), "GET {key}");
        }
        assert!(nodes.iter().all(Container::running), "a node container stopped:\n{:#?}", logs());
    }
    assert_eq!(leftovers(), Vec::<String>::new(), "containers, networks or images were left behind");
}
