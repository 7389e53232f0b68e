//! `aigcq draft`: plan the jobs, then either print their prompts (`--dry-run`) or draft them,
//! stopping cleanly on Ctrl-C.

use std::collections::HashSet;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use rayon::prelude::*;

use super::Status;
use crate::app::cli::DraftArgs;
use crate::app::context::Context;
use crate::app::output::{self, draft::Progress};
use aigcq::chapter::{Chapter, GapKind};
use aigcq::draft::{Drafter, Event, Job, ModelEntry, Reviser};
use aigcq::llm::provider::Overrides;
use aigcq::prompt::{ChapterFacts, RunContext, STYLE_FILE, Templates};
use aigcq::scan;
use aigcq::select::{self, Item};
use aigcq::store::Store;

pub fn run(ctx: &Context, args: &DraftArgs) -> Result<Status> {
    let models = models(ctx, &args.provider);
    if models.len() > 1 && (args.batch || args.feedback.is_some()) {
        bail!(
            "several --model drafts side by side only without --batch and --feedback; give one model (or run once per model)"
        );
    }
    if let Some(note) = &args.feedback {
        return feedback(ctx, args, note);
    }
    let project = &ctx.project;
    let rules = project.rules()?;
    let (texts, mut failed) = read_chapters(ctx)?;
    let content = project.content_dir();
    let names: Vec<String> = texts.iter().map(|(p, _)| scan::chapter_name(p, &content)).collect();
    let chapters: Vec<Chapter> = texts.par_iter().map(|(_, t)| Chapter::parse(t, &rules)).collect();
    let facts: Vec<ChapterFacts> = chapters
        .iter()
        .zip(&names)
        .filter(|(chapter, _)| args.rewrite || chapter.gaps().next().is_some())
        .map(|(chapter, name)| ChapterFacts::new(chapter, name))
        .collect();

    let store = Store::new(project.drafts_dir());
    let (jobs, skipped) = plan(ctx, args, &facts, &store)?;

    let cfg = &project.config.draft;
    let templates = Templates::load(
        &project.prompts_dir(),
        args.template.as_deref().unwrap_or(&cfg.template),
    )?;
    let related_chars = args.related_chars.unwrap_or(cfg.related_chars);
    let book: Vec<(&str, &Chapter)> = names.iter().map(String::as_str).zip(&chapters).collect();
    let run_ctx = RunContext {
        style: house_rules(ctx)?,
        today: jiff::Zoned::now().date().to_string(),
        example_chars: args.example_chars.unwrap_or(cfg.example_chars),
        prompt_cache_key: cfg.prompt_cache_key,
        glossary: project.glossary()?,
        related: ctx.related_index(&book, related_chars),
        related_chars,
    };
    let candidates = args.candidates.unwrap_or(cfg.candidates).max(1);

    let mut refs = ctx.references(
        &args.refs,
        args.ref_chars,
        &args.provider.overrides(),
        args.allow_insecure,
    )?;
    refs.answered = answered_elsewhere(&book, &rules, project.config.check.duplicate_similarity);
    if args.dry_run {
        let runtime = ctx.runtime()?;
        let prompts: Vec<output::draft::Prompt> = jobs
            .iter()
            .map(|job| {
                let rendered = runtime.block_on(job.references(Some(&refs))).and_then(|r| {
                    let context = job.context(&rules, &run_ctx, &r);
                    Ok((job.render(&templates, &context, &run_ctx)?, context.related))
                });
                let (messages, related) = match rendered {
                    Ok((m, related)) => (Ok(m), related),
                    Err(e) => (Err(e), Vec::new()),
                };
                output::draft::Prompt {
                    id: job.id(),
                    kind: job.gap.kind,
                    messages,
                    related,
                }
            })
            .collect();
        failed |= output::draft::dry_run(&prompts, candidates, args.json)?;
        // Tokens and cost, from the model's tokenizer or an estimate.
        let provider = ctx.provider(&args.provider.overrides()).ok();
        let model = provider.as_ref().and_then(|p| p.model.value.clone());
        let max_tokens = provider.as_ref().and_then(|p| p.max_tokens.value).map(u64::from);
        let counter = model.as_deref().map_or(
            aigcq::llm::tokens::Counter::Estimate,
            aigcq::llm::tokens::Counter::for_model,
        );
        let plan = aigcq::cost::plan(
            jobs.iter().zip(&prompts).filter_map(|(job, p)| {
                let (low, high) = job.facts.answer_tokens().unwrap_or(DEFAULT_ANSWER_TOKENS);
                let cap = |t: u64| max_tokens.map_or(t, |m| t.min(m)) * u64::from(candidates);
                Some(aigcq::cost::Request {
                    chapter: job.facts.name,
                    messages: p.messages.as_ref().ok()?,
                    output: (cap(low), cap(high)),
                })
            }),
            &counter,
        );
        let price = model
            .as_deref()
            .and_then(|m| project.config.prices.get(m).map(|p| (m, p)));
        output::draft::estimate(&plan, counter.method(), model.as_deref(), price);
        return Ok(if failed { Status::Failed } else { Status::Clean });
    }
    if jobs.is_empty() {
        output::draft::nothing(skipped);
        return Ok(if failed { Status::Failed } else { Status::Clean });
    }
    if args.batch {
        let submitted = crate::app::submit::run(ctx, args, &jobs, &templates, &rules, &run_ctx, &refs, candidates)?;
        return Ok(if failed || submitted == Status::Failed {
            Status::Failed
        } else {
            submitted
        });
    }

    let run = Run {
        ctx,
        args,
        jobs: &jobs,
        templates: &templates,
        rules: &rules,
        run_ctx: &run_ctx,
        store: &store,
        candidates,
        refs: &refs,
        content: &content,
        skipped,
    };
    // Several models: each drafts every question in turn, its candidates beside the others'.
    let mut status = if failed { Status::Failed } else { Status::Clean };
    for (file, overrides) in &models {
        match run.with(file, overrides)? {
            Status::Interrupted => return Ok(Status::Interrupted),
            Status::Clean => {}
            s => status = s,
        }
    }
    Ok(status)
}

