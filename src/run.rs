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
//! ```
//!
//! Each stage directory holds a `stage.json` recording the stage's *key* — a hash of its
//! settings, the `[model]`, the seed and the keys of every stage before it — and whether it
//! finished. A stage whose key is unchanged and which finished is reused; one that started
//! with the same key and did not finish is run again and resumes from its own state (the
//! data stage's journal, a trainer's newest checkpoint); one whose key changed starts over.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use lux_core::pipeline::{Pipeline, PipelineConfig, RunOptions};
use lux_core::stage::{Artifact, Resources, StageContext, StageOutput};
use lux_core::{Error, IoContext, Result, fs, rng};
use lux_data::mix::{MixConfig, mix_with};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::recipe::{Named, Recipe};

/// How to run a recipe.
#[derive(Debug, Clone, Default)]
pub struct RunSettings {
    /// The run directory [default: `out/<recipe name>`].
    pub out: Option<PathBuf>,
    /// Stop after the stage of this name.
    pub stop_after: Option<String>,
    /// Run these stages again even when they finished with the same settings.
    pub rerun: Vec<String>,
    /// Show progress bars.
    pub progress: bool,
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
        let dir = settings
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from("out").join(&recipe.name));
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
        let resources = Resources::default();
        if let Some(model) = &recipe.model {
            resources.insert(lux_train::stages::MODEL_SPEC, model.clone());
        }
        let mut run = Run {
            recipe,
            settings,
            dir,
            resources,
        };
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
            let settings = json!({
                "data": &data,
                "llm": self.recipe.llm.as_ref().map(redacted),
                "llm_generators": self.recipe.llm_generators,
            });
            key = stage_key(&key, &settings);
            let report = self.data_stage(data, &key).await?;
            collect(&mut inputs, &report);
            reports.push(report);
            if self.stops_after("data") {
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
                std::fs::remove_dir_all(dir).with_path(dir)?;
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
            &self.dir.join("llm-cache"),
        )?;
        let opts = RunOptions {
            base_dir: self.recipe.base_dir.clone(),
            progress: self.settings.progress,
            retry_failed: false,
            fresh: !resumes,
        };
        let summary = Pipeline::new(data)?.run(&dir, &opts).await?;
        let s = &summary.stats;
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
        let output = StageOutput {
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
        .with_artifact("dataset", Artifact::new("dataset", dir.join("dataset.jsonl")));
        self.done(
            "data",
            "data",
            &dir,
            key,
            started.elapsed().as_secs_f64(),
            output,
        )
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
        if report.llm_usage.is_empty() {
            md.push_str("No request was sent to an LLM endpoint in this run.\n");
        } else {
            md.push_str(
                "| endpoint | model | calls | failed | cache hits | retries | prompt tokens | completion tokens | cost ($) | fallbacks |\n\
                 |---|---|---:|---:|---:|---:|---:|---:|---:|---|\n",
            );
            for u in &report.llm_usage {
                let g = |k: &str| u.get(k).cloned().unwrap_or(Value::Null);
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    g("base_url").as_str().unwrap_or(""),
                    g("model").as_str().unwrap_or(""),
                    g("calls"),
                    g("failed"),
                    g("cache_hits"),
                    g("retries"),
                    g("prompt_tokens"),
                    g("completion_tokens"),
                    g("cost_usd"),
                    fallbacks_cell(&g("fallbacks")),
                );
            }
        }
        md
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
