//! The Kubernetes manifests (`deploy/k8s/`): valid for a current Kubernetes by
//! `kubernetes-validate --strict` (PyPI), shaped as the guide's deployment asks (a StatefulSet
//! of 6 with required anti-affinity, 10 Gi each, ports 6379/16379, probes, a headless Service,
//! a PodDisruptionBudget, the create and scale Jobs, a proxy Deployment of 2 with ACLs from a
//! Secret), and what they run works: the node config starts a node, and the readiness probe
//! (`slotgate ping --cluster-ok`) passes on a cluster that is ok and fails elsewhere.

use std::process::Command;

use slotgate_tests::k8s::{config_block, manifest, manifest_path};
use slotgate_tests::{binary, require_tool, scratch_dir, Cluster, Kind, Server};

#[test]
fn manifests_are_valid_and_shaped_as_the_guide_asks() {
    if !require_tool("kubernetes-validate") {
        return;
    }
    let files: Vec<String> =
        ["config.yaml", "nodes.yaml", "jobs.yaml", "proxy.yaml"].iter().map(|f| manifest_path(f)).collect();
    let out = Command::new("kubernetes-validate").arg("--strict").args(&files).output().expect("kubernetes-validate");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "kubernetes-validate refused the manifests:\n{text}");
    for kind in [
        "statefulset/slotgate",
        "service/slotgate-nodes",
        "poddisruptionbudget/slotgate",
        "job/slotgate-create",
        "deployment/slotgate-proxy",
        "service/slotgate-proxy",
        "secret/slotgate-secrets",
        "configmap/slotgate-config",
    ] {
        assert!(text.contains(&format!("passed for resource {kind} ")), "{kind} not validated:\n{text}");
    }
    let nodes = manifest("nodes.yaml");
    for want in [
        "replicas: 6",
        "requiredDuringSchedulingIgnoredDuringExecution",
        "topologyKey: kubernetes.io/hostname",
        "storage: 10Gi",
        "containerPort: 6379",
        "containerPort: 16379",
        "clusterIP: None",
        "maxUnavailable: 1",
        "\"ping\", \"--cluster-ok\"",
    ] {
        assert!(nodes.contains(want), "nodes.yaml lacks {want}");
    }
    let proxy = manifest("proxy.yaml");
    assert!(
        proxy.contains("replicas: 2") && proxy.contains("secretName: slotgate-secrets") && proxy.contains("--aclfile")
    );
}

/// The ConfigMap's redis.conf (as the pods get it) starts a cluster-mode node.
#[test]
fn the_node_config_starts_a_node() {
    let conf = config_block("redis.conf");
    let dir = scratch_dir("k8s-conf");
    let path = dir.join("redis.conf");
    // The pod's own port and dir; here a free port and a scratch dir.
    std::fs::write(&path, conf.replace("dir /data", &format!("dir {}", dir.display()))).unwrap();
    let node = Server::node_with_config(&path, &["--cluster-announce-ip", "127.0.0.1"]);
    let info: String = slotgate_tests::q(&mut node.conn(), &["CLUSTER", "INFO"]).expect("cluster mode");
    assert!(info.contains("cluster_state:fail"), "{info}");
    let cfg: Vec<String> = slotgate_tests::q(&mut node.conn(), &["CONFIG", "GET", "appendonly"]).unwrap();
    assert_eq!(cfg, ["appendonly", "yes"]);
}

/// The readiness probe passes on a cluster that is ok, and fails on a lone node.
#[test]
fn the_readiness_probe_needs_cluster_state_ok() {
    if !require_tool("redis-cli") {
        return;
    }
    let cluster = Cluster::create(Kind::Slotgate, 3, 0, 5000);
    let probe = |port: u16, extra: &[&str]| {
        Command::new(binary("slotgate"))
            .arg("ping")
            .args(extra)
            .args(["-s", &format!("127.0.0.1:{port}")])
            .output()
            .unwrap()
    };
    assert_eq!(probe(cluster.ports()[0], &["--cluster-ok"]).status.code(), Some(0));
    let lone = Server::node(&["--cluster-enabled", "yes"]);
    assert_eq!(probe(lone.port, &[]).status.code(), Some(0), "PING alone passes");
    let out = probe(lone.port, &["--cluster-ok"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cluster_state is not ok"));
}
