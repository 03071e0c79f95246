//! Text generation with a [`Llama`](crate::model::Llama): sampling, stop conditions, batched
//! decoding with a KV cache, and per-token log-probabilities.
//!
//! | file | concept |
//! |---|---|
//! | `sampler.rs` | [`SamplingConfig`], [`Sampler`]: greedy / temperature / top-k / top-p, as HF's warpers |
//! | `stop.rs` | [`StopStrings`]: stop strings matched on decoded text |
//! | `generator.rs` | [`generate`], [`generate_ids`], [`generate_json`], [`generate_choices`]: the decoding loop, [`Generated`] |
//! | `prompt_cache.rs` | [`PromptCache`]: prompt prefixes' keys and values, reused across requests |
//! | `json_schema.rs` | [`JsonSchema`]: the JSON Schema subset constrained decoding enforces |
//! | `json_recognizer.rs` | [`JsonRecognizer`]: whether a byte prefix can still become a valid document |
//! | `token_mask.rs` | [`TokenVocabulary`], [`TokenMask`]: the tokens allowed at each step |
//!
//! [`LocalLlm`](crate::local_llm::LocalLlm) puts an `LlmClient` on top, so plugins that talk
//! to a chat model can run on a local one.

mod generator;
mod json_recognizer;
mod json_schema;
mod prompt_cache;
mod sampler;
mod stop;
mod token_mask;

pub use generator::*;
pub use json_recognizer::*;
pub use json_schema::*;
pub use prompt_cache::*;
pub use sampler::*;
pub use stop::*;
pub use token_mask::*;
