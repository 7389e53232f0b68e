//! Stage 2, `aigcq draft`: for each selected gap, render the prompt, ask the model, clean the
//! reply and save each candidate to the drafts store, keeping `concurrency` requests in
//! flight until the queue is empty.

pub mod gate;
pub mod postprocess;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use crate::chapter::{Chapter, Gap, Rules};
use crate::identity;
use crate::llm::client::{ApiError, Choice, Client, Completion};
use crate::llm::{Messages, Turn, Usage};
use crate::prompt::{self, ChapterFacts, RunContext, Templates};
use crate::refs::{Reference, Refs};
use crate::store::{self, Draft, Meta, Prompt, Store};
use postprocess::Target;

/// One question to draft.
#[derive(Clone, Copy)]
pub struct Job<'c> {
    /// Its chapter, and what the chapter's prompts share.
    pub facts: &'c ChapterFacts<'c>,
    /// The question (or missing entry) to answer.
    pub gap: Gap<'c>,
    /// A new version of an answered question (`draft --rewrite`).
    pub rewrite: bool,
}

impl Job<'_> {
    /// The question's id.
    pub fn id(&self) -> String {
        identity::question_id(self.facts.name, self.gap.anchor)
    }

    /// The rendered prompt.
    pub fn messages(
        &self,
        templates: &Templates,
        rules: &Rules,
        run: &RunContext,
        references: &[Reference],
    ) -> Result<Messages> {
        self.render(templates, &self.context(rules, run, references), run)
    }

    /// What its template sees.
    pub fn context<'a>(
        &'a self,
        rules: &Rules,
        run: &'a RunContext,
        references: &'a [Reference],
    ) -> prompt::PromptContext<'a> {
        prompt::context(self.facts, &self.gap, rules, run, self.rewrite, references)
    }

    /// The prompt `context` renders to.
    pub fn render(&self, templates: &Templates, context: &prompt::PromptContext, run: &RunContext) -> Result<Messages> {
        let mut messages = templates.render(context)?;
        if run.prompt_cache_key {
            messages.cache_key = Some(format!(
                "aigcq-{}",
                identity::short_hash(&[self.facts.name.as_bytes()], 24)
            ));
        }
        Ok(messages)
    }

    /// Its references, read and fetched (none without `refs`).
    pub async fn references(&self, refs: Option<&Refs>) -> Result<Vec<Reference>> {
        match refs {
            Some(r) => r.references(self.facts.name, self.gap.index).await,
            None => Ok(Vec::new()),
        }
    }
}

/// What happened to one question, for progress output.
#[derive(Debug)]
pub enum Event<'a> {
    /// A request failed and is tried again after `delay`.
    Retrying {
        /// The question.
        id: &'a str,
        /// Why it failed.
        error: &'a ApiError,
        /// How long until the next attempt.
        delay: Duration,
    },
    /// Answer text is streaming in: `deltas` pieces so far (about one token each).
    Receiving {
        /// The question.
        id: &'a str,
        /// Pieces of answer received so far.
        deltas: usize,
        /// The (first) answer's text so far, as the model wrote it.
        text: &'a str,
    },
    /// A question's candidates were saved.
    Drafted {
        /// The question.
        id: &'a str,
        /// The draft files written.
        saved: &'a [std::path::PathBuf],
        /// A candidate stopped at the token limit.
        truncated: bool,
        /// What clean-up and the gate found, for people.
        problems: &'a [String],
    },
    /// A question failed; it has no draft.
    Failed {
        /// The question.
        id: &'a str,
        /// Why.
        error: &'a anyhow::Error,
    },
    /// The server does not give `n` candidates for one request (it ignores `n`, or a proxy
    /// mangles the extra choices): from now on each candidate is asked for separately. Said
    /// once a run.
    OneByOne {
        /// What the server did, for people.
        why: &'a str,
    },
    /// `draft --judge`: a saved candidate's verdict.
    Judged {
        /// The draft's id.
        draft: &'a str,
        /// The judge's verdict.
        verdict: &'a crate::judge::Verdict,
    },
    /// `draft --judge`: a saved candidate got no verdict; the draft stays, unscored.
    NotJudged {
        /// The draft's id.
        draft: &'a str,
        /// Why it was not judged.
        error: &'a anyhow::Error,
    },
}

