//! Docker works for the project: the image of `deploy/build-image.sh`, made from the workspace's
//! own release binaries (nothing pulled; small, non-root, a /data volume, a HEALTHCHECK), three
//! slotgate-node containers on a private network, a cluster formed with `redis-cli --cluster
//! create` against their container addresses, their HEALTHCHECK healthy, and everything removed.

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
        let image = Image::build();
        check_image(&image);
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
        // The image's HEALTHCHECK (`slotgate ping` inside) finds each node healthy.
        let healthy = wait_until(Duration::from_secs(30), || nodes.iter().all(|n| n.health() == "healthy"));
        let states: Vec<String> = nodes.iter().map(Container::health).collect();
        assert!(healthy, "HEALTHCHECK states: {states:?}\n{:#?}", logs());
    }
    assert_eq!(leftovers(), Vec::<String>::new(), "containers, networks or images were left behind");
}

/// deploy/build-image.sh's image: the three binaries, small, a non-root user, a /data volume
/// and a HEALTHCHECK; each binary runs from it.
fn check_image(image: &Image) {
    let mib = image.size() / (1 << 20);
    println!("image {}: {mib} MiB", image.tag);
    assert!(mib < 64, "the image takes {mib} MiB");
    assert_eq!(image.inspect("{{.Config.User}}"), "10001:10001");
    assert_eq!(image.inspect("{{json .Config.Volumes}}"), "{\"/data\":{}}");
    assert!(image.inspect("{{json .Config.Healthcheck.Test}}").contains("\"ping\""));
    for bin in ["slotgate", "slotgate-proxy", "slotgate-node"] {
        let out = Command::new("docker")
            .args(["run", "--rm", "--entrypoint", &format!("/usr/local/bin/{bin}"), &image.tag, "--version"])
            .output()
            .expect("docker run");
        assert!(out.status.success(), "{bin} --version in the image: {}", String::from_utf8_lossy(&out.stderr));
    }
}
