//! `aigcq draft`: the opening line, progress, dry-run prompts and the closing summary.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Result;
use console::style;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

use super::plural;
use aigcq::chapter::GapKind;
use aigcq::draft::{Event, Totals};
use aigcq::llm::Messages;
use aigcq::scan;

/// A rendered prompt, or why it could not be rendered.
pub struct Prompt {
    pub id: String,
    pub kind: GapKind,
    pub messages: Result<Messages>,
    /// The book's related answers the prompt holds.
    pub related: Vec<aigcq::prompt::Related>,
}

fn skipped_note(skipped: usize) -> String {
    if skipped == 0 {
        String::new()
    } else {
        format!("; {skipped} skipped with a pending draft (--force drafts them again)")
    }
}

/// When nothing is left to draft.
pub fn nothing(skipped: usize) {
    eprintln!("nothing to draft{}", skipped_note(skipped));
}

/// The line before the requests go out.
pub fn start(total: usize, model: &str, host: &str, concurrency: usize, skipped: usize) {
    eprintln!(
        "drafting {} with {model} at {host} ({} in flight){}",
        plural(total, "question"),
        concurrency.min(total),
        skipped_note(skipped)
    );
}

/// Prints each prompt (or its error) and the totals. Returns whether any failed to render.
pub fn dry_run(prompts: &[Prompt], candidates: u32, as_json: bool) -> Result<bool> {
    let mut out = std::io::stdout().lock();
    let (mut chars, mut failed, mut rendered) = (0, false, Vec::new());
    for p in prompts {
        match &p.messages {
            Ok(m) => {
                chars += m.chars();
                if as_json {
                    rendered.push(
                        json!({"id": p.id, "kind": p.kind, "messages": m, "chars": m.chars(), "related": p.related}),
                    );
                } else {
                    writeln!(out, "{}", style(format!("── {} ({}) ──", p.id, p.kind)).bold())?;
                    if let Some(s) = &m.system {
                        writeln!(out, "{}\n{s}\n", style("[system]").cyan())?;
                    }
                    writeln!(out, "{}\n{}\n", style("[user]").cyan(), m.user)?;
                }
            }
            Err(e) => {
                super::error(format!("{}: {e:#}", p.id));
                failed = true;
            }
        }
    }
    if as_json {
        super::json(&mut out, &rendered)?;
    }
    out.flush()?;
    let n = prompts.len();
    let k = candidates as usize;
    let requests = if k > 1 {
        format!("{} (or {} if the server ignores n)", plural(n, "request"), n * k)
    } else {
        plural(n, "request")
    };
    eprintln!(
        "dry run: {} × {}, {requests}, {chars} prompt characters; nothing sent",
        plural(n, "question"),
        plural(k, "candidate")
    );
    Ok(failed)
}

/// The dry run's tokens and, with the model's prices, its cost: low–high for the run as
/// sent, with the prompt cache, and as a batch.
pub fn estimate(
    plan: &aigcq::cost::Plan,
    method: &str,
    model: Option<&str>,
    price: Option<(&str, &aigcq::cost::Price)>,
) {
    eprintln!(
        "tokens: {} prompt ({method}), {} of them cacheable; {}–{} answer tokens (the middle half of the chapters' answer lengths)",
        plan.prompt_tokens, plan.cacheable_tokens, plan.output_low, plan.output_high
    );
    match (price, model) {
        (Some((model, p)), _) => {
            let e = plan.estimate(p);
            let range = |(low, high): (f64, f64)| p.format_range(low, high);
            eprintln!(
                "cost at {model}'s prices{}: {} · with the prompt cache {} · as a batch (draft --batch) {}",
                p.effective.as_deref().map(|d| format!(" of {d}")).unwrap_or_default(),
                range(e.run),
                range(e.cached),
                range(e.batch)
            );
        }
        (None, Some(model)) => {
            eprintln!("no price for {model}: add [prices.\"{model}\"] to aigcq.toml to see the cost")
        }
        (None, None) => {}
    }
}

/// A draft revised by feedback.
pub fn revised(parent: &str, saved: &Path, cwd: &Path) {
    eprintln!(
        "{} {parent} revised → {}",
        style("✓").green().for_stderr(),
        scan::display_path(saved, cwd)
    );
}

/// After Ctrl-C.
pub fn interrupted() {
    eprintln!(
        "{} interrupted: drafts already saved stay; requests in flight were dropped",
        style("✗").red().for_stderr()
    );
}

/// `, cache hit 78 % of prompt tokens`, when the provider reported cached tokens.
pub fn cache_hit(u: &aigcq::llm::Usage) -> String {
    if u.cached_tokens == 0 || u.prompt_tokens == 0 {
        return String::new();
    }
    format!(
        ", cache hit {} % of prompt tokens",
        (u.cached_tokens * 100 + u.prompt_tokens / 2) / u.prompt_tokens
    )
}

