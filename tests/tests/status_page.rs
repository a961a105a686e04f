//! The proxy's status page in a real browser: headless Chromium (Debian's `chromium`) loads
//! `http://<admin>/` while a master is SIGKILLed and its replica takes over, and the page shows
//! the failed master, then the promoted replica. A screenshot is kept as a test artifact
//! (`target/test-artifacts/status-page.png`). `/cluster` serves the same model as JSON.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use slotgate_tests::{cluster_nodes, free_port, require_tool, wait_until, Cluster, Kind, Proxy};

/// The page's DOM after its script ran (Chromium's --dump-dom).
fn dom(url: &str) -> String {
    let out = Command::new("chromium")
        .args(["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"])
        .args(["--virtual-time-budget=4000", "--timeout=15000", "--dump-dom", url])
        .output()
        .expect("chromium");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The node rows the page shows: (addr, role, health).
fn rows(dom: &str) -> Vec<(String, String, String)> {
    let attr = |tag: &str, name: &str| -> String {
        tag.split(&format!("{name}=\"")).nth(1).and_then(|s| s.split('"').next()).unwrap_or("").to_string()
    };
    // The table body as rendered (the script's own text holds the template too).
    let body = dom.split("<tbody id=\"nodes\">").nth(1).and_then(|b| b.split("</tbody>").next()).unwrap_or("");
    body.split("<tr data-addr=")
        .skip(1)
        .map(|rest| {
            let tag = format!("data-addr={}", rest.split('>').next().unwrap_or(""));
            (attr(&tag, "data-addr"), attr(&tag, "data-role"), attr(&tag, "data-health"))
        })
        .collect()
}

fn artifacts() -> PathBuf {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/test-artifacts"));
    std::fs::create_dir_all(&dir).expect("artifact dir");
    dir
}

#[test]
fn the_status_page_shows_a_failover_in_a_real_browser() {
    if !require_tool("chromium") || !require_tool("redis-cli") {
        return;
    }
    let mut cluster = Cluster::create(Kind::Slotgate, 3, 1, 2000);
    let nodes = cluster.nodes();
    let seed = nodes[0].port;
    let admin = free_port();
    let _proxy = Proxy::start(seed, &["--admin-listen", &format!("127.0.0.1:{admin}")]);
    let url = format!("http://127.0.0.1:{admin}/");
    let addr = |p: u16| format!("127.0.0.1:{p}");

    // All six nodes, healthy, with their roles.
    let mut seen = Vec::new();
    assert!(
        wait_until(Duration::from_secs(30), || {
            seen = rows(&dom(&url));
            seen.len() == 6 && seen.iter().all(|r| r.2 == "ok")
        }),
        "the page never showed six healthy nodes: {seen:?}"
    );
    assert_eq!(seen.iter().filter(|r| r.1 == "master").count(), 3, "{seen:?}");

    let victim = nodes.iter().find(|n| n.is_master() && n.slots > 0 && n.port != seed).unwrap().clone();
    let replica = nodes.iter().find(|n| n.master_id.as_deref() == Some(victim.id.as_str())).unwrap().clone();
    cluster.kill(victim.port);
    let killed = Instant::now();

    // First the failed master...
    assert!(
        wait_until(Duration::from_secs(30), || {
            seen = rows(&dom(&url));
            seen.iter().any(|r| r.0 == addr(victim.port) && r.2 != "ok")
        }),
        "the page never showed {} failing: {seen:?}",
        victim.port
    );
    // ...then its replica promoted (the page shows it as a master).
    assert!(
        wait_until(Duration::from_secs(40), || {
            seen = rows(&dom(&url));
            seen.iter().any(|r| r.0 == addr(replica.port) && r.1 == "master" && r.2 == "ok")
        }),
        "the page never showed {} promoted: {seen:?}",
        replica.port
    );
    assert!(cluster_nodes(seed).is_some_and(|ns| ns.iter().any(|n| n.id == replica.id && n.is_master())));
    let page = dom(&url);
    assert!(page.contains("promoted to master"), "the failover is not among the events:\n{page}");
    println!("failover shown {} ms after the SIGKILL", killed.elapsed().as_millis());

    let shot = artifacts().join("status-page.png");
    let _ = std::fs::remove_file(&shot);
    let status = Command::new("chromium")
        .args(["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"])
        .args(["--hide-scrollbars", "--window-size=1100,900", "--virtual-time-budget=4000"])
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .status()
        .expect("chromium");
    assert!(status.success() && shot.metadata().is_ok_and(|m| m.len() > 10_000), "no screenshot at {}", shot.display());
}

#[test]
fn the_page_is_self_contained() {
    let cluster = Cluster::create(Kind::Slotgate, 3, 0, 5000);
    let admin = free_port();
    let _proxy = Proxy::start(cluster.ports()[0], &["--admin-listen", &format!("127.0.0.1:{admin}")]);
    let get = |path: &str| -> String {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", admin)).unwrap();
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        text
    };
    let page = get("/");
    assert!(page.starts_with("HTTP/1.1 200") && page.contains("text/html"), "{page}");
    // Nothing is fetched from elsewhere: no external script, style, font or image.
    for external in ["http://", "https://", "//cdn", "@import", "<link", "src=\""] {
        assert!(!page.contains(external), "the page refers to something outside it: {external}");
    }
    assert!(page.contains("name=\"viewport\""), "not readable on a phone");
    // The model, once the first look at the cluster is done: slotgate health's shape.
    let mut model = String::new();
    assert!(wait_until(Duration::from_secs(10), || {
        model = get("/cluster");
        model.contains("\"nodes_total\":3")
    }));
    for field in
        ["\"status\":\"degraded\"", "\"slots_assigned\":16384", "\"problems\":", "\"events\":", "\"used_memory\":"]
    {
        assert!(model.contains(field), "{field} missing: {model}");
    }
    assert!(get("/nothing").starts_with("HTTP/1.1 404"));

    // Every metric the Grafana dashboard queries is one the proxy exports (a `# TYPE` line;
    // a histogram's _bucket/_sum/_count series under its base name).
    let scrape = get("/metrics");
    let exported: Vec<&str> =
        scrape.lines().filter_map(|l| l.strip_prefix("# TYPE ")).filter_map(|l| l.split(' ').next()).collect();
    let dashboard =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/grafana/slotgate.json")).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&dashboard).expect("the dashboard is JSON");
    let mut queried = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("expr");
            let mut rest = expr;
            while let Some(at) = rest.find("slotgate_") {
                let name: String = rest[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                rest = &rest[at + name.len()..];
                queried.push(name);
            }
        }
    }
    assert!(queried.len() >= 14, "{queried:?}");
    for name in &queried {
        let base = ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s)).unwrap_or(name);
        assert!(
            exported.contains(&name.as_str()) || exported.contains(&base),
            "the dashboard queries {name}, which the proxy does not export:\n{scrape}"
        );
    }
}
