//! # lux-train
//!
//! burn models (a Llama-family decoder, a BERT/XLM-R encoder), weight loading (HF safetensors,
//! GGUF), adapters (LoRA, the alignment layer), the SFT and two-stage trainers, generation and
//! hidden-state extraction.
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

pub use adapter::Adapter;
pub use allocator::keep_freed_memory;

pub mod adapter;
pub mod align;
pub mod allocator;
pub mod base_model;
pub mod encoder;
pub mod generate;
pub mod gguf;
pub mod hidden_states;
pub mod local_llm;
pub mod lora;
pub mod model;
pub mod sft;
pub mod stages;
pub mod testing;
pub mod tokenizer;
pub mod training;
