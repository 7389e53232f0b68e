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
        let name = scan::chapter_name(path, &content);
        let found = gaps::chapter_gaps(&chapter, &file, &name);
        (
            found,
            unrecognised,
            gaps::Keys::of(&chapter, &rules),
            name,
            path.to_owned(),
        )
    });

    let (read, failed) = super::report_errors(&errors, results);
    let mut chapters = Vec::with_capacity(read.len());
    let mut keys = Vec::with_capacity(read.len());
    let mut names = Vec::with_capacity(read.len());
    let mut paths = Vec::with_capacity(read.len());
    for (c, unrecognised, k, name, path) in read {
        if let Some(w) = unrecognised {
            output::warning(w);
        }
        chapters.push(c);
        keys.push(k);
        names.push(name);
        paths.push(path);
    }
    // A gap that an answered question elsewhere asks too is answered there. The few chapters
    // that answer are read again for their anchors, which the scan does not keep.
    let similarity = ctx.project.config.check.duplicate_similarity;
    let mut twins: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    let mut anchors: std::collections::HashMap<usize, Option<Vec<String>>> = std::collections::HashMap::new();
    for (c, anchor, twin) in gaps::answered_elsewhere(&keys, similarity) {
        let of = anchors.entry(twin.chapter).or_insert_with(|| {
            let text = scan::read_chapter(&paths[twin.chapter]).ok()?;
            let chapter = Chapter::parse(&text, &rules);
            Some(
                chapter
                    .questions
                    .iter()
                    .map(|q| chapter.heading(q).anchor().to_owned())
                    .collect(),
            )
        });
        if let Some(answered) = of.as_ref().and_then(|a| a.get(twin.question)) {
            twins.insert(
                aigcq::identity::question_id(&names[c], anchor),
                aigcq::identity::question_id(&names[twin.chapter], answered),
            );
        }
    }
    for g in chapters.iter_mut().flat_map(|c| &mut c.gaps) {
        g.answered_in = twins.get(&g.id).cloned();
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
