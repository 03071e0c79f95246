//! Recipe files: one TOML file naming every stage of a run, its plugins and their settings.

use std::path::{Path, PathBuf};

use lux_core::pipeline::{Pipeline, PipelineConfig, RunOptions, RunSummary};
use lux_core::{Error, Evaluation, InstructionGenerator, IoContext, Lang, Result, TrainStage};
use lux_data::mix::MixConfig;
use lux_train::base_model::ModelSpec;
use serde::{Deserialize, Serialize};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

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

/// A recipe: every stage of a run in one file. Relative paths inside it are resolved against
/// the recipe file's directory, so a recipe and its data can move together.
///
/// ```toml
/// name = "luxinstruct"
/// seed = 1729
///
/// [data]                         # seeds → generators → filters → dataset.jsonl
/// native = "lb"
/// instruction_langs = ["en", "fr", "de"]
/// [[data.sources]]
/// type = "parallel_jsonl"
/// path = "../data/parallel.jsonl"
/// [[data.generators]]
/// type = "sentence_translation"
///
/// [mix]                          # caps per task and source, validation split
/// validation_ratio = 0.05
/// max_per_source = { "*" = 2000 }
///
/// [model]                        # the base model of training and evaluation
/// name = "smollm2"
///
/// [[train]]                      # a TrainStage plugin, named by `type`
/// type = "sft"
/// learning_rate = 3e-4
/// adapter = { type = "lora", r = 16, lora_alpha = 32.0, target_modules = ["q_proj", "v_proj"] }
///
/// [[eval]]                       # an Evaluation plugin, named by `type`
/// type = "heldout_loss"
///
/// [quick]                        # `lux run --quick`: merged over the tables it names
/// data = { max_seeds_per_source = 200 }
/// sft = { max_steps = 2 }
/// ```
///
/// Each `[[train]]` and `[[eval]]` table may carry `name = "..."` (default: its type) — the
/// stage's directory, its report section and its key in `[quick]`. Unknown plugin types,
/// unknown keys, missing fields and wrong types are errors naming the file, the line and,
/// for a plugin type, the types that exist.
///
/// # LLM-backed generators
///
/// `[[llm_generators]]` lists generators that need an LLM endpoint. They run only when one is
/// configured — an `[llm]` table in the recipe (any `LlmClient`, e.g. `type = "openai"`), or
/// the environment variables of [`llm_env`] — and then replace the offline generators named
/// in their `replaces` list; a generator table without its own `llm` gets the endpoint.
/// Without an endpoint they are ignored and the recipe runs offline.
#[derive(Debug)]
pub struct Recipe {
    /// The recipe's name (the default run directory is `out/<name>`).
    pub name: String,
    /// What the recipe is for.
    pub description: String,
    /// The run's seed: stages that draw (sentence samples, splits) derive their choices from
    /// it; stages with a `seed` of their own use that.
    pub seed: u64,
    /// The native language (from `[data]` when the recipe has one).
    pub native: Option<Lang>,
    /// The instruction languages (from `[data]` when the recipe has one).
    pub instruction_langs: Vec<Lang>,
    /// The data stage.
    pub data: Option<PipelineConfig>,
    /// The mix: caps per task and source, and the validation split. A recipe with `[data]`
    /// and no `[mix]` gets the defaults.
    pub mix: Option<MixConfig>,
    /// The base model of the training and evaluation stages.
    pub model: Option<ModelSpec>,
    /// The LLM endpoint of `llm_generators` (an `LlmClient` table), if configured.
    pub llm: Option<toml::Table>,
    /// Generators that run only with an LLM endpoint (see the type's docs).
    pub llm_generators: Vec<toml::Table>,
    /// The training stages, in order.
    pub train: Vec<Named<Box<dyn TrainStage>>>,
    /// The evaluations, in order.
    pub eval: Vec<Named<Box<dyn Evaluation>>>,
    /// Whether the `[quick]` table was applied.
    pub quick: bool,
    /// The recipe file.
    pub path: PathBuf,
    /// The directory relative paths are resolved against (the file's directory).
    pub base_dir: PathBuf,
}

/// A stage and its name in the run.
#[derive(Debug, Serialize)]
pub struct Named<T> {
    /// The name: the table's `name`, or the plugin's type.
    pub name: String,
    /// The stage.
    #[serde(flatten)]
    pub stage: T,
}

/// How to read a recipe.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Merge the recipe's `[quick]` table over the tables it names (`lux run --quick`).
    pub quick: bool,
}

