//! The interactive review in the terminal: a thin loop over the engine's review session
//! (`aigcq::review::session`). A key becomes an operation, the session commits it, the
//! [`screen`] shows the result; the pager and the editor are [`process`]es. Every screen names
//! the question and `candidate k of K`, and every result line names the candidate it acted
//! on, so that what the keys do is always what the screen shows.

mod process;
mod screen;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use console::{Key, Term, style};

use crate::app::output::{self as out, safe as visible};
use aigcq::review::ledger::Decision;
use aigcq::review::merge::State;
use aigcq::review::session::{Operation, Outcome, Session, Tally};
use aigcq::review::{Checked, Decided, Review};
use aigcq::scan;
use aigcq::store::Draft;
use process::{run_editor, show};
use screen::{HELP, body_diff, legend, render};

/// Revises a draft (among the pending ones) by the author's note; the new draft's path.
pub type Revise<'a> = dyn Fn(&[Draft], &Draft, &str) -> Result<PathBuf> + 'a;

/// Told of each decision with the pending drafts it was made among (to commit it).
pub type After<'a> = dyn Fn(&Decided, &[Draft]) -> Result<()> + 'a;

/// What the review needs from the app beyond the engine: asking the model for a revision,
/// and what to do after a chapter was written.
pub struct Hooks<'a> {
    pub revise: &'a Revise<'a>,
    pub after: &'a After<'a>,
}

/// Reviews `checked` (pending drafts, in order) question by question.
pub fn run(review: &Review, checked: Vec<Checked>, pending: &[Draft], cwd: &Path, hooks: &Hooks) -> Result<Tally> {
    let mut t = Terminal {
        review,
        hooks,
        session: Session::new(review, checked, pending),
        cwd,
        term: Term::stdout(),
        screens: HashMap::new(),
        interrupted: false,
    };
    t.run()?;
    let mut tally = t.session.finish();
    tally.interrupted = t.interrupted;
    Ok(tally)
}

struct Terminal<'a> {
    review: &'a Review<'a>,
    hooks: &'a Hooks<'a>,
    session: Session<'a>,
    cwd: &'a Path,
    term: Term,
    /// Rendered screens by draft id, body, view and width: paging through candidates does
    /// not parse the chapter again. Cleared when a chapter changes.
    screens: HashMap<(String, String, bool, usize, usize), String>,
    interrupted: bool,
}

