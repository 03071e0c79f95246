//! [`LinguaLiftInstruct`]: `type = "lingualift_instruct"` — LinguaLIFT's stage 2, an adapter
//! on the LLM trained behind the frozen aligner on English-only instructions.

use std::path::PathBuf;
use std::time::Instant;

use async_trait::async_trait;
use lux_core::stage::{Artifact, StageContext, StageOutput};
use lux_core::{Error, Result, TrainStage, rng};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::aligned::{
    aligned_samples, load_encoder, loss_cell, own_key, read_encoder_spec, split_stage_table,
    stage_examples, stage_summary, task_kinds, write_aligner_dir, write_aligner_ref,
};
use super::lingualift_align::AlignerShape;
use super::model_spec;
use super::sft::clone_adapter;
use super::systems::write_adapter_spec;
use crate::adapter::Adapter;
use crate::align::{AlignMode, AlignerConfig, ChatSlots, StageConfig, load_aligner, train_llm};
use crate::encoder::EncoderSpec;
use crate::sft::user_turn;

/// Stage 2 of LinguaLIFT: the aligner of stage 1 frozen, an adapter (LoRA) on the LLM trained
/// on English-only instructions that the encoder reads; the aligner then carries what the LLM
/// learns in English to the languages stage 1 aligned.
///
/// ```toml
/// [[train]]
/// type = "lingualift_instruct"
/// tasks = ["math_word_problem"]
/// adapter = { type = "lora", r = 16, lora_alpha = 32.0, target_modules = ["q_proj", "k_proj", "v_proj", "o_proj"] }
/// learning_rate = 1e-3          # the rest is lux_train::align::StageConfig
/// steps = 30
/// ```
///
/// The aligner is the newest `aligner` artifact of the run, or the one named by
/// `aligner = "<stage>/aligner"`. The paper's "without stage 1" ablation is the same stage with
/// `untrained_aligner = { encoder = {...}, hidden = 1024, mode = "replace" }`: a freshly
/// initialised aligner (from the stage's seed), frozen as a trained one would be.
///
/// Leaves the adapter (`adapter/`: for LoRA a PEFT directory, with `lux_adapter.json` and
/// `lux_aligner.json`, the aligner it reads through) as an artifact of kind `adapter`.
/// Checkpoints: `checkpoints/checkpoint-N/` every `save_steps`; a rerun resumes.
#[derive(Debug, Serialize, Deserialize)]
#[serde(try_from = "Map<String, Value>")]
pub struct LinguaLiftInstruct {
    /// The training loop's settings.
    #[serde(flatten)]
    pub config: StageConfig,
    /// The adapter to train.
    pub adapter: Box<dyn Adapter>,
    /// The aligner artifact (`<stage>/aligner`). Default: the newest of the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aligner: Option<String>,
    /// Train behind a fresh, untrained aligner instead (the "without stage 1" ablation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub untrained_aligner: Option<UntrainedAligner>,
    /// Tasks of the examples to train on. Default `["math_word_problem"]`.
    pub tasks: Vec<String>,
    /// The training set. Default `mix/train`.
    pub train_data: String,
    /// The validation set. Default `mix/validation`.
    pub validation_data: String,
    /// At most this many validation examples. Default 64.
    pub max_validation_examples: usize,
    /// Texts per encoder pass. Default 32.
    pub encoder_batch_size: usize,
}

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

const OWN_KEYS: [&str; 8] = [
    "adapter",
    "aligner",
    "untrained_aligner",
    "tasks",
    "train_data",
    "validation_data",
    "max_validation_examples",
    "encoder_batch_size",
];

impl TryFrom<Map<String, Value>> for LinguaLiftInstruct {
    type Error = String;

