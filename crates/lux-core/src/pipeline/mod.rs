//! The data pipeline: seeds → generators → filters → dataset, resumable.
//!
//! ```text
//! SeedSource* ──(blocking reader thread)──► InstructionGenerator* ──► journal.jsonl
//!                                           (bounded concurrency,        │
//!                                            results kept in order)      ▼
//!                               dataset.jsonl ◄── Filter* (in order) ◄── replay
//!                               dropped.jsonl, rejected.jsonl, stats.{json,md}
//! ```
//!
//! Generation is the expensive, possibly paid, part: every finished seed is appended to the
//! journal at once. Filtering is cheap and is always replayed over the whole journal, so a
//! resumed run, or a run with changed filters, writes exactly what an uninterrupted run with
//! those filters would. Changing sources, generators, languages or the seed changes the
//! recipe's fingerprint, and the runner refuses to mix the old journal into the new run.
//!
//! Every file of the output directory is written to a temporary name and renamed
//! ([`crate::fs::write_atomic`]); the journal, which is appended to, carries a checksum per
//! line. A run killed at any moment leaves whole files and a journal whose last line at most
//! is cut, and the next run resumes from it. With [`RunOptions::shard`] a run generates one
//! slice of the seeds, and [`Pipeline::merge_shards`] joins the slices (see [`shard`]).

mod journal;
pub mod shard;
mod stats;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

pub use journal::{DamagedLine, Journal, JournalContents, JournalEntry};
pub use shard::{SHARD_RECORD, Shard, ShardRecord};
pub use stats::{Counts, RunStats};

use crate::{
    Error, Example, Filter, FilterContext, GenerateContext, InstructionGenerator, IoContext, Lang,
    Rejection, Result, Seed, SeedSource, SourceContext, Verdict, fs,
};

/// The data section of a recipe: what to read, how to make examples, what to keep.
///
/// In TOML:
/// ```toml
/// seed = 1729
/// native = "lb"
/// instruction_langs = ["en", "fr", "de"]
/// concurrency = 8
///
/// [[sources]]
/// type = "jsonl"
/// path = "news.jsonl"
///
/// [[generators]]
/// type = "article_to_title"
///
/// [[filters]]
/// type = "length"
/// min_output_chars = 2
/// ```
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Seed of every choice the generators make.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// The native (low-resource) language: outputs are written in it.
    pub native: Lang,
    /// Languages instructions are written in.
    pub instruction_langs: Vec<Lang>,
    /// Seeds generated at once (matters for LLM-backed generators).
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Read at most this many items from each source (quick trials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_seeds_per_source: Option<usize>,
    /// Extra language names for templates: `language_names.fr.gsw = "suisse allemand"`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub language_names: BTreeMap<Lang, BTreeMap<Lang, String>>,
    /// Where seeds come from, read in order.
    pub sources: Vec<Box<dyn SeedSource>>,
    /// Generators; each seed goes to every generator that accepts it.
    pub generators: Vec<Box<dyn InstructionGenerator>>,
    /// Filters, applied in order.
    #[serde(default)]
    pub filters: Vec<Box<dyn Filter>>,
}

fn default_seed() -> u64 {
    1729
}

fn default_concurrency() -> usize {
    8
}

impl PipelineConfig {
    /// Parses a TOML recipe section; errors name the key.
    pub fn from_toml(text: &str, origin: &Path) -> Result<PipelineConfig> {
        toml::from_str(text).map_err(|e| {
            let location = e.span().map(|s| {
                let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                format!("line {line}")
            });
            Error::parse(origin, location, e.message().to_string())
        })
    }

    fn validate(&self) -> Result<()> {
        if self.concurrency == 0 {
            return Err(Error::invalid("concurrency", "must be at least 1"));
        }
        if self.instruction_langs.is_empty() {
            return Err(Error::invalid(
                "instruction_langs",
                "name at least one language",
            ));
        }
        if self.sources.is_empty() {
            return Err(Error::invalid("sources", "name at least one seed source"));
        }
        if self.generators.is_empty() {
            return Err(Error::invalid("generators", "name at least one generator"));
        }
        Ok(())
    }
}

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Directory relative recipe paths are resolved against.
    pub base_dir: PathBuf,
    /// Show progress bars on stderr.
    pub progress: bool,
    /// Generate again the seeds on which a generator failed in an earlier run.
    pub retry_failed: bool,
    /// Ignore and replace an existing journal instead of resuming it.
    pub fresh: bool,
    /// Generate only this slice of the seeds, and write no dataset (see [`shard`]).
    pub shard: Option<Shard>,
    /// Recorded in a shard's `shard.json` so that merging can find the recipe again (lux
    /// records the recipe file and `--quick`); null records nothing.
    pub origin: serde_json::Value,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            base_dir: PathBuf::from("."),
            progress: false,
            retry_failed: false,
            fresh: false,
            shard: None,
            origin: serde_json::Value::Null,
        }
    }
}

