//! Dataset mixing (LuxLlama): several instruction datasets, each with its category and its
//! own prompt template, merged into one shuffled training set and a validation split.
//!
//! LuxLlama trains on general reasoning, math reasoning and Luxembourgish instructions, each
//! "categorised and templated" before merging. Their files do not share a schema (Alpaca has
//! `instruction`/`input`/`output`, NuminaMath `problem`/`solution`, reasoning sets
//! `user`/`reasoning`/`assistant`), so a component does not map fields: it renders its
//! `instruction`, `input` and `output` from templates over the record's fields. The template
//! is also where the category's prompt goes:
//!
//! ```toml
//! seed = 1729
//! validation_ratio = 0.05
//!
//! [[components]]
//! category = "luxembourgish"
//! path = "alpaca-luxembourgish-cleaned.jsonl"
//! instruction = "{instruction}"
//! input = "{input}"
//! output = "{output}"
//! lang = "lb"
//!
//! [[components]]
//! category = "math_reasoning"
//! path = "numina-math-cot.jsonl"
//! instruction = "Solve the following problem. Reason step by step, then give the answer.\n\n{problem}"
//! output = "{solution}"
//! max_examples = 20000
//! ```
//!
//! A component's records come from exactly one of:
//! - `path`: a JSONL file, one object per line;
//! - `seeds`: a seed source plugin (`{ type = "dictionary", path = "..." }`), each item as
//!   its JSON form ([`lux_core::Seed`]: `{texts.lb}` of an aligned group, `{headword}` and
//!   `{translations.en}` of a dictionary entry, `{text}` and `{metadata.answer}` of a
//!   document), so bundled data and generated sets are mixed without a derived file;
//! - `dataset = true`: the examples of the data stage ([`mix_with`]'s `dataset`), each as its
//!   [`Example`] JSON, so the data stage's instructions get a category and a template of
//!   their own (and then enter the mix only through such components).
//!
//! `where = { instruction_lang = "en" }` keeps the records whose fields have these values,
//! `for_each = "examples"` makes one record per element of a list field (the element is
//! `{item}`), `skip_missing = true` skips records lacking a template field (aligned groups
//! without an English text) instead of failing, and `skip_containing = ["{", "<"]` leaves out
//! renderings with placeholders or markup. A list of strings renders as `a, b, c`.
//!
//! Choices are deterministic: records are ordered by a hash of the mix seed and their id, so
//! the same files and seed give the same mix, and adding a component does not reshuffle the
//! others' validation split (a record's side depends only on its own id).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use lux_core::{
    Error, Example, IoContext, Lang, Result, SeedSource, SourceContext, TaskKind, fs, rng,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// The mix: components, seed and validation share.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MixConfig {
    /// Seed of the order and the split.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Share of the records (per component) held out for validation. Default 0.05.
    #[serde(default = "default_validation_ratio")]
    pub validation_ratio: f64,
    /// The datasets. May be empty when the mix only balances and splits the data stage's
    /// dataset ([`mix_with`]).
    #[serde(default)]
    pub components: Vec<MixComponent>,
    /// At most this many examples per task (the `task` field, which is a component's
    /// `category`); the key `"*"` caps every task not named. A capped task keeps its sources
    /// balanced: examples are taken from each source in turn (seeded order within each), so a
    /// small catalogue is not squeezed out by a big one. Default: no cap.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub max_per_task: BTreeMap<String, usize>,
    /// At most this many examples per source (`cldr`, `translatewiki`, `dictionary`…), so that
    /// one catalogue cannot dominate the dataset; `"*"` caps every source not named. Applied
    /// before the task caps, taking the source's tasks in turn.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub max_per_source: BTreeMap<String, usize>,
    /// Upsampling factors per task for the training split (`"*"` for the others): `2.0`
    /// repeats each training example of the task twice, `1.5` once plus a second time for half
    /// of them (chosen by the seed). Validation examples are never repeated. Default 1.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub weight_per_task: BTreeMap<String, f64>,
    /// Upsampling factors per source for the training split, multiplied with the task's: the
    /// way to give small catalogues more weight without dropping the big one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub weight_per_source: BTreeMap<String, f64>,
}

fn default_seed() -> u64 {
    1729
}

impl Default for MixConfig {
    /// Seed 1729, 5% validation, no component, no cap: what a recipe with `[data]` and no
    /// `[mix]` gets.
    fn default() -> MixConfig {
        MixConfig {
            seed: default_seed(),
            validation_ratio: default_validation_ratio(),
            components: Vec::new(),
            max_per_task: BTreeMap::new(),
            max_per_source: BTreeMap::new(),
            weight_per_task: BTreeMap::new(),
            weight_per_source: BTreeMap::new(),
        }
    }
}

fn default_validation_ratio() -> f64 {
    0.05
}