impl Terminal<'_> {
    fn say(&self, line: impl AsRef<str>) -> Result<()> {
        Ok(self.term.write_line(line.as_ref())?)
    }

    fn width(&self) -> usize {
        usize::from(self.term.size().1).max(40)
    }

    fn run(&mut self) -> Result<()> {
        let (mut whole, mut redraw) = (false, true);
        let mut shown = None;
        loop {
            let Some(at) = self.session.settle() else {
                if !self.session.has_history() {
                    return Ok(());
                }
                // A last chance to take the last decision back before the summary.
                let what = if self.session.any_left() {
                    "no question left after this one"
                } else {
                    "every question is decided"
                };
                self.say(format!(
                    "{what}: u undoes the last decision, any other key ends the review"
                ))?;
                if self.term.read_key_raw()? != Key::Char('u') {
                    return Ok(());
                }
                if !matches!(self.operate(Operation::Undo)?, Outcome::Undone { .. }) {
                    return Ok(());
                }
                redraw = true;
                continue;
            };
            if redraw || shown != Some(at) {
                self.show_screen(whole)?;
                (redraw, shown) = (false, Some(at));
            }
            let of = self.session.candidates();
            let key = self.term.read_key_raw()?;
            match key {
                Key::Char('a') => {
                    if let Some(w) = self.session.caution()
                        && !self.confirm(&format!("{w}; accept anyway?"))?
                    {
                        self.say("not accepted")?;
                        continue;
                    }
                    // Confirmed: a stale draft is accepted as it would be with --force.
                    let force = matches!(self.session.current().state, Ok(State::Stale(_)));
                    self.operate(Operation::Accept { force })?;
                    redraw = true;
                }
                Key::Char('r') => {
                    self.operate(Operation::Reject)?;
                    redraw = true;
                }
                Key::Char('s') => {
                    if let Outcome::Skipped { last: true, .. } = self.operate(Operation::Skip)? {
                        return Ok(());
                    }
                    redraw = true;
                }
                Key::Char('e') => {
                    self.edit()?;
                    redraw = true;
                }
                Key::Char('f') => {
                    if self.feedback()? {
                        redraw = true;
                    }
                }
                Key::Char('n') => {
                    self.operate(Operation::Next)?;
                }
                Key::Char('p') => {
                    self.operate(Operation::Previous)?;
                }
                Key::Char('=') if of == 1 => self.say("only one candidate: nothing to compare")?,
                Key::Char('=') => self.compare()?,
                Key::Char('d') => (whole, redraw) = (!whole, true),
                Key::Char('b') => {
                    self.operate(Operation::Back)?;
                }
                Key::Char(':') => {
                    if let Some(i) = self.ask_number()? {
                        self.operate(Operation::Jump(i))?;
                    }
                }
                Key::Char('u') => {
                    if matches!(self.operate(Operation::Undo)?, Outcome::Undone { .. }) {
                        redraw = true;
                    }
                }
                Key::Char('i') => self.info()?,
                Key::Char('c') => self.context()?,
                Key::Char('?') => self.say(HELP)?,
                Key::Char('q') | Key::Escape => return Ok(()),
                Key::CtrlC => {
                    self.interrupted = true;
                    return Ok(());
                }
                Key::Char(c) => self.say(format!("unknown key '{}' — ? for help", visible(&c.to_string())))?,
                other => self.say(format!("unknown key {other:?} — ? for help"))?,
            }
        }
    }

    /// Applies `op` and says what it did.
    fn operate(&mut self, op: Operation) -> Result<Outcome> {
        let outcome = self.session.apply(op)?;
        match &outcome {
            Outcome::Accepted { named, draft, decided } => {
                self.screens.clear();
                let into = decided
                    .files_changed
                    .iter()
                    .map(|f| scan::display_path(f, self.cwd))
                    .collect::<Vec<_>>()
                    .join(", ");
                let into = if into.is_empty() {
                    "the chapter (already there)".to_owned()
                } else {
                    into
                };
                self.say(format!("{} merged {named} into {into}", style("✓").green()))?;
                if let Err(e) = (self.hooks.after)(decided, std::slice::from_ref(draft)) {
                    self.session.count_error();
                    self.say(out::error_line(format!("{e:#}"), false))?;
                }
            }
            Outcome::Rejected { named } => self.say(format!("{} rejected {named}", style("✗").red()))?,
            Outcome::Skipped {
                question,
                questions,
                drafts,
                ..
            } => self.say(format!(
                "skipped question [{question}/{questions}] ({} stay pending)",
                out::plural(*drafts, "draft")
            ))?,
            Outcome::Undone { decision, draft } => {
                self.screens.clear();
                match decision {
                    Decision::Accepted => self.say(format!(
                        "{} undid the accept of {draft}: the chapter is as it was",
                        style("↶").cyan()
                    ))?,
                    _ => self.say(format!("{} undid the reject of {draft}", style("↶").cyan()))?,
                }
            }
            Outcome::Edited { named } => self.say(format!("edited {named}"))?,
            Outcome::Refused(why) => self.say(why)?,
            Outcome::Unusable(why) => self.say(format!("{} {why}", style("!").yellow()))?,
            Outcome::Failed(errors) => {
                for (id, e) in errors {
                    self.say(out::error_line(format!("{id}: {e:#}"), false))?;
                }
            }
            Outcome::Added { .. } | Outcome::Moved => {}
        }
        Ok(outcome)
    }

    fn show_screen(&mut self, whole: bool) -> Result<()> {
        let width = self.width();
        let ((n, k), of, total) = (
            self.session.position(),
            self.session.candidates(),
            self.session.questions(),
        );
        let c = self.session.current();
        let key = (c.draft.id.clone(), c.draft.body.clone(), whole, of, width);
        if !self.screens.contains_key(&key) {
            let screen = render(self.review, c, (n + 1, total), (k + 1, of), whole, self.cwd, width);
            self.screens.insert(key.clone(), screen);
        }
        let paged = show(&self.term, &self.screens[&key])?;
        if paged {
            // The pager's screen is gone: say again which candidate the keys act on.
            let index = self.session.current().draft.meta.index;
            self.say(
                style(format!(
                    "── [{}/{total}] #{index} · candidate {} of {of} ──",
                    n + 1,
                    k + 1
                ))
                .bold()
                .to_string(),
            )?;
        }
        self.say(style(legend(width)).dim().to_string())
    }

    fn confirm(&self, question: &str) -> Result<bool> {
        self.say(format!("{} {question} [y/N]", style("!").yellow()))?;
        Ok(self.term.read_key_raw()? == Key::Char('y'))
    }

    /// Edits the answer alone (the front matter is kept aside); an edit that leaves the
    /// answer unusable asks to edit again and never drops the draft.
    fn edit(&mut self) -> Result<()> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("answer.md");
        std::fs::write(&file, &self.session.current().draft.body)?;
        loop {
            if let Err(e) = run_editor(&file) {
                return self.say(out::error_line(format!("{e:#}"), false));
            }
            let body = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            match self.operate(Operation::Edit(body))? {
                Outcome::Unusable(_) if self.confirm("edit again? (no keeps the draft as it was)")? => {}
                Outcome::Unusable(_) => return self.say("the draft is unchanged"),
                _ => return Ok(()),
            }
        }
    }

    /// Asks the model for a revision, which becomes the question's last candidate; whether
    /// one came.
    fn feedback(&mut self) -> Result<bool> {
        self.say("feedback for the model (what to change; empty to cancel):")?;
        let note = self.term.read_line()?;
        if note.trim().is_empty() {
            self.say("no feedback sent")?;
            return Ok(false);
        }
        let parent = self.session.current().draft.clone();
        let (_, k) = self.session.position();
        self.say(format!(
            "asking {} for a new version of {}…",
            parent.meta.model,
            self.session.named(k)
        ))?;
        let path = match (self.hooks.revise)(self.session.pending(), &parent, note.trim()) {
            Ok(p) => p,
            Err(e) => {
                self.session.count_error();
                self.say(out::error_line(format!("{e:#}"), false))?;
                return Ok(false);
            }
        };
        let Outcome::Added { at, from } = self.operate(Operation::Revised(path))? else {
            return Ok(false);
        };
        // What changed from the candidate the note was about.
        let changes = body_diff(&parent.body, &self.session.current().draft.body);
        self.say(format!(
            "{} new {}; its changes from candidate {}:",
            style("✓").green(),
            self.session.named(at),
            from + 1
        ))?;
        show(&self.term, &changes)?;
        Ok(true)
    }

    fn compare(&self) -> Result<()> {
        let ((_, k), of) = (self.session.position(), self.session.candidates());
        let next = (k + 1) % of;
        let (a, b) = (self.session.candidate(k), self.session.candidate(next));
        let head = style(format!("── candidate {} → candidate {} of {of} ──", k + 1, next + 1)).bold();
        show(
            &self.term,
            &format!("{head}\n{}", body_diff(&a.draft.body, &b.draft.body)),
        )?;
        self.say(style(legend(self.width())).dim().to_string())
    }

    fn ask_number(&self) -> Result<Option<usize>> {
        let total = self.session.questions();
        self.say(format!("go to question (1–{total}):"))?;
        let line = self.term.read_line()?;
        match line.trim().parse::<usize>() {
            Ok(i) => Ok(Some(i)),
            Err(_) => self.say(format!("not a question number 1–{total}")).map(|()| None),
        }
    }

    fn info(&self) -> Result<()> {
        let (_, k) = self.session.position();
        show(
            &self.term,
            &screen::info(self.session.current(), &self.session.named(k)),
        )?;
        self.say(style(legend(self.width())).dim().to_string())
    }

    fn context(&self) -> Result<()> {
        match screen::context(self.review, self.session.current())? {
            Ok(text) => show(&self.term, &text)?,
            Err(why) => return self.say(why),
        };
        self.say(style(legend(self.width())).dim().to_string())
    }
}