/// What a run wrote.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// The output directory.
    pub out_dir: PathBuf,
    /// Seeds generated by this run (not resumed from the journal).
    pub seeds_generated_now: usize,
    /// Seeds found complete in the journal and skipped.
    pub seeds_resumed: usize,
    /// The statistics (also in `stats.json`). Of a shard run: what was generated, before
    /// any filter (`kept` and `dropped` are 0; filters run when the shards are merged).
    pub stats: RunStats,
}

/// A dropped example and who dropped it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DroppedExample {
    /// The filter.
    pub filter: String,
    /// Why.
    pub reason: String,
    /// The example.
    pub example: Example,
}

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    fingerprint: String,
    recipe: serde_json::Value,
}

/// Runs a [`PipelineConfig`] into an output directory.
///
/// Files written to `out_dir`: `journal.jsonl` (raw generations, the resume point),
/// `dataset.jsonl`, `dropped.jsonl`, `rejected.jsonl`, `stats.json`, `stats.md`, `run.json`;
/// a shard run writes `journal.jsonl`, `run.json` and `shard.json` only.
#[derive(Debug)]
pub struct Pipeline {
    config: PipelineConfig,
    sources: Arc<Vec<Box<dyn SeedSource>>>,
}

impl Pipeline {
    /// A pipeline of a validated config.
    pub fn new(mut config: PipelineConfig) -> Result<Pipeline> {
        config.validate()?;
        let sources = Arc::new(std::mem::take(&mut config.sources));
        Ok(Pipeline { config, sources })
    }

    /// The config (sources moved out).
    pub fn config(&self) -> &PipelineConfig {
        &self.config
    }

    fn generate_context(&self, base_dir: &Path) -> GenerateContext {
        let c = &self.config;
        let mut ctx = GenerateContext::new(c.seed, c.native.clone(), c.instruction_langs.clone())
            .with_base_dir(base_dir);
        for (in_lang, names) in &c.language_names {
            for (of, name) in names {
                ctx.language_names
                    .insert((in_lang.clone(), of.clone()), name.clone());
            }
        }
        ctx
    }

