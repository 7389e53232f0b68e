//! The interactive review in the terminal: a thin loop over the engine's review session
//! (`aigcq::review::session`). A key becomes an operation, the session commits it, the
//! [`screen`] shows the result; the editor is a [`process`]. A screen taller than the terminal
//! is scrolled here, never handed to a pager that would take the keys and leave nothing
//! behind. Every screen names the question and `candidate k of K` (a scrolled one in its
//! status line), and every result line names the candidate it acted on, so that what the
//! keys do is always what the screen shows.

mod process;
mod screen;

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use console::{Key, Term, style};

use crate::app::output::{self as out, safe as visible};
use aigcq::review::ledger::Decision;
use aigcq::review::merge::State;
use aigcq::review::session::{Operation, Outcome, Session, Tally};
use aigcq::review::{Checked, Decided, Review};
use aigcq::store::Draft;
use process::run_editor;
use screen::{HELP, body_diff, legend, render};

/// Sees each event of a revision as it happens (the page shows its progress).
pub type Watch<'a> = dyn Fn(&aigcq::draft::Event) + Sync + 'a;

/// Revises a draft (among the pending ones) by the author's note, telling `Watch` what
/// happens; the new draft's path.
pub type Revise<'a> = dyn Fn(&[Draft], &Draft, &str, &Watch) -> Result<PathBuf> + 'a;

/// Told of each decision with the pending drafts it was made among (to commit it).
pub type After<'a> = dyn Fn(&Decided, &[Draft]) -> Result<()> + 'a;

/// What the review needs from the app beyond the engine: asking the model for a revision,
/// and what to do after a chapter was written.
pub struct Hooks<'a> {
    pub revise: &'a Revise<'a>,
    pub after: &'a After<'a>,
}

