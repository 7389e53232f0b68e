//! The interactive review: one question at a time, its diff, single-key commands.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result};
use console::{Key, Term, style};

use crate::app::output::review::Tally;
use aigcq::review::diff::visible;
use aigcq::review::merge::State;
use aigcq::review::{self, Checked, Review};
use aigcq::scan;
use aigcq::store::{self, Draft};

const LEGEND: &str =
    "a accept · r reject · s skip · e edit · n/p next/previous candidate · d diff/answer · q quit · ? help";
const HELP: &str = "\
  a  accept this candidate: merge it into the chapter; the question's other candidates are rejected
  r  reject this candidate (kept under drafts/.rejected/ unless --purge)
  s  skip: keep the draft pending for a later review
  e  edit the draft in $VISUAL / $EDITOR, then show the diff again
  n  next candidate of this question      p  previous candidate
  d  toggle between the diff and the whole answer
  q  quit (decisions made so far stay)    ?  this help";

/// Reviews `checked` (pending drafts, in order) question by question.
pub fn run(review: &Review, checked: Vec<Checked>, pending: &[Draft], cwd: &Path) -> Result<Tally> {
    let term = Term::stdout();
    let mut groups: Vec<Vec<Checked>> = Vec::new();
    for c in checked {
        match groups.last_mut() {
            Some(g) if g[0].draft.meta.question_id == c.draft.meta.question_id => g.push(c),
            _ => groups.push(vec![c]),
        }
    }
    let total = groups.len();
    let mut summary = Tally::default();
    // Screens already rendered, by draft id and body: paging through candidates or toggling
    // the view does not parse the chapter again. Cleared when a merge changes a chapter.
    let mut screens: HashMap<(String, String, bool, usize), String> = HashMap::new();
    let mut queue = groups.into_iter().enumerate();
    'questions: while let Some((n, mut group)) = queue.next() {
        let (mut k, mut whole) = (0usize, false);
        loop {
            let current = &group[k];
            let cache_key = (current.draft.id.clone(), current.draft.body.clone(), whole, group.len());
            let screen = screens
                .entry(cache_key)
                .or_insert_with(|| render(review, current, n + 1, total, k + 1, group.len(), whole, cwd));
            show(&term, screen)?;
            term.write_line(&style(LEGEND).dim().to_string())?;
            let key = term.read_key()?;
            match key {
                Key::Char('a') => {
                    let stale = matches!(current.state, Ok(State::Stale(_)));
                    if stale {
                        term.write_line(&format!(
                            "{} this draft is stale; accept anyway? [y/N]",
                            style("!").yellow()
                        ))?;
                        if term.read_key()? != Key::Char('y') {
                            continue;
                        }
                    }
                    let outcome = review.decide(&[&current.draft], &[], pending, stale);
                    summary.errors += outcome.errors.len();
                    for (id, e) in &outcome.errors {
                        term.write_line(&format!("{} {id}: {e:#}", style("error:").red().bold()))?;
                    }
                    if outcome.errors.is_empty() {
                        screens.clear();
                        summary.accepted += 1;
                        summary.rejected += outcome.rejected.len();
                        for f in outcome.files_changed {
                            term.write_line(&format!(
                                "{} merged into {}",
                                style("✓").green(),
                                scan::display_path(&f, cwd)
                            ))?;
                            if !summary.files.contains(&f) {
                                summary.files.push(f);
                            }
                        }
                        continue 'questions;
                    }
                }
                Key::Char('r') => {
                    let outcome = review.decide(&[], &[&current.draft], pending, false);
                    if let Some((id, e)) = outcome.errors.first() {
                        summary.errors += 1;
                        term.write_line(&format!("{} {id}: {e:#}", style("error:").red().bold()))?;
                        continue;
                    }
                    summary.rejected += 1;
                    term.write_line(&format!("{} rejected {}", style("✗").red(), current.draft.id))?;
                    group.remove(k);
                    if group.is_empty() {
                        continue 'questions;
                    }
                    k = k.min(group.len() - 1);
                }
                Key::Char('s') => {
                    summary.skipped += group.len();
                    continue 'questions;
                }
                Key::Char('e') => {
                    if let Err(e) = edit(&mut group[k].draft) {
                        term.write_line(&format!("{} {e:#}", style("error:").red().bold()))?;
                    }
                    let again = review.check(vec![group[k].draft.clone()]);
                    if let Some(c) = again.into_iter().next() {
                        group[k] = c;
                    }
                }
                Key::Char('n') => k = (k + 1) % group.len(),
                Key::Char('p') => k = (k + group.len() - 1) % group.len(),
                Key::Char('d') => whole = !whole,
                Key::Char('?') => term.write_line(HELP)?,
                Key::Char('q') | Key::Escape => {
                    summary.skipped += group.len() + queue.map(|(_, g)| g.len()).sum::<usize>();
                    break 'questions;
                }
                _ => {}
            }
        }
    }
    Ok(summary)
}

