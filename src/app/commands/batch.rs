//! `aigcq batch`: following the batches `draft --batch` submitted ([`crate::app::submit`])
//! and collecting their answers as drafts.

use std::collections::HashMap;

use anyhow::{Result, anyhow, bail};

use super::Status;
use crate::app::cli::{BatchArgs, BatchCommand};
use crate::app::context::Context;
use crate::app::output;
use aigcq::batch::{self, Batches, Entry, Outcome, Record};
use aigcq::chapter::{Chapter, Gap, GapKind};
use aigcq::draft::{Drafter, Event, Job, Provenance, Totals};
use aigcq::llm::Messages;
use aigcq::llm::client::Client;
use aigcq::prompt::{ChapterFacts, RunContext, Templates};
use aigcq::store::Store;

pub fn run(ctx: &Context, args: &BatchArgs) -> Result<Status> {
    let batches = Batches::new(&ctx.project.drafts_dir());
    let runtime = ctx.runtime()?;
    let client = |model: &str| -> Result<Client> {
        Ok(ctx
            .connect(&args.provider.overrides(), args.allow_insecure, false, Some(model))?
            .2)
    };
    let cfg = &ctx.project.config.batch;
    match &args.command {
        BatchCommand::List { json } | BatchCommand::Status { id: None, json } => {
            let list = matches!(args.command, BatchCommand::List { .. });
            let listing = batches.list()?;
            let mut failed = report_unreadable(&listing.errors);
            let mut shown = Vec::new();
            for r in listing.records {
                let collected = batches.collected_count(&r.id)?;
                if !list && collected >= r.requests {
                    continue;
                }
                let r = if batch::finished(&r.remote.status) {
                    r
                } else {
                    match runtime.block_on(batches.refresh(&client(&r.model)?, cfg, r.clone())) {
                        Ok(r) => r,
                        Err(e) => {
                            output::error(format!("{e:#}"));
                            failed = true;
                            r
                        }
                    }
                };
                shown.push((r, collected));
            }
            output::batch::list(&shown, *json)?;
            output::batch::incomplete(&listing.incomplete, &ctx.project.drafts_dir());
            Ok(if failed { Status::Failed } else { Status::Clean })
        }
        BatchCommand::Status { id: Some(id), json } => {
            let r = batches.get(id)?;
            let r = runtime.block_on(batches.refresh(&client(&r.model)?, cfg, r))?;
            let collected = batches.collected_count(&r.id)?;
            output::batch::list(&[(r, collected)], *json)?;
            Ok(Status::Clean)
        }
        BatchCommand::Cancel { id } => {
            let r = batches.get(id)?;
            let r = runtime.block_on(batches.cancel(&client(&r.model)?, cfg, r))?;
            output::batch::cancelled(&r);
            Ok(Status::Clean)
        }
        BatchCommand::Import { file, batch } => {
            let record = batches.import(file, batch.as_deref(), cfg.max_download)?;
            let failed = runtime.block_on(collect_one(ctx, &batches, &client(&record.model)?, record))?;
            Ok(if failed { Status::Failed } else { Status::Clean })
        }
        BatchCommand::Collect { ids } => {
            let mut unreadable = false;
            let records: Vec<Record> = if ids.is_empty() {
                let listing = batches.list()?;
                unreadable = report_unreadable(&listing.errors);
                let mut open = Vec::new();
                for r in listing.records {
                    if batches.collected_count(&r.id)? < r.requests {
                        open.push(r);
                    }
                }
                open
            } else {
                ids.iter().map(|id| batches.get(id)).collect::<Result<_>>()?
            };
            if records.is_empty() {
                output::batch::nothing_to_collect();
                return Ok(Status::Clean);
            }
            let collect = async {
                let mut failed = false;
                for r in records {
                    match collect_one(ctx, &batches, &client(&r.model)?, r).await {
                        Ok(f) => failed |= f,
                        Err(e) => {
                            output::error(format!("{e:#}"));
                            failed = true;
                        }
                    }
                }
                anyhow::Ok(failed)
            };
            let failed = runtime.block_on(async {
                tokio::select! {
                    f = collect => Some(f),
                    _ = tokio::signal::ctrl_c() => None,
                }
            });
            match failed {
                None => {
                    output::batch::interrupted();
                    Ok(Status::Interrupted)
                }
                Some(f) => Ok(if f? || unreadable {
                    Status::Failed
                } else {
                    Status::Clean
                }),
            }
        }
    }
}

