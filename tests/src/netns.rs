//! Hosts of their own for fault tests: each host a network namespace with one address on a
//! private bridge, so a partition cuts real links. The test process stays in the root
//! namespace, which reaches every host through the bridge (the clients' side). A link is cut
//! with a blackhole route on both of its ends: nothing passes either way until it is healed.
//! The bridge's traffic is let through iptables' FORWARD chain, which Docker sets to drop.
//! (This kernel has no `netem` qdisc, so loss is made by cutting, not by `tc`.)
//! Everything is removed on drop, also when a test fails.

use std::process::{Child, Command, Stdio};

fn ip(args: &[&str]) -> std::process::Output {
    Command::new("ip").args(args).output().expect("cannot run ip")
}

/// `iptables` where installed (absent, nothing filters the bridge).
fn iptables(args: &[&str]) -> bool {
    Command::new("iptables").args(args).output().is_ok_and(|o| o.status.success())
}

fn ip_ok(args: &[&str]) {
    let out = ip(args);
    assert!(out.status.success(), "ip {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
}

/// Whether this process may create namespaces (root with `ip netns`). In CI their absence
/// fails the test; elsewhere it is skipped.
pub fn require_netns() -> bool {
    let name = format!("sgprobe{}", std::process::id() % 100_000);
    let ok = ip(&["netns", "add", &name]).status.success();
    if ok {
        let _ = ip(&["netns", "del", &name]);
    } else {
        crate::skip("cannot create network namespaces (run as root with iproute2)");
    }
    ok
}

/// A private network of `hosts` namespaces on one bridge.
pub struct Net {
    tag: String,
    /// The first three octets of the /24 (`10.79.12`).
    prefix: String,
    hosts: usize,
    /// Blackhole routes in place: (host, address cut off).
    cuts: std::sync::Mutex<Vec<(usize, String)>>,
}

impl Net {
    pub fn new(hosts: usize) -> Net {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // Interface names are at most 15 bytes: "sg" + 5 hex digits + a counter + a suffix.
        let tag = format!("sg{:05x}{n}", std::process::id() & 0xfffff);
        let prefix = format!("10.{}.{}", 100 + (std::process::id() as usize % 100), (n as usize * 7 + 3) % 250);
        let net = Net { tag, prefix, hosts: 0, cuts: Default::default() };
        let bridge = net.bridge();
        ip_ok(&["link", "add", &bridge, "type", "bridge"]);
        let mut net = net;
        ip_ok(&["addr", "add", &format!("{}.1/24", net.prefix), "dev", &bridge]);
        ip_ok(&["link", "set", &bridge, "up"]);
        // Docker makes FORWARD drop by default and sends bridged traffic through it.
        let _ = iptables(&["-I", "FORWARD", "-i", &bridge, "-o", &bridge, "-j", "ACCEPT"]);
        for h in 0..hosts {
            let ns = net.ns(h);
            ip_ok(&["netns", "add", &ns]);
            net.hosts = h + 1;
            let veth = format!("{}v{h}", net.tag);
            ip_ok(&["link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &ns]);
            ip_ok(&["link", "set", &veth, "master", &bridge, "up"]);
            ip_ok(&["netns", "exec", &ns, "ip", "addr", "add", &format!("{}/24", net.ip(h)), "dev", "eth0"]);
            ip_ok(&["netns", "exec", &ns, "ip", "link", "set", "eth0", "up"]);
            ip_ok(&["netns", "exec", &ns, "ip", "link", "set", "lo", "up"]);
        }
        net
    }

    fn bridge(&self) -> String {
        format!("{}b", self.tag)
    }

    fn ns(&self, host: usize) -> String {
        format!("{}h{host}", self.tag)
    }

    /// The address of host `h`.
    pub fn ip(&self, h: usize) -> String {
        format!("{}.{}", self.prefix, 10 + h)
    }

    /// Starts `bin args` on host `h` (stdout and stderr to `log`).
    pub fn spawn(&self, h: usize, bin: &std::path::Path, args: &[String], log: &std::path::Path) -> Child {
        let out = std::fs::File::create(log).expect("log file");
        let err = out.try_clone().expect("log file");
        Command::new("ip")
            .args(["netns", "exec", &self.ns(h)])
            .arg(bin)
            .args(args)
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {} on host {h}: {e}", bin.display()))
    }

    /// Cuts the link between hosts `a` and `b` both ways.
    pub fn cut(&self, a: usize, b: usize) {
        for (from, to) in [(a, b), (b, a)] {
            let addr = self.ip(to);
            let out = ip(&["netns", "exec", &self.ns(from), "ip", "route", "add", "blackhole", &format!("{addr}/32")]);
            if out.status.success() {
                self.cuts.lock().unwrap().push((from, addr));
            }
        }
    }

    /// Restores every link cut.
    pub fn heal(&self) {
        for (host, addr) in self.cuts.lock().unwrap().drain(..) {
            let _ = ip(&["netns", "exec", &self.ns(host), "ip", "route", "del", "blackhole", &format!("{addr}/32")]);
        }
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for h in 0..self.hosts {
            // Deleting a namespace takes its end of the veth pair, and so the pair, with it.
            let _ = ip(&["netns", "del", &self.ns(h)]);
        }
        let bridge = self.bridge();
        let _ = iptables(&["-D", "FORWARD", "-i", &bridge, "-o", &bridge, "-j", "ACCEPT"]);
        let _ = ip(&["link", "del", &bridge]);
    }
}
