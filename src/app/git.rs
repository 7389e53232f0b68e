//! `review --commit`: each chapter write becomes one git commit of that file alone, so the
//! book's history shows what was merged and from where.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Refuses unless `dir` is inside a git work tree.
pub fn check_work_tree(dir: &Path) -> Result<()> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "--is-inside-work-tree"])
        .output()
        .context("--commit needs git, and git cannot be run")?;
    if !out.status.success() || String::from_utf8_lossy(&out.stdout).trim() != "true" {
        bail!(
            "--commit needs the chapters in a git work tree, and {} is not in one (run git init, or drop --commit)",
            dir.display()
        );
    }
    Ok(())
}

/// Commits `file` alone with `message`; other staged or changed files are left as they are.
pub fn commit_file(file: &Path, message: &str) -> Result<()> {
    let dir = file.parent().unwrap_or(Path::new("."));
    let name = file.file_name().context("a file")?;
    for args in [
        vec!["add", "--"],
        vec!["commit", "--quiet", "--only", "-m", message, "--"],
    ] {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .arg(name)
            .output()
            .context("cannot run git")?;
        if !out.status.success() {
            bail!(
                "git could not commit {}: {}",
                file.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
    }
    Ok(())
}
