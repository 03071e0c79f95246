//! [`SftStage`]: `type = "sft"` — an adapter trained on the run's dataset.

use std::time::Instant;

use async_trait::async_trait;
use lux_core::stage::{Artifact, StageContext, StageOutput};
use lux_core::{Error, Result, TrainStage};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::model_spec;
use super::systems::write_adapter_spec;
use super::training_data::{TrainingData, read_train_table, require_adapter};
use crate::adapter::Adapter;
use crate::sft::{BatchLayout, SftTrainer, tokenize_examples};
use crate::training::TrainingArgs;

/// Supervised fine-tuning of an adapter: the `[[train]]` table holds the trainer's settings
/// ([`TrainingArgs`], transformers' names), which examples to read ([`TrainingData`]), the
/// `adapter`, and how examples become tokens.
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
/// Writes what the [`Trainer`](crate::training::Trainer) writes (`metrics.jsonl`, `loss.svg`,
/// `checkpoint-N/` every `save_steps`, each with the adapter) and the adapter in `adapter/`
/// (for LoRA a PEFT directory). Run again after an interruption, it continues from the newest
/// checkpoint, and the steps after it are those of an uninterrupted run.
#[derive(Debug, Serialize, Deserialize)]
#[serde(try_from = "Map<String, Value>")]
pub struct SftStage {
    /// The trainer's settings.
    #[serde(flatten)]
    pub training: TrainingArgs,
    /// The examples to train and validate on (default: every task of `mix/train`).
    #[serde(flatten)]
    pub data: TrainingData,
    /// The adapter and the tokenisation.
    #[serde(flatten)]
    pub settings: SftSettings,
}

/// The keys of an `sft` table that only SFT has.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SftSettings {
    /// The adapter to train.
    pub adapter: Box<dyn Adapter>,
    /// Conversations are cut to this many tokens. Default 512.
    #[serde(default = "default_max_len")]
    pub max_seq_length: usize,
    /// Loss on the assistant's tokens only (TRL's `completion_only_loss`, the default) or on
    /// every token.
    #[serde(default = "yes")]
    pub completion_only_loss: bool,
    /// Pack each micro-batch's examples end to end in rows of up to `max_seq_length` tokens,
    /// attention kept inside each example (TRL's `packing`; see [`BatchLayout`]): the same
    /// loss, without the padding. Default false.
    #[serde(default)]
    pub packing: bool,
}

fn default_max_len() -> usize {
    512
}
fn yes() -> bool {
    true
}

impl TryFrom<Map<String, Value>> for SftStage {
    type Error = String;

    fn try_from(map: Map<String, Value>) -> std::result::Result<SftStage, String> {
        require_adapter(&map)?;
        let (training, data, settings) = read_train_table(map)?;
        Ok(SftStage {
            training,
            data,
            settings,
        })
    }
}

#[typetag::serde(name = "sft")]
#[async_trait]
impl TrainStage for SftStage {
    async fn train(&self, ctx: &StageContext) -> Result<StageOutput> {
        tokio::task::block_in_place(|| self.train_blocking(ctx))
    }

    fn prepare(&mut self, ctx: &StageContext) -> Result<()> {
        let _ = model_spec(ctx)?;
        if self.settings.max_seq_length < 2 {
            return Err(Error::invalid("max_seq_length", "must be at least 2"));
        }
        self.data.tasks_or(&[])?;
        self.training.validate()
    }
}

impl SftStage {
    fn train_blocking(&self, ctx: &StageContext) -> Result<StageOutput> {
        let spec = model_spec(ctx)?;
        let device = spec.device()?.autodiff();
        let (base, tokenizer) = spec.load(&ctx.base_dir, &device)?;
        let s = &self.settings;
        let (train_set, validation_set) = self.data.read(ctx, &[])?;
        let (train, cut) = tokenize_examples(
            &tokenizer,
            &train_set,
            s.max_seq_length,
            s.completion_only_loss,
        )?;
        let (validation, _) = tokenize_examples(
            &tokenizer,
            &validation_set,
            s.max_seq_length,
            s.completion_only_loss,
        )?;
        let mut adapter = clone_adapter(&*s.adapter)?;
        if let Some(base) = spec.base_model_name_or_path(&ctx.base_dir) {
            adapter.set_base_model(&base);
        }
        let mut args = self.training.clone();
        args.progress = ctx.progress;
        let layout = if s.packing {
            BatchLayout::packed(s.max_seq_length)
        } else {
            BatchLayout::Padded
        };
        let trainer = SftTrainer::with_adapter(args, clone_adapter(&*adapter)?, &ctx.dir)?
            .with_layout(layout);
        let pad = tokenizer.pad_id().unwrap_or(0);
        let started = Instant::now();
        let (_, report) = trainer.train_adapter(base, &train, &validation, pad)?;
        let seconds = started.elapsed().as_secs_f64();
        let adapter_dir = trainer.adapter_dir();
        write_adapter_spec(&*adapter, &adapter_dir)?;
        // Training throughput: the median step's tokens per second (prompt and target, no
        // padding), not counting model loading and the evaluations.
        let tokens_per_s = report.median_tokens_per_s();
        let summary = json!({
            "train_examples": train.len(),
            "dropped_after_truncation": cut,
            "validation_examples": validation.len(),
            "steps": report.steps.len(),
            "initial_eval_loss": report.initial_eval_loss,
            "final_eval_loss": report.final_eval_loss,
            "seconds": seconds,
            "median_step_tokens_per_s": tokens_per_s,
            "packing": s.packing,
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
            s.max_seq_length,
            validation.len(),
            loss(report.initial_eval_loss),
            loss(report.final_eval_loss),
            seconds,
            tokens_per_s,
            ctx.link(ctx.dir.join("loss.svg")),
            ctx.link(&adapter_dir),
            ctx.link(ctx.dir.join("metrics.jsonl")),
        );
        Ok(StageOutput {
            summary,
            markdown,
            ..StageOutput::default()
        }
        .with_artifact("adapter", Artifact::new("adapter", &adapter_dir)))
    }
}

/// A copy of an adapter's settings (through its serialised form: adapters are plugins).
pub(crate) fn clone_adapter(adapter: &dyn Adapter) -> Result<Box<dyn Adapter>> {
    let value = serde_json::to_value(adapter).map_err(|e| Error::other("adapter", e))?;
    serde_json::from_value(value).map_err(|e| Error::invalid("adapter", e.to_string()))
}
