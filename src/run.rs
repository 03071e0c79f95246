//! [`Run`]: a recipe run into one directory — every stage in order, finished stages reused,
//! interrupted ones resumed, and a report linking what each stage wrote.
//!
//! ```text
//! out/<recipe>/
//!   recipe.json            the resolved recipe (every default filled in, [quick] applied)
//!   data/                  dataset.jsonl, dropped.jsonl, stats.md … (+ stage.json)
//!   mix/                   train.jsonl, validation.jsonl, mix_stats.json
//!   train/<name>/          metrics.jsonl, loss.svg, checkpoint-N/, adapter/
//!   eval/<name>/           the evaluation's tables and charts
//!   llm-cache/             LLM responses by content (kept when a stage starts over)
//!   report.md, report.json the run: one section per stage, LLM usage
//!   shards/<i>-of-<N>/     a sharded data run's slices (`lux run --shard i/N`), each a run
//!                          directory of its own holding data/ only (they share llm-cache/)
//! ```
//!
//! A shard run (`--shard i/N`) runs the data stage alone on its slice of the seeds and skips
//! every later stage (naming one with `--stage` is refused): the mix, training and
//! evaluations need the whole dataset. [`merge_data_shards`] joins the slices into
//! `out/<recipe>/data/` as a finished data stage, so the next `lux run` reuses it and goes on
//! with the mix.
//!
//! Each stage directory holds a `stage.json` recording the stage's *key* — a hash of its
//! settings, the `[model]`, the seed and the keys of every stage before it — and whether it
//! finished. A stage whose key is unchanged and which finished is reused; one that started
//! with the same key and did not finish is run again and resumes from its own state (the
//! data stage's journal, a trainer's newest checkpoint); one whose key changed starts over.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use lux_core::pipeline::{Pipeline, PipelineConfig, RunOptions, RunSummary, Shard, ShardRecord};
use lux_core::stage::{Artifact, Resources, StageContext, StageOutput};
use lux_core::{Error, IoContext, Result, fs, rng};
use lux_data::mix::{MixConfig, mix_with};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::recipe::{DataRunOptions, LoadOptions, Named, Recipe};

/// How to run a recipe.
#[derive(Debug, Clone, Default)]
pub struct RunSettings {
    /// The run directory \[default: `out/<recipe name>`\].
    pub out: Option<PathBuf>,
    /// Stop after the stage of this name.
    pub stop_after: Option<String>,
    /// Run these stages again even when they finished with the same settings.
    pub rerun: Vec<String>,
    /// Show progress bars.
    pub progress: bool,
    /// Run only the data stage, on this slice of the seeds \[default run directory:
    /// `out/<recipe name>/shards/<i>-of-<N>`\].
    pub shard: Option<Shard>,
}

/// What happened to one stage of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageReport {
    /// The stage's name.
    pub name: String,
    /// `data`, `mix`, `train` or `eval`.
    pub kind: String,
    /// `ran` or `reused`.
    pub status: String,
    /// Seconds it ran (when it was reused: the seconds of the run that made it).
    pub seconds: f64,
    /// Its directory, relative to the run directory.
    pub dir: String,
    /// What it returned.
    pub output: StageOutput,
}

/// What [`Run::execute`] returns (also written to `report.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// The recipe's name.
    pub recipe: String,
    /// The run directory.
    pub run_dir: PathBuf,
    /// The stages, in order.
    pub stages: Vec<StageReport>,
    /// Each LLM client's requests, cache hits, retries, tokens and cost.
    pub llm_usage: Vec<Value>,
}

/// The record a stage directory keeps (`stage.json`).
#[derive(Debug, Serialize, Deserialize)]
struct StageRecord {
    key: String,
    finished: bool,
    #[serde(default)]
    seconds: f64,
    #[serde(default)]
    output: StageOutput,
}

const RECORD: &str = "stage.json";

/// A recipe about to run.
#[derive(Debug)]
pub struct Run {
    recipe: Recipe,
    settings: RunSettings,
    dir: PathBuf,
    resources: Resources,
}

