//! `aigcq eval`: held-out answered questions drafted afresh by each model with each template,
//! each draft graded by the judge against the book's own answer. Everything goes to a scratch
//! folder under drafts/.eval/; no chapter and no pending draft is touched.

use std::collections::HashSet;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};

use super::Status;
use crate::app::cli::EvalArgs;
use crate::app::commands::batch::{Destination, collect_into};
use crate::app::context::Context;
use crate::app::output::{self, draft::Progress};
use crate::app::submit::{Requests, submit};
use aigcq::batch::Batches;
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
    // Each job with the held question it drafts.
    let (jobs, of_held): (Vec<Job>, Vec<usize>) = facts
        .iter()
        .zip(&held)
        .enumerate()
        .filter_map(|(i, (f, h))| {
            let gap = f.chapter.gaps().find(|g| g.index == h.index)?;
            let job = Job {
                facts: f,
                gap,
                rewrite: false,
            };
            Some((job, i))
        })
        .unzip();

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
    let whole: Vec<Chapter> = match cfg.related_chars {
        0 => Vec::new(),
        _ => chapters.iter().map(|(_, t)| Chapter::parse(t, &rules)).collect(),
    };
    let book: Vec<(&str, &Chapter)> = chapters.iter().map(|(n, _)| n.as_str()).zip(&whole).collect();
    let run_ctx = RunContext {
        style: None,
        today: jiff::Zoned::now().date().to_string(),
        example_chars: cfg.example_chars,
        prompt_cache_key: cfg.prompt_cache_key,
        glossary: project.glossary()?,
        // The whole book as it is: a held-out question is never its own related answer.
        related: ctx.related_index(&book, cfg.related_chars),
        related_chars: cfg.related_chars,
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
    // Model × template pairs whose batches are still running.
    let mut waiting = 0;
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
            let todo = || {
                let (have, _) = store.pending();
                (jobs.iter().zip(&of_held))
                    .filter(|(j, _)| !drafted(&have, j))
                    .map(|(j, &h)| (*j, h))
                    .collect::<Vec<(Job, usize)>>()
            };
            let (usage, seconds) = if args.batch {
                let to = Requests {
                    batches: &Batches::new(&store.root),
                    client: &client,
                    model: &model,
                    host: &host,
                    export: None,
                };
                match by_batch(
                    ctx,
                    &to,
                    &store.root,
                    name,
                    (&templates, &rules, &run_ctx),
                    &held,
                    todo(),
                )? {
                    Batched::Waiting => {
                        waiting += 1;
                        continue;
                    }
                    Batched::Done(f) => failed |= f,
                }
                // The drafts' own usage: a batch has no run time of its own to report.
                let (drafts, _) = store.pending();
                let mut usage = aigcq::llm::Usage::default();
                for u in drafts.iter().filter_map(|d| d.meta.usage) {
                    usage += u;
                }
                (usage, 0.0)
            } else {
                let todo: Vec<Job> = todo().into_iter().map(|(j, _)| j).collect();
                output::eval::start(todo.len(), &model, name);
                let progress = Progress::new(todo.len() as u64, &ctx.cwd);
                let report = |e: Event| progress.event(&e);
                let started = Instant::now();
                let totals = runtime.block_on(drafter.run(todo, &report));
                progress.finish();
                failed |= totals.failed > 0;
                (totals.usage, started.elapsed().as_secs_f64())
            };
            let graded = runtime.block_on(grade(&judge, pairwise.as_ref(), &store, (&held, &parsed), &content));
            failed |= graded.iter().any(|g| g.score.is_none());
            let mut outcome = Outcome::new(&model, name, jobs.len(), graded);
            (outcome.prompt_tokens, outcome.completion_tokens, outcome.seconds) =
                (usage.prompt_tokens, usage.completion_tokens, seconds);
            if let Some(price) = project.config.prices.get(&model) {
                outcome.cost = Some(price.cost(&usage, args.batch));
                outcome.currency = Some(price.currency.clone());
            }
            outcomes.push(outcome);
        }
    }
    if waiting > 0 {
        output::eval::batches_waiting(waiting, &run_id);
        return Ok(if failed { Status::Failed } else { Status::Clean });
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

/// Whether `have` holds a draft of `job`'s question already (a resumed run asks only for
/// the others).
fn drafted(have: &[aigcq::store::Draft], job: &Job) -> bool {
    have.iter()
        .any(|d| d.meta.chapter == job.facts.name && d.meta.index == job.gap.index)
}

/// How a model × template's drafting through the Batch API stands.
enum Batched {
    /// Batches are running (just submitted, or not finished).
    Waiting,
    /// Every draft is in; whether a request failed.
    Done(bool),
}

/// Drafts `todo` (jobs with the held question each drafts) through the Batch API into the
/// store at `root`: collects the batches that finished, submits what has no draft and no
/// batch yet. A chapter may hold out several questions, each in a text of its own under the
/// same name, so the requests go in rounds with no chapter twice, each round's batches
/// recorded in a folder of their own.
fn by_batch(
    ctx: &Context,
    to: &Requests,
    root: &std::path::Path,
    template: &str,
    build: (&Templates, &aigcq::chapter::Rules, &RunContext),
    held: &[Held],
    todo: Vec<(Job, usize)>,
) -> Result<Batched> {
    let runtime = ctx.runtime()?;
    let mut rounds: Vec<Vec<(Job, usize)>> = Vec::new();
    for (job, h) in todo {
        let chapter = &held[h].chapter;
        match rounds
            .iter_mut()
            .find(|r| r.iter().all(|(_, o)| held[*o].chapter != *chapter))
        {
            Some(r) => r.push((job, h)),
            None => rounds.push(vec![(job, h)]),
        }
    }
    let (mut waiting, mut failed) = (false, false);
    // Every round folder ever used, collected first: a resumed run's rounds differ once
    // some drafts are in.
    let mut folders: Vec<std::path::PathBuf> = std::fs::read_dir(root)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.join(".batches").is_dir())
                .collect()
        })
        .unwrap_or_default();
    folders.sort();
    for folder in &folders {
        let batches = Batches::new(folder);
        let texts = round_texts(folder)?;
        let dest = Destination {
            drafts: root.to_path_buf(),
            chapters: Some(&texts),
            template,
        };
        for r in batches.list()?.records {
            if batches.collected_count(&r.id)? >= r.requests {
                continue;
            }
            match runtime.block_on(collect_into(ctx, &batches, to.client, r, &dest))? {
                None => waiting = true,
                Some(f) => failed |= f,
            }
        }
    }
    if waiting {
        return Ok(Batched::Waiting);
    }
    let have = Store::new(root.to_path_buf()).pending().0;
    let mut rounds_sent = 0;
    for round in rounds {
        let round: Vec<(Job, usize)> = round.into_iter().filter(|(j, _)| !drafted(&have, j)).collect();
        if round.is_empty() {
            continue;
        }
        let folder = root.join(format!(".round-{}", folders.len() + rounds_sent));
        std::fs::create_dir_all(&folder).with_context(|| format!("cannot create {}", folder.display()))?;
        let texts: Vec<(String, String)> = round
            .iter()
            .map(|(_, h)| (held[*h].chapter.clone(), held[*h].blanked.clone()))
            .collect();
        aigcq::atomic::write(&folder.join("chapters.json"), &serde_json::to_vec(&texts)?)?;
        let jobs: Vec<Job> = round.iter().map(|(j, _)| *j).collect();
        let batches = Batches::new(&folder);
        failed |= submit(
            ctx,
            &Requests {
                batches: &batches,
                ..*to
            },
            &jobs,
            build,
            None,
            1,
        )?;
        rounds_sent += 1;
    }
    Ok(if rounds_sent > 0 {
        Batched::Waiting
    } else {
        Batched::Done(failed)
    })
}

/// The held-out chapters a round's requests were built from.
fn round_texts(folder: &std::path::Path) -> Result<Vec<(String, String)>> {
    let file = folder.join("chapters.json");
    let bytes =
        aigcq::atomic::read_limited(&file, 1 << 30).with_context(|| format!("cannot read {}", file.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("{} is not a round's chapters", file.display()))
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