/// One dataset of a mix: where its records come from (exactly one of `path`, `seeds` and
/// `dataset`), which of them to use, and how to render them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MixComponent {
    /// The category (`luxembourgish`, `math_reasoning`): becomes the examples' `task`.
    pub category: String,
    /// A JSONL file, relative to the mix's base directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// A seed source whose items are the records (paths in it relative to the mix's base
    /// directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seeds: Option<SeedTable>,
    /// The data stage's examples are the records.
    #[serde(default, skip_serializing_if = "is_false")]
    pub dataset: bool,
    /// Keep only records whose (dotted) fields render to these values.
    #[serde(default, rename = "where", skip_serializing_if = "BTreeMap::is_empty")]
    pub only: BTreeMap<String, String>,
    /// One record per element of this list field, the element as `{item}`; a record without
    /// the field gives none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_each: Option<String>,
    /// Skip (and count) records that lack a field a template uses, instead of failing: for
    /// sources whose items differ in shape.
    #[serde(default, skip_serializing_if = "is_false")]
    pub skip_missing: bool,
    /// Skip (and count) records whose rendered instruction, input or output contains one of
    /// these strings (placeholders, markup).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skip_containing: Vec<String>,
    /// Template of the instruction over the record's fields: `{field}` inserts a field (a
    /// string or a number), `{{` and `}}` are literal braces.
    pub instruction: String,
    /// Template of the input; an empty rendering means no input. Default: none.
    #[serde(default)]
    pub input: Option<String>,
    /// Template of the expected answer.
    pub output: String,
    /// Language of the instructions. Default `en`.
    #[serde(default = "default_lang")]
    pub instruction_lang: Lang,
    /// Language of the answers (default: `instruction_lang`).
    #[serde(default)]
    pub lang: Option<Lang>,
    /// Keep at most this many records (chosen by the seed, not the first ones).
    #[serde(default)]
    pub max_examples: Option<usize>,
    /// Short source name for the examples. Default: the file stem, or the source an item
    /// or example names (so `max_per_source` still sees `cldr`).
    #[serde(default)]
    pub source: Option<String>,
    /// The dataset's license, carried into every example. Default: the license an item or
    /// example names (none for a file).
    #[serde(default)]
    pub license: String,
}

fn default_lang() -> Lang {
    Lang::EN
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A [`SeedSource`] plugin table inside a mix component, shared so that the config stays
/// `Clone`; it (de)serialises as the plugin's own table.
#[derive(Debug, Clone)]
pub struct SeedTable(pub Arc<dyn SeedSource>);

impl Serialize for SeedTable {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        self.0.as_ref().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SeedTable {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        Box::<dyn SeedSource>::deserialize(deserializer).map(|b| SeedTable(Arc::from(b)))
    }
}

/// A record the mix left out, and why (an empty answer, a field that is not text).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedRecord {
    /// The file.
    pub path: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// Why.
    pub reason: String,
}

/// Counts of a mix, per category.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MixStats {
    /// Records read per category.
    pub read: BTreeMap<String, usize>,
    /// Training examples per category.
    pub train: BTreeMap<String, usize>,
    /// Validation examples per category.
    pub validation: BTreeMap<String, usize>,
    /// Records left out by `max_examples`, `max_per_task` or `max_per_source`, per category.
    pub capped: BTreeMap<String, usize>,
    /// Extra training copies made by `weight_per_task` / `weight_per_source`, per category
    /// (included in `train`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub upsampled: BTreeMap<String, usize>,
    /// Records skipped (every field of the instruction or output template empty), with the
    /// reasons.
    pub skipped: Vec<SkippedRecord>,
}

/// The result of [`mix`]: shuffled training and validation examples.
#[derive(Debug, Clone, Default)]
pub struct MixedDataset {
    /// Training examples, in the mix's shuffled order.
    pub train: Vec<Example>,
    /// Validation examples.
    pub validation: Vec<Example>,
    /// What went where.
    pub stats: MixStats,
}

impl MixedDataset {
    /// Writes `train.jsonl`, `validation.jsonl` and `mix_stats.json` into `dir`, atomically.
    pub fn write(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).with_path(dir)?;
        fs::write_jsonl_atomic(dir.join("train.jsonl"), &self.train)?;
        fs::write_jsonl_atomic(dir.join("validation.jsonl"), &self.validation)?;
        fs::write_json_atomic(dir.join("mix_stats.json"), &self.stats)
    }
}

impl MixConfig {
    /// Checks ratios, categories and templates; errors name the component and key.
    pub fn validate(&self) -> Result<()> {
        if !(0.0..1.0).contains(&self.validation_ratio) {
            return Err(Error::invalid(
                "validation_ratio",
                format!("must be in [0, 1), got {}", self.validation_ratio),
            ));
        }

        for (name, weights) in [
            ("weight_per_task", &self.weight_per_task),
            ("weight_per_source", &self.weight_per_source),
        ] {
            if let Some((k, w)) = weights.iter().find(|(_, w)| !(w.is_finite() && **w >= 0.0)) {
                return Err(Error::invalid(
                    format!("{name}.{k}"),
                    format!("{w} is not a factor ≥ 0"),
                ));
            }
        }
        for (i, c) in self.components.iter().enumerate() {
            let key = |k: &str| format!("components[{i}].{k}");
            let origins = usize::from(c.path.is_some())
                + usize::from(c.seeds.is_some())
                + usize::from(c.dataset);
            if origins != 1 {
                return Err(Error::invalid(
                    key("path"),
                    "name exactly one of `path` (a JSONL file), `seeds` (a seed source table) \
                     and `dataset = true` (the data stage's examples)",
                ));
            }
            if c.for_each.as_deref().is_some_and(str::is_empty) {
                return Err(Error::invalid(key("for_each"), "name a list field"));
            }
            TaskKind::new(&c.category)
                .map_err(|e| Error::invalid(key("category"), e.to_string()))?;
            Template::parse(&c.instruction).map_err(|m| Error::invalid(key("instruction"), m))?;
            Template::parse(&c.output).map_err(|m| Error::invalid(key("output"), m))?;
            if let Some(input) = &c.input {
                Template::parse(input).map_err(|m| Error::invalid(key("input"), m))?;
            }
        }
        Ok(())
    }
}