    /// Everything that determines the generated examples (not the filters), and its hash.
    fn fingerprint(&self) -> Result<(String, serde_json::Value)> {
        #[derive(Serialize)]
        struct GenerationRecipe<'a> {
            seed: u64,
            native: &'a Lang,
            instruction_langs: &'a [Lang],
            language_names: &'a BTreeMap<Lang, BTreeMap<Lang, String>>,
            max_seeds_per_source: Option<usize>,
            sources: &'a [Box<dyn SeedSource>],
            generators: &'a [Box<dyn InstructionGenerator>],
        }
        let c = &self.config;
        let value = serde_json::to_value(GenerationRecipe {
            seed: c.seed,
            native: &c.native,
            instruction_langs: &c.instruction_langs,
            language_names: &c.language_names,
            max_seeds_per_source: c.max_seeds_per_source,
            sources: &self.sources,
            generators: &c.generators,
        })
        .map_err(|e| Error::other("fingerprinting the recipe", e))?;
        Ok((crate::rng::id(&value.to_string()), value))
    }

    /// Generates (resuming from `out_dir/journal.jsonl`), filters and writes the dataset.
    pub async fn run(
        &mut self,
        out_dir: impl AsRef<Path>,
        opts: &RunOptions,
    ) -> Result<RunSummary> {
        let out = out_dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&out).with_path(&out)?;
        fs::remove_stale_temps(&out)?;
        let journal_path = out.join("journal.jsonl");
        let manifest_path = out.join("run.json");
        let (fingerprint, recipe) = self.fingerprint()?;
        if opts.fresh && journal_path.exists() {
            std::fs::remove_file(&journal_path).with_path(&journal_path)?;
        }
        let old_shard = ShardRecord::read(&out)?.map(|r| r.shard);
        if journal_path.exists() && old_shard != opts.shard {
            let held = match old_shard {
                Some(s) => format!("shard {s} of a sharded run"),
                None => "an unsharded run".into(),
            };
            let wanted = match opts.shard {
                Some(s) => format!("shard {s}"),
                None => "an unsharded run (merge shards with `lux dataset merge`)".into(),
            };
            return Err(Error::invalid(
                "output directory",
                format!(
                    "{} holds {held}, not {wanted}; use another directory or start fresh \
                     (--fresh)",
                    out.display()
                ),
            ));
        }
        if journal_path.exists() && manifest_path.exists() {
            let text = std::fs::read_to_string(&manifest_path).with_path(&manifest_path)?;
            let old: Manifest = serde_json::from_str(&text)
                .map_err(|e| Error::parse_source(&manifest_path, None, e))?;
            if old.fingerprint != fingerprint {
                return Err(Error::invalid(
                    "output directory",
                    format!(
                        "{} holds a run of a different recipe (sources, generators, languages or \
                         seed changed); use another directory or start fresh (--fresh)",
                        out.display()
                    ),
                ));
            }
        }
        let shard_record = opts.shard.map(|shard| ShardRecord {
            shard,
            fingerprint: fingerprint.clone(),
            complete: false,
            origin: opts.origin.clone(),
        });
        match &shard_record {
            Some(r) => r.write(&out)?,
            None if old_shard.is_some() => {
                let p = out.join(SHARD_RECORD);
                std::fs::remove_file(&p).with_path(&p)?;
            }
            None => {}
        }
        fs::write_json_atomic(
            &manifest_path,
            &Manifest {
                fingerprint,
                recipe,
            },
        )?;

        let (mut journal, mut entries) = Journal::open(&journal_path)?;
        let done: HashSet<String> = entries
            .iter()
            .filter(|e| !opts.retry_failed || e.failures.is_empty())
            .map(|e| e.key.clone())
            .collect();
        let seeds_resumed = done.len();
        if seeds_resumed > 0 {
            tracing::info!(
                "resuming: {seeds_resumed} seeds already in {}",
                journal_path.display()
            );
        }

        let ctx = self.generate_context(&opts.base_dir);
        for g in &mut self.config.generators {
            g.prepare(&ctx)
                .map_err(|e| Error::plugin(g.name(), format!("preparing: {e}")))?;
        }
        let generated_now = self
            .generate(&mut journal, &done, opts, &mut entries)
            .await?;
        journal.sync()?;

        let stats = match shard_record {
            Some(mut record) => {
                record.complete = true;
                record.write(&out)?;
                generation_stats(latest_entries(entries))
            }
            None => self.filter_and_write(&out, entries, opts)?,
        };
        Ok(RunSummary {
            out_dir: out,
            seeds_generated_now: generated_now,
            seeds_resumed,
            stats,
        })
    }

    async fn generate(
        &self,
        journal: &mut Journal,
        done: &HashSet<String>,
        opts: &RunOptions,
        entries: &mut Vec<JournalEntry>,
    ) -> Result<usize> {
        let ctx = self.generate_context(&opts.base_dir);
        let generators = &self.config.generators;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<(u64, String, Seed)>>(1024);
        let sources = Arc::clone(&self.sources);
        let source_ctx = SourceContext::new(&opts.base_dir).with_native(self.config.native.clone());
        let limit = self.config.max_seeds_per_source;
        let reader =
            tokio::task::spawn_blocking(move || read_seeds(&sources, &source_ctx, limit, &tx));

        let bar = progress_bar(opts.progress, "generating");
        let started = Instant::now();
        let seeds = futures::stream::poll_fn(|cx| rx.poll_recv(cx));
        let mut work = seeds
            .filter_map(|item| {
                let keep = match &item {
                    Ok((seq, key, seed)) => {
                        opts.shard.is_none_or(|s| s.contains(*seq))
                            && !done.contains(key)
                            && generators.iter().any(|g| g.accepts(seed))
                    }
                    Err(_) => true,
                };
                futures::future::ready(keep.then_some(item))
            })
            .map(|item| {
                let ctx = &ctx;
                async move {
                    let (seq, key, seed) = item?;
                    let mut entry = JournalEntry {
                        seq,
                        key,
                        examples: Vec::new(),
                        rejected: Vec::new(),
                        failures: Vec::new(),
                    };
                    for g in generators.iter().filter(|g| g.accepts(&seed)) {
                        match g.generate(&seed, ctx).await {
                            Ok(generation) => {
                                entry.examples.extend(generation.examples);
                                entry.rejected.extend(generation.rejected);
                            }
                            Err(e) => {
                                tracing::warn!("{}: seed {}: {e}", g.name(), entry.key);
                                entry.failures.push(Rejection {
                                    generator: g.name(),
                                    reason: e.to_string(),
                                });
                            }
                        }
                    }
                    Ok::<_, Error>(entry)
                }
            })
            .buffered(self.config.concurrency);

        let mut count = 0usize;
        let mut examples = 0usize;
        while let Some(entry) = work.next().await {
            let entry = entry?;
            journal.append(&entry)?;
            count += 1;
            examples += entry.examples.len();
            entries.push(entry);
            bar.inc(1);
            if count.is_multiple_of(64) {
                let rate = count as f64 / started.elapsed().as_secs_f64().max(1e-9);
                bar.set_message(format!("{examples} examples, {rate:.0} seeds/s"));
            }
        }
        drop(work);
        bar.finish_with_message(format!("{examples} examples from {count} seeds"));
        reader
            .await
            .map_err(|e| Error::other("seed reader thread", e))??;
        Ok(count)
    }

    fn filter_and_write(
        &mut self,
        out: &Path,
        entries: Vec<JournalEntry>,
        opts: &RunOptions,
    ) -> Result<RunStats> {
        let entries = latest_entries(entries);

        let fctx = FilterContext {
            native: self.config.native.clone(),
            instruction_langs: self.config.instruction_langs.clone(),
            base_dir: opts.base_dir.clone(),
            seed: self.config.seed,
        };
        for f in &mut self.config.filters {
            f.prepare(&fctx)
                .map_err(|e| Error::plugin(f.name(), format!("preparing: {e}")))?;
        }
        let total: usize = entries.iter().map(|e| e.examples.len()).sum();
        let bar = progress_bar(opts.progress, "filtering");
        bar.set_length(total as u64);

        let mut stats = RunStats::default();
        let mut kept = Vec::new();
        let mut dropped = Vec::new();
        let mut rejected = Vec::new();
        for entry in entries {
            stats.count_seed(&entry);
            for r in entry.rejected.iter().chain(&entry.failures) {
                rejected.push(serde_json::json!({
                    "seed": entry.key, "generator": r.generator, "reason": r.reason,
                    "failure": entry.failures.contains(r),
                }));
            }
            for ex in entry.examples {
                bar.inc(1);
                let mut verdict = None;
                for f in &mut self.config.filters {
                    match f.check(&ex).map_err(|e| {
                        Error::plugin(f.name(), format!("on example {}: {e}", ex.id))
                    })? {
                        Verdict::Keep => {}
                        Verdict::Drop { reason } => {
                            verdict = Some((f.name(), reason));
                            break;
                        }
                    }
                }
                stats.count(&ex, verdict.is_none());
                match verdict {
                    None => kept.push(ex),
                    Some((filter, reason)) => {
                        *stats
                            .drops
                            .entry(filter.clone())
                            .or_default()
                            .entry(stats::reason_head(&reason))
                            .or_default() += 1;
                        dropped.push(DroppedExample {
                            filter,
                            reason,
                            example: ex,
                        });
                    }
                }
            }
        }
        bar.finish();
        fs::write_jsonl_atomic(out.join("dataset.jsonl"), &kept)?;
        fs::write_jsonl_atomic(out.join("dropped.jsonl"), &dropped)?;
        fs::write_jsonl_atomic(out.join("rejected.jsonl"), &rejected)?;
        fs::write_json_atomic(out.join("stats.json"), &stats)?;
        fs::write_atomic(
            out.join("stats.md"),
            stats.to_markdown("Dataset statistics").as_bytes(),
        )?;
        Ok(stats)
    }
}

