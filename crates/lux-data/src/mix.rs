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
//! Choices are deterministic: records are ordered by a hash of the mix seed and their id, so
//! the same files and seed give the same mix, and adding a component does not reshuffle the
//! others' validation split (a record's side depends only on its own id).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use lux_core::{Error, Example, IoContext, Lang, Result, TaskKind, fs, rng};
use serde::{Deserialize, Serialize};
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
    /// `category`); the key `"*"` caps every task not named. Which examples stay is chosen
    /// by the seed. Default: no cap.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub max_per_task: BTreeMap<String, usize>,
    /// At most this many examples per source (`cldr`, `translatewiki`, `dictionary`…), so that
    /// one catalogue cannot dominate the dataset; `"*"` caps every source not named.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub max_per_source: BTreeMap<String, usize>,
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
        }
    }
}

fn default_validation_ratio() -> f64 {
    0.05
}

/// One dataset of a mix: a JSONL file (one object per line) and how to render its records.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MixComponent {
    /// The category (`luxembourgish`, `math_reasoning`): becomes the examples' `task`.
    pub category: String,
    /// The JSONL file, relative to the mix's base directory.
    pub path: PathBuf,
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
    /// Short source name for the examples. Default: the file stem.
    #[serde(default)]
    pub source: Option<String>,
    /// The dataset's license, carried into every example.
    #[serde(default)]
    pub license: String,
}

fn default_lang() -> Lang {
    Lang::EN
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

        for (i, c) in self.components.iter().enumerate() {
            let key = |k: &str| format!("components[{i}].{k}");
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
    mix_with(config, base_dir, Vec::new())
}

/// [`mix`] with a dataset of ready examples besides the components (the data stage's
/// `dataset.jsonl`): each of its tasks is a category. The caps (`max_per_task`,
/// `max_per_source`) apply to everything, then each category is split.
pub fn mix_with(config: &MixConfig, base_dir: &Path, dataset: Vec<Example>) -> Result<MixedDataset> {
    config.validate()?;
    if config.components.is_empty() && dataset.is_empty() {
        return Err(Error::invalid(
            "mix",
            "nothing to mix: no components and an empty dataset",
        ));
    }
    let mut out = MixedDataset::default();
    let mut groups: Vec<(String, Vec<Example>)> = Vec::new();
    for component in &config.components {
        let path = base_dir.join(&component.path);
        let mut examples = read_component(component, &path, &mut out.stats)?;
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
                *out.stats.train.entry(category.clone()).or_default() += 1;
                out.train.push(e);
            }
        }
    }
    order(&mut out.train, config.seed);
    order(&mut out.validation, config.seed);
    Ok(out)
}