/// Requests collected between two syncs: two syncs and one ledger append per group instead
/// of a few per draft; at most twice as many files open, below any usual limit.
const COLLECT_GROUP: usize = 200;

/// Collects one batch if it has finished. Returns whether a question of it failed.
/// Where collected answers go: the project's drafts and chapters, or an eval run's scratch
/// store and the chapters it held questions out of.
pub struct Destination<'a> {
    /// The drafts folder of the store.
    pub drafts: std::path::PathBuf,
    /// The chapters' texts by name; `None` reads them from the content folder.
    pub chapters: Option<&'a [(String, String)]>,
    /// The template the requests were made from.
    pub template: &'a str,
}

async fn collect_one(ctx: &Context, batches: &Batches, client: &Client, record: Record) -> Result<bool> {
    let to = Destination {
        drafts: ctx.project.drafts_dir(),
        chapters: None,
        template: &ctx.project.config.draft.template,
    };
    Ok(collect_into(ctx, batches, client, record, &to).await?.unwrap_or(false))
}

/// Collects one batch if it has finished: `Ok(None)` while it runs, else whether any request
/// failed.
pub async fn collect_into(
    ctx: &Context,
    batches: &Batches,
    client: &Client,
    record: Record,
    to: &Destination<'_>,
) -> Result<Option<bool>> {
    let project = &ctx.project;
    let cfg = &project.config.batch;
    let record = batches.refresh(client, cfg, record).await?;
    if !batch::finished(&record.remote.status) {
        output::batch::not_finished(&record);
        return Ok(None);
    }
    let results = batches.results(client, cfg, &record).await?;

    // The chapters the results belong to, read now: an edit since submission makes the
    // draft stale, as review will say. An eval run brings its own.
    let rules = project.rules()?;
    let content = project.content_dir();
    let mut names: Vec<String> = results.iter().map(|(e, _)| e.chapter.clone()).collect();
    names.sort_unstable();
    names.dedup();
    let texts: Vec<Result<String>> = names
        .iter()
        .map(|n| match to.chapters {
            Some(held) => held
                .iter()
                .find(|(name, _)| name == n)
                .map(|(_, t)| t.clone())
                .ok_or_else(|| anyhow!("{n} is not a chapter of this run")),
            None => Ok(aigcq::scan::read_chapter(&aigcq::store::chapter_path(&content, n)?)?),
        })
        .collect();
    let chapters: Vec<Option<Chapter>> = texts
        .iter()
        .map(|t| t.as_deref().ok().map(|t| Chapter::parse(t, &rules)))
        .collect();
    let facts: HashMap<&str, Result<ChapterFacts, String>> = names
        .iter()
        .zip(chapters.iter().zip(&texts))
        .map(|(n, (c, t))| {
            let f = match (c, t) {
                (Some(c), _) => Ok(ChapterFacts::new(c, n)),
                (None, Err(e)) => Err(format!("{e:#}")),
                (None, Ok(_)) => Err("cannot be read".into()),
            };
            (n.as_str(), f)
        })
        .collect();

    // Each request's question by chapter and anchor: its gap, else the answered question of
    // that anchor (a rewrite, or a gap answered since), the first of each; found once per
    // chapter, not once per request.
    let mut questions: HashMap<(&str, &str), Gap> = HashMap::new();
    for (name, chapter) in names.iter().zip(&chapters) {
        let Some(c) = chapter else { continue };
        for g in c.gaps() {
            questions.entry((name, g.anchor)).or_insert(g);
        }
        for q in &c.questions {
            questions
                .entry((name, c.heading(q).anchor()))
                .or_insert_with(|| c.as_gap(q, GapKind::Stub));
        }
    }

    // Thousands of drafts: synced a group at a time, each group recorded as collected only
    // once it is durable, so that a crash loses nothing and a rerun repeats nothing.
    let store = Store::grouped(to.drafts.clone());
    let templates = Templates::load(&project.prompts_dir(), to.template)?;
    let run = RunContext {
        style: None,
        today: String::new(),
        example_chars: 0,
        prompt_cache_key: false,
        glossary: project.glossary()?,
        related: None,
        related_chars: 0,
    };
    let drafter = Drafter {
        client,
        templates: &templates,
        rules: &rules,
        run: &run,
        store: &store,
        candidates: 1,
        concurrency: 1,
        model: &record.model,
        host: &record.host,
        temperature: None,
        refs: None,
        content: to.chapters.is_none().then_some(content.as_path()),
        judge: None,
        cache_warmup: 0,
        reference_copy: project.config.draft.reference_copy_chars,
    };
    let created = record
        .remote
        .completed_at
        .and_then(|t| jiff::Timestamp::from_second(t).ok())
        .map_or_else(
            || record.submitted.clone(),
            |t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        );
    let progress = output::draft::Progress::new(results.len() as u64, &ctx.cwd);
    let report = |e: Event| progress.event(&e);
    let mut totals = Totals::default();
    let mut group: Vec<String> = Vec::new();
    for (entry, outcome) in results {
        let id = entry.question_id.clone();
        let done = match outcome {
            Outcome::Answered(completion) => match job_for(&facts, &questions, &entry) {
                Ok(job) => save(&drafter, job, &entry, completion, &record, &created, &report).await,
                Err(e) => Err(e),
            },
            Outcome::Failed(m) => Err(anyhow!("{m}")),
            Outcome::Missing => Err(anyhow!(
                "not answered: the batch ended {}; draft it again",
                record.remote.status
            )),
        };
        match done {
            Ok(d) => {
                totals.add(&d);
                report(Event::Drafted {
                    id: &id,
                    saved: &d.saved,
                    truncated: d.truncated > 0,
                    problems: &d.problems,
                });
            }
            Err(error) => {
                totals.failed += 1;
                report(Event::Failed { id: &id, error: &error });
            }
        }
        // Every outcome is final: a rerun neither saves it again nor reports it again.
        group.push(entry.custom_id);
        if group.len() == COLLECT_GROUP {
            store.commit()?;
            batches.mark_collected(&record.id, &std::mem::take(&mut group))?;
        }
    }
    store.commit()?;
    batches.mark_collected(&record.id, &group)?;
    progress.finish();
    output::batch::collected(&record, &totals, project.config.prices.get(&record.model));
    Ok(Some(totals.failed > 0))
}

