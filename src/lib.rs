//! aigcq: find the unanswered questions of a Markdown question bank, draft answers with any
//! OpenAI-compatible model, review them and merge the accepted ones byte-exactly.
//!
//! The [`chapter`] model is shared by every stage; [`gaps`] and [`check`] are the read-only
//! stages. Modules named after a stage hold its pure logic; [`scan`] and [`config`] do the I/O.

pub mod atomic;
pub mod chapter;
pub mod check;
pub mod cli;
pub mod commands;
pub mod config;
pub mod draft;
pub mod drafts;
pub mod gaps;
pub mod output;
pub mod prompt;
pub mod provider;
pub mod review;
pub mod scan;
pub mod select;