/// What every model of a run drafts with.
struct Run<'a> {
    ctx: &'a Context,
    args: &'a DraftArgs,
    jobs: &'a [Job<'a>],
    templates: &'a Templates,
    rules: &'a aigcq::chapter::Rules,
    run_ctx: &'a RunContext,
    store: &'a Store,
    candidates: u32,
    refs: &'a aigcq::refs::Refs,
    content: &'a std::path::Path,
    skipped: usize,
}

impl Run<'_> {
    /// Drafts every job with the model (and endpoint) of `overrides` over the `[provider]`
    /// table `file`.
    fn with(&self, file: &aigcq::llm::provider::ProviderConfig, overrides: &Overrides) -> Result<Status> {
        let Run {
            ctx,
            args,
            jobs,
            templates,
            rules,
            run_ctx,
            store,
            candidates,
            refs,
            content,
            skipped,
        } = *self;
        let project = &ctx.project;
        let cfg = &project.config.draft;
        let (provider, model, client) = ctx.connect_to(file, overrides, args.allow_insecure, !args.no_stream, None)?;
        let host = provider.host();
        let judging = if args.judge {
            // The drafting endpoint and model, unless [judge] names its own; not the drafting
            // temperature or token limit.
            let drafting = overrides.clone();
            let flags = Overrides {
                base_url: drafting.base_url,
                model: drafting.model,
                ..Overrides::default()
            };
            Some(crate::app::judging::Connection::open(
                ctx,
                &flags,
                false,
                args.allow_insecure,
            )?)
        } else {
            None
        };
        let verdicts = match &judging {
            Some(c) => Some(crate::app::judging::Verdicts::new(ctx, c, refs, rules)?),
            None => None,
        };
        let drafter = Drafter {
            client: &client,
            templates,
            rules,
            run: run_ctx,
            store,
            candidates,
            concurrency: provider.concurrency.value,
            model: &model,
            host: &host,
            temperature: provider.temperature.value,
            refs: Some(refs),
            content: Some(content),
            judge: verdicts.as_ref().map(|v| v.judge_ref()),
            cache_warmup: cfg.cache_warmup,
            reference_copy: cfg.reference_copy_chars,
        };

        let progress = Progress::new(jobs.len() as u64, &ctx.cwd);
        let started = Instant::now();
        output::draft::start(jobs.len(), &model, &host, provider.concurrency.value, skipped);
        // One thread is plenty for network-bound work, and it means a Ctrl-C is handled only
        // between steps, never while a draft file is half written.
        let runtime = ctx.runtime()?;
        let report = |e: Event| progress.event(&e);
        let totals = runtime.block_on(async {
            tokio::select! {
                s = drafter.run(jobs.to_vec(), &report) => Some(s),
                _ = tokio::signal::ctrl_c() => None,
            }
        });
        progress.finish();
        ctx.remember_pace(&provider, &model, &client);
        let Some(totals) = totals else {
            output::draft::interrupted();
            return Ok(Status::Interrupted);
        };
        output::draft::summary(&totals, skipped, started.elapsed(), project.config.prices.get(&model));
        output::draft::truncated_hint(totals.truncated, provider.max_tokens.value);
        Ok(if totals.failed > 0 || totals.unjudged > 0 {
            Status::Failed
        } else {
            Status::Clean
        })
    }
}

