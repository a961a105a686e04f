//! Unit tests of the ACL engine: each rule, each check path, the descriptions, the ACL command
//! family and the files. Expected texts are what redis-server 7.0.15 prints for the same input.

use super::*;

/// An ACL with one user `u` built from `rules` (space-separated).
fn acl_with(rules: &str) -> Acl {
    let mut acl = Acl::new();
    let rules: Vec<&[u8]> = rules.split(' ').map(str::as_bytes).collect();
    acl.setuser("u", &rules).expect("setuser");
    acl
}

fn check(acl: &Acl, cmd: &str) -> Result<(), Denial> {
    let args: Vec<&[u8]> = cmd.split(' ').map(str::as_bytes).collect();
    acl.check("u", &args)
}

fn describe(rules: &str) -> String {
    acl_with(rules).user("u").expect("user").describe()
}

fn setuser_err(rules: &[&str]) -> String {
    let rules: Vec<&[u8]> = rules.iter().map(|r| r.as_bytes()).collect();
    Acl::new().setuser("u", &rules).expect_err("should fail").0
}

fn cmd_denied(c: &str) -> Result<(), Denial> {
    Err(Denial::Command { command: c.into() })
}

fn key_denied(k: &str) -> Result<(), Denial> {
    Err(Denial::Key { key: k.into() })
}

fn channel_denied(c: &str) -> Result<(), Denial> {
    Err(Denial::Channel { channel: c.into() })
}

// ---- Users and defaults ----

#[test]
fn defaults() {
    let acl = Acl::new();
    assert_eq!(acl.list(), vec!["user default on nopass ~* &* +@all"]);
    assert_eq!(describe(""), "off resetchannels -@all");
    assert!(acl.authenticate("default", b"anything"));
    assert_eq!(check(&acl_with(""), "get k"), cmd_denied("get"));
}

#[test]
fn on_off_and_passwords() {
    let acl = acl_with("on >p1 >p2");
    assert!(acl.authenticate("u", b"p1") && acl.authenticate("u", b"p2"));
    assert!(!acl.authenticate("u", b"p3") && !acl.authenticate("nosuch", b"p1"));
    let acl = acl_with("off >p1");
    assert!(!acl.authenticate("u", b"p1"), "a disabled user cannot log in");
    let acl = acl_with("on >p1 >p2 <p1");
    assert!(!acl.authenticate("u", b"p1") && acl.authenticate("u", b"p2"));
    let acl = acl_with("on >p1 nopass");
    assert!(acl.authenticate("u", b"whatever"));
    let acl = acl_with("on nopass >p1");
    assert!(!acl.authenticate("u", b"whatever") && acl.authenticate("u", b"p1"));
    let acl = acl_with("on >p1 resetpass");
    assert!(!acl.authenticate("u", b"p1"));
    let h = hash_password(b"secret");
    assert_eq!(h, "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b");
    let acl = acl_with(&format!("on #{h}"));
    assert!(acl.authenticate("u", b"secret"));
    let acl = acl_with(&format!("on #{h} >x !{h}"));
    assert!(!acl.authenticate("u", b"secret") && acl.authenticate("u", b"x"));
}

#[test]
fn password_description_and_dedup() {
    let h = hash_password(b"a");
    assert_eq!(describe(">a >a >b <b"), format!("off #{h} resetchannels -@all"));
    assert_eq!(describe(">a nopass"), "off nopass resetchannels -@all");
}

#[test]
fn payload_flags_and_reset() {
    assert_eq!(describe("skip-sanitize-payload"), "off skip-sanitize-payload resetchannels -@all");
    assert_eq!(describe("on nopass ~* &* +@all (~x +get) reset"), "off sanitize-payload resetchannels -@all");
}

// ---- Key patterns ----

