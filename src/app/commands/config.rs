//! `aigcq config`: the effective provider settings and where each came from.

use std::io::Write;

use anyhow::Result;

use super::{Context, Status};
use crate::app::cli::ConfigArgs;
use crate::app::output;
use aigcq::llm::provider::Provider;

pub fn run(ctx: &Context, args: &ConfigArgs) -> Result<Status> {
    let p = Provider::resolve(
        &ctx.project.config.provider,
        |k| std::env::var(k).ok(),
        &args.provider.overrides(),
    )?
    .shown();
    let mut out = std::io::stdout().lock();
    if args.json {
        output::json(&mut out, &p)?;
    } else {
        output::config::human(&mut out, &p, &ctx.project.source_name())?;
    }
    out.flush()?;
    Ok(Status::Clean)
}
