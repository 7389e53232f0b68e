//! `review --undo`: the latest decisions of the ledger taken back, newest first. An accept
//! puts back the bytes it replaced, exactly, and its draft (and the candidates it rejected)
//! pending again; a reject brings its draft back from `.rejected/`. Each undo is logged.

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};

use super::ledger::{self, Decision, Entry};
use super::{REJECTED, Replaced, Review, move_file};
use crate::{atomic, scan, store};

/// A decision taken back.
#[derive(Debug, Clone)]
pub struct Undone {
    pub draft: String,
    pub question_id: String,
    /// What was undone.
    pub decision: Decision,
    /// The chapter written back, for an accept.
    pub file: Option<PathBuf>,
}

/// What `undo` did, and why it stopped early if it did.
#[derive(Debug, Default)]
pub struct Undid {
    pub undone: Vec<Undone>,
    pub error: Option<anyhow::Error>,
}

impl Review<'_> {
    /// Undoes the last `n` decisions that stand (accepts and plain rejects, a sibling's
    /// rejection riding with its accept), newest first, stopping at the first that cannot be
    /// undone: then nothing of that one has changed.
    pub fn undo(&self, n: usize) -> Undid {
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
                    out.error = Some(err.context(format!("cannot undo the {what} of {}", e.draft)));
                    break;
                }
            }
        }
        out
    }

    fn undo_accept(&self, e: &Entry, later: &[Entry]) -> Result<Undone> {
        let rel = e
            .undo
            .as_deref()
            .context("no copy of what it replaced was kept (accepted by an older aigcq); undo it by hand")?;
        let record_path = self.drafts.join(rel);
        let record: Replaced = serde_json::from_str(
            &std::fs::read_to_string(&record_path).with_context(|| format!("cannot read {}", record_path.display()))?,
        )
        .with_context(|| format!("{} is not a record of replaced text", record_path.display()))?;
        let edit = record
            .edits
            .iter()
            .find(|r| r.draft == e.draft)
            .with_context(|| format!("{} has no copy for this draft", record_path.display()))?;
        let path = self.chapter_path(&e.chapter)?;
        let _lock = self.lock(&e.chapter, &path)?;
        let text = scan::read_chapter(&path)?;
        let at = if text.get(edit.offset..edit.offset + edit.after.len()) == Some(edit.after.as_str()) {
            edit.offset
        } else {
            let mut found = text.match_indices(edit.after.as_str()).map(|(i, _)| i);
            match (found.next(), found.next()) {
                (Some(i), None) => i,
                _ => bail!(
                    "the chapter changed at {} since it was accepted; nothing was undone",
                    e.question_id
                ),
            }
        };
        let mut restored = String::with_capacity(text.len() + edit.before.len());
        restored.push_str(&text[..at]);
        restored.push_str(&edit.before);
        restored.push_str(&text[at + edit.after.len()..]);
        atomic::write(&path, restored.as_bytes()).with_context(|| format!("cannot write {}", path.display()))?;
        let draft = self.draft_path(&e.draft);
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
            let _ = self.bring_back(&s.draft);
        }
        ledger::append(self.drafts, &[undone(e)])?;
        Ok(Undone {
            draft: e.draft.clone(),
            question_id: e.question_id.clone(),
            decision: Decision::Accepted,
            file: Some(path),
        })
    }

    fn undo_reject(&self, e: &Entry) -> Result<Undone> {
        let path = self.content.join(&e.chapter);
        let _lock = self.lock(&e.chapter, &path)?;
        self.bring_back(&e.draft)?;
        ledger::append(self.drafts, &[undone(e)])?;
        Ok(Undone {
            draft: e.draft.clone(),
            question_id: e.question_id.clone(),
            decision: Decision::Rejected,
            file: None,
        })
    }

    fn draft_path(&self, id: &str) -> PathBuf {
        self.drafts.join(format!("{id}.md"))
    }

    /// Moves a rejected draft back to pending.
    fn bring_back(&self, id: &str) -> Result<()> {
        let from = self.drafts.join(REJECTED).join(format!("{id}.md"));
        if !from.exists() {
            bail!("the draft was deleted (--purge); there is nothing to bring back");
        }
        let to = self.draft_path(id);
        let side = store::prompt_path(&from);
        if side.exists() {
            move_file(&side, &store::prompt_path(&to))?;
        }
        move_file(&from, &to)
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
