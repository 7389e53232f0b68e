//! `aigcq review`: list, accept and reject drafts, or review them interactively.

use std::collections::{HashMap, HashSet};
use std::io::{IsTerminal, Write};

use anyhow::{Result, bail};
use serde::Serialize;

use super::{Context, Status};
use crate::cli::ReviewArgs;
use crate::drafts::{Draft, Store};
use crate::review::merge::State;
use crate::review::{Checked, Outcome, Review, interactive};
use crate::select::{self, Item};
use crate::{output, scan};

/// A pending draft as `--list --json` prints it.
#[derive(Debug, Serialize)]
pub struct Listed<'a> {
    pub id: &'a str,
    pub file: String,
    pub chapter: &'a str,
    pub question_id: &'a str,
    pub index: usize,
    pub question: &'a str,
    pub kind: crate::chapter::GapKind,
    pub model: &'a str,
    pub created: &'a str,
    pub candidate: u32,
    pub candidates: u32,
    pub truncated: bool,
    pub stale: bool,
    /// Why it is stale, or why its chapter cannot be used.
    pub problem: Option<String>,
    /// The chapter already holds this answer; accepting it only cleans it up.
    pub merged: bool,
}

pub fn run(ctx: &Context, args: &ReviewArgs) -> Result<Status> {
    let project = &ctx.project;
    let rules = project.rules()?;
    let content = project.content_dir();
    let drafts_dir = project.drafts_dir();
    let review = Review {
        content: &content,
        drafts: &drafts_dir,
        rules: &rules,
        purge: args.purge,
    };
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
            eprintln!("no pending drafts");
            return Ok(if failed { Status::Failed } else { Status::Clean });
        }
        let s = interactive::run(&review, checked, &pending, &ctx.cwd)?;
        let files: Vec<String> = s.files.iter().map(|f| scan::display_path(f, &ctx.cwd)).collect();
        eprintln!(
            "accepted {}, rejected {}, skipped {}; files changed: {}",
            s.accepted,
            s.rejected,
            s.skipped,
            if files.is_empty() {
                "none".into()
            } else {
                files.join(", ")
            }
        );
        return Ok(if failed || s.errors > 0 {
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
    let outcome = review.decide(&accept, &reject, &pending, args.force);
    failed |= report(&outcome, ctx);
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
    let rows: Vec<Listed> = checked
        .iter()
        .map(|c| {
            let m = &c.draft.meta;
            let (stale, problem) = match &c.state {
                Ok(State::Stale(s)) => (true, Some(s.reason().to_owned())),
                Err(e) => (false, Some(e.clone())),
                _ => (false, None),
            };
            Listed {
                id: &c.draft.id,
                file: c
                    .file
                    .as_ref()
                    .map_or_else(|| m.chapter.clone(), |f| scan::display_path(f, &ctx.cwd)),
                chapter: &m.chapter,
                question_id: &m.question_id,
                index: m.index,
                question: &m.question,
                kind: m.kind,
                model: &m.model,
                created: &m.created,
                candidate: m.candidate,
                candidates: m.candidates,
                truncated: m.truncated,
                stale,
                problem,
                merged: matches!(c.state, Ok(State::Merged)),
            }
        })
        .collect();
    let mut out = std::io::stdout().lock();
    if json {
        output::json(&mut out, &rows)?;
    } else {
        output::drafts(&mut out, &rows)?;
    }
    out.flush()?;
    Ok(())
}

/// Prints what a batch did; true when something failed.
fn report(o: &Outcome, ctx: &Context) -> bool {
    for (id, e) in &o.errors {
        output::error(format!("{id}: {e:#}"));
    }
    let files: Vec<String> = o
        .files_changed
        .iter()
        .map(|f| scan::display_path(f, &ctx.cwd))
        .collect();
    let recovered = if o.recovered.is_empty() {
        String::new()
    } else {
        format!(" ({} already in the chapter, cleaned up)", o.recovered.len())
    };
    eprintln!(
        "accepted {}{recovered}, rejected {}, failed {}; files changed: {}",
        o.accepted.len(),
        o.rejected.len(),
        o.errors.len(),
        if files.is_empty() {
            "none".into()
        } else {
            files.join(", ")
        }
    );
    !o.errors.is_empty()
}