/// Reads every component (paths relative to `base_dir`), renders, caps, shuffles and splits.
///
/// Errors name the file and line: a line that is not a JSON object, a template field the
/// record lacks. A record whose instruction or output fields are all empty is skipped and listed in
/// [`MixStats::skipped`].
pub fn mix(config: &MixConfig, base_dir: &Path) -> Result<MixedDataset> {
    if config.components.is_empty() {
        return Err(Error::invalid("components", "name at least one dataset"));
    }
    mix_with(config, &SourceContext::new(base_dir), Vec::new())
}

/// [`mix`] with a dataset of ready examples besides the components (the data stage's
/// `dataset.jsonl`): each of its tasks is a category. The caps (`max_per_task`,
/// `max_per_source`) apply to everything, then each category is split. Paths resolve against
/// `sources.base_dir`, and seed sources read with `sources` (the run's native language among
/// it, for a dictionary file that names no `lang`).
pub fn mix_with(
    config: &MixConfig,
    sources: &SourceContext,
    dataset: Vec<Example>,
) -> Result<MixedDataset> {
    config.validate()?;
    if config.components.is_empty() && dataset.is_empty() {
        return Err(Error::invalid(
            "mix",
            "nothing to mix: no components and an empty dataset",
        ));
    }
    let mut out = MixedDataset::default();
    let mut groups: Vec<(String, Vec<Example>)> = Vec::new();
    let templated_dataset = config.components.iter().any(|c| c.dataset);
    for (i, component) in config.components.iter().enumerate() {
        let records = records(i, component, sources, &dataset)?;
        let mut examples = render_component(component, records, &mut out.stats)?;
        let category = component.category.clone();
        *out.stats.read.entry(category.clone()).or_default() += examples.len();
        order(&mut examples, config.seed);
        if let Some(max) = component.max_examples.filter(|&m| m < examples.len()) {
            *out.stats.capped.entry(category.clone()).or_default() += examples.len() - max;
            examples.truncate(max);
        }
        groups.push((category, examples));
    }
    let mut by_task: BTreeMap<String, Vec<Example>> = BTreeMap::new();
    // A dataset that components template enters only through them.
    let dataset = if templated_dataset {
        Vec::new()
    } else {
        dataset
    };
    for e in dataset {
        by_task.entry(e.task.to_string()).or_default().push(e);
    }
    for (task, examples) in by_task {
        *out.stats.read.entry(task.clone()).or_default() += examples.len();
        groups.push((task, examples));
    }
    cap(&mut groups, config, &mut out.stats);
    for (category, examples) in groups {
        // Each record's side depends on its own id only; the share is exact per component.
        let held = (examples.len() as f64 * config.validation_ratio).round() as usize;
        let mut by_split: Vec<(u64, Example)> = examples
            .into_iter()
            .map(|e| (rng::hash(config.seed ^ SPLIT_SALT, &e.id), e))
            .collect();
        by_split.sort_by_key(|(h, _)| *h);
        for (i, (_, e)) in by_split.into_iter().enumerate() {
            if i < held {
                *out.stats.validation.entry(category.clone()).or_default() += 1;
                out.validation.push(e);
            } else {
                let copies = copies(config, &e);
                *out.stats.train.entry(category.clone()).or_default() += copies;
                if copies > 1 {
                    *out.stats.upsampled.entry(category.clone()).or_default() += copies - 1;
                }
                for k in 1..copies {
                    let mut copy = e.clone();
                    copy.id = format!("{}~{k}", e.id);
                    out.train.push(copy);
                }
                if copies > 0 {
                    out.train.push(e);
                }
            }
        }
    }
    order(&mut out.train, config.seed);
    order(&mut out.validation, config.seed);
    Ok(out)
}

/// How many times a training example appears: the product of its task's and source's
/// weights, the fractional part decided by the seed and the example's id.
fn copies(config: &MixConfig, e: &Example) -> usize {
    let weight = |weights: &BTreeMap<String, f64>, key: &str| {
        weights
            .get(key)
            .or_else(|| weights.get("*"))
            .copied()
            .unwrap_or(1.0)
    };
    let w = weight(&config.weight_per_task, &e.task.to_string())
        * weight(&config.weight_per_source, &e.source);
    let whole = w.floor();
    let extra = rng::unit(config.seed ^ WEIGHT_SALT, &e.id) < w - whole;
    whole as usize + usize::from(extra)
}

/// Mixed into the seed for the fractional weights.
const WEIGHT_SALT: u64 = 0x3e19_47a1;

/// Applies `max_per_source`, then `max_per_task`, over all groups (see [`cap_by`]).
fn cap(groups: &mut [(String, Vec<Example>)], config: &MixConfig, stats: &mut MixStats) {
    if config.max_per_task.is_empty() && config.max_per_source.is_empty() {
        return;
    }
    let mut keep: Vec<Vec<bool>> = groups.iter().map(|(_, ex)| vec![true; ex.len()]).collect();
    let source = |e: &Example| e.source.clone();
    let task = |e: &Example| e.task.to_string();
    cap_by(
        groups,
        &mut keep,
        &config.max_per_source,
        &source,
        &task,
        config.seed,
    );
    cap_by(
        groups,
        &mut keep,
        &config.max_per_task,
        &task,
        &source,
        config.seed,
    );
    for ((category, examples), keep) in groups.iter_mut().zip(keep) {
        let before = examples.len();
        let mut flags = keep.into_iter();
        examples.retain(|_| flags.next().unwrap_or(false));
        if examples.len() < before {
            *stats.capped.entry(category.clone()).or_default() += before - examples.len();
        }
    }
}

