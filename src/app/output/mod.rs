//! All printing: human-readable listings with colour, JSON, progress and summaries, one file
//! per command. The commands hand over engine data; nothing here decides anything.

pub mod batch;
pub mod check;
pub mod config;
pub mod diff;
pub mod draft;
pub mod eval;
pub mod gaps;
pub mod judge;
pub mod review;
pub mod stats;

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

/// Text that came from a server or the drafts folder (a reply, an error body, a judge's
/// reasons, a batch's fields), made safe for a terminal: no escape sequence in it can clear
/// the screen, set a title or hide a line. Every command's output passes such text through
/// here; aigcq's own styling is added around it, never inside.
pub fn safe(s: &str) -> std::borrow::Cow<'_, str> {
    // Control characters other than tab and line feed become their Unicode pictures (`␛`,
    // `␀`, `␍`), C1 controls and DEL `�`.
    let bad = |c: char| c.is_control() && c != '\t' && c != '\n';
    if !s.chars().any(bad) {
        return s.into();
    }
    s.chars()
        .map(|c| match c {
            c if !bad(c) => c,
            '\0'..='\u{1f}' => char::from_u32(0x2400 + c as u32).unwrap_or('\u{fffd}'),
            _ => '\u{fffd}',
        })
        .collect::<String>()
        .into()
}

/// An error line on stderr. Errors carry server text (HTTP error bodies, stream errors).
pub fn error(message: impl std::fmt::Display) {
    eprintln!("{}", error_line(message, true));
}

/// `error: …`, escaped; styled for stderr or (the interactive review) for stdout.
pub fn error_line(message: impl std::fmt::Display, stderr: bool) -> String {
    let label = style("error:").red().bold();
    let label = if stderr { label.for_stderr() } else { label };
    format!("{label} {}", safe(&message.to_string()))
}

/// A warning line on stderr.
pub fn warning(message: impl std::fmt::Display) {
    eprintln!(
        "{} {}",
        style("warning:").yellow().bold().for_stderr(),
        safe(&message.to_string())
    );
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
