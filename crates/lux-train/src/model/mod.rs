//! burn models: a Llama-family decoder (Llama 2/3.x, SmolLM2, Qwen2-like configs).
//!
//! One component per file, each a `FooConfig` + `Foo` pair as in burn-nn:
//!
//! | file | component |
//! |---|---|
//! | `config.rs` | [`LlamaConfig`] (HF `config.json`), [`RopeScaling`] |
//! | `llama.rs` | [`Llama`]: the causal LM and its forward passes |
//! | `llama_model.rs` | [`LlamaModel`]: embedding, decoder layers, final norm |
//! | `decoder_layer.rs` | [`DecoderLayer`]: pre-norm attention + MLP with residuals |
//! | `attention.rs` | [`Attention`]: grouped-query self-attention, [`AttentionMask`] |
//! | `mlp.rs` | [`Mlp`]: SwiGLU feed-forward |
//! | `rms_norm.rs` | [`RmsNorm`] |
//! | `rope.rs` | [`RotaryEmbedding`]: HF rotate-half rotary positions |
//! | `position_ids.rs` | [`PositionIds`]: packed rows, positions restarting per example |
//! | `projection.rs` | [`Projection`]: linear layers, with the [`LowRank`] adapter seam |
//! | `quantized.rs` | [`QuantizedWeight`]: a frozen weight kept in GGUF blocks (`keep_quantized`) |
//! | `quant_matmul.rs` | its kernels: `x·Wᵀ` and `dy·W`, decoding a block or a tile at a time |
//! | `cache.rs` | [`KvCache`] for incremental decoding |
//! | `weights.rs` | [`WeightSource`]: loading HF-named tensors (safetensors, in memory) |
//! | `fused.rs` | one-pass parallel CPU kernels the plain `flex` device runs for inference |
//! | `fused_grad.rs` | the same with hand-written backward passes, for training on `flex` |
//!
//! Module paths equal Hugging Face parameter names (`model.layers.0.self_attn.q_proj.weight`),
//! except that burn stores `Linear` weights as `[in, out]`, the transpose of HF's.
//!
//! ```no_run
//! use burn::tensor::{Device, Int, Tensor, TensorData};
//! use lux_train::model::Llama;
//!
//! # fn main() -> lux_core::Result<()> {
//! let device = Device::flex();
//! let model = Llama::from_pretrained("models/SmolLM2-135M", &device)?;
//! let ids = Tensor::<2, Int>::from_data(TensorData::new(vec![1i64, 2, 3], [1, 3]), &device);
//! let logits = model.forward(ids.clone(), None); // [1, 3, vocab]
//! let states = model.forward_hidden_states(ids, None); // 31 × [1, 3, 576]
//! # Ok(())
//! # }
//! ```

mod attention;
mod cache;
mod config;
mod decoder_layer;
mod from_gguf;
pub(crate) mod fused;
pub(crate) mod fused_grad;
mod llama;
mod llama_model;
mod mlp;
mod position_ids;
mod projection;
mod quant_dot;
mod quant_matmul;
mod quantized;
mod rms_norm;
mod rope;
mod weights;

pub use attention::*;
pub use cache::*;
pub use config::*;
pub use decoder_layer::*;
pub use from_gguf::GgufLoadOptions;
pub use llama::*;
pub use llama_model::*;
pub use mlp::*;
pub use position_ids::{PositionIds, Span};
pub use projection::*;
pub use quantized::QuantizedWeight;
pub use rms_norm::*;
pub use rope::*;
pub use weights::{SafetensorsWeights, WeightSource, WeightTensor};
pub(crate) use weights::{load_param, load_projection};
