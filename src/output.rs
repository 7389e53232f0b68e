//! Printing: human-readable listings with colour, and JSON. Kept apart from the stages so
//! that each stage returns data and every listing has a `--json` twin.

use std::io::{self, Write};

use console::{Style, style};
use serde::Serialize;

use crate::chapter::GapKind;
use crate::check::Finding;
use crate::gaps::ChapterGaps;

/// Writes `value` as pretty JSON and a newline.
pub fn json<T: Serialize + ?Sized>(out: &mut impl Write, value: &T) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)
}

fn kind_style(kind: GapKind) -> Style {
    match kind {
        GapKind::Empty | GapKind::Missing => Style::new().red(),
        GapKind::Placeholder | GapKind::MetadataOnly => Style::new().yellow(),
        GapKind::Stub | GapKind::Outline => Style::new().magenta(),
    }
}

/// Gaps grouped by chapter, then a summary line.
pub fn gaps(out: &mut impl Write, chapters: &[ChapterGaps], stats: bool) -> io::Result<()> {
    let with_gaps = chapters.iter().filter(|c| !c.gaps.is_empty());
    for c in with_gaps {
        writeln!(out, "{}", style(&c.file).bold())?;
        for g in &c.gaps {
            writeln!(
                out,
                "{:>5}  {}  {}  {}",
                g.index,
                kind_style(g.kind).apply_to(format!("{:<13}", g.kind.as_str())),
                style(format!("L{:<5}", g.line)).dim(),
                g.question
            )?;
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
    let plural = |n: usize, w: &str| {
        if n == 1 {
            format!("{n} {w}")
        } else {
            format!("{n} {w}s")
        }
    };
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

/// Lint findings as `file:line: rule: message`, then a count.
pub fn findings(out: &mut impl Write, findings: &[Finding]) -> io::Result<()> {
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
        1 => writeln!(out, "1 finding"),
        n => writeln!(out, "{n} findings"),
    }
}

/// An error line on stderr.
pub fn error(message: impl std::fmt::Display) {
    eprintln!("{} {message}", style("error:").red().bold().for_stderr());
}

/// A warning line on stderr.
pub fn warning(message: impl std::fmt::Display) {
    eprintln!("{} {message}", style("warning:").yellow().bold().for_stderr());
}

/// `aigcq config`: one line per setting with its source; the key only as present or absent.
pub fn provider(out: &mut impl Write, p: &crate::provider::Provider, file: &str) -> io::Result<()> {
    use crate::provider::{Setting, Source};
    fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
        v.as_ref().map_or_else(|| "(not set)".into(), T::to_string)
    }
    let mut row = |name: &str, value: String, source: &Source| {
        let from = match source {
            Source::File => file.to_owned(),
            other => other.to_string(),
        };
        writeln!(out, "{name:<13} {value:<40} {}", style(from).dim())
    };
    let s = |v: &Setting<String>| v.value.clone();
    row("base_url", s(&p.base_url), &p.base_url.source)?;
    row("model", opt(&p.model.value), &p.model.source)?;
    let key = if p.api_key_present { "present" } else { "absent" };
    row(
        "api key",
        format!("{key} (${})", p.api_key_env.value),
        &p.api_key_env.source,
    )?;
    row(
        "timeout",
        format!("{} s", p.timeout.value.as_secs_f64()),
        &p.timeout.source,
    )?;
    row("max_retries", p.max_retries.value.to_string(), &p.max_retries.source)?;
    row("concurrency", p.concurrency.value.to_string(), &p.concurrency.source)?;
    row("temperature", opt(&p.temperature.value), &p.temperature.source)?;
    row("max_tokens", opt(&p.max_tokens.value), &p.max_tokens.source)?;
    row(
        "token_param",
        p.token_param.value.as_str().to_owned(),
        &p.token_param.source,
    )?;
    let headers: Vec<&str> = p.headers.keys().map(String::as_str).collect();
    if !headers.is_empty() {
        row("headers", headers.join(", "), &Source::File)?;
    }
    if !p.extra_body.is_empty() {
        row(
            "extra_body",
            serde_json::Value::Object(p.extra_body.clone()).to_string(),
            &Source::File,
        )?;
    }
    Ok(())
}

/// `aigcq review --list`: one line per pending draft, then the count.
pub fn drafts(out: &mut impl Write, rows: &[crate::commands::review::Listed]) -> io::Result<()> {
    for r in rows {
        let mut flags = Vec::new();
        if r.truncated {
            flags.push(style("truncated").yellow().to_string());
        }
        if r.stale {
            flags.push(style("stale").yellow().to_string());
        }
        if r.merged {
            flags.push(style("merged").green().to_string());
        }
        if let Some(p) = r.problem.as_ref().filter(|_| !r.stale) {
            flags.push(style(p).red().to_string());
        }
        writeln!(
            out,
            "{}  {:>4}  {}  {}/{}  {}  {}{}",
            style(r.id).bold(),
            r.index,
            kind_style(r.kind).apply_to(format!("{:<13}", r.kind.as_str())),
            r.candidate,
            r.candidates,
            style(r.model).dim(),
            r.question,
            if flags.is_empty() {
                String::new()
            } else {
                format!("  [{}]", flags.join(", "))
            }
        )?;
    }
    match rows.len() {
        1 => writeln!(out, "1 pending draft"),
        n => writeln!(out, "{n} pending drafts"),
    }
}
