//! # lux-plugins
//!
//! Plugins that reach outside the process: the OpenAI-compatible client (OpenAI, vLLM,
//! Ollama, llama.cpp) and the LLM-backed generators built on it. The judges that run on it
//! live in `lux-eval` (`lux_eval::judge`); linking this crate links them too, and registers
//! every plugin, so recipe files can name them (`use lux_plugins as _;`).
//!
//! | recipe `type` | trait | what |
//! |---|---|---|
//! | `openai` | [`LlmClient`](lux_core::LlmClient) | [`OpenAiCompatible`]: chat completions over HTTP, with retries, timeout, concurrency bound, request budget, token/cost accounting and an on-disk response cache |
//! | `reverse_instruction` | [`InstructionGenerator`](lux_core::InstructionGenerator) | [`ReverseInstruction`]: LuxInstruct's LLM-backed generator: the model picks a span of a native text and writes the instruction it answers |
//! | `llm_judge` | [`Judge`](lux_core::Judge) | [`LlmJudge`]: a score on a scale with a reason, as JSON (defined in `lux_eval::judge`, re-exported here) |
//! | `stopwords` | [`LanguageCheck`] | [`StopwordCheck`]: a small stopword-based check of an instruction's language |
//!
//! A recipe names the client inside the plugin that uses it:
//!
//! ```toml
//! [[data.generators]]
//! type = "reverse_instruction"
//! llm = { type = "openai", base_url = "https://api.openai.com/v1", model = "gpt-4.1-mini",
//!         api_key_env = "OPENAI_API_KEY", cache_dir = "cache/llm", max_requests = 20000 }
//! ```
//!
//! A client table is all a recipe needs; nothing is sent (and no key read) until the first
//! request:
//!
//! ```
//! use lux_core::LlmClient;
//! use lux_plugins as _; // links the plugins, so recipe tables can name them
//!
//! let llm: Box<dyn LlmClient> = toml::from_str(
//!     r#"
//!     type = "openai"
//!     base_url = "http://localhost:11434/v1"   # Ollama
//!     model = "qwen2.5:7b"
//!     response_format = "json_object"
//!     "#,
//! )
//! .unwrap();
//! assert_eq!(llm.model(), "qwen2.5:7b");
//! ```
//!
//! The client is built from layers, each in its own file of [`llm`] with its own error:
//! [`Cache`](llm::Cache) → [`Accounting`](llm::Accounting) → [`Retry`](llm::Retry) →
//! [`Budget`](llm::Budget) → [`ConcurrencyLimit`](llm::ConcurrencyLimit) →
//! [`Timeout`](llm::Timeout) → [`HttpTransport`](llm::HttpTransport). The API key is read
//! from the environment variable the recipe names and never written anywhere.
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![forbid(unsafe_code)]

mod error;
pub mod generators;
pub mod judges;
pub mod langcheck;
pub mod llm;
mod text;

pub use error::LlmError;
pub use generators::ReverseInstruction;
pub use judges::LlmJudge;
pub use langcheck::{LangVerdict, LanguageCheck, StopwordCheck};
pub use llm::{OpenAiCompatible, OpenAiConfig, UsageReport};
