//! # lux-plugins
//!
//! Plugins that reach outside the process: the OpenAI-compatible client (OpenAI, vLLM,
//! Ollama, llama.cpp) and the LLM-backed generators and judges built on it. Linking this
//! crate registers its plugins, so recipe files can name them.
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![forbid(unsafe_code)]