/// Keeps at most `caps[key(e)]` (or `caps["*"]`) of the still-kept examples per key, taking
/// them from each `spread(e)` value in turn (round robin, seeded order within each), so a cap
/// on a task keeps the task's small sources whole as long as it can.
fn cap_by(
    groups: &[(String, Vec<Example>)],
    keep: &mut [Vec<bool>],
    caps: &BTreeMap<String, usize>,
    key: &dyn Fn(&Example) -> String,
    spread: &dyn Fn(&Example) -> String,
    seed: u64,
) {
    if caps.is_empty() {
        return;
    }
    // key → spread value → [(hash, id, group, index)]
    type Members = Vec<(u64, String, usize, usize)>;
    let mut by_key: BTreeMap<String, BTreeMap<String, Members>> = BTreeMap::new();
    for (g, (_, examples)) in groups.iter().enumerate() {
        for (i, e) in examples.iter().enumerate() {
            if keep[g][i] {
                by_key
                    .entry(key(e))
                    .or_default()
                    .entry(spread(e))
                    .or_default()
                    .push((rng::hash(seed ^ CAP_SALT, &e.id), e.id.clone(), g, i));
            }
        }
    }
    for (k, mut parts) in by_key {
        let Some(&limit) = caps.get(&k).or_else(|| caps.get("*")) else {
            continue;
        };
        for members in parts.values_mut() {
            members.sort();
            members.reverse(); // popped from the end: smallest hash first
        }
        let mut taken = 0;
        while taken < limit && parts.values().any(|m| !m.is_empty()) {
            for members in parts.values_mut() {
                if taken < limit && members.pop().is_some() {
                    taken += 1;
                }
            }
        }
        for (_, _, g, i) in parts.into_values().flatten() {
            keep[g][i] = false;
        }
    }
}

/// Mixed into the seed for the caps, so they do not follow the shuffle.
const CAP_SALT: u64 = 0xca95_0f7a;

/// Mixed into the seed for the split, so the split is not the shuffle's prefix.
const SPLIT_SALT: u64 = 0x5eed_5b17;

/// Orders examples by a hash of the seed and their id: a shuffle that does not depend on
/// reading order.
fn order(examples: &mut [Example], seed: u64) {
    examples.sort_by_cached_key(|e| (rng::hash(seed, &e.id), e.id.clone()));
}

/// Where a record was read: errors and skipped records name it.
#[derive(Debug, Clone)]
enum At {
    /// Line of a JSONL file.
    Line(PathBuf, usize),
    /// Item of a seed source or example of the dataset: what it is (`components[2].seeds
    /// (dictionary)`), its position (1-based) and its id.
    Item(String, usize, String),
}

impl At {
    fn error(&self, message: impl Into<String>) -> Error {
        match self {
            At::Line(path, n) => Error::at_line(path, *n, message),
            At::Item(what, _, id) => Error::invalid(format!("{what}: item `{id}`"), message),
        }
    }

    fn skipped(&self, reason: String) -> SkippedRecord {
        match self {
            At::Line(path, n) => SkippedRecord {
                path: path.clone(),
                line: *n,
                reason,
            },
            At::Item(what, n, id) => SkippedRecord {
                path: PathBuf::from(what),
                line: *n,
                reason: format!("item `{id}`: {reason}"),
            },
        }
    }

    /// What makes the record's example id unique within its component.
    fn key(&self) -> String {
        match self {
            At::Line(_, n) => n.to_string(),
            At::Item(_, _, id) => id.clone(),
        }
    }

    fn seed_id(&self) -> String {
        match self {
            At::Line(path, n) => format!("{}:{n}", path.display()),
            At::Item(_, _, id) => id.clone(),
        }
    }
}

/// A component's records: the JSON objects its templates render, where each was read, and
/// the source and license it names (items and examples carry theirs).
struct Records {
    items: Vec<(At, Value)>,
    /// The source name when the component names none and the record does not either.
    default_source: String,
}

