//! Stage 3, `aigcq review`: check pending drafts against their chapters, merge the accepted
//! ones (each chapter written once, atomically), keep rejected ones aside, and log every
//! decision in `drafts/ledger.jsonl`.
//!
//! Order of work per chapter, so that a crash at any moment leaves every draft either pending
//! or merged and in the ledger: write the chapter, append to the ledger, then remove the
//! drafts. A draft whose answer is already in its chapter (a run stopped after the write) is
//! recognised as merged and cleaned up.

pub mod diff;
pub mod merge;

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use serde::Serialize;

use crate::atomic;
use crate::chapter::{Chapter, Rules};
use crate::identity;
use crate::scan;
use crate::store::{self, Draft};
use merge::{Edit, MergeError, Merger, State};

/// The ledger's file name in the drafts folder.
pub const LEDGER: &str = "ledger.jsonl";
/// Where rejected drafts are kept, in the drafts folder.
pub const REJECTED: &str = ".rejected";

/// What the author decided about a draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Accepted,
    Rejected,
}

/// One line of the ledger.
#[derive(Debug, Serialize)]
pub struct Entry<'a> {
    pub time: String,
    pub chapter: &'a str,
    pub question_id: &'a str,
    pub draft: &'a str,
    pub decision: Decision,
    pub model: &'a str,
    pub template_hash: &'a str,
    /// Hash of the answer as merged (or as rejected).
    pub answer_hash: String,
    /// The answer was found already in the chapter (an earlier run stopped after writing it).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub recovered: bool,
    /// Rejected because another candidate of the same question was accepted.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sibling: bool,
}

/// A draft and how it stands against its chapter now.
#[derive(Debug, Clone)]
pub struct Checked {
    pub draft: Draft,
    /// `Err` when the chapter cannot be read or the draft's path is not allowed.
    pub state: Result<State, String>,
    /// The chapter's path on disk.
    pub file: Option<PathBuf>,
}

/// What a batch of decisions did.
#[derive(Debug, Default)]
pub struct Decided {
    pub accepted: Vec<String>,
    pub rejected: Vec<String>,
    /// Drafts found already merged and cleaned up.
    pub recovered: Vec<String>,
    pub files_changed: Vec<PathBuf>,
    /// (draft id, error): those drafts stay pending.
    pub errors: Vec<(String, anyhow::Error)>,
}

/// A pending draft as `review --list` shows it.
#[derive(Debug, Serialize)]
pub struct Row<'a> {
    pub id: &'a str,
    /// The chapter's path as shown to the user.
    pub file: String,
    pub chapter: &'a str,
    pub question_id: &'a str,
    pub index: usize,
    pub question: &'a str,
    pub kind: crate::chapter::GapKind,
    pub model: &'a str,
    pub created: &'a str,
    pub candidate: u32,
    pub candidates: u32,
    pub truncated: bool,
    pub stale: bool,
    /// Why it is stale, or why its chapter cannot be used.
    pub problem: Option<String>,
    /// The chapter already holds this answer; accepting it only cleans it up.
    pub merged: bool,
}

impl Checked {
    /// Its `--list` row; `cwd` is what the chapter's path is shown relative to.
    pub fn row(&self, cwd: &Path) -> Row<'_> {
        let m = &self.draft.meta;
        let (stale, problem) = match &self.state {
            Ok(State::Stale(s)) => (true, Some(s.reason().to_owned())),
            Err(e) => (false, Some(e.clone())),
            _ => (false, None),
        };
        Row {
            id: &self.draft.id,
            file: self
                .file
                .as_ref()
                .map_or_else(|| m.chapter.clone(), |f| scan::display_path(f, cwd)),
            chapter: &m.chapter,
            question_id: &m.question_id,
            index: m.index,
            question: &m.question,
            kind: m.kind,
            model: &m.model,
            created: &m.created,
            candidate: m.candidate,
            candidates: m.candidates,
            truncated: m.truncated,
            stale,
            problem,
            merged: matches!(self.state, Ok(State::Merged)),
        }
    }
}

/// The review stage over one project.
pub struct Review<'a> {
    pub content: &'a Path,
    pub drafts: &'a Path,
    pub rules: &'a Rules,
    /// Delete rejected drafts instead of keeping them under `.rejected/`.
    pub purge: bool,
}

