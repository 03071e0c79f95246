//! [`Trainer`]: the training loop every stage runs — batches, accumulation, schedule,
//! clipping, AdamW, evaluation, metrics, checkpoints and resume.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsAccumulator, GradientsParams, ModuleOptimizer};
use lux_core::{Error, IoContext, Result, fs, rng};

use super::args::TrainingArgs;
use super::checkpoint::{self, TrainerState};
use super::clip::clip_grad_norm;
use super::metrics::{StepMetrics, TrainReport};
use super::objective::Objective;
use crate::adapter::Adapter;
use crate::model::Llama;

/// Runs an [`Objective`] with [`TrainingArgs`] and writes into `output_dir`: `metrics.jsonl`
/// (a line per step), `loss.svg`, `train_report.json`, and `checkpoint-N/` every
/// `save_steps`. The caller saves the final artifact (an adapter, an aligner).
#[derive(Debug, Clone)]
pub struct Trainer {
    args: TrainingArgs,
    output_dir: PathBuf,
}

impl Trainer {
    /// A trainer; the settings are checked here, so a bad value fails before a model loads.
    pub fn new(args: TrainingArgs, output_dir: impl Into<PathBuf>) -> Result<Trainer> {
        args.validate()?;
        Ok(Trainer {
            args,
            output_dir: output_dir.into(),
        })
    }

    /// The settings.
    pub fn args(&self) -> &TrainingArgs {
        &self.args
    }

    /// Where the trainer writes.
    pub fn output_dir(&self) -> &Path {
        &self.output_dir
    }

    /// The newest complete `checkpoint-N/` in the output directory (highest `N`) whose files
    /// match their checksums, if any: what [`resume`](Self::resume) continues after an
    /// interruption. Half-written checkpoints never have that name (they are renamed into
    /// place when complete); a corrupted one is skipped with a warning.
    pub fn latest_checkpoint(&self) -> Option<PathBuf> {
        checkpoint::latest(&self.output_dir)
    }

    /// Checks a checkpoint's files against its `checksums.json`; the error names the first file
    /// that is missing or changed. [`resume`](Self::resume) checks before it loads anything;
    /// callers that load parts of a checkpoint themselves (an adapter) check first too.
    pub fn verify(checkpoint: &Path) -> Result<()> {
        checkpoint::verify(checkpoint)
    }

    /// Trains `module` (on an autodiff device) on `train`, evaluating on `validation` before
    /// the first step, every `eval_steps` and after the last.
    ///
    /// A non-finite loss stops the run with an error naming the step; the checkpoints already
    /// written stay as they are.
    pub fn train<O: Objective>(
        &self,
        objective: &O,
        module: O::Module,
        train: &[O::Sample],
        validation: &[O::Sample],
    ) -> Result<(O::Module, TrainReport)> {
        self.check_data(train)?;
        let report = TrainReport {
            objective: objective.name().to_string(),
            initial_eval_loss: self.evaluate(objective, &module, validation)?,
            final_eval_loss: None,
            steps: Vec::new(),
        };
        let start = Position {
            step: 0,
            epoch: 0,
            group: 0,
        };
        self.run(
            objective,
            module,
            self.optimizer(),
            train,
            validation,
            start,
            report,
        )
    }

    /// Continues the run saved in `checkpoint` (a `checkpoint-N/` of this trainer's output):
    /// `module` must be built as it was for [`train`](Self::train) (same trainable parameters
    /// in the same order); their values and ids, AdamW's moments, the step, the position in the
    /// data and the metrics so far are restored, so the steps after `N` are those of an
    /// uninterrupted run (the data order is a function of the seed and the epoch, and the
    /// dropout RNG is reseeded from the seed and the step).
    ///
    /// A checkpoint of another objective, or written with a different seed, batch size or
    /// accumulation, is an error naming the file and the field; so is a missing or unreadable
    /// file, or one whose SHA-256 differs from the checkpoint's `checksums.json`.
    pub fn resume<O: Objective>(
        &self,
        objective: &O,
        module: O::Module,
        checkpoint: &Path,
        train: &[O::Sample],
        validation: &[O::Sample],
    ) -> Result<(O::Module, TrainReport)> {
        self.check_data(train)?;
        checkpoint::verify(checkpoint)?;
        let state = checkpoint::read_state(checkpoint)?;
        let file = checkpoint.join(checkpoint::STATE);
        if state.objective != objective.name() {
            return Err(Error::parse(
                &file,
                None,
                format!(
                    "written while training `{}`, not `{}`",
                    state.objective,
                    objective.name()
                ),
            ));
        }
        let a = &self.args;
        for (field, saved, now) in [
            ("seed", state.seed, a.seed),
            (
                "per_device_train_batch_size",
                state.per_device_train_batch_size as u64,
                a.per_device_train_batch_size as u64,
            ),
            (
                "gradient_accumulation_steps",
                state.gradient_accumulation_steps as u64,
                a.gradient_accumulation_steps as u64,
            ),
        ] {
            if saved != now {
                return Err(Error::parse(
                    &file,
                    None,
                    format!("{field} is {saved} in the checkpoint and {now} in the settings"),
                ));
            }
        }
        let (module, optim) = checkpoint::load(checkpoint, module, self.optimizer())?;
        let report = TrainReport {
            objective: state.objective,
            initial_eval_loss: state.initial_eval_loss,
            final_eval_loss: state.log_history.iter().rev().find_map(|m| m.eval_loss),
            steps: state.log_history,
        };
        let start = Position {
            step: state.global_step,
            epoch: state.epoch,
            group: state.next_group,
        };
        self.run(objective, module, optim, train, validation, start, report)
    }

