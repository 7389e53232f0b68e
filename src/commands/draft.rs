//! `aigcq draft`: choose the gaps, then either print their prompts (`--dry-run`) or draft them
//! with progress output, stopping cleanly on Ctrl-C.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use console::style;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;

use super::{Context, Status};
use crate::chapter::Chapter;
use crate::cli::DraftArgs;
use crate::draft::client::Client;
use crate::draft::{Drafter, Event, Job, Summary};
use crate::drafts::Store;
use crate::prompt::{ChapterFacts, RunContext, STYLE_FILE, Templates};
use crate::provider::Provider;
use crate::select::{self, Item};
use crate::{output, scan};

pub fn run(ctx: &Context, args: &DraftArgs) -> Result<Status> {
    let project = &ctx.project;
    let rules = project.rules()?;
    let content = project.content_dir();
    let (files, errors) = scan::chapter_paths(&ctx.inputs(&[])?);
    let read = files
        .par_iter()
        .map(|p| scan::read_chapter(p).map(|t| (p.clone(), t)))
        .collect();
    let (texts, mut failed) = super::report_errors(&errors, read);
    let names: Vec<String> = texts.iter().map(|(p, _)| scan::chapter_name(p, &content)).collect();
    let chapters: Vec<Chapter> = texts.par_iter().map(|(_, t)| Chapter::parse(t, &rules)).collect();
    let facts: Vec<ChapterFacts> = chapters
        .iter()
        .zip(&names)
        .filter(|(chapter, _)| chapter.gaps().next().is_some())
        .map(|(chapter, name)| ChapterFacts::new(chapter, name))
        .collect();

    let mut jobs: Vec<Job> = facts
        .iter()
        .flat_map(|facts| facts.chapter.gaps().map(move |gap| Job { facts, gap }))
        .filter(|j| args.kind.is_empty() || args.kind.contains(&j.gap.kind))
        .collect();
    let queries = ctx.queries(&args.queries);
    let items: Vec<Item> = jobs
        .iter()
        .map(|j| Item {
            chapter: j.facts.name,
            anchor: j.gap.anchor,
            index: j.gap.index,
            text: j.gap.text,
        })
        .collect();
    let picked = select::select(&items, &queries)?;
    let mut keep = picked.into_iter();
    jobs.retain(|_| keep.next().unwrap_or(false));

    let store = Store::new(project.drafts_dir());
    let (pending, bad) = store.pending();
    for e in &bad {
        output::warning(format!("{e:#}"));
    }
    let before = jobs.len();
    if !args.force {
        let pending: std::collections::HashSet<&str> = pending.iter().map(|d| d.meta.question_id.as_str()).collect();
        jobs.retain(|j| !pending.contains(j.id().as_str()));
    }
    let skipped = before - jobs.len();
    if let Some(limit) = args.limit {
        jobs.truncate(limit);
    }

    let cfg = &project.config.draft;
    let templates = Templates::load(
        &project.prompts_dir(),
        args.template.as_deref().unwrap_or(&cfg.template),
    )?;
    let style_path = project.prompts_dir().join(STYLE_FILE);
    let house_rules = match std::fs::read_to_string(&style_path) {
        Ok(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", style_path.display())),
    };
    let run_ctx = RunContext {
        style: house_rules,
        today: jiff::Zoned::now().date().to_string(),
        example_chars: args.example_chars.unwrap_or(cfg.example_chars),
    };
    let candidates = args.candidates.unwrap_or(cfg.candidates).max(1);

    if args.dry_run {
        failed |= dry_run(&jobs, &templates, &rules, &run_ctx, candidates, args.json)?;
        return Ok(if failed { Status::Failed } else { Status::Clean });
    }
    if jobs.is_empty() {
        eprintln!("nothing to draft{}", skipped_note(skipped));
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
    let total = jobs.len();
    eprintln!(
        "drafting {total} question{} with {model} at {host} ({} in flight){}",
        plural(total),
        provider.concurrency.value,
        skipped_note(skipped)
    );
    // One thread is plenty for network-bound work, and it means a Ctrl-C is handled only
    // between steps, never while a draft file is half written.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let report = |e: Event| progress.event(&e);
    let outcome = runtime.block_on(async {
        tokio::select! {
            s = drafter.run(jobs, &report) => Some(s),
            _ = tokio::signal::ctrl_c() => None,
        }
    });
    progress.finish();
    let Some(summary) = outcome else {
        eprintln!(
            "{} interrupted: drafts already saved stay; requests in flight were dropped",
            style("✗").red().for_stderr()
        );
        return Ok(Status::Interrupted);
    };
    print_summary(&summary, skipped, started.elapsed());
    Ok(if failed || summary.failed > 0 {
        Status::Failed
    } else {
        Status::Clean
    })
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn skipped_note(skipped: usize) -> String {
    if skipped == 0 {
        String::new()
    } else {
        format!("; {skipped} skipped with a pending draft (--force drafts them again)")
    }
}

/// Prints each job's messages and the totals. Returns whether any prompt failed to render.
fn dry_run(
    jobs: &[Job],
    templates: &Templates,
    rules: &crate::chapter::Rules,
    run: &RunContext,
    k: u32,
    json: bool,
) -> Result<bool> {
    let mut out = std::io::stdout().lock();
    let (mut chars, mut failed, mut rendered) = (0, false, Vec::new());
    for job in jobs {
        match job.messages(templates, rules, run) {
            Ok(m) => {
                chars += m.chars();
                if json {
                    rendered.push(
                        serde_json::json!({"id": job.id(), "kind": job.gap.kind, "messages": m, "chars": m.chars()}),
                    );
                } else {
                    writeln!(
                        out,
                        "{}",
                        style(format!("── {} ({}) ──", job.id(), job.gap.kind)).bold()
                    )?;
                    if let Some(s) = &m.system {
                        writeln!(out, "{}\n{s}\n", style("[system]").cyan())?;
                    }
                    writeln!(out, "{}\n{}\n", style("[user]").cyan(), m.user)?;
                }
            }
            Err(e) => {
                output::error(format!("{}: {e:#}", job.id()));
                failed = true;
            }
        }
    }
    if json {
        output::json(&mut out, &rendered)?;
    }
    let n = jobs.len();
    let requests = if k > 1 {
        format!(
            "{n} request{} (or {} if the server ignores n)",
            plural(n),
            n * k as usize
        )
    } else {
        format!("{n} request{}", plural(n))
    };
    eprintln!(
        "dry run: {n} question{} × {k} candidate{}, {requests}, {chars} prompt characters; nothing sent",
        plural(n),
        plural(k as usize)
    );
    Ok(failed)
}

fn print_summary(s: &Summary, skipped: usize, wall: Duration) {
    let failed = if s.failed > 0 {
        style(format!("{} failed", s.failed)).red().for_stderr().to_string()
    } else {
        "0 failed".into()
    };
    let truncated = if s.truncated > 0 {
        format!(", {} truncated at max_tokens", s.truncated)
    } else {
        String::new()
    };
    eprintln!(
        "drafted {} question{} ({} candidate{}{truncated}), {failed}, {skipped} skipped · tokens {} prompt + {} completion · {:.1} s",
        s.drafted,
        plural(s.drafted),
        s.candidates,
        plural(s.candidates),
        s.usage.prompt_tokens,
        s.usage.completion_tokens,
        wall.as_secs_f64()
    );
}

/// A progress bar with per-question lines on a terminal; plain lines otherwise.
struct Progress<'a> {
    bar: Option<ProgressBar>,
    cwd: &'a Path,
}

impl<'a> Progress<'a> {
    fn new(len: u64, cwd: &'a Path) -> Progress<'a> {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
            b.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {wide_msg}")
                    .expect("a valid template"),
            );
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        Progress { bar, cwd }
    }

    fn line(&self, s: String) {
        match &self.bar {
            Some(b) => b.println(s),
            None => eprintln!("{s}"),
        }
    }

    fn event(&self, e: &Event) {
        match e {
            Event::Retrying { id, error, delay } => self.line(format!(
                "{} {id}: {error}; retrying in {:.1} s",
                style("↻").yellow().for_stderr(),
                delay.as_secs_f64()
            )),
            Event::Drafted {
                id,
                saved,
                truncated,
                problems,
            } => {
                let shown: Vec<String> = saved.iter().map(|p| scan::display_path(p, self.cwd)).collect();
                let mut s = format!("{} {id} → {}", style("✓").green().for_stderr(), shown.join(", "));
                if *truncated {
                    s.push_str(&style(" (truncated at max_tokens)").yellow().for_stderr().to_string());
                }
                for p in *problems {
                    s.push_str(&format!("; {}", style(p).yellow().for_stderr()));
                }
                self.line(s);
                self.advance(id);
            }
            Event::Failed { id, error } => {
                self.line(format!("{} {id}: {error:#}", style("✗").red().for_stderr()));
                self.advance(id);
            }
        }
    }

    fn advance(&self, id: &str) {
        if let Some(b) = &self.bar {
            b.inc(1);
            b.set_message(id.to_owned());
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