/// The typed part of a recipe, read from the document after names and `[quick]` are taken
/// out of it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Schema {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    native: Option<Lang>,
    #[serde(default)]
    instruction_langs: Vec<Lang>,
    #[serde(default)]
    data: Option<PipelineConfig>,
    #[serde(default)]
    mix: Option<MixConfig>,
    #[serde(default)]
    model: Option<ModelSpec>,
    #[serde(default)]
    llm: Option<toml::Table>,
    #[serde(default)]
    llm_generators: Vec<toml::Table>,
    #[serde(default)]
    train: Vec<Box<dyn TrainStage>>,
    #[serde(default)]
    eval: Vec<Box<dyn Evaluation>>,
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

/// The default seed of a recipe that names none.
pub(crate) const DEFAULT_SEED: u64 = 1729;

impl Recipe {
    /// Reads a recipe file; errors name the file, line and key.
    pub fn load(path: impl AsRef<Path>) -> Result<Recipe> {
        Recipe::load_with(path, &LoadOptions::default())
    }

    /// Reads a recipe file with options (`quick`).
    pub fn load_with(path: impl AsRef<Path>, opts: &LoadOptions) -> Result<Recipe> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).with_path(path)?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut recipe = Recipe::parse(&text, path, base, opts)?;
        if recipe.llm.is_none() {
            recipe.llm = endpoint_from_env()?;
        }
        Ok(recipe)
    }

    /// Parses recipe text; `origin` names it in errors, `base_dir` resolves relative paths.
    pub fn from_toml(text: &str, origin: &Path, base_dir: PathBuf) -> Result<Recipe> {
        Recipe::parse(text, origin, base_dir, &LoadOptions::default())
    }

    /// Parses recipe text with options.
    pub fn parse(
        text: &str,
        origin: &Path,
        base_dir: PathBuf,
        opts: &LoadOptions,
    ) -> Result<Recipe> {
        let at = |span: Option<std::ops::Range<usize>>, message: String| {
            let location = span
                .clone()
                .map(|s| format!("line {}", line_of(text, s.start)));
            let message = match span.and_then(|s| unknown_type_line(text, s, &message)) {
                Some(line) => format!("{} (written on line {line})", message.trim_end()),
                None => message,
            };
            Error::parse(origin, location, message)
        };
        let mut doc = DeTable::parse(text).map_err(|e| at(e.span(), e.message().to_string()))?;
        let root = doc.get_mut();
        let quick = take(root, "quick");
        let train_names = take_names(root, "train").map_err(|(s, m)| at(Some(s), m))?;
        let eval_names = take_names(root, "eval").map_err(|(s, m)| at(Some(s), m))?;
        if let Some(dup) = first_duplicate(train_names.iter().chain(&eval_names)) {
            return Err(at(
                None,
                format!("two stages are named `{dup}`: give one of them another `name = \"...\"`"),
            ));
        }
        if let Some(quick) = quick {
            let span = quick.span();
            let DeValue::Table(quick) = quick.into_inner() else {
                return Err(at(Some(span), "`quick` must be a table".into()));
            };
            if opts.quick {
                apply_quick(root, quick, &train_names, &eval_names)
                    .map_err(|(s, m)| at(Some(s), m))?;
            }
        }
        let schema = Schema::deserialize(toml::de::Deserializer::from(doc))
            .map_err(|e| at(e.span(), e.message().to_string()))?;

        let (native, instruction_langs) = match &schema.data {
            Some(d) => {
                if schema.native.as_ref().is_some_and(|n| *n != d.native) {
                    return Err(at(
                        None,
                        "`native` differs from [data]'s `native`: set it in one place".into(),
                    ));
                }
                (Some(d.native.clone()), d.instruction_langs.clone())
            }
            None => (schema.native, schema.instruction_langs),
        };
        let mix = match (schema.mix, &schema.data) {
            (Some(mix), _) => Some(mix),
            (None, Some(_)) => Some(MixConfig::default()),
            (None, None) => None,
        };
        if let Some(model) = &schema.model {
            model.validate().map_err(|e| at(None, e.to_string()))?;
        }
        Ok(Recipe {
            name: schema.name,
            description: schema.description,
            seed: schema.seed.unwrap_or(DEFAULT_SEED),
            native,
            instruction_langs,
            data: schema.data,
            mix,
            model: schema.model,
            llm: schema.llm,
            llm_generators: schema.llm_generators,
            train: train_names
                .into_iter()
                .zip(schema.train)
                .map(|(name, stage)| Named { name, stage })
                .collect(),
            eval: eval_names
                .into_iter()
                .zip(schema.eval)
                .map(|(name, stage)| Named { name, stage })
                .collect(),
            quick: opts.quick,
            path: origin.to_path_buf(),
            base_dir,
        })
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

    /// The names of every stage, in run order (`data`, `mix`, then the training stages and
    /// the evaluations).
    pub fn stage_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        if self.data.is_some() {
            names.push("data".to_string());
        }
        if self.mix.is_some() {
            names.push("mix".to_string());
        }
        names.extend(self.train.iter().map(|s| s.name.clone()));
        names.extend(self.eval.iter().map(|s| s.name.clone()));
        names
    }

    /// With an endpoint, swaps the offline generators named in `replaces` for the
    /// `llm_generators`; without, drops those. A `cache_dir`-less `openai` endpoint caches
    /// responses in `cache_dir` (so a rerun repeats no paid call).
    pub(crate) fn compose_generators(
        data: &mut PipelineConfig,
        llm: Option<&toml::Table>,
        llm_generators: &[toml::Table],
        cache_dir: &Path,
    ) -> Result<()> {
        let Some(mut endpoint) = llm.cloned() else {
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
        for (i, table) in llm_generators.iter().enumerate() {
            let mut table = table.clone();
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
            data.generators
                .retain(|g| !replaces.iter().any(|r| *r == g.name()));
            data.generators.push(generator);
        }
        Ok(())
    }

    /// Runs the data stage alone into `out_dir` (resuming a previous run there). With an LLM
    /// endpoint, the `llm_generators` run (their responses cached in `out_dir/llm-cache`).
    /// [`crate::run::Run`] runs it as the first stage of the whole recipe.
    pub async fn run_data(
        self,
        out_dir: impl AsRef<Path>,
        opts: &DataRunOptions,
    ) -> Result<RunSummary> {
        let out_dir = out_dir.as_ref();
        let Some(mut data) = self.data else {
            return Err(Error::invalid(
                "data",
                format!("{} has no [data] table", self.path.display()),
            ));
        };
        Recipe::compose_generators(
            &mut data,
            self.llm.as_ref(),
            &self.llm_generators,
            &out_dir.join("llm-cache"),
        )?;
        let run = RunOptions {
            base_dir: self.base_dir.clone(),
            progress: opts.progress,
            retry_failed: opts.retry_failed,
            fresh: opts.fresh,
            ..RunOptions::default()
        };
        Pipeline::new(data)?.run(out_dir, &run).await
    }
}

