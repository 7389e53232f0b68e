//! Command-line arguments (clap). Running the commands is [`crate::commands`]' job.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::chapter::GapKind;

const EXAMPLES: &str = "\
Examples:
  aigcq gaps                        list unanswered questions under content/
  aigcq gaps --json --kind empty    only empty answers, as JSON
  aigcq gaps --check                exit 1 when any question is unanswered (for CI)
  aigcq check content/ch1.md        lint one chapter
  aigcq init my-book                start a new question bank";

/// Find, draft and merge the missing answers of a Markdown question bank.
#[derive(Debug, Parser)]
#[command(name = "aigcq", version, after_help = EXAMPLES, propagate_version = true)]
pub struct Cli {
    /// Use this configuration file instead of the nearest aigcq.toml.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// When to colour the output (NO_COLOR is honoured).
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List unanswered questions.
    #[command(after_help = "\
Exit status: 0 done, 1 gaps found (with --check), 2 a file could not be read or bad usage.

Examples:
  aigcq gaps
  aigcq gaps content/ch1.md --stats
  aigcq gaps --json | jq '.[] | select(.kind == \"stub\")'")]
    Gaps(GapsArgs),
    /// Lint chapters: table of contents, anchors, images, links, tables, heading levels.
    #[command(after_help = check_help())]
    Check(CheckArgs),
    /// Create aigcq.toml, prompts/, content/ and drafts/ in a folder.
    #[command(after_help = "Examples:\n  aigcq init\n  aigcq init my-book")]
    Init(InitArgs),
    /// Print shell completions.
    #[command(
        after_help = "Examples:\n  aigcq completions bash > ~/.local/share/bash-completion/completions/aigcq\n  aigcq completions zsh > ~/.zfunc/_aigcq"
    )]
    Completions { shell: clap_complete::Shell },
}

#[derive(Debug, Args)]
pub struct GapsArgs {
    /// Chapter files or folders (default: the content folder).
    pub paths: Vec<PathBuf>,
    /// Print one JSON array.
    #[arg(long)]
    pub json: bool,
    /// Only gaps of this kind (repeatable).
    #[arg(long, value_name = "KIND", value_parser = gap_kind())]
    pub kind: Vec<GapKind>,
    /// Exit with status 1 when any gap is found.
    #[arg(long)]
    pub check: bool,
    /// Print answered/total questions per chapter.
    #[arg(long)]
    pub stats: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Chapter files or folders (default: the content folder).
    pub paths: Vec<PathBuf>,
    /// Print one JSON array.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The folder to set up (created when missing).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

/// `check --help`'s epilogue, with the rule list taken from [`crate::check::RULES`].
fn check_help() -> String {
    let rules: String = crate::check::RULES
        .iter()
        .map(|(name, what)| format!("  {name:<18}{what}\n"))
        .collect();
    format!(
        "Rules (disable with [check] disable = [\"rule\", …] in aigcq.toml):\n{rules}\n\
         Exit status: 0 clean, 1 findings, 2 a file could not be read or bad usage.\n\n\
         Examples:\n  aigcq check\n  aigcq check --json content/ch1.md"
    )
}

fn gap_kind() -> impl clap::builder::TypedValueParser<Value = GapKind> {
    use clap::builder::{PossibleValuesParser, TypedValueParser};
    PossibleValuesParser::new(GapKind::ALL.map(GapKind::as_str)).map(|s| {
        GapKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .expect("a possible value")
    })
}