impl Run {
    /// Prepares `recipe`: checks `stop_after` and `rerun` name stages, and lets every stage
    /// check its settings before anything runs.
    pub fn new(recipe: Recipe, settings: RunSettings) -> Result<Run> {
        let names = recipe.stage_names();
        for name in settings.stop_after.iter().chain(&settings.rerun) {
            if !names.contains(name) {
                return Err(Error::invalid(
                    "--stage",
                    format!(
                        "{} has no stage `{name}` (its stages: {})",
                        recipe.path.display(),
                        names.join(", ")
                    ),
                ));
            }
        }
        if let Some(shard) = settings.shard {
            check_shard_settings(&recipe, &settings, shard)?;
        }
        let mut run = Run::unprepared(recipe, settings);
        if run.settings.shard.is_some() {
            return Ok(run); // no later stage runs: nothing to prepare (nor models to load)
        }
        let mut train = std::mem::take(&mut run.recipe.train);
        for stage in &mut train {
            let ctx = run.context(&stage.name, "train", Vec::new());
            stage
                .stage
                .prepare(&ctx)
                .map_err(|e| in_stage(&run.recipe, &stage.name, e))?;
        }
        run.recipe.train = train;
        let mut eval = std::mem::take(&mut run.recipe.eval);
        for stage in &mut eval {
            let ctx = run.context(&stage.name, "eval", Vec::new());
            stage
                .stage
                .prepare(&ctx)
                .map_err(|e| in_stage(&run.recipe, &stage.name, e))?;
        }
        run.recipe.eval = eval;
        Ok(run)
    }

    /// A run whose train and eval stages are not prepared (for a shard run, or to compute a
    /// stage's key).
    fn unprepared(recipe: Recipe, settings: RunSettings) -> Run {
        let dir = settings.out.clone().unwrap_or_else(|| {
            let root = PathBuf::from("out").join(&recipe.name);
            match settings.shard {
                Some(shard) => root.join("shards").join(shard.dir_name()),
                None => root,
            }
        });
        let resources = Resources::default();
        if let Some(model) = &recipe.model {
            resources.insert(lux_train::stages::MODEL_SPEC, model.clone());
        }
        Run {
            recipe,
            settings,
            dir,
            resources,
        }
    }

    /// The run directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The resources the stages share: insert a loaded model or an LLM client here before
    /// [`execute`](Self::execute) to use it instead of the recipe's.
    pub fn resources(&self) -> &Resources {
        &self.resources
    }

    /// Runs every stage in order (up to `stop_after`), then writes `report.md` and
    /// `report.json`.
    pub async fn execute(mut self) -> Result<RunReport> {
        std::fs::create_dir_all(&self.dir).with_path(&self.dir)?;
        fs::write_json_atomic(self.dir.join("recipe.json"), &self.resolved()?)?;
        let mut reports: Vec<StageReport> = Vec::new();
        let mut inputs: Vec<(String, Artifact)> = Vec::new();
        let mut key = self.root_key()?;

        if let Some(data) = self.recipe.data.take() {
            key = self.data_key(&key, &data);
            if let Some(shard) = self.settings.shard {
                // A slice is not the stage's output: its own key, so that it is never taken
                // for (or reused as) the whole data stage.
                key = stage_key(&key, &json!({ "shard": shard.to_string() }));
            }
            let report = self.data_stage(data, &key).await?;
            collect(&mut inputs, &report);
            reports.push(report);
            if self.stops_after("data") || self.settings.shard.is_some() {
                return self.finish(reports);
            }
        }
        if let Some(mix) = self.recipe.mix.take() {
            key = stage_key(&key, &serde_json::to_value(&mix).unwrap_or_default());
            let report = self.mix_stage(&mix, &key, &inputs)?;
            collect(&mut inputs, &report);
            reports.push(report);
            if self.stops_after("mix") {
                return self.finish(reports);
            }
        }
        for stage in std::mem::take(&mut self.recipe.train) {
            key = stage_key(&key, &to_json(&stage)?);
            let ctx = self.context(&stage.name, "train", inputs.clone());
            let report = self
                .plugin_stage(&ctx, "train", &key, stage.stage.train(&ctx))
                .await
                .map_err(|e| in_stage(&self.recipe, &stage.name, e))?;
            collect(&mut inputs, &report);
            reports.push(report);
            if self.stops_after(&stage.name) {
                return self.finish(reports);
            }
        }
        for stage in std::mem::take(&mut self.recipe.eval) {
            // Evaluations do not feed each other: each is keyed on the training it scores.
            let eval_key = stage_key(&key, &to_json(&stage)?);
            let ctx = self.context(&stage.name, "eval", inputs.clone());
            let report = self
                .plugin_stage(&ctx, "eval", &eval_key, stage.stage.evaluate(&ctx))
                .await
                .map_err(|e| in_stage(&self.recipe, &stage.name, e))?;
            reports.push(report);
            if self.stops_after(&stage.name) {
                break;
            }
        }
        self.finish(reports)
    }