/// The line of the unknown plugin type an error names, when it is not the line the TOML
/// reader pointed at.
///
/// A plugin nested in a stage (a judge in `judges = [...]`, a metric in `metrics = [...]`, an
/// adapter) is read from a buffered copy of its stage's table, so the reader can only point at
/// the stage; the error names the unknown type (``unknown variant `g_evall` ``), so its line is
/// found where that string is first written in the stage, from where the reader pointed to
/// the next stage or top-level table.
fn unknown_type_line(text: &str, span: std::ops::Range<usize>, message: &str) -> Option<usize> {
    // An adapter's message leads with its key path: "adapter.type: unknown variant `ia3`, …".
    let name = message
        .split_once("unknown variant `")
        .and_then(|(_, rest)| rest.split('`').next())?;
    let rest = text.get(span.start..)?;
    let mut end = rest.len();
    let mut offset = 0;
    for (n, line) in rest.split_inclusive('\n').enumerate() {
        if n > 0 && starts_another_table(line) {
            end = offset;
            break;
        }
        offset += line.len();
    }
    let stage = &rest[..end];
    let at = ["\"", "'"]
        .iter()
        .find_map(|q| stage.find(&format!("{q}{name}{q}")))?;
    let line = line_of(text, span.start + at);
    (line != line_of(text, span.start)).then_some(line)
}

/// Whether a line opens another stage (`[[train]]`, `[[eval]]`) or a top-level table other
/// than a stage's own sub-tables (`[[eval.judges]]` stays in the stage).
fn starts_another_table(line: &str) -> bool {
    let t = line.trim_start();
    if !t.starts_with('[') {
        return false;
    }
    let key = t.trim_start_matches('[').trim_start();
    let Some(first) = key.chars().next() else {
        return false;
    };
    if !(first.is_ascii_alphanumeric() || first == '_' || first == '-') {
        // An array continuation line (`["en", "lb"],`), not a header.
        return false;
    }
    !(key.starts_with("train.") || key.starts_with("eval."))
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

type Located<T> = std::result::Result<T, (std::ops::Range<usize>, String)>;

fn take<'i>(table: &mut DeTable<'i>, key: &str) -> Option<Spanned<DeValue<'i>>> {
    table.remove(key)
}

