//! `aigcq review`: the `--list` table and the summaries of a batch or a session.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use console::{measure_text_width, style, truncate_str};

use super::safe as visible;
use super::{files_changed, kind_style, plural};
use aigcq::review::ledger::Decision;
use aigcq::review::session::Tally;
use aigcq::review::undo::Undid;
use aigcq::review::{Decided, Row};

/// A header row and one aligned row per pending draft, then the count. `width` (the
/// terminal's, when printing to one) cuts the question column to fit.
pub fn list(out: &mut impl Write, rows: &[Row], width: Option<usize>) -> io::Result<()> {
    if rows.is_empty() {
        return writeln!(out, "0 pending drafts");
    }
    let flags = |r: &Row| {
        let mut f = Vec::new();
        for (on, name) in [
            (r.rewrite, "rewrite"),
            (r.truncated, "truncated"),
            (r.filtered, "filtered"),
            (r.stale, "stale"),
            (r.merged, "merged"),
        ] {
            if on {
                f.push(name.to_owned());
            }
        }
        if let Some(p) = r.problem.as_ref().filter(|_| !r.stale) {
            f.push(p.clone());
        }
        if let Some(score) = r.score {
            f.push(format!("score {score}"));
        }
        // The gate's findings by code; `filtered` has its flag already.
        let mut codes: Vec<&str> = r
            .warnings
            .iter()
            .map(|w| w.code.as_str())
            .filter(|c| *c != "filtered")
            .collect();
        codes.dedup();
        if !codes.is_empty() {
            f.push(format!("warn: {}", codes.join(" ")));
        }
        if f.is_empty() {
            String::new()
        } else {
            format!("  [{}]", f.join(", "))
        }
    };
    let w = |f: &dyn Fn(&Row) -> String, title: &str| {
        rows.iter()
            .map(|r| measure_text_width(&f(r)))
            .max()
            .unwrap_or(0)
            .max(title.len())
    };
    let cand = |r: &Row| format!("{}/{}", r.candidate, r.candidates);
    let model = |r: &Row| visible(r.model).into_owned();
    let id_w = w(&|r| r.id.to_owned(), "ID");
    let cand_w = w(&cand, "CAND");
    let model_w = w(&model, "MODEL");
    let pad = |s: &str, n: usize| format!("{s}{}", " ".repeat(n.saturating_sub(measure_text_width(s))));
    let fixed = id_w + 2 + 4 + 2 + 13 + 2 + cand_w + 2 + model_w + 2;
    let room = width.map(|w| w.saturating_sub(fixed).max(20));
    writeln!(
        out,
        "{}",
        style(format!(
            "{}  {:>4}  {:<13}  {}  {}  QUESTION",
            pad("ID", id_w),
            "#",
            "KIND",
            pad("CAND", cand_w),
            pad("MODEL", model_w)
        ))
        .bold()
    )?;
    for r in rows {
        let question = format!("{}{}", visible(r.question), flags(r));
        let question = match room {
            Some(n) => truncate_str(&question, n, "…").into_owned(),
            None => question,
        };
        writeln!(
            out,
            "{}  {:>4}  {}  {}  {}  {question}",
            style(pad(r.id, id_w)).bold(),
            r.index,
            kind_style(r.kind).apply_to(format!("{:<13}", r.kind.as_str())),
            pad(&cand(r), cand_w),
            style(pad(&model(r), model_w)).dim(),
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

/// `--accept-all` with `--clean` or `--min-score`: what stayed pending and why.
pub fn held(n: usize, why: &str) {
    if n > 0 {
        eprintln!(
            "{n} {} pending: {why}",
            if n == 1 { "draft stays" } else { "drafts stay" }
        );
    }
}