    /// Where LLM answers are cached: `llm-cache/` in the run directory; a shard in the
    /// default layout shares the whole run's (`out/<recipe>/llm-cache`), so that answers
    /// paid for by any shard serve every later run of the recipe. (Entries are written by
    /// atomic rename under unique temporary names: shards may write side by side.)
    fn llm_cache_dir(&self) -> PathBuf {
        match (self.settings.shard, &self.settings.out) {
            (Some(_), None) => PathBuf::from("out")
                .join(&self.recipe.name)
                .join("llm-cache"),
            _ => self.dir.join("llm-cache"),
        }
    }

    /// The data stage's key after `previous` (the root key).
    fn data_key(&self, previous: &str, data: &PipelineConfig) -> String {
        let settings = json!({
            "data": data,
            "llm": self.recipe.llm.as_ref().map(redacted),
            "llm_generators": self.recipe.llm_generators,
        });
        stage_key(previous, &settings)
    }

    fn stops_after(&self, name: &str) -> bool {
        self.settings.stop_after.as_deref() == Some(name)
    }

    fn context(&self, name: &str, kind: &str, inputs: Vec<(String, Artifact)>) -> StageContext {
        StageContext {
            name: name.to_string(),
            dir: self.dir.join(kind).join(name),
            run_dir: self.dir.clone(),
            base_dir: self.recipe.base_dir.clone(),
            seed: self.recipe.seed,
            native: self.recipe.native.clone(),
            instruction_langs: self.recipe.instruction_langs.clone(),
            quick: self.recipe.quick,
            progress: self.settings.progress,
            inputs,
            resources: self.resources.clone(),
        }
    }

    /// What every stage's key starts from: the model, the seed, the languages.
    fn root_key(&self) -> Result<String> {
        let root = json!({
            "model": self.recipe.model,
            "seed": self.recipe.seed,
            "native": self.recipe.native,
            "instruction_langs": self.recipe.instruction_langs,
        });
        Ok(stage_key("", &root))
    }

    /// The recipe with every default filled in.
    fn resolved(&self) -> Result<Value> {
        Ok(json!({
            "name": self.recipe.name,
            "description": self.recipe.description,
            "recipe_file": self.recipe.path,
            "quick": self.recipe.quick,
            "seed": self.recipe.seed,
            "native": self.recipe.native,
            "instruction_langs": self.recipe.instruction_langs,
            "data": self.recipe.data,
            "mix": self.recipe.mix,
            "model": self.recipe.model,
            "llm": self.recipe.llm.as_ref().map(redacted),
            "llm_generators": self.recipe.llm_generators,
            "train": self.recipe.train.iter().map(to_json).collect::<Result<Vec<_>>>()?,
            "eval": self.recipe.eval.iter().map(to_json).collect::<Result<Vec<_>>>()?,
        }))
    }

    fn reuse(&self, name: &str, kind: &str, dir: &Path, key: &str) -> Option<StageReport> {
        if self.settings.rerun.iter().any(|r| r == name) {
            return None;
        }
        let record = read_record(dir)?;
        let output = absolute(record.output, &self.dir);
        // A finished stage whose files were deleted since is run again, not reused.
        let intact = output.artifacts.values().all(|a| a.path.exists());
        (record.finished && record.key == key && intact).then(|| StageReport {
            name: name.to_string(),
            kind: kind.to_string(),
            status: "reused".into(),
            seconds: record.seconds,
            dir: link(&self.dir, dir),
            output,
        })
    }

    /// Prepares a stage directory: keeps it when an unfinished run of the same key left it
    /// (the stage resumes), empties it when the key changed. Returns whether it resumes.
    fn enter(&self, dir: &Path, key: &str) -> Result<bool> {
        let resumes = match read_record(dir) {
            Some(r) if r.key == key && !r.finished => true,
            Some(_) => {
                remove_dir_atomically(dir)?;
                false
            }
            None => false,
        };
        std::fs::create_dir_all(dir).with_path(dir)?;
        write_record(
            dir,
            &StageRecord {
                key: key.to_string(),
                finished: false,
                seconds: 0.0,
                output: StageOutput::default(),
            },
            &self.dir,
        )?;
        Ok(resumes)
    }

    fn done(
        &self,
        name: &str,
        kind: &str,
        dir: &Path,
        key: &str,
        seconds: f64,
        output: StageOutput,
    ) -> Result<StageReport> {
        write_record(
            dir,
            &StageRecord {
                key: key.to_string(),
                finished: true,
                seconds,
                output: output.clone(),
            },
            &self.dir,
        )?;
        eprintln!("  {name}: done in {seconds:.1} s");
        Ok(StageReport {
            name: name.to_string(),
            kind: kind.to_string(),
            status: "ran".into(),
            seconds,
            dir: link(&self.dir, dir),
            output,
        })
    }

