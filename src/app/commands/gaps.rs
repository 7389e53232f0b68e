//! `aigcq gaps`.

use std::io::Write;

use anyhow::Result;

use super::Status;
use crate::app::cli::GapsArgs;
use crate::app::context::Context;
use crate::app::output;
use aigcq::chapter::Chapter;
use aigcq::{gaps, scan};

pub fn run(ctx: &Context, args: &GapsArgs) -> Result<Status> {
    let (files, errors) = scan::chapter_paths(&ctx.inputs(&args.paths)?);
    let rules = ctx.project.rules()?;
    let content = ctx.project.content_dir();
    let results = scan::map_chapters(&files, |path, text| {
        let chapter = Chapter::parse(text, &rules);
        let file = scan::display_path(path, &ctx.cwd);
        let unrecognised = gaps::unrecognised(&chapter).map(|w| format!("{file}: {w}"));
        (
            gaps::chapter_gaps(&chapter, &file, &scan::chapter_name(path, &content)),
            unrecognised,
        )
    });

    let (read, failed) = super::report_errors(&errors, results);
    let mut chapters = Vec::with_capacity(read.len());
    for (c, unrecognised) in read {
        if let Some(w) = unrecognised {
            output::warning(w);
        }
        chapters.push(c);
    }
    if !args.kind.is_empty() {
        for c in &mut chapters {
            c.gaps.retain(|g| args.kind.contains(&g.kind));
        }
    }

    // Stdout is line-buffered: one write per line of a large report otherwise.
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    if args.json {
        let all: Vec<_> = chapters.iter().flat_map(|c| &c.gaps).collect();
        output::json(&mut out, &all)?;
    } else {
        output::gaps::human(&mut out, &chapters, args.stats)?;
    }
    out.flush()?;

    let found = chapters.iter().any(|c| !c.gaps.is_empty());
    Ok(if failed {
        Status::Failed
    } else if args.check && found {
        Status::Found
    } else {
        Status::Clean
    })
}
