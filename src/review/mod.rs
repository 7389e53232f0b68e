//! Stage 3, `aigcq review`: check pending drafts against their chapters, merge the accepted
//! ones (each chapter written once, atomically), keep rejected ones aside, log every decision
//! in the [`ledger`], and [`undo`] the latest decisions.
//!
//! One writer per chapter: every change to a chapter and to its drafts happens under that
//! chapter's lock (`drafts/.locks/`), from reading the chapter to renaming the new one; a
//! second process waits. Order of work per chapter, so that a crash at any moment leaves
//! every draft either pending or merged and in the ledger: keep a copy of what the merge
//! replaces (`drafts/.replaced/`), write the chapter, append to the ledger, then remove the
//! drafts. A draft whose answer is already in its chapter (a run stopped after the write) is
//! recognised as merged and cleaned up, and logged only if the ledger does not have it yet.

pub mod diff;
pub mod ledger;
pub mod merge;
pub mod session;
pub mod undo;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};

use crate::atomic;
use crate::chapter::{Chapter, Rules};
use crate::identity::{self, QuestionRef};
use crate::scan;
use crate::store::{self, Draft};
use ledger::{Decision, Entry};
use merge::{Edit, MergeError, Merger, State};

/// Where rejected drafts are kept, in the drafts folder.
pub const REJECTED: &str = ".rejected";
/// Where the text an accept replaced is kept, in the drafts folder.
pub const REPLACED: &str = ".replaced";

/// How many times a merge is made again when another program saved the chapter while it was
/// made, before giving up.
const ATTEMPTS: usize = 5;

/// What one chapter write replaced, kept so that undo can put it back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Replaced {
    /// The chapter's path below the content folder.
    pub chapter: String,
    /// One per accepted draft.
    pub edits: Vec<Replacement>,
}

/// One accepted draft's edit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Replacement {
    /// The draft's id.
    pub draft: String,
    /// Where `after` starts in the chapter as written.
    pub offset: usize,
    /// The chapter's bytes before, and after, at that place.
    pub before: String,
    /// The merged answer's bytes.
    pub after: String,
    /// The draft file, to put back pending, and the prompt kept beside it.
    pub draft_text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The prompt kept beside it, if any.
    pub prompt_text: Option<String>,
}

/// A draft and how it stands against its chapter now.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The draft.
    pub draft: Draft,
    /// `Err` when the chapter cannot be read or the draft's path is not allowed.
    pub state: Result<State, String>,
    /// The chapter's path on disk.
    pub file: Option<PathBuf>,
}

/// What a batch of decisions did.
#[derive(Debug, Default)]
pub struct Decided {
    /// Drafts merged, by id.
    pub accepted: Vec<String>,
    /// Drafts set aside, by id.
    pub rejected: Vec<String>,
    /// Drafts found already merged and cleaned up.
    pub recovered: Vec<String>,
    /// Chapters written.
    pub files_changed: Vec<PathBuf>,
    /// (draft id, error): those drafts stay pending.
    pub errors: Failures,
}

/// A pending draft as `review --list` shows it.
#[derive(Debug, Serialize)]
pub struct Row<'a> {
    /// The draft's id.
    pub id: &'a str,
    /// The chapter's path as shown to the user.
    pub file: String,
    /// The chapter's path below the content folder.
    pub chapter: &'a str,
    /// The question's id.
    pub question_id: &'a str,
    /// The question's number in its chapter.
    pub index: usize,
    /// The question's text.
    pub question: &'a str,
    /// Why it counted as missing.
    pub kind: crate::chapter::GapKind,
    /// The model that wrote it.
    pub model: &'a str,
    /// When (RFC 3339).
    pub created: &'a str,
    /// 1-based among the question's pending candidates, in the order review shows them
    /// (not the numbering of the run that drafted it: see [`rows`]).
    pub candidate: u32,
    /// How many candidates of the question are pending.
    pub candidates: u32,
    /// Cut at the token limit.
    pub truncated: bool,
    /// Stopped by the provider's content filter.
    pub filtered: bool,
    /// A new version of an answered question.
    pub rewrite: bool,
    /// The question changed since it was drafted.
    pub stale: bool,
    /// Why it is stale, or why its chapter cannot be used.
    pub problem: Option<String>,
    /// The chapter already holds this answer; accepting it only cleans it up.
    pub merged: bool,
    /// Repairs and quality-gate findings.
    pub warnings: &'a [crate::store::Warning],
    /// The judge's score (1–10) and reasons, once `aigcq judge` ran.
    pub score: Option<u8>,
    /// The judge's reasons.
    pub reasons: Option<&'a str>,
}

