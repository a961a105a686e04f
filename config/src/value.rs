//! Per-type value handling for directives: parsing a file line or CONFIG SET value into the
//! config (with Redis 7.0's checks and error texts) and formatting it for CONFIG GET.

use std::path::PathBuf;

use crate::node::NodeConfig;
use crate::split::split_args;
use crate::table::{lookup, Directive, Kind, LoadState};
use crate::units::{parse_bool, parse_ll, parse_memory, yes_no};

/// Redis's CONFIG_BINDADDR_MAX.
const BINDADDR_MAX: usize = 16;

/// Class name CONFIG GET prints for replica buffer limits. Redis 7.0 itself prints "slave";
/// slotgate's contract asks for "replica" (CONFIG REWRITE writes "replica" in both).
const OBUF_REPLICA_GET_NAME: &str = "slave";

/// Directives Redis 7.0 still accepts in a file and ignores, with their (min, max) argc.
const DEPRECATED: &[(&str, usize, usize)] =
    &[("list-max-ziplist-entries", 2, 2), ("list-max-ziplist-value", 2, 2), ("lua-replicate-commands", 2, 2)];

/// Applies a directive line (name + args) with config-file semantics.
pub(crate) fn apply_directive(
    cfg: &mut NodeConfig,
    name: &str,
    args: &[String],
    st: Option<&mut LoadState>,
) -> Result<(), String> {
    let Some(d) = lookup(name) else {
        let argc = args.len() + 1;
        let deprecated =
            DEPRECATED.iter().any(|(n, lo, hi)| n.eq_ignore_ascii_case(name) && (*lo..=*hi).contains(&argc));
        return if deprecated { Ok(()) } else { Err("Bad directive or wrong number of arguments".into()) };
    };
    if !d.is_multi() {
        return match args {
            [v] => d.set_single(cfg, v),
            // Its three values may come as three arguments, as in redis.conf.
            [_, _, _] if d.name == "oom-score-adj-values" => d.set_single(cfg, &args.join(" ")),
            _ => Err("wrong number of arguments".into()),
        };
    }
    // A multi-arg directive given one non-empty argument is split again: `save "900 1 300 10"`.
    let split;
    let args = match args {
        [one] if !one.is_empty() => {
            split = split_args(one).map_err(|_| "Unbalanced quotes in configuration line")?;
            &split[..]
        }
        _ => args,
    };
    d.set_multi(cfg, args, st)
}

impl Directive {
    fn is_multi(&self) -> bool {
        matches!(self.kind, Kind::Save | Kind::Bind | Kind::Obuf | Kind::ReplicaOf)
    }

    /// CONFIG SET semantics: multi-arg values are split on single spaces like sdssplitlen.
    pub(crate) fn set_runtime(&self, cfg: &mut NodeConfig, value: &str) -> Result<(), String> {
        if !self.is_multi() {
            return self.set_single(cfg, value);
        }
        let args: Vec<String> =
            if value.is_empty() { Vec::new() } else { value.split(' ').map(str::to_string).collect() };
        self.set_multi(cfg, &args, None)
    }

    /// Parses and stores a single-valued directive; leaves `cfg` untouched on error.
    fn set_single(&self, cfg: &mut NodeConfig, v: &str) -> Result<(), String> {
        match &self.kind {
            Kind::Bool { set, .. } => set(cfg, parse_bool(v)?),
            Kind::Num { min, max, signed, memory, set, .. } => {
                let val = parse_number(v, *signed, *memory)?;
                if val < *min || val > *max {
                    return Err(format!("argument must be between {min} and {max} inclusive"));
                }
                // In range, hence within u64, or a negative i64 kept in its two's complement
                // (shown signed, below).
                set(cfg, val as u64);
            }
            Kind::Str { set, check, .. } => {
                check(v)?;
                set(cfg, v.to_string());
            }
            Kind::Enum { names, set, .. } => {
                let idx = names
                    .iter()
                    .position(|n| n.eq_ignore_ascii_case(v))
                    .ok_or_else(|| format!("argument(s) must be one of the following: {}", names.join(", ")))?;
                set(cfg, idx);
            }
            Kind::Dir => {
                // chdir("") fails with ENOENT in Redis; the rest is checked by the server's chdir.
                if v.is_empty() {
                    return Err("No such file or directory".into());
                }
                cfg.dir = PathBuf::from(v);
            }
            Kind::Save | Kind::Bind | Kind::Obuf | Kind::ReplicaOf => return self.set_multi(cfg, &[v.into()], None),
        }
        Ok(())
    }

    /// Stores a multi-arg directive (save, bind, client-output-buffer-limit).
    fn set_multi(&self, cfg: &mut NodeConfig, args: &[String], st: Option<&mut LoadState>) -> Result<(), String> {
        match self.kind {
            Kind::Save => set_save(cfg, args, st),
            Kind::Bind => {
                if args.len() > BINDADDR_MAX {
                    return Err("Too many bind addresses specified.".into());
                }
                // A single empty argument means "no addresses".
                cfg.bind = match args {
                    [one] if one.is_empty() => Vec::new(),
                    _ => args.to_vec(),
                };
                Ok(())
            }
            Kind::Obuf => set_obuf(cfg, args),
            Kind::ReplicaOf => {
                cfg.replicaof = match args {
                    [h, p] if h.eq_ignore_ascii_case("no") && p.eq_ignore_ascii_case("one") => None,
                    [h, p] => Some((h.clone(), p.parse::<u16>().map_err(|_| "Invalid master port")?)),
                    _ => return Err("wrong number of arguments".into()),
                };
                Ok(())
            }
            _ => match args {
                [v] => self.set_single(cfg, v),
                _ => Err("wrong number of arguments".into()),
            },
        }
    }