    async fn data_stage(&self, mut data: PipelineConfig, key: &str) -> Result<StageReport> {
        let dir = self.dir.join("data");
        if let Some(report) = self.reuse("data", "data", &dir, key) {
            eprintln!("data: reused ({})", dir.display());
            return Ok(report);
        }
        eprintln!("data: {} → {}", self.recipe.path.display(), dir.display());
        let resumes = self.enter(&dir, key)?;
        let started = Instant::now();
        // The response cache lives beside the stages, not in `data/`: a data stage that starts
        // over (its settings changed) answers the requests it repeats from the cache instead
        // of paying for them again.
        Recipe::compose_generators(
            &mut data,
            self.recipe.llm.as_ref(),
            &self.recipe.llm_generators,
            &self.llm_cache_dir(),
        )?;
        let opts = RunOptions {
            base_dir: self.recipe.base_dir.clone(),
            progress: self.settings.progress,
            retry_failed: false,
            fresh: !resumes,
            shard: self.settings.shard,
            origin: origin(&self.recipe, "run"),
        };
        let summary = Pipeline::new(data)?.run(&dir, &opts).await?;
        let output = self.data_output(&summary, &dir);
        self.done(
            "data",
            "data",
            &dir,
            key,
            started.elapsed().as_secs_f64(),
            output,
        )
    }

    /// The data stage's figures, report section and dataset artifact.
    fn data_output(&self, summary: &RunSummary, dir: &Path) -> StageOutput {
        let s = &summary.stats;
        if let Some(shard) = self.settings.shard {
            return StageOutput {
                summary: json!({
                    "shard": shard.to_string(),
                    "seeds": s.seeds_done,
                    "generated": s.generated,
                    "rejected": s.rejected,
                }),
                markdown: format!(
                    "Shard {shard}: {} seeds ({} resumed) → {} examples generated, {} rejected \
                     by generators; no filter ran (filters run over all shards at once). \
                     Journal: `{}`. Merge the {} shards with `lux dataset merge \
                     <their directories> -o out/{}/data`.\n",
                    s.seeds_done,
                    summary.seeds_resumed,
                    s.generated,
                    s.rejected,
                    link(&self.dir, &dir.join("journal.jsonl")),
                    shard.count,
                    self.recipe.name,
                ),
                ..StageOutput::default()
            };
        }
        let mut md = format!(
            "{} seeds ({} resumed) → {} examples generated, **{} kept**, {} dropped by filters, \
             {} rejected by generators. Dataset: `{}`; statistics: [stats.md]({}).\n\n\
             | task | generated | kept |\n|---|---:|---:|\n",
            s.seeds_done,
            summary.seeds_resumed,
            s.generated,
            s.kept,
            s.dropped,
            s.rejected,
            link(&self.dir, &dir.join("dataset.jsonl")),
            link(&self.dir, &dir.join("stats.md")),
        );
        for (task, c) in &s.per_task {
            let _ = writeln!(md, "| {task} | {} | {} |", c.generated, c.kept);
        }
        StageOutput {
            summary: json!({
                "seeds": s.seeds_done,
                "generated": s.generated,
                "kept": s.kept,
                "dropped": s.dropped,
                "rejected": s.rejected,
                "per_task": s.per_task.iter().map(|(t, c)| (t.clone(), c.kept)).collect::<std::collections::BTreeMap<_, _>>(),
                "per_source": s.per_source.iter().map(|(t, c)| (t.clone(), c.kept)).collect::<std::collections::BTreeMap<_, _>>(),
            }),
            markdown: md,
            ..StageOutput::default()
        }
        .with_artifact("dataset", Artifact::new("dataset", dir.join("dataset.jsonl")))
    }

