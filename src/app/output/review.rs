//! `aigcq review`: the `--list` table and the summaries of a batch or a session.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use console::style;

use super::{files_changed, kind_style, plural};
use aigcq::review::diff::visible;
use aigcq::review::ledger::Decision;
use aigcq::review::undo::Undid;
use aigcq::review::{Decided, Row};

/// One line per pending draft, then the count.
pub fn list(out: &mut impl Write, rows: &[Row]) -> io::Result<()> {
    for r in rows {
        let mut flags = Vec::new();
        if r.truncated {
            flags.push(style("truncated").yellow().to_string());
        }
        if r.filtered {
            flags.push(style("filtered").yellow().to_string());
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
            style(visible(r.model)).dim(),
            visible(r.question),
            if flags.is_empty() {
                String::new()
            } else {
                format!("  [{}]", flags.join(", "))
            }
        )?;
    }
    writeln!(out, "{}", plural(rows.len(), "pending draft"))
}

/// What a batch of `--accept`/`--reject` decisions did, errors first.
pub fn decided(d: &Decided, cwd: &Path) {
    for (id, e) in &d.errors {
        super::error(format!("{id}: {e:#}"));
    }
    let recovered = if d.recovered.is_empty() {
        String::new()
    } else {
        format!(" ({} already in the chapter, cleaned up)", d.recovered.len())
    };
    eprintln!(
        "accepted {}{recovered}, rejected {}, failed {}; {}",
        d.accepted.len(),
        d.rejected.len(),
        d.errors.len(),
        files_changed(&d.files_changed, cwd)
    );
}

/// Counts of an interactive session.
#[derive(Debug, Default)]
pub struct Tally {
    pub accepted: usize,
    pub rejected: usize,
    /// Drafts of questions shown and left undecided.
    pub skipped: usize,
    /// Drafts of questions never reached.
    pub not_seen: usize,
    pub files: Vec<PathBuf>,
    pub errors: usize,
    /// Ended by Ctrl-C.
    pub interrupted: bool,
}

/// The closing line of an interactive session.
pub fn session(t: &Tally, cwd: &Path) {
    let not_seen = if t.not_seen > 0 {
        format!(", not seen {}", t.not_seen)
    } else {
        String::new()
    };
    eprintln!(
        "{}accepted {}, rejected {}, skipped {}{not_seen}; {}",
        if t.interrupted { "interrupted: " } else { "" },
        t.accepted,
        t.rejected,
        t.skipped,
        files_changed(&t.files, cwd)
    );
}

/// When another review holds a chapter's lock.
pub fn waiting(chapter: &str) {
    eprintln!("waiting for another aigcq review to finish with {chapter}…");
}

/// Leftover temporary files removed.
pub fn swept(files: &[PathBuf], cwd: &Path) {
    if !files.is_empty() {
        let shown: Vec<String> = files.iter().map(|f| aigcq::scan::display_path(f, cwd)).collect();
        eprintln!(
            "removed {} a killed run left: {}",
            plural(files.len(), "temporary file"),
            shown.join(", ")
        );
    }
}

/// What `--undo` took back, then why it stopped, if it did.
pub fn undid(u: &Undid, cwd: &Path) {
    for d in &u.undone {
        match (&d.decision, &d.file) {
            (Decision::Accepted, Some(f)) => eprintln!(
                "{} undid the accept of {}: {} restored, the draft is pending again",
                style("↶").cyan().for_stderr(),
                d.draft,
                aigcq::scan::display_path(f, cwd)
            ),
            _ => eprintln!(
                "{} undid the reject of {}: the draft is pending again",
                style("↶").cyan().for_stderr(),
                d.draft
            ),
        }
    }
    if let Some(e) = &u.error {
        super::error(format!("{e:#}"));
    }
}

/// When the selection holds no draft.
pub fn none_pending() {
    eprintln!("no pending drafts");
}
