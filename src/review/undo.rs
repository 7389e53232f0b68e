//! `review --undo`: the latest decisions of the ledger taken back, newest first. An accept
//! puts back the bytes it replaced, exactly, and its draft (and the candidates it rejected)
//! pending again; a reject brings its draft back from `.rejected/`. Each undo is logged.

use std::ops::Range;
use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};

use super::ledger::{self, Decision, Entry};
use super::merge::{self, Merger};
use super::{REJECTED, REPLACED, Replaced, Replacement, Review, move_file};
use crate::chapter::Chapter;
use crate::store::{self, Store};
use crate::{atomic, identity, scan};

/// A decision taken back.
#[derive(Debug, Clone)]
pub struct Undone {
    /// The draft's id.
    pub draft: String,
    /// Its question's id.
    pub question_id: String,
    /// What was undone.
    pub decision: Decision,
    /// The chapter written back, for an accept.
    pub file: Option<PathBuf>,
}

/// What `undo` did, and why it stopped early if it did.
#[derive(Debug, Default)]
pub struct Undid {
    /// What was taken back, newest first.
    pub undone: Vec<Undone>,
    /// Why it stopped early, if it did.
    pub error: Option<anyhow::Error>,
}

impl Review<'_> {
    /// Undoes the last `n` decisions that stand (accepts and plain rejects, a sibling's
    /// rejection riding with its accept), newest first, stopping at the first that cannot be
    /// undone: then nothing of that one has changed.
    pub fn undo(&self, n: usize) -> Undid {
        self.undo_latest(|_, _| Ok(n))
    }

    /// Undoes every decision of the most recent review run that stands, newest first, as
    /// [`Review::undo`] does. Refused, with nothing changed, when a decision of another run
    /// stands among them.
    pub fn undo_run(&self) -> Undid {
        self.undo_latest(|entries, standing| {
            let last = &entries[standing[standing.len() - 1]];
            let run = last.run.as_deref().with_context(|| {
                format!(
                    "the latest decision ({}:{}) names no review run (made by an older aigcq); use --undo N",
                    ledger::LEDGER,
                    last.line
                )
            })?;
            let of_run = |i: &&usize| entries[**i].run.as_deref() == Some(run);
            let n = standing.iter().rev().take_while(of_run).count();
            // The newest decision of another run, with more of this run's behind it.
            if let Some(&other) = standing.iter().rev().nth(n)
                && standing.iter().rev().skip(n).any(|i| of_run(&i))
            {
                bail!(
                    "the run's decisions stand on both sides of another run's ({}, {}:{}); take that back first with --undo",
                    entries[other].draft,
                    ledger::LEDGER,
                    entries[other].line
                );
            }
            Ok(n)
        })
    }

    /// Undoes the last `count(entries, standing)` standing decisions.
    fn undo_latest(&self, count: impl FnOnce(&[Entry], &[usize]) -> Result<usize>) -> Undid {
        let mut out = Undid::default();
        let entries = match ledger::read(self.drafts) {
            Ok(e) => e,
            Err(e) => {
                out.error = Some(e);
                return out;
            }
        };
        let standing = ledger::standing(&entries);
        if standing.is_empty() {
            out.error = Some(anyhow!("nothing to undo: no decision in the ledger stands"));
            return out;
        }
        let n = match count(&entries, &standing) {
            Ok(n) => n,
            Err(e) => {
                out.error = Some(e);
                return out;
            }
        };
        for &i in standing.iter().rev().take(n) {
            let e = &entries[i];
            let r = match e.decision {
                Decision::Accepted => self.undo_accept(e, &entries[i + 1..]),
                _ => self.undo_reject(e),
            };
            match r {
                Ok(u) => out.undone.push(u),
                Err(err) => {
                    let what = if e.decision == Decision::Accepted {
                        "accept"
                    } else {
                        "reject"
                    };
                    out.error = Some(err.context(format!(
                        "cannot undo the {what} of {} ({}:{})",
                        e.draft,
                        ledger::LEDGER,
                        e.line
                    )));
                    break;
                }
            }
        }
        out
    }

    fn undo_accept(&self, e: &Entry, later: &[Entry]) -> Result<Undone> {
        let store = Store::new(self.drafts.to_path_buf());
        let rel = e
            .undo
            .as_deref()
            .context("no copy of what it replaced was kept (accepted by an older aigcq); undo it by hand")?;
        if !rel.starts_with(&format!("{REPLACED}/")) {
            bail!("its record {rel:?} is not below {REPLACED}/");
        }
        let record_path = store::inside(self.drafts, rel, "record", "the drafts folder")?;
        let draft = store.draft_file("", &e.draft)?;
        let path = self.chapter_path(&e.chapter)?;
        let record: Replaced = serde_json::from_str(
            &std::fs::read_to_string(&record_path).with_context(|| format!("cannot read {}", record_path.display()))?,
        )
        .with_context(|| format!("{} is not a record of replaced text", record_path.display()))?;
        let edit = record
            .edits
            .iter()
            .find(|r| r.draft == e.draft && record.chapter == e.chapter)
            .with_context(|| format!("{} has no copy for this draft", record_path.display()))?;
        // The record must hold the very answer the ledger says was accepted for that question:
        // undo takes back that answer and nothing else.
        let (meta, body) = store::parse(&edit.draft_text)
            .with_context(|| format!("{}: its copy of the draft is not a draft", record_path.display()))?;
        if meta.chapter != e.chapter
            || meta.question_id != e.question_id
            || identity::answer_hash(&merge::normalize(&body, "\n")) != e.answer_hash
        {
            bail!(
                "{} does not hold the answer the ledger says was accepted for {}",
                record_path.display(),
                e.question_id
            );
        }
        let _lock = self.lock(&e.chapter, &path)?;
        let text = scan::read_chapter(&path)?;
        let (copy, _) = self.write_chapter(&e.chapter, &path, text, |text| {
            let parsed = Chapter::parse(&text, self.rules);
            let section = Merger::new(&parsed)
                .section(&meta)
                .with_context(|| format!("{} is no longer in the chapter; nothing was undone", e.question_id))?;
            let at = find_in(&text, section, edit.offset, &edit.after).with_context(|| {
                format!(
                    "the chapter changed at {} since it was accepted; nothing was undone",
                    e.question_id
                )
            })?;
            let removed = Replacement {
                offset: at,
                before: edit.after.clone(),
                after: edit.before.clone(),
                ..edit.clone()
            };
            let copy = self.keep_record(&e.chapter, vec![removed])?;
            let mut restored = String::with_capacity(text.len() + edit.before.len());
            restored.push_str(&text[..at]);
            restored.push_str(&edit.before);
            restored.push_str(&text[at + edit.after.len()..]);
            Ok((copy, Some(restored)))
        })?;
        if !draft.exists() {
            if let Some(dir) = draft.parent() {
                std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            }
            if let Some(p) = &edit.prompt_text {
                let side = store::prompt_path(&draft);
                atomic::write(&side, p.as_bytes()).with_context(|| format!("cannot write {}", side.display()))?;
            }
            atomic::write(&draft, edit.draft_text.as_bytes())
                .with_context(|| format!("cannot write {}", draft.display()))?;
        }
        for s in later
            .iter()
            .filter(|s| s.sibling && s.sibling_of.as_deref() == Some(e.draft.as_str()))
        {
            // A sibling deleted with --purge stays deleted.
            let _ = self.bring_back(&store, &s.draft);
        }
        let mut line = undone(e);
        line.undo = Some(copy);
        ledger::append(self.drafts, &[line])?;
        Ok(Undone {
            draft: e.draft.clone(),
            question_id: e.question_id.clone(),
            decision: Decision::Accepted,
            file: Some(path),
        })
    }

    fn undo_reject(&self, e: &Entry) -> Result<Undone> {
        let store = Store::new(self.drafts.to_path_buf());
        // The chapter may be gone; its name must still stay inside the content folder.
        let path = store::inside(self.content, &e.chapter, "chapter path", "the content folder")?;
        let _lock = self.lock(&e.chapter, &path)?;
        self.bring_back(&store, &e.draft)?;
        ledger::append(self.drafts, &[undone(e)])?;
        Ok(Undone {
            draft: e.draft.clone(),
            question_id: e.question_id.clone(),
            decision: Decision::Rejected,
            file: None,
        })
    }

    /// Moves a rejected draft back to pending.
    fn bring_back(&self, store: &Store, id: &str) -> Result<()> {
        let from = store.draft_file(REJECTED, id)?;
        let to = store.draft_file("", id)?;
        if !from.is_file() {
            bail!("the draft was deleted (--purge); there is nothing to bring back");
        }
        let side = store::prompt_path(&from);
        if side.is_file() {
            move_file(&side, &store::prompt_path(&to))?;
        }
        move_file(&from, &to)
    }
}

/// Where `after` stands in `text` within `section`: at `offset` when it is still there, else
/// its only place in the section.
fn find_in(text: &str, section: Range<usize>, offset: usize, after: &str) -> Option<usize> {
    let fits = |at: usize| at >= section.start && at + after.len() <= section.end;
    if fits(offset) && text.get(offset..offset + after.len()) == Some(after) {
        return Some(offset);
    }
    let within = text.get(section.clone())?;
    let mut found = within.match_indices(after).map(|(i, _)| section.start + i);
    match (found.next(), found.next()) {
        (Some(i), None) => Some(i),
        _ => None,
    }
}

/// The ledger line that takes `e` back.
fn undone(e: &Entry) -> Entry {
    Entry {
        time: store::now(),
        decision: Decision::Undone,
        recovered: false,
        sibling: false,
        sibling_of: None,
        replaced: false,
        ..e.clone()
    }
}
