//! The app around the engine: [`cli`] arguments, [`commands`] that run each stage, all printing
//! in [`output`], and the review's front ends: [`interactive`] in the terminal, [`web`] in the
//! browser.

pub mod cli;
pub mod commands;
pub mod context;
pub mod git;
pub mod interactive;
pub mod judging;
pub mod output;
pub mod submit;
pub mod web;
