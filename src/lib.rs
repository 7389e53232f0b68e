//! aigcq: find the unanswered questions of a Markdown question bank, draft answers with any
//! OpenAI-compatible model, review them and merge the accepted ones byte-exactly.
//!
//! The [`chapter`] model is shared by every stage: [`gaps`] (and the [`check`] lint) reads,
//! [`draft`] asks a model and fills the [`drafts`] store, [`review`] merges. Pure logic (the
//! model, [`prompt`] contexts, [`select`], reply clean-up, the merge engine) is kept apart from
//! I/O ([`scan`], [`config`], [`atomic`], the HTTP client, the terminal).

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
