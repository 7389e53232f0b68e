//! `aigcq judge` and `draft --judge`: a line per verdict, and the totals.

use console::style;

use super::{plural, safe};

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
