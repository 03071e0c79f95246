//! LinguaLIFT's two training stages: [`train_aligner`] (stage 1, the LLM frozen) and
//! [`train_llm`] (stage 2, the aligner frozen).

use std::path::PathBuf;
use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::Tensor;
use lux_core::{Error, Result, rng};
use serde::{Deserialize, Serialize};

use super::aligner::Aligner;
use super::checkpoint::{self, StageState};
use super::sample::{AlignedBatch, AlignedSample, Padding};
use crate::model::Llama;
use crate::sft::{LrSchedule, Warmup, clip_grad_norm, cross_entropy_sum};

/// Settings of one stage (AdamW, as the SFT trainer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageConfig {
    /// Peak learning rate.
    pub learning_rate: f64,
    /// Optimizer steps.
    pub steps: usize,
    /// Samples per step.
    #[serde(default = "eight")]
    pub batch_size: usize,
    /// AdamW's decoupled weight decay.
    #[serde(default)]
    pub weight_decay: f64,
    /// Clip the gradients to this global L2 norm (as transformers' `max_grad_norm`); none: no
    /// clipping.
    #[serde(default = "one")]
    pub max_grad_norm: Option<f64>,
    /// Warmup before the schedule.
    #[serde(default = "no_warmup")]
    pub warmup: Warmup,
    /// The decay after warmup.
    #[serde(default = "constant")]
    pub lr_scheduler: LrSchedule,
    /// Seed of the order in which samples are drawn.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Directory for `checkpoint-N/` every `save_steps` steps; a stage started with one resumes
    /// from the newest complete checkpoint in it (same weights, optimizer state and data
    /// order as an uninterrupted run). `None` (default): no checkpoints.
    #[serde(default)]
    pub checkpoint_dir: Option<PathBuf>,
    /// Steps between checkpoints; 0 (default) writes none.
    #[serde(default)]
    pub save_steps: usize,
}

fn eight() -> usize {
    8
}
fn one() -> Option<f64> {
    Some(1.0)
}
fn no_warmup() -> Warmup {
    Warmup::Steps(0)
}
fn constant() -> LrSchedule {
    LrSchedule::Constant
}
fn default_seed() -> u64 {
    1729
}

impl StageConfig {
    /// `steps` steps at `learning_rate`, with the defaults above.
    pub fn new(learning_rate: f64, steps: usize) -> StageConfig {
        StageConfig {
            learning_rate,
            steps,
            batch_size: eight(),
            weight_decay: 0.0,
            max_grad_norm: one(),
            warmup: no_warmup(),
            lr_scheduler: constant(),
            seed: default_seed(),
            checkpoint_dir: None,
            save_steps: 0,
        }
    }

    fn validate(&self, stage: &str) -> Result<()> {
        let bad = |field: &str, why: String| Err(Error::invalid(format!("{stage}.{field}"), why));
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad(
                "learning_rate",
                format!("{} is not positive", self.learning_rate),
            );
        }
        if self.batch_size == 0 {
            return bad("batch_size", "must be at least 1".into());
        }
        if self.max_grad_norm.is_some_and(|n| n.is_nan() || n <= 0.0) {
            return bad("max_grad_norm", "must be positive".into());
        }
        Ok(())
    }
}

/// One optimizer step of a stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageStep {
    /// 1-based.
    pub step: usize,
    /// Mean token loss of the step's batch.
    pub loss: f64,
    /// Learning rate used.
    pub lr: f64,
    /// Input positions per second (forward + backward + update).
    pub tokens_per_s: f64,
}

/// What a stage did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageReport {
    /// `"align"` or `"llm"`.
    pub stage: String,
    /// Mean token loss on the validation samples before the first step.
    pub initial_eval_loss: Option<f64>,
    /// The same after the last step.
    pub final_eval_loss: Option<f64>,
    /// Every step.
    pub steps: Vec<StageStep>,
}

