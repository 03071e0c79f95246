//! Supervised fine-tuning of a [`Llama`](crate::model::Llama) with LoRA, as TRL's `SFTTrainer`
//! does it, on the CPU backend.
//!
//! | file | concept |
//! |---|---|
//! | `schedule.rs` | [`LrSchedule`], [`Warmup`]: constant, linear, cosine, cosine with hard restarts (HF formulas) |
//! | `data.rs` | [`SftSample`]: chat-template formatting, completion-only targets, batching |
//! | `trainer.rs` | [`SftConfig`], [`SftTrainer`]: the loop, evaluation, metrics, checkpoints and resume |
//! | `clip.rs` | [`clip_grad_norm`]: clipping by the global gradient norm |
//! | `cross_entropy.rs` | [`cross_entropy_sum`]: the token loss, its gradient in closed form |
//!
//! Choices, with the peer they follow:
//! - the loss is on the assistant's tokens only by default (TRL's `completion_only_loss`), and
//!   the output head runs only at those positions ([`Llama::forward_selected`]): SmolLM2's head
//!   is a fifth of its parameters;
//! - gradient accumulation divides the summed token losses by the number of target tokens of the
//!   whole accumulated batch, so a long example weighs the same whether it shares its
//!   micro-batch with short or long ones (transformers ≥ 4.46 does the same);
//! - AdamW (burn's) steps only parameters with a gradient: under LoRA these are the `A`/`B`
//!   matrices, so there are no norms or biases to exempt from weight decay;
//! - `max_grad_norm` clips the global norm of all gradients together (PyTorch's
//!   `clip_grad_norm_`, what transformers does), not each tensor (burn's `GradientClipping`);
//! - a checkpoint (`checkpoint-N/`, renamed into place when complete) holds the PEFT adapter,
//!   AdamW's state, the parameter ids that state is keyed by, and `trainer_state.json` (step,
//!   epoch and position in it, metrics so far); [`SftTrainer::resume`] continues it exactly.
//!
//! Several devices: burn 0.22 runs a model on one device per process; for several GPUs build
//! with the `cuda` feature and run one process per device on disjoint shards of the data
//! (`SftConfig::seed` differs per shard), then average adapters, or use burn's own data-parallel
//! `burn-train` learner. lux keeps the default build CPU-only.
//!
//! [`Llama::forward_selected`]: crate::model::Llama::forward_selected

pub(crate) mod checkpoint_dir;
mod clip;
mod cross_entropy;
mod data;
mod schedule;
mod trainer;

pub use clip::clip_grad_norm;
pub use cross_entropy::cross_entropy_sum;
pub use data::{SftBatch, SftSample, batches, tokenize_chat, tokenize_examples, user_turn};
pub use schedule::{LrSchedule, Warmup};
pub use trainer::{SftConfig, SftReport, SftTrainer, StepMetrics, mean_token_loss};
