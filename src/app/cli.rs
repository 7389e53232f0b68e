//! Command-line arguments (clap). Running the commands is [`super::commands`]' job.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use aigcq::chapter::GapKind;

const EXAMPLES: &str = "\
Examples:
  aigcq gaps                        list unanswered questions under content/
  aigcq gaps --json --kind empty    only empty answers, as JSON
  aigcq gaps --check                exit 1 when any question is unanswered (for CI)
  aigcq check content/ch1.md        lint one chapter
  aigcq draft --model gpt-4o-mini   draft an answer for every gap
  aigcq draft 7 --dry-run           show the prompt for question 7, send nothing
  aigcq review                      accept or reject each draft, seeing its diff
  aigcq review --list --json        pending drafts, for scripts
  aigcq judge                       score pending drafts with a judge model
  aigcq config                      show the effective provider settings
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
    /// Log requests to stderr (-vv: also their bodies), before any command that sends them.
    /// API keys are always redacted.
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// `-v`'s count, before the command or on one that sends requests.
    pub fn verbose(&self) -> u8 {
        let own = match &self.command {
            Command::Draft(a) => a.provider.verbose,
            Command::Batch(a) => a.provider.verbose,
            Command::Judge(a) => a.provider.verbose,
            Command::Eval(a) => a.provider.verbose,
            Command::Config(a) => a.provider.verbose,
            Command::Review(a) => a.verbose,
            _ => 0,
        };
        self.verbose.saturating_add(own)
    }
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
    /// Draft answers for gaps with an OpenAI-compatible model; each candidate is saved under drafts/.
    #[command(after_help = "\
Queries (any number; default: every gap): a chapter path or folder, a question id
(CHAPTER.md#anchor), CHAPTER.md#7, 7 (when only one chapter has a question 7), an anchor, or
words of the question.

Exit status: 0 all drafted, 2 a question failed or bad usage, 130 interrupted (Ctrl-C; drafts
already saved stay).

Examples:
  aigcq draft --model deepseek-chat
  aigcq draft 第一章_主流AIGC图像生成编辑大模型高频考点.md#7 -n 3
  aigcq draft DiT --kind empty --limit 5 --dry-run
  aigcq draft 7 --rewrite                    a new version of an answered question
  aigcq draft 7 --ref notes.md --ref https://example.com/report.html   with references
  aigcq draft --judge                        score each draft as it is saved
  aigcq draft 007-a17d65b9 --feedback \"用对比表格列出各版本的创新\"
  OPENAI_BASE_URL=http://127.0.0.1:8089/v1 aigcq draft --model local")]
    Draft(DraftArgs),
    /// Measure models and templates on the book's own answers: held-out questions drafted
    /// afresh, each draft graded by the judge against the book's answer.
    #[command(after_help = "\
A sample of answered questions (spread over the chapters; --seed fixes it) is drafted by every
--model (or [[draft.models]]) with every --template, each question from its chapter with its
own answer removed, so the answer is in no example, neighbour or prompt. The judge ([judge], or
--judge-model) scores each draft 1-10 against the book's answer. content/ is never written and
no pending draft is added: the drafts, verdicts, results.json and report.md go to
drafts/.eval/<run>/.
Exit status: 0 done, 2 a draft or a verdict failed, or bad usage.
Examples:
  aigcq eval --sample 20 --model deepseek-chat --model qwen-plus
  aigcq eval 第一章 --sample 5 --template default --template terse --json")]
    Eval(EvalArgs),
    /// Batches sent with `draft --batch`: their progress, and their answers as drafts.
    #[command(after_help = "\
States: validating, in_progress, finalizing, completed, failed, expired, cancelling, cancelled.

Exit status: 0 done, 2 a batch or a question of it failed, or bad usage.

Examples:
  aigcq draft --batch                     submit every gap
  aigcq batch list
  aigcq batch status batch_abc123 --json
  aigcq batch collect                     every finished batch not yet collected
  aigcq batch cancel batch_abc123
  aigcq draft --batch --export in.jsonl   for vLLM's run_batch on your own GPUs, then:
  aigcq batch import out.jsonl")]
    Batch(BatchArgs),
    /// Review pending drafts: see each as a diff of its chapter, accept, reject, skip or edit it.
    #[command(after_help = "\
Interactive keys: a accept, r reject, s skip, e edit ($VISUAL/$EDITOR), f feedback (the model
revises the draft as a new candidate), n/p next/previous candidate, = compare with the next
candidate, d diff or whole answer, b back, : go to question N, u undo, i what the model was
told, c the answers around, q quit, ? help; space j k g G scroll a screen taller than the
terminal. Without a terminal, use the flags.

IDs are draft ids as --list prints them (chapter/007-a17d65b9), or their last part.

Exit status: 0 done, 2 a draft could not be merged or read, or bad usage.

Examples:
  aigcq review
  aigcq review 7
  aigcq review --list --json
  aigcq review --accept 第一章_主流AIGC图像生成编辑大模型高频考点/007-a17d65b9
  aigcq review --undo                 take back the last accept or reject
  aigcq review --undo --run           take back the whole last run (say, an --accept-all)
  aigcq review --web                  review in the browser (rendered answers, queue, dashboard)
  aigcq review --reject-all --purge")]
    Review(ReviewArgs),
    /// Score pending drafts 1–10 with a judge model against their question, references and a rubric.
    #[command(after_help = "\
The judge is [judge] in aigcq.toml (model, base_url, api_key_env, template, response_format,
temperature); unset fields are the provider's. The rubric is prompts/judge.jinja (built in when
missing). Score and reasons go into each draft's front matter; review shows them.
Exit status: 0 all judged, 2 a draft got no valid verdict (asked twice) or bad usage.
Examples:
  aigcq judge
  aigcq judge 7 --force                      judge question 7's drafts again
  aigcq review --list --sort score
  aigcq review --accept-all --min-score 8")]
    Judge(JudgeArgs),
    /// How each model and template fared in review: accepted, rejected, wins over the others.
    #[command(after_help = "\