/// Stage 1: trains `aligner` so that the frozen `llm` produces each sample's targets from the
/// encoder's view of its text (LinguaLIFT: code-switched text in, its English original out).
///
/// Both must live on the same autodiff device. Gradients flow through the LLM's activations,
/// but the LLM is taken with [`Module::no_grad`], so none of its parameters gets a gradient or
/// optimizer state, and it is returned bit-identical.
pub fn train_aligner(
    aligner: Aligner,
    llm: &Llama,
    train: &[AlignedSample],
    validation: &[AlignedSample],
    config: &StageConfig,
) -> Result<(Aligner, StageReport)> {
    let llm = llm.clone().no_grad();
    run_stage(
        "align",
        aligner,
        config,
        train,
        validation,
        |aligner, batch| {
            let batch = AlignedBatch::new(&llm, aligner, batch, Padding::Right)?;
            Ok((loss_sum(&llm, &batch), batch.target_tokens, batch.tokens))
        },
    )
}

/// Stage 2: trains `llm`'s trainable parameters (its LoRA adapters, attached before) on the
/// samples, with `aligner` frozen (taken with [`Module::no_grad`]: no gradient, no update).
/// LinguaLIFT trains this stage on English-only instructions: the encoder reads the English
/// question, and the aligner it learned in stage 1 lets the same LLM later read other
/// languages.
pub fn train_llm(
    llm: Llama,
    aligner: &Aligner,
    train: &[AlignedSample],
    validation: &[AlignedSample],
    config: &StageConfig,
) -> Result<(Llama, StageReport)> {
    let aligner = aligner.clone().no_grad();
    run_stage("llm", llm, config, train, validation, |llm, batch| {
        let batch = AlignedBatch::new(llm, &aligner, batch, Padding::Right)?;
        Ok((loss_sum(llm, &batch), batch.target_tokens, batch.tokens))
    })
}

/// Mean token loss of `samples` under `llm` + `aligner`, without keeping a graph.
pub fn aligned_loss(
    llm: &Llama,
    aligner: &Aligner,
    samples: &[AlignedSample],
    batch_size: usize,
) -> Result<f64> {
    let mut sum = 0.0;
    let mut count = 0;
    for chunk in samples.chunks(batch_size.max(1)) {
        let refs: Vec<&AlignedSample> = chunk.iter().collect();
        let batch = AlignedBatch::new(llm, aligner, &refs, Padding::Right)?;
        if batch.target_tokens == 0 {
            continue;
        }
        sum += loss_sum(llm, &batch).detach().into_scalar::<f32>() as f64;
        count += batch.target_tokens;
    }
    if count == 0 {
        return Err(Error::invalid("samples", "no target tokens"));
    }
    Ok(sum / count as f64)
}

/// `Σ −log p(label)` over the batch's targets.
fn loss_sum(llm: &Llama, batch: &AlignedBatch) -> Tensor<1> {
    let logits = llm.forward_selected_embeds(
        batch.embeds.clone(),
        Some(batch.mask.clone()),
        batch.positions.clone(),
    );
    cross_entropy_sum(logits, batch.labels.clone())
}

