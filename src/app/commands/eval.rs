//! `aigcq eval`: held-out answered questions drafted afresh by each model with each template,
//! each draft graded by the judge against the book's own answer. Everything goes to a scratch
//! folder under drafts/.eval/; no chapter and no pending draft is touched.

use std::collections::HashSet;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};

use super::Status;
use crate::app::cli::EvalArgs;
use crate::app::context::Context;
use crate::app::output::{self, draft::Progress};
use aigcq::chapter::Chapter;
use aigcq::draft::{Drafter, Event, Job};
use aigcq::eval::{self, Graded, Held, Outcome};
use aigcq::judge::Judge;
use aigcq::llm::provider::Overrides;
use aigcq::prompt::{ChapterFacts, RunContext, Templates};
use aigcq::refs::Reference;
use aigcq::select::{self, Item};
use aigcq::store::Store;

pub fn run(ctx: &Context, args: &EvalArgs) -> Result<Status> {
    let project = &ctx.project;
    let rules = project.rules()?;
    let (texts, mut failed) = super::draft::read_chapters(ctx)?;
    let content = project.content_dir();
    let chapters: Vec<(String, String)> = texts
        .into_iter()
        .map(|(p, t)| (aigcq::scan::chapter_name(&p, &content), t))
        .collect();
    let allowed = selected(ctx, args, &chapters, &rules)?;
    let held = eval::sample(&chapters, &rules, (args.sample, args.seed), |c, i| {
        allowed.as_ref().is_none_or(|a| a.contains(&(c.to_owned(), i)))
    });
    if held.is_empty() {
        bail!("no answered question to hold out in scope");
    }
    // Each held-out question in its chapter without its answer.
    let parsed: Vec<Chapter> = held.iter().map(|h| Chapter::parse(&h.blanked, &rules)).collect();
    let facts: Vec<ChapterFacts> = parsed
        .iter()
        .zip(&held)
        .map(|(c, h)| ChapterFacts::new(c, &h.chapter))
        .collect();
    let jobs: Vec<Job> = facts
        .iter()
        .zip(&held)
        .filter_map(|(f, h)| {
            let gap = f.chapter.gaps().find(|g| g.index == h.index)?;
            Some(Job {
                facts: f,
                gap,
                rewrite: false,
            })
        })
        .collect();

    let run_id = aigcq::store::now().replace([':', '-'], "");
    let dir = project.drafts_dir().join(".eval").join(&run_id);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let judge_conn = crate::app::judging::Connection::open(
        ctx,
        &Overrides {
            model: args.judge_model.clone(),
            ..Overrides::default()
        },
        true,
        args.allow_insecure,
    )?;
    let judge = Judge {
        client: &judge_conn.client,
        plain: &judge_conn.plain,
        templates: Templates::load(&project.prompts_dir(), &project.config.judge.template)?,
        refs: None,
        rules: &rules,
        model: &judge_conn.model,
        format_rejected: AtomicBool::new(false),
    };
    let cfg = &project.config.draft;
    let run_ctx = RunContext {
        style: None,
        today: jiff::Zoned::now().date().to_string(),
        example_chars: cfg.example_chars,
        prompt_cache_key: cfg.prompt_cache_key,
    };
    let templates: Vec<String> = if args.template.is_empty() {
        vec![cfg.template.clone()]
    } else {
        args.template.clone()
    };
    let runtime = ctx.runtime()?;
    let mut outcomes = Vec::new();
    for name in &templates {
        let templates = Templates::load(&project.prompts_dir(), name)?;
        for (file, overrides) in super::draft::models(ctx, &args.provider) {
            let (provider, model, client) = ctx.connect_to(&file, &overrides, args.allow_insecure, true, None)?;
            let store = Store::new(dir.join(aigcq::chapter::slug(&format!("{model} {name}"))));
            let host = provider.host();
            let drafter = Drafter {
                client: &client,
                templates: &templates,
                rules: &rules,
                run: &run_ctx,
                store: &store,
                candidates: 1,
                concurrency: provider.concurrency.value,
                model: &model,
                host: &host,
                temperature: provider.temperature.value,
                refs: None,
                content: None,
                judge: None,
                cache_warmup: 0,
                reference_copy: cfg.reference_copy_chars,
            };
            output::eval::start(jobs.len(), &model, name);
            let progress = Progress::new(jobs.len() as u64, &ctx.cwd);
            let report = |e: Event| progress.event(&e);
            let started = Instant::now();
            let totals = runtime.block_on(drafter.run(jobs.clone(), &report));
            progress.finish();
            let seconds = started.elapsed().as_secs_f64();
            failed |= totals.failed > 0;
            let graded = runtime.block_on(grade(&judge, &store, &held, &parsed));
            failed |= graded.iter().any(|g| g.score.is_none());
            let mut outcome = Outcome::new(&model, name, jobs.len(), graded);
            (outcome.prompt_tokens, outcome.completion_tokens, outcome.seconds) =
                (totals.usage.prompt_tokens, totals.usage.completion_tokens, seconds);
            outcomes.push(outcome);
        }
    }
    let results = dir.join("results.json");
    std::fs::write(&results, serde_json::to_vec_pretty(&outcomes)?)
        .with_context(|| format!("cannot write {}", results.display()))?;
    let report = dir.join("report.md");
    std::fs::write(
        &report,
        output::eval::markdown(&outcomes, held.len(), &judge_conn.model),
    )
    .with_context(|| format!("cannot write {}", report.display()))?;
    let mut out = std::io::stdout().lock();
    if args.json {
        output::json(&mut out, &outcomes)?;
    } else {
        output::eval::table(&mut out, &outcomes)?;
    }
    output::eval::kept(&dir, &ctx.cwd);
    Ok(if failed { Status::Failed } else { Status::Clean })
}

