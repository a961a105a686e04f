//! `assess` over views written by hand: the checks, without a socket.

use super::*;
use crate::nodes::{parse_info, parse_nodes};

const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const C: &str = "cccccccccccccccccccccccccccccccccccccccc";

fn lines(myself: &str, extra_a: &str, b_flags: &str, b_slots: &str) -> String {
    let me = |id: &str| if id == myself { "myself," } else { "" };
    format!(
        "{A} 127.0.0.1:7000@17000 {}master - 0 0 1 connected 0-8191{extra_a}\n\
         {B} 127.0.0.1:7001@17001 {}{b_flags} - 0 0 2 connected {b_slots}\n\
         {C} 127.0.0.1:7002@17002 {}slave {A} 0 0 1 connected\n",
        me(A),
        me(B),
        me(C)
    )
}

fn obs(text: &str, state: &str, repl: &str) -> Result<Observation, String> {
    Ok(Observation {
        view: View {
            nodes: parse_nodes(text, "127.0.0.1").unwrap(),
            info: parse_info(&format!("cluster_state:{state}")),
        },
        info: parse_info(repl),
    })
}

fn healthy_views() -> Vec<Result<Observation, String>> {
    vec![
        obs(&lines(A, "", "master", "8192-16383"), "ok", "master_repl_offset:100"),
        obs(&lines(B, "", "master", "8192-16383"), "ok", "master_repl_offset:5"),
        obs(&lines(C, "", "master", "8192-16383"), "ok", "master_link_status:up\nslave_repl_offset:90"),
    ]
}

#[test]
fn a_whole_cluster_has_one_problem_a_master_without_replica() {
    let known = parse_nodes(&lines("", "", "master", "8192-16383"), "127.0.0.1").unwrap();
    let r = assess(&known, &healthy_views(), 1 << 20);
    assert_eq!((r.masters, r.replicas, r.slots_assigned, r.slots_unassigned), (2, 1, 16384, 0));
    assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
    assert!(
        r.problems[0].text.contains("no working replica") && r.problems[0].node.as_deref() == Some("127.0.0.1:7001")
    );
    assert_eq!(r.status, Status::Degraded);
    assert_eq!(r.nodes[2].lag, Some(10));
}

#[test]
fn unreachable_failed_uncovered_and_open_slots() {
    let known = parse_nodes(&lines("", "", "master", "8192-16383"), "127.0.0.1").unwrap();
    let mut views = healthy_views();
    views[1] = Err("127.0.0.1:7001: Connection refused".into());
    let failed = lines(A, " [5->-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb]", "master,fail", "");
    views[0] = obs(&failed, "fail", "master_repl_offset:100");
    views[2] = obs(&lines(C, "", "master,fail", ""), "fail", "master_link_status:down\nslave_repl_offset:1");
    let r = assess(&known, &views, 10);
    let texts: Vec<String> = r.problems.iter().map(|p| format!("{:?} {}", p.node, p.text)).collect();
    let has = |s: &str| texts.iter().any(|t| t.contains(s));
    assert!(has("unreachable"), "{texts:?}");
    assert!(has("flagged fail"), "{texts:?}");
    assert!(has("cluster_state is fail"), "{texts:?}");
    assert!(has("8192 slots are not served"), "{texts:?}");
    assert!(has("slot 5 left migrating to 127.0.0.1:7001"), "{texts:?}");
    assert!(has("link to its master is down"), "{texts:?}");
    assert!(has("lags 99 bytes"), "{texts:?}");
    assert_eq!(r.status, Status::Failed);
    assert_eq!(r.nodes[1].health, "unreachable");
}

#[test]
fn disagreement_about_owners_and_epochs() {
    let known = parse_nodes(&lines("", "", "master", "8192-16383"), "127.0.0.1").unwrap();
    let mut views = healthy_views();
    let other = lines(B, "", "master", "8192-16383").replace("0-8191", "0-8000").replace(" 0 0 2 ", " 0 0 7 ");
    views[1] = obs(&other, "ok", "master_repl_offset:5");
    let r = assess(&known, &views, 1 << 20);
    let texts: Vec<&str> = r.problems.iter().map(|p| p.text.as_str()).collect();
    assert!(texts.iter().any(|t| t.contains("owner of 191 slots")), "{texts:?}");
    assert!(texts.iter().any(|t| t.contains("config epoch 7")), "{texts:?}");
}