/// The models of the run, each as its `[provider]` table and flags: every `--model`, else
/// every model of `[[draft.models]]` (its endpoint and key variable over the provider's, as
/// flags are), else the one model of the flags, the environment or `[provider]`.
pub(crate) fn models(
    ctx: &Context,
    args: &crate::app::cli::ProviderArgs,
) -> Vec<(aigcq::llm::provider::ProviderConfig, Overrides)> {
    let provider = &ctx.project.config.provider;
    let flags = args.overrides();
    let named: Vec<ModelEntry> = match args.model.as_slice() {
        [] => ctx.project.config.draft.models.clone(),
        [_] => Vec::new(),
        many => (many.iter())
            .map(|m| ModelEntry {
                model: m.clone(),
                base_url: None,
                api_key_env: None,
            })
            .collect(),
    };
    if named.is_empty() {
        return vec![(provider.clone(), flags)];
    }
    (named.into_iter())
        .map(|e| {
            let mut file = provider.clone();
            file.api_key_env = e.api_key_env.or(file.api_key_env);
            let overrides = Overrides {
                model: Some(e.model),
                base_url: e.base_url.or(flags.base_url.clone()),
                ..flags.clone()
            };
            (file, overrides)
        })
        .collect()
}

/// Every chapter under the content folder, read; the flag says whether any could not be read.
pub(crate) fn read_chapters(ctx: &Context) -> Result<(Vec<(std::path::PathBuf, String)>, bool)> {
    let (files, errors) = scan::chapter_paths(&ctx.inputs(&[])?);
    let read = files
        .par_iter()
        .map(|p| scan::read_chapter(p).map(|t| (p.clone(), t)))
        .collect();
    Ok(super::report_errors(&errors, read))
}

/// The book's answer to each gap that an answered question asks too (what `aigcq gaps` marks
/// "answered in"), as a reference for that gap: `other.md#anchor`, its question and answer.
fn answered_elsewhere(
    book: &[(&str, &Chapter)],
    rules: &aigcq::chapter::Rules,
    similarity: f64,
) -> std::collections::HashMap<(String, usize), aigcq::refs::Loaded> {
    let keys: Vec<aigcq::gaps::Keys> = book.par_iter().map(|(_, c)| aigcq::gaps::Keys::of(c, rules)).collect();
    aigcq::gaps::answered_elsewhere(&keys, similarity)
        .into_iter()
        .filter_map(|(c, anchor, twin)| {
            let (name, chapter) = book[c];
            let gap = chapter.gaps().find(|g| g.anchor == anchor)?;
            let (other, answering) = book[twin.chapter];
            let q = &answering.questions[twin.question];
            let heading = answering.heading(q);
            let loaded = aigcq::refs::Loaded {
                source: format!("{other}#{}", heading.anchor()),
                text: format!("{}\n\n{}", heading.text, answering.answer_body(q).trim()),
            };
            Some(((name.to_owned(), gap.index), loaded))
        })
        .collect()
}