From the ledger (drafts/ledger.jsonl), the decisions that stand: per model and per template
(by hash), drafts accepted and rejected (candidates an accept rejected with it count as
rejected), and head to head, where a question had candidates of several, how often each
won over another's. No request is sent.
Examples:
  aigcq stats
  aigcq stats --json")]
    Stats(StatsArgs),
    /// Show the effective provider settings and where each came from; the key only as present/absent.
    #[command(after_help = "Examples:\n  aigcq config\n  aigcq config --model qwen-plus --json")]
    Config(ConfigArgs),
    /// Create aigcq.toml, content/, drafts/ and prompts/ (with the default template) in a folder.
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

/// Settings that flags override (over the environment and aigcq.toml).
#[derive(Debug, Clone, Args)]
pub struct ProviderArgs {
    /// The API's base URL, up to /v1 [env: OPENAI_BASE_URL].
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// The model name [env: AIGCQ_MODEL]. `draft` takes it more than once: every question is
    /// drafted by each model in turn, as candidates side by side.
    #[arg(long, action = clap::ArgAction::Append)]
    pub model: Vec<String>,
    /// Requests in flight at once.
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// Sampling temperature sent with each request (0 is the most deterministic).
    #[arg(long, value_name = "T")]
    pub temperature: Option<f64>,
    /// Limit on each answer's tokens.
    #[arg(long, value_name = "N")]
    pub max_tokens: Option<u32>,
    /// Log requests to stderr (-vv: also their bodies). API keys are always redacted.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

impl ProviderArgs {
    /// Refuses several `--model`s where one is used.
    pub fn one_model(&self) -> anyhow::Result<()> {
        if self.model.len() > 1 {
            anyhow::bail!("--model is given {} times; only draft takes several", self.model.len());
        }
        Ok(())
    }