    fn mix_stage(
        &self,
        mix: &MixConfig,
        key: &str,
        inputs: &[(String, Artifact)],
    ) -> Result<StageReport> {
        let dir = self.dir.join("mix");
        if let Some(report) = self.reuse("mix", "mix", &dir, key) {
            eprintln!("mix: reused ({})", dir.display());
            return Ok(report);
        }
        self.enter(&dir, key)?;
        let started = Instant::now();
        let dataset = match inputs.iter().find(|(k, _)| k == "data/dataset") {
            Some((_, a)) => fs::read_jsonl(&a.path)?,
            None => Vec::new(),
        };
        let mut sources = lux_core::SourceContext::new(&self.recipe.base_dir);
        sources.native = self.recipe.native.clone();
        let mixed = mix_with(mix, &sources, dataset)?;
        mixed.write(&dir)?;
        let st = &mixed.stats;
        let mut md = format!(
            "{} training and {} validation examples (validation share {}); {}.\n\n\
             | category | read | capped | train (copies) | validation |\n|---|---:|---:|---:|---:|\n",
            mixed.train.len(),
            mixed.validation.len(),
            mix.validation_ratio,
            caps_text(mix),
        );
        for (category, read) in &st.read {
            let n = |m: &std::collections::BTreeMap<String, usize>| {
                m.get(category).copied().unwrap_or(0)
            };
            let _ = writeln!(
                md,
                "| {category} | {read} | {} | {} ({}) | {} |",
                n(&st.capped),
                n(&st.train),
                n(&st.upsampled),
                n(&st.validation)
            );
        }
        let output = StageOutput {
            summary: serde_json::to_value(st).map_err(|e| Error::other("mix stats", e))?,
            markdown: md,
            ..StageOutput::default()
        }
        .with_artifact("train", Artifact::new("dataset", dir.join("train.jsonl")))
        .with_artifact(
            "validation",
            Artifact::new("dataset", dir.join("validation.jsonl")),
        );
        self.done(
            "mix",
            "mix",
            &dir,
            key,
            started.elapsed().as_secs_f64(),
            output,
        )
    }

    async fn plugin_stage(
        &self,
        ctx: &StageContext,
        kind: &str,
        key: &str,
        work: impl std::future::Future<Output = Result<StageOutput>>,
    ) -> Result<StageReport> {
        if let Some(report) = self.reuse(&ctx.name, kind, &ctx.dir, key) {
            eprintln!("{kind} {}: reused ({})", ctx.name, ctx.dir.display());
            return Ok(report);
        }
        let resumes = self.enter(&ctx.dir, key)?;
        eprintln!(
            "{kind} {}{} → {}",
            ctx.name,
            if resumes { " (resuming)" } else { "" },
            ctx.dir.display()
        );
        let started = Instant::now();
        let output = work.await?;
        self.done(
            &ctx.name,
            kind,
            &ctx.dir,
            key,
            started.elapsed().as_secs_f64(),
            output,
        )
    }

    fn finish(&self, stages: Vec<StageReport>) -> Result<RunReport> {
        let report = RunReport {
            recipe: self.recipe.name.clone(),
            run_dir: self.dir.clone(),
            stages,
            llm_usage: llm_usage(),
        };
        let relative = RunReport {
            stages: report
                .stages
                .iter()
                .cloned()
                .map(|mut s| {
                    s.output = relative_output(s.output, &self.dir);
                    s
                })
                .collect(),
            ..report.clone()
        };
        fs::write_json_atomic(self.dir.join("report.json"), &relative)?;
        fs::write_atomic(
            self.dir.join("report.md"),
            self.markdown(&report).as_bytes(),
        )?;
        Ok(report)
    }

    fn markdown(&self, report: &RunReport) -> String {
        let r = &self.recipe;
        let mut md = format!("# {} — run report\n\n", r.name);
        if !r.description.is_empty() {
            let _ = writeln!(md, "{}\n", r.description);
        }
        let _ = writeln!(
            md,
            "Recipe `{}`{} · seed {} · resolved settings: [recipe.json](recipe.json)\n",
            r.path.display(),
            if r.quick { " (quick)" } else { "" },
            r.seed
        );
        md.push_str("| stage | kind | status | seconds | directory |\n|---|---|---|---:|---|\n");
        for s in &report.stages {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {:.1} | [{}]({}) |",
                s.name, s.kind, s.status, s.seconds, s.dir, s.dir
            );
        }
        for s in &report.stages {
            let _ = write!(
                md,
                "\n## {} `{}`\n\n{}",
                s.kind,
                s.name,
                s.output.markdown.trim_end()
            );
            md.push('\n');
        }
        md.push_str("\n## LLM usage\n\n");
        md.push_str(&llm_usage_markdown(&report.llm_usage));
        md
    }
}