#[test]
fn key_patterns() {
    let acl = acl_with("on ~cached:* +@all");
    assert_eq!(check(&acl, "get cached:1"), Ok(()));
    assert_eq!(check(&acl, "get other"), key_denied("other"));
    assert_eq!(check(&acl, "mget cached:1 other cached:2"), key_denied("other"));
    assert_eq!(check(&acl, "ping"), Ok(()), "keyless commands need no pattern");
    let acl = acl_with("on allkeys +@all");
    assert_eq!(check(&acl, "del a b c"), Ok(()));
    let acl = acl_with("on ~a resetkeys ~b +@all");
    assert_eq!(check(&acl, "get a"), key_denied("a"));
}

#[test]
fn unrestricted_key_access_for_sort_patterns() {
    let reads_all = |rules: &str, cmd: &str| {
        let args: Vec<&[u8]> = cmd.split(' ').map(str::as_bytes).collect();
        acl_with(rules).user("u").expect("user").reads_all_keys_for(&args)
    };
    assert!(reads_all("on allkeys +@all", "sort k"));
    assert!(reads_all("on %R~* %W~x* +@all", "sort x store x2"));
    assert!(!reads_all("on ~x* +@all", "sort x"), "a pattern matching many keys is not all keys");
    assert!(!reads_all("on %W~* +@all", "sort x"), "write access alone");
    assert!(reads_all("on ~x* +@all (~* +sort)", "sort x"), "a selector may grant it");
    assert!(!reads_all("on ~* +@all -sort", "sort x"), "the command itself must be allowed");
}

#[test]
fn read_write_key_patterns() {
    let acl = acl_with("on %R~r:* %W~w:* %RW~rw:* +@all");
    assert_eq!(check(&acl, "get r:1"), Ok(()));
    assert_eq!(check(&acl, "get w:1"), key_denied("w:1"));
    assert_eq!(check(&acl, "set w:1 v"), Ok(()), "SET without GET only writes");
    assert_eq!(check(&acl, "set w:1 v get"), key_denied("w:1"), "SET ... GET also reads");
    assert_eq!(check(&acl, "set r:1 v"), key_denied("r:1"));
    assert_eq!(check(&acl, "incr w:1"), key_denied("w:1"), "INCR reads and writes");
    assert_eq!(check(&acl, "incr rw:1"), Ok(()));
    // EXISTS, STRLEN, TYPE touch neither the value: any matching pattern allows them.
    assert_eq!(check(&acl, "exists w:1 r:1"), Ok(()));
    assert_eq!(check(&acl, "strlen w:1"), Ok(()));
    assert_eq!(check(&acl, "exists other"), key_denied("other"));
    // Source read and written, destination written.
    assert_eq!(check(&acl, "lmove rw:a w:b left right"), Ok(()));
    assert_eq!(check(&acl, "lmove r:a w:b left right"), key_denied("r:a"));
    // Destination written, sources read.
    assert_eq!(check(&acl, "sinterstore w:d r:a r:b"), Ok(()));
    assert_eq!(check(&acl, "zunionstore w:d 2 r:a w:b"), key_denied("w:b"));
    assert_eq!(check(&acl, "copy r:a w:b"), Ok(()));
}

#[test]
fn key_pattern_descriptions() {
    assert_eq!(describe("%R~a %W~b %RW~c %R~d %W~d"), "off %R~a %W~b ~c ~d resetchannels -@all");
    assert_eq!(describe("~a ~*"), "off ~* resetchannels -@all");
    assert_eq!(describe("%RW~*"), "off ~* resetchannels -@all");
    assert_eq!(describe("%R"), "off %R~ resetchannels -@all");
}

