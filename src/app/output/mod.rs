//! All printing: human-readable listings with colour, JSON, progress and summaries, one file
//! per command. The commands hand over engine data; nothing here decides anything.

pub mod batch;
pub mod check;
pub mod config;
pub mod draft;
pub mod gaps;
pub mod judge;
pub mod review;

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use console::{Style, style};
use serde::Serialize;

use aigcq::chapter::GapKind;
use aigcq::scan;

/// Writes `value` as pretty JSON and a newline.
pub fn json<T: Serialize + ?Sized>(out: &mut impl Write, value: &T) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)
}

/// An error line on stderr.
pub fn error(message: impl std::fmt::Display) {
    eprintln!("{} {message}", style("error:").red().bold().for_stderr());
}

/// A warning line on stderr.
pub fn warning(message: impl std::fmt::Display) {
    eprintln!("{} {message}", style("warning:").yellow().bold().for_stderr());
}

/// `1 gap`, `2 gaps`.
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// The `files changed: …` part of a summary, paths relative to `cwd`.
pub fn files_changed(files: &[PathBuf], cwd: &Path) -> String {
    if files.is_empty() {
        return "files changed: none".into();
    }
    let shown: Vec<String> = files.iter().map(|f| scan::display_path(f, cwd)).collect();
    format!("files changed: {}", shown.join(", "))
}

fn kind_style(kind: GapKind) -> Style {
    match kind {
        GapKind::Empty | GapKind::Missing => Style::new().red(),
        GapKind::Placeholder | GapKind::MetadataOnly => Style::new().yellow(),
        GapKind::Stub | GapKind::Outline => Style::new().magenta(),
    }
}
