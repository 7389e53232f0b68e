#![warn(missing_docs)]
//! aigcq: find the unanswered questions of a Markdown question bank, draft answers with any
//! OpenAI-compatible model, review them and merge the accepted ones byte-exactly.
//!
//! This library is the engine; the `aigcq` binary is the app around it (arguments, terminal,
//! printing, the review's front ends). Nothing here prints or reads the terminal.
//!
//! One room per stage over shared layers, arrows one way (a stage uses layers, a layer uses no
//! stage):
//!
//! - layers: [`text`] (scripts and languages), [`identity`] (how questions and drafts are
//!   named), [`atomic`] (atomic writes, locks, logs), [`chapter`] (the model every stage
//!   reads), [`scan`] (reading chapters), [`llm`] (the OpenAI-compatible API: types, provider,
//!   client, tokens), [`refs`] (a question's references), [`prompt`] (templates and their
//!   context), [`store`] (the drafts folder: draft files, their chapters and locks), [`select`]
//!   (queries), [`glossary`] (the book's vocabulary);
//! - stages: [`gaps`] and [`check`] read, [`draft`] asks a model ([`batch`] through the Batch
//!   API, [`cost`] prices it), [`judge`] scores drafts, [`review`] merges, undoes and runs a
//!   review [`review::session`];
//! - [`config`] finds `aigcq.toml` and gathers each stage's own settings table; only the app
//!   imports it.
//!
//! The types most callers start from are re-exported here.

pub mod atomic;
pub mod batch;
pub mod chapter;
pub mod check;
pub mod config;
pub mod cost;
pub mod draft;
pub mod eval;
pub mod gaps;
pub mod glossary;
pub mod identity;
pub mod judge;
pub mod llm;
pub mod prompt;
pub mod refs;
pub mod related;
pub mod review;
pub mod scan;
pub mod select;
pub mod store;
pub mod text;

pub use chapter::{Chapter, Rules};
pub use config::{Config, Project};
pub use llm::client::Client;
pub use llm::provider::Provider;
pub use review::Review;
pub use review::session::{Operation, Outcome, Session};
pub use store::{Draft, Meta, Store};
