//! A plugin crate of one's own: what a project outside the lux repository writes to add
//! plugins to lux, one per file, each registered under the name a recipe uses.
//!
//! | recipe name | trait | file |
//! |---|---|---|
//! | `ngram_repetition` | `lux::core::Filter` | [`repetition`] |
//! | `token_f1` | `lux::core::Judge` | [`token_f1`] |
//! | `wer` | `lux::core::Metric` | [`wer`] |
//! | `asym_lora` | `lux::train::Adapter` | [`asym_lora`] |
//!
//! Nothing here registers anything by hand: `#[typetag::serde(name = "…")]` on each `impl`
//! does, when the binary links this crate (`src/main.rs` names it). README.md walks through
//! writing each one.

#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![forbid(unsafe_code)]

pub mod asym_lora;
pub mod repetition;
pub mod token_f1;
pub mod wer;

pub use asym_lora::{AsymLora, AsymLoraConfig};
pub use repetition::{NgramRepetition, NgramRepetitionConfig};
pub use token_f1::TokenF1;
pub use wer::ErrorRate;