/// The answered questions the queries select, by chapter and number; `None` without queries.
fn selected(
    ctx: &Context,
    args: &EvalArgs,
    chapters: &[(String, String)],
    rules: &aigcq::chapter::Rules,
) -> Result<Option<HashSet<(String, usize)>>> {
    if args.queries.is_empty() {
        return Ok(None);
    }
    let parsed: Vec<Chapter> = chapters.iter().map(|(_, t)| Chapter::parse(t, rules)).collect();
    let mut keys = Vec::new();
    let mut items = Vec::new();
    for ((name, _), c) in chapters.iter().zip(&parsed) {
        for q in c.questions.iter().filter(|q| q.gap.is_none() && !q.group) {
            let h = c.heading(q);
            keys.push((name.clone(), q.index));
            items.push(Item {
                chapter: name,
                anchor: h.anchor(),
                index: q.index,
                text: &h.text,
            });
        }
    }
    let picked = select::select(&items, &ctx.queries(&args.queries))?;
    Ok(Some(
        keys.into_iter()
            .zip(picked)
            .filter(|(_, p)| *p)
            .map(|(k, _)| k)
            .collect(),
    ))
}

/// Each draft in `store` graded against its held-out question's answer in the book.
async fn grade(judge: &Judge<'_>, store: &Store, held: &[Held], parsed: &[Chapter<'_>]) -> Vec<Graded> {
    let (drafts, bad) = store.pending();
    let mut out: Vec<Graded> = bad
        .into_iter()
        .map(|e| Graded {
            question: String::new(),
            score: None,
            reasons: format!("{e:#}"),
            warnings: Vec::new(),
        })
        .collect();
    for d in drafts {
        let Some(at) = held
            .iter()
            .position(|h| h.chapter == d.meta.chapter && h.index == d.meta.index)
        else {
            continue;
        };
        let book = [Reference {
            source: "the book's own answer".into(),
            text: held[at].answer.clone(),
            truncated: false,
        }];
        let (score, reasons) = match judge.judge_against(&d, &parsed[at], &book).await {
            Ok(v) => (Some(v.score), v.reasons),
            Err(e) => (None, format!("{e:#}")),
        };
        out.push(Graded {
            question: format!("{}#{}", d.meta.chapter, d.meta.index),
            score,
            reasons,
            warnings: d.meta.warnings.iter().map(|w| w.code.clone()).collect(),
        });
    }
    out
}
