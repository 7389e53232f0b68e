//! A review session that any front end can drive (the terminal today, a page tomorrow): the
//! queue of questions and their candidates, the position, and the decisions taken. A front
//! end turns what the author does (a key, a click) into an [`Operation`]; [`Session::apply`]
//! commits it through the review stage (merge, ledger, undo, locks) and says what happened
//! in an [`Outcome`], as cargo-insta's decisions are operations that `commit()` applies. It
//! knows nothing of keys, terminals or HTTP; asking the author to confirm, running an editor
//! or a model happen in the front end, which hands over their results.

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};

use super::ledger::{self, Decision};
use super::merge;
use super::{Checked, Decided, Review};
use crate::store::{Draft, Store};

/// What the author asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// Merge the current candidate; the question's others are rejected. A stale draft is
    /// accepted only when `force` (the front end asked: see [`Session::caution`]).
    Accept {
        /// Accept a stale draft too.
        force: bool,
    },
    /// Set the current candidate aside.
    Reject,
    /// Leave the question's drafts pending and go on.
    Skip,
    /// The current candidate's answer, as the author edited it.
    Edit(String),
    /// A revision of the current candidate was saved at this path (feedback): it becomes the
    /// question's last candidate and the current one.
    Revised(PathBuf),
    /// Take back this session's last decision.
    Undo,
    /// The question's next or previous candidate.
    Next,
    /// The previous candidate.
    Previous,
    /// The previous question with drafts left.
    Back,
    /// Question number `n` (1-based) of the session.
    Jump(usize),
    /// Decide many drafts of the session at once, by id (a page's bulk triage): accepting one
    /// rejects its question's other candidates, as [`Operation::Accept`] does. Stale drafts
    /// are not accepted.
    Many {
        /// Drafts to merge.
        accept: Vec<String>,
        /// Drafts to set aside.
        reject: Vec<String>,
    },
}

/// What an operation did.
#[derive(Debug)]
pub enum Outcome {
    /// Merged: `draft` (as it was pending); `decided` says which files changed and which
    /// siblings were rejected.
    Accepted {
        /// `candidate k of K (id)`.
        named: String,
        /// The draft, as it was pending.
        draft: Box<Draft>,
        /// What the review stage did.
        decided: Decided,
    },
    /// Set aside.
    Rejected {
        /// `candidate k of K (id)`.
        named: String,
    },
    /// The question `question` of `questions` was skipped with its `drafts`; `last` when it
    /// was the last question of the session.
    Skipped {
        /// 1-based.
        question: usize,
        /// Questions in the session.
        questions: usize,
        /// Drafts that stay pending.
        drafts: usize,
        /// It was the last question.
        last: bool,
    },
    /// The edited answer is saved.
    Edited {
        /// `candidate k of K (id)`.
        named: String,
    },
    /// The revision is the question's candidate `at` (0-based), revising candidate `from`.
    Added {
        /// The revision's position among the candidates.
        at: usize,
        /// The candidate it revises.
        from: usize,
    },
    /// A decision was taken back.
    Undone {
        /// Which.
        decision: Decision,
        /// Of which draft.
        draft: String,
    },
    /// The position changed.
    Moved,
    /// Nothing was done, and why (nothing to undo, only one candidate, no change, …).
    Refused(String),
    /// The edited answer cannot be used (empty, a control character): nothing was written.
    Unusable(String),
    /// The operation failed for these drafts (they stay pending), and why.
    Failed(Vec<(String, anyhow::Error)>),
    /// Many drafts decided at once: what the review stage did (its errors name the drafts
    /// that stay pending), and the drafts asked to be merged, as they were pending.
    Many {
        /// What the review stage did.
        decided: Decided,
        /// The drafts to merge, before the decision.
        accepting: Vec<Draft>,
    },
}

