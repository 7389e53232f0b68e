//! Running each subcommand: reading files, calling the stage, printing, choosing the exit code.

pub mod batch;
pub mod check;
pub mod config;
pub mod draft;
pub mod gaps;
pub mod init;
pub mod judge;
pub mod review;

use std::path::PathBuf;

use anyhow::{Result, bail};

use super::output;
use aigcq::config::Project;
use aigcq::scan::ReadError;

/// How a command ended; the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Done, nothing to report.
    Clean = 0,
    /// Done, and something was found that `--check` style callers fail on.
    Found = 1,
    /// Bad usage, or some input could not be read or some work failed (the rest was still
    /// done).
    Failed = 2,
    /// Stopped by Ctrl-C (128 + SIGINT, as shells report it).
    Interrupted = 130,
}

/// Prints each read error and keeps the results of the files that were read; the flag says
/// whether anything failed.
pub fn report_errors<T>(errors: &[ReadError], results: Vec<Result<T, ReadError>>) -> (Vec<T>, bool) {
    let mut failed = !errors.is_empty();
    for e in errors {
        output::error(e);
    }
    let mut ok = Vec::with_capacity(results.len());
    for r in results {
        match r {
            Ok(t) => ok.push(t),
            Err(e) => {
                output::error(&e);
                failed = true;
            }
        }
    }
    (ok, failed)
}

/// What every command starts from.
pub struct Context {
    pub cwd: PathBuf,
    pub project: Project,
}

impl Context {
    /// The `QUERY` arguments of `draft` and `review`, with a chapter file or folder given as
    /// a path (`content/ch1.md#7`, tab-completed) turned into its name below the content root;
    /// other queries pass through.
    pub fn queries(&self, raw: &[String]) -> Vec<String> {
        let content = self.project.content_dir();
        raw.iter()
            .map(|query| {
                let (path, frag) = match query.rsplit_once('#') {
                    Some((p, f)) => (p, Some(f)),
                    None => (query.as_str(), None),
                };
                if path.is_empty() || !self.cwd.join(path).exists() {
                    return query.clone();
                }
                let name = aigcq::scan::chapter_name(&self.cwd.join(path), &content);
                match frag {
                    Some(f) => format!("{name}#{f}"),
                    None => name,
                }
            })
            .collect()
    }

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