#[test]
fn numkeys_commands() {
    let acl = acl_with("on ~s:* +@all");
    assert_eq!(check(&acl, "eval s 1 s:1"), Ok(()));
    assert_eq!(check(&acl, "eval s 2 s:1 other"), key_denied("other"));
    assert_eq!(check(&acl, "eval s 0 other"), Ok(()), "arguments after the keys are not keys");
    assert_eq!(check(&acl, "eval s notanumber other"), Ok(()), "no keys are found: EVAL itself fails");
    let acl = acl_with("on %R~s:* +@all");
    assert_eq!(check(&acl, "eval_ro s 1 s:1"), Ok(()));
    assert_eq!(check(&acl, "eval s 1 s:1"), key_denied("s:1"), "EVAL's keys are read and written");
}

// ---- Channels ----

#[test]
fn channels() {
    let acl = acl_with("on resetchannels &news.* &alerts +@all");
    assert_eq!(check(&acl, "subscribe news.1 alerts"), Ok(()));
    assert_eq!(check(&acl, "subscribe news.1 other"), channel_denied("other"));
    assert_eq!(check(&acl, "publish alerts m"), Ok(()));
    assert_eq!(check(&acl, "publish other m"), channel_denied("other"));
    assert_eq!(check(&acl, "spublish other m"), channel_denied("other"));
    assert_eq!(check(&acl, "ssubscribe news.x other"), channel_denied("other"));
    assert_eq!(check(&acl, "unsubscribe other"), Ok(()), "unsubscribing is never checked");
    // A PSUBSCRIBE pattern must be one of the user's patterns, literally.
    assert_eq!(check(&acl, "psubscribe news.*"), Ok(()));
    assert_eq!(check(&acl, "psubscribe news.1"), channel_denied("news.1"));
    let acl = acl_with("on allchannels +@all");
    assert_eq!(check(&acl, "psubscribe *"), Ok(()));
}

#[test]
fn shard_channels_are_not_keys() {
    let acl = acl_with("on resetkeys &* +@all");
    assert_eq!(check(&acl, "spublish ch m"), Ok(()));
}

#[test]
fn channel_descriptions() {
    assert_eq!(describe("&a &a &b"), "off resetchannels &a &b -@all");
    assert_eq!(describe("&a allchannels"), "off &* -@all");
    assert_eq!(describe("&* resetchannels &x"), "off resetchannels &x -@all");
}

// ---- Commands ----

#[test]
fn commands_apply_in_order() {
    let acl = acl_with("on ~* +@read -get");
    assert_eq!(check(&acl, "mget a"), Ok(()));
    assert_eq!(check(&acl, "get a"), cmd_denied("get"));
    assert_eq!(check(&acl, "set a b"), cmd_denied("set"));
    let acl = acl_with("on ~* -get +@read");
    assert_eq!(check(&acl, "get a"), Ok(()));
    let acl = acl_with("on ~* allcommands -@dangerous");
    assert_eq!(check(&acl, "flushall"), cmd_denied("flushall"));
    assert_eq!(check(&acl, "set a b"), Ok(()));
    let acl = acl_with("on ~* +@all nocommands +ping");
    assert_eq!(check(&acl, "get a"), cmd_denied("get"));
    assert_eq!(check(&acl, "PING"), Ok(()));
}

#[test]
fn subcommands() {
    let acl = acl_with("on +config|get");
    assert_eq!(check(&acl, "config get maxmemory"), Ok(()));
    assert_eq!(check(&acl, "CONFIG GET maxmemory"), Ok(()));
    assert_eq!(check(&acl, "config set maxmemory 1"), cmd_denied("config|set"));
    let acl = acl_with("on +config -config|set");
    assert_eq!(check(&acl, "config rewrite"), Ok(()));
    assert_eq!(check(&acl, "config set a b"), cmd_denied("config|set"));
    assert_eq!(check(&acl, "config nosuch"), cmd_denied("config"), "unknown subcommands are denied");
}

#[test]
fn first_args() {
    let acl = acl_with("on +select|0 +select|ABC");
    assert_eq!(check(&acl, "select 0"), Ok(()));
    assert_eq!(check(&acl, "select abc"), Ok(()));
    assert_eq!(check(&acl, "select 1"), cmd_denied("select"));
    assert_eq!(describe("+select|0 +select|1 +@all -select +select|3"), "off resetchannels +@all -select +select|3");
}

