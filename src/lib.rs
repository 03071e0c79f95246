//! # lux
//!
//! Instruction-tuning data, adapters and evaluations for low-resource languages, Luxembourgish
//! first. This facade re-exports the workspace crates so that one dependency is enough:
//!
//! | module | crate | job |
//! |---|---|---|
//! | [`core`] | `lux-core` | domain types, plugin traits, the resumable data pipeline |
//! | [`data`] | `lux-data` | seed sources, offline generators, filters, language id |
//! | `train` | `lux-train` | burn models, weight loading, adapters, trainers (feature `train`) |
//! | `eval` | `lux-eval` | metrics, judges, benchmarks, reports (feature `eval`) |
//! | [`plugins`] | `lux-plugins` | LLM clients and LLM-backed plugins (feature `plugins`) |
//!
//! A [`Recipe`] is a TOML file naming plugins and their settings; `lux data recipe.toml` or
//! [`Recipe::run_data`] runs its data stage:
//!
//! ```no_run
//! # async fn demo() -> lux::core::Result<()> {
//! let recipe = lux::Recipe::load("recipes/luxinstruct.toml")?;
//! let summary = recipe.run_data("out/luxinstruct/data", &Default::default()).await?;
//! println!("{} examples kept", summary.stats.kept);
//! # Ok(()) }
//! ```
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![forbid(unsafe_code)]

mod recipe;

pub use lux_core as core;
#[cfg(feature = "data")]
pub use lux_data as data;
#[cfg(feature = "eval")]
pub use lux_eval as eval;
#[cfg(feature = "plugins")]
pub use lux_plugins as plugins;
#[cfg(feature = "train")]
pub use lux_train as train;
pub use recipe::{DataRunOptions, Recipe, llm_env};
