//! [`SftTrainer`]: the training loop — accumulation, schedule, evaluation, metrics, checkpoints.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use std::collections::BTreeMap;

use burn::module::{Module, ParamId};
use burn::optim::{AdamWConfig, GradientsAccumulator, GradientsParams, ModuleOptimizer};
use burn::tensor::Tensor;
use lux_core::svg::{LineChart, Series};
use lux_core::{Error, IoContext, Result, fs, rng};
use serde::{Deserialize, Serialize};

use super::checkpoint_dir;
use super::clip::clip_grad_norm;
use super::cross_entropy::cross_entropy_sum;
use super::data::{SftBatch, SftSample, batches};
use super::schedule::{LrSchedule, Warmup};
use crate::adapter::Adapter;
use crate::lora::{LoraConfig, TargetModules};
use crate::model::Llama;

/// Settings of an SFT run (TRL `SFTConfig` names where they exist).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SftConfig {
    /// Peak learning rate.
    pub learning_rate: f64,
    /// Passes over the training set.
    #[serde(default = "one")]
    pub num_train_epochs: usize,
    /// Stop after this many optimizer steps (overrides the epochs).
    #[serde(default)]
    pub max_steps: Option<usize>,
    /// Examples per micro-batch.
    #[serde(default = "four")]
    pub per_device_train_batch_size: usize,
    /// Micro-batches per optimizer step.
    #[serde(default = "one")]
    pub gradient_accumulation_steps: usize,
    /// Warmup, in steps or as a ratio of all steps.
    #[serde(default = "no_warmup")]
    pub warmup: Warmup,
    /// The decay after warmup.
    #[serde(default = "linear")]
    pub lr_scheduler: LrSchedule,
    /// AdamW's decoupled weight decay.
    #[serde(default)]
    pub weight_decay: f64,
    /// Clip the gradients to this global L2 norm (all of them together, as transformers'
    /// `max_grad_norm`); none: no clipping.
    #[serde(default = "default_clip")]
    pub max_grad_norm: Option<f64>,
    /// Evaluate on the validation set every this many steps (and at the end).
    #[serde(default)]
    pub eval_steps: Option<usize>,
    /// Write a checkpoint every this many steps.
    #[serde(default)]
    pub save_steps: Option<usize>,
    /// Seed of the data order.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Conversations are cut to this many tokens.
    #[serde(default = "default_max_len")]
    pub max_seq_length: usize,
    /// Loss on the assistant's tokens only (default) or on every token.
    #[serde(default = "yes")]
    pub completion_only_loss: bool,
    /// Show a progress bar.
    #[serde(default)]
    pub progress: bool,
}

fn one() -> usize {
    1
}
fn four() -> usize {
    4
}
fn no_warmup() -> Warmup {
    Warmup::Steps(0)
}
fn linear() -> LrSchedule {
    LrSchedule::Linear
}
fn default_clip() -> Option<f64> {
    Some(1.0)
}
fn default_seed() -> u64 {
    1729
}
fn default_max_len() -> usize {
    512
}
fn yes() -> bool {
    true
}

impl SftConfig {
    /// Defaults around a learning rate.
    pub fn new(learning_rate: f64) -> SftConfig {
        SftConfig {
            learning_rate,
            num_train_epochs: 1,
            max_steps: None,
            per_device_train_batch_size: 4,
            gradient_accumulation_steps: 1,
            warmup: no_warmup(),
            lr_scheduler: linear(),
            weight_decay: 0.0,
            max_grad_norm: default_clip(),
            eval_steps: None,
            save_steps: None,
            seed: default_seed(),
            max_seq_length: default_max_len(),
            completion_only_loss: true,
            progress: false,
        }
    }