/// The loop both stages share: seeded batches, loss / targets, backward, AdamW on `module`.
/// `loss` returns the summed token loss, the number of targets and of positions.
fn run_stage<M, F>(
    stage: &str,
    mut module: M,
    config: &StageConfig,
    train: &[AlignedSample],
    validation: &[AlignedSample],
    loss: F,
) -> Result<(M, StageReport)>
where
    M: Module + Clone,
    F: Fn(&M, &[&AlignedSample]) -> Result<(Tensor<1>, usize, usize)>,
{
    config.validate(stage)?;
    if train.is_empty() {
        return Err(Error::invalid(
            format!("{stage}.train"),
            "no training samples",
        ));
    }
    let eval = |module: &M| -> Result<Option<f64>> {
        if validation.is_empty() {
            return Ok(None);
        }
        let (mut sum, mut count) = (0.0, 0);
        for chunk in validation.chunks(config.batch_size) {
            let refs: Vec<&AlignedSample> = chunk.iter().collect();
            let (l, n, _) = loss(module, &refs)?;
            sum += l.detach().into_scalar::<f32>() as f64;
            count += n;
        }
        Ok((count > 0).then(|| sum / count as f64))
    };
    let mut optim = AdamWConfig::new()
        .with_epsilon(1e-8)
        .with_weight_decay(config.weight_decay as f32)
        .init();
    let resume_from = config
        .checkpoint_dir
        .as_deref()
        .and_then(checkpoint::latest);
    let (mut report, mut order, mut epoch, first_step) = match resume_from {
        Some(path) => {
            let (restored, restored_optim, state) = checkpoint::load(&path, module, optim)?;
            check_resumable(&path, stage, config, &state)?;
            (module, optim) = (restored, restored_optim);
            (state.report, state.order, state.epoch, state.step)
        }
        None => {
            let report = StageReport {
                stage: stage.to_string(),
                initial_eval_loss: eval(&module)?,
                final_eval_loss: None,
                steps: Vec::with_capacity(config.steps),
            };
            (report, Vec::new(), 0, 0)
        }
    };
    let warmup = config.warmup.steps(config.steps);
    for step in first_step..config.steps {
        let started = Instant::now();
        // Draw the next batch_size samples from a reshuffled order, epoch after epoch.
        let mut picked = Vec::with_capacity(config.batch_size);
        while picked.len() < config.batch_size.min(train.len()) {
            if order.is_empty() {
                order = (0..train.len()).collect();
                rng::SplitMix64::new(rng::hash(config.seed, &format!("{stage}/epoch/{epoch}")))
                    .shuffle(&mut order);
                order.reverse();
                epoch += 1;
            }
            picked.extend(order.pop());
        }
        let batch: Vec<&AlignedSample> = picked.iter().map(|&i| &train[i]).collect();
        // Dropout masks (LoRA dropout in stage 2) depend on the seed and the step only, so a
        // resumed stage draws the same ones as an uninterrupted run.
        if let Some(device) = module.devices().first() {
            device.seed(rng::hash(config.seed, &format!("{stage}/step/{step}")));
        }
        let (sum, targets, tokens) = loss(&module, &batch)?;
        if targets == 0 {
            return Err(Error::invalid(
                format!("{stage}.train"),
                format!("the batch of step {} has no target tokens", step + 1),
            ));
        }
        let l = sum.div_scalar(targets as f64);
        let value = l.clone().into_scalar::<f32>() as f64;
        if !value.is_finite() {
            return Err(Error::Numeric(format!(
                "{stage}: loss is {value} at step {}; training stopped (lower the learning rate?)",
                step + 1
            )));
        }
        let mut grads = GradientsParams::from_grads(l.backward(), &module);
        if let Some(max) = config.max_grad_norm {
            clip_grad_norm(&module, &mut grads, max);
        }
        let lr = config.learning_rate * config.lr_scheduler.factor(step, config.steps, warmup);
        module = optim.step(lr, module, grads);
        report.steps.push(StageStep {
            step: step + 1,
            loss: value,
            lr,
            tokens_per_s: tokens as f64 / started.elapsed().as_secs_f64().max(1e-9),
        });
        if let Some(dir) = &config.checkpoint_dir
            && config.save_steps > 0
            && (step + 1) % config.save_steps == 0
        {
            let state = StageState {
                stage: stage.to_string(),
                step: step + 1,
                epoch,
                order: order.clone(),
                seed: config.seed,
                batch_size: config.batch_size,
                steps: config.steps,
                report: report.clone(),
            };
            checkpoint::save(dir, &module, &optim, &state)?;
        }
    }
    report.final_eval_loss = eval(&module)?;
    Ok((module, report))
}

/// A checkpoint continues this stage only if it was written by the same stage with the same
/// settings that shape the run; otherwise an error names the file and the field.
fn check_resumable(
    path: &std::path::Path,
    stage: &str,
    config: &StageConfig,
    state: &StageState,
) -> Result<()> {
    let file = path.join("stage_state.json");
    if state.stage != stage {
        return Err(Error::parse(
            &file,
            None,
            format!("written by stage `{}`, not `{stage}`", state.stage),
        ));
    }
    for (field, saved, now) in [
        ("seed", state.seed, config.seed),
        (
            "batch_size",
            state.batch_size as u64,
            config.batch_size as u64,
        ),
        ("steps", state.steps as u64, config.steps as u64),
    ] {
        if saved != now {
            return Err(Error::parse(
                &file,
                None,
                format!("{field} is {saved} in the checkpoint and {now} in the stage's config"),
            ));
        }
    }
    Ok(())
}