#[test]
fn no_auth_commands_are_always_allowed() {
    let acl = acl_with("on");
    assert_eq!(check(&acl, "auth u p"), Ok(()));
    assert_eq!(check(&acl, "hello 3"), Ok(()));
}

#[test]
fn command_descriptions() {
    assert_eq!(describe("+get -get"), "off resetchannels -@all");
    assert_eq!(describe("+@all -get +get"), "off resetchannels +@all");
    // Single commands come in table order (Redis: in hash order, which varies by run).
    assert_eq!(describe("-get +set +config|get +get"), "off resetchannels -@all +config|get +get +set");
    assert_eq!(describe("+@all -@dangerous"), "off resetchannels +@all -@dangerous");
    assert_eq!(describe("+@read -get"), "off resetchannels -@all +@read -get");
    assert_eq!(describe("+config|get +config -config|set"), "off resetchannels -@all +config -config|set");
    // Rules may name Redis commands slotgate does not serve.
    assert_eq!(describe("+@all -debug"), "off resetchannels +@all -debug");
}

// ---- Selectors ----

#[test]
fn selectors() {
    let acl = acl_with("on ~a:* +get (~b:* +set +get) (%R~c:* +@read)");
    assert_eq!(check(&acl, "get a:1"), Ok(()));
    assert_eq!(check(&acl, "set b:1 v"), Ok(()));
    assert_eq!(check(&acl, "set a:1 v"), key_denied("a:1"), "a key error beats a command error");
    assert_eq!(check(&acl, "get c:1"), Ok(()));
    assert_eq!(check(&acl, "set c:1 v"), key_denied("c:1"));
    assert_eq!(check(&acl, "del a:1"), cmd_denied("del"));
    // Each selector allows a whole command or nothing: keys may not be split across them. The
    // key reported is the furthest one a selector stopped at.
    assert_eq!(check(&acl, "mget a:1 c:1"), key_denied("a:1"));
    assert_eq!(check(&acl, "mget c:1 a:1"), key_denied("a:1"));
    let acl = acl_with("on (~a:* +get) clearselectors");
    assert_eq!(check(&acl, "get a:1"), cmd_denied("get"));
}

#[test]
fn selector_descriptions() {
    assert_eq!(
        describe("on nopass ~a (~b +set &c) (%R~x +get)"),
        "on nopass ~a resetchannels -@all (~b resetchannels &c -@all +set) (%R~x resetchannels -@all +get)"
    );
}

#[test]
fn getuser() {
    let acl = acl_with("on >x %R~a ~b &c +get (~d +set &e)");
    let info = acl.getuser("u").expect("user");
    assert_eq!(info.flags, vec!["on"]);
    assert_eq!(info.passwords, vec![hash_password(b"x")]);
    let root = SelectorInfo { commands: "-@all +get".into(), keys: "%R~a ~b".into(), channels: "&c".into() };
    assert_eq!(info.root, root);
    let sel = SelectorInfo { commands: "-@all +set".into(), keys: "~d".into(), channels: "&e".into() };
    assert_eq!(info.selectors, vec![sel]);
    assert!(acl.getuser("nosuch").is_none());
    assert_eq!(Acl::new().getuser("default").expect("default").root.keys, "~*");
}

// ---- Rule errors ----

