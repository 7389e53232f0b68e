//! The interactive review: one question at a time, its diff, single-key commands. Every
//! screen names the question and `candidate k of K`, and every result line names the
//! candidate it acted on, so that what the keys do is always what the screen shows.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use console::{Key, Term, measure_text_width, style, truncate_str};

use crate::app::output::review::Tally;
use crate::app::output::{self as out, safe as visible};
use aigcq::chapter::Chapter;
use aigcq::review::diff;
use aigcq::review::merge::{self, Edit, State};
use aigcq::review::{self, Checked, Decided, Review};
use aigcq::scan;
use aigcq::store::{self, Draft};

const KEYS: [(&str, &str); 15] = [
    ("a", "accept"),
    ("r", "reject"),
    ("s", "skip"),
    ("e", "edit"),
    ("f", "feedback"),
    ("n/p", "candidate"),
    ("=", "compare"),
    ("d", "diff/answer"),
    ("b", "back"),
    (":", "go to"),
    ("u", "undo"),
    ("i", "prompt"),
    ("c", "context"),
    ("q", "quit"),
    ("?", "help"),
];

const HELP: &str = "\
  a  accept this candidate: merge it into the chapter; the question's other candidates are rejected
  r  reject this candidate (kept under drafts/.rejected/ unless --purge)
  s  skip: keep the question's drafts pending for a later review
  e  edit the answer in $VISUAL / $EDITOR (the front matter is kept aside), then see the diff
  f  feedback: tell the model what to change; its reply becomes a new candidate
  n  next candidate of this question      p  previous candidate
  =  compare this candidate with the next one
  d  toggle between the diff and the whole answer
  b  back to the previous question        :  go to question N of this review
  u  undo this session's last accept or reject
  i  what the model was told: model, parameters, template, usage and messages
  c  the chapter's answers around this question
  q  quit (decisions made so far stay)    ?  this help";

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    Not,
    Shown,
    Skipped,
    Done,
}

struct Group {
    items: Vec<Checked>,
    seen: Seen,
}

/// A decision of this session, for `u`.
struct Step {
    group: usize,
    draft: String,
    /// Candidates an accept rejected with it.
    siblings: usize,
}

struct Session<'a> {
    review: &'a Review<'a>,
    hooks: &'a Hooks<'a>,
    pending: Vec<Draft>,
    cwd: &'a Path,
    term: Term,
    groups: Vec<Group>,
    tally: Tally,
    history: Vec<Step>,
    /// Rendered screens by draft id, body, view and width: paging through candidates does
    /// not parse the chapter again. Cleared when a chapter changes.
    screens: HashMap<(String, String, bool, usize, usize), String>,
}

/// Reviews `checked` (pending drafts, in order) question by question.
pub fn run(review: &Review, checked: Vec<Checked>, pending: &[Draft], cwd: &Path, hooks: &Hooks) -> Result<Tally> {
    let mut groups: Vec<Group> = Vec::new();
    for c in checked {
        match groups.last_mut() {
            Some(g) if g.items[0].draft.meta.question_id == c.draft.meta.question_id => g.items.push(c),
            _ => groups.push(Group {
                items: vec![c],
                seen: Seen::Not,
            }),
        }
    }
    let mut s = Session {
        review,
        hooks,
        pending: pending.to_vec(),
        cwd,
        term: Term::stdout(),
        groups,
        tally: Tally::default(),
        history: Vec::new(),
        screens: HashMap::new(),
    };
    s.run()?;
    for g in &s.groups {
        match g.seen {
            Seen::Shown | Seen::Skipped => s.tally.skipped += g.items.len(),
            Seen::Not => s.tally.not_seen += g.items.len(),
            Seen::Done => {}
        }
    }
    Ok(s.tally)
}