/// The `--list` rows of `checked` (as [`Review::check`] orders it), each question's candidates
/// numbered 1 to K in that order, as the interactive review numbers them: drafts of several
/// runs and revisions each carry their own run's numbering. `cwd` is what the chapters' paths
/// are shown relative to.
pub fn rows<'c>(checked: &'c [Checked], cwd: &Path) -> Vec<Row<'c>> {
    let mut of: HashMap<&str, u32> = HashMap::new();
    for c in checked {
        *of.entry(c.draft.meta.question_id.as_str()).or_default() += 1;
    }
    let mut seen: HashMap<&str, u32> = HashMap::new();
    checked
        .iter()
        .map(|c| {
            let q = c.draft.meta.question_id.as_str();
            let k = seen.entry(q).or_default();
            *k += 1;
            Row {
                candidate: *k,
                candidates: of[q],
                ..c.row(cwd)
            }
        })
        .collect()
}

impl Checked {
    /// Why it should not be merged without a person's look: stale, cut at `max_tokens`,
    /// stopped by the content filter. (The gate's warnings are the draft's own, in its front
    /// matter; a chapter that cannot be used is an error of the merge.)
    pub fn cautions(&self) -> Vec<String> {
        let m = &self.draft.meta;
        let mut out = Vec::new();
        if let Ok(State::Stale(s)) = &self.state {
            out.push(format!("stale: {}", s.reason()));
        }
        if m.truncated {
            out.push("cut at max_tokens".to_owned());
        }
        if m.filtered {
            out.push("stopped by the provider's content filter".to_owned());
        }
        out
    }

    /// Its row, numbered by the run that drafted it ([`rows`] numbers a queue).
    fn row(&self, cwd: &Path) -> Row<'_> {
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
            filtered: m.filtered,
            rewrite: m.rewrite,
            stale,
            problem,
            merged: matches!(self.state, Ok(State::Merged)),
            warnings: &m.warnings,
            score: m.score,
            reasons: m.reasons.as_deref(),
        }
    }
}

/// The review stage over one project.
pub struct Review<'a> {
    /// The content folder.
    pub content: &'a Path,
    /// The drafts folder.
    pub drafts: &'a Path,
    /// The chapter model's rules.
    pub rules: &'a Rules,
    /// Delete rejected drafts instead of keeping them under `.rejected/`.
    pub purge: bool,
    /// Told, with the chapter's name, when another process has held its lock for a second.
    pub waiting: &'a dyn Fn(&str),
    /// This run's id ([`ledger::run_id`]), in each of its ledger lines.
    pub run: String,
}

