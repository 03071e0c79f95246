//! Supervised fine-tuning of a [`Llama`](crate::model::Llama) with an adapter, as TRL's
//! `SFTTrainer` does it: chat-formatted examples, completion-only loss, run by the one
//! [`Trainer`](crate::training::Trainer) every stage shares.
//!
//! | file | concept |
//! |---|---|
//! | `data.rs` | [`SftSample`], [`SftBatch`]: chat-template formatting, completion-only targets, padding |
//! | `packing.rs` | [`BatchLayout`]: padded rows, or examples packed end to end (TRL's `packing`) |
//! | `trainer.rs` | [`SftObjective`] (the loss), [`SftTrainer`] (the objective run with an adapter saved) |
//! | `cross_entropy.rs` | [`cross_entropy_sum`]: the token loss, its gradient in closed form |
//!
//! Choices, with the peer they follow:
//! - the loss is on the assistant's tokens only by default (TRL's `completion_only_loss`), and
//!   the output head runs only at those positions ([`Llama::forward_selected`]): SmolLM2's head
//!   is a fifth of its parameters;
//! - every checkpoint holds the adapter as it saves itself (for LoRA a PEFT directory), beside
//!   the trainer's state, so `checkpoint-N/` loads in PEFT as transformers' checkpoints do.
//!
//! [`Llama::forward_selected`]: crate::model::Llama::forward_selected

mod cross_entropy;
mod data;
mod packing;
mod trainer;

pub use cross_entropy::cross_entropy_sum;
pub use data::{SftBatch, SftSample, tokenize_chat, tokenize_examples, user_turn};
pub use packing::{BatchLayout, pack_first_fit_decreasing};
pub use trainer::{SftObjective, SftTrainer, mean_token_loss};