#[test]
fn setuser_errors() {
    let m = |r: &str, e: &str| format!("Error in ACL SETUSER modifier '{r}': {e}");
    assert_eq!(setuser_err(&["foo"]), m("foo", "Syntax error"));
    assert_eq!(setuser_err(&["+nosuch"]), m("+nosuch", "Unknown command or category name in ACL"));
    assert_eq!(setuser_err(&["+@nosuch"]), m("+@nosuch", "Unknown command or category name in ACL"));
    assert_eq!(setuser_err(&["-get|x"]), m("-get|x", "Unknown command or category name in ACL"));
    assert_eq!(setuser_err(&["+config|"]), m("+config|", "Syntax error"));
    assert_eq!(setuser_err(&["+config|nosuch"]), m("+config|nosuch", "Unknown command or category name in ACL"));
    assert_eq!(
        setuser_err(&["+config|get|x"]),
        m("+config|get|x", "Allowing first-arg of a subcommand is not supported")
    );
    assert!(setuser_err(&["allkeys", "~x"]).contains("Try 'resetkeys'"));
    assert!(setuser_err(&["allchannels", "&x"]).contains("Try 'resetchannels'"));
    assert_eq!(setuser_err(&["<nop"]), m("<nop", "The password you are trying to remove from the user does not exist"));
    assert!(setuser_err(&["#abc"]).ends_with("contain only lowercase hexadecimal characters"));
    assert!(setuser_err(&[&format!("#{}", "A".repeat(64))]).contains("lowercase hexadecimal"));
    assert_eq!(setuser_err(&["%X~x"]), m("%X~x", "Syntax error"));
    assert_eq!(setuser_err(&["%~x"]), m("%~x", "Syntax error"));
    assert_eq!(setuser_err(&["(~x", "+get"]), "Unmatched parenthesis in acl selector starting at '(~x'.");
    assert_eq!(setuser_err(&["(~x +nosuch)"]), m("(~x +nosuch)", "Unknown command or category name in ACL"));
    assert_eq!(setuser_err(&["(on)"]), m("(on)", "Syntax error"), "user rules are not selector rules");
}

#[test]
fn setuser_is_all_or_nothing_and_merges_selectors() {
    let mut acl = Acl::new();
    acl.setuser("u", &[b"on", b"+get"]).expect("setuser");
    assert!(acl.setuser("u", &[b"+set", b"bogus"]).is_err());
    assert_eq!(acl.user("u").expect("u").describe(), "on resetchannels -@all +get");
    assert!(acl.setuser("v", &[b"bogus"]).is_err());
    assert!(acl.user("v").is_none(), "a failed SETUSER creates nothing");
    acl.setuser("u", &[b"(~x", b"+get)"]).expect("split selector");
    assert_eq!(acl.user("u").expect("u").describe(), "on resetchannels -@all +get (~x resetchannels -@all +get)");
    let err = acl.setuser("a b", &[b"on"]).expect_err("space");
    assert_eq!(err.0, "Usernames can't contain spaces or null characters");
}

// ---- ACL command family ----

#[test]
fn users_deluser_save() {
    let mut acl = Acl::new();
    acl.setuser("zed", &[b"on"]).expect("zed");
    acl.setuser("alice", &[b"on", b"nopass", b"~*", b"+get"]).expect("alice");
    assert_eq!(acl.usernames(), vec!["alice", "default", "zed"]);
    assert_eq!(
        acl.save_text(),
        "user alice on nopass ~* resetchannels -@all +get\nuser default on nopass ~* &* +@all\n\
         user zed on resetchannels -@all\n"
    );
    assert_eq!(acl.deluser(&["default", "zed"]).expect_err("default").0, "The 'default' user cannot be removed");
    assert_eq!(acl.deluser(&["zed", "nosuch"]), Ok(1));
    assert_eq!(acl.usernames(), vec!["alice", "default"]);
    // A saved file loads back to the same users.
    assert_eq!(Acl::parse("saved", &acl.save_text()).expect("reload"), acl);
}

