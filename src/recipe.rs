//! Recipe files: one TOML file naming every plugin of a run and its settings.

use std::path::{Path, PathBuf};

use lux_core::pipeline::{Pipeline, PipelineConfig, RunOptions, RunSummary};
use lux_core::{Error, InstructionGenerator, IoContext, Result};
use serde::Deserialize;

/// Environment variables that configure an LLM endpoint for a recipe without editing it.
pub mod llm_env {
    /// The API root, e.g. `http://127.0.0.1:8000/v1` (vLLM) or `https://api.openai.com/v1`.
    pub const BASE_URL: &str = "LUX_LLM_BASE_URL";
    /// The model name the server knows (required with [`BASE_URL`]).
    pub const MODEL: &str = "LUX_LLM_MODEL";
    /// The NAME of the variable holding the API key (e.g. `OPENAI_API_KEY`); unset for local
    /// servers.
    pub const API_KEY_ENV: &str = "LUX_LLM_API_KEY_ENV";
}

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
///
/// # LLM-backed generators
///
/// `[[llm_generators]]` lists generators that need an LLM endpoint. They run only when one is
/// configured — an `[llm]` table in the recipe (any `LlmClient`, e.g. `type = "openai"`), or
/// the environment variables of [`llm_env`] — and then replace the offline generators named
/// in their `replaces` list; a generator table without its own `llm` gets the endpoint.
/// Without an endpoint they are ignored and the recipe runs offline.
///
/// ```toml
/// [[llm_generators]]
/// type = "reverse_instruction"
/// replaces = ["open_generation"]
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
    /// The LLM endpoint of `llm_generators` (an `LlmClient` table), if configured.
    #[serde(default)]
    pub llm: Option<toml::Table>,
    /// Generators that run only with an LLM endpoint (see the type's docs).
    #[serde(default)]
    pub llm_generators: Vec<toml::Table>,
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
        let mut recipe = Recipe::from_toml(&text, path, base)?;
        if recipe.llm.is_none() {
            recipe.llm = endpoint_from_env()?;
        }
        Ok(recipe)
    }

    /// Sets the LLM endpoint of `llm_generators` (an `LlmClient` table such as
    /// `{ type = "openai", base_url = "...", model = "..." }`), replacing the recipe's.
    pub fn with_llm_endpoint(mut self, endpoint: toml::Table) -> Recipe {
        self.llm = Some(endpoint);
        self
    }

    /// Whether the LLM-backed generators will run.
    pub fn uses_llm(&self) -> bool {
        self.llm.is_some() && !self.llm_generators.is_empty()
    }

    /// With an endpoint, swaps the offline generators named in `replaces` for the
    /// `llm_generators`; without, drops those. A `cache_dir`-less `openai` endpoint caches
    /// responses in `cache_dir` (so a rerun repeats no paid call).
    fn compose_generators(&mut self, cache_dir: &Path) -> Result<()> {
        let llm_generators = std::mem::take(&mut self.llm_generators);
        let Some(mut endpoint) = self.llm.clone() else {
            return Ok(());
        };
        if endpoint.get("type").and_then(|t| t.as_str()) == Some("openai")
            && !endpoint.contains_key("cache_dir")
        {
            endpoint.insert(
                "cache_dir".into(),
                toml::Value::String(cache_dir.display().to_string()),
            );
        }
        for (i, mut table) in llm_generators.into_iter().enumerate() {
            let key = format!("llm_generators[{i}]");
            let replaces = match table.remove("replaces") {
                None => Vec::new(),
                Some(toml::Value::Array(names)) => names
                    .into_iter()
                    .map(|v| match v {
                        toml::Value::String(s) => Ok(s),
                        other => Err(Error::invalid(
                            format!("{key}.replaces"),
                            format!("expected generator type names, found {other}"),
                        )),
                    })
                    .collect::<Result<Vec<_>>>()?,
                Some(other) => {
                    return Err(Error::invalid(
                        format!("{key}.replaces"),
                        format!("expected a list of generator type names, found {other}"),
                    ));
                }
            };
            table
                .entry("llm")
                .or_insert_with(|| toml::Value::Table(endpoint.clone()));
            let generator: Box<dyn InstructionGenerator> = toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| Error::invalid(&key, e.message().to_string()))?;
            self.data
                .generators
                .retain(|g| !replaces.iter().any(|r| *r == g.name()));
            self.data.generators.push(generator);
        }
        Ok(())
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

    /// Runs the data stage into `out_dir` (resuming a previous run there). With an LLM
    /// endpoint, the `llm_generators` run (their responses cached in `out_dir/llm-cache`).
    pub async fn run_data(
        mut self,
        out_dir: impl AsRef<Path>,
        opts: &DataRunOptions,
    ) -> Result<RunSummary> {
        let out_dir = out_dir.as_ref();
        self.compose_generators(&out_dir.join("llm-cache"))?;
        let run = RunOptions {
            base_dir: self.base_dir.clone(),
            progress: opts.progress,
            retry_failed: opts.retry_failed,
            fresh: opts.fresh,
        };
        Pipeline::new(self.data)?.run(out_dir, &run).await
    }
}

/// An `openai` endpoint table from [`llm_env`], if `LUX_LLM_BASE_URL` is set.
fn endpoint_from_env() -> Result<Option<toml::Table>> {
    let Ok(base_url) = std::env::var(llm_env::BASE_URL) else {
        return Ok(None);
    };
    let model = std::env::var(llm_env::MODEL).map_err(|_| {
        Error::invalid(
            llm_env::MODEL,
            format!("{} is set, so name the model too", llm_env::BASE_URL),
        )
    })?;
    let mut table = toml::Table::new();
    table.insert("type".into(), "openai".into());
    table.insert("base_url".into(), base_url.into());
    table.insert("model".into(), model.into());
    if let Ok(key_env) = std::env::var(llm_env::API_KEY_ENV) {
        table.insert("api_key_env".into(), key_env.into());
    }
    Ok(Some(table))
}
