//! `aigcq stats`: one table per model and per template.

use std::io::{self, Write};

use console::{measure_text_width, style};

use super::safe;
use aigcq::review::ledger::Record;

/// Aligned rows under a header; the accept rate of what was decided, and the head-to-head
/// record where there is one.
pub fn table(out: &mut impl Write, title: &str, rows: &[Record]) -> io::Result<()> {
    if rows.is_empty() {
        return writeln!(out, "{title}: no decision in the ledger yet (aigcq review)");
    }
    let width = rows
        .iter()
        .map(|r| measure_text_width(&safe(&r.name)))
        .max()
        .unwrap_or(0)
        .max(title.len());
    writeln!(
        out,
        "{}",
        style(format!("{title:<width$}  ACCEPTED  REJECTED  RATE  HEAD TO HEAD")).bold()
    )?;
    for r in rows {
        let decided = r.accepted + r.rejected;
        let rate = (decided > 0)
            .then(|| r.accepted * 100 / decided)
            .map_or("–".to_owned(), |p| format!("{p} %"));
        let duels = if r.wins + r.losses > 0 {
            format!("won {} · lost {}", r.wins, r.losses)
        } else {
            String::new()
        };
        let name = safe(&r.name);
        let pad = " ".repeat(width.saturating_sub(measure_text_width(&name)));
        writeln!(
            out,
            "{name}{pad}  {:>8}  {:>8}  {rate:>4}  {duels}",
            r.accepted, r.rejected
        )?;
    }
    Ok(())
}