/// ` · cost 0.012 USD`, with the model's prices.
pub fn cost(u: &aigcq::llm::Usage, price: Option<&aigcq::cost::Price>, batch: bool) -> String {
    price.map_or(String::new(), |p| format!(" · cost {}", p.format(p.cost(u, batch))))
}

/// The closing line.
pub fn summary(s: &Totals, skipped: usize, wall: Duration, price: Option<&aigcq::cost::Price>) {
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
        "drafted {} ({}{truncated}), {failed}, {skipped} skipped · tokens {} prompt + {} completion{}{} · {:.1} s",
        plural(s.drafted, "question"),
        plural(s.candidates, "candidate"),
        s.usage.prompt_tokens,
        s.usage.completion_tokens,
        cache_hit(&s.usage),
        cost(&s.usage, price, false),
        wall.as_secs_f64()
    );
}

/// What to do about answers cut at a token limit: the request's (`max_tokens`), or the
/// server's own when the request set none (llama.cpp stops at its `n_predict`, 512 here).
pub fn truncated_hint(truncated: usize, max_tokens: Option<u32>) {
    if truncated == 0 {
        return;
    }
    let what = match max_tokens {
        Some(n) => format!("at max_tokens = {n}; raise --max-tokens (or max_tokens in [provider])"),
        None => "at the server's own token limit (the request set none); set --max-tokens (or max_tokens in [provider]) above it, and the server's limit if it has one".into(),
    };
    let answers = if truncated == 1 {
        "1 answer was".to_owned()
    } else {
        format!("{truncated} answers were")
    };
    eprintln!("{} {answers} cut {what}", style("note:").yellow().for_stderr());
}

/// Runs one revision (`f` in review, `draft --feedback`) under a progress line that shows
/// the answer streaming in and the retries; `run` gets what reports to it, and `watch` sees
/// each event too (the review page shows them).
pub fn revising<T>(cwd: &Path, watch: &(dyn Fn(&Event) + Sync), run: impl FnOnce(&(dyn Fn(Event) + Sync)) -> T) -> T {
    let progress = Progress::new(1, cwd);
    let got = run(&|e| {
        watch(&e);
        progress.event(&e);
    });
    progress.finish();
    got
}

/// A progress bar with per-question lines on a terminal; plain lines otherwise. While
/// answers stream in, the bar shows the tokens received so far and their rate, so that a slow
/// model can be told from a hang.
pub struct Progress<'a> {
    bar: Option<ProgressBar>,
    cwd: &'a Path,
    started: Instant,
    /// Pieces received per question (about one token each).
    received: Mutex<HashMap<String, usize>>,
}

impl<'a> Progress<'a> {
    pub fn new(len: u64, cwd: &'a Path) -> Progress<'a> {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
            b.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {wide_msg}")
                    .expect("a valid template"),
            );
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        Progress {
            bar,
            cwd,
            started: Instant::now(),
            received: Mutex::new(HashMap::new()),
        }
    }

    fn line(&self, s: String) {
        match &self.bar {
            Some(b) => b.println(s),
            None => eprintln!("{s}"),
        }
    }

    pub fn event(&self, e: &Event) {
        match e {
            Event::Receiving { id, deltas, .. } => {
                let Some(b) = &self.bar else { return };
                let mut received = self.received.lock().unwrap_or_else(|p| p.into_inner());
                received.insert((*id).to_owned(), *deltas);
                let total: usize = received.values().sum();
                let rate = total as f64 / self.started.elapsed().as_secs_f64().max(0.001);
                b.set_message(format!("≈{total} tokens received · {rate:.0} tokens/s"));
            }
            Event::Retrying { id, error, delay } => self.line(format!(
                "{} {id}: {}; retrying in {:.1} s",
                style("↻").yellow().for_stderr(),
                super::safe(&error.to_string()),
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
                    s.push_str(&format!(
                        "; {}",
                        style(super::safe(&p.to_string())).yellow().for_stderr()
                    ));
                }
                self.line(s);
                self.advance(id);
            }
            Event::OneByOne { why } => {
                self.line(format!("{} {}", style("note:").yellow().for_stderr(), super::safe(why)))
            }
            Event::Failed { id, error } => {
                self.line(format!(
                    "{} {id}: {}",
                    style("✗").red().for_stderr(),
                    super::safe(&format!("{error:#}"))
                ));
                self.advance(id);
            }
            Event::Judged { draft, verdict } => {
                self.line(super::judge::verdict_line(draft, verdict.score, &verdict.reasons))
            }
            Event::NotJudged { draft, error } => self.line(super::judge::failed_line(draft, error)),
        }
    }

    fn advance(&self, id: &str) {
        if let Some(b) = &self.bar {
            b.inc(1);
            b.set_message(id.to_owned());
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
