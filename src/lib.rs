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
//! A [`Recipe`] is a TOML file naming every stage of a run — `[data]`, `[mix]`, `[model]`,
//! `[[train]]`, `[[eval]]` — and the plugins each uses; [`Run`] runs it into one directory
//! (finished stages reused, interrupted ones resumed, a report at the end), and [`cli`] is
//! the `lux` command line as a function, for binaries that link plugins of their own:
//!
//! ```no_run
//! # async fn demo() -> lux::core::Result<()> {
//! let recipe = lux::Recipe::load("recipes/luxinstruct.toml")?;
//! let report = lux::Run::new(recipe, lux::RunSettings::default())?.execute().await?;
//! println!("report: {}", report.run_dir.join("report.md").display());
//! # Ok(()) }
//! ```
//!
//! The recipe runner, [`Recipe`] and [`cli`] need the `data`, `train` and `eval` features (all
//! on by default).
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![forbid(unsafe_code)]

#[cfg(all(feature = "data", feature = "train", feature = "eval"))]
pub mod cli;
#[cfg(all(feature = "data", feature = "train", feature = "eval"))]
mod recipe;
#[cfg(all(feature = "data", feature = "train", feature = "eval"))]
pub mod run;

pub use lux_core as core;
#[cfg(feature = "data")]
pub use lux_data as data;
#[cfg(feature = "eval")]
pub use lux_eval as eval;
#[cfg(feature = "plugins")]
pub use lux_plugins as plugins;
#[cfg(feature = "train")]
pub use lux_train as train;
#[cfg(all(feature = "data", feature = "train", feature = "eval"))]
pub use recipe::{DataRunOptions, LoadOptions, Named, Recipe, llm_env};
#[cfg(all(feature = "data", feature = "train", feature = "eval"))]
pub use run::{Run, RunReport, RunSettings, StageReport};