    /// The LuxLlama model card's setting: LoRA r = 256, alpha = 256, dropout 0 on the seven
    /// projections; lr 5e-5, warmup ratio 0.02, cosine with restarts, weight decay 0.01,
    /// batch 4 × accumulation 8, one epoch, seed 1729. (The card does not give `num_cycles`;
    /// transformers' default, 1, is a plain cosine: lux uses it.)
    pub fn luxllama() -> (SftConfig, LoraConfig) {
        let sft = SftConfig {
            learning_rate: 5e-5,
            num_train_epochs: 1,
            per_device_train_batch_size: 4,
            gradient_accumulation_steps: 8,
            warmup: Warmup::Ratio(0.02),
            lr_scheduler: LrSchedule::CosineWithRestarts { num_cycles: 1 },
            weight_decay: 0.01,
            seed: 1729,
            ..SftConfig::new(5e-5)
        };
        let lora = LoraConfig::new(
            256,
            256.0,
            TargetModules::names([
                "q_proj",
                "k_proj",
                "v_proj",
                "o_proj",
                "gate_proj",
                "up_proj",
                "down_proj",
            ]),
        );
        (sft, lora)
    }

    fn validate(&self) -> Result<()> {
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return Err(Error::invalid("learning_rate", "must be a positive number"));
        }
        if self.per_device_train_batch_size == 0 || self.gradient_accumulation_steps == 0 {
            return Err(Error::invalid(
                "per_device_train_batch_size",
                "batch size and accumulation steps must be at least 1",
            ));
        }
        if self.max_seq_length < 2 {
            return Err(Error::invalid("max_seq_length", "must be at least 2"));
        }
        Ok(())
    }
}

/// What one optimizer step did (a line of `metrics.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepMetrics {
    /// Optimizer step, from 1.
    pub step: usize,
    /// Mean token loss of the step's accumulated batch.
    pub loss: f64,
    /// Learning rate used.
    pub lr: f64,
    /// Target tokens of the step.
    pub target_tokens: usize,
    /// Global L2 norm of the gradients before clipping (when `max_grad_norm` is set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grad_norm: Option<f64>,
    /// Tokens (prompt and target, no padding) per second over the step.
    pub tokens_per_s: f64,
    /// Validation loss, when evaluated at this step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_loss: Option<f64>,
    /// Validation perplexity, `exp(eval_loss)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_perplexity: Option<f64>,
}

/// The outcome of [`SftTrainer::train`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SftReport {
    /// Validation loss before the first step.
    pub initial_eval_loss: Option<f64>,
    /// Validation loss after the last step.
    pub final_eval_loss: Option<f64>,
    /// Every step.
    pub steps: Vec<StepMetrics>,
    /// Where the adapter was written.
    pub adapter_dir: PathBuf,
}

/// Runs SFT of a LoRA-adapted [`Llama`] and writes into `output_dir`: `metrics.jsonl`,
/// `loss.svg`, `checkpoint-N/` (PEFT adapter + `trainer_state.json`) every `save_steps`, and
/// the final adapter in `adapter/`.
#[derive(Debug)]
pub struct SftTrainer {
    config: SftConfig,
    adapter: Box<dyn Adapter>,
    output_dir: PathBuf,
}

impl SftTrainer {
    /// A trainer; `adapter` is the adapter the model was given ([`Adapter::attach`]): it
    /// saves the checkpoints and the final adapter, and loads them on resume. A
    /// [`LoraConfig`] is one.
    pub fn new(
        config: SftConfig,
        adapter: impl Adapter + 'static,
        output_dir: impl Into<PathBuf>,
    ) -> Result<Self> {
        Self::with_adapter(config, Box::new(adapter), output_dir)
    }

    /// [`new`](Self::new) with an adapter chosen at run time (from a recipe).
    pub fn with_adapter(
        config: SftConfig,
        adapter: Box<dyn Adapter>,
        output_dir: impl Into<PathBuf>,
    ) -> Result<Self> {
        config.validate()?;
        Ok(SftTrainer {
            config,
            adapter,
            output_dir: output_dir.into(),
        })
    }

