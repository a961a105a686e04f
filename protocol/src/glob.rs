//! Redis's glob matcher (`stringmatchlen`): `*`, `?`, `[abc]`, `[^a]`, `[a-z]` and `\` escapes,
//! with Redis's exact edge cases (unterminated brackets, reversed ranges, escapes inside brackets).

/// Matches `string` against the glob `pattern` as Redis does (KEYS, SCAN MATCH, CONFIG GET, ACL).
pub fn glob_match(pattern: &[u8], string: &[u8]) -> bool {
    let mut skip_longer = false;
    match_impl(pattern, string, false, &mut skip_longer, 0)
}

/// Case-insensitive variant (CONFIG GET patterns).
pub fn glob_match_nocase(pattern: &[u8], string: &[u8]) -> bool {
    let mut skip_longer = false;
    match_impl(pattern, string, true, &mut skip_longer, 0)
}

fn eq(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

fn match_impl(pat: &[u8], s: &[u8], nocase: bool, skip_longer: &mut bool, nesting: u32) -> bool {
    // Deep star nesting is refused rather than risking the stack (Redis does the same).
    if nesting > 1000 {
        return false;
    }
    let (mut p, mut i) = (0usize, 0usize);
    while p < pat.len() && i < s.len() {
        match pat[p] {
            b'*' => {
                while p + 1 < pat.len() && pat[p + 1] == b'*' {
                    p += 1;
                }
                if p + 1 == pat.len() {
                    return true;
                }
                while i < s.len() {
                    if match_impl(&pat[p + 1..], &s[i..], nocase, skip_longer, nesting + 1) {
                        return true;
                    }
                    // A failed tail match that ran out of string cannot succeed on a shorter one.
                    if *skip_longer {
                        return false;
                    }
                    i += 1;
                }
                *skip_longer = true;
                return false;
            }
            b'?' => i += 1,
            b'[' => {
                p += 1;
                let not = p < pat.len() && pat[p] == b'^';
                if not {
                    p += 1;
                }
                let mut matched = false;
                loop {
                    if p >= pat.len() {
                        // Unterminated class: step back so the outer advance lands on the end.
                        p -= 1;
                        break;
                    } else if pat[p] == b'\\' && pat.len() - p >= 2 {
                        p += 1;
                        if pat[p] == s[i] {
                            matched = true;
                        }
                    } else if pat[p] == b']' {
                        break;
                    } else if pat.len() - p >= 3 && pat[p + 1] == b'-' {
                        let (mut start, mut end) = (pat[p], pat[p + 2]);
                        let mut c = s[i];
                        if start > end {
                            std::mem::swap(&mut start, &mut end);
                        }
                        if nocase {
                            start = start.to_ascii_lowercase();
                            end = end.to_ascii_lowercase();
                            c = c.to_ascii_lowercase();
                        }
                        p += 2;
                        if c >= start && c <= end {
                            matched = true;
                        }
                    } else if eq(pat[p], s[i], nocase) {
                        matched = true;
                    }
                    p += 1;
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                i += 1;
            }
            c => {
                let c = if c == b'\\' && pat.len() - p >= 2 {
                    p += 1;
                    pat[p]
                } else {
                    c
                };
                if !eq(c, s[i], nocase) {
                    return false;
                }
                i += 1;
            }
        }
        p += 1;
        if i == s.len() {
            while p < pat.len() && pat[p] == b'*' {
                p += 1;
            }
            break;
        }
    }
    p == pat.len() && i == s.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes())
    }

    #[test]
    fn basics() {
        assert!(m("*", "anything"));
        // As in Redis, a lone `*` does not match the empty string (KEYS special-cases `*`).
        assert!(!m("*", ""));
        assert!(m("h?llo", "hello"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(!m("h[a-b]llo", "hcllo"));
        assert!(m("h[b-a]llo", "hallo"), "reversed ranges are swapped");
        assert!(m("h\\*llo", "h*llo"));
        assert!(!m("h\\*llo", "hello"));
        assert!(m("[\\]]", "]"));
        assert!(m("user:*:session", "user:42:session"));
        assert!(!m("user:*:session", "user:42:sessions"));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("a*b*c", "aXXbYY"));
    }

    #[test]
    fn edge_cases_as_redis() {
        // Unterminated class matches as if closed at the end.
        assert!(m("[abc", "a"));
        assert!(!m("[abc", "d"));
        // Trailing backslash is literal.
        assert!(m("a\\", "a\\"));
        assert!(m("**a", "bba"));
        assert!(m("a*", "a"));
        assert!(!m("", "a"));
        assert!(m("", ""));
        assert!(!m("?", ""));
        assert!(glob_match_nocase(b"MAXMEMORY*", b"maxmemory-policy"));
    }

    #[test]
    fn pathological_pattern_terminates() {
        let pat = "a*".repeat(40) + "b";
        let s = "a".repeat(60);
        assert!(!m(&pat, &s));
    }
}