/// The report's LLM usage: a row per client, then, for a client over several servers
/// (`endpoints`), a row per server: where its requests went and how each server fared.
fn llm_usage_markdown(usage: &[Value]) -> String {
    if usage.is_empty() {
        return "No request was sent to an LLM endpoint in this run.\n".into();
    }
    let mut md = String::from(
        "| endpoint | model | calls | failed | cache hits | retries | prompt tokens | completion tokens | cost ($) | fallbacks |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    let field = |u: &Value, k: &str| u.get(k).cloned().unwrap_or(Value::Null);
    let text = |u: &Value, k: &str| u.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    for u in usage {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            text(u, "base_url"),
            text(u, "model"),
            field(u, "calls"),
            field(u, "failed"),
            field(u, "cache_hits"),
            field(u, "retries"),
            prompt_tokens_cell(u),
            field(u, "completion_tokens"),
            field(u, "cost_usd"),
            fallbacks_cell(&field(u, "fallbacks")),
        );
    }
    let pools: Vec<&Value> = usage
        .iter()
        .filter(|u| {
            u.get("endpoints")
                .and_then(Value::as_array)
                .is_some_and(|e| !e.is_empty())
        })
        .collect();
    if !pools.is_empty() {
        md.push_str(
            "\nPer server, for the clients with several endpoints:\n\n\
             | client | server | model | weight | concurrency | requests | answered | failures | 429s | ejections | moved elsewhere | state |\n\
             |---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
        );
        for pool in pools {
            for e in pool["endpoints"].as_array().into_iter().flatten() {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    text(pool, "base_url"),
                    text(e, "base_url"),
                    text(e, "model"),
                    field(e, "weight"),
                    field(e, "concurrency"),
                    field(e, "requests"),
                    field(e, "succeeded"),
                    field(e, "failures"),
                    field(e, "rate_limited"),
                    field(e, "ejections"),
                    field(e, "moved_elsewhere"),
                    text(e, "state"),
                );
            }
        }
    }
    md
}

/// A client's prompt tokens, with how many of them its prompt cache served when it has one
/// (the `local` client): `1200 (640 cached)`.
fn prompt_tokens_cell(u: &Value) -> String {
    let prompt = u.get("prompt_tokens").cloned().unwrap_or(Value::Null);
    match u.get("cached_prompt_tokens").and_then(Value::as_u64) {
        Some(cached) if cached > 0 => format!("{prompt} ({cached} cached)"),
        _ => prompt.to_string(),
    }
}

/// An endpoint's fallback counts (requests that needed one because the server rejected or
/// ignored a field, per kind), `n_split 3, logprobs_missing 1`, or `–`.
fn fallbacks_cell(v: &Value) -> String {
    let parts: Vec<String> = v
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, n)| n.as_u64().is_some_and(|n| n > 0))
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    if parts.is_empty() {
        "–".into()
    } else {
        parts.join(", ")
    }
}

/// Refuses what a shard run cannot do: a recipe without `[data]`, and stopping after or
/// rerunning a stage after the data stage (a shard runs the data stage only).
fn check_shard_settings(recipe: &Recipe, settings: &RunSettings, shard: Shard) -> Result<()> {
    if recipe.data.is_none() {
        return Err(Error::invalid(
            "--shard",
            format!(
                "{} has no [data] table: only the data stage can be sharded",
                recipe.path.display()
            ),
        ));
    }
    if let Some(later) = settings
        .stop_after
        .iter()
        .chain(&settings.rerun)
        .find(|name| *name != "data")
    {
        return Err(Error::invalid(
            "--shard",
            format!(
                "shard {shard} runs the data stage only, not `{later}`: mix, training and \
                 evaluation need the whole dataset; merge the shards (`lux dataset merge`), \
                 then run the recipe without --shard"
            ),
        ));
    }
    Ok(())
}

/// What a shard records to find its recipe again when merged: the recipe file (absolute,
/// so merging works from any directory), `--quick`, and the command that made it.
fn origin(recipe: &Recipe, command: &str) -> Value {
    let file = std::path::absolute(&recipe.path).unwrap_or_else(|_| recipe.path.clone());
    json!({ "command": command, "recipe_file": file, "quick": recipe.quick })
}

/// Runs `recipe`'s data stage on one shard of its seeds into `out` (`lux data --shard`):
/// [`Recipe::run_data`] for a slice.
pub async fn run_data_shard(
    recipe: Recipe,
    out: &Path,
    opts: &DataRunOptions,
    shard: Shard,
) -> Result<RunSummary> {
    let origin = origin(&recipe, "data");
    let Some(mut data) = recipe.data else {
        return Err(Error::invalid(
            "data",
            format!("{} has no [data] table", recipe.path.display()),
        ));
    };
    Recipe::compose_generators(
        &mut data,
        recipe.llm.as_ref(),
        &recipe.llm_generators,
        &out.join("llm-cache"),
    )?;
    let run = RunOptions {
        base_dir: recipe.base_dir.clone(),
        progress: opts.progress,
        retry_failed: opts.retry_failed,
        fresh: opts.fresh,
        shard: Some(shard),
        origin,
    };
    Pipeline::new(data)?.run(out, &run).await
}