    /// The settings.
    pub fn config(&self) -> &SftConfig {
        &self.config
    }

    /// Number of optimizer steps a run over `n` training samples takes.
    pub fn total_steps(&self, n: usize) -> usize {
        let c = &self.config;
        let micro = n.div_ceil(c.per_device_train_batch_size);
        let per_epoch = micro.div_ceil(c.gradient_accumulation_steps);
        let all = per_epoch * c.num_train_epochs;
        c.max_steps.unwrap_or(all)
    }

    /// Trains `model` (on an autodiff device, adapters attached) on `train`, evaluating on
    /// `validation`; `pad_id` pads micro-batches.
    ///
    /// A non-finite loss stops the run with an error naming the step; the checkpoints already
    /// written stay as they are.
    pub fn train(
        &self,
        model: Llama,
        train: &[SftSample],
        validation: &[SftSample],
        pad_id: u32,
    ) -> Result<(Llama, SftReport)> {
        self.run(model, self.optimizer(), train, validation, pad_id, None)
    }

    /// Continues the run saved in `checkpoint` (a `checkpoint-N/` directory of this trainer's
    /// output) on `base`, the model *without* adapters: the adapter, the optimizer state
    /// (AdamW's moments and step counts), the step, the position in the data and the metrics
    /// so far are restored, so the steps after `N` are those of an uninterrupted run (the
    /// data order is a function of the seed and the epoch, and the dropout RNG is reseeded
    /// from the seed and the step).
    ///
    /// The trainer's config must be the one the checkpoint was written with where it shapes
    /// the run (seed, batch size, accumulation): a difference is an error naming the field.
    /// A missing or unreadable file is an error naming it.
    pub fn resume(
        &self,
        base: Llama,
        checkpoint: &Path,
        train: &[SftSample],
        validation: &[SftSample],
        pad_id: u32,
    ) -> Result<(Llama, SftReport)> {
        let state_path = checkpoint.join(TRAINER_STATE);
        let text = std::fs::read_to_string(&state_path).with_path(&state_path)?;
        let state: TrainerState = serde_json::from_str(&text)
            .map_err(|e| Error::parse(&state_path, None, e.to_string()))?;
        let c = &self.config;
        for (field, saved, now) in [
            ("seed", state.seed, c.seed),
            (
                "per_device_train_batch_size",
                state.per_device_train_batch_size as u64,
                c.per_device_train_batch_size as u64,
            ),
            (
                "gradient_accumulation_steps",
                state.gradient_accumulation_steps as u64,
                c.gradient_accumulation_steps as u64,
            ),
        ] {
            if saved != now {
                return Err(Error::parse(
                    &state_path,
                    None,
                    format!(
                        "{field} is {saved} in the checkpoint and {now} in this trainer's config"
                    ),
                ));
            }
        }
        let mut model = self.adapter.load(base, checkpoint)?;
        // The optimizer's state is keyed by parameter id: give the adapters the ids they had.
        let ids_path = checkpoint.join(PARAM_IDS);
        let text = std::fs::read_to_string(&ids_path).with_path(&ids_path)?;
        let ids: BTreeMap<String, [u64; 2]> = serde_json::from_str(&text)
            .map_err(|e| Error::parse(&ids_path, None, e.to_string()))?;
        for (name, projection) in model.projections_mut() {
            let Some(pair) = projection.low_rank.as_mut() else {
                continue;
            };
            let [a, b] = ids.get(&name).ok_or_else(|| {
                Error::parse(&ids_path, None, format!("no ids for the adapter of {name}"))
            })?;
            pair.a.id = ParamId::from(*a);
            pair.b.id = ParamId::from(*b);
        }
        let optim_path = checkpoint.join(OPTIMIZER_STATE);
        if !optim_path.exists() {
            return Err(Error::parse(
                &optim_path,
                None,
                "the optimizer state is missing",
            ));
        }
        let optim = self
            .optimizer()
            .load(&optim_path)
            .map_err(|e| Error::parse(&optim_path, None, format!("{e:?}")))?;
        let start = Start {
            step: state.global_step,
            epoch: state.epoch,
            group: state.next_group,
            report: SftReport {
                initial_eval_loss: state.initial_eval_loss,
                final_eval_loss: state.log_history.iter().rev().find_map(|m| m.eval_loss),
                steps: state.log_history,
                adapter_dir: self.output_dir.join("adapter"),
            },
        };
        self.run(model, optim, train, validation, pad_id, Some(start))
    }

