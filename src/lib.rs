//! aigcq: find the unanswered questions of a Markdown question bank, draft answers with any
//! OpenAI-compatible model, review them and merge the accepted ones byte-exactly.
//!
//! This library is the engine; the `aigcq` binary is the app around it (arguments, terminal,
//! printing). Nothing here prints or reads the terminal.
//!
//! The [`chapter`] model is shared by every stage: [`gaps`] (and the [`check`] lint) reads,
//! [`draft`] asks a model (with [`refs`], the question's references) and fills the drafts [`store`], [`judge`] scores drafts, [`review`] merges. Questions and
//! drafts are named through [`identity`]. Pure logic (the model, [`prompt`] contexts,
//! [`select`], reply clean-up, the merge engine) is kept apart from I/O ([`scan`], [`config`],
//! [`atomic`], the HTTP client).

pub mod atomic;
pub mod batch;
pub mod chapter;
pub mod check;
pub mod config;
pub mod cost;
pub mod draft;
pub mod gaps;
pub mod identity;
pub mod judge;
pub mod llm;
pub mod prompt;
pub mod refs;
pub mod review;
pub mod scan;
pub mod select;
pub mod store;
pub mod text;
