//! `aigcq check`: findings as `file:line: rule: message`, then a count.

use std::io::{self, Write};

use console::style;

use super::plural;
use aigcq::check::Finding;

pub fn human(out: &mut impl Write, findings: &[Finding]) -> io::Result<()> {
    for f in findings {
        writeln!(
            out,
            "{}:{}: {}: {}",
            style(&f.file).bold(),
            f.line,
            style(f.rule).yellow(),
            f.message
        )?;
    }
    match findings.len() {
        0 => writeln!(out, "no findings"),
        n => writeln!(out, "{}", plural(n, "finding")),
    }
}