impl Review<'_> {
    /// The chapter a draft names, refusing any path that would leave the content folder
    /// (`..`, absolute paths, symbolic links pointing outside).
    pub fn chapter_path(&self, chapter: &str) -> Result<PathBuf> {
        let rel = Path::new(chapter);
        if chapter.is_empty() || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
            bail!("chapter path {chapter:?} leaves the content folder");
        }
        let path = self.content.join(rel);
        let real = path
            .canonicalize()
            .with_context(|| format!("chapter {} not found", path.display()))?;
        let root = self
            .content
            .canonicalize()
            .with_context(|| format!("content folder {}", self.content.display()))?;
        if !real.starts_with(&root) {
            bail!(
                "chapter path {chapter:?} leads outside the content folder (to {})",
                real.display()
            );
        }
        Ok(path)
    }

    /// Checks every draft; each chapter is read and parsed once. The result is grouped by
    /// chapter, in path order, and keeps the order of `drafts` within a chapter (the drafts
    /// store lists them by question and candidate).
    pub fn check(&self, drafts: Vec<Draft>) -> Vec<Checked> {
        let mut by_chapter: BTreeMap<String, Vec<Draft>> = BTreeMap::new();
        for d in drafts {
            by_chapter.entry(d.meta.chapter.clone()).or_default().push(d);
        }
        let mut out = Vec::new();
        for (chapter, drafts) in by_chapter {
            let loaded = self
                .chapter_path(&chapter)
                .and_then(|p| Ok((scan::read_chapter(&p)?, p)));
            match loaded {
                Ok((text, path)) => {
                    let parsed = Chapter::parse(&text, self.rules);
                    let merger = Merger::new(&parsed);
                    for d in drafts {
                        let state = merger.state(&d.meta, &d.body);
                        out.push(Checked {
                            draft: d,
                            state: Ok(state),
                            file: Some(path.clone()),
                        });
                    }
                }
                Err(e) => {
                    let msg = format!("{e:#}");
                    out.extend(drafts.into_iter().map(|d| Checked {
                        draft: d,
                        state: Err(msg.clone()),
                        file: None,
                    }));
                }
            }
        }
        out
    }

    /// Accepts `accept` and rejects `reject`. Accepting a draft rejects the other pending
    /// candidates of its question (taken from `pending`). `force` accepts stale drafts.
    pub fn decide(&self, accept: &[&Draft], reject: &[&Draft], pending: &[Draft], force: bool) -> Decided {
        let mut outcome = Decided::default();
        let mut by_chapter: BTreeMap<&str, Vec<&Draft>> = BTreeMap::new();
        for d in accept {
            by_chapter.entry(d.meta.chapter.as_str()).or_default().push(d);
        }
        let mut rejected_ids: HashSet<&str> = HashSet::new();
        for (chapter, drafts) in by_chapter {
            match self.accept_in_chapter(chapter, &drafts, pending, force) {
                Ok(done) => {
                    rejected_ids.extend(done.rejected.iter().map(|d| d.id.as_str()));
                    outcome.accepted.extend(done.accepted.iter().map(|d| d.id.clone()));
                    outcome.recovered.extend(done.recovered);
                    outcome.rejected.extend(done.rejected.iter().map(|d| d.id.clone()));
                    outcome.files_changed.extend(done.file);
                    outcome.errors.extend(done.errors);
                }
                Err(e) => fail_all(&mut outcome.errors, &drafts, &e),
            }
        }
        let plain: Vec<&Draft> = reject
            .iter()
            .copied()
            .filter(|d| !rejected_ids.contains(d.id.as_str()))
            .collect();
        if !plain.is_empty() {
            let entries: Vec<Entry> = plain
                .iter()
                .map(|d| entry(d, Decision::Rejected, false, false))
                .collect();
            match self.log(&entries).and_then(|()| self.set_aside(&plain)) {
                Ok(()) => outcome.rejected.extend(plain.iter().map(|d| d.id.clone())),
                Err(e) => fail_all(&mut outcome.errors, &plain, &e),
            }
        }
        outcome
    }

    fn accept_in_chapter<'d>(
        &self,
        chapter: &str,
        drafts: &[&'d Draft],
        pending: &'d [Draft],
        force: bool,
    ) -> Result<ChapterDone<'d>> {
        let path = self.chapter_path(chapter)?;
        let text = scan::read_chapter(&path)?;
        let parsed = Chapter::parse(&text, self.rules);
        let merger = Merger::new(&parsed);
        let mut done = ChapterDone::default();
        let mut questions: HashSet<&str> = HashSet::new();
        let mut edits: Vec<(Edit, &Draft)> = Vec::new();
        for &d in drafts {
            if !questions.insert(d.meta.question_id.as_str()) {
                done.errors.push((
                    d.id.clone(),
                    anyhow!(
                        "another candidate of {} is accepted in the same run",
                        d.meta.question_id
                    ),
                ));
                continue;
            }
            match merger.edit(&d.meta, &d.body, self.rules, force) {
                Ok(e) => edits.push((e, d)),
                Err(MergeError::AlreadyMerged) => {
                    done.recovered.push(d.id.clone());
                    done.accepted.push(d);
                }
                Err(MergeError::Stale(s)) => done.errors.push((
                    d.id.clone(),
                    anyhow!("stale: {} (--force accepts it anyway)", s.reason()),
                )),
                Err(e) => done.errors.push((d.id.clone(), e.into())),
            }
        }
        // Merge, then check that every merged question reads back as answered with its text;
        // a draft that would not is refused and the rest merged without it.
        let mut merged = merge::apply(&text, edits.iter().map(|(e, _)| e.clone()).collect());
        if !edits.is_empty() {
            let bad = unanswered_after(&merged, edits.iter().map(|(_, d)| *d), self.rules);
            if !bad.is_empty() {
                edits.retain(|(_, d)| {
                    let refuse = bad.contains(d.id.as_str());
                    if refuse {
                        done.errors.push((
                            d.id.clone(),
                            anyhow!("merging it would not leave the question answered with this text"),
                        ));
                    }
                    !refuse
                });
                merged = merge::apply(&text, edits.iter().map(|(e, _)| e.clone()).collect());
            }
        }
        if !edits.is_empty() {
            atomic::write(&path, merged.as_bytes()).with_context(|| format!("cannot write {}", path.display()))?;
            done.file = Some(path);
        }
        done.accepted.extend(edits.iter().map(|(_, d)| *d));
        let accepted_questions: HashSet<&str> = done.accepted.iter().map(|d| d.meta.question_id.as_str()).collect();
        let accepted_ids: HashSet<&str> = done.accepted.iter().map(|d| d.id.as_str()).collect();
        // Candidates decided earlier in an interactive session are already gone from disk.
        done.rejected = pending
            .iter()
            .filter(|p| {
                accepted_questions.contains(p.meta.question_id.as_str()) && !accepted_ids.contains(p.id.as_str())
            })
            .filter(|p| p.path.exists())
            .collect();
        let recovered: HashSet<&str> = done.recovered.iter().map(String::as_str).collect();
        let mut entries: Vec<Entry> = done
            .accepted
            .iter()
            .map(|d| entry(d, Decision::Accepted, recovered.contains(d.id.as_str()), false))
            .collect();
        entries.extend(done.rejected.iter().map(|d| entry(d, Decision::Rejected, false, true)));
        self.log(&entries)?;
        for d in &done.accepted {
            remove(&d.path)?;
        }
        self.set_aside(&done.rejected)?;
        Ok(done)
    }

    /// Appends entries to the ledger in one write, then syncs it.
    fn log(&self, entries: &[Entry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut lines = String::new();
        for e in entries {
            lines.push_str(&serde_json::to_string(e)?);
            lines.push('\n');
        }
        let path = self.drafts.join(LEDGER);
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        f.write_all(lines.as_bytes())?;
        f.sync_all()?;
        Ok(())
    }

    /// Moves rejected drafts to `.rejected/` (same relative path), or deletes them with `purge`.
    fn set_aside(&self, drafts: &[&Draft]) -> Result<()> {
        for d in drafts {
            if self.purge {
                remove(&d.path)?;
                continue;
            }
            let to = self.drafts.join(REJECTED).join(format!("{}.md", d.id));
            if let Some(dir) = to.parent() {
                std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            }
            std::fs::rename(&d.path, &to)
                .with_context(|| format!("cannot move {} to {}", d.path.display(), to.display()))?;
        }
        Ok(())
    }
}

