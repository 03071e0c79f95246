//! # lux-core
//!
//! The vocabulary every other lux crate speaks: domain types ([`Lang`], [`Document`],
//! [`Parallel`], [`LexEntry`], [`Example`], [`TaskKind`], [`Verdict`], [`Judgement`]), the
//! plugin traits ([`SeedSource`], [`InstructionGenerator`], [`Filter`], [`Judge`], [`Metric`],
//! [`LlmClient`], and the recipe stages [`TrainStage`] and [`Evaluation`]
//! with their [`stage::StageContext`]), the error type, and the [`pipeline`] that streams seeds
//! through generators and filters into a dataset, resumably. Every crate renders its prompts
//! with one template type ([`PromptTemplate`], in [`prompt`]) and reads models' JSON answers
//! with one parser ([`json_answer`]).
//!
//! This crate knows no file format, no HTTP and no model: those live in `lux-data`,
//! `lux-plugins` and `lux-train`. A plugin written in any crate becomes nameable from a recipe
//! file by implementing one of the traits with `#[typetag::serde(name = "...")]`:
//!
//! ```
//! use lux_core::{Example, Filter, Result, Verdict};
//! use serde::{Deserialize, Serialize};
//!
//! /// Drops examples whose output contains a question mark.
//! #[derive(Debug, Clone, Serialize, Deserialize)]
//! struct NoQuestions {}
//!
//! #[typetag::serde(name = "no_questions")]
//! impl Filter for NoQuestions {
//!     fn check(&mut self, example: &Example) -> Result<Verdict> {
//!         Ok(if example.output.contains('?') {
//!             Verdict::drop("output is a question")
//!         } else {
//!             Verdict::Keep
//!         })
//!     }
//! }
//!
//! let filter: Box<dyn Filter> = toml::from_str("type = \"no_questions\"").unwrap();
//! assert_eq!(filter.name(), "no_questions");
//! ```
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![forbid(unsafe_code)]

pub mod checksum;
mod document;
mod error;
mod example;
pub mod fs;
pub mod json_answer;
mod lang;
pub mod lang_table;
pub mod pipeline;
pub mod plugin;
pub mod prompt;
pub mod rng;
pub mod stage;
pub mod svg;
mod verdict;

pub use document::{Document, LexEntry, Parallel, Provenance, Seed};
pub use error::{Error, IoContext, Result};
pub use example::{Example, TaskKind};
pub use lang::Lang;
pub use plugin::evaluation::Evaluation;
pub use plugin::filter::{Filter, FilterContext};
pub use plugin::generator::{GenerateContext, Generation, InstructionGenerator, Rejection};
pub use plugin::judge::{Criteria, Judge, JudgeRequest, Judgement, ScoreMethod, ScoreScale};
pub use plugin::judge_context::{JudgeContext, MetricContext};
pub use plugin::llm::{
    ChatChoice, ChatMessage, ChatRequest, ChatResponse, LlmClient, Role, TokenLogprob, TopLogprob,
    Usage,
};
pub use plugin::metric::{MatrixRef, Metric, MetricInput};
pub use plugin::source::{SeedSource, SeedStream, SourceContext};
pub use plugin::train::TrainStage;
pub use prompt::PromptTemplate;
pub use verdict::Verdict;
