//! [`LinguaLiftAlign`]: `type = "lingualift_align"` — LinguaLIFT's stage 1, the
//! language-alignment layer trained with the encoder and the LLM frozen.

use std::time::Instant;

use async_trait::async_trait;
use burn::module::Module;
use lux_core::stage::{Artifact, StageContext, StageOutput};
use lux_core::{Result, TrainStage};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::aligned::{
    example_samples, load_encoder, loss_cell, stage_summary, stage_trainer, write_aligner_dir,
};
use super::model_spec;
use super::training_data::{TrainingData, read_train_table};
use crate::align::{AlignMode, AlignedObjective, AlignerAdapter, ChatSlots};
use crate::encoder::EncoderSpec;
use crate::training::TrainingArgs;

/// Stage 1 of LinguaLIFT (arXiv 2412.12499): a frozen multilingual encoder reads each text,
/// the aligner (an MLP) projects its token states into the LLM's embedding space in place of
/// the text's own tokens, and the frozen LLM must write the example's output — for
/// code-switched data (`code_switch` generator), the English original. Only the aligner learns.
///
/// ```toml
/// [[train]]
/// type = "lingualift_align"
/// encoder = { name = "multilingual-e5-small" }
/// aligner = { hidden = 1024, mode = "replace" }
/// tasks = ["code_switch"]
/// learning_rate = 1e-3          # the trainer's settings: lux_train::training::TrainingArgs
/// max_steps = 40
/// per_device_train_batch_size = 8
/// save_steps = 10
/// warmup = { steps = 4 }
/// lr_scheduler = { type = "cosine" }
/// ```
///
/// Leaves the aligner (`aligner/`: `save_aligner`'s files + the encoder it reads) as an
/// artifact of kind `aligner`. Checkpoints (`checkpoint-N/`, each with the aligner) every
/// `save_steps`; run again after an interruption, the stage continues from the newest one.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "Map<String, Value>")]
pub struct LinguaLiftAlign {
    /// The trainer's settings.
    #[serde(flatten)]
    pub training: TrainingArgs,
    /// The examples to train and validate on (default tasks: `code_switch`).
    #[serde(flatten)]
    pub data: TrainingData,
    /// The encoder and the aligner.
    #[serde(flatten)]
    pub settings: AlignSettings,
}

/// The keys of a `lingualift_align` table that only it has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlignSettings {
    /// The frozen encoder.
    pub encoder: EncoderSpec,
    /// The alignment layer's shape.
    #[serde(default)]
    pub aligner: AlignerShape,
    /// Texts per encoder pass when the states are computed (once, before training). Default 32.
    #[serde(default = "default_encoder_batch")]
    pub encoder_batch_size: usize,
}

/// The default `tasks` of stage 1.
const DEFAULT_TASKS: &[&str] = &["code_switch"];

pub(crate) fn default_encoder_batch() -> usize {
    32
}

/// The alignment layer: a 2-layer MLP of `hidden` units (LLaVA-1.5's projector), or a linear
/// map with `hidden = 0`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlignerShape {
    /// Width of the hidden layer. Default 1024.
    #[serde(default = "default_hidden")]
    pub hidden: usize,
    /// `replace`: the LLM reads the text only through the encoder (LinguaLIFT); `prefix`: the
    /// projected states come ahead of its own tokens. Default `replace`.
    #[serde(default = "default_mode")]
    pub mode: AlignMode,
}

fn default_hidden() -> usize {
    1024
}
fn default_mode() -> AlignMode {
    AlignMode::Replace
}

impl Default for AlignerShape {
    fn default() -> AlignerShape {
        AlignerShape {
            hidden: default_hidden(),
            mode: default_mode(),
        }
    }
}

impl TryFrom<Map<String, Value>> for LinguaLiftAlign {
    type Error = String;

    fn try_from(map: Map<String, Value>) -> std::result::Result<LinguaLiftAlign, String> {
        if !map.contains_key("encoder") {
            return Err(
                "missing field `encoder` (e.g. encoder = { name = \"multilingual-e5-small\" })"
                    .into(),
            );
        }
        let (training, data, settings): (_, _, AlignSettings) = read_train_table(map)?;
        settings
            .encoder
            .validate()
            .map_err(|e| format!("encoder: {e}"))?;
        Ok(LinguaLiftAlign {
            training,
            data,
            settings,
        })
    }
}