#[test]
fn dryrun() {
    let acl = acl_with("on ~a +get");
    let run = |args: &[&str]| {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        acl.dryrun("u", &args)
    };
    assert_eq!(run(&["get", "a"]), Ok(DryRun::Allowed));
    let denied = run(&["get", "b"]).expect("dryrun");
    let DryRun::Denied(d) = denied else { panic!("allowed") };
    assert_eq!(d.dryrun_text(), "This user has no permissions to access the 'b' key");
    assert_eq!(d.error_message(), "NOPERM this user has no permissions to access one of the keys used as arguments");
    assert_eq!(run(&["get"]).expect_err("arity").0, "wrong number of arguments for 'get' command");
    assert_eq!(run(&["nosuch"]).expect_err("unknown").0, "Command 'nosuch' not found");
    assert_eq!(run(&["config", "foo"]).expect_err("unknown sub").0, "Command 'config' not found");
    assert_eq!(run(&["config"]).expect_err("arity").0, "wrong number of arguments for 'config' command");
    assert_eq!(acl.dryrun("nosuch", &[b"get", b"a"]).expect_err("user").0, "User 'nosuch' not found");
    assert_eq!(
        Denial::Command { command: "config|get".into() }.error_message(),
        "NOPERM this user has no permissions to run the 'config|get' command"
    );
    assert_eq!(
        Denial::Channel { channel: b"x".to_vec() }.dryrun_text(),
        "This user has no permissions to access the 'x' channel"
    );
}

#[test]
fn unknown_user_and_command_are_denied() {
    let acl = Acl::new();
    assert_eq!(acl.check("nosuch", &[b"GET", b"k"]), cmd_denied("get"));
    assert_eq!(acl.check("default", &[b"nosuchcmd"]), cmd_denied("nosuchcmd"));
    assert_eq!(acl.check("default", &[b"lolwut", b"version", b"5"]), cmd_denied("lolwut"));
}

#[test]
fn categories() {
    assert_eq!(category_names()[..3], ["keyspace", "read", "write"]);
    let tx = category_commands("TRANSACTION").expect("transaction");
    for c in ["multi", "exec", "discard", "watch", "unwatch"] {
        assert!(tx.contains(&c), "{c}");
    }
    assert!(category_commands("admin").expect("admin").contains(&"config|set"));
    assert_eq!(category_commands("nosuch").expect_err("unknown").0, "Unknown category 'nosuch'");
}

// ---- Files ----

#[test]
fn parse_file() {
    let text = "user app_user on >secure_password ~cached:* ~session:* +get +set +del +exists +expire +ttl\n\
                \n\
                # comments are an extension\n\
                user monitor_user on >monitor_password ~* +info +ping +cluster +client\r\n\
                user sel on nopass  (~x +get)   (~y  +set)\n";
    let acl = Acl::parse("users.acl", text).expect("parse");
    assert_eq!(acl.usernames(), vec!["app_user", "default", "monitor_user", "sel"]);
    assert!(acl.authenticate("app_user", b"secure_password"));
    assert_eq!(acl.check("app_user", &[b"get", b"cached:1"]), Ok(()));
    assert_eq!(acl.check("app_user", &[b"hget", b"cached:1", b"f"]), cmd_denied("hget"));
    assert_eq!(acl.check("monitor_user", &[b"cluster", b"info"]), Ok(()));
    assert_eq!(acl.check("sel", &[b"set", b"y", b"v"]), Ok(()));
    assert_eq!(acl.user("default").expect("default").describe(), "on nopass ~* &* +@all");
}

#[test]
fn file_defines_default() {
    let acl = Acl::parse("f", "user default on\n").expect("parse");
    assert_eq!(acl.user("default").expect("default").describe(), "on resetchannels -@all");
}

#[test]
fn file_errors_name_lines() {
    let text =
        "user default on nopass ~* +@all\nuser x on +bogus +nosuch\nuser y foo >secret bar\nuser x off\nfoo bar\n";
    let err = Acl::parse("users.acl", text).expect_err("bad file");
    let lines: Vec<String> = err.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        vec![
            "users.acl:2: Error in applying operation '+bogus': Unknown command or category name in ACL",
            "users.acl:2: Error in applying operation '+nosuch': Unknown command or category name in ACL",
            "users.acl:3: Syntax error",
            "users.acl:4: Duplicate user 'x' found",
            "users.acl:5: should start with user keyword followed by the username",
        ]
    );
    assert!(err.reply_text().ends_with("no change to the previously active ACL rules was performed"));
    let err = Acl::parse("f", "user z (~x +get\n").expect_err("unmatched");
    assert_eq!(err.to_string(), "f:1: Unmatched parenthesis in acl selector starting at '(~x'.");
}