/// Totals of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Questions with at least one saved candidate.
    pub drafted: usize,
    /// Candidate files saved.
    pub candidates: usize,
    /// Questions that failed.
    pub failed: usize,
    /// Candidates saved although the model hit its token limit.
    pub truncated: usize,
    /// Candidates `draft --judge` could not score.
    pub unjudged: usize,
    /// Tokens the run used.
    pub usage: Usage,
}

impl Totals {
    /// Counts a question's saved candidates.
    pub fn add(&mut self, d: &Drafted) {
        self.drafted += 1;
        self.candidates += d.saved.len();
        self.truncated += d.truncated;
        self.unjudged += d.unjudged;
        self.usage += d.usage;
    }
}

/// The fixed parts of a run. `candidates` and `concurrency` are at least 1.
pub struct Drafter<'a> {
    /// The API client.
    pub client: &'a Client,
    /// The prompt templates.
    pub templates: &'a Templates,
    /// The chapter model's rules.
    pub rules: &'a Rules,
    /// What every prompt of the run shares.
    pub run: &'a RunContext,
    /// Where drafts are saved.
    pub store: &'a Store,
    /// Candidates per question.
    pub candidates: u32,
    /// Requests in flight at most.
    pub concurrency: usize,
    /// The model asked.
    pub model: &'a str,
    /// Host (and port) of the API, for the drafts' provenance.
    pub host: &'a str,
    /// Sent as `temperature`, when set.
    pub temperature: Option<f64>,
    /// Each question's references, when the run uses them.
    pub refs: Option<&'a Refs>,
    /// The content folder, for the gate's local-target check (none: not checked).
    pub content: Option<&'a std::path::Path>,
    /// `draft --judge`: each candidate is judged as soon as it is saved (needs `content`).
    pub judge: Option<&'a crate::judge::Judge<'a>>,
    /// `[draft] cache_warmup`: estimated shared-prefix tokens from which a chapter's first
    /// request goes alone (0: never).
    pub cache_warmup: u64,
    /// `[draft] reference_copy_chars`: copying this many characters of a reference in a row
    /// is a `copied` warning (0: not checked).
    pub reference_copy: usize,
}

/// A question's saved candidates.
pub struct Drafted {
    /// The draft files written.
    pub saved: Vec<std::path::PathBuf>,
    /// Candidates saved although the model hit its token limit.
    pub truncated: usize,
    /// Candidates `draft --judge` could not judge.
    pub unjudged: usize,
    /// Candidates that could not be used, and why.
    pub problems: Vec<String>,
    /// Tokens the question used.
    pub usage: Usage,
}

/// Where a completion came from, when not from a request of this run: a batch's result is
/// saved with the question's span hash and the time of its submission and the batch's id.
#[derive(Debug, Clone, Default)]
pub struct Provenance {
    /// The question's span hash when the request was made (a batch's submission).
    pub span_hash: Option<String>,
    /// When the answer was made, if not now.
    pub created: Option<String>,
    /// The batch that answered it.
    pub batch: Option<String>,
    /// The request as it was sent.
    pub prompt: Option<Prompt>,
}