/// The answer-length range when a chapter has no answers to measure.
const DEFAULT_ANSWER_TOKENS: (u64, u64) = (300, 1200);

/// The jobs a run drafts, in chapter and question order, and how many gaps were skipped
/// because they have a pending draft.
fn plan<'c>(
    ctx: &Context,
    args: &DraftArgs,
    facts: &'c [ChapterFacts<'c>],
    store: &Store,
) -> Result<(Vec<Job<'c>>, usize)> {
    let queries = ctx.queries(&args.queries);
    let mut jobs: Vec<Job> = if args.rewrite {
        answered(facts).collect()
    } else {
        facts
            .iter()
            .flat_map(|facts| {
                facts.chapter.gaps().map(move |gap| Job {
                    facts,
                    gap,
                    rewrite: false,
                })
            })
            .filter(|j| args.kind.is_empty() || args.kind.contains(&j.gap.kind))
            .collect()
    };
    let picked = match select::select(&items(&jobs), &queries) {
        Ok(p) => p,
        Err(e) if !args.rewrite => {
            // Say so when the queries name answered questions rather than nothing at all.
            let answered: Vec<Job> = answered(facts).collect();
            let hits = select::select(&items(&answered), &queries).unwrap_or_default();
            let named: Vec<String> = answered
                .iter()
                .zip(hits)
                .filter(|(_, hit)| *hit)
                .map(|(j, _)| format!("question {} of {}", j.gap.index, j.facts.name))
                .collect();
            if named.is_empty() {
                return Err(e.into());
            }
            bail!(
                "{} already answered; use --rewrite to draft a new version",
                if named.len() == 1 {
                    format!("{} is", named[0])
                } else {
                    format!("{} are", named.join(", "))
                }
            );
        }
        Err(e) => return Err(e.into()),
    };
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

/// The answered questions of `facts`, as jobs for a new version.
fn answered<'c>(facts: &'c [ChapterFacts<'c>]) -> impl Iterator<Item = Job<'c>> {
    facts.iter().flat_map(|facts| {
        let chapter = facts.chapter;
        chapter
            .questions
            .iter()
            .filter(|q| q.gap.is_none() && !q.group)
            .map(move |q| Job {
                facts,
                gap: chapter.as_gap(q, GapKind::Stub),
                rewrite: true,
            })
    })
}

fn items<'j>(jobs: &'j [Job]) -> Vec<Item<'j>> {
    jobs.iter()
        .map(|j| Item {
            chapter: j.facts.name,
            anchor: j.gap.anchor,
            index: j.gap.index,
            text: j.gap.text,
        })
        .collect()
}

/// `draft ID… --feedback NOTE`: each named pending draft revised by the note.
fn feedback(ctx: &Context, args: &DraftArgs, note: &str) -> Result<Status> {
    if args.queries.is_empty() {
        bail!("--feedback needs the ids of the drafts to revise (see aigcq review --list)");
    }
    let store = Store::new(ctx.project.drafts_dir());
    let (pending, _) = store.pending();
    let drafts = aigcq::store::by_ids(&pending, &args.queries)?;
    let rules = ctx.project.rules()?;
    let (provider, model, client) = ctx.connect(
        &args.provider.overrides(),
        args.allow_insecure,
        !args.no_stream,
        Some(&drafts[0].meta.model),
    )?;
    let runtime = ctx.runtime()?;
    let glossary = ctx.project.glossary()?;
    let mut failed = false;
    for d in drafts {
        let frame = ctx.frame_of(d);
        let revised = output::draft::revising(&ctx.cwd, &|_| {}, |report| {
            let reviser = Reviser {
                client: &client,
                store: &store,
                rules: &rules,
                model: &model,
                host: &provider.host(),
                temperature: provider.temperature.value,
                report,
                frame: &frame,
                glossary: glossary.as_ref(),
            };
            ctx.revise(&runtime, &reviser, &pending, d, note)
        });
        match revised {
            Ok(path) => output::draft::revised(&d.id, &path, &ctx.cwd),
            Err(e) => {
                output::error(format!("{}: {e:#}", d.id));
                failed = true;
            }
        }
    }
    Ok(if failed { Status::Failed } else { Status::Clean })
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
