//! The other programs the review hands the terminal to: the pager for a tall screen, the
//! editor for an answer.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use console::Term;

/// Prints `screen`, through `$PAGER` (default `less -R`; none with `TERM=dumb`) when it is
/// taller than the terminal. True when a pager showed it.
pub fn show(term: &Term, screen: &str) -> Result<bool> {
    term.write_line("")?;
    let (rows, _) = term.size();
    let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
    if dumb || screen.lines().count() + 2 <= usize::from(rows) {
        term.write_line(screen.trim_end())?;
        return Ok(false);
    }
    let pager = std::env::var("PAGER")
        .ok()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| "less -R".into());
    let child = Command::new("sh").arg("-c").arg(&pager).stdin(Stdio::piped()).spawn();
    match child {
        Ok(mut child) => {
            if let Some(mut stdin) = child.stdin.take() {
                // A pager quit early closes its input; that is not an error.
                let _ = stdin.write_all(screen.as_bytes());
            }
            child.wait().with_context(|| format!("pager {pager:?}"))?;
            Ok(true)
        }
        Err(_) => {
            term.write_line(screen.trim_end())?;
            Ok(false)
        }
    }
}

/// Opens `file` in `$VISUAL` / `$EDITOR` (default `vi`).
pub fn run_editor(file: &Path) -> Result<()> {
    let editor = ["VISUAL", "EDITOR"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|e| !e.trim().is_empty()))
        .unwrap_or_else(|| "vi".into());
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("aigcq-editor")
        .arg(file)
        .status()
        .with_context(|| format!("cannot start the editor {editor:?}"))?;
    if !status.success() {
        bail!("the editor {editor:?} exited with {status}; the draft is unchanged");
    }
    Ok(())
}