impl Drafter<'_> {
    /// Whether a link target of chapter `name` exists, relative to the chapter's folder.
    fn exists_for(&self, name: &str) -> impl Fn(&str) -> bool + use<> {
        let folder = self.content.map(|c| {
            c.join(name)
                .parent()
                .map(std::path::Path::to_path_buf)
                .unwrap_or_default()
        });
        move |target: &str| folder.as_ref().is_none_or(|f| f.join(target).exists())
    }

    /// Drafts every job, `concurrency` at a time, reporting each result as it lands. Jobs
    /// come chapter by chapter; a chapter whose prompts share a prefix worth caching sends
    /// its first request alone, and the rest once its answer starts (the provider has then
    /// cached the prefix), while other chapters' requests go on.
    pub async fn run(&self, jobs: Vec<Job<'_>>, report: &(dyn Fn(Event) + Sync)) -> Totals {
        let mut summary = Totals::default();
        // Set once the server answers `n > 1` with fewer choices or an error: from then on
        // each candidate is its own request.
        let n_unsupported = AtomicBool::new(false);
        let n_unsupported = &n_unsupported;
        let style = self.run.style.as_deref().map_or(0, crate::llm::tokens::estimate);
        let warm = |job: &Job, next: Option<&Job>| {
            self.cache_warmup > 0
                && next.is_some_and(|n| std::ptr::eq(n.facts, job.facts))
                && style + job.facts.shared_tokens(self.run.example_chars) >= self.cache_warmup
        };
        type Gate<'f> = Option<(&'f ChapterFacts<'f>, tokio::sync::oneshot::Receiver<()>)>;
        let queue = futures_util::stream::unfold(
            (jobs.into_iter().peekable(), None as Gate, None as Option<&ChapterFacts>),
            move |(mut jobs, gate, previous)| async move {
                let job = jobs.next()?;
                let gate = match gate {
                    Some((facts, rx)) if std::ptr::eq(facts, job.facts) => {
                        // Sent or dropped: either way the first request is past its prefix.
                        let _ = rx.await;
                        None
                    }
                    g => g,
                };
                let first = !previous.is_some_and(|p| std::ptr::eq(p, job.facts));
                let (started, gate) = if first && warm(&job, jobs.peek()) {
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    (Some(tx), Some((job.facts, rx)))
                } else {
                    (None, gate)
                };
                Some(((job, started), (jobs, gate, Some(job.facts))))
            },
        );
        let results = queue
            .map(|(job, started)| async move {
                let id = job.id();
                let r = self.one(job, &id, started, n_unsupported, report).await;
                (id, r)
            })
            .buffer_unordered(self.concurrency);
        let mut results = std::pin::pin!(results);
        while let Some((id, r)) = results.next().await {
            match r {
                Ok(o) => {
                    summary.add(&o);
                    report(Event::Drafted {
                        id: &id,
                        saved: &o.saved,
                        truncated: o.truncated > 0,
                        problems: &o.problems,
                    });
                }
                Err(error) => {
                    summary.failed += 1;
                    report(Event::Failed { id: &id, error: &error });
                }
            }
        }
        summary
    }

    /// Asks for `k` candidates: one request with `n = k` while the server honours it, else
    /// one request per missing candidate.
    async fn ask(
        &self,
        messages: &Messages,
        id: &str,
        started: Option<tokio::sync::oneshot::Sender<()>>,
        n_unsupported: &AtomicBool,
        report: &(dyn Fn(Event) + Sync),
    ) -> Result<Completion, ApiError> {
        let k = self.candidates;
        let on_retry = |error: &ApiError, delay| report(Event::Retrying { id, error, delay });
        let started = std::sync::Mutex::new(started);
        let on_delta = |deltas, text: &str| {
            if let Some(tx) = started.lock().ok().and_then(|mut s| s.take()) {
                let _ = tx.send(());
            }
            report(Event::Receiving { id, deltas, text })
        };
        let mut got = Completion::default();
        if k > 1 && !n_unsupported.load(Ordering::Relaxed) {
            let why = match self.client.complete_with(messages, k, on_retry, &on_delta).await {
                Ok(c) => {
                    got = c;
                    usable(&mut got, k)
                }
                Err(e) if e.status() == Some(400) => Some(format!("it refused n = {k}: {e}")),
                Err(e) => return Err(e),
            };
            if let Some(why) = why
                && !n_unsupported.swap(true, Ordering::Relaxed)
            {
                report(Event::OneByOne {
                    why: &format!("{why}; asking for each candidate separately"),
                });
            }
        }
        while (got.choices.len() as u32) < k {
            let mut one = self.client.complete_with(messages, 1, on_retry, &on_delta).await?;
            let mut choice = one.choices.remove(0);
            choice.index = got.choices.len() as u32;
            got.choices.push(choice);
            if let Some(u) = one.usage {
                *got.usage.get_or_insert_default() += u;
            }
        }
        got.choices.truncate(k as usize);
        Ok(got)
    }

    /// Drafts one job; `started` hears when its answer starts arriving (or is dropped).
    async fn one(
        &self,
        job: Job<'_>,
        id: &str,
        started: Option<tokio::sync::oneshot::Sender<()>>,
        n_unsupported: &AtomicBool,
        report: &(dyn Fn(Event) + Sync),
    ) -> Result<Drafted> {
        let references = job.references(self.refs).await?;
        let messages = job.messages(self.templates, self.rules, self.run, &references)?;
        let mut completion = self
            .ask(&messages, id, started, n_unsupported, report)
            .await
            .map_err(|e| anyhow!(e))?;
        let empty = |c: &Completion| c.choices.iter().all(|c| postprocess::is_empty_reply(&c.content));
        if empty(&completion) {
            // A server under load, or one still loading its model, sometimes answers nothing:
            // once more, then say what may be wrong.
            let error = ApiError::Invalid("the reply has no answer text".into());
            report(Event::Retrying {
                id,
                error: &error,
                delay: Duration::ZERO,
            });
            let spent = completion.usage;
            completion = self
                .ask(&messages, id, None, n_unsupported, report)
                .await
                .map_err(|e| anyhow!(e))?;
            if let Some(u) = spent {
                *completion.usage.get_or_insert_default() += u;
            }
            if empty(&completion) {
                bail!(
                    "the server sent no answer text twice (empty, or only reasoning): is the model loaded? A reasoning model may need a larger --max-tokens"
                );
            }
        }
        self.finish(
            job,
            id,
            &messages,
            &references,
            completion,
            &Provenance::default(),
            report,
        )
        .await
    }

    /// Cleans, checks and saves the candidates of a completion for `job`, asked for with
    /// `messages`: the part of a run that a batch's results go through too.
    #[allow(clippy::too_many_arguments)] // what was asked and what came back, each needed
    pub async fn finish(
        &self,
        job: Job<'_>,
        id: &str,
        messages: &Messages,
        references: &[Reference],
        completion: Completion,
        provenance: &Provenance,
        report: &(dyn Fn(Event) + Sync),
    ) -> Result<Drafted> {
        let chapter = job.facts.chapter;
        let target = Target::new(
            chapter,
            &job.facts.anchors,
            (job.gap.text, job.gap.index, prompt::answer_level(chapter, &job.gap)),
            job.gap.question,
        );
        let span_hash = provenance
            .span_hash
            .clone()
            .unwrap_or_else(|| identity::span_hash(chapter, &job.gap));
        let created = provenance.created.clone().unwrap_or_else(store::now);
        let prompt = provenance.prompt.clone().unwrap_or_else(|| {
            Prompt::new(
                (self.model, self.host),
                (&self.templates.name, &self.templates.hash),
                self.client.params(self.candidates),
                messages,
            )
        });
        let total = completion.choices.len() as u32;
        let mut out = Drafted {
            saved: Vec::new(),
            truncated: 0,
            unjudged: 0,
            problems: Vec::new(),
            usage: completion.usage.unwrap_or_default(),
        };
        for (k, choice) in completion.choices.iter().enumerate() {
            let cleaned = match postprocess::clean(&choice.content, target, self.rules) {
                Ok(c) => c,
                Err(e) => {
                    out.problems.push(format!("candidate {}: {e}", k + 1));
                    continue;
                }
            };
            let (truncated, filtered) = stopped(choice);
            let warnings = repairs(&cleaned, filtered);
            let mut meta = Meta {
                chapter: job.facts.name.to_owned(),
                question_id: id.to_owned(),
                anchor: job.gap.anchor.to_owned(),
                question: job.gap.text.to_owned(),
                index: job.gap.index,
                kind: job.gap.kind,
                level: target.level,
                span_hash: span_hash.clone(),
                model: prompt.model.clone(),
                host: prompt.host.clone(),
                template: prompt.template.clone(),
                template_hash: prompt.template_hash.clone(),
                temperature: self.temperature,
                created: created.clone(),
                finish_reason: choice.finish_reason.clone(),
                truncated,
                filtered,
                candidate: k as u32 + 1,
                candidates: total,
                warnings,
                // Usage is per request; with several candidates it is recorded on the first.
                usage: (k == 0).then_some(completion.usage).flatten(),
                rewrite: job.rewrite,
                parent: None,
                feedback: None,
                references: references.iter().map(Reference::record).collect(),
                score: None,
                reasons: None,
                judge: None,
                judge_template: None,
                batch: provenance.batch.clone(),
            };
            let existing = job.gap.question.map(|q| chapter.answer_body(q));
            let exists = self.exists_for(job.facts.name);
            let subject = gate::Subject {
                facts: job.facts,
                question: (&meta).into(),
                index: job.gap.index,
                messages,
                references,
                existing: existing.as_deref().map(str::trim),
                rules: self.rules,
                exists: &exists,
                frame: &self.templates.frame,
                reference_copy: self.reference_copy,
                glossary: self.run.glossary.as_ref(),
            };
            let found = gate::check(&cleaned.text, &subject);
            meta.warnings.extend(found);
            // Saved under the chapter's lock, as every writer of a chapter's drafts is.
            let chapter_path = self
                .content
                .map(|c| crate::store::chapter_path(c, job.facts.name))
                .transpose()?;
            let path = match &chapter_path {
                Some(c) => self.store.save_locked(c, &meta, &cleaned.text, Some(&prompt), None)?,
                None => self.store.save_with(&meta, &cleaned.text, Some(&prompt))?,
            };
            out.truncated += usize::from(truncated);
            if let (Some(judge), Some(chapter_path)) = (self.judge, &chapter_path) {
                let draft = Draft {
                    id: self.store.id_of(&path),
                    path: path.clone(),
                    meta,
                    body: cleaned.text,
                };
                let judged = match judge.judge(&draft, chapter).await {
                    Ok(v) => crate::judge::record(self.store, chapter_path, &draft, &v, (judge.model, &judge.rubric()))
                        .map(|_| v),
                    Err(e) => Err(e),
                };
                match judged {
                    Ok(verdict) => report(Event::Judged {
                        draft: &draft.id,
                        verdict: &verdict,
                    }),
                    Err(error) => {
                        out.unjudged += 1;
                        report(Event::NotJudged {
                            draft: &draft.id,
                            error: &error,
                        });
                    }
                }
            }
            out.saved.push(path);
        }
        if out.saved.is_empty() {
            return Err(anyhow!(out.problems.join("; ")));
        }
        Ok(out)
    }
}

