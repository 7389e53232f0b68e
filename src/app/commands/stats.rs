//! `aigcq stats`: how each model and template fared with the author, from the ledger.

use anyhow::Result;

use super::Status;
use crate::app::cli::StatsArgs;
use crate::app::context::Context;
use crate::app::output;
use aigcq::review::ledger;

pub fn run(ctx: &Context, args: &StatsArgs) -> Result<Status> {
    let entries = ledger::read(&ctx.project.drafts_dir())?;
    let (models, templates) = ledger::records(&entries);
    let mut out = std::io::stdout().lock();
    if args.json {
        output::json(&mut out, &serde_json::json!({"models": models, "templates": templates}))?;
    } else {
        output::stats::table(&mut out, "MODEL", &models)?;
        output::stats::table(&mut out, "TEMPLATE", &templates)?;
    }
    Ok(Status::Clean)
}