impl Review<'_> {
    /// The chapter a draft names ([`store::chapter_path`]).
    pub fn chapter_path(&self, chapter: &str) -> Result<PathBuf> {
        store::chapter_path(self.content, chapter)
    }

    /// Takes the lock of the chapter at `path`, by the file it really is, so that a chapter
    /// reached through a symbolic link and by its own name share one lock.
    fn lock(&self, chapter: &str, path: &Path) -> Result<atomic::Lock> {
        store::lock_chapter(self.drafts, path, || (self.waiting)(chapter))
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
    /// candidates of its question (taken from `pending`). `force` accepts stale drafts; what
    /// they replace is kept for undo like everything an accept replaces.
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
                    outcome.recovered.extend(done.recovered.iter().map(|d| d.id.clone()));
                    outcome.rejected.extend(done.rejected.iter().map(|d| d.id.clone()));
                    outcome.files_changed.extend(done.file);
                    outcome.errors.extend(done.errors);
                }
                Err(e) => fail_all(&mut outcome.errors, &drafts, &e),
            }
        }
        let mut plain: BTreeMap<&str, Vec<&Draft>> = BTreeMap::new();
        for d in reject.iter().filter(|d| !rejected_ids.contains(d.id.as_str())) {
            plain.entry(d.meta.chapter.as_str()).or_default().push(d);
        }
        for (chapter, drafts) in plain {
            match self.reject_in_chapter(chapter, &drafts) {
                Ok((done, errors)) => {
                    outcome.rejected.extend(done.iter().map(|d| d.id.clone()));
                    outcome.errors.extend(errors);
                }
                Err(e) => fail_all(&mut outcome.errors, &drafts, &e),
            }
        }
        outcome
    }

    /// Drafts still pending on disk; another review may have decided the others while this
    /// one waited for the lock.
    fn still_pending<'d>(drafts: &[&'d Draft], errors: &mut Failures) -> Vec<&'d Draft> {
        let mut left = Vec::with_capacity(drafts.len());
        for &d in drafts {
            if d.path.exists() {
                left.push(d);
            } else {
                errors.push((
                    d.id.clone(),
                    anyhow!("no longer pending: another review decided it (see the ledger)"),
                ));
            }
        }
        left
    }

    fn reject_in_chapter<'d>(&self, chapter: &str, drafts: &[&'d Draft]) -> Result<(Vec<&'d Draft>, Failures)> {
        // The chapter may be gone; its name must still stay inside the content folder.
        let path = store::inside(self.content, chapter, "chapter path", "the content folder")?;
        let _lock = self.lock(chapter, &path)?;
        let mut errors = Vec::new();
        let drafts = Self::still_pending(drafts, &mut errors);
        let entries: Vec<Entry> = drafts.iter().map(|d| entry(d, Decision::Rejected, &self.run)).collect();
        ledger::append(self.drafts, &entries)?;
        self.set_aside(&drafts)?;
        Ok((drafts, errors))
    }

    fn accept_in_chapter<'d>(
        &self,
        chapter: &str,
        drafts: &[&'d Draft],
        pending: &'d [Draft],
        force: bool,
    ) -> Result<ChapterDone<'d>> {
        let path = self.chapter_path(chapter)?;
        let _lock = self.lock(chapter, &path)?;
        let mut done = ChapterDone::default();
        let drafts = Self::still_pending(drafts, &mut done.errors);
        let text = scan::read_chapter(&path)?;
        // Drafts this run wrote in an attempt an editor's save raced: found merged in that save
        // afterwards, they are this run's accepts, not recoveries from an earlier run.
        let written = std::cell::RefCell::new(HashSet::new());
        let ((mut plan, undo), wrote) = self.write_chapter(chapter, &path, text, |text| {
            let mut plan = self.plan(text, &drafts, force);
            if plan.edits.is_empty() {
                return Ok(((plan, None), None));
            }
            written
                .borrow_mut()
                .extend(plan.edits.iter().map(|(_, d)| d.id.clone()));
            let undo = self.keep_replaced(chapter, &plan)?;
            let merged = std::mem::take(&mut plan.merged);
            Ok(((plan, Some(undo)), Some(merged)))
        })?;
        done.errors.extend(std::mem::take(&mut plan.errors));
        if wrote {
            done.file = Some(path);
        }
        let written = written.into_inner();
        let mut entries = Vec::new();
        if !plan.recovered.is_empty() {
            let logged = ledger::read(self.drafts)?;
            let logged = ledger::accepted(&logged);
            for &d in &plan.recovered {
                if !logged.contains(d.id.as_str()) {
                    let mut e = entry(d, Decision::Accepted, &self.run);
                    e.recovered = !written.contains(&d.id);
                    e.undo = self.find_replaced(chapter, &d.id);
                    entries.push(e);
                }
            }
        }
        // In the order of the edits in the file, so that undoing the last decision first
        // never moves the text an earlier one has to find.
        let mut by_place: Vec<(usize, &Draft, bool)> = plan
            .edits
            .iter()
            .zip(&plan.offsets)
            .map(|((e, d), &at)| (at, *d, replaces_text(&plan.text[e.range.clone()], &e.text)))
            .collect();
        by_place.sort_by_key(|(at, _, _)| *at);
        for (_, d, replaced) in &by_place {
            let mut e = entry(d, Decision::Accepted, &self.run);
            e.undo = undo.clone();
            e.replaced = *replaced;
            entries.push(e);
        }
        done.accepted = plan
            .recovered
            .iter()
            .copied()
            .chain(by_place.iter().map(|(_, d, _)| *d))
            .collect();
        done.recovered = plan
            .recovered
            .into_iter()
            .filter(|d| !written.contains(&d.id))
            .collect();
        let accepted_ids: HashMap<&str, &str> = done
            .accepted
            .iter()
            .map(|d| (d.meta.question_id.as_str(), d.id.as_str()))
            .collect();
        let accepted: HashSet<&str> = done.accepted.iter().map(|d| d.id.as_str()).collect();
        // Candidates decided earlier in an interactive session are already gone from disk.
        done.rejected = pending
            .iter()
            .filter(|p| accepted_ids.contains_key(p.meta.question_id.as_str()) && !accepted.contains(p.id.as_str()))
            .filter(|p| p.path.exists())
            .collect();
        for d in &done.rejected {
            let mut e = entry(d, Decision::Rejected, &self.run);
            e.sibling = true;
            e.sibling_of = accepted_ids.get(d.meta.question_id.as_str()).map(|s| (*s).to_owned());
            entries.push(e);
        }
        ledger::append(self.drafts, &entries)?;
        for d in &done.accepted {
            remove(&d.path)?;
            remove(&store::prompt_path(&d.path))?;
        }
        self.set_aside(&done.rejected)?;
        Ok(done)
    }

    /// Writes what `change` makes of the chapter at `path`, read as `text`: `change` returns
    /// its result and the new text (`None`: nothing to write), doing its slow work (the
    /// record of what it replaces) first; the chapter is then swapped in
    /// ([`atomic::replace`]). When another program (an editor) saved the chapter since it was
    /// read, what it saved is kept under `.replaced/` and `change` runs again on the save, so
    /// no save is lost. (The records made on the older text are kept: they are copies too.)
    /// Also returns whether the chapter was written (the save may already hold the change).
    fn write_chapter<T>(
        &self,
        chapter: &str,
        path: &Path,
        mut text: String,
        change: impl Fn(String) -> Result<(T, Option<String>)>,
    ) -> Result<(T, bool)> {
        let mut on_disk = text.clone().into_bytes();
        for attempt in 0..ATTEMPTS {
            let (done, new) = change(text.clone())?;
            let Some(new) = new else {
                if attempt > 0 {
                    // The save already holds this run's change (the editor read the first
                    // write): the save itself is what the chapter should be.
                    self.put_back(chapter, path, &on_disk, text.as_bytes())?;
                }
                return Ok((done, attempt > 0));
            };
            let Some(raced) = atomic::replace(path, &on_disk, new.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?
            else {
                return Ok((done, true));
            };
            self.keep_saved(chapter, &raced.saved)?;
            let saved = raced.saved.clone();
            raced
                .kept()
                .with_context(|| format!("cannot remove the copy set aside beside {}", path.display()))?;
            on_disk = new.into_bytes();
            match String::from_utf8(saved.clone()) {
                Ok(saved) if !saved.contains('\0') => text = saved,
                _ => {
                    self.put_back(chapter, path, &on_disk, &saved)?;
                    bail!(
                        "{} was saved by another program as a file that is not UTF-8 text; it is back as saved",
                        path.display()
                    );
                }
            }
        }
        self.put_back(chapter, path, &on_disk, text.as_bytes())?;
        bail!(
            "{} keeps changing while aigcq writes it; it is back as last saved; try again",
            path.display()
        )
    }

    /// Writes `saved` (another program's save, already kept) back over `merged`.
    fn put_back(&self, chapter: &str, path: &Path, merged: &[u8], saved: &[u8]) -> Result<()> {
        if let Some(again) = atomic::replace(path, merged, saved)? {
            self.keep_saved(chapter, &again.saved)?;
            again.kept()?;
        }
        Ok(())
    }

    /// Keeps a copy of what another program saved into a chapter while a merge was made
    /// (`.replaced/<chapter>/<time>-saved-<hash>.md`), before anything else touches it.
    fn keep_saved(&self, chapter: &str, saved: &[u8]) -> Result<PathBuf> {
        let rel = Path::new(chapter).with_extension("");
        let stamp = store::now().replace(':', "");
        let name = format!("{stamp}-saved-{}.md", identity::short_hash(&[saved], 8));
        let path = self.drafts.join(REPLACED).join(rel).join(name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        atomic::write(&path, saved).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(path)
    }

    /// The edits for `drafts` on `text`, each checked: a draft whose merge would leave its
    /// question unanswered or change anything else of the chapter is refused with the reason,
    /// and the rest merged without it.
    fn plan<'d>(&self, text: String, drafts: &[&'d Draft], force: bool) -> Plan<'d> {
        let before = Chapter::parse(&text, self.rules);
        let merger = Merger::new(&before);
        let (mut edits, mut recovered, mut errors) = (Vec::new(), Vec::new(), Vec::new());
        let mut questions: HashSet<&str> = HashSet::new();
        for &d in drafts {
            if !questions.insert(d.meta.question_id.as_str()) {
                errors.push((
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
                Err(MergeError::AlreadyMerged) => recovered.push(d),
                Err(MergeError::Stale(s)) => errors.push((
                    d.id.clone(),
                    anyhow!("stale: {} (--force accepts it anyway)", s.reason()),
                )),
                Err(e) => errors.push((d.id.clone(), e.into())),
            }
        }
        while let Err(why) = self.verify(&before, &text, &edits) {
            let bad = self.culprits(&before, &text, &edits);
            if bad.is_empty() {
                // Only together do they break the chapter: refuse them all.
                for (_, d) in edits.drain(..) {
                    errors.push((d.id.clone(), anyhow!("refused: together with the other drafts, {why}")));
                }
                break;
            }
            let mut refused = Vec::with_capacity(bad.len());
            for (i, why) in bad.into_iter().rev() {
                let (_, d) = edits.remove(i);
                refused.push((d.id.clone(), anyhow!("refused: {why}")));
            }
            errors.extend(refused.into_iter().rev());
        }
        let just: Vec<Edit> = edits.iter().map(|(e, _)| e.clone()).collect();
        let (merged, offsets) = merge::apply_at(&text, &just);
        Plan {
            text,
            edits,
            offsets,
            merged,
            recovered,
            errors,
        }
    }

    /// Whether merging `edits` into `text` leaves each draft's question answered with its
    /// text and changes nothing else.
    fn verify(&self, before: &Chapter, text: &str, edits: &[(Edit, &Draft)]) -> Result<(), String> {
        if edits.is_empty() {
            return Ok(());
        }
        let merged = merge::apply(text, edits.iter().map(|(e, _)| e.clone()).collect());
        let after = Chapter::parse(&merged, self.rules);
        let merger = Merger::new(&after);
        if let Some((_, d)) = edits
            .iter()
            .find(|(_, d)| merger.state(&d.meta, &d.body) != State::Merged)
        {
            let why = merge::never_closed(&d.body).unwrap_or_default();
            return Err(format!(
                "{why}merging it would not leave the question answered with this text"
            ));
        }
        let accepted: Vec<(QuestionRef, &str)> =
            edits.iter().map(|(_, d)| ((&d.meta).into(), d.body.as_str())).collect();
        merge::verify(before, &after, &accepted)
    }

    /// The edits that fail [`Self::verify`] on their own, by index, with the reason: found by
    /// halving, so a batch with one bad draft costs a few parses, not one per draft.
    fn culprits(&self, before: &Chapter, text: &str, edits: &[(Edit, &Draft)]) -> Vec<(usize, String)> {
        fn walk(
            r: &Review,
            before: &Chapter,
            text: &str,
            edits: &[(Edit, &Draft)],
            base: usize,
            out: &mut Vec<(usize, String)>,
        ) {
            match r.verify(before, text, edits) {
                Ok(()) => {}
                Err(why) if edits.len() == 1 => out.push((base, why)),
                Err(_) => {
                    let mid = edits.len() / 2;
                    walk(r, before, text, &edits[..mid], base, out);
                    walk(r, before, text, &edits[mid..], base + mid, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(self, before, text, edits, 0, &mut out);
        out
    }

    /// Saves what the plan's edits replace under `.replaced/`; returns its path below the
    /// drafts folder, for the ledger.
    fn keep_replaced(&self, chapter: &str, plan: &Plan) -> Result<String> {
        let mut edits = Vec::with_capacity(plan.edits.len());
        for ((e, d), &offset) in plan.edits.iter().zip(&plan.offsets) {
            let draft_text =
                std::fs::read_to_string(&d.path).with_context(|| format!("cannot read {}", d.path.display()))?;
            let prompt_text = std::fs::read_to_string(store::prompt_path(&d.path)).ok();
            edits.push(Replacement {
                draft: d.id.clone(),
                offset,
                before: plan.text[e.range.clone()].to_owned(),
                after: e.text.clone(),
                draft_text,
                prompt_text,
            });
        }
        self.keep_record(chapter, edits)
    }

    /// Saves a record of replaced text under `.replaced/<chapter>/`; its path below the drafts
    /// folder.
    fn keep_record(&self, chapter: &str, edits: Vec<Replacement>) -> Result<String> {
        let record = Replaced {
            chapter: chapter.to_owned(),
            edits,
        };
        let json = serde_json::to_string(&record)?;
        let stamp = store::now().replace(':', "");
        let name = format!("{stamp}-{}.json", identity::short_hash(&[json.as_bytes()], 8));
        let rel = Path::new(chapter).with_extension("");
        let rel = format!("{REPLACED}/{}/{name}", rel.to_string_lossy());
        let path = self.drafts.join(&rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        atomic::write(&path, json.as_bytes()).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(rel)
    }

    /// The newest `.replaced/` record of `chapter` holding `draft`: for a draft found merged
    /// after a run stopped between writing the chapter and the ledger.
    fn find_replaced(&self, chapter: &str, draft: &str) -> Option<String> {
        let rel = Path::new(chapter).with_extension("");
        let dir = format!("{REPLACED}/{}", rel.to_string_lossy());
        let mut names: Vec<String> = std::fs::read_dir(self.drafts.join(&dir))
            .ok()?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".json"))
            .collect();
        names.sort();
        names.into_iter().rev().map(|n| format!("{dir}/{n}")).find(|rel| {
            std::fs::read_to_string(self.drafts.join(rel))
                .ok()
                .and_then(|t| serde_json::from_str::<Replaced>(&t).ok())
                .is_some_and(|r| r.edits.iter().any(|e| e.draft == draft))
        })
    }

    /// Moves rejected drafts to `.rejected/` (same relative path), or deletes them with `purge`.
    /// The prompt kept beside it moves (or goes) with it.
    fn set_aside(&self, drafts: &[&Draft]) -> Result<()> {
        for d in drafts {
            let side = store::prompt_path(&d.path);
            if self.purge {
                remove(&d.path)?;
                remove(&side)?;
                continue;
            }
            let to = self.drafts.join(REJECTED).join(format!("{}.md", d.id));
            if side.exists() {
                move_file(&side, &store::prompt_path(&to))?;
            }
            move_file(&d.path, &to)?;
        }
        Ok(())
    }
}

/// Drafts that could not be decided, by id, and why: they stay pending.
type Failures = Vec<(String, anyhow::Error)>;

/// The edits of one chapter write, checked, and the text they apply to.
struct Plan<'d> {
    text: String,
    edits: Vec<(Edit, &'d Draft)>,
    /// Where each edit's text starts in `merged`.
    offsets: Vec<usize>,
    merged: String,
    recovered: Vec<&'d Draft>,
    errors: Failures,
}

#[derive(Default)]
struct ChapterDone<'d> {
    accepted: Vec<&'d Draft>,
    rejected: Vec<&'d Draft>,
    recovered: Vec<&'d Draft>,
    file: Option<PathBuf>,
    errors: Failures,
}

/// Whether an edit takes out text a person wrote (a stub, an outline, a stale answer), as
/// opposed to filling an empty answer around its kept lines.
fn replaces_text(before: &str, after: &str) -> bool {
    before
        .lines()
        .any(|l| !l.trim().is_empty() && !after.contains(l.trim()))
}

/// Records one error against each of `drafts` (they stay pending).
fn fail_all(errors: &mut Failures, drafts: &[&Draft], e: &anyhow::Error) {
    let msg = format!("{e:#}");
    errors.extend(drafts.iter().map(|d| (d.id.clone(), anyhow!(msg.clone()))));
}

/// Renames `from` to `to`, creating `to`'s folder.
fn move_file(from: &Path, to: &Path) -> Result<()> {
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::rename(from, to).with_context(|| format!("cannot move {} to {}", from.display(), to.display()))
}

fn remove(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove {}", path.display()))
        }
        _ => Ok(()),
    }
}

