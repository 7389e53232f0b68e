//! The ledger, `drafts/ledger.jsonl`: one JSON line per decision, appended under a lock and
//! synced, and read back to undo the latest decisions.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// The ledger's file name in the drafts folder.
pub const LEDGER: &str = "ledger.jsonl";

/// What the author decided about a draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Accepted,
    Rejected,
    /// The draft's latest decision was undone: it is pending again.
    Undone,
}

/// One line of the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub time: String,
    pub chapter: String,
    pub question_id: String,
    pub draft: String,
    pub decision: Decision,
    pub model: String,
    pub template_hash: String,
    /// Hash of the answer as merged (or as rejected).
    pub answer_hash: String,
    /// The answer was found already in the chapter (an earlier run stopped after writing it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recovered: bool,
    /// Rejected because another candidate of the same question was accepted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sibling: bool,
    /// That accepted candidate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sibling_of: Option<String>,
    /// Below the drafts folder: the copy of what an accept replaced, which undo restores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undo: Option<String>,
    /// The accept replaced text a person wrote (a stub, an outline, a forced stale answer).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replaced: bool,
}

/// Appends entries in one write under the ledger's lock, then syncs.
pub fn append(drafts: &Path, entries: &[Entry]) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let mut lines = String::new();
    for e in entries {
        lines.push_str(&serde_json::to_string(e)?);
        lines.push('\n');
    }
    let path = drafts.join(LEDGER);
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    f.lock().with_context(|| format!("cannot lock {}", path.display()))?;
    f.write_all(lines.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

/// Every entry, oldest first. A line that is not an entry (a torn last line after a crash)
/// is an error naming its line.
pub fn read(drafts: &Path) -> Result<Vec<Entry>> {
    let path = drafts.join(LEDGER);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).with_context(|| format!("{}:{}: not a ledger entry", path.display(), i + 1))
        })
        .collect()
}

/// The decisions that stand, oldest first, as indices into `entries`: accepts and plain
/// rejects not undone since. A sibling's rejection stands and falls with its accept.
pub fn standing(entries: &[Entry]) -> Vec<usize> {
    let mut stack: Vec<usize> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        match e.decision {
            Decision::Undone => {
                if let Some(at) = stack.iter().rposition(|&j| entries[j].draft == e.draft) {
                    stack.remove(at);
                }
            }
            _ if e.sibling => {}
            _ => stack.push(i),
        }
    }
    stack
}

/// Drafts whose accept stands: a recovered draft among them is logged already.
pub fn accepted(entries: &[Entry]) -> HashSet<&str> {
    standing(entries)
        .into_iter()
        .filter(|&i| entries[i].decision == Decision::Accepted)
        .map(|i| entries[i].draft.as_str())
        .collect()
}
