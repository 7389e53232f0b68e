//! `aigcq draft`: plan the jobs, then either print their prompts (`--dry-run`) or draft them,
//! stopping cleanly on Ctrl-C.

use std::collections::HashSet;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use rayon::prelude::*;

use super::{Context, Status};
use crate::app::cli::DraftArgs;
use crate::app::output::{self, draft::Progress};
use aigcq::chapter::Chapter;
use aigcq::draft::client::Client;
use aigcq::draft::{Drafter, Event, Job};
use aigcq::prompt::{ChapterFacts, RunContext, STYLE_FILE, Templates};
use aigcq::provider::Provider;
use aigcq::scan;
use aigcq::select::{self, Item};
use aigcq::store::Store;

pub fn run(ctx: &Context, args: &DraftArgs) -> Result<Status> {
    let project = &ctx.project;
    let rules = project.rules()?;
    let (texts, mut failed) = read_chapters(ctx)?;
    let content = project.content_dir();
    let names: Vec<String> = texts.iter().map(|(p, _)| scan::chapter_name(p, &content)).collect();
    let chapters: Vec<Chapter> = texts.par_iter().map(|(_, t)| Chapter::parse(t, &rules)).collect();
    let facts: Vec<ChapterFacts> = chapters
        .iter()
        .zip(&names)
        .filter(|(chapter, _)| chapter.gaps().next().is_some())
        .map(|(chapter, name)| ChapterFacts::new(chapter, name))
        .collect();

    let store = Store::new(project.drafts_dir());
    let (jobs, skipped) = plan(ctx, args, &facts, &store)?;

    let cfg = &project.config.draft;
    let templates = Templates::load(
        &project.prompts_dir(),
        args.template.as_deref().unwrap_or(&cfg.template),
    )?;
    let run_ctx = RunContext {
        style: house_rules(ctx)?,
        today: jiff::Zoned::now().date().to_string(),
        example_chars: args.example_chars.unwrap_or(cfg.example_chars),
    };
    let candidates = args.candidates.unwrap_or(cfg.candidates).max(1);

    if args.dry_run {
        let prompts: Vec<output::draft::Prompt> = jobs
            .iter()
            .map(|job| output::draft::Prompt {
                id: job.id(),
                kind: job.gap.kind,
                messages: job.messages(&templates, &rules, &run_ctx),
            })
            .collect();
        failed |= output::draft::dry_run(&prompts, candidates, args.json)?;
        return Ok(if failed { Status::Failed } else { Status::Clean });
    }
    if jobs.is_empty() {
        output::draft::nothing(skipped);
        return Ok(if failed { Status::Failed } else { Status::Clean });
    }

    let provider = Provider::resolve(
        &project.config.provider,
        |k| std::env::var(k).ok(),
        &args.provider.overrides(),
    )?;
    let Some(model) = provider.model.value.clone() else {
        bail!("no model set: pass --model, set $AIGCQ_MODEL, or set model in [provider] of aigcq.toml");
    };
    provider.check_transport(args.allow_insecure)?;
    let client = Client::new(&provider, &model, !args.no_stream)?;
    let host = provider.host();
    let drafter = Drafter {
        client: &client,
        templates: &templates,
        rules: &rules,
        run: &run_ctx,
        store: &store,
        candidates,
        concurrency: provider.concurrency.value,
        model: &model,
        host: &host,
        temperature: provider.temperature.value,
    };

    let progress = Progress::new(jobs.len() as u64, &ctx.cwd);
    let started = Instant::now();
    output::draft::start(jobs.len(), &model, &host, provider.concurrency.value, skipped);
    // One thread is plenty for network-bound work, and it means a Ctrl-C is handled only
    // between steps, never while a draft file is half written.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let report = |e: Event| progress.event(&e);
    let totals = runtime.block_on(async {
        tokio::select! {
            s = drafter.run(jobs, &report) => Some(s),
            _ = tokio::signal::ctrl_c() => None,
        }
    });
    progress.finish();
    let Some(totals) = totals else {
        output::draft::interrupted();
        return Ok(Status::Interrupted);
    };
    output::draft::summary(&totals, skipped, started.elapsed());
    Ok(if failed || totals.failed > 0 {
        Status::Failed
    } else {
        Status::Clean
    })
}

/// Every chapter under the content folder, read; the flag says whether any could not be read.
fn read_chapters(ctx: &Context) -> Result<(Vec<(std::path::PathBuf, String)>, bool)> {
    let (files, errors) = scan::chapter_paths(&ctx.inputs(&[])?);
    let read = files
        .par_iter()
        .map(|p| scan::read_chapter(p).map(|t| (p.clone(), t)))
        .collect();
    Ok(super::report_errors(&errors, read))
}

/// The jobs a run drafts, in chapter and question order, and how many gaps were skipped
/// because they have a pending draft.
fn plan<'c>(
    ctx: &Context,
    args: &DraftArgs,
    facts: &'c [ChapterFacts<'c>],
    store: &Store,
) -> Result<(Vec<Job<'c>>, usize)> {
    let mut jobs: Vec<Job> = facts
        .iter()
        .flat_map(|facts| facts.chapter.gaps().map(move |gap| Job { facts, gap }))
        .filter(|j| args.kind.is_empty() || args.kind.contains(&j.gap.kind))
        .collect();
    let items: Vec<Item> = jobs
        .iter()
        .map(|j| Item {
            chapter: j.facts.name,
            anchor: j.gap.anchor,
            index: j.gap.index,
            text: j.gap.text,
        })
        .collect();
    let picked = select::select(&items, &ctx.queries(&args.queries))?;
    let mut keep = picked.into_iter();
    jobs.retain(|_| keep.next().unwrap_or(false));

    let (pending, bad) = store.pending();
    for e in &bad {
        output::warning(format!("{e:#}"));
    }
    let before = jobs.len();
    if !args.force {
        let pending: HashSet<&str> = pending.iter().map(|d| d.meta.question_id.as_str()).collect();
        jobs.retain(|j| !pending.contains(j.id().as_str()));
    }
    let skipped = before - jobs.len();
    if let Some(limit) = args.limit {
        jobs.truncate(limit);
    }
    Ok((jobs, skipped))
}

/// `prompts/style.md`, when it exists and says something.
fn house_rules(ctx: &Context) -> Result<Option<String>> {
    let path = ctx.project.prompts_dir().join(STYLE_FILE);
    match std::fs::read_to_string(&path) {
        Ok(s) => Ok(Some(s.trim().to_owned()).filter(|s| !s.is_empty())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}
