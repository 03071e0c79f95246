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
#[command(
    name = "lux",
    version,
    about = "Instruction data, adapters and evaluations for low-resource languages"
)]
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
    /// Build a seed corpus (aligned groups + mined dictionary + NOTICE) from localisation
    /// packages fetched by `scripts/fetch-seed-packages.sh`.
    Corpus {
        /// The corpus config.
        #[arg(long, default_value = "data/corpus.toml")]
        config: PathBuf,
        /// The packages directory [default: ~/.cache/lux/packages or $LUX_CACHE/packages].
        #[arg(long)]
        packages: Option<PathBuf>,
        /// Output directory.
        #[arg(long, default_value = "data")]
        out: PathBuf,
    },
    /// Train the character n-gram language identifier on a parallel corpus and report its
    /// accuracy on held-out groups (whole groups are held out, so no sentence is seen in any
    /// language during training).
    Langid {
        /// Parallel JSONL corpus (one aligned group per line).
        #[arg(long, default_value = "data/parallel.jsonl")]
        corpus: PathBuf,
        /// Languages to tell apart (comma-separated; all in the corpus when empty).
        #[arg(long, value_delimiter = ',')]
        langs: Vec<String>,
        /// Fraction of groups held out for evaluation.
        #[arg(long, default_value_t = 0.2)]
        held_out: f64,
        /// Seed of the held-out split.
        #[arg(long, default_value_t = 1729)]
        seed: u64,
        /// Write the Markdown report here.
        #[arg(long)]
        report: Option<PathBuf>,
        /// Save the trained model (JSON) here.
        #[arg(long)]
        save: Option<PathBuf>,
    },
    /// List the task registry.
    Tasks,
}

/// `println!` that stops quietly when stdout is closed (`lux tasks | head`) instead of
/// panicking: a closed pipe is the reader's choice, not an error of lux.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout().lock(), $($arg)*).is_err() {
            std::process::exit(0);
        }
    }};
}

#[tokio::main]
async fn main() -> ExitCode {
    // Tensor buffers freed by one op are reused by the next (see `lux::train::allocator`).
    #[cfg(feature = "train")]
    lux::train::keep_freed_memory();
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
        Command::Data {
            recipe,
            out,
            fresh,
            retry_failed,
            quiet,
        } => {
            let recipe = Recipe::load(&recipe)?;
            let out = out.unwrap_or_else(|| PathBuf::from("out").join(&recipe.name).join("data"));
            let opts = DataRunOptions {
                progress: !quiet,
                fresh,
                retry_failed,
            };
            let summary = recipe.run_data(&out, &opts).await?;
            let s = &summary.stats;
            out!(
                "{} seeds ({} resumed), {} examples generated, {} kept, {} dropped, {} rejected",
                s.seeds_done,
                summary.seeds_resumed,
                s.generated,
                s.kept,
                s.dropped,
                s.rejected
            );
            out!("dataset: {}", out.join("dataset.jsonl").display());
            out!("report:  {}", out.join("stats.md").display());
        }
        Command::Corpus {
            config,
            packages,
            out,
        } => {
            use lux::core::IoContext;
            let text = std::fs::read_to_string(&config).with_path(&config)?;
            let cfg: lux::data::corpus::CorpusConfig = toml::from_str(&text)
                .map_err(|e| lux::core::Error::parse(&config, None, e.to_string()))?;
            let packages = packages.unwrap_or_else(|| {
                std::env::var_os("LUX_CACHE")
                    .map(PathBuf::from)
                    .or_else(|| {
                        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/lux"))
                    })
                    .unwrap_or_default()
                    .join("packages")
            });
            let report = lux::data::corpus::build_corpus(&cfg, &packages, &out)?;
            out!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
        }
        Command::Langid {
            corpus,
            langs,
            held_out,
            seed,
            report,
            save,
        } => {
            use lux::data::langid::{LangId, LangIdConfig, read_parallel_jsonl, split_parallel};
            let langs = langs
                .iter()
                .map(|l| lux::core::Lang::new(l.trim()))
                .collect::<lux::core::Result<Vec<_>>>()?;
            if !(0.0..1.0).contains(&held_out) {
                return Err(lux::core::Error::invalid("--held-out", "must be in [0, 1)"));
            }
            let split = split_parallel(&read_parallel_jsonl(&corpus)?, &langs, held_out, seed);
            let model = LangId::train(split.train, LangIdConfig::default())?;
            // Short strings (single words, names) are where n-gram models fail; the filters
            // only judge texts of at least 20 letters, so report that part separately.
            let long: Vec<_> = split
                .held_out
                .iter()
                .filter(|(_, t)| t.chars().filter(|c| c.is_alphabetic()).count() >= 20)
                .cloned()
                .collect();
            let mut md = String::from("# Language identification, all held-out texts\n\n");
            md.push_str(&model.evaluate(&split.held_out).to_markdown());
            md.push_str("\n# Held-out texts of at least 20 letters (what the filters judge)\n\n");
            md.push_str(&model.evaluate(&long).to_markdown());
            out!("{md}");
            if let Some(path) = report {
                lux::core::fs::write_atomic(&path, md.as_bytes())?;
            }
            if let Some(path) = save {
                model.save(&path)?;
            }
        }
        Command::Tasks => {
            for t in lux::data::tasks::TaskRegistry::builtin().iter() {
                out!(
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
