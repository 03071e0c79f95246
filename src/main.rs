//! The `lux` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lux::{DataRunOptions, Recipe};

// Plugins register themselves with typetag when their crate is linked; name the crates so
// recipe files can use every built-in plugin.
use lux_data as _;
#[cfg(feature = "plugins")]
use lux_plugins as _;

#[derive(Parser)]
#[command(name = "lux", version, about = "Instruction data, adapters and evaluations for low-resource languages")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a recipe's data stage: seeds → generators → filters → dataset (resumable).
    Data {
        /// The recipe file.
        recipe: PathBuf,
        /// Output directory [default: out/<recipe name>/data].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Start over instead of resuming the journal in the output directory.
        #[arg(long)]
        fresh: bool,
        /// Generate again the seeds on which a generator failed in an earlier run.
        #[arg(long)]
        retry_failed: bool,
        /// No progress bars.
        #[arg(long, short)]
        quiet: bool,
    },
    /// List the task registry.
    Tasks,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> lux::core::Result<()> {
    match cli.command {
        Command::Data { recipe, out, fresh, retry_failed, quiet } => {
            let recipe = Recipe::load(&recipe)?;
            let out = out.unwrap_or_else(|| PathBuf::from("out").join(&recipe.name).join("data"));
            let opts = DataRunOptions { progress: !quiet, fresh, retry_failed };
            let summary = recipe.run_data(&out, &opts).await?;
            let s = &summary.stats;
            println!(
                "{} seeds ({} resumed), {} examples generated, {} kept, {} dropped, {} rejected",
                s.seeds_done, summary.seeds_resumed, s.generated, s.kept, s.dropped, s.rejected
            );
            println!("dataset: {}", out.join("dataset.jsonl").display());
            println!("report:  {}", out.join("stats.md").display());
        }
        Command::Tasks => {
            for t in lux::data::tasks::TaskRegistry::builtin().iter() {
                println!(
                    "{:<22} {:<9} {:<50} offline: {}",
                    t.kind.to_string(),
                    format!("{:?}", t.seed).to_lowercase(),
                    t.description,
                    t.offline_generator.as_deref().unwrap_or("-")
                );
            }
        }
    }
    Ok(())
}
