//! `aigcq review`: list, accept and reject drafts, or review them interactively.

use std::collections::{HashMap, HashSet};
use std::io::{IsTerminal, Write};

use anyhow::{Result, bail};

use super::{Context, Status};
use crate::app::cli::ReviewArgs;
use crate::app::{interactive, output};
use aigcq::atomic;
use aigcq::review::{Checked, Review, Row};
use aigcq::select::{self, Item};
use aigcq::store::{Draft, Store};

pub fn run(ctx: &Context, args: &ReviewArgs) -> Result<Status> {
    let project = &ctx.project;
    let rules = project.rules()?;
    let content = project.content_dir();
    let drafts_dir = project.drafts_dir();
    let waiting = |chapter: &str| output::review::waiting(chapter);
    let review = Review {
        content: &content,
        drafts: &drafts_dir,
        rules: &rules,
        purge: args.purge,
        waiting: &waiting,
    };
    // What a killed run left behind; a live run's files are locked and stay.
    let swept: Vec<_> = [&content, &drafts_dir].iter().flat_map(|d| atomic::sweep(d)).collect();
    output::review::swept(&swept, &ctx.cwd);
    if let Some(n) = args.undo {
        let undid = review.undo(n);
        output::review::undid(&undid, &ctx.cwd);
        return Ok(if undid.error.is_some() {
            Status::Failed
        } else {
            Status::Clean
        });
    }
    let (pending, bad) = Store::new(drafts_dir.clone()).pending();
    for e in &bad {
        output::error(format!("{e:#}"));
    }
    let mut failed = !bad.is_empty();

    let selected = select_drafts(&pending, &ctx.queries(&args.queries))?;
    let interactive =
        !args.list && args.accept.is_empty() && args.reject.is_empty() && !args.accept_all && !args.reject_all;
    if interactive && !std::io::stdin().is_terminal() {
        bail!(
            "review needs a terminal to ask; without one use --list, --accept ID, --reject ID, --accept-all or --reject-all"
        );
    }

    if args.list || interactive {
        let checked = review.check(selected.into_iter().cloned().collect());
        if args.list {
            list(&checked, args.json, ctx)?;
            return Ok(if failed { Status::Failed } else { Status::Clean });
        }
        if checked.is_empty() {
            output::review::none_pending();
            return Ok(if failed { Status::Failed } else { Status::Clean });
        }
        let tally = interactive::run(&review, checked, &pending, &ctx.cwd)?;
        output::review::session(&tally, &ctx.cwd);
        return Ok(if failed || tally.errors > 0 {
            Status::Failed
        } else {
            Status::Clean
        });
    }

    let (accept, reject): (Vec<&Draft>, Vec<&Draft>) = if args.accept_all {
        // The first candidate of each question; the others are rejected with it.
        let mut seen = HashSet::new();
        (
            selected
                .iter()
                .copied()
                .filter(|d| seen.insert(d.meta.question_id.as_str()))
                .collect(),
            Vec::new(),
        )
    } else if args.reject_all {
        (Vec::new(), selected.clone())
    } else {
        (by_ids(&pending, &args.accept)?, by_ids(&pending, &args.reject)?)
    };
    let decided = review.decide(&accept, &reject, &pending, args.force);
    output::review::decided(&decided, &ctx.cwd);
    failed |= !decided.errors.is_empty();
    Ok(if failed { Status::Failed } else { Status::Clean })
}

/// The drafts the queries select (every one when there are none).
fn select_drafts<'d>(pending: &'d [Draft], queries: &[String]) -> Result<Vec<&'d Draft>> {
    let items: Vec<Item> = pending
        .iter()
        .map(|d| Item {
            chapter: &d.meta.chapter,
            anchor: &d.meta.anchor,
            index: d.meta.index,
            text: &d.meta.question,
        })
        .collect();
    let picked = select::select(&items, queries)?;
    Ok(pending.iter().zip(picked).filter(|(_, p)| *p).map(|(d, _)| d).collect())
}

/// Drafts by id, or by the last part of the id (`007-a17d65b9`), with or without `.md`.
fn by_ids<'d>(pending: &'d [Draft], ids: &[String]) -> Result<Vec<&'d Draft>> {
    let mut by_id: HashMap<&str, Vec<&Draft>> = HashMap::new();
    for d in pending {
        by_id.entry(d.id.as_str()).or_default().push(d);
        if let Some((_, last)) = d.id.rsplit_once('/') {
            by_id.entry(last).or_default().push(d);
        }
    }
    ids.iter()
        .map(|id| {
            let id = id.trim_end_matches(".md");
            match by_id.get(id).map(Vec::as_slice) {
                Some([one]) => Ok(*one),
                Some(many) => bail!("{id:?} names {} drafts; give the full id", many.len()),
                None => bail!("no pending draft {id:?} (see aigcq review --list)"),
            }
        })
        .collect()
}

fn list(checked: &[Checked], json: bool, ctx: &Context) -> Result<()> {
    let rows: Vec<Row> = checked.iter().map(|c| c.row(&ctx.cwd)).collect();
    let mut out = std::io::stdout().lock();
    if json {
        output::json(&mut out, &rows)?;
    } else {
        output::review::list(&mut out, &rows)?;
    }
    out.flush()?;
    Ok(())
}
