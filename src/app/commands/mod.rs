//! Running each subcommand: reading files, calling the stage, printing, choosing the exit code.

pub mod batch;
pub mod check;
pub mod config;
pub mod draft;
pub mod eval;
pub mod gaps;
pub mod init;
pub mod judge;
pub mod review;
pub mod stats;

use super::output;
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