fn records(
    i: usize,
    c: &MixComponent,
    sources: &SourceContext,
    dataset: &[Example],
) -> Result<Records> {
    let base_dir = sources.base_dir.as_path();
    let what = format!("components[{i}]");
    if let Some(path) = &c.path {
        let path = base_dir.join(path);
        let file = std::fs::File::open(&path).with_path(&path)?;
        let mut items = Vec::new();
        for (i, line) in BufReader::new(file).lines().enumerate() {
            let n = i + 1;
            let line = line.with_path(&path)?;
            if line.trim().is_empty() {
                continue;
            }
            let record: Value = serde_json::from_str(&line)
                .map_err(|e| Error::at_line(&path, n, format!("not JSON: {e}")))?;
            if !record.is_object() {
                return Err(Error::at_line(&path, n, "expected a JSON object"));
            }
            items.push((At::Line(path.clone(), n), record));
        }
        let default_source = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        return Ok(Records {
            items,
            default_source,
        });
    }
    if let Some(SeedTable(source)) = &c.seeds {
        let what = format!("{what}.seeds ({})", source.name());
        let mut items = Vec::new();
        let stream = source
            .open(sources)
            .map_err(|e| Error::invalid(&what, e.to_string()))?;
        for (n, seed) in stream.enumerate() {
            let seed = seed.map_err(|e| Error::invalid(&what, e.to_string()))?;
            let id = seed.id().to_string();
            let value = serde_json::to_value(&seed).map_err(|e| Error::other(&what, e))?;
            items.push((At::Item(what.clone(), n + 1, id), value));
        }
        return Ok(Records {
            items,
            default_source: source.name(),
        });
    }
    let what = format!("{what}.dataset");
    let items = dataset
        .iter()
        .enumerate()
        .map(|(n, e)| {
            let value = serde_json::to_value(e).map_err(|err| Error::other(&what, err))?;
            Ok((At::Item(what.clone(), n + 1, e.id.clone()), value))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Records {
        items,
        default_source: "dataset".into(),
    })
}

/// The text a field of `record` names for `where` and for sources and licenses: a string, a
/// number, or nothing.
fn text_field(record: &Value, name: &str) -> Option<String> {
    match lookup(record, name)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The source or license a record names itself: an item's `provenance`, an example's field.
fn own_field(record: &Value, name: &str) -> Option<String> {
    text_field(record, &format!("provenance.{name}"))
        .or_else(|| text_field(record, name))
        .filter(|s| !s.is_empty())
}

fn render_component(
    c: &MixComponent,
    records: Records,
    stats: &mut MixStats,
) -> Result<Vec<Example>> {
    let instruction =
        Template::parse(&c.instruction).map_err(|m| Error::invalid("instruction", m))?;
    let output = Template::parse(&c.output).map_err(|m| Error::invalid("output", m))?;
    let input = c
        .input
        .as_deref()
        .map(Template::parse)
        .transpose()
        .map_err(|m| Error::invalid("input", m))?;
    let task = TaskKind::new(&c.category)?;
    let output_lang = c.lang.clone().unwrap_or_else(|| c.instruction_lang.clone());
    let mut examples = Vec::new();
    for (at, record) in records.items {
        if !c
            .only
            .iter()
            .all(|(field, value)| text_field(&record, field).as_deref() == Some(value.as_str()))
        {
            continue;
        }
        let source = c
            .source
            .clone()
            .or_else(|| own_field(&record, "source"))
            .unwrap_or_else(|| records.default_source.clone());
        let license = if c.license.is_empty() {
            own_field(&record, "license").unwrap_or_default()
        } else {
            c.license.clone()
        };
        // One record, or one per element of the `for_each` list.
        let expanded: Vec<(String, Value)> = match &c.for_each {
            None => vec![(at.key(), record)],
            Some(field) => match lookup(&record, field) {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(list)) => list
                    .iter()
                    .enumerate()
                    .map(|(k, item)| {
                        let mut r = record.clone();
                        if let Value::Object(map) = &mut r {
                            map.insert("item".into(), item.clone());
                        }
                        (format!("{}#{k}", at.key()), r)
                    })
                    .collect(),
                Some(other) => {
                    return Err(at.error(format!(
                        "for_each: field `{field}` is {}, not a list",
                        kind_of(other)
                    )));
                }
            },
        };
        for (key, record) in expanded {
            let mut missing = None;
            let mut render = |t: &Template| match t.render(&record) {
                Ok(text) => Ok(Some(text)),
                Err(RenderError::Missing(name)) if c.skip_missing => {
                    missing.get_or_insert(name);
                    Ok(None)
                }
                Err(e) => Err(at.error(e.to_string())),
            };
            let rendered_instruction = render(&instruction)?;
            let rendered_output = render(&output)?;
            let rendered_input = input.as_ref().map(&mut render).transpose()?.flatten();
            if let Some(name) = missing {
                stats
                    .skipped
                    .push(at.skipped(format!("missing field `{name}`")));
                continue;
            }
            let (Some(rendered_instruction), Some(rendered_output)) =
                (rendered_instruction, rendered_output)
            else {
                continue;
            };
            let empty =
                if instruction.is_empty_for(&record) || rendered_instruction.trim().is_empty() {
                    Some("empty instruction".to_string())
                } else if output.is_empty_for(&record) || rendered_output.trim().is_empty() {
                    Some("empty output".to_string())
                } else {
                    let texts = [&rendered_instruction, &rendered_output]
                        .into_iter()
                        .chain(rendered_input.as_ref());
                    texts
                        .flat_map(|t| c.skip_containing.iter().filter(|s| t.contains(s.as_str())))
                        .next()
                        .map(|s| format!("contains `{s}`"))
                };
            if let Some(reason) = empty {
                stats.skipped.push(at.skipped(reason));
                continue;
            }
            let id = rng::id(&format!("{}/{}/{key}", c.category, source));
            examples.push(Example {
                id,
                task: task.clone(),
                instruction: rendered_instruction,
                instruction_lang: c.instruction_lang.clone(),
                input: rendered_input.filter(|s| !s.trim().is_empty()),
                output: rendered_output,
                output_lang: output_lang.clone(),
                source: source.clone(),
                license: license.clone(),
                seed_id: at.seed_id(),
                generator: "mix".into(),
                template: c.category.clone(),
            });
        }
    }
    Ok(examples)
}

/// Why a template could not be rendered over a record.
#[derive(Debug)]
enum RenderError {
    /// The record has no such field.
    Missing(String),
    /// The field is not text (an object, a list of objects).
    NotText(String),
}

impl std::fmt::Display for RenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RenderError::Missing(name) => write!(f, "missing field `{name}`"),
            RenderError::NotText(message) => f.write_str(message),
        }
    }
}

/// A `{field}` template over a JSON record.
#[derive(Debug, Clone)]
struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Field(String),
}

