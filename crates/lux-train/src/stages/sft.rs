//! [`SftStage`]: `type = "sft"` — an adapter trained on the run's dataset.

use std::time::Instant;

use async_trait::async_trait;
use lux_core::stage::{Artifact, StageContext, StageOutput};
use lux_core::{Error, Lang, Result, TaskKind, TrainStage};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::systems::write_adapter_spec;
use super::{model_spec, read_selected};
use crate::adapter::Adapter;
use crate::sft::{SftConfig, SftTrainer, tokenize_examples};

/// Supervised fine-tuning of an adapter: the `[[train]]` table holds the trainer's settings
/// ([`SftConfig`], TRL's names), the `adapter`, and which datasets to read.
///
/// ```toml
/// [[train]]
/// type = "sft"
/// learning_rate = 3e-4
/// max_steps = 40
/// per_device_train_batch_size = 4
/// gradient_accumulation_steps = 2
/// warmup = { ratio = 0.05 }
/// lr_scheduler = { type = "cosine" }
/// adapter = { type = "lora", r = 16, lora_alpha = 32.0, target_modules = ["q_proj", "v_proj"] }
/// ```
///
/// Writes `metrics.jsonl`, `loss.svg`, `checkpoint-N/` every `save_steps`, and the adapter in
/// `adapter/` (for LoRA a PEFT directory). Run again after an interruption, it continues from
/// the newest checkpoint, and the steps after it are those of an uninterrupted run.
#[derive(Debug, Serialize, Deserialize)]
#[serde(try_from = "Map<String, Value>")]
pub struct SftStage {
    /// The trainer's settings.
    #[serde(flatten)]
    pub config: SftConfig,
    /// The adapter, the training data and which of its examples to use.
    #[serde(flatten)]
    pub stage: SftStageSettings,
}

/// The keys of an `sft` table that are not [`SftConfig`]'s.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SftStageSettings {
    /// The adapter to train.
    pub adapter: Box<dyn Adapter>,
    /// The training set: a dataset artifact of an earlier stage. Default `mix/train`.
    #[serde(default = "default_train_data")]
    pub train_data: String,
    /// The validation set. Default `mix/validation`.
    #[serde(default = "default_validation_data")]
    pub validation_data: String,
    /// Held-out loss is measured on at most this many validation examples. Default 64.
    #[serde(default = "default_max_validation")]
    pub max_validation_examples: usize,
    /// Train only on examples of these tasks (both sets). Default: every task.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<TaskKind>,
    /// Train only on examples whose instruction is in one of these languages (LuxInstruct's
    /// EN→LB, FR→LB, DE→LB adapters, compared by CKA). Default: every language.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instruction_langs: Vec<Lang>,
}

fn default_train_data() -> String {
    "mix/train".into()
}
fn default_validation_data() -> String {
    "mix/validation".into()
}
fn default_max_validation() -> usize {
    64
}

/// Keys of the stage table that belong to [`SftStageSettings`].
const OWN_KEYS: [&str; 6] = [
    "adapter",
    "train_data",
    "validation_data",
    "max_validation_examples",
    "tasks",
    "instruction_langs",
];

impl TryFrom<Map<String, Value>> for SftStage {
    type Error = String;

    /// Splits the table: the stage's own keys, then the rest as an [`SftConfig`] (whose unknown
    /// keys are errors); a wrong type names its key.
    fn try_from(mut map: Map<String, Value>) -> std::result::Result<SftStage, String> {
        let own: Map<String, Value> = OWN_KEYS
            .iter()
            .filter_map(|k| map.remove(*k).map(|v| (k.to_string(), v)))
            .collect();
        if !own.contains_key("adapter") {
            return Err(
                "missing field `adapter` (e.g. adapter = { type = \"lora\", r = 16, \
                        lora_alpha = 32.0, target_modules = [\"q_proj\", \"v_proj\"] })"
                    .into(),
            );
        }
        Ok(SftStage {
            stage: with_path(Value::Object(own))?,
            config: with_path(Value::Object(map))?,
        })
    }
}

/// Deserialises `value`, naming the key of an error (`max_steps: invalid type…`).
fn with_path<T: serde::de::DeserializeOwned>(value: Value) -> std::result::Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|e| match e.path().to_string().as_str() {
        "." => e.inner().to_string(),
        path => format!("{path}: {}", e.inner()),
    })
}

#[typetag::serde(name = "sft")]
#[async_trait]
impl TrainStage for SftStage {
    async fn train(&self, ctx: &StageContext) -> Result<StageOutput> {
        tokio::task::block_in_place(|| self.train_blocking(ctx))
    }