/// Takes `name` out of every table of the array `key` (`train`, `eval`); a table without one
/// is named by its `type`.
fn take_names(root: &mut DeTable<'_>, key: &str) -> Located<Vec<String>> {
    let Some(value) = root.get_mut(key) else {
        return Ok(Vec::new());
    };
    let span = value.span();
    let DeValue::Array(items) = value.get_mut() else {
        return Err((
            span,
            format!("`{key}` must be an array of tables ([[{key}]])"),
        ));
    };
    let mut names = Vec::new();
    for item in items.iter_mut() {
        let span = item.span();
        let DeValue::Table(table) = item.get_mut() else {
            return Err((span, format!("each [[{key}]] entry must be a table")));
        };
        let name = match table.remove("name") {
            Some(name) => {
                let s = name.span();
                match name.into_inner() {
                    DeValue::String(n) if is_stage_name(&n) => n.into_owned(),
                    _ => {
                        return Err((
                            s,
                            "`name` must be a string of letters, digits, `_` and `-`".into(),
                        ));
                    }
                }
            }
            None => match table.get("type").map(|t| t.get_ref()) {
                Some(DeValue::String(t)) => t.to_string(),
                _ => {
                    return Err((
                        span,
                        format!("this [[{key}]] table has no `type` (the plugin to run)"),
                    ));
                }
            },
        };
        names.push(name);
    }
    Ok(names)
}

fn is_stage_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !matches!(name, "data" | "mix" | "model")
}

fn first_duplicate<'a>(names: impl Iterator<Item = &'a String>) -> Option<&'a String> {
    let mut seen = std::collections::BTreeSet::new();
    names.into_iter().find(|n| !seen.insert(n.as_str()))
}

/// Merges each entry of `[quick]` over the table it names: `data`, `mix`, `model`, or a
/// stage's name.
fn apply_quick<'i>(
    root: &mut DeTable<'i>,
    quick: DeTable<'i>,
    train_names: &[String],
    eval_names: &[String],
) -> Located<()> {
    for (key, overlay) in quick {
        let span = overlay.span();
        let DeValue::Table(overlay) = overlay.into_inner() else {
            return Err((span, format!("quick.{} must be a table", key.get_ref())));
        };
        let name: &str = key.get_ref();
        let target: Option<&mut DeTable<'i>> = if ["data", "mix", "model"].contains(&name) {
            match root.get_mut(name).map(|v| v.get_mut()) {
                Some(DeValue::Table(t)) => Some(t),
                _ => None,
            }
        } else if let Some(i) = train_names.iter().position(|n| n == name) {
            stage_table(root, "train", i)
        } else if let Some(i) = eval_names.iter().position(|n| n == name) {
            stage_table(root, "eval", i)
        } else {
            None
        };
        let Some(target) = target else {
            let mut known: Vec<&str> = ["data", "mix", "model"]
                .into_iter()
                .filter(|k| root.contains_key(*k))
                .collect();
            known.extend(train_names.iter().chain(eval_names).map(String::as_str));
            return Err((
                key.span(),
                format!(
                    "quick.{name} names no table of this recipe (there are: {})",
                    known.join(", ")
                ),
            ));
        };
        merge(target, overlay);
    }
    Ok(())
}

fn stage_table<'a, 'i>(
    root: &'a mut DeTable<'i>,
    key: &str,
    i: usize,
) -> Option<&'a mut DeTable<'i>> {
    match root.get_mut(key)?.get_mut() {
        DeValue::Array(items) => match items.get_mut(i)?.get_mut() {
            DeValue::Table(t) => Some(t),
            _ => None,
        },
        _ => None,
    }
}

/// Tables merge key by key; any other value replaces.
fn merge<'i>(target: &mut DeTable<'i>, overlay: DeTable<'i>) {
    for (key, value) in overlay {
        let k: &str = key.get_ref();
        match (target.get_mut(k).map(|v| v.get_mut()), value.get_ref()) {
            (Some(DeValue::Table(t)), DeValue::Table(_)) => {
                let DeValue::Table(o) = value.into_inner() else {
                    unreachable!()
                };
                merge(t, o);
            }
            _ => {
                target.insert(key, value);
            }
        }
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