/// The warnings of a cleaned reply: its repairs, and the provider's filter if it stopped it.
fn repairs(cleaned: &postprocess::Cleaned, filtered: bool) -> Vec<store::Warning> {
    let mut out: Vec<store::Warning> = cleaned
        .warnings
        .iter()
        .map(|m| store::Warning {
            code: "cleanup".into(),
            message: m.clone(),
        })
        .collect();
    if filtered {
        out.push(store::Warning {
            code: "filtered".into(),
            message: "the provider's content filter stopped the answer".into(),
        });
    }
    out
}

/// Keeps the choices of a reply to `n = k` that are whole answers, numbered again, and says
/// what was wrong when fewer than `k` are left. A server that ignores `n` sends one choice; a
/// proxy that does not know it may send the extra choices without a finish reason or empty.
fn usable(got: &mut Completion, k: u32) -> Option<String> {
    let sent = got.choices.len();
    let unfinished = got.choices.iter().filter(|c| c.finish_reason.is_none()).count();
    let empty = got
        .choices
        .iter()
        .filter(|c| c.index > 0 && c.content.trim().is_empty())
        .count();
    got.choices
        .retain(|c| c.finish_reason.is_some() && (c.index == 0 || !c.content.trim().is_empty()));
    for (i, c) in got.choices.iter_mut().enumerate() {
        c.index = i as u32;
    }
    if got.choices.len() as u32 >= k {
        return None;
    }
    let mut what = vec![format!("the server sent {sent} of {k} candidates for one request (n)")];
    if unfinished > 0 {
        what.push(format!("{unfinished} never finished"));
    }
    if empty > 0 {
        what.push(format!("{empty} empty"));
    }
    Some(what.join(", "))
}

