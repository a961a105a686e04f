//! ACL files (`aclfile`, `ACL LOAD`) and the rules of `ACL SETUSER`. A file that loads must
//! save (`ACL SAVE`) to text that loads again to the same text; each loaded user is checked
//! against a few commands, and every line is also tried as an `ACL SETUSER` on a fresh ACL.

use config::acl::Acl;

pub const TOKENS: &[&[u8]] = &[
    b"user ",
    b"\n",
    b" on",
    b" off",
    b" nopass",
    b" >",
    b" <",
    b" #",
    b" ~",
    b" %R~",
    b" %W~",
    b" &",
    b" +@all",
    b" -@all",
    b" +",
    b" -",
    b" (",
    b")",
    b" resetkeys",
    b" reset",
    b" allkeys",
    b" allchannels",
    b"|",
    b"*",
];

/// Commands each loaded user is checked against.
const PROBES: &[&[&[u8]]] = &[
    &[b"GET", b"key"],
    &[b"SET", b"k", b"v"],
    &[b"MSET", b"a", b"1", b"b", b"2"],
    &[b"PUBLISH", b"chan", b"m"],
    &[b"CONFIG", b"GET", b"port"],
    &[b"EVAL", b"return 1", b"1", b"k"],
    &[b"NOSUCH"],
];

pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(acl) = Acl::parse("fuzz.acl", &text) {
        round_trip(&acl);
        for user in acl.usernames() {
            let _ = acl.getuser(user);
            for probe in PROBES {
                let _ = acl.check(user, probe);
                let _ = acl.dryrun(user, probe);
            }
        }
    }
    for line in text.lines() {
        let words: Vec<&[u8]> = line.as_bytes().split(|&b| b == b' ').collect();
        if let [b"user", name, rules @ ..] = &words[..] {
            let mut acl = Acl::new();
            let name = String::from_utf8_lossy(name);
            if acl.setuser(&name, rules).is_ok() {
                let _ = acl.check(&name, PROBES[0]);
            }
        }
    }
}

/// What `ACL SAVE` writes loads again, and saves to the same text.
fn round_trip(acl: &Acl) {
    if paren_in_selector(acl) {
        return;
    }
    let saved = acl.save_text();
    let reloaded = match Acl::parse("saved.acl", &saved) {
        Ok(a) => a,
        Err(e) => panic!("ACL SAVE output does not load: {e}\n{saved}"),
    };
    assert_eq!(reloaded.save_text(), saved, "saving a reloaded ACL changes it");
}

/// A selector rule ending in `)` (`(~log:x))` holds the pattern `log:x)`) is saved as Redis 7.0
/// saves it, `(~log:x) resetchannels -@all)`, which neither Redis nor slotgate reads back as
/// one selector: such ACLs are left out of the round trip.
fn paren_in_selector(acl: &Acl) -> bool {
    acl.usernames().iter().filter_map(|u| acl.getuser(u)).any(|info| {
        info.selectors
            .iter()
            .any(|s| [&s.commands, &s.keys, &s.channels].iter().any(|f| f.split(' ').any(|w| w.ends_with(')'))))
    })
}