impl Template {
    fn parse(text: &str) -> std::result::Result<Template, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    let mut closed = false;
                    for c in chars.by_ref() {
                        if c == '}' {
                            closed = true;
                            break;
                        }
                        name.push(c);
                    }
                    if !closed {
                        return Err(format!("unclosed placeholder {{{name}"));
                    }
                    if name.is_empty()
                        || !name
                            .chars()
                            .all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '.')
                    {
                        return Err(format!(
                            "bad placeholder {{{name}}}: use {{field}} for a field, {{{{ and }}}} for braces"
                        ));
                    }
                    if !literal.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Field(name));
                }
                '}' => return Err("unmatched }: write }} for a literal brace".into()),
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Template { parts })
    }

    /// Whether every field the template uses is empty or null in `record` (the template's
    /// own text does not make a record worth keeping).
    fn is_empty_for(&self, record: &Value) -> bool {
        let mut fields = self.parts.iter().filter_map(|p| match p {
            Part::Field(name) => Some(name),
            Part::Text(_) => None,
        });
        let mut any = false;
        let all_empty = fields.all(|name| {
            any = true;
            match lookup(record, name) {
                Some(Value::String(s)) => s.trim().is_empty(),
                Some(Value::Null) | None => true,
                Some(_) => false,
            }
        });
        any && all_empty
    }

    /// Renders over `record`; a dotted name reaches into nested objects (`meta.question`), a
    /// list of strings or numbers renders as `a, b, c`.
    fn render(&self, record: &Value) -> std::result::Result<String, RenderError> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Field(name) => {
                    let value =
                        lookup(record, name).ok_or_else(|| RenderError::Missing(name.clone()))?;
                    let not_text = |v: &Value| {
                        RenderError::NotText(format!("field `{name}` is {}, not text", kind_of(v)))
                    };
                    match value {
                        Value::String(s) => out.push_str(s),
                        Value::Number(n) => out.push_str(&n.to_string()),
                        Value::Null => {}
                        Value::Array(items) => {
                            let texts = items
                                .iter()
                                .map(|v| match v {
                                    Value::String(s) => Ok(s.clone()),
                                    Value::Number(n) => Ok(n.to_string()),
                                    other => Err(not_text(other)),
                                })
                                .collect::<std::result::Result<Vec<_>, _>>()?;
                            out.push_str(&texts.join(", "));
                        }
                        other => return Err(not_text(other)),
                    }
                }
            }
        }
        Ok(out)
    }
}