    /// Trains an [`Adapter`] of `base` (the model without it, on an autodiff device): attaches
    /// it (initialised from the seed) and [`train`](Self::train)s, or, when the output
    /// directory holds a checkpoint, loads the adapter saved in the newest one and
    /// [`resume`](Self::resume)s from it. The objective must save the adapter in its
    /// checkpoints (as [`SftObjective`](crate::sft::SftObjective) and
    /// [`AlignedObjective`](crate::align::AlignedObjective) do). This is what a training stage
    /// runs, so that a stage run again after an interruption continues where it stopped.
    pub fn train_adapter<O: Objective<Module = Llama>>(
        &self,
        objective: &O,
        adapter: &dyn Adapter,
        base: Llama,
        train: &[O::Sample],
        validation: &[O::Sample],
    ) -> Result<(Llama, TrainReport)> {
        match self.latest_checkpoint() {
            Some(checkpoint) => {
                tracing::info!(checkpoint = %checkpoint.display(), "resuming {}", objective.name());
                Trainer::verify(&checkpoint)?;
                let model = adapter.load(base, &checkpoint)?;
                self.resume(objective, model, &checkpoint, train, validation)
            }
            None => {
                let (model, _) = adapter.attach(base, self.args.seed)?;
                self.train(objective, model, train, validation)
            }
        }
    }

    /// Mean token loss over `samples` in evaluation mode, `None` without samples or targets.
    pub fn evaluate<O: Objective>(
        &self,
        objective: &O,
        module: &O::Module,
        samples: &[O::Sample],
    ) -> Result<Option<f64>> {
        let (mut sum, mut count) = (0.0, 0);
        for chunk in samples.chunks(self.args.per_device_train_batch_size) {
            let refs: Vec<&O::Sample> = chunk.iter().collect();
            let loss = objective.eval_loss(module, &refs)?;
            if loss.targets == 0 {
                continue;
            }
            sum += loss.sum.into_scalar::<f32>() as f64;
            count += loss.targets;
        }
        Ok((count > 0).then(|| sum / count as f64))
    }

    fn check_data<S>(&self, train: &[S]) -> Result<()> {
        if train.is_empty() {
            return Err(Error::invalid("train", "no training samples"));
        }
        Ok(())
    }

    fn optimizer(&self) -> ModuleOptimizer {
        AdamWConfig::new()
            .with_epsilon(1e-8)
            .with_weight_decay(self.args.weight_decay as f32)
            .init()
    }