#[test]
fn reload_keeps_old_acl_on_error() {
    let mut acl = Acl::parse("f", "user a on nopass +ping\n").expect("parse");
    let before = acl.clone();
    assert!(acl.reload("f", "user a on +bogus\n").is_err());
    assert_eq!(acl, before);
    acl.reload("f", "user b on\n").expect("reload");
    assert_eq!(acl.usernames(), vec!["b", "default"]);
}

#[test]
fn load_file_reports_missing_file() {
    let err = Acl::load_file(std::path::Path::new("/nonexistent/users.acl")).expect_err("missing");
    assert!(err.to_string().starts_with("/nonexistent/users.acl: Error loading ACLs, opening file"));
}

#[test]
fn config_user_directive_starts_from_reset() {
    let mut acl = Acl::new();
    let args: Vec<Vec<u8>> = ["default", "on", ">pw", "~*", "+@all"].iter().map(|s| s.as_bytes().to_vec()).collect();
    acl.add_config_user("redis.conf", 3, &args).expect("directive");
    assert!(!acl.authenticate("default", b"wrong") && acl.authenticate("default", b"pw"));
    assert_eq!(acl.user("default").expect("default").describe().split(' ').nth(1), Some("sanitize-payload"));
    let bad: Vec<Vec<u8>> = vec![b"x".to_vec(), b"+bogus".to_vec()];
    let err = acl.add_config_user("redis.conf", 4, &bad).expect_err("bad rule");
    assert!(err.to_string().starts_with("redis.conf:4: Error in applying operation '+bogus'"));
}

#[test]
fn config_users_other_than_default_start_empty() {
    let mut acl = Acl::new();
    let args: Vec<Vec<u8>> = ["bob", "on", ">pw", "+@all"].iter().map(|s| s.as_bytes().to_vec()).collect();
    acl.add_config_user("redis.conf", 1, &args).expect("directive");
    // No `sanitize-payload`: only `default` is reset, as Redis 7.0 does.
    assert_eq!(acl.list()[0], format!("user bob on #{} resetchannels +@all", hash_password(b"pw")),);
}

#[test]
fn user_directives_are_checked_while_loading() {
    let words = |s: &str| s.split(' ').map(str::to_string).collect::<Vec<_>>();
    assert_eq!(check_user_directive(&words("bob on >pw ~* +@all"), &[]), Ok(()));
    let earlier = [UserDirective { file: "f".into(), line: 1, args: words("bob on") }];
    assert_eq!(
        check_user_directive(&words("bob off"), &earlier),
        Err("Error in user declaration 'bob': Duplicate user found. A user can only be defined once in config files"
            .into())
    );
    assert_eq!(
        check_user_directive(&words("x on bogus"), &[]),
        Err("Error in user declaration 'bogus': Syntax error".into())
    );
    assert!(check_user_directive(&words("x (~a +get"), &[]).unwrap_err().contains("Unmatched parenthesis"));
}