/// What a session decided, for its closing line.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Drafts merged.
    pub accepted: usize,
    /// Drafts set aside, siblings of an accept included.
    pub rejected: usize,
    /// Drafts of questions shown and left undecided.
    pub skipped: usize,
    /// Drafts of questions never reached.
    pub not_seen: usize,
    /// Chapters whose bytes differ from when the session began (an undo may have restored
    /// one it wrote).
    pub files: Vec<PathBuf>,
    /// Operations that failed.
    pub errors: usize,
    /// Ended by an interrupt (Ctrl-C).
    pub interrupted: bool,
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

/// A decision of this session, for [`Operation::Undo`].
struct Step {
    group: usize,
    draft: String,
    /// Candidates an accept rejected with it.
    siblings: usize,
}

/// The review of a queue of pending drafts, question by question.
pub struct Session<'a> {
    review: &'a Review<'a>,
    pending: Vec<Draft>,
    groups: Vec<Group>,
    /// The current question and candidate.
    n: usize,
    k: usize,
    history: Vec<Step>,
    tally: Tally,
    /// Each chapter this session wrote, with a hash of its bytes before the first write.
    written: Vec<(PathBuf, Option<String>)>,
}

/// A hash of the file's bytes, `None` when it cannot be read.
fn file_hash(path: &std::path::Path) -> Option<String> {
    std::fs::read(path).ok().map(|b| crate::identity::short_hash(&[&b], 16))
}

