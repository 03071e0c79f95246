//! Text generation with a [`Llama`](crate::model::Llama): sampling, stop conditions, batched
//! decoding with a KV cache, and per-token log-probabilities.
//!
//! | file | concept |
//! |---|---|
//! | `sampler.rs` | [`SamplingConfig`], [`Sampler`]: greedy / temperature / top-k / top-p, as HF's warpers |
//! | `stop.rs` | [`StopStrings`]: stop strings matched on decoded text |
//! | `generator.rs` | [`generate`], [`generate_ids`]: the decoding loop, [`Generated`] |
//!
//! [`LocalLlm`](crate::local_llm::LocalLlm) puts an `LlmClient` on top, so plugins that talk
//! to a chat model can run on a local one.

mod generator;
mod sampler;
mod stop;

pub use generator::*;
pub use sampler::*;
pub use stop::*;