/// A shard directory as given on the command line: the data directory holding `shard.json`,
/// or a `lux run --shard` run directory (its `data/`).
pub fn shard_data_dir(dir: &Path) -> PathBuf {
    let nested = dir.join("data");
    if !dir.join(lux_core::pipeline::SHARD_RECORD).exists()
        && nested.join(lux_core::pipeline::SHARD_RECORD).exists()
    {
        nested
    } else {
        dir.to_path_buf()
    }
}

/// Joins shard directories into `out` (`lux dataset merge`): the dataset, statistics and
/// journal one unsharded run of the recipe writes there. The recipe is `recipe_file` (with
/// `quick`), or else the one the shards record. When the shards come from `lux run --shard`,
/// `out` also becomes a finished data stage (its `stage.json`): with `out` =
/// `out/<recipe>/data`, the next `lux run` reuses it and goes on with the mix.
pub async fn merge_data_shards(
    shard_dirs: &[PathBuf],
    out: &Path,
    recipe_file: Option<&Path>,
    quick: bool,
    progress: bool,
) -> Result<RunSummary> {
    let dirs: Vec<PathBuf> = shard_dirs.iter().map(|d| shard_data_dir(d)).collect();
    let first = match dirs.first() {
        Some(d) => ShardRecord::require(d)?,
        None => {
            return Err(Error::invalid(
                "shards",
                "name at least one shard directory",
            ));
        }
    };
    let recorded = |k: &str| first.origin.get(k).cloned().unwrap_or(Value::Null);
    let (path, quick) = match recipe_file {
        Some(p) => (p.to_path_buf(), quick),
        None => match recorded("recipe_file").as_str() {
            Some(p) => (
                PathBuf::from(p),
                recorded("quick").as_bool().unwrap_or(false),
            ),
            None => {
                return Err(Error::invalid(
                    "--recipe",
                    format!(
                        "{} does not record its recipe; name it with --recipe",
                        dirs[0].display()
                    ),
                ));
            }
        },
    };
    let recipe = Recipe::load_with(&path, &LoadOptions { quick })?;
    let from_run = recorded("command").as_str() == Some("run");
    let run_dir = out.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut run = Run::unprepared(
        recipe,
        RunSettings {
            out: Some(run_dir.clone()),
            progress,
            ..RunSettings::default()
        },
    );
    let Some(mut data) = run.recipe.data.take() else {
        return Err(Error::invalid(
            "data",
            format!("{} has no [data] table", run.recipe.path.display()),
        ));
    };
    let key = run.data_key(&run.root_key()?, &data);
    let cache = if from_run {
        run_dir.join("llm-cache")
    } else {
        out.join("llm-cache")
    };
    Recipe::compose_generators(
        &mut data,
        run.recipe.llm.as_ref(),
        &run.recipe.llm_generators,
        &cache,
    )?;
    let opts = RunOptions {
        base_dir: run.recipe.base_dir.clone(),
        progress,
        ..RunOptions::default()
    };
    let started = Instant::now();
    let summary = Pipeline::new(data)?.merge_shards(&dirs, out, &opts)?;
    if from_run {
        let output = run.data_output(&summary, out);
        write_record(
            out,
            &StageRecord {
                key,
                finished: true,
                seconds: started.elapsed().as_secs_f64(),
                output,
            },
            &run_dir,
        )?;
    }
    Ok(summary)
}

/// Names the recipe file and the stage in an error from a stage.
fn in_stage(recipe: &Recipe, stage: &str, e: Error) -> Error {
    Error::plugin(
        format!("{} stage `{stage}`", recipe.path.display()),
        e.to_string(),
    )
}

fn to_json<T: Serialize>(stage: &Named<T>) -> Result<Value> {
    serde_json::to_value(stage)
        .map_err(|e| Error::other(format!("serialising stage {}", stage.name), e))
}

/// The key of a stage after `previous`, over its settings.
fn stage_key(previous: &str, settings: &Value) -> String {
    format!("{:016x}", rng::hash(0, &format!("{previous}\n{settings}")))
}

/// An endpoint table without anything that looks like a secret (`api_key`).
fn redacted(table: &toml::Table) -> Value {
    let mut t = table.clone();
    t.remove("api_key");
    serde_json::to_value(t).unwrap_or_default()
}