    fn try_from(map: Map<String, Value>) -> std::result::Result<LinguaLiftInstruct, String> {
        let (mut mine, config) = split_stage_table(map, &OWN_KEYS)?;
        let adapter = mine.remove("adapter").ok_or(
            "missing field `adapter` (e.g. adapter = { type = \"lora\", r = 16, lora_alpha = 32.0 })",
        )?;
        let adapter: Box<dyn Adapter> =
            serde_json::from_value(adapter).map_err(|e| format!("adapter: {e}"))?;
        let aligner: Option<String> = own_key(&mut mine, "aligner", || None)?;
        let untrained_aligner: Option<UntrainedAligner> =
            own_key(&mut mine, "untrained_aligner", || None)?;
        if let Some(u) = &untrained_aligner {
            u.encoder
                .validate()
                .map_err(|e| format!("untrained_aligner: {e}"))?;
        }
        if aligner.is_some() && untrained_aligner.is_some() {
            return Err(
                "set either `aligner` (a trained one) or `untrained_aligner`, not both".into(),
            );
        }
        Ok(LinguaLiftInstruct {
            config,
            adapter,
            aligner,
            untrained_aligner,
            tasks: own_key(&mut mine, "tasks", || vec!["math_word_problem".to_string()])?,
            train_data: own_key(&mut mine, "train_data", || "mix/train".to_string())?,
            validation_data: own_key(&mut mine, "validation_data", || {
                "mix/validation".to_string()
            })?,
            max_validation_examples: own_key(&mut mine, "max_validation_examples", || 64)?,
            encoder_batch_size: own_key(&mut mine, "encoder_batch_size", || 32)?,
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
        task_kinds(&self.tasks)?;
        if let Some(u) = &self.untrained_aligner {
            u.encoder.validate()?;
        }
        if self.encoder_batch_size == 0 {
            return Err(Error::invalid("encoder_batch_size", "must be at least 1"));
        }
        Ok(())
    }
}

impl LinguaLiftInstruct {
    /// The trained aligner's directory this stage reads through.
    fn trained_aligner(&self, ctx: &StageContext) -> Result<PathBuf> {
        match &self.aligner {
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
        let (aligner_dir, encoder_spec, aligner) = match &self.untrained_aligner {
            None => {
                let dir = self.trained_aligner(ctx)?;
                let encoder = read_encoder_spec(&dir)?;
                let aligner = load_aligner(&dir, &device)?;
                (dir, encoder, aligner)
            }
            Some(u) => {
                let encoder = load_encoder(ctx, &u.encoder)?;
                device.seed(rng::hash(
                    self.config.seed,
                    "lingualift_instruct/untrained_aligner",
                ));
                let aligner = AlignerConfig::new(encoder.hidden_size(), base.config().hidden_size)
                    .with_hidden(u.hidden)
                    .with_mode(u.mode)
                    .init(&device)?;
                super::lingualift_align::materialize(&aligner);
                let dir = ctx.dir.join("aligner");
                let spec = u.encoder.absolute(&ctx.base_dir)?;
                write_aligner_dir(&aligner, &spec, &dir)?;
                (dir, spec, aligner)
            }
        };
        let encoder = load_encoder(ctx, &encoder_spec)?;
        let (train, validation) = stage_examples(
            ctx,
            &self.train_data,
            &self.validation_data,
            &self.tasks,
            self.max_validation_examples,
        )?;
        let slots = ChatSlots::new(&tokenizer, aligner.mode)?;
        let pairs = |examples: &[lux_core::Example]| {
            examples
                .iter()
                .map(|e| (user_turn(e), Some(e.output.clone())))
                .collect::<Vec<_>>()
        };
        let train_samples = aligned_samples(
            &encoder,
            &tokenizer,
            &slots,
            &pairs(&train),
            self.encoder_batch_size,
        )?;
        let validation_samples = aligned_samples(
            &encoder,
            &tokenizer,
            &slots,
            &pairs(&validation),
            self.encoder_batch_size,
        )?;
        let mut adapter = clone_adapter(&*self.adapter)?;
        if let Some(hub_id) = spec.hub_id() {
            adapter.set_base_model(&hub_id);
        }
        let (model, adapted) = adapter.attach(base, self.config.seed)?;
        let mut config = self.config.clone();
        config.checkpoint_dir = Some(ctx.dir.join("checkpoints"));
        let started = Instant::now();
        let (model, report) = train_llm(
            model,
            &aligner,
            &train_samples,
            &validation_samples,
            &config,
        )?;
        let seconds = started.elapsed().as_secs_f64();
        let dir = ctx.dir.join("adapter");
        adapter.save(&model, &dir)?;
        write_adapter_spec(&*adapter, &dir)?;
        write_aligner_ref(&dir, &aligner_dir)?;
        lux_core::fs::write_json_atomic(ctx.dir.join("stage_report.json"), &report)?;
        let mut summary = stage_summary(&report, &config, train.len(), validation.len(), seconds);
        summary["adapter"] = adapter.name().into();
        summary["adapted_modules"] = adapted.len().into();
        summary["aligner"] = if self.untrained_aligner.is_some() {
            "untrained".into()
        } else {
            ctx.link(&aligner_dir).into()
        };
        let markdown = format!(
            "{} adapter ({} modules) trained for {} steps of {} on {} examples of {:?}, read \
             through the {} aligner `{}/` (frozen); train loss {} → {}, held-out loss on {} \
             examples **{} → {}** nats/token. {:.0} s. Adapter: `{}/`.\n",
            adapter.name(),
            adapted.len(),
            report.steps.len(),
            config.batch_size,
            train.len(),
            self.tasks,
            if self.untrained_aligner.is_some() {
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