/// Whether a choice stopped at the token limit, and whether a content filter stopped it.
fn stopped(choice: &Choice) -> (bool, bool) {
    let reason = choice.finish_reason.as_deref();
    (reason == Some("length"), reason == Some("content_filter"))
}

/// The longest feedback note: it is kept in the draft's front matter and sent as a message.
pub const MAX_NOTE: usize = 4000;

/// Iterating with the model: a new version of a pending draft, asked for with the
/// conversation that produced it, the draft as the model's reply and the author's note as
/// the next message. The reply is cleaned like any other and saved as a new candidate of the
/// same question, recording its `parent` and the `feedback`.
pub struct Reviser<'a> {
    /// The API client.
    pub client: &'a Client,
    /// Where the revision is saved.
    pub store: &'a Store,
    /// The chapter model's rules.
    pub rules: &'a Rules,
    /// The model asked.
    pub model: &'a str,
    /// Host (and port) of the API, for the draft's provenance.
    pub host: &'a str,
    /// Sent as `temperature`, when set.
    pub temperature: Option<f64>,
    /// Told of retries and of the answer streaming in ([`Event::Retrying`],
    /// [`Event::Receiving`]), so that a slow model can be told from a hang.
    pub report: &'a (dyn Fn(Event) + Sync),
    /// The frame of the template that made the draft, for the gate's `leak`.
    pub frame: &'a crate::prompt::Frame,
    /// The book's terms, for the gate's `terminology`.
    pub glossary: Option<&'a crate::glossary::Glossary>,
}

