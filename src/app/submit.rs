//! `draft --batch`: a run's requests submitted to the provider's Batch API instead of sent one
//! by one; `aigcq batch` follows and collects them.

use anyhow::Result;
use serde_json::json;

use crate::app::cli::DraftArgs;
use crate::app::commands::Status;
use crate::app::context::Context;
use crate::app::output;
use aigcq::batch::{self, Batches, Entry};
use aigcq::chapter::Rules;
use aigcq::draft::Job;
use aigcq::prompt::{RunContext, Templates};
use aigcq::refs::Refs;
use aigcq::store::Prompt;

/// `draft --batch`: the run's requests, built as a normal run builds them, uploaded in as
/// many files as the provider's limits need, one batch each.
#[allow(clippy::too_many_arguments)]
pub fn run(
    ctx: &Context,
    args: &DraftArgs,
    jobs: &[Job],
    templates: &Templates,
    rules: &Rules,
    run: &RunContext,
    refs: &Refs,
    candidates: u32,
) -> Result<Status> {
    let (provider, model, client) = ctx.connect(&args.provider.overrides(), args.allow_insecure, false, None)?;
    let batches = Batches::new(&ctx.project.drafts_dir());
    let to = Requests {
        batches: &batches,
        client: &client,
        model: &model,
        host: &provider.host(),
        export: args.export.as_deref(),
    };
    let failed = submit(ctx, &to, jobs, (templates, rules, run), Some(refs), candidates)?;
    Ok(if failed { Status::Failed } else { Status::Clean })
}

/// Where a run's requests go: the batches folder that records them, the provider, or a file
/// for a runner of one's own.
pub struct Requests<'a> {
    pub batches: &'a Batches,
    pub client: &'a aigcq::llm::client::Client,
    pub model: &'a str,
    pub host: &'a str,
    pub export: Option<&'a std::path::Path>,
}

/// Builds each job's request as a normal run would and submits them (or exports them); whether
/// any failed. Jobs whose requests wait in an earlier batch are left out.
pub fn submit(
    ctx: &Context,
    to: &Requests,
    jobs: &[Job],
    (templates, rules, run): (&Templates, &Rules, &RunContext),
    refs: Option<&Refs>,
    candidates: u32,
) -> Result<bool> {
    let Requests {
        batches,
        client,
        model,
        host,
        export,
    } = *to;
    let cfg = &ctx.project.config.batch;
    let waiting = batches.waiting()?;
    let runtime = ctx.runtime()?;
    let (mut items, mut failed, mut skipped) = (Vec::new(), false, 0);
    for job in jobs {
        let id = job.id();
        let custom_id = batch::custom_id(&id, job.rewrite);
        if waiting.contains(&custom_id) {
            skipped += 1;
            continue;
        }
        let built = runtime
            .block_on(job.references(refs))
            .and_then(|r| Ok((job.messages(templates, rules, run, &r)?, r)));
        let (messages, references) = match built {
            Ok(b) => b,
            Err(e) => {
                output::error(format!("{id}: {e:#}"));
                failed = true;
                continue;
            }
        };
        let entry = Entry {
            custom_id,
            chapter: job.facts.name.to_owned(),
            anchor: job.gap.anchor.to_owned(),
            question_id: id,
            rewrite: job.rewrite,
            span_hash: aigcq::identity::span_hash(job.facts.chapter, &job.gap),
            prompt: Prompt::new(
                (model, host),
                (&templates.name, &templates.hash),
                client.params(candidates),
                &messages,
            ),
            references,
        };
        let line = batch::line(&entry, &client.body(&messages, candidates), &cfg.endpoint);
        items.push((entry, line));
    }
    let project = ctx
        .project
        .root
        .file_name()
        .map_or_else(|| "aigcq".into(), |n| n.to_string_lossy().into_owned());
    if let Some(to) = export {
        // One file: a runner of one's own has no provider's limits.
        if !items.is_empty() {
            let record = batches.export(to, items, model, host)?;
            output::batch::exported(&record, to);
        }
        output::batch::skipped_waiting(skipped);
        return Ok(failed);
    }
    let metadata = json!({"project": project, "created_by": "aigcq"});
    for file in batch::split(items, cfg.max_lines, cfg.max_bytes) {
        let n = file.len();
        match runtime.block_on(batches.submit(client, cfg, metadata.clone(), file, model, host)) {
            Ok(record) => output::batch::submitted(&record),
            Err(e) => {
                output::error(format!("{n} requests were not submitted: {e:#}"));
                failed = true;
            }
        }
    }
    output::batch::skipped_waiting(skipped);
    Ok(failed)
}
