//! The other program the review hands the terminal to: the editor for an answer.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

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