impl Reviser<'_> {
    /// Revises `draft` (of `chapter`, read from `chapter_path`, whose kept prompt is `prompt`)
    /// by `note`; the new draft is candidate number `candidate`, saved under the chapter's
    /// lock unless a review decided `draft` meanwhile. Returns its path.
    pub async fn revise(
        &self,
        chapter_path: &std::path::Path,
        chapter: &Chapter<'_>,
        draft: &Draft,
        prompt: &Prompt,
        note: &str,
        candidate: u32,
    ) -> Result<std::path::PathBuf> {
        let chars = note.chars().count();
        if chars > MAX_NOTE {
            anyhow::bail!(
                "the feedback note has {chars} characters; at most {MAX_NOTE} are sent (say what to change, briefly)"
            );
        }
        let mut messages = Messages::from_turns(&prompt.messages)?;
        let turn = |role: &str, content: &str| Turn {
            role: role.into(),
            content: content.into(),
        };
        messages.turns.push(turn("assistant", draft.body.trim_end()));
        messages.turns.push(turn("user", note));
        let id = draft.meta.question_id.as_str();
        let on_retry = |error: &ApiError, delay| (self.report)(Event::Retrying { id, error, delay });
        let on_delta = |deltas, text: &str| (self.report)(Event::Receiving { id, deltas, text });
        let completion = self
            .client
            .complete_with(&messages, 1, on_retry, &on_delta)
            .await
            .map_err(|e| anyhow!(e))?;
        let choice = completion
            .choices
            .first()
            .ok_or_else(|| anyhow!("the reply has no answer"))?;
        let facts = ChapterFacts::new(chapter, &draft.meta.chapter);
        let question = chapter
            .questions
            .iter()
            .find(|q| chapter.heading(q).anchor() == draft.meta.anchor);
        let target = Target::new(
            chapter,
            &facts.anchors,
            (&draft.meta.question, draft.meta.index, draft.meta.level),
            question,
        );
        let cleaned = postprocess::clean(&choice.content, target, self.rules)?;
        let (truncated, filtered) = stopped(choice);
        let mut meta = draft.meta.clone();
        meta.model = self.model.to_owned();
        meta.host = self.host.to_owned();
        meta.temperature = self.temperature;
        meta.created = store::now();
        meta.finish_reason = choice.finish_reason.clone();
        meta.truncated = truncated;
        meta.filtered = filtered;
        meta.candidate = candidate;
        meta.candidates = candidate;
        meta.warnings = repairs(&cleaned, filtered);
        let existing = question.map(|q| chapter.answer_body(q));
        let subject = gate::Subject {
            facts: &facts,
            question: (&draft.meta).into(),
            index: draft.meta.index,
            messages: &messages,
            references: &[],
            existing: existing.as_deref().map(str::trim),
            rules: self.rules,
            exists: &|_: &str| true,
            frame: self.frame,
            reference_copy: 0,
            glossary: self.glossary,
        };
        meta.warnings.extend(gate::check(&cleaned.text, &subject));
        meta.usage = completion.usage;
        meta.parent = Some(draft.id.clone());
        meta.feedback = Some(note.to_owned());
        // A new answer: its parent's verdict is not its own.
        (meta.score, meta.reasons, meta.judge, meta.judge_template) = (None, None, None, None);
        let kept = Prompt::new(
            (self.model, self.host),
            (&prompt.template, &prompt.template_hash),
            self.client.params(1),
            &messages,
        );
        self.store
            .save_locked(chapter_path, &meta, &cleaned.text, Some(&kept), Some(&draft.path))
    }
}

