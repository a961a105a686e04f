//! Human output: aligned tables, and colour only when standard output is a terminal.

use std::io::IsTerminal;

/// How a value reads at a glance.
#[derive(Clone, Copy, PartialEq)]
pub enum Tone {
    Plain,
    Good,
    Warn,
    Bad,
}

/// `s` coloured by `tone` when standard output is a terminal (and NO_COLOR is unset).
pub fn paint(s: &str, tone: Tone) -> String {
    let code = match tone {
        Tone::Plain => return s.to_string(),
        Tone::Good => "32",
        Tone::Warn => "33",
        Tone::Bad => "31",
    };
    if colour() {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

fn colour() -> bool {
    std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal()
}

/// A table printed with columns padded to their widest cell. Cells may carry a tone.
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<(String, Tone)>>,
}

impl Table {
    pub fn new(headers: &[&str]) -> Table {
        Table { headers: headers.iter().map(|h| h.to_string()).collect(), rows: Vec::new() }
    }

    pub fn row(&mut self, cells: Vec<(String, Tone)>) {
        self.rows.push(cells);
    }

    /// A row of plain cells.
    pub fn plain(&mut self, cells: Vec<String>) {
        self.rows.push(cells.into_iter().map(|c| (c, Tone::Plain)).collect());
    }

    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (i, (c, _)) in r.iter().enumerate() {
                if i < widths.len() {
                    widths[i] = widths[i].max(c.chars().count());
                }
            }
        }
        let mut out = String::new();
        let line = |cells: Vec<(String, Tone)>, out: &mut String| {
            let last = cells.len().saturating_sub(1);
            for (i, (c, tone)) in cells.into_iter().enumerate() {
                let pad = widths.get(i).copied().unwrap_or(0).saturating_sub(c.chars().count());
                out.push_str(&paint(&c, tone));
                if i != last {
                    out.push_str(&" ".repeat(pad + 2));
                }
            }
            out.push('\n');
        };
        line(self.headers.iter().map(|h| (h.to_uppercase(), Tone::Plain)).collect(), &mut out);
        for r in &self.rows {
            line(r.clone(), &mut out);
        }
        out
    }
}

/// Bytes in Redis's human form (`1.50M`), as INFO's `used_memory_human` prints them.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "K", "M", "G", "T"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n}B")
    } else {
        format!("{v:.2}{}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_pads_columns() {
        let mut t = Table::new(&["node", "role"]);
        t.plain(vec!["127.0.0.1:7000".into(), "master".into()]);
        t.plain(vec!["h:1".into(), "replica".into()]);
        assert_eq!(t.render(), "NODE            ROLE\n127.0.0.1:7000  master\nh:1             replica\n");
    }

    #[test]
    fn human() {
        assert_eq!(human_bytes(100), "100B");
        assert_eq!(human_bytes(1536), "1.50K");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.00M");
    }
}
