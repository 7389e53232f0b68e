//! `aigcq judge` and `draft --judge`: a line per verdict, and the totals.

use console::style;

use super::{plural, safe};

/// `judge --calibrate`: the two groups, the separation and what it means, the scores.
pub fn calibration(out: &mut impl std::io::Write, c: &aigcq::judge::Calibration) -> std::io::Result<()> {
    let mean = |g: &aigcq::judge::Group| g.mean.map_or_else(|| "–".to_owned(), |m| format!("{m:.1}"));
    writeln!(
        out,
        "{} decisions with a score ({} never judged)",
        c.accepted.count + c.rejected.count,
        c.unscored
    )?;
    writeln!(
        out,
        "  accepted  {:>5}  mean score {}",
        c.accepted.count,
        mean(&c.accepted)
    )?;
    writeln!(
        out,
        "  rejected  {:>5}  mean score {}",
        c.rejected.count,
        mean(&c.rejected)
    )?;
    match c.auc {
        Some(auc) => {
            let meaning = if auc >= 0.8 {
                "the judge separates them well: worth using (review --list --sort score, --min-score)"
            } else if auc >= 0.65 {
                "some use: sort by it, but read before you trust a score"
            } else {
                "hardly better than chance (0.5): do not filter by its scores; try another judge model or rubric"
            };
            writeln!(
                out,
                "separation (AUC) {auc:.2}: an accepted draft outscored a rejected one in {:.0} % of pairs; {meaning}",
                auc * 100.0
            )?;
        }
        None => writeln!(
            out,
            "separation: needs both accepted and rejected drafts that were judged (aigcq judge before review)"
        )?,
    }
    writeln!(out, "score  accepted  rejected")?;
    for (i, (a, r)) in c.by_score.iter().enumerate().rev().filter(|(_, (a, r))| a + r > 0) {
        writeln!(out, "{:>5}  {a:>8}  {r:>8}", i + 1)?;
    }
    Ok(())
}

/// Before judging.
pub fn start(n: usize, model: &str, host: &str) {
    eprintln!("judging {} with {model} at {host}", plural(n, "draft"));
}

/// Nothing left to judge.
pub fn nothing(scored: usize) {
    if scored > 0 {
        eprintln!("every selected draft has a score ({scored}); --force judges them again");
    } else {
        eprintln!("no pending drafts to judge");
    }
}

pub fn judged(id: &str, score: u8, reasons: &str) {
    eprintln!("{}", verdict_line(id, score, reasons));
}

/// `✓ id 8/10 reasons`; also a line of `draft --judge`'s progress.
pub fn verdict_line(id: &str, score: u8, reasons: &str) -> String {
    let mark = if score >= 7 {
        style("✓").green()
    } else {
        style("·").yellow()
    };
    format!(
        "{} {} {}/10 {}",
        mark.for_stderr(),
        safe(id),
        style(score).bold().for_stderr(),
        safe(reasons)
    )
}

pub fn failed(id: &str, error: &anyhow::Error) {
    eprintln!("{}", failed_line(id, error));
}

pub fn failed_line(id: &str, error: &anyhow::Error) -> String {
    format!(
        "{} {}: not judged: {}",
        style("✗").red().for_stderr(),
        safe(id),
        safe(&format!("{error:#}"))
    )
}

/// A draft decided by a review while it was being judged.
pub fn gone(id: &str) {
    eprintln!(
        "{} {id}: decided meanwhile; its verdict is not kept",
        style("·").dim().for_stderr()
    );
}

pub fn summary(judged: usize, failed: usize) {
    eprintln!("judged {}, {failed} failed", plural(judged, "draft"));
}
