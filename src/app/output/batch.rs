//! `draft --batch` and `aigcq batch`: submitted batches, their states, collected results.

use std::io::Write;

use anyhow::Result;
use console::style;
use serde_json::json;

use aigcq::batch::Record;
use aigcq::draft::Totals;

/// A batch just created.
pub fn submitted(r: &Record) {
    eprintln!(
        "{} submitted batch {} ({} requests, {}) · follow it with `aigcq batch status {}`, collect it with `aigcq batch collect`",
        style("✓").green().for_stderr(),
        style(&r.id).bold().for_stderr(),
        r.requests,
        super::safe(&r.remote.status),
        r.id
    );
}

/// Submissions that never completed: their batch may exist at the provider unrecorded.
pub fn incomplete(subs: &[aigcq::batch::Submission], drafts: &std::path::Path) {
    for s in subs {
        let file = s.input_file_id.as_deref().map_or_else(
            || "its input was never uploaded: nothing was sent".to_owned(),
            |f| format!("its input was uploaded as {f}: if the provider lists a batch made from {f}, cancel it there before these questions are submitted again"),
        );
        eprintln!(
            "{} incomplete submission {} ({} requests, {} at {}, started {}): {file}. Remove {}/.batches/{}.* when done.",
            style("!").yellow().for_stderr(),
            style(&s.name).bold().for_stderr(),
            s.requests,
            s.model,
            s.host,
            s.started,
            drafts.display(),
            s.name
        );
    }
}

/// Questions left out because a batch not yet collected asks for them.
pub fn skipped_waiting(n: usize) {
    if n > 0 {
        eprintln!("{n} skipped: already in a batch not collected yet (aigcq batch list)");
    }
}

fn counts(r: &Record) -> String {
    r.remote.request_counts.map_or_else(String::new, |c| {
        format!("{}/{} done, {} failed", c.completed, c.total, c.failed)
    })
}

/// Batches with their state and how many of their requests are collected.
pub fn list(batches: &[(Record, usize)], as_json: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if as_json {
        let v: Vec<_> = batches
            .iter()
            .map(|(r, collected)| json!({"batch": r, "collected": collected}))
            .collect();
        super::json(&mut out, &v)?;
        return Ok(());
    }
    if batches.is_empty() {
        eprintln!("no batches (aigcq draft --batch submits one)");
    }
    for (r, collected) in batches {
        writeln!(
            out,
            "{}  {:<11}  {:<24}  {collected}/{} collected · {} · submitted {}",
            style(&r.id).bold(),
            super::safe(&r.remote.status),
            counts(r),
            r.requests,
            r.model,
            r.submitted
        )?;
    }
    Ok(())
}

pub fn cancelled(r: &Record) {
    eprintln!(
        "batch {} is {}; answers made before the cancel can still be collected",
        r.id,
        super::safe(&r.remote.status)
    );
}

pub fn nothing_to_collect() {
    eprintln!("nothing to collect: every batch is collected (aigcq batch list)");
}

pub fn exported(r: &Record, to: &std::path::Path) {
    eprintln!(
        "{} exported {} requests to {} (batch {}) · run them, e.g. `python -m vllm.entrypoints.openai.run_batch -i {} -o out.jsonl --model {}`, then `aigcq batch import out.jsonl`",
        style("✓").green().for_stderr(),
        r.requests,
        super::safe(&to.display().to_string()),
        style(&r.id).bold().for_stderr(),
        super::safe(&to.display().to_string()),
        super::safe(&r.model)
    );
}

pub fn not_finished(r: &Record) {
    if let Some(file) = &r.exported {
        eprintln!(
            "batch {} was exported to {}: run it, then `aigcq batch import OUTPUT.jsonl`",
            r.id,
            super::safe(&file.display().to_string())
        );
        return;
    }
    eprintln!(
        "batch {} is {} ({}); collect it again later",
        r.id,
        super::safe(&r.remote.status),
        counts(r)
    );
}

pub fn interrupted() {
    eprintln!(
        "{} interrupted: drafts already saved stay; aigcq batch collect goes on from there",
        style("✗").red().for_stderr()
    );
}

/// The closing line of a collected batch.
pub fn collected(r: &Record, t: &Totals, price: Option<&aigcq::cost::Price>) {
    eprintln!(
        "batch {}: drafted {} ({} candidates), {} failed · tokens {} prompt + {} completion{}{}",
        r.id,
        t.drafted,
        t.candidates,
        t.failed,
        t.usage.prompt_tokens,
        t.usage.completion_tokens,
        super::draft::cache_hit(&t.usage),
        super::draft::cost(&t.usage, price, true)
    );
}