    /// The newest complete `checkpoint-N/` in the output directory (highest `N`), if any:
    /// what [`resume`](Self::resume) continues after an interruption. Half-written checkpoints
    /// never have that name (they are renamed into place when complete).
    pub fn latest_checkpoint(&self) -> Option<PathBuf> {
        checkpoint_dir::newest(&self.output_dir, TRAINER_STATE)
    }

    fn optimizer(&self) -> ModuleOptimizer {
        AdamWConfig::new()
            .with_epsilon(1e-8)
            .with_weight_decay(self.config.weight_decay as f32)
            .init()
    }

    fn run(
        &self,
        mut model: Llama,
        mut optim: ModuleOptimizer,
        train: &[SftSample],
        validation: &[SftSample],
        pad_id: u32,
        start: Option<Start>,
    ) -> Result<(Llama, SftReport)> {
        let c = &self.config;
        if train.is_empty() {
            return Err(Error::invalid("train", "no training samples"));
        }
        let out = &self.output_dir;
        std::fs::create_dir_all(out).with_path(out)?;
        let device = model.model.embed_tokens.weight.val().device();
        let total = self.total_steps(train.len());
        let warmup = c.warmup.steps(total);
        let metrics_path = out.join("metrics.jsonl");
        let mut metrics_file = std::fs::File::create(&metrics_path).with_path(&metrics_path)?;
        let bar = progress_bar(c.progress, total);

        let start = match start {
            Some(start) => start,
            None => Start {
                step: 0,
                epoch: 0,
                group: 0,
                report: SftReport {
                    initial_eval_loss: if validation.is_empty() {
                        None
                    } else {
                        Some(mean_token_loss(
                            &model,
                            validation,
                            c.per_device_train_batch_size,
                            pad_id,
                        )?)
                    },
                    final_eval_loss: None,
                    steps: Vec::new(),
                    adapter_dir: out.join("adapter"),
                },
            },
        };
        let mut report = start.report;
        for m in &report.steps {
            let line = serde_json::to_string(m).map_err(|e| Error::other("metrics", e))?;
            writeln!(metrics_file, "{line}").with_path(&metrics_path)?;
        }
        bar.inc(start.step as u64);
        let mut step = start.step;
        'epochs: for epoch in start.epoch.. {
            let micro = batches(train.len(), c.per_device_train_batch_size, c.seed, epoch);
            for (g, group) in micro.chunks(c.gradient_accumulation_steps).enumerate() {
                if epoch == start.epoch && g < start.group {
                    continue;
                }
                if step >= total {
                    break 'epochs;
                }
                let started = Instant::now();
                let samples: Vec<Vec<&SftSample>> = group
                    .iter()
                    .map(|idx| idx.iter().map(|&i| &train[i]).collect())
                    .collect();
                let targets: usize = samples.iter().flatten().map(|s| s.targets()).sum();
                let tokens: usize = samples.iter().flatten().map(|s| s.ids.len()).sum();
                let mut accumulator = GradientsAccumulator::<Llama>::new();
                let mut loss_sum = 0.0;
                for (k, micro_batch) in samples.iter().enumerate() {
                    let batch = SftBatch::new(micro_batch, pad_id, &device);
                    if batch.target_tokens == 0 {
                        continue;
                    }
                    // Dropout masks depend on the seed and the position in the run only, so a
                    // resumed run draws the same ones.
                    device.seed(rng::hash(c.seed, &format!("sft/step/{step}/{k}")));
                    // Σ token losses / targets of the whole accumulated batch.
                    let loss = token_loss_sum(&model, &batch).div_scalar(targets as f64);
                    loss_sum += loss.clone().into_scalar::<f32>() as f64;
                    let grads = GradientsParams::from_grads(loss.backward(), &model);
                    accumulator.accumulate(&model, grads);
                }
                if !loss_sum.is_finite() {
                    return Err(Error::Numeric(format!(
                        "loss is {loss_sum} at step {}; training stopped, the last checkpoint \
                         in {} is the last good state (lower the learning rate?)",
                        step + 1,
                        out.display()
                    )));
                }
                let mut grads = accumulator.grads();
                let grad_norm = c
                    .max_grad_norm
                    .map(|max| clip_grad_norm(&model, &mut grads, max));
                let lr = c.learning_rate * c.lr_scheduler.factor(step, total, warmup);
                model = optim.step(lr, model, grads);
                step += 1;

                let mut m = StepMetrics {
                    step,
                    loss: loss_sum,
                    lr,
                    grad_norm,
                    target_tokens: targets,
                    tokens_per_s: tokens as f64 / started.elapsed().as_secs_f64().max(1e-9),
                    eval_loss: None,
                    eval_perplexity: None,
                };
                let eval_now = c.eval_steps.is_some_and(|n| step % n == 0) || step == total;
                if eval_now && !validation.is_empty() {
                    let l =
                        mean_token_loss(&model, validation, c.per_device_train_batch_size, pad_id)?;
                    m.eval_loss = Some(l);
                    m.eval_perplexity = Some(l.exp());
                    report.final_eval_loss = Some(l);
                }
                let line = serde_json::to_string(&m).map_err(|e| Error::other("metrics", e))?;
                writeln!(metrics_file, "{line}").with_path(&metrics_path)?;
                bar.set_message(format!(
                    "loss {:.4}  lr {:.2e}  {:.0} tok/s",
                    m.loss, m.lr, m.tokens_per_s
                ));
                bar.inc(1);
                report.steps.push(m);
                if c.save_steps.is_some_and(|n| step % n == 0) {
                    self.checkpoint(&model, &optim, step, epoch, g + 1, &report)?;
                }
            }
            if epoch + 1 >= c.num_train_epochs && c.max_steps.is_none() {
                break;
            }
        }
        bar.finish();
        write_loss_curve(&report, &out.join("loss.svg"))?;
        self.adapter.save(&model, &report.adapter_dir)?;
        fs::write_json_atomic(out.join("sft_report.json"), &report)?;
        Ok((model, report))
    }

    /// Writes `checkpoint-{step}/` atomically: everything goes into a temporary directory
    /// that is renamed into place, so a run killed mid-write leaves the previous checkpoints
    /// and no half-written one.
    fn checkpoint(
        &self,
        model: &Llama,
        optim: &ModuleOptimizer,
        step: usize,
        epoch: usize,
        next_group: usize,
        report: &SftReport,
    ) -> Result<()> {
        checkpoint_dir::write(&self.output_dir, step, |tmp| {
            self.adapter.save(model, tmp)?;
            let optim_path = tmp.join(OPTIMIZER_STATE);
            optim
                .save(&optim_path)
                .map_err(|e| Error::parse(&optim_path, None, format!("{e:?}")))?;
            let ids: BTreeMap<String, [u64; 2]> = model
                .projections()
                .into_iter()
                .filter_map(|(name, p)| {
                    p.low_rank
                        .as_ref()
                        .map(|pair| (name, [pair.a.id.val(), pair.b.id.val()]))
                })
                .collect();
            fs::write_json_atomic(tmp.join(PARAM_IDS), &ids)?;
            let c = &self.config;
            fs::write_json_atomic(
                tmp.join(TRAINER_STATE),
                &TrainerState {
                    global_step: step,
                    epoch,
                    next_group,
                    seed: c.seed,
                    per_device_train_batch_size: c.per_device_train_batch_size,
                    gradient_accumulation_steps: c.gradient_accumulation_steps,
                    initial_eval_loss: report.initial_eval_loss,
                    log_history: report.steps.clone(),
                },
            )
        })
    }
}

