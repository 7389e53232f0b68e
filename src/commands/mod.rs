//! Running each subcommand: reading files, calling the stage, printing, choosing the exit code.

pub mod check;
pub mod gaps;
pub mod init;

use std::path::PathBuf;

use anyhow::{Result, bail};

use crate::config::Project;

/// How a command ended; the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Done, nothing to report.
    Clean = 0,
    /// Done, and something was found that `--check` style callers fail on.
    Found = 1,
    /// Bad usage, or some input could not be read (the rest was still processed).
    Failed = 2,
    /// Interrupted by Ctrl-C.
    Interrupted = 130,
}

/// What every command starts from.
pub struct Context {
    pub cwd: PathBuf,
    pub project: Project,
}

impl Context {
    /// The paths given, or the content folder.
    pub fn inputs(&self, paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
        if !paths.is_empty() {
            return Ok(paths.to_vec());
        }
        let content = self.project.content_dir();
        if !content.is_dir() {
            bail!(
                "content folder {} not found (run `aigcq init`, or set [paths] content in aigcq.toml)",
                content.display()
            );
        }
        Ok(vec![content])
    }
}
