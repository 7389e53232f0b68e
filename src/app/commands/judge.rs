//! `aigcq judge`: score the selected pending drafts with the judge model, each verdict written
//! into its draft as it lands. `draft --judge` uses [`connect`] and [`Verdicts`] too.

use anyhow::Result;
use futures_util::StreamExt;

use super::Status;
use crate::app::cli::JudgeArgs;
use crate::app::context::Context;
use crate::app::judging::{Connection, Texts, Verdicts};
use crate::app::output;
use aigcq::store::{Draft, Store};

pub fn run(ctx: &Context, args: &JudgeArgs) -> Result<Status> {
    let project = &ctx.project;
    if args.calibrate {
        let entries = aigcq::review::ledger::read(&project.drafts_dir())?;
        let c = aigcq::judge::calibrate(&aigcq::review::ledger::decisions(&entries));
        let mut out = std::io::stdout().lock();
        if args.json {
            output::json(&mut out, &c)?;
        } else {
            output::judge::calibration(&mut out, &c)?;
        }
        return Ok(Status::Clean);
    }
    let store = Store::new(project.drafts_dir());
    let (pending, bad) = store.pending();
    for e in &bad {
        output::error(format!("{e:#}"));
    }
    let selected = crate::app::context::select_drafts(&pending, &ctx.queries(&args.queries))?;
    let scored = selected.iter().filter(|d| d.meta.score.is_some()).count();
    let todo: Vec<&Draft> = selected
        .into_iter()
        .filter(|d| args.force || d.meta.score.is_none())
        .collect();
    if todo.is_empty() {
        output::judge::nothing(scored);
        return Ok(if bad.is_empty() { Status::Clean } else { Status::Failed });
    }
    let overrides = args.provider.overrides();
    let judge = Connection::open(ctx, &overrides, true, args.allow_insecure)?;
    let refs = ctx.references(&[], None, &overrides, args.allow_insecure)?;
    let rules = project.rules()?;
    let verdicts = Verdicts::new(ctx, &judge, &refs, &rules)?;
    output::judge::start(todo.len(), &judge.model, &judge.host);

    let texts = Texts::read(ctx, &todo);
    let chapters = texts.parse(&rules);
    let runtime = ctx.runtime()?;
    let (mut ok, mut failed) = (0, !bad.is_empty() as usize);
    runtime.block_on(async {
        let mut results = futures_util::stream::iter(todo)
            .map(|d| {
                let (verdicts, chapters) = (&verdicts, &chapters);
                async move { (d, verdicts.judge(d, chapters).await) }
            })
            .buffer_unordered(judge.concurrency);
        while let Some((d, r)) = results.next().await {
            match r {
                Ok(true) => ok += 1,
                Ok(false) => {}
                Err(e) => {
                    output::judge::failed(&d.id, &e);
                    failed += 1;
                }
            }
        }
    });
    output::judge::summary(ok, failed);
    Ok(if failed > 0 { Status::Failed } else { Status::Clean })
}
