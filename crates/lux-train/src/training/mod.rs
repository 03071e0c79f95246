//! The training loop of every stage: SFT and both LinguaLIFT stages run one [`Trainer`], with
//! one set of settings ([`TrainingArgs`]), one checkpoint format and one resume path. What
//! differs between them is an [`Objective`]: the module being trained and its loss.
//!
//! | file | concept |
//! |---|---|
//! | `args.rs` | [`TrainingArgs`]: transformers' `TrainingArguments` names and defaults |
//! | `objective.rs` | [`Objective`], [`BatchLoss`]: the trained module and its token loss |
//! | `trainer.rs` | [`Trainer`]: batches, accumulation, schedule, clipping, AdamW, evaluation, resume |
//! | `checkpoint.rs` | `checkpoint-N/`: trainable weights, AdamW state, `trainer_state.json` |
//! | `metrics.rs` | [`StepMetrics`], [`TrainReport`]: `metrics.jsonl`, `loss.svg`, `train_report.json` |
//! | `schedule.rs` | [`LrSchedule`], [`Warmup`]: constant, linear, cosine, cosine with hard restarts (HF formulas) |
//! | `clip.rs` | [`clip_grad_norm`]: clipping by the global gradient norm |
//!
//! Choices, with the peer they follow:
//! - gradient accumulation divides the summed token losses by the number of target tokens of the
//!   whole accumulated batch, so a long example weighs the same whether it shares its
//!   micro-batch with short or long ones (transformers ≥ 4.46 does the same);
//! - AdamW (burn's) steps only parameters with a gradient: under LoRA these are the `A`/`B`
//!   matrices, so there are no norms or biases to exempt from weight decay;
//! - `max_grad_norm` clips the global norm of all gradients together (PyTorch's
//!   `clip_grad_norm_`, what transformers does), not each tensor (burn's `GradientClipping`);
//! - the data order of an epoch and the dropout masks of a step are functions of the seed and
//!   the position in the run, so a run resumed from `checkpoint-N/` takes the same steps after
//!   `N` as one that never stopped (tested to the bit).
//!
//! One device per run: the `[model]` device (`flex`, or `cuda:N` / `wgpu:N` with lux's `cuda` /
//! `wgpu` features). There is no data-parallel training: burn 0.22's distributed operations
//! (gradient sync server, all-reduce) are not implemented for `flex` and do not reach across
//! processes, and lux does not write an all-reduce of its own; `docs/data-parallel.md` says
//! where burn stops and how the trainer shards a step over peers once it does
//! (`tests/data_parallel.rs` notices the burn upgrade that makes it possible).

mod args;
mod checkpoint;
mod clip;
mod metrics;
mod objective;
mod schedule;
mod trainer;

pub use args::TrainingArgs;
pub use clip::clip_grad_norm;
pub use metrics::{StepMetrics, TrainReport};
pub use objective::{BatchLoss, Objective};
pub use schedule::{LrSchedule, Warmup};
pub use trainer::{Trainer, batches};