/// The mix's caps and weights in words, for the report.
fn caps_text(mix: &MixConfig) -> String {
    fn list<V: std::fmt::Display>(m: &std::collections::BTreeMap<String, V>, op: &str) -> String {
        m.iter()
            .map(|(k, v)| format!("{k} {op} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
    let parts: Vec<String> = [
        ("caps per source", list(&mix.max_per_source, "≤")),
        ("caps per task", list(&mix.max_per_task, "≤")),
        (
            "training weights per source",
            list(&mix.weight_per_source, "×"),
        ),
        ("training weights per task", list(&mix.weight_per_task, "×")),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(k, v)| format!("{k} {v}"))
    .collect();
    if parts.is_empty() {
        "no caps or weights".into()
    } else {
        parts.join("; ")
    }
}

fn collect(inputs: &mut Vec<(String, Artifact)>, report: &StageReport) {
    for (name, artifact) in &report.output.artifacts {
        inputs.push((format!("{}/{name}", report.name), artifact.clone()));
    }
}

/// `path` relative to `root`, with `/`.
fn link(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

fn relative_output(mut output: StageOutput, root: &Path) -> StageOutput {
    for a in output.artifacts.values_mut() {
        a.path = PathBuf::from(link(root, &a.path));
    }
    output
}

fn absolute(mut output: StageOutput, root: &Path) -> StageOutput {
    for a in output.artifacts.values_mut() {
        if a.path.is_relative() {
            a.path = root.join(&a.path);
        }
    }
    output
}

fn read_record(dir: &Path) -> Option<StageRecord> {
    let text = std::fs::read_to_string(dir.join(RECORD)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Artifact paths are stored relative to the run directory, so a run directory can move.
fn write_record(dir: &Path, record: &StageRecord, root: &Path) -> Result<()> {
    let stored = StageRecord {
        key: record.key.clone(),
        finished: record.finished,
        seconds: record.seconds,
        output: relative_output(record.output.clone(), root),
    };
    fs::write_json_atomic(dir.join(RECORD), &stored)
}

/// Every LLM client's usage: the OpenAI-compatible endpoints' and the local models'.
fn llm_usage() -> Vec<Value> {
    let mut usage = Vec::new();
    #[cfg(feature = "plugins")]
    usage.extend(
        lux_plugins::llm::usage_reports()
            .iter()
            .filter_map(|u| serde_json::to_value(u).ok()),
    );
    #[cfg(feature = "train")]
    usage.extend(lux_train::local_llm::local_usage_reports());
    usage
}

/// Removes a stage directory whose settings changed, so that a kill part-way leaves either the
/// whole old directory (its `stage.json` included, so the rerun decides again) or nothing: it
/// is first renamed aside, atomically, and only then deleted. Deleting it in place could be
/// killed after `stage.json` went but before the checkpoints did, and the rerun would then
/// resume training from checkpoints made with the old settings.
fn remove_dir_atomically(dir: &Path) -> Result<()> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let aside = dir.with_file_name(format!(".{name}.removing"));
    if aside.exists() {
        std::fs::remove_dir_all(&aside).with_path(&aside)?;
    }
    std::fs::rename(dir, &aside).with_path(dir)?;
    std::fs::remove_dir_all(&aside).with_path(&aside)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_llm_table_has_a_row_per_client_and_per_server_of_a_pool() {
        assert!(llm_usage_markdown(&[]).contains("No request was sent"));
        let server = |url: &str, requests: u64, state: &str| {
            json!({
                "base_url": url, "model": "m", "weight": 1.0, "concurrency": 4,
                "requests": requests, "succeeded": requests - 1, "failures": 1,
                "rate_limited": 0, "ejections": 1, "moved_elsewhere": 1, "in_flight": 0,
                "state": state,
            })
        };
        let usage = [
            json!({"base_url": "http://a", "model": "solo", "calls": 3, "failed": 0}),
            json!({"base_url": "local", "model": "smollm2", "calls": 2, "failed": 0,
                   "prompt_tokens": 300, "cached_prompt_tokens": 128}),
            json!({
                "base_url": "2 servers", "model": "m", "calls": 20, "failed": 0,
                "fallbacks": {"n_split": 2},
                "endpoints": [server("http://b", 12, "healthy"), server("http://c", 9, "ejected")],
            }),
        ];
        let md = llm_usage_markdown(&usage);
        assert!(md.contains("| http://a | solo | 3 | 0 |"), "{md}");
        assert!(md.contains("| n_split 2 |"), "{md}");
        assert!(md.contains("| 300 (128 cached) |"), "{md}");
        assert!(
            md.contains(
                "| 2 servers | http://b | m | 1.0 | 4 | 12 | 11 | 1 | 0 | 1 | 1 | healthy |"
            ),
            "{md}"
        );
        assert!(md.contains("| http://c | m | 1.0 | 4 | 9 | 8 | 1 | 0 | 1 | 1 | ejected |"));
        assert_eq!(md.matches("Per server").count(), 1);
    }
}
