//! `aigcq review`: list, accept and reject drafts, or review them interactively.

use std::collections::HashSet;
use std::io::{IsTerminal, Write};

use anyhow::{Result, bail};

use super::Status;
use crate::app::cli::ReviewArgs;
use crate::app::context::Context;
use crate::app::{git, interactive, output, web};
use aigcq::atomic;
use aigcq::review::{Checked, Decided, Review, Row};
use aigcq::store::{self, Draft, Store};

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
        run: aigcq::review::ledger::run_id(),
    };
    let commit = args.commit || project.config.review.commit;
    if commit {
        git::check_work_tree(&content)?;
    }
    // What a killed run left behind; a live run's files are locked and stay.
    let swept: Vec<_> = [&content, &drafts_dir].iter().flat_map(|d| atomic::sweep(d)).collect();
    output::review::swept(&swept, &ctx.cwd);
    if let Some(n) = args.undo {
        let undid = if args.run { review.undo_run() } else { review.undo(n) };
        output::review::undid(&undid, &ctx.cwd);
        let mut failed = undid.error.is_some();
        if commit {
            for u in &undid.undone {
                let Some(file) = u.file.as_deref() else { continue };
                let message = format!("aigcq: undo the accept of {} ({})", u.question_id, u.draft);
                if let Err(e) = git::commit_file(file, &message) {
                    output::error(format!("{e:#}"));
                    failed = true;
                }
            }
        }
        return Ok(if failed { Status::Failed } else { Status::Clean });
    }
    let (pending, bad) = Store::new(drafts_dir.clone()).pending();
    for e in &bad {
        output::error(format!("{e:#}"));
    }
    let mut failed = !bad.is_empty();

    let selected = crate::app::context::select_drafts(&pending, &ctx.queries(&args.queries))?;
    if args.min_score.is_some() && !args.list && !args.accept_all {
        bail!("--min-score filters --list and --accept-all; add one of them");
    }
    let scored = |d: &&Draft| args.min_score.is_none_or(|min| d.meta.score.is_some_and(|s| s >= min));
    let interactive =
        !args.list && args.accept.is_empty() && args.reject.is_empty() && !args.accept_all && !args.reject_all;
    // Keys are read from the terminal and the screens drawn on it: both must be one (the
    // page needs none).
    if interactive && !args.web && !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
        bail!(
            "review needs a terminal to ask (its input and output; not a pipe or a file); without one use --list, --accept ID, --reject ID, --accept-all or --reject-all"
        );
    }

    if args.list || interactive {
        let shown = selected.into_iter().filter(|d| !args.list || scored(d));
        let checked = review.check(shown.cloned().collect());
        if args.list {
            list(&checked, args.json, args.sort.is_some(), ctx)?;
            return Ok(if failed { Status::Failed } else { Status::Clean });
        }
        if checked.is_empty() && !args.web {
            output::review::none_pending();
            return Ok(if failed { Status::Failed } else { Status::Clean });
        }
        // The model is only reached when the author asks for a revision (key f).
        let connection = std::cell::OnceCell::new();
        let glossary = project.glossary()?;
        let revise =
            |pending: &[Draft], draft: &Draft, note: &str, watch: &interactive::Watch| -> Result<std::path::PathBuf> {
                let (provider, model, client, runtime) = match connection.get() {
                    Some(c) => c,
                    None => {
                        let (p, m, c) = ctx.connect(&Default::default(), false, true, Some(&draft.meta.model))?;
                        let rt = ctx.runtime()?;
                        connection.get_or_init(|| (p, m, c, rt))
                    }
                };
                let store = Store::new(drafts_dir.clone());
                let frame = ctx.frame_of(draft);
                output::draft::revising(&ctx.cwd, watch, |report| {
                    let reviser = aigcq::draft::Reviser {
                        client,
                        store: &store,
                        rules: &rules,
                        model,
                        host: &provider.host(),
                        temperature: provider.temperature.value,
                        report,
                        frame: &frame,
                        glossary: glossary.as_ref(),
                    };
                    ctx.revise(runtime, &reviser, pending, draft, note)
                })
            };
        let after = |decided: &Decided, pending: &[Draft]| {
            if commit {
                commit_decided(decided, pending, &content)
            } else {
                Ok(())
            }
        };
        let hooks = interactive::Hooks {
            revise: &revise,
            after: &after,
        };
        let tally = if args.web {
            let options = web::Options {
                port: args.port.unwrap_or(0),
                open: !args.no_open,
                prices: &project.config.prices,
            };
            web::run(&review, checked, &pending, &ctx.cwd, &hooks, &options)?
        } else {
            interactive::run(&review, checked, &pending, &ctx.cwd, &hooks, args.blind)?
        };
        output::review::session(&tally, &ctx.cwd);
        return Ok(if tally.interrupted {
            Status::Interrupted
        } else if failed || tally.errors > 0 {
            Status::Failed
        } else {
            Status::Clean
        });
    }

    let checked = if args.accept_all {
        review.check(selected.iter().map(|d| (*d).clone()).collect())
    } else {
        Vec::new()
    };
    let (accept, reject): (Vec<&Draft>, Vec<&Draft>) = if args.accept_all {
        let (accept, left) = safe_candidates(&checked, args.force, args.min_score);
        output::review::left(&left);
        (accept, Vec::new())
    } else if args.reject_all {
        (Vec::new(), selected.clone())
    } else {
        (
            store::by_ids(&pending, &args.accept)?,
            store::by_ids(&pending, &args.reject)?,
        )
    };
    let decided = review.decide(&accept, &reject, &pending, args.force);
    if args.accept_all {
        output::review::merged(&decided, &accept);
    }
    output::review::decided(&decided, &ctx.cwd);
    failed |= !decided.errors.is_empty();
    if commit && let Err(e) = commit_decided(&decided, &pending, &content) {
        output::error(format!("{e:#}"));
        failed = true;
    }
    Ok(if failed { Status::Failed } else { Status::Clean })
}