    pub fn overrides(&self) -> aigcq::llm::provider::Overrides {
        aigcq::llm::provider::Overrides {
            base_url: self.base_url.clone(),
            model: self.model.first().cloned(),
            concurrency: self.concurrency,
            temperature: self.temperature,
            max_tokens: self.max_tokens,
        }
    }
}

#[derive(Debug, Args)]
pub struct BatchArgs {
    #[command(subcommand)]
    pub command: BatchCommand,
    /// Allow sending the API key over plain http:// to a host that is not this machine.
    #[arg(long, global = true)]
    pub allow_insecure: bool,
    #[command(flatten)]
    pub provider: ProviderArgs,
}

#[derive(Debug, clap::Subcommand)]
pub enum BatchCommand {
    /// The batches submitted from this project, with their state now.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One batch's state and request counts (default: every batch not collected yet).
    Status {
        id: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Download the answers of finished batches and save them as drafts (default: every
    /// batch not collected yet). Safe to stop and run again.
    Collect { ids: Vec<String> },
    /// Ask the provider to stop a batch; answers already made can still be collected.
    Cancel { id: String },
    /// Collect an output file made elsewhere from `draft --batch --export` (vLLM's
    /// run_batch on your own GPUs, a provider's console): its answers become drafts.
    Import {
        /// The batch output file (OpenAI's batch output JSONL).
        file: std::path::PathBuf,
        /// The batch it answers (default: the one whose requests it names).
        #[arg(long, value_name = "ID")]
        batch: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct DraftArgs {
    /// Which questions to draft (see below).
    #[arg(value_name = "QUERY")]
    pub queries: Vec<String>,
    /// Only gaps of this kind (repeatable).
    #[arg(long, value_name = "KIND", value_parser = gap_kind())]
    pub kind: Vec<GapKind>,
    /// Draft at most this many questions.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Candidates per question (default: `candidates` in aigcq.toml, else 1).
    #[arg(short = 'n', long, value_name = "K", value_parser = clap::value_parser!(u32).range(1..=16))]
    pub candidates: Option<u32>,
    /// Draft questions that already have a pending draft (adds candidates).
    #[arg(long)]
    pub force: bool,
    /// Draft a new version of answered questions (the prompt includes the current answer);
    /// accepting one replaces the answer, which review --undo can put back.
    #[arg(long)]
    pub rewrite: bool,
    /// Revise the pending drafts named by the queries (draft ids): the model gets the
    /// conversation that made each draft, the draft, and this note; its reply is a new
    /// candidate.
    #[arg(long, value_name = "NOTE", conflicts_with_all = ["rewrite", "dry_run"])]
    pub feedback: Option<String>,
    /// Print the rendered prompts, the token count and the cost; send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Send the requests through the provider's Batch API (half the price, answers within
    /// 24 h) instead of now; collect the drafts later with `aigcq batch collect`.
    #[arg(long, conflicts_with_all = ["dry_run", "judge", "feedback"])]
    pub batch: bool,
    /// With --batch: write the batch input to FILE instead of sending it, for a runner of
    /// your own (vLLM's run_batch); bring its output back with `aigcq batch import`.
    #[arg(long, value_name = "FILE", requires = "batch")]
    pub export: Option<std::path::PathBuf>,
    /// With --dry-run: print the prompts as JSON.
    #[arg(long, requires = "dry_run")]
    pub json: bool,
    /// The prompt template: prompts/NAME.jinja (default: `template` in aigcq.toml, else "default").
    #[arg(long, value_name = "NAME")]
    pub template: Option<String>,
    /// Characters of neighbouring answers shown to the model as style examples (default: `example_chars` in aigcq.toml, else 4000).
    #[arg(long, value_name = "N")]
    pub example_chars: Option<usize>,
    /// Judge each draft as soon as it is saved ([judge] in aigcq.toml; see aigcq judge).
    #[arg(long)]
    pub judge: bool,
    /// Reference material for every selected question, besides its files under refs/: a
    /// file (text, Markdown, HTML, PDF) or an http(s) URL, fetched once and cached (repeatable).
    #[arg(long = "ref", value_name = "PATH|URL")]
    pub refs: Vec<String>,
    /// Characters of reference material per prompt (default: `ref_chars` in aigcq.toml, else 8000).
    #[arg(long, value_name = "N")]
    pub ref_chars: Option<usize>,
    /// Characters of the book's answers to related questions per prompt (default:
    /// `related_chars` in aigcq.toml, else 3000; 0 shows none).
    #[arg(long, value_name = "N")]
    pub related_chars: Option<usize>,
    /// Wait for whole responses instead of streaming them.
    #[arg(long)]
    pub no_stream: bool,
    /// Allow sending the API key over plain http:// to a host that is not this machine.
    #[arg(long)]
    pub allow_insecure: bool,
    #[command(flatten)]
    pub provider: ProviderArgs,
}

#[derive(Debug, Args)]
pub struct JudgeArgs {
    /// Which drafts to judge, as for review (default: every pending draft).
    #[arg(value_name = "QUERY")]
    pub queries: Vec<String>,
    /// Judge drafts that have a score already.
    #[arg(long)]
    pub force: bool,
    /// Judge nothing: report how the judge's scores agree with your decisions so far (the
    /// ledger's accepted and rejected drafts), to see whether the judge is worth using.
    #[arg(long, conflicts_with_all = ["force", "queries"])]
    pub calibrate: bool,
    /// With --calibrate: print JSON.
    #[arg(long, requires = "calibrate")]
    pub json: bool,
    /// Allow sending the API key over plain http:// to a host that is not this machine.
    #[arg(long)]
    pub allow_insecure: bool,
    #[command(flatten)]
    pub provider: ProviderArgs,
}

#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// Which drafts to review, as for `draft` (chapter, id, CHAPTER#N, N, anchor, words).
    #[arg(value_name = "QUERY")]
    pub queries: Vec<String>,
    /// Log the requests of a revision (key f) to stderr (-vv: also their bodies). API keys are
    /// always redacted.
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// List the pending drafts and exit.
    #[arg(long, conflicts_with_all = ["accept", "reject", "accept_all", "reject_all", "undo"])]
    pub list: bool,
    /// Interactive review without the models' names (comparing models fairly): each is shown
    /// when its candidate is accepted; i is off.
    #[arg(long, conflicts_with_all = ["list", "accept", "reject", "accept_all", "reject_all", "undo"])]
    pub blind: bool,
    /// Review in the browser: a page served on 127.0.0.1, rendered answers and formulas,
    /// candidates side by side, a queue with bulk decisions and a dashboard of the book.
    #[arg(long, conflicts_with_all = ["list", "accept", "reject", "accept_all", "reject_all", "undo", "blind"])]
    pub web: bool,
    /// The page's port (default: a free one).
    #[arg(long, value_name = "N", requires = "web")]
    pub port: Option<u16>,
    /// Do not open a browser; only print the page's address.
    #[arg(long, requires = "web")]
    pub no_open: bool,
    /// With --list: print JSON.
    #[arg(long, requires = "list")]
    pub json: bool,
    /// With --list: order by `score` (best first, unjudged last) instead of chapter order.
    #[arg(long, value_name = "KEY", value_parser = ["score"], requires = "list")]
    pub sort: Option<String>,
    /// Accept these drafts (merge them into their chapters).
    #[arg(long, value_name = "ID", num_args = 1..)]
    pub accept: Vec<String>,
    /// Reject these drafts.
    #[arg(long, value_name = "ID", num_args = 1..)]
    pub reject: Vec<String>,
    /// Accept every selected question's safe draft: not stale, truncated or filtered, without
    /// warnings (the best judged candidate, else the first; the others are rejected). The rest
    /// stay pending and are listed with why; --force takes them too.
    #[arg(long, conflicts_with_all = ["accept", "reject_all"])]
    pub accept_all: bool,
    /// Reject every selected draft.
    #[arg(long, conflicts_with_all = ["reject", "accept_all"])]
    pub reject_all: bool,
    /// With --accept-all or --list: only drafts the judge scored N or more (aigcq judge).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=10))]
    pub min_score: Option<u8>,
    /// Accept stale drafts too; with --accept-all, also truncated, filtered and warned ones.
    #[arg(long)]
    pub force: bool,
    /// Delete rejected drafts instead of keeping them under drafts/.rejected/.
    #[arg(long)]
    pub purge: bool,
    /// Commit each chapter write to git, that file alone (also [review] commit = true).
    #[arg(long)]
    pub commit: bool,
    /// Undo the last N decisions (default 1): an accept puts the replaced text back exactly
    /// and its draft pending; a reject brings its draft back.
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "1",
          conflicts_with_all = ["accept", "reject", "accept_all", "reject_all"])]
    pub undo: Option<usize>,
    /// With --undo: take back every decision of the most recent review run (interactive or
    /// scripted) instead of the last N.
    #[arg(long, requires = "undo")]
    pub run: bool,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Which answered questions may be sampled, as for draft (default: all).
    #[arg(value_name = "QUERY")]
    pub queries: Vec<String>,
    /// How many questions to hold out.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub sample: usize,
    /// Fixes which questions are sampled.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// A template to measure (repeatable; default: [draft] template).
    #[arg(long, value_name = "NAME")]
    pub template: Vec<String>,
    /// The judge's model (else [judge] model, else the provider's).
    #[arg(long, value_name = "MODEL")]
    pub judge_model: Option<String>,
    /// Go on with an earlier run (its folder under drafts/.eval/): the same sample; drafts and
    /// verdicts it has are kept, the rest is done.
    #[arg(long, value_name = "RUN", conflicts_with_all = ["queries", "sample", "seed"])]
    pub resume: Option<String>,
    /// Also ask the judge which is better, each draft or the book's answer, in both orders
    /// (prompts/pairwise.jinja, else the built-in one): wins, ties and losses.
    #[arg(long)]
    pub pairwise: bool,
    /// Draft through the provider's Batch API (half the price, within 24 h): the first run
    /// submits, `--resume RUN --batch` collects what finished and grades it.
    #[arg(long)]
    pub batch: bool,
    /// Print JSON: one object per model and template.
    #[arg(long)]
    pub json: bool,
    /// Allow sending the API key over plain http:// to a host that is not this machine.
    #[arg(long)]
    pub allow_insecure: bool,
    #[command(flatten)]
    pub provider: ProviderArgs,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Print JSON: {"models": [...], "templates": [...]}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub provider: ProviderArgs,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The folder to set up (created when missing).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

/// `check --help`'s epilogue, with the rule list taken from [`aigcq::check::Rule`].
fn check_help() -> String {
    let rules: String = aigcq::check::Rule::ALL
        .iter()
        .map(|r| format!("  {:<18}{}\n", r.name(), r.what()))
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
