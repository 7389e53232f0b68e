//! `aigcq check`.

use std::io::Write;

use anyhow::{Result, bail};

use super::Status;
use crate::app::cli::CheckArgs;
use crate::app::context::Context;
use crate::app::output;
use aigcq::chapter::Chapter;
use aigcq::{check, scan};

pub fn run(ctx: &Context, args: &CheckArgs) -> Result<Status> {
    let disabled = &ctx.project.config.check.disable;
    if let Some(unknown) = disabled.iter().find(|d| check::Rule::from_name(d).is_none()) {
        bail!("unknown rule `{unknown}` in [check] disable; see `aigcq check --help`");
    }
    let (files, errors) = scan::chapter_paths(&ctx.inputs(&args.paths)?);
    let rules = ctx.project.rules()?;
    let glossary = ctx.project.glossary()?;
    let results = scan::map_chapters(&files, |path, text| {
        let chapter = Chapter::parse(text, &rules);
        let dir = path.parent().unwrap_or(std::path::Path::new("."));
        let exists = |target: &str| dir.join(target).exists();
        let file = scan::display_path(path, &ctx.cwd);
        let mut found = check::lint(&chapter, &file, &exists);
        if let Some(g) = &glossary {
            found.extend(check::terminology(&chapter, &file, g));
            found.sort_by_key(|f| f.line);
        }
        let asked = check::Asked::of(&chapter, &file, &rules);
        (file, found, asked)
    });

    let (per_file, failed) = super::report_errors(&errors, results);
    // Questions asked twice are found across every chapter checked, then told in each
    // chapter's own list, in line order.
    let asked: Vec<check::Asked> = per_file.iter().flat_map(|(_, _, a)| a.iter().cloned()).collect();
    let mut per_file: Vec<(String, Vec<check::Finding>)> =
        per_file.into_iter().map(|(f, found, _)| (f, found)).collect();
    for d in check::duplicates(&asked, ctx.project.config.check.duplicate_similarity) {
        if let Some((_, list)) = per_file.iter_mut().find(|(f, _)| *f == d.file) {
            let at = list.partition_point(|f| f.line <= d.line);
            list.insert(at, d);
        }
    }
    let findings: Vec<_> = per_file
        .into_iter()
        .flat_map(|(_, found)| found)
        .filter(|f| !disabled.iter().any(|d| d == f.rule.name()))
        .collect();
    // Stdout is line-buffered: one write per line of a large report otherwise.
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    if args.json {
        output::json(&mut out, &findings)?;
    } else {
        output::check::human(&mut out, &findings)?;
    }
    out.flush()?;
    Ok(if failed {
        Status::Failed
    } else if findings.is_empty() {
        Status::Clean
    } else {
        Status::Found
    })
}
