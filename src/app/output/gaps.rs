//! `aigcq gaps`: gaps grouped by chapter, then a summary line.

use std::io::{self, Write};

use console::style;

use super::{kind_style, plural};
use aigcq::gaps::ChapterGaps;

pub fn human(out: &mut impl Write, chapters: &[ChapterGaps], stats: bool) -> io::Result<()> {
    let with_gaps = chapters.iter().filter(|c| !c.gaps.is_empty());
    for c in with_gaps {
        writeln!(out, "{}", style(&c.file).bold())?;
        for g in &c.gaps {
            write!(
                out,
                "{:>5}  {}  {}  {}",
                g.index,
                kind_style(g.kind).apply_to(format!("{:<13}", g.kind.as_str())),
                style(format!("L{:<5}", g.line)).dim(),
                g.question
            )?;
            match &g.answered_in {
                Some(id) => writeln!(out, "  {}", style(format!("(answered in {id})")).cyan())?,
                None => writeln!(out)?,
            }
        }
        writeln!(out)?;
    }
    if stats {
        for c in chapters {
            writeln!(out, "{:>5}/{:<5} answered  {}", c.answered, c.questions, c.file)?;
        }
        writeln!(out)?;
    }
    let gaps: usize = chapters.iter().map(|c| c.gaps.len()).sum();
    let total: usize = chapters.iter().map(|c| c.questions).sum();
    let answered: usize = chapters.iter().map(|c| c.answered).sum();
    let chapters_with = chapters.iter().filter(|c| !c.gaps.is_empty()).count();
    writeln!(
        out,
        "{} in {} ({} of {} answered, {} scanned)",
        plural(gaps, "gap"),
        plural(chapters_with, "chapter"),
        answered,
        plural(total, "question"),
        plural(chapters.len(), "chapter"),
    )
}