fn entry(d: &Draft, decision: Decision, run: &str) -> Entry {
    Entry {
        time: store::now(),
        chapter: d.meta.chapter.clone(),
        question_id: d.meta.question_id.clone(),
        draft: d.id.clone(),
        decision,
        model: d.meta.model.clone(),
        template_hash: d.meta.template_hash.clone(),
        answer_hash: identity::answer_hash(&merge::normalize(&d.body, "\n")),
        line: 0,
        recovered: false,
        sibling: false,
        sibling_of: None,
        undo: None,
        replaced: false,
        run: Some(run.to_owned()),
        score: d.meta.score,
    }
}

/// The diff a reviewer sees for `draft` against the chapter `text` as it is now (a stale draft
/// is shown as it would be merged with `--force`), as [`diff::hunks`].
pub fn preview(text: &str, draft: &Draft, rules: &Rules) -> Result<Vec<diff::Hunk>, MergeError> {
    let chapter = Chapter::parse(text, rules);
    let e = Merger::new(&chapter).edit(&draft.meta, &draft.body, rules, true)?;
    Ok(diff::hunks(text, &e, diff::CONTEXT))
}

/// The answered questions nearest before and after `question` in `chapter`: index, heading
/// text and answer, for the reviewer to compare with.
pub fn neighbours(chapter: &Chapter, question: QuestionRef) -> Vec<(usize, String, String)> {
    let at = chapter
        .questions
        .iter()
        .position(|q| chapter.heading(q).anchor() == question.anchor)
        .or_else(|| {
            chapter
                .toc
                .iter()
                .position(|t| t.anchor == question.anchor)
                .map(|_| chapter.questions.len())
        });
    let Some(at) = at else { return Vec::new() };
    let answered = |q: &&crate::chapter::Question| q.gap.is_none() && !q.group;
    let before = chapter.questions[..at].iter().rev().find(answered);
    let after = chapter.questions.get(at + 1..).and_then(|r| r.iter().find(answered));
    before
        .into_iter()
        .chain(after)
        .map(|q| {
            (
                q.index,
                chapter.heading(q).text.clone(),
                chapter.answer(q).trim().to_owned(),
            )
        })
        .collect()
}

/// The `[review]` table.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ReviewConfig {
    /// Commit each chapter write to git, that file alone.
    pub commit: bool,
}
