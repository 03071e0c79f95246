//! [`LinguaLiftInstruct`]: `type = "lingualift_instruct"` — LinguaLIFT's stage 2, an adapter
//! on the LLM trained behind the frozen aligner on English-only instructions.

use std::path::PathBuf;
use std::time::Instant;

use async_trait::async_trait;
use burn::module::Module;
use lux_core::stage::{Artifact, StageContext, StageOutput};
use lux_core::{Error, Result, TrainStage};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::aligned::{
    example_samples, load_encoder, loss_cell, read_encoder_spec, stage_summary, stage_trainer,
    write_aligner_dir, write_aligner_ref,
};
use super::lingualift_align::{AlignerShape, default_encoder_batch};
use super::model_spec;
use super::sft::clone_adapter;
use super::systems::write_adapter_spec;
use super::training_data::{TrainingData, read_train_table, require_adapter};
use crate::adapter::Adapter;
use crate::align::{AlignMode, AlignedObjective, AlignerAdapter, ChatSlots, load_aligner};
use crate::encoder::EncoderSpec;
use crate::training::TrainingArgs;

/// Stage 2 of LinguaLIFT: the aligner of stage 1 frozen, an adapter (LoRA) on the LLM trained
/// on English-only instructions that the encoder reads; the aligner then carries what the LLM
/// learns in English to the languages stage 1 aligned.
///
/// ```toml
/// [[train]]
/// type = "lingualift_instruct"
/// tasks = ["math_word_problem"]
/// adapter = { type = "lora", r = 16, lora_alpha = 32.0, target_modules = ["q_proj", "k_proj", "v_proj", "o_proj"] }
/// learning_rate = 1e-3          # the trainer's settings: lux_train::training::TrainingArgs
/// max_steps = 30
/// ```
///
/// The aligner is the newest `aligner` artifact of the run, or the one named by
/// `aligner = "<stage>/aligner"`. The paper's "without stage 1" ablation is the same stage with
/// `untrained_aligner = { encoder = {...}, hidden = 1024, mode = "replace" }`: a freshly
/// initialised aligner (from the stage's seed), frozen as a trained one would be.
///
/// Leaves the adapter (`adapter/`: for LoRA a PEFT directory, with `lux_adapter.json` and
/// `lux_aligner.json`, the aligner it reads through) as an artifact of kind `adapter`.
/// Checkpoints: `checkpoint-N/` (each with the adapter) every `save_steps`; a rerun resumes.
#[derive(Debug, Serialize, Deserialize)]
#[serde(try_from = "Map<String, Value>")]
pub struct LinguaLiftInstruct {
    /// The trainer's settings.
    #[serde(flatten)]
    pub training: TrainingArgs,
    /// The examples to train and validate on (default tasks: `math_word_problem`).
    #[serde(flatten)]
    pub data: TrainingData,
    /// The adapter and the aligner it reads through.
    #[serde(flatten)]
    pub settings: InstructSettings,
}

/// The keys of a `lingualift_instruct` table that only it has.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstructSettings {
    /// The adapter to train.
    pub adapter: Box<dyn Adapter>,
    /// The aligner artifact (`<stage>/aligner`). Default: the newest of the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aligner: Option<String>,
    /// Train behind a fresh, untrained aligner instead (the "without stage 1" ablation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub untrained_aligner: Option<UntrainedAligner>,
    /// Texts per encoder pass. Default 32.
    #[serde(default = "default_encoder_batch")]
    pub encoder_batch_size: usize,
}

/// The default `tasks` of stage 2.
const DEFAULT_TASKS: &[&str] = &["math_word_problem"];

/// An aligner that was never trained: the encoder it reads and its shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UntrainedAligner {
    /// The frozen encoder.
    pub encoder: EncoderSpec,
    /// Width of the hidden layer (0: linear). Default 1024.
    #[serde(default = "default_hidden")]
    pub hidden: usize,
    /// Where the projected states go. Default `replace`.
    #[serde(default = "default_mode")]
    pub mode: AlignMode,
}

fn default_hidden() -> usize {
    AlignerShape::default().hidden
}
fn default_mode() -> AlignMode {
    AlignerShape::default().mode
}

impl TryFrom<Map<String, Value>> for LinguaLiftInstruct {
    type Error = String;

    fn try_from(map: Map<String, Value>) -> std::result::Result<LinguaLiftInstruct, String> {
        require_adapter(&map)?;
        let (training, data, settings): (_, _, InstructSettings) = read_train_table(map)?;
        if let Some(u) = &settings.untrained_aligner {
            u.encoder
                .validate()
                .map_err(|e| format!("untrained_aligner: {e}"))?;
        }
        if settings.aligner.is_some() && settings.untrained_aligner.is_some() {
            return Err(
                "set either `aligner` (a trained one) or `untrained_aligner`, not both".into(),
            );
        }
        Ok(LinguaLiftInstruct {
            training,
            data,
            settings,
        })
    }
}

#[typetag::serde(name = "lingualift_instruct")]
#[async_trait]
impl TrainStage for LinguaLiftInstruct {
    async fn train(&self, ctx: &StageContext) -> Result<StageOutput> {
        tokio::task::block_in_place(|| self.train_blocking(ctx))
    }