    /// The value as CONFIG GET reports it.
    pub(crate) fn get(&self, cfg: &NodeConfig) -> String {
        match &self.kind {
            Kind::Bool { get, .. } => yes_no(get(cfg)).into(),
            Kind::Num { get, min, .. } if *min < 0 => (get(cfg) as i64).to_string(),
            Kind::Num { get, .. } => get(cfg).to_string(),
            Kind::Str { get, .. } => get(cfg),
            Kind::Enum { names, get, .. } => names[get(cfg)].into(),
            Kind::Dir => cfg.dir.to_string_lossy().into_owned(),
            Kind::Save => cfg.save.iter().map(|(s, c)| format!("{s} {c}")).collect::<Vec<_>>().join(" "),
            Kind::Bind => cfg.bind.join(" "),
            Kind::ReplicaOf => cfg.replicaof.as_ref().map_or(String::new(), |(h, p)| format!("{h} {p}")),
            Kind::Obuf => cfg
                .client_output_buffer_limit
                .iter()
                .map(|(class, hard, soft, secs)| {
                    let class = if class == "replica" { OBUF_REPLICA_GET_NAME } else { class };
                    format!("{class} {hard} {soft} {secs}")
                })
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

/// Parses a number the way Redis's numericParseString sees it, widened to i128.
fn parse_number(v: &str, signed: bool, memory: bool) -> Result<i128, String> {
    if memory {
        let n = parse_memory(v)?;
        // memtoull's result is stored into a signed long long for signed configs.
        Ok(if signed { i128::from(n as i64) } else { i128::from(n) })
    } else {
        let n = parse_ll(v).ok_or("argument couldn't be parsed into an integer")?;
        // Unsigned configs see the value cast to unsigned, so -1 fails the range check.
        Ok(if signed { i128::from(n) } else { i128::from(n as u64) })
    }
}

/// `save`: pairs of `<seconds> <changes>`, `""` clears; in a file the first line replaces
/// the defaults and later lines append.
fn set_save(cfg: &mut NodeConfig, args: &[String], st: Option<&mut LoadState>) -> Result<(), String> {
    const ERR: &str = "Invalid save parameters";
    // `save ""` resets immediately, even after earlier save lines of the same file.
    let args = match args {
        [one] if one.is_empty() => {
            cfg.save.clear();
            &[][..]
        }
        _ => args,
    };
    if !args.len().is_multiple_of(2) {
        return Err(ERR.into());
    }
    let mut points = Vec::with_capacity(args.len() / 2);
    for pair in args.chunks(2) {
        let secs: i64 = pair[0].parse().map_err(|_| ERR)?;
        let changes: i64 = pair[1].parse().map_err(|_| ERR)?;
        if secs < 1 || changes < 0 {
            return Err(ERR.into());
        }
        points.push((secs as u64, changes as u64));
    }
    match st {
        Some(st) if st.save_loaded => {}
        Some(st) => {
            st.save_loaded = true;
            cfg.save.clear();
        }
        None => cfg.save.clear(),
    }
    cfg.save.extend(points);
    Ok(())
}

/// Canonical class name for a client-output-buffer-limit class, or None if invalid.
fn obuf_class(name: &str) -> Option<&'static str> {
    ["normal", "replica", "pubsub"]
        .into_iter()
        .find(|c| c.eq_ignore_ascii_case(name))
        .or_else(|| name.eq_ignore_ascii_case("slave").then_some("replica"))
}

/// `client-output-buffer-limit <class> <hard> <soft> <soft-seconds> [...]`, all or nothing.
fn set_obuf(cfg: &mut NodeConfig, args: &[String]) -> Result<(), String> {
    if !args.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut updates = Vec::with_capacity(args.len() / 4);
    for group in args.chunks(4) {
        let class = obuf_class(&group[0]).ok_or("Invalid client class specified in buffer limit configuration.")?;
        let bad = || "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
        let hard = parse_memory(&group[1]).map_err(|_| bad())?;
        let soft = parse_memory(&group[2]).map_err(|_| bad())?;
        let secs: i64 = group[3].parse().map_err(|_| bad())?;
        let secs = u64::try_from(secs).map_err(|_| bad())?;
        updates.push((class, hard, soft, secs));
    }
    for (class, hard, soft, secs) in updates {
        let limits = &mut cfg.client_output_buffer_limit;
        match limits.iter_mut().find(|e| e.0 == class) {
            Some(e) => *e = (class.to_string(), hard, soft, secs),
            None => limits.push((class.to_string(), hard, soft, secs)),
        }
    }
    Ok(())
}
