//! `aigcq eval`: held-out answered questions drafted afresh by each model with each template,
//! each draft graded by the judge against the book's own answer. Everything goes to a scratch
//! folder under drafts/.eval/; no chapter and no pending draft is touched.

use std::collections::HashSet;
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

/// What fixes a run's sample, kept in its folder so that `--resume` holds out the same
/// questions.
#[derive(serde::Serialize, serde::Deserialize)]
struct Sample {
    queries: Vec<String>,
    sample: usize,
    seed: u64,
}

pub fn run(ctx: &Context, args: &EvalArgs) -> Result<Status> {
    let project = &ctx.project;
    let root = project.drafts_dir().join(".eval");
    let (run_id, sample) = match &args.resume {
        Some(id) => {
            let dir = aigcq::store::inside(&root, id, "run", "drafts/.eval")?;
            let file = dir.join("run.json");
            let text = aigcq::atomic::read_limited(&file, 1 << 20)
                .with_context(|| format!("{id}: no earlier run there ({})", file.display()))?;
            let sample: Sample =
                serde_json::from_slice(&text).with_context(|| format!("{} is not a run's sample", file.display()))?;
            (id.clone(), sample)
        }
        None => (
            aigcq::store::now().replace([':', '-'], ""),
            Sample {
                queries: args.queries.clone(),
                sample: args.sample,
                seed: args.seed,
            },
        ),
    };
    let dir = root.join(&run_id);
    let rules = project.rules()?;
    let (texts, mut failed) = super::draft::read_chapters(ctx)?;
    let content = project.content_dir();
    let chapters: Vec<(String, String)> = texts
        .into_iter()
        .map(|(p, t)| (aigcq::scan::chapter_name(&p, &content), t))
        .collect();
    let allowed = selected(ctx, &sample.queries, &chapters, &rules)?;
    let held = eval::sample(&chapters, &rules, (sample.sample, sample.seed), |c, i| {
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

    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    aigcq::atomic::write(&dir.join("run.json"), &serde_json::to_vec_pretty(&sample)?)
        .with_context(|| format!("cannot write {}", dir.join("run.json").display()))?;
    let judge_conn = crate::app::judging::Connection::open(
        ctx,
        &Overrides {
            model: args.judge_model.clone(),
            ..Overrides::default()
        },
        true,
        args.allow_insecure,
    )?;
    let judge = judge_conn.judge(ctx, None, &rules)?;
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
    let pairwise = match args.pairwise {
        true => Some(Templates::load(&project.prompts_dir(), "pairwise")?),
        false => None,
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
            // A resumed run drafts only what it has no draft of yet.
            let (have, _) = store.pending();
            let todo: Vec<Job> = (jobs.iter().copied())
                .filter(|j| {
                    !have
                        .iter()
                        .any(|d| d.meta.chapter == j.facts.name && d.meta.index == j.gap.index)
                })
                .collect();
            output::eval::start(todo.len(), &model, name);
            let progress = Progress::new(todo.len() as u64, &ctx.cwd);
            let report = |e: Event| progress.event(&e);
            let started = Instant::now();
            let totals = runtime.block_on(drafter.run(todo, &report));
            progress.finish();
            let seconds = started.elapsed().as_secs_f64();
            failed |= totals.failed > 0;
            let graded = runtime.block_on(grade(&judge, pairwise.as_ref(), &store, (&held, &parsed), &content));
            failed |= graded.iter().any(|g| g.score.is_none());
            let mut outcome = Outcome::new(&model, name, jobs.len(), graded);
            (outcome.prompt_tokens, outcome.completion_tokens, outcome.seconds) =
                (totals.usage.prompt_tokens, totals.usage.completion_tokens, seconds);
            if let Some(price) = project.config.prices.get(&model) {
                outcome.cost = Some(price.cost(&totals.usage, false));
                outcome.currency = Some(price.currency.clone());
            }
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
    queries: &[String],
    chapters: &[(String, String)],
    rules: &aigcq::chapter::Rules,
) -> Result<Option<HashSet<(String, usize)>>> {
    if queries.is_empty() {
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
    let picked = select::select(&items, &ctx.queries(queries))?;
    Ok(Some(
        keys.into_iter()
            .zip(picked)
            .filter(|(_, p)| *p)
            .map(|(k, _)| k)
            .collect(),
    ))
}

/// Each draft in `store` graded against its held-out question's answer in the book; the
/// verdict is kept in the draft, and a draft that has one (a resumed run) is not asked again.
async fn grade(
    judge: &Judge<'_>,
    pairwise: Option<&Templates>,
    store: &Store,
    (held, parsed): (&[Held], &[Chapter<'_>]),
    content: &std::path::Path,
) -> Vec<Graded> {
    let (drafts, bad) = store.pending();
    let mut out: Vec<Graded> = bad
        .into_iter()
        .map(|e| Graded {
            question: String::new(),
            score: None,
            reasons: format!("{e:#}"),
            warnings: Vec::new(),
            pairwise: None,
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
        let (score, reasons) = match (d.meta.score, &d.meta.reasons) {
            (Some(s), Some(r)) => (Some(s), r.clone()),
            _ => match judge.judge_against(&d, &parsed[at], &book).await {
                Ok(v) => {
                    // Kept for a resumed run; a run that cannot keep it still reports it.
                    let chapter = content.join(&d.meta.chapter);
                    let _ = aigcq::judge::record(store, &chapter, &d, &v, (judge.model, &judge.rubric()));
                    (Some(v.score), v.reasons)
                }
                Err(e) => (None, format!("{e:#}")),
            },
        };
        let duel = match pairwise {
            Some(t) => {
                let book = held[at].answer.as_str();
                let asked = (held[at].question.as_str(), aigcq::text::language(parsed[at].text()));
                let draft = d.body.trim();
                // Asked with the book's answer first, then the draft first.
                let first = judge.prefer(t, asked, book, draft).await.map(|p| p.map(|a| !a));
                let second = judge.prefer(t, asked, draft, book).await;
                match (first, second) {
                    (Ok(f), Ok(s)) => Some(eval::both_orders(f, s)),
                    (Err(e), _) | (_, Err(e)) => {
                        output::error(format!("{}: {e:#}", d.id));
                        None
                    }
                }
            }
            None => None,
        };
        out.push(Graded {
            question: format!("{}#{}", d.meta.chapter, d.meta.index),
            score,
            reasons,
            warnings: d.meta.warnings.iter().map(|w| w.code.clone()).collect(),
            pairwise: duel,
        });
    }
    out
}