    #[allow(clippy::too_many_arguments)]
    fn run<O: Objective>(
        &self,
        objective: &O,
        mut module: O::Module,
        mut optim: ModuleOptimizer,
        train: &[O::Sample],
        validation: &[O::Sample],
        start: Position,
        mut report: TrainReport,
    ) -> Result<(O::Module, TrainReport)> {
        let a = &self.args;
        let out = &self.output_dir;
        std::fs::create_dir_all(out).with_path(out)?;
        let device = module.devices().into_iter().next();
        let total = a.total_steps(train.len());
        let warmup = a.warmup.steps(total);
        let metrics_path = out.join("metrics.jsonl");
        let mut metrics_file = std::fs::File::create(&metrics_path).with_path(&metrics_path)?;
        for m in &report.steps {
            writeln!(metrics_file, "{}", json_line(m)?).with_path(&metrics_path)?;
        }
        let bar = progress_bar(a.progress, total, objective.name());
        bar.inc(start.step as u64);
        let mut step = start.step;
        'epochs: for epoch in start.epoch.. {
            let micro = batches(train.len(), a.per_device_train_batch_size, a.seed, epoch);
            for (g, group) in micro.chunks(a.gradient_accumulation_steps).enumerate() {
                if epoch == start.epoch && g < start.group {
                    continue;
                }
                if step >= total {
                    break 'epochs;
                }
                let started = Instant::now();
                let samples: Vec<Vec<&O::Sample>> = group
                    .iter()
                    .map(|indices| indices.iter().map(|&i| &train[i]).collect())
                    .collect();
                // Σ token losses / targets of the whole accumulated batch: a long example
                // weighs the same whichever micro-batch it shares (transformers ≥ 4.46).
                let targets: usize = samples.iter().flatten().map(|s| objective.targets(s)).sum();
                if targets == 0 {
                    return Err(Error::invalid(
                        "train",
                        format!("the batch of step {} has no target tokens", step + 1),
                    ));
                }
                let mut accumulator = GradientsAccumulator::<O::Module>::new();
                let (mut loss_sum, mut tokens) = (0.0, 0);
                for (k, batch) in samples.iter().enumerate() {
                    if batch.iter().all(|s| objective.targets(s) == 0) {
                        continue;
                    }
                    // Dropout masks depend on the seed and the position in the run only, so a
                    // resumed run draws the same ones.
                    if let Some(device) = &device {
                        device.seed(rng::hash(a.seed, &format!("train/step/{step}/{k}")));
                    }
                    let loss = objective.loss(&module, batch)?;
                    tokens += loss.tokens;
                    let l = loss.sum.div_scalar(targets as f64);
                    loss_sum += l.clone().into_scalar::<f32>() as f64;
                    let grads = GradientsParams::from_grads(l.backward(), &module);
                    accumulator.accumulate(&module, grads);
                }
                if !loss_sum.is_finite() {
                    return Err(Error::Numeric(format!(
                        "{}: loss is {loss_sum} at step {}; training stopped, the last \
                         checkpoint in {} is the last good state (lower the learning rate?)",
                        objective.name(),
                        step + 1,
                        out.display()
                    )));
                }
                let mut grads = accumulator.grads();
                let grad_norm = a
                    .max_grad_norm
                    .map(|max| clip_grad_norm(&module, &mut grads, max));
                let lr = a.learning_rate * a.lr_scheduler.factor(step, total, warmup);
                module = optim.step(lr, module, grads);
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
                let eval_now =
                    a.eval_steps.is_some_and(|n| step.is_multiple_of(n)) || step == total;
                if eval_now && let Some(l) = self.evaluate(objective, &module, validation)? {
                    m.eval_loss = Some(l);
                    m.eval_perplexity = Some(l.exp());
                    report.final_eval_loss = Some(l);
                }
                writeln!(metrics_file, "{}", json_line(&m)?).with_path(&metrics_path)?;
                bar.set_message(format!(
                    "loss {:.4}  lr {:.2e}  {:.0} tok/s",
                    m.loss, m.lr, m.tokens_per_s
                ));
                bar.inc(1);
                report.steps.push(m);
                if a.save_steps.is_some_and(|n| step.is_multiple_of(n)) {
                    let state = TrainerState {
                        objective: objective.name().to_string(),
                        global_step: step,
                        epoch,
                        next_group: g + 1,
                        seed: a.seed,
                        per_device_train_batch_size: a.per_device_train_batch_size,
                        gradient_accumulation_steps: a.gradient_accumulation_steps,
                        initial_eval_loss: report.initial_eval_loss,
                        log_history: report.steps.clone(),
                    };
                    checkpoint::save(out, &module, &optim, &state, |dir| {
                        objective.save(&module, dir)
                    })?;
                }
            }
            if epoch + 1 >= a.num_train_epochs && a.max_steps.is_none() {
                break;
            }
        }
        bar.finish();
        report.write_loss_curve(&out.join("loss.svg"))?;
        fs::write_json_atomic(out.join("train_report.json"), &report)?;
        Ok((module, report))
    }
}

/// Where a run starts: the step, and the accumulation group of the epoch it draws next.
struct Position {
    step: usize,
    epoch: usize,
    group: usize,
}

/// The micro-batches of one epoch: a shuffle of `0..n` (a function of the seed and the epoch
/// only, so a resumed run draws the same) cut into runs of `batch_size`.
pub fn batches(n: usize, batch_size: usize, seed: u64, epoch: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..n).collect();
    rng::SplitMix64::new(rng::hash(seed, &format!("train/epoch/{epoch}"))).shuffle(&mut order);
    order
        .chunks(batch_size.max(1))
        .map(<[usize]>::to_vec)
        .collect()
}

fn json_line(m: &StepMetrics) -> Result<String> {
    serde_json::to_string(m).map_err(|e| Error::other("metrics", e))
}

fn progress_bar(show: bool, total: usize, name: &str) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template(&format!(
        "{name} {{bar:30}} {{pos}}/{{len}} {{msg}} [{{elapsed}}<{{eta}}]"
    )) {
        bar.set_style(style);
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffles_are_seeded_and_cover_everything() {
        let a = batches(10, 4, 1, 0);
        assert_eq!(a, batches(10, 4, 1, 0));
        assert_ne!(a, batches(10, 4, 1, 1));
        let mut all: Vec<usize> = a.concat();
        all.sort();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        assert_eq!(a.iter().map(Vec::len).collect::<Vec<_>>(), [4, 4, 2]);
    }
}
