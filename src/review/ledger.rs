//! The ledger, `drafts/ledger.jsonl`: one JSON line per decision, appended under a lock and
//! synced, and read back to undo the latest decisions.

use std::collections::HashSet;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// The ledger's file name in the drafts folder.
pub const LEDGER: &str = "ledger.jsonl";

/// What the author decided about a draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Merged into its chapter.
    Accepted,
    /// Set aside (or deleted with `--purge`).
    Rejected,
    /// The draft's latest decision was undone: it is pending again.
    Undone,
}

/// One line of the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// When (RFC 3339, UTC).
    pub time: String,
    /// The chapter's path below the content folder.
    pub chapter: String,
    /// The question's id.
    pub question_id: String,
    /// The draft's id.
    pub draft: String,
    /// What was decided.
    pub decision: Decision,
    /// The model that wrote the draft.
    pub model: String,
    /// The template it was made from, by hash.
    pub template_hash: String,
    /// Hash of the answer as merged (or as rejected).
    pub answer_hash: String,
    /// Its line in the ledger, 1-based, for errors about it (0 for a new entry).
    #[serde(skip)]
    pub line: usize,
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
    /// The review run that decided it (`review --undo --run`); none from an older aigcq.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// The judge's score of the draft when it was decided (`judge --calibrate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<u8>,
}

/// A new run's id: the time and the process, unique among the runs of one ledger.
pub fn run_id() -> String {
    format!("{}-{}", crate::store::now(), std::process::id())
}

/// Appends entries in one write under the ledger's lock, then syncs
/// ([`crate::atomic::append_lines`]). A torn last line is cut off first: its drafts are still
/// pending (they go only after the ledger is written), so the next review finds their
/// answers merged and logs them again.
pub fn append(drafts: &Path, entries: &[Entry]) -> Result<()> {
    let mut lines = String::new();
    for e in entries {
        lines.push_str(&serde_json::to_string(e)?);
        lines.push('\n');
    }
    let path = drafts.join(LEDGER);
    crate::atomic::append_lines(&path, &lines).with_context(|| format!("cannot append to {}", path.display()))
}

/// Every entry, oldest first. A last line without its newline was torn by a crash and is
/// left out; any other line that is not an entry is an error naming its line.
pub fn read(drafts: &Path) -> Result<Vec<Entry>> {
    let path = drafts.join(LEDGER);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    crate::atomic::complete_lines(&text)
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let mut e: Entry =
                serde_json::from_str(l).with_context(|| format!("{}:{}: not a ledger entry", path.display(), i + 1))?;
            e.line = i + 1;
            Ok(e)
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

/// The decisions that stand, each with the accept it lost to: accepts and plain rejects
/// (`None`), and the candidates a standing accept rejected with it (`Some(that accept)`).
fn outcomes(entries: &[Entry]) -> Vec<(&Entry, Option<&Entry>)> {
    let standing = standing(entries);
    let accepts: std::collections::HashMap<&str, &Entry> = standing
        .iter()
        .map(|&i| &entries[i])
        .filter(|e| e.decision == Decision::Accepted)
        .map(|e| (e.draft.as_str(), e))
        .collect();
    let mut out: Vec<(&Entry, Option<&Entry>)> = standing.iter().map(|&i| (&entries[i], None)).collect();
    out.extend(
        entries
            .iter()
            .filter(|e| e.sibling)
            .filter_map(|e| Some((e, Some(*accepts.get(e.sibling_of.as_deref()?)?)))),
    );
    out
}

/// The author's decisions that stand, as (accepted, the draft's score then): accepts, plain
/// rejects, and the candidates an accept rejected with it (they lost to it).
pub fn decisions(entries: &[Entry]) -> Vec<(bool, Option<u8>)> {
    outcomes(entries)
        .into_iter()
        .map(|(e, _)| (e.decision == Decision::Accepted, e.score))
        .collect()
}

/// How the drafts of one model (or one template) fared with the author (`aigcq stats`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Record {
    /// The model, or the template's hash.
    pub name: String,
    /// Its drafts accepted.
    pub accepted: usize,
    /// Its drafts rejected, candidates that lost to an accepted one included.
    pub rejected: usize,
    /// Candidates of another model (or template) that its accepted drafts won over.
    pub wins: usize,
    /// Its candidates that lost to another model's (or template's) accepted one.
    pub losses: usize,
}