/// Reviews `checked` (pending drafts, in order) question by question; `blind` hides each
/// candidate's model until it is accepted.
pub fn run(
    review: &Review,
    checked: Vec<Checked>,
    pending: &[Draft],
    cwd: &Path,
    hooks: &Hooks,
    blind: bool,
) -> Result<Tally> {
    let mut t = Terminal {
        review,
        hooks,
        session: Session::new(review, checked, pending),
        cwd,
        term: Term::stdout(),
        screens: HashMap::new(),
        interrupted: false,
        view: None,
        said: RefCell::default(),
        blind,
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
    /// The screen being scrolled, when it is taller than the terminal.
    view: Option<View>,
    /// Lines said since the last screen was drawn, drawn again above a scrolled one.
    said: RefCell<Vec<String>>,
    /// Models are hidden until a candidate is accepted (`review --blind`).
    blind: bool,
}

/// A screen taller than the terminal and the first of its lines shown.
struct View {
    /// What the status line names: the question and candidate the keys act on.
    title: String,
    lines: Vec<String>,
    top: usize,
    /// How many lines the last drawing showed: a page.
    shown: std::cell::Cell<usize>,
}

/// How the view moves.
enum Scroll {
    Lines(isize),
    Pages(isize),
    Top,
    End,
}

impl Terminal<'_> {
    fn say(&self, line: impl AsRef<str>) -> Result<()> {
        self.said.borrow_mut().push(line.as_ref().to_owned());
        Ok(self.term.write_line(line.as_ref())?)
    }

    /// Shows `screen` and the key bar: as it is when it fits the terminal, else its first
    /// page, scrolled with the keys of [`Scroll`].
    fn display(&mut self, title: String, screen: &str) -> Result<()> {
        let (rows, width) = (usize::from(self.term.size().0), self.width());
        let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
        let lines: Vec<String> = screen.trim_end().lines().map(str::to_owned).collect();
        let height: usize = lines.iter().map(|l| screen::rows(l, width)).sum();
        if dumb || height + 2 <= rows {
            self.view = None;
            self.term.write_line("")?;
            self.term.write_line(screen.trim_end())?;
            self.said.borrow_mut().clear();
            return self.say_legend();
        }
        self.view = Some(View {
            title,
            lines,
            top: 0,
            shown: Default::default(),
        });
        self.draw_view()
    }

    /// Draws the scrolled screen from the top: what was said since the last screen, the page,
    /// the status line, the key bar.
    fn draw_view(&self) -> Result<()> {
        let Some(v) = &self.view else { return Ok(()) };
        let (rows, width) = (usize::from(self.term.size().0), self.width());
        let said = std::mem::take(&mut *self.said.borrow_mut());
        let said_rows: usize = said.iter().map(|l| screen::rows(l, width)).sum();
        let mut room = rows.saturating_sub(2 + said_rows).max(1);
        self.term.clear_screen()?;
        for line in &said {
            self.term.write_line(line)?;
        }
        let mut end = v.top;
        for line in &v.lines[v.top..] {
            let need = screen::rows(line, width);
            if need > room && end > v.top {
                break;
            }
            self.term.write_line(line)?;
            room = room.saturating_sub(need);
            end += 1;
        }
        v.shown.set(end - v.top);
        let status = format!(
            "── {} · lines {}–{end} of {} · space/↓ more · k/↑ back · g/G top/end ──",
            v.title,
            v.top + 1,
            v.lines.len()
        );
        let status = console::truncate_str(&status, width, "…");
        self.term.write_line(&style(status).bold().to_string())?;
        self.say_legend()
    }

    fn say_legend(&self) -> Result<()> {
        Ok(self.term.write_line(&style(legend(self.width())).dim().to_string())?)
    }

    /// Moves the scrolled screen; false when there is none.
    fn scroll(&mut self, by: Scroll) -> Result<bool> {
        let (rows, width) = (usize::from(self.term.size().0), self.width());
        let Some(v) = &mut self.view else { return Ok(false) };
        let page = v.shown.get().max(1) as isize;
        let last = v.lines.len().saturating_sub(1) as isize;
        let top = match by {
            Scroll::Lines(n) => v.top as isize + n,
            Scroll::Pages(n) => v.top as isize + n * page,
            Scroll::Top => 0,
            // The last page: as many lines back from the end as fit.
            Scroll::End => {
                let mut room = rows.saturating_sub(2).max(1);
                let mut top = v.lines.len();
                while top > 0 && screen::rows(&v.lines[top - 1], width) <= room {
                    room -= screen::rows(&v.lines[top - 1], width);
                    top -= 1;
                }
                top as isize
            }
        };
        v.top = top.clamp(0, last) as usize;
        self.draw_view()?;
        Ok(true)
    }

    fn width(&self) -> usize {
        usize::from(self.term.size().1).max(40)
    }

    fn run(&mut self) -> Result<()> {
        let (mut whole, mut redraw) = (false, true);
        let mut shown = None;
        loop {
            // Drafts another review (the page, a script) decided meanwhile leave this one.
            let gone = self.session.refresh();
            if gone > 0 {
                self.screens.clear();
                redraw = true;
                self.say(format!(
                    "{} decided elsewhere (another review or a script); they leave this review",
                    out::plural(gone, "draft")
                ))?;
            }
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
                Key::Char(' ') | Key::PageDown | Key::Enter if self.scroll(Scroll::Pages(1))? => {}
                Key::PageUp if self.scroll(Scroll::Pages(-1))? => {}
                Key::Char('j') | Key::ArrowDown if self.scroll(Scroll::Lines(1))? => {}
                Key::Char('k') | Key::ArrowUp if self.scroll(Scroll::Lines(-1))? => {}
                Key::Char('g') | Key::Home if self.scroll(Scroll::Top)? => {}
                Key::Char('G') | Key::End if self.scroll(Scroll::End)? => {}
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
                let into = out::review::merged_into(decided, self.cwd);
                // A blind review names the model once its candidate won.
                let model = if self.blind {
                    format!(" (it was {}'s)", visible(&draft.meta.model))
                } else {
                    String::new()
                };
                self.say(format!("{} merged {named} into {into}{model}", style("✓").green()))?;
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
            // The terminal decides one candidate at a time; the page sends many.
            Outcome::Added { .. } | Outcome::Moved | Outcome::Many { .. } => {}
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
            let screen = render(
                self.review,
                c,
                (n + 1, total),
                (k + 1, of),
                (whole, self.blind),
                self.cwd,
                width,
            );
            self.screens.insert(key.clone(), screen);
        }
        let screen = self.screens[&key].clone();
        let title = self.title();
        self.display(title, &screen)
    }

    /// The question and candidate the keys act on.
    fn title(&self) -> String {
        let ((n, k), of, total) = (
            self.session.position(),
            self.session.candidates(),
            self.session.questions(),
        );
        let index = self.session.current().draft.meta.index;
        format!("[{}/{total}] #{index} · candidate {} of {of}", n + 1, k + 1)
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
        let model = if self.blind { "the model" } else { &parent.meta.model };
        self.say(format!(
            "asking {model} for a new version of {}…",
            self.session.named(k)
        ))?;
        let path = match (self.hooks.revise)(self.session.pending(), &parent, note.trim(), &|_| {}) {
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
        let title = self.title();
        self.display(title, &changes)?;
        Ok(true)
    }

    fn compare(&mut self) -> Result<()> {
        let ((_, k), of) = (self.session.position(), self.session.candidates());
        let next = (k + 1) % of;
        let (a, b) = (self.session.candidate(k), self.session.candidate(next));
        let head = style(format!("── candidate {} → candidate {} of {of} ──", k + 1, next + 1)).bold();
        let screen = format!("{head}\n{}", body_diff(&a.draft.body, &b.draft.body));
        let title = self.title();
        self.display(title, &screen)
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

    fn info(&mut self) -> Result<()> {
        if self.blind {
            return self.say("a blind review hides what made each draft (its model) until one is accepted");
        }
        let (_, k) = self.session.position();
        let screen = screen::info(self.session.current(), &self.session.named(k));
        let title = self.title();
        self.display(title, &screen)
    }

    fn context(&mut self) -> Result<()> {
        match screen::context(self.review, self.session.current())? {
            Ok(text) => {
                let title = self.title();
                self.display(title, &text)
            }
            Err(why) => self.say(why),
        }
    }
}