impl Session<'_> {
    fn say(&self, line: impl AsRef<str>) -> Result<()> {
        Ok(self.term.write_line(line.as_ref())?)
    }

    fn width(&self) -> usize {
        usize::from(self.term.size().1).max(40)
    }

    fn run(&mut self) -> Result<()> {
        let (mut n, mut k, mut whole, mut redraw) = (0usize, 0usize, false, true);
        loop {
            // The next question with drafts left, from `n` on.
            match (n..self.groups.len()).find(|&i| self.groups[i].seen != Seen::Done) {
                Some(i) if i != n => (n, k, redraw) = (i, 0, true),
                Some(_) => {}
                None if self.history.is_empty() => return Ok(()),
                None => {
                    // A last chance to take the last decision back before the summary.
                    let left = (0..self.groups.len()).any(|i| self.groups[i].seen != Seen::Done);
                    let what = if left {
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
                    match self.undo()? {
                        Some(g) => (n, k, redraw) = (g, 0, true),
                        None => return Ok(()),
                    }
                    continue;
                }
            }
            let of = self.groups[n].items.len();
            k = k.min(of - 1);
            if redraw {
                self.show_screen(n, k, whole)?;
                redraw = false;
            }
            if self.groups[n].seen == Seen::Not {
                self.groups[n].seen = Seen::Shown;
            }
            let key = self.term.read_key_raw()?;
            match key {
                Key::Char('a') => {
                    if self.accept(n, k)? {
                        n += 1;
                        redraw = true;
                    }
                }
                Key::Char('r') => {
                    self.reject(n, k)?;
                    redraw = true;
                }
                Key::Char('s') => {
                    self.groups[n].seen = Seen::Skipped;
                    self.say(format!(
                        "skipped question [{}/{}] ({} stay pending)",
                        n + 1,
                        self.groups.len(),
                        plural(of, "draft")
                    ))?;
                    n += 1;
                    (k, redraw) = (0, true);
                    if n == self.groups.len() {
                        return Ok(());
                    }
                }
                Key::Char('e') => {
                    self.edit(n, k)?;
                    redraw = true;
                }
                Key::Char('f') => {
                    if let Some(new) = self.feedback(n, k)? {
                        k = new;
                        redraw = true;
                    }
                }
                Key::Char('n' | 'p') if of == 1 => self.say("only one candidate")?,
                Key::Char('n') => (k, redraw) = ((k + 1) % of, true),
                Key::Char('p') => (k, redraw) = ((k + of - 1) % of, true),
                Key::Char('=') if of == 1 => self.say("only one candidate: nothing to compare")?,
                Key::Char('=') => self.compare(n, k)?,
                Key::Char('d') => (whole, redraw) = (!whole, true),
                Key::Char('b') => match (0..n).rev().find(|&i| self.groups[i].seen != Seen::Done) {
                    Some(i) => (n, k, redraw) = (i, 0, true),
                    None => self.say("this is the first question left")?,
                },
                Key::Char(':') => {
                    if let Some(i) = self.ask_number()? {
                        (n, k, redraw) = (i, 0, true);
                    }
                }
                Key::Char('u') => {
                    if let Some(g) = self.undo()? {
                        (n, k, redraw) = (g, 0, true);
                    }
                }
                Key::Char('i') => self.info(n, k)?,
                Key::Char('c') => self.context(n, k)?,
                Key::Char('?') => self.say(HELP)?,
                Key::Char('q') | Key::Escape => return Ok(()),
                Key::CtrlC => {
                    self.tally.interrupted = true;
                    return Ok(());
                }
                Key::Char(c) => self.say(format!("unknown key '{}' — ? for help", visible(&c.to_string())))?,
                other => self.say(format!("unknown key {other:?} — ? for help"))?,
            }
        }
    }

    fn current(&self, n: usize, k: usize) -> &Checked {
        &self.groups[n].items[k]
    }

    /// `candidate k of K (id)`: how result lines name what they acted on.
    fn named(&self, n: usize, k: usize) -> String {
        let c = self.current(n, k);
        format!("candidate {} of {} ({})", k + 1, self.groups[n].items.len(), c.draft.id)
    }

    fn show_screen(&mut self, n: usize, k: usize, whole: bool) -> Result<()> {
        let width = self.width();
        let of = self.groups[n].items.len();
        let c = &self.groups[n].items[k];
        let key = (c.draft.id.clone(), c.draft.body.clone(), whole, of, width);
        if !self.screens.contains_key(&key) {
            let screen = render(
                self.review,
                c,
                (n + 1, self.groups.len()),
                (k + 1, of),
                whole,
                self.cwd,
                width,
            );
            self.screens.insert(key.clone(), screen);
        }
        let paged = show(&self.term, &self.screens[&key])?;
        if paged {
            // The pager's screen is gone: say again which candidate the keys act on.
            let m = &c.draft.meta;
            self.say(
                style(format!(
                    "── [{}/{}] #{} · candidate {} of {of} ──",
                    n + 1,
                    self.groups.len(),
                    m.index,
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

    /// Accepts candidate `k` of question `n`; true when it was merged.
    fn accept(&mut self, n: usize, k: usize) -> Result<bool> {
        let c = self.current(n, k);
        let m = &c.draft.meta;
        let stale = matches!(c.state, Ok(State::Stale(_)));
        let warn = if stale {
            Some("this draft is stale")
        } else if m.truncated {
            Some("this draft was cut at max_tokens")
        } else if m.filtered {
            Some("the provider's content filter stopped this draft")
        } else {
            None
        };
        if let Some(w) = warn
            && !self.confirm(&format!("{w}; accept anyway?"))?
        {
            return self.say("not accepted").map(|()| false);
        }
        let named = self.named(n, k);
        let draft = c.draft.clone();
        let decided = self.review.decide(&[&draft], &[], &self.pending, stale);
        for (id, e) in &decided.errors {
            self.tally.errors += 1;
            self.say(out::error_line(format!("{id}: {e:#}"), false))?;
        }
        if !decided.errors.is_empty() {
            return Ok(false);
        }
        self.screens.clear();
        self.tally.accepted += 1;
        self.tally.rejected += decided.rejected.len();
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
        if let Err(e) = (self.hooks.after)(&decided, &self.pending) {
            self.tally.errors += 1;
            self.say(out::error_line(format!("{e:#}"), false))?;
        }
        for f in decided.files_changed {
            if !self.tally.files.contains(&f) {
                self.tally.files.push(f);
            }
        }
        self.history.push(Step {
            group: n,
            draft: draft.id.clone(),
            siblings: decided.rejected.len(),
        });
        // The question's candidates are merged or rejected now.
        self.pending
            .retain(|p| p.meta.question_id != draft.meta.question_id || p.path.exists());
        self.groups[n].seen = Seen::Done;
        Ok(true)
    }

    fn reject(&mut self, n: usize, k: usize) -> Result<()> {
        let named = self.named(n, k);
        let draft = self.current(n, k).draft.clone();
        let decided = self.review.decide(&[], &[&draft], &self.pending, false);
        if let Some((id, e)) = decided.errors.first() {
            self.tally.errors += 1;
            return self.say(out::error_line(format!("{id}: {e:#}"), false));
        }
        self.tally.rejected += 1;
        self.say(format!("{} rejected {named}", style("✗").red()))?;
        self.history.push(Step {
            group: n,
            draft: draft.id.clone(),
            siblings: 0,
        });
        self.pending.retain(|p| p.id != draft.id);
        let g = &mut self.groups[n];
        g.items.remove(k);
        if g.items.is_empty() {
            g.seen = Seen::Done;
        }
        Ok(())
    }

    /// Takes back this session's last decision; the question it concerned.
    fn undo(&mut self) -> Result<Option<usize>> {
        let Some(step) = self.history.last() else {
            self.say("nothing to undo in this session")?;
            return Ok(None);
        };
        let entries = review::ledger::read(self.review.drafts)?;
        let last = review::ledger::standing(&entries)
            .last()
            .map(|&i| entries[i].draft.clone());
        if last.as_deref() != Some(step.draft.as_str()) {
            self.say("the ledger's last decision is not this session's (another review ran); use aigcq review --undo")?;
            return Ok(None);
        }
        let undid = self.review.undo(1);
        if let Some(e) = undid.error {
            self.tally.errors += 1;
            self.say(out::error_line(format!("{e:#}"), false))?;
            return Ok(None);
        }
        let step = self.history.pop().expect("checked above");
        let undone = &undid.undone[0];
        self.screens.clear();
        match undone.decision {
            review::ledger::Decision::Accepted => {
                self.tally.accepted -= 1;
                self.tally.rejected -= step.siblings;
                self.say(format!(
                    "{} undid the accept of {}: the chapter is as it was",
                    style("↶").cyan(),
                    step.draft
                ))?;
            }
            _ => {
                self.tally.rejected -= 1;
                self.say(format!("{} undid the reject of {}", style("↶").cyan(), step.draft))?;
            }
        }
        // The question's drafts as they are pending now.
        let question = &undone.question_id;
        let (pending, _) = store::Store::new(self.review.drafts.to_path_buf()).pending();
        let mine: Vec<Draft> = pending
            .iter()
            .filter(|d| &d.meta.question_id == question)
            .cloned()
            .collect();
        self.pending = pending;
        let g = &mut self.groups[step.group];
        g.items = self.review.check(mine);
        g.seen = Seen::Shown;
        Ok((!g.items.is_empty()).then_some(step.group))
    }

    /// Edits the answer alone (the front matter is kept aside); an edit that leaves the
    /// answer unusable asks to edit again and never drops the draft.
    fn edit(&mut self, n: usize, k: usize) -> Result<()> {
        let draft = self.current(n, k).draft.clone();
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("answer.md");
        std::fs::write(&file, &draft.body)?;
        loop {
            if let Err(e) = run_editor(&file) {
                return self.say(out::error_line(format!("{e:#}"), false));
            }
            let body = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let problem = if body.trim().is_empty() {
                Some("the answer is empty".to_owned())
            } else {
                merge::control_character(&body).map(|c| format!("the answer holds a control character ({c})"))
            };
            match problem {
                Some(p) => {
                    self.say(format!("{} {p}", style("!").yellow()))?;
                    if !self.confirm("edit again? (no keeps the draft as it was)")? {
                        return self.say("the draft is unchanged");
                    }
                }
                None if body == draft.body => return self.say("no change"),
                None => {
                    // Through the store, under the chapter's lock: a verdict recorded while the
                    // editor was open stays, and a draft decided meanwhile is not written back.
                    let chapter = self.review.chapter_path(&draft.meta.chapter)?;
                    let store = store::Store::new(self.review.drafts.to_path_buf());
                    let mut meta = None;
                    let kept = store.update(&chapter, &draft.path, |m, b| {
                        b.clone_from(&body);
                        meta = Some(m.clone());
                    })?;
                    let Some(meta) = meta.filter(|_| kept) else {
                        return self.say("another review decided this draft meanwhile; the edit is not kept");
                    };
                    let edited = Draft { meta, body, ..draft };
                    if let Some(c) = self.review.check(vec![edited]).into_iter().next() {
                        self.groups[n].items[k] = c;
                    }
                    return self.say(format!("edited {}", self.named(n, k)));
                }
            }
        }
    }

    /// Asks the model for a revision; the new candidate's position.
    fn feedback(&mut self, n: usize, k: usize) -> Result<Option<usize>> {
        self.say("feedback for the model (what to change; empty to cancel):")?;
        let note = self.term.read_line()?;
        if note.trim().is_empty() {
            self.say("no feedback sent")?;
            return Ok(None);
        }
        let parent = self.current(n, k).draft.clone();
        self.say(format!(
            "asking {} for a new version of {}…",
            parent.meta.model,
            self.named(n, k)
        ))?;
        let path = match (self.hooks.revise)(&self.pending, &parent, note.trim()) {
            Ok(p) => p,
            Err(e) => {
                self.tally.errors += 1;
                self.say(out::error_line(format!("{e:#}"), false))?;
                return Ok(None);
            }
        };
        let (pending, _) = store::Store::new(self.review.drafts.to_path_buf()).pending();
        let Some(new) = pending.iter().find(|d| d.path == path).cloned() else {
            bail!("the new draft {} cannot be read back", path.display());
        };
        self.pending = pending;
        let checked = self.review.check(vec![new]).into_iter().next().context("checked")?;
        // What changed from the candidate the note was about.
        let changes = body_diff(&parent.body, &checked.draft.body);
        let g = &mut self.groups[n];
        g.items.push(checked);
        let at = g.items.len() - 1;
        self.say(format!(
            "{} new {}; its changes from candidate {}:",
            style("✓").green(),
            self.named(n, at),
            k + 1
        ))?;
        show(&self.term, &changes)?;
        Ok(Some(at))
    }

    fn compare(&self, n: usize, k: usize) -> Result<()> {
        let of = self.groups[n].items.len();
        let next = (k + 1) % of;
        let (a, b) = (self.current(n, k), self.current(n, next));
        let head = style(format!("── candidate {} → candidate {} of {of} ──", k + 1, next + 1)).bold();
        show(
            &self.term,
            &format!("{head}\n{}", body_diff(&a.draft.body, &b.draft.body)),
        )?;
        self.say(style(legend(self.width())).dim().to_string())
    }

    fn ask_number(&self) -> Result<Option<usize>> {
        let total = self.groups.len();
        self.say(format!("go to question (1–{total}):"))?;
        let line = self.term.read_line()?;
        match line.trim().parse::<usize>() {
            Ok(i) if (1..=total).contains(&i) && self.groups[i - 1].seen != Seen::Done => Ok(Some(i - 1)),
            Ok(i) if (1..=total).contains(&i) => self.say(format!("question {i} is decided already")).map(|()| None),
            _ => self.say(format!("not a question number 1–{total}")).map(|()| None),
        }
    }

    /// Model, parameters, template, usage and the messages that produced the draft.
    fn info(&self, n: usize, k: usize) -> Result<()> {
        let d = &self.current(n, k).draft;
        let m = &d.meta;
        let mut out = format!("{}\n", style(format!("── what made {} ──", self.named(n, k))).bold());
        out.push_str(&format!("model      {} at {}\n", m.model, m.host));
        out.push_str(&format!("template   {} ({})\n", m.template, m.template_hash));
        out.push_str(&format!("created    {}\n", m.created));
        out.push_str(&format!(
            "finish     {}\n",
            m.finish_reason.as_deref().unwrap_or("(not reported)")
        ));
        if let Some(u) = m.usage {
            out.push_str(&format!(
                "usage      {} prompt + {} completion tokens\n",
                u.prompt_tokens, u.completion_tokens
            ));
        }
        for w in &m.warnings {
            out.push_str(&format!("warning    {w}\n"));
        }
        for r in &m.references {
            let cut = if r.truncated { ", cut to fit" } else { "" };
            out.push_str(&format!(
                "reference  {} ({} chars{cut}, {})\n",
                r.source, r.chars, r.hash
            ));
        }
        if let (Some(p), Some(f)) = (&m.parent, &m.feedback) {
            out.push_str(&format!("revises    {p}\nfeedback   {f}\n"));
        }
        match store::read_prompt(&d.path) {
            Ok(Some(p)) => {
                out.push_str(&format!("parameters {}\n", serde_json::Value::Object(p.params.clone())));
                for t in &p.messages {
                    out.push_str(&format!(
                        "\n{}\n{}\n",
                        style(format!("[{}]", t.role)).cyan(),
                        t.content.trim_end()
                    ));
                }
            }
            Ok(None) => out.push_str("\n(no prompt was kept with this draft)\n"),
            Err(e) => out.push_str(&format!("\n{e:#}\n")),
        }
        show(&self.term, &visible(&out))?;
        self.say(style(legend(self.width())).dim().to_string())
    }

    /// The answered questions just before and after this one in its chapter.
    fn context(&self, n: usize, k: usize) -> Result<()> {
        let c = self.current(n, k);
        let Some(path) = &c.file else {
            return self.say("the chapter cannot be read");
        };
        let text = scan::read_chapter(path)?;
        let chapter = Chapter::parse(&text, self.review.rules);
        let around = review::neighbours(&chapter, (&c.draft.meta).into());
        if around.is_empty() {
            return self.say("no answered question around this one");
        }
        let mut out = String::new();
        for (index, question, answer) in around {
            out.push_str(&format!(
                "{}\n{}\n\n",
                style(format!("── {question} (#{index}) ──")).bold(),
                answer.trim_end()
            ));
        }
        show(&self.term, &visible(&out))?;
        self.say(style(legend(self.width())).dim().to_string())
    }
}

fn plural(n: usize, w: &str) -> String {
    crate::app::output::plural(n, w)
}

/// The key bar, fitting `width` columns: words when they fit, keys alone otherwise.
fn legend(width: usize) -> String {
    let long = KEYS
        .iter()
        .map(|(k, w)| format!("{k} {w}"))
        .collect::<Vec<_>>()
        .join(" · ");
    if measure_text_width(&long) <= width {
        return long;
    }
    let short = KEYS.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(" ");
    format!("{short} · ? help")
}

/// The header and the diff (or the whole answer) of one candidate, `width` columns wide.
fn render(
    review: &Review,
    c: &Checked,
    (n, total): (usize, usize),
    (k, of): (usize, usize),
    whole: bool,
    cwd: &Path,
    width: usize,
) -> String {
    let m = &c.draft.meta;
    let file = c
        .file
        .as_ref()
        .map_or_else(|| m.chapter.clone(), |f| scan::display_path(f, cwd));
    let fit = |s: String| truncate_str(&s, width, "…").into_owned();
    // The draft's own part of the id is enough once the chapter is on the first line.
    let short = c.draft.id.rsplit('/').next().unwrap_or(&c.draft.id);
    let kind = if m.rewrite {
        "rewrite".to_owned()
    } else {
        m.kind.to_string()
    };
    let mut out = format!(
        "{}\n{}\n{}",
        style(fit(format!("── [{n}/{total}] {file} #{} ({kind}) ──", m.index))).bold(),
        visible(&m.question),
        style(fit(visible(&format!(
            "candidate {k} of {of} · {} · {} · {short}",
            m.model, m.created
        ))
        .into_owned()))
        .dim()
    );
    let mut warn = |s: &str| out.push_str(&format!("\n{}", style(format!("! {s}")).yellow()));
    if m.filtered {
        warn("filtered: the provider's content filter stopped the answer");
    }
    if m.truncated {
        warn("truncated: the model stopped at max_tokens");
    }
    for w in m.warnings.iter().filter(|w| w.code != "filtered") {
        warn(&visible(&w.to_string()));
    }
    if let Some(f) = &m.feedback {
        warn(&format!("revised by feedback: {}", visible(f)));
    }
    match &c.state {
        Ok(State::Stale(s)) => warn(&format!("stale: {}", s.reason())),
        Ok(State::Merged) => warn("already in the chapter; accepting only cleans it up"),
        Err(e) => out.push_str(&format!("\n{}", style(format!("! {e}")).red())),
        Ok(State::Ready) => {}
    }
    if let Some(score) = m.score {
        let reasons = m.reasons.as_deref().map(visible).unwrap_or_default();
        let judge = m.judge.as_deref().map(|j| format!(" ({j})")).unwrap_or_default();
        out.push_str(&format!(
            "\n{} {reasons}",
            style(format!("score {score}/10{judge}:")).cyan()
        ));
    }
    out.push_str("\n\n");
    if whole {
        out.push_str(&visible(&c.draft.body));
        return out;
    }
    let Some(path) = &c.file else { return out };
    match std::fs::read_to_string(path) {
        Ok(text) => match review::preview(&text, &c.draft, review.rules).map(|h| out::diff::render(&h, Some(width))) {
            Ok(d) => out.push_str(&d),
            Err(e) => out.push_str(&style(format!("cannot merge: {e}")).red().to_string()),
        },
        Err(e) => out.push_str(&format!("cannot read {}: {e}", path.display())),
    }
    out
}

/// The diff between two answers.
fn body_diff(old: &str, new: &str) -> String {
    let edit = Edit {
        range: 0..old.len(),
        text: new.to_owned(),
        order: 0,
    };
    out::diff::render(&diff::hunks(old, &edit, diff::CONTEXT), None)
}

/// Prints `screen`, through `$PAGER` (default `less -R`; none with `TERM=dumb`) when it is
/// taller than the terminal. True when a pager showed it.
fn show(term: &Term, screen: &str) -> Result<bool> {
    term.write_line("")?;
    let (rows, _) = term.size();
    let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
    if dumb || screen.lines().count() + 2 <= usize::from(rows) {
        term.write_line(screen.trim_end())?;
        return Ok(false);
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
            Ok(true)
        }
        Err(_) => {
            term.write_line(screen.trim_end())?;
            Ok(false)
        }
    }
}

/// Opens `file` in `$VISUAL` / `$EDITOR` (default `vi`).
fn run_editor(file: &Path) -> Result<()> {
    let editor = ["VISUAL", "EDITOR"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|e| !e.trim().is_empty()))
        .unwrap_or_else(|| "vi".into());
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("aigcq-editor")
        .arg(file)
        .status()
        .with_context(|| format!("cannot start the editor {editor:?}"))?;
    if !status.success() {
        bail!("the editor {editor:?} exited with {status}; the draft is unchanged");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aigcq::chapter::{QuestionConfig, Rules};

    /// One review screen as an 80-column terminal without colour shows it: the header cut
    /// to the width, long lines wrapped under the gutter, changed characters marked.
    #[test]
    fn a_screen_at_80_columns_without_colour() {
        console::set_colors_enabled(false);
        let dir = tempfile::tempdir().unwrap();
        let (content, drafts) = (dir.path().join("content"), dir.path().join("drafts"));
        std::fs::create_dir_all(&content).unwrap();
        let text = "# 第一章\n\n## 1、什么是 Seedream 系列模型，它在图像生成和编辑上分别有哪些关键的创新？\n\nSeedream 是字节跳动的文生图模型。\n\n## 2、下一题？\n\n已有的答案，写得足够长，算作真正的回答。\n";
        std::fs::write(content.join("ch.md"), text).unwrap();
        let rules = Rules::new(&QuestionConfig::default()).unwrap();
        let chapter = Chapter::parse(text, &rules);
        // A new version of an answered question, as `draft --rewrite` makes it.
        let gap = chapter.as_gap(&chapter.questions[0], aigcq::chapter::GapKind::Stub);
        let meta = store::Meta {
            chapter: "ch.md".into(),
            question_id: "ch.md#1".into(),
            anchor: gap.anchor.into(),
            question: gap.text.into(),
            index: gap.index,
            kind: gap.kind,
            level: gap.level,
            span_hash: aigcq::identity::span_hash(&chapter, &gap),
            model: "deepseek-chat".into(),
            host: "api.deepseek.com".into(),
            template: "default".into(),
            template_hash: "abc".into(),
            temperature: None,
            created: "2026-12-01T10:00:00Z".into(),
            finish_reason: Some("stop".into()),
            truncated: false,
            filtered: false,
            candidate: 1,
            candidates: 2,
            warnings: vec![],
            usage: None,
            rewrite: true,
            parent: None,
            feedback: None,
            references: Vec::new(),
            score: None,
            reasons: None,
            judge: None,
            batch: None,
        };
        let body = "Seedream 是字节跳动 Seed 团队的文生图模型。\n";
        let s = store::Store::new(drafts.clone());
        s.save(&meta, body).unwrap();
        let review = Review {
            content: &content,
            drafts: &drafts,
            rules: &rules,
            purge: false,
            waiting: &|_| {},
        };
        let checked = review.check(s.pending().0).remove(0);
        let screen = render(&review, &checked, (1, 4), (1, 2), false, dir.path(), 80);
        for line in screen.lines() {
            assert!(measure_text_width(line) <= 80, "wider than 80 columns: {line:?}");
        }
        insta::assert_snapshot!(format!("{screen}\n{}", legend(80)));
    }
}