/// The last entry per key (a retried seed), in stream order.
fn latest_entries(entries: Vec<JournalEntry>) -> Vec<JournalEntry> {
    let mut latest: BTreeMap<String, JournalEntry> = BTreeMap::new();
    for e in entries {
        latest.insert(e.key.clone(), e);
    }
    let mut entries: Vec<JournalEntry> = latest.into_values().collect();
    entries.sort_by_key(|e| e.seq);
    entries
}

/// The counts of a shard: seeds, failures, generations and rejections; no filter ran.
fn generation_stats(entries: Vec<JournalEntry>) -> RunStats {
    let mut stats = RunStats::default();
    for entry in &entries {
        stats.count_seed(entry);
        for ex in &entry.examples {
            stats.count_generated(ex);
        }
    }
    stats
}

fn read_seeds(
    sources: &[Box<dyn SeedSource>],
    ctx: &SourceContext,
    limit: Option<usize>,
    tx: &tokio::sync::mpsc::Sender<Result<(u64, String, Seed)>>,
) -> Result<()> {
    let mut seq = 0u64;
    for (index, source) in sources.iter().enumerate() {
        let name = source.name();
        let stream = match source.open(ctx) {
            Ok(s) => s,
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return Ok(());
            }
        };
        let mut seen = HashSet::new();
        for item in stream.take(limit.unwrap_or(usize::MAX)) {
            let msg = item.and_then(|seed| {
                let key = format!("{index}/{name}/{}", seed.id());
                if !seen.insert(seed.id().to_string()) {
                    return Err(Error::plugin(
                        &name,
                        format!(
                            "item id `{}` occurs twice; ids must be unique per source",
                            seed.id()
                        ),
                    ));
                }
                Ok((seq, key, seed))
            });
            seq += 1;
            let failed = msg.is_err();
            if tx.blocking_send(msg).is_err() || failed {
                return Ok(()); // the consumer stopped, or reported the error
            }
        }
    }
    Ok(())
}

fn progress_bar(show: bool, what: &'static str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{prefix:>10} {spinner} [{elapsed_precise}] {pos} {wide_msg}")
            .expect("valid template"),
    );
    bar.set_prefix(what);
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}