#[derive(Default)]
struct ChapterDone<'d> {
    accepted: Vec<&'d Draft>,
    rejected: Vec<&'d Draft>,
    recovered: Vec<String>,
    file: Option<PathBuf>,
    errors: Vec<(String, anyhow::Error)>,
}

/// Records one error against each of `drafts` (they stay pending).
fn fail_all(errors: &mut Vec<(String, anyhow::Error)>, drafts: &[&Draft], e: &anyhow::Error) {
    let msg = format!("{e:#}");
    errors.extend(drafts.iter().map(|d| (d.id.clone(), anyhow!(msg.clone()))));
}

fn remove(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove {}", path.display()))
        }
        _ => Ok(()),
    }
}

fn entry(d: &Draft, decision: Decision, recovered: bool, sibling: bool) -> Entry<'_> {
    Entry {
        time: store::now(),
        chapter: &d.meta.chapter,
        question_id: &d.meta.question_id,
        draft: &d.id,
        decision,
        model: &d.meta.model,
        template_hash: &d.meta.template_hash,
        answer_hash: identity::answer_hash(&merge::normalize(&d.body, "\n")),
        recovered,
        sibling,
    }
}

/// The diff a reviewer sees for `draft` against the chapter `text` as it is now (a stale draft
/// is shown as it would be merged with `--force`).
pub fn preview(text: &str, draft: &Draft, rules: &Rules) -> Result<String, MergeError> {
    let chapter = Chapter::parse(text, rules);
    let e = Merger::new(&chapter).edit(&draft.meta, &draft.body, rules, true)?;
    Ok(diff::render(text, &e, diff::CONTEXT))
}

/// Ids of the drafts whose question, in the merged text, is not answered with their text.
fn unanswered_after<'d>(merged: &str, drafts: impl Iterator<Item = &'d Draft>, rules: &Rules) -> HashSet<&'d str> {
    let parsed = Chapter::parse(merged, rules);
    let merger = Merger::new(&parsed);
    drafts
        .filter(|d| merger.state(&d.meta, &d.body) != State::Merged)
        .map(|d| d.id.as_str())
        .collect()
}