    fn prepare(&mut self, ctx: &StageContext) -> Result<()> {
        let _ = model_spec(ctx)?;
        SftTrainer::with_adapter(
            self.config.clone(),
            clone_adapter(&*self.stage.adapter)?,
            &ctx.dir,
        )
        .map(|_| ())
    }
}

impl SftStage {
    fn train_blocking(&self, ctx: &StageContext) -> Result<StageOutput> {
        let spec = model_spec(ctx)?;
        let device = spec.device()?.autodiff();
        let (base, tokenizer) = spec.load(&ctx.base_dir, &device)?;
        let c = &self.config;
        let s = &self.stage;
        let train_set = read_selected(ctx, &s.train_data, &s.tasks, &s.instruction_langs)?;
        let mut validation_set =
            read_selected(ctx, &s.validation_data, &s.tasks, &s.instruction_langs)?;
        validation_set.truncate(s.max_validation_examples);
        if train_set.is_empty() {
            return Err(Error::plugin(
                &ctx.name,
                format!(
                    "{} has no example of the selected tasks {:?} and instruction languages {:?}",
                    s.train_data, s.tasks, s.instruction_langs
                ),
            ));
        }
        let (train, cut) = tokenize_examples(
            &tokenizer,
            &train_set,
            c.max_seq_length,
            c.completion_only_loss,
        )?;
        let (validation, _) = tokenize_examples(
            &tokenizer,
            &validation_set,
            c.max_seq_length,
            c.completion_only_loss,
        )?;
        let mut adapter = clone_adapter(&*s.adapter)?;
        if let Some(hub_id) = spec.hub_id() {
            adapter.set_base_model(&hub_id);
        }
        let mut config = c.clone();
        config.progress = ctx.progress;
        let trainer = SftTrainer::with_adapter(config, clone_adapter(&*adapter)?, &ctx.dir)?;
        let pad = tokenizer.pad_id().unwrap_or(0);
        let started = Instant::now();
        let (_, report) = match trainer.latest_checkpoint() {
            Some(checkpoint) => {
                tracing::info!(checkpoint = %checkpoint.display(), "resuming SFT");
                trainer.resume(base, &checkpoint, &train, &validation, pad)?
            }
            None => {
                let (model, _) = adapter.attach(base, c.seed)?;
                trainer.train(model, &train, &validation, pad)?
            }
        };
        let seconds = started.elapsed().as_secs_f64();
        write_adapter_spec(&*adapter, &report.adapter_dir)?;
        // Training throughput: the median step's tokens per second (prompt and target, no
        // padding), not counting model loading and the evaluations.
        let mut rates: Vec<f64> = report.steps.iter().map(|m| m.tokens_per_s).collect();
        rates.sort_by(f64::total_cmp);
        let tokens_per_s = rates.get(rates.len() / 2).copied().unwrap_or(0.0);
        let summary = json!({
            "train_examples": train.len(),
            "dropped_after_truncation": cut,
            "validation_examples": validation.len(),
            "steps": report.steps.len(),
            "initial_eval_loss": report.initial_eval_loss,
            "final_eval_loss": report.final_eval_loss,
            "seconds": seconds,
            "median_step_tokens_per_s": tokens_per_s,
            "adapter": adapter.name(),
        });
        let loss = |l: Option<f64>| l.map_or("–".to_string(), |l| format!("{l:.4}"));
        let markdown = format!(
            "{} adapter trained for {} optimizer steps on {} examples ({} dropped after \
             truncation to {} tokens); held-out loss on {} examples **{} → {}** nats/token. \
             {:.0} s in all; a training step ran at {:.0} tokens/s (median).\n\n![loss]({}) · adapter: `{}/` · metrics: `{}`\n",
            adapter.name(),
            report.steps.len(),
            train.len(),
            cut,
            c.max_seq_length,
            validation.len(),
            loss(report.initial_eval_loss),
            loss(report.final_eval_loss),
            seconds,
            tokens_per_s,
            ctx.link(ctx.dir.join("loss.svg")),
            ctx.link(&report.adapter_dir),
            ctx.link(ctx.dir.join("metrics.jsonl")),
        );
        Ok(StageOutput {
            summary,
            markdown,
            ..StageOutput::default()
        }
        .with_artifact("adapter", Artifact::new("adapter", &report.adapter_dir)))
    }
}

/// A copy of an adapter's settings (through its serialised form: adapters are plugins).
pub(crate) fn clone_adapter(adapter: &dyn Adapter) -> Result<Box<dyn Adapter>> {
    let value = serde_json::to_value(adapter).map_err(|e| Error::other("adapter", e))?;
    serde_json::from_value(value).map_err(|e| Error::invalid("adapter", e.to_string()))
}
