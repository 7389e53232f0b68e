//! The `aigcq` app: arguments, the terminal and printing around the engine in the library.

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use aigcq::config::Project;

mod app;

use app::cli::{Cli, Color, Command};
use app::commands::{self, Status};
use app::context::Context;
use app::output;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.color {
        Color::Always => console::set_colors_enabled(true),
        Color::Never => console::set_colors_enabled(false),
        Color::Auto => {}
    }
    console::set_colors_enabled_stderr(console::colors_enabled_stderr() && !matches!(cli.color, Color::Never));
    init_logging(cli.verbose());
    match run(cli) {
        Ok(status) => ExitCode::from(status as u8),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            output::error(format!("{e:#}"));
            ExitCode::from(Status::Failed as u8)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<Status> {
    if let Command::Completions { shell } = cli.command {
        clap_complete::generate(shell, &mut Cli::command(), "aigcq", &mut std::io::stdout());
        return Ok(Status::Clean);
    }
    if let Command::Init(args) = &cli.command {
        return commands::init::run(&args.dir);
    }
    match &cli.command {
        Command::Batch(a) => a.provider.one_model()?,
        Command::Judge(a) => a.provider.one_model()?,
        Command::Config(a) => a.provider.one_model()?,
        _ => {}
    }
    let cwd = std::env::current_dir()?;
    let project = Project::discover(&cwd, cli.config.as_deref())?;
    let ctx = Context { cwd, project };
    match &cli.command {
        Command::Gaps(args) => commands::gaps::run(&ctx, args),
        Command::Check(args) => commands::check::run(&ctx, args),
        Command::Draft(args) => commands::draft::run(&ctx, args),
        Command::Batch(args) => commands::batch::run(&ctx, args),
        Command::Config(args) => commands::config::run(&ctx, args),
        Command::Review(args) => commands::review::run(&ctx, args),
        Command::Judge(args) => commands::judge::run(&ctx, args),
        Command::Stats(args) => commands::stats::run(&ctx, args),
        Command::Eval(args) => commands::eval::run(&ctx, args),
        Command::Init(_) | Command::Completions { .. } => unreachable!("handled above"),
    }
}

/// `-v` logs aigcq's own request events, `-vv` also request bodies; `AIGCQ_LOG` takes a full
/// filter instead. Only aigcq's targets are enabled by default, because the HTTP stack's
/// own logs are not written with keys in mind.
fn init_logging(verbose: u8) {
    let filter = match std::env::var("AIGCQ_LOG") {
        Ok(f) => f,
        Err(_) if verbose == 0 => return,
        Err(_) => format!("aigcq={}", if verbose == 1 { "debug" } else { "trace" }),
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

/// `aigcq gaps | head` closes the pipe early; that is not an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}
