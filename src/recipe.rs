//! Recipe files: one TOML file naming every plugin of a run and its settings.

use std::path::{Path, PathBuf};

use lux_core::pipeline::{Pipeline, PipelineConfig, RunOptions, RunSummary};
use lux_core::{IoContext, Result};
use serde::Deserialize;

/// A recipe: a name and the settings of each stage. Relative paths inside it are resolved
/// against the recipe file's directory, so a recipe and its data can move together.
///
/// ```toml
/// name = "luxinstruct"
///
/// [data]
/// native = "lb"
/// instruction_langs = ["en", "fr", "de"]
/// [[data.sources]]
/// type = "parallel_jsonl"
/// path = "../data/parallel.jsonl"
/// [[data.generators]]
/// type = "sentence_translation"
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    /// The recipe's name (used for default output directories).
    pub name: String,
    /// What the recipe is for.
    #[serde(default)]
    pub description: String,
    /// The data stage.
    pub data: PipelineConfig,
    /// The directory relative paths are resolved against (the file's directory).
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// Options of [`Recipe::run_data`].
#[derive(Debug, Clone, Default)]
pub struct DataRunOptions {
    /// Show progress bars.
    pub progress: bool,
    /// Replace an existing journal instead of resuming.
    pub fresh: bool,
    /// Generate again seeds on which a generator failed before.
    pub retry_failed: bool,
}

impl Recipe {
    /// Reads a recipe file; errors name the file, line and key.
    pub fn load(path: impl AsRef<Path>) -> Result<Recipe> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).with_path(path)?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Recipe::from_toml(&text, path, base)
    }

    /// Parses recipe text; `origin` names it in errors, `base_dir` resolves relative paths.
    pub fn from_toml(text: &str, origin: &Path, base_dir: PathBuf) -> Result<Recipe> {
        let mut recipe: Recipe = toml::from_str(text).map_err(|e| {
            let location = e.span().map(|s| {
                format!(
                    "line {}",
                    text[..s.start.min(text.len())].matches('\n').count() + 1
                )
            });
            lux_core::Error::parse(origin, location, e.message().to_string())
        })?;
        recipe.base_dir = base_dir;
        Ok(recipe)
    }

    /// Runs the data stage into `out_dir` (resuming a previous run there).
    pub async fn run_data(
        self,
        out_dir: impl AsRef<Path>,
        opts: &DataRunOptions,
    ) -> Result<RunSummary> {
        let run = RunOptions {
            base_dir: self.base_dir.clone(),
            progress: opts.progress,
            retry_failed: opts.retry_failed,
            fresh: opts.fresh,
        };
        Pipeline::new(self.data)?.run(out_dir, &run).await
    }
}