impl<'a> Session<'a> {
    /// A session over `checked` (pending drafts in order, the candidates of a question
    /// together), among all `pending` drafts.
    pub fn new(review: &'a Review<'a>, checked: Vec<Checked>, pending: &[Draft]) -> Session<'a> {
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
        Session {
            review,
            pending: pending.to_vec(),
            groups,
            n: 0,
            k: 0,
            history: Vec::new(),
            tally: Tally::default(),
            written: Vec::new(),
        }
    }

    /// Moves to the first question with drafts left from the current one on and marks it
    /// shown; its position, or `None` when no question is left from here.
    pub fn settle(&mut self) -> Option<(usize, usize)> {
        let n = (self.n..self.groups.len()).find(|&i| self.groups[i].seen != Seen::Done)?;
        if n != self.n {
            (self.n, self.k) = (n, 0);
        }
        self.k = self.k.min(self.groups[n].items.len() - 1);
        if self.groups[n].seen == Seen::Not {
            self.groups[n].seen = Seen::Shown;
        }
        Some((self.n, self.k))
    }

    /// The current question and candidate, 0-based.
    pub fn position(&self) -> (usize, usize) {
        (self.n, self.k)
    }

    /// How many questions the session has.
    pub fn questions(&self) -> usize {
        self.groups.len()
    }

    /// How many candidates the current question has.
    pub fn candidates(&self) -> usize {
        self.groups[self.n].items.len()
    }

    /// The current candidate.
    pub fn current(&self) -> &Checked {
        &self.groups[self.n].items[self.k]
    }

    /// Candidate `k` of the current question.
    pub fn candidate(&self, k: usize) -> &Checked {
        &self.groups[self.n].items[k]
    }

    /// Whether any question has drafts left, and whether this session decided anything.
    pub fn any_left(&self) -> bool {
        self.groups.iter().any(|g| g.seen != Seen::Done)
    }

    /// Whether the session decided anything it could take back.
    pub fn has_history(&self) -> bool {
        !self.history.is_empty()
    }

    /// Every candidate still to decide, question by question (a page's queue).
    pub fn checked(&self) -> Vec<Checked> {
        self.groups.iter().flat_map(|g| g.items.iter().cloned()).collect()
    }

    /// The pending drafts as the session knows them.
    pub fn pending(&self) -> &[Draft] {
        &self.pending
    }

    /// `candidate k of K (id)`: how results name what they acted on.
    pub fn named(&self, k: usize) -> String {
        let c = &self.groups[self.n].items[k];
        format!(
            "candidate {} of {} ({})",
            k + 1,
            self.groups[self.n].items.len(),
            c.draft.id
        )
    }

    /// Why accepting the current candidate deserves a second thought (stale, cut at the token
    /// limit, stopped by a filter); the front end asks before it sends [`Operation::Accept`].
    pub fn caution(&self) -> Option<String> {
        self.current().cautions().into_iter().next()
    }

    /// Applies `op` to the current candidate and position.
    pub fn apply(&mut self, op: Operation) -> Result<Outcome> {
        // Past the last question (the review's end) only an undo or a decision by ids has
        // something to act on.
        let of = self.groups.get(self.n).map_or(0, |g| g.items.len());
        if of == 0 && !matches!(op, Operation::Undo | Operation::Many { .. }) {
            return Ok(Outcome::Refused("no question here".into()));
        }
        Ok(match op {
            Operation::Accept { force } => self.accept(force),
            Operation::Reject => self.reject(),
            Operation::Skip => {
                let question = self.n;
                self.groups[question].seen = Seen::Skipped;
                (self.n, self.k) = (question + 1, 0);
                Outcome::Skipped {
                    question: question + 1,
                    questions: self.groups.len(),
                    drafts: of,
                    last: self.n == self.groups.len(),
                }
            }
            Operation::Edit(body) => self.edit(body)?,
            Operation::Revised(path) => self.revised(&path)?,
            Operation::Undo => self.undo()?,
            Operation::Next | Operation::Previous if of == 1 => Outcome::Refused("only one candidate".into()),
            Operation::Next => {
                self.k = (self.k + 1) % of;
                Outcome::Moved
            }
            Operation::Previous => {
                self.k = (self.k + of - 1) % of;
                Outcome::Moved
            }
            Operation::Back => match (0..self.n).rev().find(|&i| self.groups[i].seen != Seen::Done) {
                Some(i) => {
                    (self.n, self.k) = (i, 0);
                    Outcome::Moved
                }
                None => Outcome::Refused("this is the first question left".into()),
            },
            Operation::Many { accept, reject } => self.many(&accept, &reject)?,
            Operation::Jump(i) => {
                let total = self.groups.len();
                if !(1..=total).contains(&i) {
                    Outcome::Refused(format!("not a question number 1–{total}"))
                } else if self.groups[i - 1].seen == Seen::Done {
                    Outcome::Refused(format!("question {i} is decided already"))
                } else {
                    (self.n, self.k) = (i - 1, 0);
                    Outcome::Moved
                }
            }
        })
    }

    fn failed(&mut self, errors: Vec<(String, anyhow::Error)>) -> Outcome {
        self.tally.errors += errors.len();
        Outcome::Failed(errors)
    }

    fn accept(&mut self, force: bool) -> Outcome {
        let (n, k) = (self.n, self.k);
        let named = self.named(k);
        let draft = self.current().draft.clone();
        if let Ok(path) = self.review.chapter_path(&draft.meta.chapter)
            && !self.written.iter().any(|(p, _)| *p == path)
        {
            let hash = file_hash(&path);
            self.written.push((path, hash));
        }
        let decided = self.review.decide(&[&draft], &[], &self.pending, force);
        if !decided.errors.is_empty() {
            let mut decided = decided;
            return self.failed(std::mem::take(&mut decided.errors));
        }
        self.tally.accepted += 1;
        self.tally.rejected += decided.rejected.len();
        self.history.push(Step {
            group: n,
            draft: draft.id.clone(),
            siblings: decided.rejected.len(),
        });
        // The question's candidates are merged or rejected now.
        self.pending
            .retain(|p| p.meta.question_id != draft.meta.question_id || p.path.exists());
        self.groups[n].seen = Seen::Done;
        (self.n, self.k) = (n + 1, 0);
        Outcome::Accepted {
            named,
            draft: Box::new(draft),
            decided,
        }
    }

    fn reject(&mut self) -> Outcome {
        let (n, k) = (self.n, self.k);
        let named = self.named(k);
        let draft = self.current().draft.clone();
        let mut decided = self.review.decide(&[], &[&draft], &self.pending, false);
        if !decided.errors.is_empty() {
            return self.failed(std::mem::take(&mut decided.errors));
        }
        self.tally.rejected += 1;
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
        } else {
            self.k = k.min(g.items.len() - 1);
        }
        Outcome::Rejected { named }
    }

    fn many(&mut self, accept: &[String], reject: &[String]) -> Result<Outcome> {
        let find = |id: &String| {
            self.groups
                .iter()
                .flat_map(|g| &g.items)
                .find(|c| c.draft.id == *id)
                .map(|c| c.draft.clone())
        };
        let accepting: Vec<Draft> = accept.iter().filter_map(find).collect();
        let rejecting: Vec<Draft> = reject.iter().filter_map(find).collect();
        for d in &accepting {
            if let Ok(path) = self.review.chapter_path(&d.meta.chapter)
                && !self.written.iter().any(|(p, _)| *p == path)
            {
                let hash = file_hash(&path);
                self.written.push((path, hash));
            }
        }
        let decided = self.review.decide(
            &accepting.iter().collect::<Vec<_>>(),
            &rejecting.iter().collect::<Vec<_>>(),
            &self.pending,
            false,
        );
        // This session's steps in the ledger's order, so that undo takes back the last first.
        let mine: std::collections::HashSet<&str> = decided
            .accepted
            .iter()
            .chain(decided.rejected.iter().filter(|id| reject.contains(id)))
            .map(String::as_str)
            .collect();
        let entries = ledger::read(self.review.drafts)?;
        for i in ledger::standing(&entries) {
            let e = &entries[i];
            if e.sibling || !mine.contains(e.draft.as_str()) || self.history.iter().any(|s| s.draft == e.draft) {
                continue;
            }
            let siblings = entries
                .iter()
                .filter(|s| s.sibling_of.as_deref() == Some(&e.draft))
                .count();
            let group = self
                .groups
                .iter()
                .position(|g| g.items.iter().any(|c| c.draft.id == e.draft))
                .unwrap_or(self.n);
            match e.decision {
                Decision::Accepted => {
                    self.tally.accepted += 1;
                    self.tally.rejected += siblings;
                }
                _ => self.tally.rejected += 1,
            }
            self.history.push(Step {
                group,
                draft: e.draft.clone(),
                siblings,
            });
        }
        self.tally.errors += decided.errors.len();
        self.refresh();
        Ok(Outcome::Many { decided, accepting })
    }

    /// Drops the candidates whose drafts are no longer pending (decided by this session's bulk
    /// decisions, or elsewhere: another review, a script) and says how many went.
    pub fn refresh(&mut self) -> usize {
        let mut gone = 0;
        for g in &mut self.groups {
            let before = g.items.len();
            g.items.retain(|c| c.draft.path.exists());
            gone += before - g.items.len();
            if g.items.is_empty() {
                g.seen = Seen::Done;
            }
        }
        self.pending.retain(|d| d.path.exists());
        if let Some(g) = self.groups.get(self.n) {
            self.k = self.k.min(g.items.len().saturating_sub(1));
        }
        gone
    }

    /// Writes the edited answer through the store (under the chapter's lock: a verdict
    /// recorded meanwhile stays, a draft decided meanwhile is not written back).
    fn edit(&mut self, body: String) -> Result<Outcome> {
        let draft = self.current().draft.clone();
        if body.trim().is_empty() {
            return Ok(Outcome::Unusable("the answer is empty".into()));
        }
        if let Some(c) = merge::control_character(&body) {
            return Ok(Outcome::Unusable(format!("the answer holds a control character ({c})")));
        }
        if body == draft.body {
            return Ok(Outcome::Refused("no change".into()));
        }
        let chapter = self.review.chapter_path(&draft.meta.chapter)?;
        let store = Store::new(self.review.drafts.to_path_buf());
        let mut meta = None;
        let kept = store.update(&chapter, &draft.path, |m, b| {
            b.clone_from(&body);
            meta = Some(m.clone());
        })?;
        let Some(meta) = meta.filter(|_| kept) else {
            return Ok(Outcome::Refused(
                "another review decided this draft meanwhile; the edit is not kept".into(),
            ));
        };
        let edited = Draft { meta, body, ..draft };
        if let Some(c) = self.review.check(vec![edited]).into_iter().next() {
            self.groups[self.n].items[self.k] = c;
        }
        Ok(Outcome::Edited {
            named: self.named(self.k),
        })
    }

    /// Takes in the revision saved at `path` as the question's last candidate.
    fn revised(&mut self, path: &std::path::Path) -> Result<Outcome> {
        let (pending, _) = Store::new(self.review.drafts.to_path_buf()).pending();
        let Some(new) = pending.iter().find(|d| d.path == path).cloned() else {
            bail!("the new draft {} cannot be read back", path.display());
        };
        self.pending = pending;
        let checked = self.review.check(vec![new]).into_iter().next().context("checked")?;
        let from = self.k;
        let g = &mut self.groups[self.n];
        g.items.push(checked);
        self.k = g.items.len() - 1;
        Ok(Outcome::Added { at: self.k, from })
    }

    /// Takes back this session's last decision and goes to its question.
    fn undo(&mut self) -> Result<Outcome> {
        let Some(step) = self.history.last() else {
            return Ok(Outcome::Refused("nothing to undo in this session".into()));
        };
        let entries = ledger::read(self.review.drafts)?;
        let last = ledger::standing(&entries).last().map(|&i| entries[i].draft.clone());
        if last.as_deref() != Some(step.draft.as_str()) {
            return Ok(Outcome::Refused(
                "the ledger's last decision is not this session's (another review ran); use aigcq review --undo".into(),
            ));
        }
        let undid = self.review.undo(1);
        if let Some(e) = undid.error {
            return Ok(self.failed(vec![(step.draft.clone(), e)]));
        }
        let step = self.history.pop().expect("checked above");
        let undone = &undid.undone[0];
        match undone.decision {
            Decision::Accepted => {
                self.tally.accepted -= 1;
                self.tally.rejected -= step.siblings;
            }
            _ => self.tally.rejected -= 1,
        }
        // The question's drafts as they are pending now.
        let (pending, _) = Store::new(self.review.drafts.to_path_buf()).pending();
        let mine: Vec<Draft> = pending
            .iter()
            .filter(|d| d.meta.question_id == undone.question_id)
            .cloned()
            .collect();
        self.pending = pending;
        let g = &mut self.groups[step.group];
        g.items = self.review.check(mine);
        g.seen = if g.items.is_empty() { Seen::Done } else { Seen::Shown };
        (self.n, self.k) = (step.group, 0);
        Ok(Outcome::Undone {
            decision: undone.decision,
            draft: step.draft,
        })
    }

    /// Ends the session: what it decided and what it left.
    pub fn finish(mut self) -> Tally {
        for g in &self.groups {
            match g.seen {
                Seen::Shown | Seen::Skipped => self.tally.skipped += g.items.len(),
                Seen::Not => self.tally.not_seen += g.items.len(),
                Seen::Done => {}
            }
        }
        self.tally.files = (self.written.into_iter())
            .filter(|(path, before)| file_hash(path) != *before)
            .map(|(path, _)| path)
            .collect();
        self.tally
    }

    /// Counts an error the front end met on its own (a hook that failed).
    pub fn count_error(&mut self) {
        self.tally.errors += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chapter::{Chapter, QuestionConfig, Rules};
    use crate::store::Meta;

    /// A chapter with questions 2 and 3 empty, question 2 with two candidates.
    fn project() -> (tempfile::TempDir, Rules) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("content")).unwrap();
        let text =
            "# 章\n\n## 1、已答？\n\n已有的答案，写得足够长，算作真正的回答。\n\n## 2、问题二？\n\n## 3、问题三？\n";
        std::fs::write(dir.path().join("content/ch.md"), text).unwrap();
        let rules = Rules::new(&QuestionConfig::default()).unwrap();
        let chapter = Chapter::parse(text, &rules);
        let store = Store::new(dir.path().join("drafts"));
        for gap in chapter.gaps() {
            for candidate in 1..=(if gap.index == 2 { 2 } else { 1 }) {
                let meta = Meta {
                    chapter: "ch.md".into(),
                    question_id: format!("ch.md#{}", gap.anchor),
                    anchor: gap.anchor.into(),
                    question: gap.text.into(),
                    index: gap.index,
                    kind: gap.kind,
                    level: gap.level,
                    span_hash: crate::identity::span_hash(&chapter, &gap),
                    model: "m".into(),
                    host: "h".into(),
                    template: "default".into(),
                    template_hash: "t".into(),
                    temperature: None,
                    created: "2026-12-05T00:00:00Z".into(),
                    finish_reason: Some("stop".into()),
                    truncated: false,
                    filtered: false,
                    candidate,
                    candidates: 2,
                    warnings: vec![],
                    usage: None,
                    rewrite: false,
                    parent: None,
                    feedback: None,
                    references: vec![],
                    score: None,
                    reasons: None,
                    judge: None,
                    judge_template: None,
                    batch: None,
                };
                let body = format!("第 {} 题的候选 {candidate}，写得足够长的一段回答。\n", gap.index);
                store.save(&meta, &body).unwrap();
            }
        }
        (dir, rules)
    }

    #[test]
    fn operations_move_decide_and_undo_without_a_front_end() {
        let (dir, rules) = project();
        let (content, drafts) = (dir.path().join("content"), dir.path().join("drafts"));
        let review = Review {
            content: &content,
            drafts: &drafts,
            rules: &rules,
            purge: false,
            waiting: &|_| {},
            run: "test".into(),
        };
        let (pending, _) = Store::new(drafts.clone()).pending();
        let checked = review.check(pending.clone());
        let mut s = Session::new(&review, checked, &pending);
        assert_eq!(s.settle(), Some((0, 0)));
        assert_eq!((s.questions(), s.candidates()), (2, 2));
        assert!(matches!(s.apply(Operation::Next).unwrap(), Outcome::Moved));
        assert_eq!(s.position(), (0, 1));
        assert!(matches!(s.apply(Operation::Jump(9)).unwrap(), Outcome::Refused(_)));
        let Outcome::Accepted { decided, .. } = s.apply(Operation::Accept { force: false }).unwrap() else {
            panic!("accepted")
        };
        assert_eq!(decided.rejected.len(), 1, "the other candidate goes with it");
        let merged = std::fs::read_to_string(content.join("ch.md")).unwrap();
        assert!(merged.contains("第 2 题的候选 2"));
        assert_eq!(s.settle(), Some((1, 0)));
        assert!(matches!(s.apply(Operation::Back).unwrap(), Outcome::Refused(_)));
        assert!(matches!(s.apply(Operation::Undo).unwrap(), Outcome::Undone { .. }));
        assert_eq!(s.settle(), Some((0, 0)));
        assert_eq!(s.candidates(), 2, "both candidates pending again");
        assert!(
            !std::fs::read_to_string(content.join("ch.md"))
                .unwrap()
                .contains("候选 2")
        );
        assert!(matches!(
            s.apply(Operation::Skip).unwrap(),
            Outcome::Skipped { last: false, .. }
        ));
        assert_eq!(s.settle(), Some((1, 0)));
        assert!(matches!(
            s.apply(Operation::Skip).unwrap(),
            Outcome::Skipped { last: true, .. }
        ));
        assert_eq!(s.settle(), None);
        let tally = s.finish();
        assert_eq!((tally.accepted, tally.rejected, tally.skipped), (0, 0, 3));
        // The undo put the chapter's bytes back: no file changed (issue 27).
        assert_eq!(tally.files, Vec::<std::path::PathBuf>::new());
    }
}
