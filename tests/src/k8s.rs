//! Reading `deploy/k8s/` the way the suites need it: a manifest's text, a literal block of the
//! ConfigMap or Secret (`redis.conf: |`), and a container's `args`/`command` lists, so tests
//! run exactly what the manifests describe.

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/k8s");

/// The text of `deploy/k8s/<name>`.
pub fn manifest(name: &str) -> String {
    std::fs::read_to_string(format!("{DIR}/{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The paths of the manifests, for tools that validate them.
pub fn manifest_path(name: &str) -> String {
    format!("{DIR}/{name}")
}

/// A `key: |` literal block of `config.yaml` (indented four spaces), as the pod sees the file.
pub fn config_block(key: &str) -> String {
    manifest("config.yaml")
        .split(&format!("{key}: |\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("{key} in config.yaml"))
        .lines()
        .take_while(|l| l.starts_with("    "))
        .map(|l| format!("{}\n", l.trim_start()))
        .collect()
}

/// The flow-style list after the first `field: [` that follows `after` in a manifest (it may
/// span lines; its items are double-quoted, so it reads as JSON).
pub fn list(manifest_text: &str, after: &str, field: &str) -> Vec<String> {
    let rest = manifest_text.split(after).nth(1).unwrap_or_else(|| panic!("{after} not in the manifest"));
    let start = rest.find(&format!("{field}: [")).unwrap_or_else(|| panic!("no {field} list after {after}"));
    let list = &rest[start + field.len() + 2..];
    let end = list.find(']').expect("closing ]");
    serde_json::from_str(&list[..=end]).unwrap_or_else(|e| panic!("{field} after {after}: {e}"))
}

/// The block-style `- item` list after `field:` that follows `after` (the create Job's args).
pub fn block_list(manifest_text: &str, after: &str, field: &str) -> Vec<String> {
    let rest = manifest_text.split(after).nth(1).unwrap_or_else(|| panic!("{after} not in the manifest"));
    let rest = rest.split(&format!("{field}:\n")).nth(1).unwrap_or_else(|| panic!("no {field} block after {after}"));
    rest.lines().map_while(|l| l.trim_start().strip_prefix("- ").map(str::to_string)).collect()
}