/// Win rates from the decisions that stand, per model and per template (by hash), most
/// accepted first: what was accepted, what was rejected, and the head-to-head results where a
/// question had candidates of several (an accept wins over the candidates it rejected).
pub fn records(entries: &[Entry]) -> (Vec<Record>, Vec<Record>) {
    let outcomes = outcomes(entries);
    let by = |key: fn(&Entry) -> &str| {
        let mut out: std::collections::BTreeMap<&str, Record> = Default::default();
        for (e, lost_to) in &outcomes {
            let r = out.entry(key(e)).or_insert_with(|| Record {
                name: key(e).to_owned(),
                ..Record::default()
            });
            if e.decision == Decision::Accepted {
                r.accepted += 1;
            } else {
                r.rejected += 1;
            }
            if let Some(won) = lost_to.filter(|won| key(won) != key(e)) {
                r.losses += 1;
                out.get_mut(key(won)).expect("the accept is counted").wins += 1;
            }
        }
        let mut v: Vec<Record> = out.into_values().collect();
        v.sort_by(|a, b| b.accepted.cmp(&a.accepted).then_with(|| a.name.cmp(&b.name)));
        v
    };
    (by(|e| e.model.as_str()), by(|e| e.template_hash.as_str()))
}

/// Drafts whose accept stands: a recovered draft among them is logged already.
pub fn accepted(entries: &[Entry]) -> HashSet<&str> {
    standing(entries)
        .into_iter()
        .filter(|&i| entries[i].decision == Decision::Accepted)
        .map(|i| entries[i].draft.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(draft: &str) -> Entry {
        Entry {
            time: "2026-12-03T00:00:00Z".into(),
            chapter: "ch.md".into(),
            question_id: "ch.md#q".into(),
            draft: draft.into(),
            decision: Decision::Accepted,
            model: "m".into(),
            template_hash: "t".into(),
            answer_hash: "a".into(),
            line: 0,
            recovered: false,
            sibling: false,
            sibling_of: None,
            undo: None,
            replaced: false,
            run: None,
            score: None,
        }
    }

    #[test]
    fn a_line_torn_by_a_kill_is_dropped_and_the_next_append_starts_clean() {
        // A write of a few pages can stop part-way when the process is killed.
        let dir = tempfile::tempdir().unwrap();
        append(dir.path(), &[entry("ch/1-a")]).unwrap();
        let whole = std::fs::read_to_string(dir.path().join(LEDGER)).unwrap();
        let torn = serde_json::to_string(&entry("ch/2-b")).unwrap();
        std::fs::write(dir.path().join(LEDGER), format!("{whole}{}", &torn[..20])).unwrap();
        let drafts = |d: &Path| read(d).unwrap().into_iter().map(|e| e.draft).collect::<Vec<_>>();
        assert_eq!(drafts(dir.path()), ["ch/1-a"]);
        append(dir.path(), &[entry("ch/3-c")]).unwrap();
        assert_eq!(drafts(dir.path()), ["ch/1-a", "ch/3-c"]);
        // A bad line that is not the torn last one is still an error that names it.
        std::fs::write(dir.path().join(LEDGER), format!("{}\n{whole}", &torn[..20])).unwrap();
        let e = read(dir.path()).unwrap_err().to_string();
        assert!(e.ends_with("ledger.jsonl:1: not a ledger entry"), "{e}");
    }

    #[test]
    fn records_count_decisions_and_head_to_head_wins() {
        let e = |draft: &str, model: &str, decision: Decision| Entry {
            model: model.into(),
            decision,
            ..entry(draft)
        };
        let lost = |draft: &str, model: &str, to: &str| Entry {
            sibling: true,
            sibling_of: Some(to.into()),
            ..e(draft, model, Decision::Rejected)
        };
        let entries = [
            e("q1-a", "a", Decision::Accepted),
            lost("q1-b", "b", "q1-a"),
            lost("q1-a2", "a", "q1-a"),
            e("q2-b", "b", Decision::Accepted),
            lost("q2-a", "a", "q2-b"),
            e("q3-b", "b", Decision::Rejected),
            // Taken back: it counts no more, nor does the candidate it beat.
            e("q4-a", "a", Decision::Accepted),
            lost("q4-b", "b", "q4-a"),
            e("q4-a", "a", Decision::Undone),
        ];
        let (models, templates) = records(&entries);
        let rec = |name: &str, accepted, rejected, wins, losses| Record {
            name: name.into(),
            accepted,
            rejected,
            wins,
            losses,
        };
        assert_eq!(models, [rec("a", 1, 2, 1, 1), rec("b", 1, 2, 1, 1)]);
        assert_eq!(templates, [rec("t", 2, 4, 0, 0)]);
    }
}
