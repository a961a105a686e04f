//! Containers for the suites that need separate hosts: an image built from the workspace's own
//! binaries without pulling anything (the machine has no registry), private networks, and
//! containers on them. Every image, network and container is removed on drop, also when a test
//! fails, so a failed run leaves nothing behind on the engine.

use std::path::Path;
use std::process::{Command, Output};

use crate::binary;

/// Runs `docker <args>` and returns its output.
fn docker(args: &[&str]) -> Output {
    Command::new("docker").args(args).output().expect("cannot run docker")
}

/// Runs `docker <args>`, panicking with docker's own message when it fails; returns stdout.
fn docker_ok(args: &[&str]) -> String {
    let out = docker(args);
    assert!(out.status.success(), "docker {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Whether a Docker engine answers. In CI (`CI` set) a missing or stopped engine fails the test
/// loudly; elsewhere the test is skipped with the reason printed.
pub fn require_docker() -> bool {
    let answers = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !answers {
        crate::skip("no Docker engine answers (install docker.io and start it)");
    }
    answers
}

/// A name no other test run uses: the engine is shared by everything on the machine.
fn unique(tag: &str) -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    format!("slotgate-{tag}-{}-{nanos:x}-{n}", std::process::id())
}

/// The project's image (`deploy/build-image.sh`: slotgate-node, slotgate-proxy and slotgate
/// `FROM scratch`, a non-root user, a `/data` volume, a HEALTHCHECK), built from the binaries
/// the suites run, so nothing is pulled. Removed on drop.
pub struct Image {
    pub tag: String,
}

impl Image {
    /// Builds the image under a tag of its own; slotgate-node is its entry point.
    pub fn build() -> Image {
        let image = Image { tag: unique("image") };
        let bin_dir = binary("slotgate-node").parent().expect("binary dir").to_path_buf();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/build-image.sh");
        let out = Command::new(&script)
            .arg(&image.tag)
            .env("SLOTGATE_BIN_DIR", &bin_dir)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(
            out.status.success(),
            "deploy/build-image.sh failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        image
    }

    /// Its size in bytes, as the engine reports it.
    pub fn size(&self) -> u64 {
        docker_ok(&["image", "inspect", "--format", "{{.Size}}", &self.tag]).parse().unwrap_or(0)
    }

    /// A field of `docker image inspect` (a Go template).
    pub fn inspect(&self, format: &str) -> String {
        docker_ok(&["image", "inspect", "--format", format, &self.tag])
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        let _ = docker(&["rmi", "--force", &self.tag]);
    }
}

/// A private bridge network. Removed on drop (after the containers on it, which are dropped first
/// when declared after it).
pub struct Network {
    pub name: String,
}

impl Network {
    pub fn create() -> Network {
        let name = unique("net");
        docker_ok(&["network", "create", "--driver", "bridge", &name]);
        Network { name }
    }

    /// A network with a /24 of its own, so containers can be given fixed addresses (`--ip`);
    /// returns it and the subnet's first three octets (`10.231.7`). Subnets other networks
    /// on the engine hold are skipped.
    pub fn with_subnet() -> (Network, String) {
        let seed = std::process::id() as usize;
        for attempt in 0..40 {
            let prefix = format!("10.{}.{}", 200 + (seed + attempt) % 50, (seed / 50 + attempt * 7) % 250);
            let name = unique("net");
            let subnet = format!("{prefix}.0/24");
            if docker(&["network", "create", "--driver", "bridge", "--subnet", &subnet, &name]).status.success() {
                return (Network { name }, prefix);
            }
        }
        panic!("no free /24 under 10.200.0.0/10 for a test network");
    }
}

/// A named volume (a pod's persistent volume), removed on drop after the containers using it.
pub struct Volume {
    pub name: String,
}

impl Volume {
    pub fn create() -> Volume {
        let name = unique("vol");
        docker_ok(&["volume", "create", &name]);
        Volume { name }
    }
}

impl Drop for Volume {
    fn drop(&mut self) {
        let _ = docker(&["volume", "rm", "--force", &self.name]);
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        let _ = docker(&["network", "rm", &self.name]);
    }
}

/// A detached container on a network, removed (with its volumes) on drop.
pub struct Container {
    pub name: String,
    /// Its address on the network.
    pub ip: String,
}

impl Container {
    /// Runs `image` on `network` with `args` after the entry point.
    pub fn run(image: &Image, network: &Network, args: &[&str]) -> Container {
        Container::run_with(image, network, &[], args)
    }

    /// Like `run`, with more `docker run` options (`--ip`, `--network-alias`, `-v`, ...).
    pub fn run_with(image: &Image, network: &Network, options: &[&str], args: &[&str]) -> Container {
        let name = unique("ctr");
        let mut run = vec!["run", "--detach", "--name", &name, "--network", &network.name];
        run.extend_from_slice(options);
        run.push(&image.tag);
        run.extend_from_slice(args);
        let out = docker(&run);
        // Removed even if `run` failed halfway (created but not started).
        let mut container = Container { name, ip: String::new() };
        assert!(out.status.success(), "docker run failed: {}", String::from_utf8_lossy(&out.stderr));
        let format = format!("{{{{(index .NetworkSettings.Networks \"{}\").IPAddress}}}}", network.name);
        container.ip = docker_ok(&["inspect", "--format", &format, &container.name]);
        assert!(!container.ip.is_empty(), "container {} has no address on {}", container.name, network.name);
        container
    }

    /// What the container printed (for failure messages).
    pub fn logs(&self) -> String {
        let out = docker(&["logs", "--tail", "50", &self.name]);
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    }

    /// The HEALTHCHECK's verdict (`starting`, `healthy`, `unhealthy`).
    pub fn health(&self) -> String {
        String::from_utf8_lossy(&docker(&["inspect", "--format", "{{.State.Health.Status}}", &self.name]).stdout)
            .trim()
            .to_string()
    }

    /// A field of `docker inspect` (a Go template).
    pub fn inspect(&self, format: &str) -> String {
        String::from_utf8_lossy(&docker(&["inspect", "--format", format, &self.name]).stdout).trim().to_string()
    }

    /// Whether the container is running.
    pub fn running(&self) -> bool {
        docker(&["inspect", "--format", "{{.State.Running}}", &self.name]).stdout.starts_with(b"true")
    }
}

/// Runs `image` once on `network` to completion (a Job's container) and returns what it did.
pub fn run_once(image: &Image, network: &Network, options: &[&str], args: &[&str]) -> Output {
    let name = unique("job");
    let mut run = vec!["run", "--rm", "--name", &name, "--network", &network.name];
    run.extend_from_slice(options);
    run.push(&image.tag);
    run.extend_from_slice(args);
    docker(&run)
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker(&["rm", "--force", "--volumes", &self.name]);
    }
}

/// Names of the images, networks, volumes and containers this process made that still exist (a test can
/// check that cleanup happened).
pub fn leftovers() -> Vec<String> {
    let ours = format!("-{}-", std::process::id());
    let mut found = Vec::new();
    for args in [
        &["ps", "--all", "--format", "{{.Names}}"][..],
        &["network", "ls", "--format", "{{.Name}}"][..],
        &["volume", "ls", "--format", "{{.Name}}"][..],
        &["images", "--format", "{{.Repository}}"][..],
    ] {
        let listed = docker_ok(args);
        found.extend(listed.lines().filter(|l| l.starts_with("slotgate-") && l.contains(&ours)).map(str::to_string));
    }
    found
}
