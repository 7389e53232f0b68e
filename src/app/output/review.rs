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

/// A header row and one aligned row per pending draft, then the count. On a terminal
/// (`width`, its columns) each chapter gets a line of its own, ids are their short form
/// (`007-a17d65b9`, which `--accept` takes) and the question is cut to fit; otherwise (a
/// pipe) the full ids, no chapter lines, nothing cut. Score and notes (stale, truncated, the
/// gate's warnings…) stand before the question, so a cut never hides them.
pub fn list(out: &mut impl Write, rows: &[Row], width: Option<usize>) -> io::Result<()> {
    if rows.is_empty() {
        return writeln!(out, "0 pending drafts");
    }
    let notes = |r: &Row| {
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
            f.push(visible(p).into_owned());
        }
        let codes = aigcq::store::warning_codes(r.warnings);
        if !codes.is_empty() {
            f.push(format!("warn: {}", visible(&codes.join(" "))));
        }
        f.join(", ")
    };
    let short = width.is_some();
    let id = |r: &Row| {
        let id = if short {
            r.id.rsplit('/').next().unwrap_or(r.id)
        } else {
            r.id
        };
        id.to_owned()
    };
    let cand = |r: &Row| format!("{}/{}", r.candidate, r.candidates);
    let score = |r: &Row| r.score.map_or_else(|| "–".to_owned(), |s| s.to_string());
    let model = |r: &Row| visible(r.model).into_owned();
    let w = |f: &dyn Fn(&Row) -> String, title: &str| {
        rows.iter()
            .map(|r| measure_text_width(&f(r)))
            .max()
            .unwrap_or(0)
            .max(title.len())
    };
    let kind = |r: &Row| r.kind.as_str().to_owned();
    let index = |r: &Row| r.index.to_string();
    let (id_w, index_w, kind_w, cand_w) = (w(&id, "ID"), w(&index, "#"), w(&kind, "KIND"), w(&cand, "CAND"));
    // No notes column when no draft has one.
    let notes_w = rows.iter().any(|r| !notes(r).is_empty()).then(|| w(&notes, "NOTES"));
    let mut model_w = Some(w(&model, "MODEL"));
    let mut room = None;
    if let Some(width) = width {
        // Every column but the model's and the question's; on a narrow terminal the model
        // is cut, then left out, before the question gets less than 20 columns.
        let fixed = id_w + index_w + kind_w + cand_w + "SCORE".len() + notes_w.map_or(0, |n| n + 2) + 2 * 5;
        let left = width.saturating_sub(fixed);
        let full = model_w.unwrap_or(0);
        model_w = match left.checked_sub(20 + 2) {
            Some(m) if m >= full => Some(full),
            Some(m) if m >= 8 => Some(m),
            _ => None,
        };
        room = Some(left.saturating_sub(model_w.map_or(0, |m| m + 2)).max(12));
    }
    let pad = |s: &str, n: usize| {
        let s = truncate_str(s, n, "…");
        format!("{s}{}", " ".repeat(n.saturating_sub(measure_text_width(&s))))
    };
    let column = |n: Option<usize>, s: &str| n.map_or_else(String::new, |n| format!("{}  ", pad(s, n)));
    writeln!(
        out,
        "{}",
        style(format!(
            "{}  {:>index_w$}  {}  {}  SCORE  {}{}QUESTION",
            pad("ID", id_w),
            "#",
            pad("KIND", kind_w),
            pad("CAND", cand_w),
            column(model_w, "MODEL"),
            column(notes_w, "NOTES"),
        ))
        .bold()
    )?;
    let mut chapter = None;
    for r in rows {
        if short && chapter != Some(r.chapter) {
            chapter = Some(r.chapter);
            writeln!(out, "{}", style(visible(&r.file)).underlined())?;
        }
        let question = visible(r.question);
        let question = match room {
            Some(n) => truncate_str(&question, n, "…"),
            None => question,
        };
        let score_style = match r.score {
            Some(s) if s >= 8 => console::Style::new().green(),
            Some(s) if s <= 5 => console::Style::new().red(),
            _ => console::Style::new(),
        };
        writeln!(
            out,
            "{}  {:>index_w$}  {}  {}  {}  {}{}{question}",
            style(pad(&id(r), id_w)).bold(),
            r.index,
            kind_style(r.kind).apply_to(pad(&kind(r), kind_w)),
            pad(&cand(r), cand_w),
            score_style.apply_to(format!("{:>5}", score(r))),
            style(column(model_w, &model(r))).dim(),
            style(column(notes_w, &notes(r))).yellow(),
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

/// `--accept-all`: the questions left pending, each with why, and how to take them anyway.
pub fn left(left: &[(String, String)]) {
    for (question, why) in left {
        eprintln!(
            "{} left {} pending: {}",
            style("·").yellow().for_stderr(),
            visible(question),
            visible(why)
        );
    }
    if !left.is_empty() {
        eprintln!(
            "{} left pending; review them one by one (aigcq review), or take them anyway with --accept-all --force",
            plural(left.len(), "question")
        );
    }
}

/// `--accept-all`: each question merged.
pub fn merged(d: &Decided, accepted: &[&aigcq::store::Draft]) {
    for draft in accepted.iter().filter(|a| d.accepted.contains(&a.id)) {
        let m = &draft.meta;
        eprintln!(
            "{} merged {}#{} ({})",
            style("✓").green().for_stderr(),
            visible(&m.chapter),
            m.index,
            draft.id
        );
    }
}

/// The chapters an accept wrote, for its result line.
pub fn merged_into(decided: &aigcq::review::Decided, cwd: &Path) -> String {
    if decided.files_changed.is_empty() {
        return "the chapter (already there)".to_owned();
    }
    let files: Vec<String> = decided
        .files_changed
        .iter()
        .map(|f| aigcq::scan::display_path(f, cwd))
        .collect();
    files.join(", ")
}

/// The review page's address, on a line of its own (scripts and tests read it), and how to end.
pub fn web_address(url: &str) {
    println!("{url}");
    eprintln!("review page at the address above (127.0.0.1 only); Ctrl-C ends the review");
}

#[cfg(test)]
mod tests {
    use super::*;
    use aigcq::chapter::GapKind;
    use aigcq::store::Warning;

    fn row<'a>(id: &'a str, index: usize, score: Option<u8>, warnings: &'a [Warning]) -> Row<'a> {
        Row {
            id,
            file: "content/第一章_主流AIGC图像生成编辑大模型高频考点.md".into(),
            chapter: "第一章_主流AIGC图像生成编辑大模型高频考点.md",
            question_id: "q",
            index,
            question: "一个很长很长的问题，在终端里会被截断，截断之后分数和警告仍然要看得见？",
            kind: GapKind::Empty,
            model: "qwen2.5-coder-0.5b-instruct",
            created: "2026-12-05T00:00:00Z",
            candidate: 1,
            candidates: 1,
            truncated: index == 8,
            filtered: false,
            rewrite: false,
            stale: false,
            problem: None,
            merged: false,
            warnings,
            score,
            reasons: None,
        }
    }

    /// Issue 27: on an 80-column terminal the 60-character id no longer pushes score and
    /// warnings off the screen: short ids under a chapter line, score and notes before the
    /// question, the question cut to fit.
    #[test]
    fn on_a_terminal_score_and_warnings_come_before_the_question() {
        console::set_colors_enabled(false);
        let copied = [Warning {
            code: "copied".into(),
            message: "…".into(),
        }];
        let rows = [
            row(
                "第一章_主流AIGC图像生成编辑大模型高频考点/007-a17d65b9",
                7,
                Some(9),
                &[],
            ),
            row(
                "第一章_主流AIGC图像生成编辑大模型高频考点/008-0c4e1f22",
                8,
                None,
                &copied,
            ),
        ];
        let mut out = Vec::new();
        for width in [80, 120] {
            list(&mut out, &rows, Some(width)).unwrap();
            let text = String::from_utf8(std::mem::take(&mut out)).unwrap();
            for line in text.lines() {
                assert!(
                    measure_text_width(line) <= width,
                    "{line:?} is wider than {width} columns"
                );
            }
            insta::assert_snapshot!(format!("list_{width}_columns"), text);
        }
        // Piped: full ids, nothing cut, no chapter lines.
        list(&mut out, &rows, None).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("第一章_主流AIGC图像生成编辑大模型高频考点/007-a17d65b9") && text.contains("看得见？"));
        assert!(!text.contains("content/"));
    }
}