#[test]
fn startup_order_requirepass_then_file_or_directives() {
    let words = |s: &str| s.split(' ').map(str::to_string).collect::<Vec<_>>();
    // requirepass alone: default needs it.
    let store = AclStore::at_startup(None, &[], Some("foo")).expect("start");
    assert!(!store.default_open() && store.acl().authenticate("default", b"foo"));
    // A `user default` directive replaces it; other directives leave it.
    let users = [UserDirective { file: "c".into(), line: 1, args: words("default on nopass ~* +@all") }];
    assert!(AclStore::at_startup(None, &users, Some("foo")).expect("start").default_open());
    let users = [UserDirective { file: "c".into(), line: 1, args: words("alice on >a +@all") }];
    let store = AclStore::at_startup(None, &users, Some("foo")).expect("start");
    assert!(store.acl().authenticate("default", b"foo") && store.acl().authenticate("alice", b"a"));
    // An ACL file without a default line brings back the stock, passwordless one.
    let dir = std::env::temp_dir().join(format!("slotgate-acl-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("u.acl");
    std::fs::write(&file, "user x on >p +@all\n").expect("write");
    assert!(AclStore::at_startup(Some(&file), &[], Some("foo")).expect("start").default_open());
    let err = AclStore::at_startup(Some(&file), &users, None).expect_err("both");
    assert!(err.contains("please define either an ACL file or declare users directly"));
    std::fs::write(&file, "user x on +bogus\n").expect("write");
    let err = AclStore::at_startup(Some(&file), &[], None).expect_err("bad file");
    assert!(err.contains("u.acl:1: Error in applying operation '+bogus'"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn run_acl(store: &mut AclStore, caller: &str, line: &str) -> (Effect, String) {
    let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
    let mut out = protocol::Reply::new();
    let effect = store.command(caller, &args, &mut out);
    (effect, String::from_utf8_lossy(&out.buf).into_owned())
}

#[test]
fn acl_command_family_replies_and_effects() {
    let mut store = AclStore::new(Acl::parse("f", "user a on >p ~* &news:* +@all\n").expect("parse"), None);
    assert_eq!(run_acl(&mut store, "a", "ACL WHOAMI").1, "$1\r\na\r\n");
    assert_eq!(run_acl(&mut store, "a", "ACL LOG -1").1, "*0\r\n");
    assert_eq!(run_acl(&mut store, "a", "ACL LOG x").1, "-ERR value is not an integer or out of range\r\n");
    assert_eq!(run_acl(&mut store, "a", "ACL GENPASS x").1, "-ERR value is not an integer or out of range\r\n");
    assert!(run_acl(&mut store, "a", "ACL LOAD").1.starts_with("-ERR This Redis instance is not configured"));
    // Channels kept: nothing to do. Taken away: the grant says which subscriptions survive.
    assert_eq!(run_acl(&mut store, "a", "ACL SETUSER a &more:*").0, Effect::None);
    let (effect, reply) = run_acl(&mut store, "a", "ACL SETUSER a resetchannels &more:*");
    assert_eq!(reply, "+OK\r\n");
    let Effect::ChannelsRevoked { user, grant } = effect else { panic!("{effect:?}") };
    assert_eq!(user, "a");
    assert!(grant.allows(b"more:1", false) && !grant.allows(b"news:1", false));
    assert!(grant.allows(b"more:*", true) && !grant.allows(b"more:1*", true));
    assert_eq!(run_acl(&mut store, "a", "ACL SETUSER a allchannels").0, Effect::None);
    let (effect, reply) = run_acl(&mut store, "a", "ACL DELUSER a nobody");
    assert_eq!((effect, reply.as_str()), (Effect::UsersDeleted(vec!["a".into()]), ":1\r\n"));
    // Logins: a failure is logged with the command as sent.
    assert_eq!(store.login(b"AUTH", "a", b"p", LogContext::Toplevel, || "id=1".into()), Err(WRONGPASS));
    let e = store.log().entries(None).next().expect("entry").clone();
    assert_eq!((e.reason, e.object.as_slice(), e.username.as_str()), (LogReason::Auth, &b"AUTH"[..], "a"));
    // requirepass at run time.
    assert!(store.default_open() && store.auth_needs_username());
    store.set_default_password(Some(b"pw"));
    assert!(!store.default_open() && !store.auth_needs_username());
    store.set_default_password(None);
    assert!(store.default_open());
}