/// Applies `max_per_task` and `max_per_source` over all groups: examples are visited in the
/// seed's order and dropped once their task's or source's count is full.
fn cap(groups: &mut [(String, Vec<Example>)], config: &MixConfig, stats: &mut MixStats) {
    if config.max_per_task.is_empty() && config.max_per_source.is_empty() {
        return;
    }
    let limit = |caps: &BTreeMap<String, usize>, key: &str| {
        caps.get(key).or_else(|| caps.get("*")).copied()
    };
    let mut all: Vec<(u64, String, usize, usize)> = Vec::new();
    for (g, (_, examples)) in groups.iter().enumerate() {
        for (i, e) in examples.iter().enumerate() {
            all.push((rng::hash(config.seed ^ CAP_SALT, &e.id), e.id.clone(), g, i));
        }
    }
    all.sort();
    let mut per_task: BTreeMap<String, usize> = BTreeMap::new();
    let mut per_source: BTreeMap<String, usize> = BTreeMap::new();
    let mut keep: Vec<Vec<bool>> = groups.iter().map(|(_, ex)| vec![false; ex.len()]).collect();
    for (_, _, g, i) in all {
        let e = &groups[g].1[i];
        let task = e.task.to_string();
        let t = per_task.entry(task.clone()).or_default();
        let s = per_source.entry(e.source.clone()).or_default();
        let full = limit(&config.max_per_task, &task).is_some_and(|m| *t >= m)
            || limit(&config.max_per_source, &e.source).is_some_and(|m| *s >= m);
        if !full {
            *t += 1;
            *s += 1;
            keep[g][i] = true;
        }
    }
    for ((category, examples), keep) in groups.iter_mut().zip(keep) {
        let before = examples.len();
        let mut flags = keep.into_iter();
        examples.retain(|_| flags.next().unwrap_or(false));
        if examples.len() < before {
            *stats.capped.entry(category.clone()).or_default() += before - examples.len();
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

fn read_component(c: &MixComponent, path: &Path, stats: &mut MixStats) -> Result<Vec<Example>> {
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
    let source = c.source.clone().unwrap_or_else(|| {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    let output_lang = c.lang.clone().unwrap_or_else(|| c.instruction_lang.clone());
    let file = std::fs::File::open(path).with_path(path)?;
    let mut examples = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let n = i + 1;
        let line = line.with_path(path)?;
        if line.trim().is_empty() {
            continue;
        }
        let record: Value = serde_json::from_str(&line)
            .map_err(|e| Error::at_line(path, n, format!("not JSON: {e}")))?;
        if !record.is_object() {
            return Err(Error::at_line(path, n, "expected a JSON object"));
        }
        let render = |t: &Template| t.render(&record).map_err(|m| Error::at_line(path, n, m));
        let rendered_instruction = render(&instruction)?;
        let rendered_output = render(&output)?;
        let rendered_input = input.as_ref().map(render).transpose()?;
        let empty = if instruction.is_empty_for(&record) || rendered_instruction.trim().is_empty() {
            Some("instruction")
        } else if output.is_empty_for(&record) || rendered_output.trim().is_empty() {
            Some("output")
        } else {
            None
        };
        if let Some(what) = empty {
            stats.skipped.push(SkippedRecord {
                path: path.to_path_buf(),
                line: n,
                reason: format!("empty {what}"),
            });
            continue;
        }
        let id = rng::id(&format!("{}/{}/{n}", c.category, source));
        examples.push(Example {
            id: id.clone(),
            task: task.clone(),
            instruction: rendered_instruction,
            instruction_lang: c.instruction_lang.clone(),
            input: rendered_input.filter(|s| !s.trim().is_empty()),
            output: rendered_output,
            output_lang: output_lang.clone(),
            source: source.clone(),
            license: c.license.clone(),
            seed_id: format!("{}:{n}", path.display()),
            generator: "mix".into(),
            template: c.category.clone(),
        });
    }
    Ok(examples)
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

    /// Renders over `record`; a dotted name reaches into nested objects (`meta.question`).
    fn render(&self, record: &Value) -> std::result::Result<String, String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Field(name) => {
                    let value =
                        lookup(record, name).ok_or_else(|| format!("missing field `{name}`"))?;
                    match value {
                        Value::String(s) => out.push_str(s),
                        Value::Number(n) => out.push_str(&n.to_string()),
                        Value::Null => {}
                        other => {
                            return Err(format!("field `{name}` is {}, not text", kind_of(other)));
                        }
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
    fn caps_per_task_and_source_bound_the_dataset_and_are_counted() {
        let mut dataset = Vec::new();
        for i in 0..100 {
            dataset.push(example(i, "word_translation", "cldr"));
        }
        for i in 0..30 {
            dataset.push(example(i, "word_translation", "dictionary"));
            dataset.push(example(i, "sentence_translation", "cldr"));
        }
        let config: MixConfig = toml::from_str(
            "validation_ratio = 0.1\nmax_per_task = { word_translation = 50 }\n\
             max_per_source = { \"*\" = 60 }\n",
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let m = mix_with(&config, dir.path(), dataset.clone()).unwrap();
        let all: Vec<&Example> = m.train.iter().chain(&m.validation).collect();
        let n = |f: &dyn Fn(&Example) -> bool| all.iter().filter(|e| f(e)).count();
        assert_eq!(n(&|e| e.task.to_string() == "word_translation"), 50);
        assert!(n(&|e| e.source == "cldr") <= 60);
        assert!(n(&|e| e.source == "cldr") > 30, "sentences and words share the cap");
        let capped: usize = m.stats.capped.values().sum();
        assert_eq!(all.len() + capped, dataset.len());
        assert_eq!(m.validation.len(), m.stats.validation.values().sum::<usize>());
        // The same seed keeps the same examples, whatever the input order.
        dataset.reverse();
        let again = mix_with(&config, dir.path(), dataset).unwrap();
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
