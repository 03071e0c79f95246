//! LinguaLIFT's language-alignment layer and two-stage training.
//!
//! A frozen multilingual encoder (multilingual-e5-small, [`crate::encoder`]) reads the user's
//! text; an [`Aligner`] projects its token states into the LLM's input-embedding space, where
//! they stand in place of (or ahead of) the text's own token embeddings, between the chat
//! template's tokens ([`ChatSlots`]). The aligner is an [`Adapter`](crate::Adapter) of the LLM
//! ([`AlignerAdapter`], held in [`Llama::aligner`](crate::model::Llama::aligner)): stage 1 attaches
//! it and trains it with the LLM frozen, on code-switched text whose target is its English
//! original; stage 2 attaches LoRA, which freezes the aligner with the rest, and tunes the LLM
//! on English instructions (both with [`AlignedObjective`]);
//! [`generate_aligned`] answers through the encoder, so a question in Luxembourgish reaches an
//! LLM tuned only in English.
//!
//! | file | concept |
//! |---|---|
//! | `aligner.rs` | [`AlignerConfig`], [`Aligner`], [`AlignMode`]: the projector (2-layer MLP or linear) |
//! | `adapter.rs` | [`AlignerAdapter`]: the aligner attached to, saved from and loaded onto an LLM |
//! | `sample.rs` | [`AlignedSample`], [`ChatSlots`], [`AlignedBatch`]: inputs with encoder states inside |
//! | `encode.rs` | [`token_states`]: the frozen encoder's states, computed once |
//! | `two_stage.rs` | [`AlignedObjective`]: both stages' loss for the one [`Trainer`](crate::training::Trainer); [`aligned_loss`] |
//! | `generate.rs` | [`generate_aligned`]: KV-cache generation prefilled with vectors |
//! | `save.rs` | [`save_aligner`], [`load_aligner`]: safetensors in `torch.nn.Sequential` layout |
//!
//! The encoder is kept out of training entirely: its states are inputs, computed once on a
//! plain device, which is what "frozen" means here and is also the cheap way to do it.

mod adapter;
mod aligner;
mod encode;
mod generate;
mod sample;
mod save;
mod two_stage;

pub use adapter::AlignerAdapter;
pub use aligner::{AlignMode, Aligner, AlignerConfig};
pub use encode::token_states;
pub use generate::{generate_aligned, generate_aligned_ids};
pub use sample::{AlignedBatch, AlignedSample, ChatSlots, Padding};
pub use save::{ALIGNER_CONFIG_FILE, ALIGNER_WEIGHTS_FILE, load_aligner, save_aligner};
pub use two_stage::{AlignedObjective, aligned_loss};