#[typetag::serde(name = "lingualift_align")]
#[async_trait]
impl TrainStage for LinguaLiftAlign {
    async fn train(&self, ctx: &StageContext) -> Result<StageOutput> {
        tokio::task::block_in_place(|| self.train_blocking(ctx))
    }

    fn prepare(&mut self, ctx: &StageContext) -> Result<()> {
        let _ = model_spec(ctx)?;
        self.settings.encoder.validate()?;
        self.data.tasks_or(DEFAULT_TASKS)?;
        self.training.validate()?;
        if self.settings.encoder_batch_size == 0 {
            return Err(lux_core::Error::invalid(
                "encoder_batch_size",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

impl LinguaLiftAlign {
    fn train_blocking(&self, ctx: &StageContext) -> Result<StageOutput> {
        let spec = model_spec(ctx)?;
        let device = spec.device()?.autodiff();
        let (llm, tokenizer) = spec.load(&ctx.base_dir, &device)?;
        let s = &self.settings;
        let encoder = load_encoder(ctx, &s.encoder)?;
        let (train, validation) = self.data.read(ctx, DEFAULT_TASKS)?;
        let slots = ChatSlots::new(&tokenizer, s.aligner.mode)?;
        let started = Instant::now();
        let (train_samples, validation_samples) = example_samples(
            &encoder,
            &tokenizer,
            &slots,
            (&train, &validation),
            s.encoder_batch_size,
        )?;
        let encode_seconds = started.elapsed().as_secs_f64();
        let adapter = AlignerAdapter {
            d_encoder: encoder.hidden_size(),
            hidden: s.aligner.hidden,
            mode: s.aligner.mode,
        };
        let trainer = stage_trainer(&self.training, ctx)?;
        let objective = AlignedObjective::new(&adapter, "lingualift_align");
        let started = Instant::now();
        let (model, report) = trainer.train_adapter(
            &objective,
            &adapter,
            llm,
            &train_samples,
            &validation_samples,
        )?;
        let seconds = started.elapsed().as_secs_f64();
        let aligner = model
            .aligner
            .as_ref()
            .ok_or_else(|| lux_core::Error::plugin(&ctx.name, "no aligner after training"))?;
        let parameters = aligner.num_params();
        let dir = ctx.dir.join("aligner");
        write_aligner_dir(aligner, &s.encoder.absolute(&ctx.base_dir)?, &dir)?;
        let mut summary = stage_summary(
            &report,
            &self.training,
            train.len(),
            validation.len(),
            seconds,
        );
        summary["aligner_parameters"] = parameters.into();
        summary["encode_seconds"] = encode_seconds.into();
        let markdown = format!(
            "Aligner ({} parameters, hidden {}, mode `{}`) trained for {} steps of {} on {} \
             examples of {}, encoder and LLM frozen; train loss {} → {}, held-out loss on {} \
             examples **{} → {}** nats/token. {:.0} s (+ {:.0} s computing encoder states). \
             Aligner: `{}/`.\n",
            parameters,
            s.aligner.hidden,
            match s.aligner.mode {
                AlignMode::Replace => "replace",
                AlignMode::Prefix => "prefix",
            },
            report.steps.len(),
            self.training.per_device_train_batch_size,
            train.len(),
            self.data.task_list(DEFAULT_TASKS)?,
            loss_cell(report.steps.first().map(|s| s.loss)),
            loss_cell(report.steps.last().map(|s| s.loss)),
            validation.len(),
            loss_cell(report.initial_eval_loss),
            loss_cell(report.final_eval_loss),
            seconds,
            encode_seconds,
            ctx.link(&dir),
        );
        Ok(StageOutput {
            summary,
            markdown,
            ..StageOutput::default()
        }
        .with_artifact("aligner", Artifact::new("aligner", dir)))
    }
}