fn lookup<'a>(record: &'a Value, name: &str) -> Option<&'a Value> {
    name.split('.').try_fold(record, |v, key| v.get(key))
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(i: usize, task: &str, source: &str) -> Example {
        Example {
            id: format!("{task}-{source}-{i}"),
            task: TaskKind::new(task).unwrap(),
            instruction: format!("Translate {i}"),
            instruction_lang: Lang::EN,
            input: None,
            output: format!("Iwwersetzung {i}"),
            output_lang: Lang::LB,
            source: source.into(),
            license: String::new(),
            seed_id: String::new(),
            generator: "test".into(),
            template: String::new(),
        }
    }

    #[test]
    fn weights_repeat_training_examples_only() {
        let dataset: Vec<Example> = (0..40)
            .map(|i| example(i, "paraphrase", if i < 10 { "small" } else { "big" }))
            .collect();
        let config: MixConfig = toml::from_str(
            "validation_ratio = 0.25\nweight_per_source = { small = 3.0, big = 0.5 }\n",
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let m = mix_with(
            &config,
            &SourceContext::new(dir.path()).with_native(Lang::LB),
            dataset,
        )
        .unwrap();
        assert_eq!(m.validation.len(), 10);
        let small_val = m.validation.iter().filter(|e| e.source == "small").count();
        let small_train = m.train.iter().filter(|e| e.source == "small").count();
        assert_eq!(small_train, 3 * (10 - small_val));
        let big_train = m.train.iter().filter(|e| e.source == "big").count();
        let big_held = 30 - m.validation.iter().filter(|e| e.source == "big").count();
        assert!(
            big_train < big_held && big_train > 0,
            "{big_train} of {big_held}"
        );
        let ids: std::collections::BTreeSet<&str> = m.train.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids.len(), m.train.len(), "copies get ids of their own");
        assert_eq!(m.stats.train.values().sum::<usize>(), m.train.len());
    }

    #[test]
    fn caps_per_task_and_source_bound_the_dataset_and_are_counted() {
        let mut dataset = Vec::new();
        for i in 0..100 {
            dataset.push(example(i, "word_translation", "cldr"));
        }
        for i in 0..10 {
            dataset.push(example(i, "word_translation", "dictionary"));
        }
        for i in 0..30 {
            dataset.push(example(i, "sentence_translation", "cldr"));
        }
        let config: MixConfig = toml::from_str(
            "validation_ratio = 0.1\nmax_per_task = { word_translation = 35 }\n\
             max_per_source = { \"*\" = 60 }\n",
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let m = mix_with(
            &config,
            &SourceContext::new(dir.path()).with_native(Lang::LB),
            dataset.clone(),
        )
        .unwrap();
        let all: Vec<&Example> = m.train.iter().chain(&m.validation).collect();
        let n = |f: &dyn Fn(&Example) -> bool| all.iter().filter(|e| f(e)).count();
        let words = |e: &Example| e.task.to_string() == "word_translation";
        assert_eq!(n(&words), 35);
        // The source cap took cldr's tasks in turn (30 and 30), then the task cap took the
        // sources in turn: the small dictionary keeps its 10 words, cldr gives up the rest.
        assert_eq!(n(&|e| e.source == "cldr" && !words(e)), 30);
        assert_eq!(n(&|e| e.source == "dictionary"), 10);
        assert_eq!(n(&|e| e.source == "cldr"), 55);
        let capped: usize = m.stats.capped.values().sum();
        assert_eq!(all.len() + capped, dataset.len());
        assert_eq!(
            m.validation.len(),
            m.stats.validation.values().sum::<usize>()
        );
        // The same seed keeps the same examples, whatever the input order.
        dataset.reverse();
        let again = mix_with(
            &config,
            &SourceContext::new(dir.path()).with_native(Lang::LB),
            dataset,
        )
        .unwrap();
        assert_eq!(
            again.train.iter().map(|e| &e.id).collect::<Vec<_>>(),
            m.train.iter().map(|e| &e.id).collect::<Vec<_>>()
        );
    }

    fn write(dir: &Path, name: &str, lines: &[&str]) {
        std::fs::write(dir.join(name), lines.join("\n") + "\n").unwrap();
    }

    fn config(validation_ratio: f64) -> MixConfig {
        toml::from_str(&format!(
            r#"
seed = 7
validation_ratio = {validation_ratio}

[[components]]
category = "luxembourgish"
path = "alpaca.jsonl"
instruction = "{{instruction}}"
input = "{{input}}"
output = "{{output}}"
lang = "lb"
instruction_lang = "lb"
license = "CC-BY-NC-4.0"

[[components]]
category = "math_reasoning"
path = "math.jsonl"
instruction = "Solve step by step:\n\n{{problem}}"
output = "{{solution}}"
max_examples = 6
"#
        ))
        .unwrap()
    }

    fn files(dir: &Path) {
        let alpaca: Vec<String> = (0..20)
            .map(|i| {
                serde_json::json!({
                    "instruction": format!("Iwwersetz d'Wuert {i}"),
                    "input": if i % 2 == 0 { format!("Wuert {i}") } else { String::new() },
                    "output": format!("Äntwert {i}")
                })
                .to_string()
            })
            .collect();
        let alpaca: Vec<&str> = alpaca.iter().map(String::as_str).collect();
        write(dir, "alpaca.jsonl", &alpaca);
        let math: Vec<String> = (0..10)
            .map(|i| {
                serde_json::json!({ "problem": format!("{i} + {i}?"), "solution": i * 2 })
                    .to_string()
            })
            .collect();
        let mut math: Vec<&str> = math.iter().map(String::as_str).collect();
        math.push(r#"{"problem": "", "solution": "1"}"#);
        write(dir, "math.jsonl", &math);
    }

    #[test]
    fn renders_caps_splits_and_is_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        files(dir.path());
        let mixed = mix(&config(0.2), dir.path()).unwrap();
        let s = &mixed.stats;
        assert_eq!(s.read["luxembourgish"], 20);
        assert_eq!(s.read["math_reasoning"], 10);
        assert_eq!(s.capped["math_reasoning"], 4);
        assert_eq!(s.validation["luxembourgish"], 4);
        assert_eq!(s.validation["math_reasoning"], 1);
        assert_eq!(mixed.train.len() + mixed.validation.len(), 26);
        assert_eq!(s.skipped.len(), 1);
        assert_eq!(s.skipped[0].line, 11);

        let math = mixed
            .train
            .iter()
            .find(|e| e.task.as_str() == "math_reasoning")
            .unwrap();
        assert!(math.instruction.starts_with("Solve step by step:\n\n"));
        assert!(math.output.parse::<u32>().is_ok(), "numbers render as text");
        let with_input = mixed.train.iter().filter(|e| e.input.is_some()).count()
            + mixed
                .validation
                .iter()
                .filter(|e| e.input.is_some())
                .count();
        assert_eq!(with_input, 10, "empty inputs become none");

        // Same seed, same mix; categories are interleaved, not concatenated.
        let again = mix(&config(0.2), dir.path()).unwrap();
        assert_eq!(again.train, mixed.train);
        let first_six: Vec<&str> = mixed.train[..8].iter().map(|e| e.task.as_str()).collect();
        assert!(first_six.contains(&"math_reasoning") && first_six.contains(&"luxembourgish"));

        // No example is in both splits.
        let train: std::collections::HashSet<&str> =
            mixed.train.iter().map(|e| e.id.as_str()).collect();
        assert!(
            mixed
                .validation
                .iter()
                .all(|e| !train.contains(e.id.as_str()))
        );

        mixed.write(dir.path().join("out")).unwrap();
        let lines = std::fs::read_to_string(dir.path().join("out/train.jsonl")).unwrap();
        assert_eq!(lines.lines().count(), mixed.train.len());
    }

    #[test]
    fn components_read_seed_sources_and_the_dataset_with_dotted_fields() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "parallel.jsonl",
            &[
                r#"{"id": "a", "texts": {"lb": "Moien", "en": "Hello"}, "provenance": {"source": "cldr", "license": "Unicode-3.0"}}"#,
                r#"{"id": "b", "texts": {"lb": "Äddi", "fr": "Adieu"}, "provenance": {"source": "cldr", "license": "Unicode-3.0"}}"#,
                r#"{"id": "c", "texts": {"lb": "{count} Fichieren", "en": "{count} files"}, "provenance": {"source": "twiki", "license": "CC-BY"}}"#,
            ],
        );
        write(
            dir.path(),
            "dictionary.jsonl",
            &[
                r#"{"headword": "Haus", "translations": {"en": ["house", "home"]}, "examples": ["Mir wunnen an engem Haus.", "D'Haus ass al."]}"#,
                r#"{"headword": "Bam", "translations": {"de": ["Baum"]}}"#,
            ],
        );
        let dataset = vec![
            example(0, "word_translation", "cldr"),
            Example {
                instruction_lang: Lang::new("fr").unwrap(),
                ..example(1, "word_translation", "cldr")
            },
        ];
        let config: MixConfig = toml::from_str(
            r#"
validation_ratio = 0.0

[[components]]
category = "translation_en_lb"
seeds = { type = "parallel_jsonl", path = "parallel.jsonl" }
instruction = "Translate into Luxembourgish."
input = "{texts.en}"
output = "{texts.lb}"
lang = "lb"
skip_missing = true
skip_containing = ["{"]

[[components]]
category = "dictionary"
seeds = { type = "dictionary", path = "dictionary.jsonl", license = "CC0-1.0" }
instruction = "What does «{headword}» mean?"
output = "{translations.en}"
skip_missing = true

[[components]]
category = "dictionary_usage"
seeds = { type = "dictionary", path = "dictionary.jsonl" }
for_each = "examples"
instruction = "Use «{headword}» in a sentence."
output = "{item}"
instruction_lang = "lb"

[[components]]
category = "luxinstruct"
dataset = true
where = { instruction_lang = "fr" }
instruction = "{instruction}"
output = "{output}"
instruction_lang = "fr"
lang = "lb"
"#,
        )
        .unwrap();
        let m = mix_with(
            &config,
            &SourceContext::new(dir.path()).with_native(Lang::LB),
            dataset,
        )
        .unwrap();
        let by = |task: &str| -> Vec<&Example> {
            m.train.iter().filter(|e| e.task.as_str() == task).collect()
        };
        let translation = by("translation_en_lb");
        assert_eq!(
            translation.len(),
            1,
            "no English text, and a placeholder: skipped"
        );
        assert_eq!(translation[0].input.as_deref(), Some("Hello"));
        assert_eq!(translation[0].output, "Moien");
        assert_eq!(translation[0].source, "cldr", "the item's own source");
        assert_eq!(translation[0].license, "Unicode-3.0");
        let reasons: Vec<&str> = m.stats.skipped.iter().map(|s| s.reason.as_str()).collect();
        assert!(
            reasons
                .iter()
                .any(|r| r.contains("item `b`") && r.contains("texts.en")),
            "{reasons:?}"
        );
        assert!(
            reasons.iter().any(|r| r.contains("contains `{`")),
            "{reasons:?}"
        );

        let dictionary = by("dictionary");
        assert_eq!(dictionary.len(), 1);
        assert_eq!(dictionary[0].output, "house, home", "a list renders joined");
        assert_eq!(dictionary[0].license, "CC0-1.0");

        let usage = by("dictionary_usage");
        assert_eq!(
            usage.len(),
            2,
            "one example per phrase; none for an entry without"
        );
        assert!(usage.iter().any(|e| e.output == "D'Haus ass al."));

        // The dataset enters only through its component: the French example, templated.
        let instruct = by("luxinstruct");
        assert_eq!(instruct.len(), 1);
        assert_eq!(instruct[0].instruction, "Translate 1");
        assert!(by("word_translation").is_empty());
        assert_eq!(m.train.len(), 5);
    }

    #[test]
    fn a_component_names_exactly_one_origin_and_errors_name_the_item() {
        let dir = tempfile::tempdir().unwrap();
        files(dir.path());
        let mut both = config(0.1);
        both.components[0].dataset = true;
        let err = mix(&both, dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("components[0].path") && err.contains("exactly one"),
            "{err}"
        );

        let mut none = config(0.1);
        none.components[1].path = None;
        assert!(
            mix(&none, dir.path())
                .unwrap_err()
                .to_string()
                .contains("components[1].path")
        );

        // Without skip_missing, a missing field of an item is an error naming it.
        let config: MixConfig = toml::from_str(
            r#"
[[components]]
category = "t"
dataset = true
instruction = "{instruction}"
output = "{nothing}"
"#,
        )
        .unwrap();
        let err = mix_with(
            &config,
            &SourceContext::new(dir.path()).with_native(Lang::LB),
            vec![example(3, "t", "s")],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("components[0].dataset")
                && err.contains("t-s-3")
                && err.contains("missing field `nothing`"),
            "{err}"
        );
    }

    #[test]
    fn errors_name_the_file_line_and_field() {
        let dir = tempfile::tempdir().unwrap();
        files(dir.path());
        write(
            dir.path(),
            "math.jsonl",
            &[
                r#"{"problem": "1+1", "solution": "2"}"#,
                r#"{"problem": "2+2"}"#,
            ],
        );
        let err = mix(&config(0.1), dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("math.jsonl") && err.contains("line 2"),
            "{err}"
        );
        assert!(err.contains("missing field `solution`"), "{err}");

        write(dir.path(), "math.jsonl", &["[1, 2]"]);
        let err = mix(&config(0.1), dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("line 1") && err.contains("JSON object"),
            "{err}"
        );

        let mut bad = config(0.1);
        bad.components[1].output = "{solution".into();
        let err = mix(&bad, dir.path()).unwrap_err().to_string();
        assert!(err.contains("components[1].output"), "{err}");

        let mut bad = config(1.5);
        bad.validation_ratio = 1.5;
        assert!(
            mix(&bad, dir.path())
                .unwrap_err()
                .to_string()
                .contains("validation_ratio")
        );
    }
}
