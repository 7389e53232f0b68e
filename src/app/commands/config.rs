//! `aigcq config`: the effective provider settings and where each came from.

use std::io::Write;

use anyhow::Result;

use super::Status;
use crate::app::cli::ConfigArgs;
use crate::app::context::Context;
use crate::app::output;

pub fn run(ctx: &Context, args: &ConfigArgs) -> Result<Status> {
    let p = ctx.provider(&args.provider.overrides())?.shown();
    let mut out = std::io::stdout().lock();
    if args.json {
        output::json(&mut out, &p)?;
    } else {
        output::config::human(&mut out, &p, &ctx.project.source_name())?;
    }
    out.flush()?;
    Ok(Status::Clean)
}