/// `--accept-all`: of each question's candidates, the one to take (the best judged, else the
/// first) among those safe to take unseen: not stale, truncated or filtered, without a
/// warning of the gate, scored `min_score` or more when given. `force` takes the unsafe ones
/// too. The questions left, each with why.
fn safe_candidates(checked: &[Checked], force: bool, min_score: Option<u8>) -> (Vec<&Draft>, Vec<(String, String)>) {
    let why = |c: &Checked| {
        let m = &c.draft.meta;
        let mut reasons = if force { Vec::new() } else { c.cautions() };
        let codes = aigcq::store::warning_codes(&m.warnings);
        if !force && !codes.is_empty() {
            reasons.push(format!("warn: {}", codes.join(" ")));
        }
        match (min_score, m.score) {
            (Some(min), Some(s)) if s < min => reasons.push(format!("scored {s}, below {min}")),
            (Some(_), None) => reasons.push("not judged (aigcq judge)".to_owned()),
            _ => {}
        }
        reasons
    };
    let (mut accept, mut left) = (Vec::new(), Vec::new());
    for question in checked.chunk_by(|a, b| a.draft.meta.question_id == b.draft.meta.question_id) {
        let reasons: Vec<Vec<String>> = question.iter().map(why).collect();
        let best = (question.iter().zip(&reasons))
            .enumerate()
            .filter(|(_, (_, r))| r.is_empty())
            .max_by_key(|(i, (c, _))| (c.draft.meta.score, std::cmp::Reverse(*i)));
        match best {
            Some((_, (c, _))) => accept.push(&c.draft),
            None => {
                let m = &question[0].draft.meta;
                let shown: Vec<String> = match reasons.as_slice() {
                    [one] => vec![one.join("; ")],
                    many => (many.iter().enumerate())
                        .map(|(k, r)| format!("candidate {}: {}", k + 1, r.join("; ")))
                        .collect(),
                };
                left.push((format!("{}#{}", m.chapter, m.index), shown.join(" · ")));
            }
        }
    }
    (accept, left)
}

/// One git commit per chapter written, of that file alone, naming its questions, model and
/// template.
fn commit_decided(decided: &Decided, pending: &[Draft], content: &std::path::Path) -> Result<()> {
    let accepted: HashSet<&str> = decided.accepted.iter().map(String::as_str).collect();
    for file in &decided.files_changed {
        let drafts: Vec<&Draft> = pending
            .iter()
            .filter(|d| accepted.contains(d.id.as_str()) && content.join(&d.meta.chapter) == *file)
            .collect();
        let Some(first) = drafts.first() else { continue };
        let numbers: Vec<String> = drafts.iter().map(|d| d.meta.index.to_string()).collect();
        let mut models: Vec<String> = drafts
            .iter()
            .map(|d| {
                format!(
                    "{} (template {} {})",
                    d.meta.model, d.meta.template, d.meta.template_hash
                )
            })
            .collect();
        models.dedup();
        let ids: Vec<&str> = drafts.iter().map(|d| d.id.as_str()).collect();
        let message = format!(
            "aigcq: answer question{} {} of {}\n\nmodel: {}\ndrafts: {}\n",
            if drafts.len() == 1 { "" } else { "s" },
            numbers.join(", "),
            first.meta.chapter,
            models.join("; "),
            ids.join(", ")
        );
        git::commit_file(file, &message)?;
    }
    Ok(())
}

fn list(checked: &[Checked], json: bool, by_score: bool, ctx: &Context) -> Result<()> {
    let mut rows: Vec<Row> = aigcq::review::rows(checked, &ctx.cwd);
    if by_score {
        // Best first; unjudged drafts last, each group in chapter order (a stable sort).
        rows.sort_by_key(|r| std::cmp::Reverse(r.score));
    }
    let mut out = std::io::stdout().lock();
    if json {
        output::json(&mut out, &rows)?;
    } else {
        let width = std::io::stdout()
            .is_terminal()
            .then(|| usize::from(console::Term::stdout().size().1));
        output::review::list(&mut out, &rows, width)?;
    }
    out.flush()?;
    Ok(())
}