    fn prepare(&mut self, ctx: &StageContext) -> Result<()> {
        let _ = model_spec(ctx)?;
        self.data.tasks_or(DEFAULT_TASKS)?;
        self.training.validate()?;
        if let Some(u) = &self.settings.untrained_aligner {
            u.encoder.validate()?;
        }
        if self.settings.encoder_batch_size == 0 {
            return Err(Error::invalid("encoder_batch_size", "must be at least 1"));
        }
        Ok(())
    }
}

impl LinguaLiftInstruct {
    /// The trained aligner's directory this stage reads through.
    fn trained_aligner(&self, ctx: &StageContext) -> Result<PathBuf> {
        match &self.settings.aligner {
            Some(key) => {
                let a = ctx.input(key)?;
                if a.kind != "aligner" {
                    return Err(Error::plugin(
                        &ctx.name,
                        format!("`{key}` is a {}, not an aligner", a.kind),
                    ));
                }
                Ok(a.path.clone())
            }
            None => ctx
                .inputs_of_kind("aligner")
                .last()
                .map(|(_, a)| a.path.clone())
                .ok_or_else(|| {
                    Error::plugin(
                        &ctx.name,
                        "no earlier stage left an aligner: put a `lingualift_align` stage \
                         before this one, or set `untrained_aligner` (the ablation without \
                         stage 1)",
                    )
                }),
        }
    }

    fn train_blocking(&self, ctx: &StageContext) -> Result<StageOutput> {
        let spec = model_spec(ctx)?;
        let device = spec.device()?.autodiff();
        let (base, tokenizer) = spec.load(&ctx.base_dir, &device)?;
        let s = &self.settings;
        // The LLM with the aligner it reads through (frozen below, with the base, when the
        // adapter attaches).
        let (aligner_dir, encoder_spec, base) = match &s.untrained_aligner {
            None => {
                let dir = self.trained_aligner(ctx)?;
                let encoder = read_encoder_spec(&dir)?;
                let mut base = base;
                base.aligner = Some(load_aligner(&dir, &device)?);
                (dir, encoder, base)
            }
            Some(u) => {
                // The ablation: the aligner stage 1 would start from (same seed, same
                // initialisation), never trained.
                let encoder = load_encoder(ctx, &u.encoder)?;
                let untrained = AlignerAdapter {
                    d_encoder: encoder.hidden_size(),
                    hidden: u.hidden,
                    mode: u.mode,
                };
                let (base, _) = untrained.attach(base, self.training.seed)?;
                let dir = ctx.dir.join("aligner");
                let spec = u.encoder.absolute(&ctx.base_dir)?;
                if let Some(aligner) = &base.aligner {
                    write_aligner_dir(aligner, &spec, &dir)?;
                }
                (dir, spec, base)
            }
        };
        let base = base.no_grad();
        let mode = base.aligner.as_ref().map_or(AlignMode::Replace, |a| a.mode);
        let encoder = load_encoder(ctx, &encoder_spec)?;
        let (train, validation) = self.data.read(ctx, DEFAULT_TASKS)?;
        let slots = ChatSlots::new(&tokenizer, mode)?;
        let (train_samples, validation_samples) = example_samples(
            &encoder,
            &tokenizer,
            &slots,
            (&train, &validation),
            s.encoder_batch_size,
        )?;
        let mut adapter = clone_adapter(&*s.adapter)?;
        if let Some(base) = spec.base_model_name_or_path(&ctx.base_dir) {
            adapter.set_base_model(&base);
        }
        let trainer = stage_trainer(&self.training, ctx)?;
        let objective = AlignedObjective::new(&*adapter, "lingualift_instruct");
        let started = Instant::now();
        let (model, report) = trainer.train_adapter(
            &objective,
            &*adapter,
            base,
            &train_samples,
            &validation_samples,
        )?;
        let seconds = started.elapsed().as_secs_f64();
        let dir = ctx.dir.join("adapter");
        adapter.save(&model, &dir)?;
        write_adapter_spec(&*adapter, &dir)?;
        write_aligner_ref(&dir, &aligner_dir)?;
        let mut summary = stage_summary(
            &report,
            &self.training,
            train.len(),
            validation.len(),
            seconds,
        );
        summary["adapter"] = adapter.name().into();
        summary["aligner"] = if s.untrained_aligner.is_some() {
            "untrained".into()
        } else {
            ctx.link(&aligner_dir).into()
        };
        let markdown = format!(
            "{} adapter trained for {} steps of {} on {} examples of {}, read \
             through the {} aligner `{}/` (frozen); train loss {} → {}, held-out loss on {} \
             examples **{} → {}** nats/token. {:.0} s. Adapter: `{}/`.\n",
            adapter.name(),
            report.steps.len(),
            self.training.per_device_train_batch_size,
            train.len(),
            self.data.task_list(DEFAULT_TASKS)?,
            if s.untrained_aligner.is_some() {
                "untrained"
            } else {
                "trained"
            },
            ctx.link(&aligner_dir),
            loss_cell(report.steps.first().map(|s| s.loss)),
            loss_cell(report.steps.last().map(|s| s.loss)),
            validation.len(),
            loss_cell(report.initial_eval_loss),
            loss_cell(report.final_eval_loss),
            seconds,
            ctx.link(&dir),
        );
        Ok(StageOutput {
            summary,
            markdown,
            ..StageOutput::default()
        }
        .with_artifact("adapter", Artifact::new("adapter", dir)))
    }
}