/// The `[draft]` table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DraftConfig {
    /// The template in the prompts folder, without `.jinja`.
    pub template: String,
    /// Candidates per question.
    pub candidates: u32,
    /// Characters of neighbouring answers given to the model as style examples.
    pub example_chars: usize,
    /// Characters of reference material per prompt, shared fairly between the references.
    pub ref_chars: usize,
    /// Seconds one reference URL may take to fetch, start to end.
    pub ref_timeout: u64,
    /// Characters of the book's answers to related questions per prompt, shared fairly
    /// between them; 0 shows none and builds no index.
    pub related_chars: usize,
    /// Send each chapter's name as `prompt_cache_key` (OpenAI), so that its prompts meet
    /// the same cache.
    pub prompt_cache_key: bool,
    /// When a chapter's shared prompt prefix is estimated at this many tokens or more (the
    /// providers' caching starts at 1,024), its first request goes alone until the answer
    /// starts, so that the rest find the prefix cached. 0 sends everything at once.
    pub cache_warmup: u64,
    /// A passage of this many non-blank characters copied from one reference, word for word,
    /// is a `copied` warning: quoting a fact is fine, copying a paragraph is not. 0: off.
    pub reference_copy_chars: usize,
    /// Models that each draft every question, side by side (`[[draft.models]]`), when no
    /// `--model` is given.
    pub models: Vec<ModelEntry>,
}

/// One model of `[[draft.models]]`, with its own endpoint and key when it needs them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    /// The model name.
    pub model: String,
    /// Its API's base URL (else the provider's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The environment variable holding its key (else the provider's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
}

impl Default for DraftConfig {
    fn default() -> Self {
        DraftConfig {
            template: "default".into(),
            candidates: 1,
            example_chars: 4000,
            ref_chars: 8000,
            related_chars: 3000,
            ref_timeout: 60,
            prompt_cache_key: false,
            cache_warmup: 1024,
            reference_copy_chars: 100,
            models: Vec::new(),
        }
    }
}