/// The job a request was for, in the chapters as they are now.
fn job_for<'a>(
    facts: &'a HashMap<&str, Result<ChapterFacts<'a>, String>>,
    questions: &HashMap<(&str, &str), Gap<'a>>,
    entry: &Entry,
) -> Result<Job<'a>> {
    let facts = match facts.get(entry.chapter.as_str()) {
        Some(Ok(f)) => f,
        Some(Err(e)) => bail!("{e}; its answer stays in the batch's output file"),
        None => bail!("{} was not read", entry.chapter),
    };
    let gap = questions
        .get(&(entry.chapter.as_str(), entry.anchor.as_str()))
        .copied()
        .ok_or_else(|| {
            anyhow!(
                "the question is no longer in {}; its answer stays in the batch's output file",
                entry.chapter
            )
        })?;
    Ok(Job {
        facts,
        gap,
        rewrite: entry.rewrite,
    })
}

/// Saves one answered request's drafts through the same clean-up and checks as a run.
async fn save(
    drafter: &Drafter<'_>,
    job: Job<'_>,
    entry: &Entry,
    completion: aigcq::llm::client::Completion,
    record: &Record,
    created: &str,
    report: &(dyn Fn(Event) + Sync),
) -> Result<aigcq::draft::Drafted> {
    let messages = Messages::from_turns(&entry.prompt.messages)?;
    let provenance = Provenance {
        span_hash: Some(entry.span_hash.clone()),
        created: Some(created.to_owned()),
        batch: Some(record.id.clone()),
        prompt: Some(entry.prompt.clone()),
    };
    drafter
        .finish(
            job,
            &entry.question_id,
            &messages,
            &entry.references,
            completion,
            &provenance,
            report,
        )
        .await
}

/// Prints each file of the batches folder that could not be read; whether there was one.
fn report_unreadable(errors: &[anyhow::Error]) -> bool {
    for e in errors {
        output::error(format!("{e:#} (left out)"));
    }
    !errors.is_empty()
}