/// `trainer_state.json` of a checkpoint (transformers' names where they exist).
#[derive(Debug, Serialize, Deserialize)]
struct TrainerState {
    global_step: usize,
    epoch: usize,
    /// Index of the next accumulation group in `epoch`'s order.
    next_group: usize,
    seed: u64,
    per_device_train_batch_size: usize,
    gradient_accumulation_steps: usize,
    initial_eval_loss: Option<f64>,
    log_history: Vec<StepMetrics>,
}

/// Where [`SftTrainer::run`] starts.
struct Start {
    step: usize,
    epoch: usize,
    group: usize,
    report: SftReport,
}

/// Files of a checkpoint besides the PEFT adapter.
const TRAINER_STATE: &str = "trainer_state.json";
const OPTIMIZER_STATE: &str = "optimizer.bpk";
const PARAM_IDS: &str = "param_ids.json";

/// `Σ −log p(label)` over the batch's target positions (a scalar tensor).
fn token_loss_sum(model: &Llama, batch: &SftBatch) -> Tensor<1> {
    let logits = model.forward_selected(
        batch.ids.clone(),
        Some(batch.mask.clone()),
        batch.positions.clone(),
    );
    cross_entropy_sum(logits, batch.labels.clone())
}

/// Mean token loss (nats per target token) over `samples`, in evaluation mode
/// ([`Module::valid`]: no LoRA dropout, no gradient kept).
pub fn mean_token_loss(
    model: &Llama,
    samples: &[SftSample],
    batch_size: usize,
    pad_id: u32,
) -> Result<f64> {
    let model = &model.valid();
    let device = model.model.embed_tokens.weight.val().device();
    let mut sum = 0.0;
    let mut count = 0usize;
    for chunk in samples.chunks(batch_size.max(1)) {
        let refs: Vec<&SftSample> = chunk.iter().collect();
        let batch = SftBatch::new(&refs, pad_id, &device);
        if batch.target_tokens == 0 {
            continue;
        }
        sum += token_loss_sum(model, &batch).detach().into_scalar::<f32>() as f64;
        count += batch.target_tokens;
    }
    if count == 0 {
        return Err(Error::invalid("validation", "no target tokens"));
    }
    Ok(sum / count as f64)
}

fn write_loss_curve(report: &SftReport, path: &Path) -> Result<()> {
    let train = Series {
        name: "train loss".into(),
        points: report
            .steps
            .iter()
            .map(|m| (m.step as f64, m.loss))
            .collect(),
    };
    let mut eval: Vec<(f64, f64)> = report
        .steps
        .iter()
        .filter_map(|m| m.eval_loss.map(|l| (m.step as f64, l)))
        .collect();
    if let Some(l) = report.initial_eval_loss {
        eval.insert(0, (0.0, l));
    }
    let chart = LineChart {
        title: "SFT loss".into(),
        x_label: "optimizer step".into(),
        y_label: "mean token loss (nats)".into(),
        series: vec![
            train,
            Series {
                name: "validation loss".into(),
                points: eval,
            },
        ],
    };
    fs::write_atomic(path, chart.to_svg().as_bytes())
}

fn progress_bar(show: bool, total: usize) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "training {bar:30} {pos}/{len} {msg} [{elapsed}<{eta}]",
    ) {
        bar.set_style(style);
    }
    bar
}