/// The header and the diff (or the whole answer) of one candidate.
#[allow(clippy::too_many_arguments)]
fn render(
    review: &Review,
    c: &Checked,
    n: usize,
    total: usize,
    k: usize,
    of: usize,
    whole: bool,
    cwd: &Path,
) -> String {
    let m = &c.draft.meta;
    let file = c
        .file
        .as_ref()
        .map_or_else(|| m.chapter.clone(), |f| scan::display_path(f, cwd));
    let mut out = format!(
        "{}\n{}\n{}",
        style(format!("── [{n}/{total}] {file} #{} ({}) ──", m.index, m.kind)).bold(),
        visible(&m.question),
        style(visible(&format!(
            "{} · {} · candidate {k} of {of} · {}",
            m.model, m.created, c.draft.id
        )))
        .dim()
    );
    if m.filtered {
        out.push_str(&format!(
            "\n{}",
            style("! filtered: the provider's content filter stopped the answer").yellow()
        ));
    }
    if m.truncated {
        out.push_str(&format!(
            "\n{}",
            style("! truncated: the model stopped at max_tokens").yellow()
        ));
    }
    match &c.state {
        Ok(State::Stale(s)) => out.push_str(&format!("\n{}", style(format!("! stale: {}", s.reason())).yellow())),
        Ok(State::Merged) => out.push_str(&format!(
            "\n{}",
            style("! already in the chapter; accepting only cleans it up").yellow()
        )),
        Err(e) => out.push_str(&format!("\n{}", style(format!("! {e}")).red())),
        Ok(State::Ready) => {}
    }
    out.push_str("\n\n");
    if whole {
        out.push_str(&visible(&c.draft.body));
        return out;
    }
    let Some(path) = &c.file else { return out };
    match std::fs::read_to_string(path) {
        Ok(text) => match review::preview(&text, &c.draft, review.rules) {
            Ok(d) => out.push_str(&d),
            Err(e) => out.push_str(&style(format!("cannot merge: {e}")).red().to_string()),
        },
        Err(e) => out.push_str(&format!("cannot read {}: {e}", path.display())),
    }
    out
}

/// Prints `screen`, through `$PAGER` (default `less -R`) when it is taller than the terminal.
fn show(term: &Term, screen: &str) -> Result<()> {
    term.write_line("")?;
    let (rows, _) = term.size();
    if screen.lines().count() + 2 <= usize::from(rows) {
        term.write_line(screen.trim_end())?;
        return Ok(());
    }
    let pager = std::env::var("PAGER")
        .ok()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| "less -R".into());
    let child = Command::new("sh").arg("-c").arg(&pager).stdin(Stdio::piped()).spawn();
    match child {
        Ok(mut child) => {
            if let Some(mut stdin) = child.stdin.take() {
                // A pager quit early closes its input; that is not an error.
                let _ = stdin.write_all(screen.as_bytes());
            }
            child.wait().with_context(|| format!("pager {pager:?}"))?;
        }
        Err(_) => term.write_line(screen.trim_end())?,
    }
    Ok(())
}

/// Opens the draft file in `$VISUAL` / `$EDITOR` (default `vi`) and reads it back.
fn edit(draft: &mut Draft) -> Result<()> {
    let editor = ["VISUAL", "EDITOR"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|e| !e.trim().is_empty()))
        .unwrap_or_else(|| "vi".into());
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("aigcq-editor")
        .arg(&draft.path)
        .status()
        .with_context(|| format!("cannot start the editor {editor:?}"))?;
    if !status.success() {
        anyhow::bail!("the editor {editor:?} exited with {status}; the draft is unchanged");
    }
    let text = std::fs::read_to_string(&draft.path).with_context(|| format!("cannot read {}", draft.path.display()))?;
    let (meta, body) = store::parse(&text).with_context(|| format!("draft {}", draft.path.display()))?;
    draft.meta = meta;
    draft.body = body;
    Ok(())
}
