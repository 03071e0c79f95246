//! [`QuestionGenerator`]: an LLM writes the benchmark, cell by cell (category × difficulty).

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use lux_core::json_answer::parse_object;
use lux_core::{
    ChatMessage, ChatRequest, Error, IoContext, LlmClient, PromptTemplate, Result, rng,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{BenchmarkItem, DEFAULT_CATEGORIES, DEFAULT_DIFFICULTIES};
use crate::text::excerpt;

/// Settings of a [`QuestionGenerator`]:
///
/// ```toml
/// [luxella.generate]
/// llm = { type = "openai", base_url = "...", model = "gemini-2.0-flash" }
/// questions_per_cell = 5
/// categories = ["vocabulary", "grammar"]   # default: the 16 of the LuxLlama card
/// ```
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuestionGeneratorConfig {
    /// The model writing questions.
    pub llm: Box<dyn LlmClient>,
    /// The language tested. Default `Luxembourgish`.
    #[serde(default = "default_language")]
    pub language: String,
    /// Categories; default [`DEFAULT_CATEGORIES`].
    #[serde(default = "default_categories")]
    pub categories: Vec<String>,
    /// Difficulty levels; default [`DEFAULT_DIFFICULTIES`].
    #[serde(default = "default_difficulties")]
    pub difficulties: Vec<String>,
    /// Topics drawn per request by seed. Empty (the default): the `luxella` stage fills in
    /// its native language's row of the topics table ([`super::default_topics`]); a generator
    /// built directly uses the table's everyday `*` row.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topics: Vec<String>,
    /// Questions per (category, difficulty) cell. Default 5.
    #[serde(default = "default_per_cell")]
    pub questions_per_cell: usize,
    /// Requests per cell before the cell is recorded as failed. Default 3.
    #[serde(default = "default_attempts")]
    pub attempts: u32,
    /// Seed for topic choice and request seeds. Default 0.
    #[serde(default)]
    pub seed: u64,
    /// Sampling temperature. Default 0.9 (varied questions).
    #[serde(default = "default_temperature")]
    pub temperature: f32,
    /// Completion limit per request. Default 2048.
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u32,
    /// A file replacing the built-in prompt (`prompts/luxella.generate.txt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<PathBuf>,
}

fn default_language() -> String {
    "Luxembourgish".into()
}
fn default_categories() -> Vec<String> {
    DEFAULT_CATEGORIES.iter().map(|s| s.to_string()).collect()
}
fn default_difficulties() -> Vec<String> {
    DEFAULT_DIFFICULTIES.iter().map(|s| s.to_string()).collect()
}
fn default_per_cell() -> usize {
    5
}
fn default_attempts() -> u32 {
    3
}
fn default_temperature() -> f32 {
    0.9
}
fn default_max_tokens() -> u32 {
    2048
}

impl QuestionGeneratorConfig {
    /// Settings with the defaults above, around `llm`.
    pub fn new(llm: Box<dyn LlmClient>) -> QuestionGeneratorConfig {
        QuestionGeneratorConfig {
            llm,
            language: default_language(),
            categories: default_categories(),
            difficulties: default_difficulties(),
            topics: Vec::new(),
            questions_per_cell: default_per_cell(),
            attempts: default_attempts(),
            seed: 0,
            temperature: default_temperature(),
            max_tokens: default_max_tokens(),
            prompt: None,
        }
    }
}

/// A cell that ended with fewer questions than asked for, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellFailure {
    /// The category.
    pub category: String,
    /// The difficulty.
    pub difficulty: String,
    /// Questions wanted in the cell.
    pub wanted: usize,
    /// Questions it has.
    pub got: usize,
    /// One line per failed request or rejected question.
    pub errors: Vec<String>,
}

/// What a [`QuestionGenerator::generate`] run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GenerationSummary {
    /// Questions in the file after the run.
    pub total: usize,
    /// Questions written by this run.
    pub generated: usize,
    /// Cells already complete in the file, not asked again.
    pub skipped_cells: usize,
    /// Questions dropped as duplicates (normalised text) of earlier ones.
    pub duplicates: usize,
    /// Questions dropped for breaking the schema (missing field, wrong cell).
    pub invalid: usize,
    /// Requests made.
    pub requests: usize,
    /// Cells left short.
    pub failures: Vec<CellFailure>,
}

/// Writes a LUXELLA-style benchmark with an LLM; see the [module documentation](super).
pub struct QuestionGenerator {
    config: QuestionGeneratorConfig,
    prompt: PromptTemplate,
}

impl fmt::Debug for QuestionGenerator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QuestionGenerator")
            .field("config", &self.config)
            .field("prompt", &self.prompt.origin())
            .finish()
    }
}

/// `text` lower-cased, punctuation and symbols removed, whitespace runs made one space:
/// "What is 'house'?" and "what is house" are the same question.
pub fn normalize_question(text: &str) -> String {
    let kept: String = text
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    kept.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Reads a benchmark JSONL file; an error names the file and line.
pub fn read_benchmark(path: impl AsRef<Path>) -> Result<Vec<BenchmarkItem>> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).with_path(path)?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let item: BenchmarkItem = serde_json::from_str(line)
            .map_err(|e| Error::at_line(path, i + 1, format!("not a benchmark item: {e}")))?;
        out.push(item);
    }
    Ok(out)
}

impl QuestionGenerator {
    /// The built-in prompt.
    pub const PROMPT: &str = include_str!("../../prompts/luxella.generate.txt");
    /// Placeholders the prompt may use.
    pub const PLACEHOLDERS: &[&str] = &["language", "count", "category", "difficulty", "topic"];

    /// A generator of these settings: checks them and loads the prompt.
    pub fn new(mut config: QuestionGeneratorConfig) -> Result<QuestionGenerator> {
        if config.topics.is_empty() {
            config.topics = super::everyday_topics();
        }
        for (key, list) in [
            ("luxella.categories", &config.categories),
            ("luxella.difficulties", &config.difficulties),
            ("luxella.topics", &config.topics),
        ] {
            if list.is_empty() || list.iter().any(|s| s.trim().is_empty()) {
                return Err(Error::invalid(
                    key,
                    "must be a non-empty list of non-empty names",
                ));
            }
        }
        if config.questions_per_cell == 0 || config.attempts == 0 {
            return Err(Error::invalid(
                "luxella.questions_per_cell / attempts",
                "must be at least 1",
            ));
        }
        let prompt = PromptTemplate::load_or(
            config.prompt.as_deref(),
            "luxella.generate (built in)",
            Self::PROMPT,
            Self::PLACEHOLDERS,
        )?;
        Ok(QuestionGenerator { config, prompt })
    }

    /// The settings.
    pub fn config(&self) -> &QuestionGeneratorConfig {
        &self.config
    }

    /// The JSON schema a request's answer must follow.
    ///
    /// `count` bounds the array and the strings must not be empty, so a server or local model
    /// that enforces schemas cannot spend its tokens on extra questions or write blank ones.
    pub fn schema(&self, category: &str, difficulty: &str, count: usize) -> Value {
        json!({
            "type": "object",
            "properties": {
                "questions": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": count.max(1),
                    "items": {
                        "type": "object",
                        "properties": {
                            "question": { "type": "string", "minLength": 1 },
                            "reference_answer": { "type": "string", "minLength": 1 },
                            "category": { "type": "string", "enum": [category] },
                            "difficulty": { "type": "string", "enum": [difficulty] },
                            "topic": { "type": "string" }
                        },
                        "required": ["question", "reference_answer", "category", "difficulty", "topic"],
                        "additionalProperties": false
                    }
                }
            },
            "required": ["questions"],
            "additionalProperties": false
        })
    }

    /// The topic of request `attempt` for a cell: drawn by seed, so reruns ask the same.
    pub fn topic(&self, category: &str, difficulty: &str, attempt: u32) -> &str {
        let key = format!("{category}|{difficulty}|{attempt}");
        &self.config.topics[rng::pick(self.config.seed, &key, self.config.topics.len())]
    }

    /// The request for `count` questions of a cell about `topic`.
    pub fn request(
        &self,
        category: &str,
        difficulty: &str,
        topic: &str,
        count: usize,
        attempt: u32,
    ) -> Result<ChatRequest> {
        let schema = self.schema(category, difficulty, count);
        let count = count.to_string();
        let vars: [(&str, &str); 5] = [
            ("language", &self.config.language),
            ("count", &count),
            ("category", category),
            ("difficulty", difficulty),
            ("topic", topic),
        ];
        let mut req = ChatRequest::new(vec![ChatMessage::user(self.prompt.render(&vars)?)]);
        req.temperature = Some(self.config.temperature);
        req.max_tokens = Some(self.config.max_tokens);
        req.seed = Some(rng::hash(
            self.config.seed,
            &format!("{category}|{difficulty}|{attempt}"),
        ));
        req.json_schema = Some(schema);
        Ok(req)
    }

    /// Reads one answer into items of the cell; rejected entries are returned as reasons.
    fn read_answer(
        &self,
        answer: &str,
        category: &str,
        difficulty: &str,
    ) -> std::result::Result<(Vec<BenchmarkItem>, Vec<String>), String> {
        let obj = parse_object(answer)?;
        let list = match obj.get("questions") {
            Some(Value::Array(a)) => a,
            Some(_) => return Err("schema: questions is not an array".into()),
            None => return Err("schema: missing field questions".into()),
        };
        let mut items = Vec::new();
        let mut rejected = Vec::new();
        for (i, q) in list.iter().enumerate() {
            let field = |name: &str| -> std::result::Result<String, String> {
                match q.get(name) {
                    Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
                    Some(Value::String(_)) => Err(format!("question {i}: field {name} is empty")),
                    Some(_) => Err(format!("question {i}: field {name} is not a string")),
                    None => Err(format!("question {i}: missing field {name}")),
                }
            };
            let read = || -> std::result::Result<BenchmarkItem, String> {
                let question = field("question")?;
                let got_cat = field("category")?;
                let got_diff = field("difficulty")?;
                if !got_cat.eq_ignore_ascii_case(category)
                    || !got_diff.eq_ignore_ascii_case(difficulty)
                {
                    return Err(format!(
                        "question {i}: is {got_cat}/{got_diff}, asked for {category}/{difficulty}"
                    ));
                }
                Ok(BenchmarkItem {
                    id: rng::id(&normalize_question(&question)),
                    category: category.to_string(),
                    difficulty: difficulty.to_string(),
                    topic: field("topic")?,
                    reference_answer: field("reference_answer")?,
                    question,
                })
            };
            match read() {
                Ok(item) => items.push(item),
                Err(e) => rejected.push(e),
            }
        }
        Ok((items, rejected))
    }

    /// Fills the benchmark file at `path`: cells already complete there are skipped, short
    /// ones topped up, and the file is rewritten (atomically) after every cell, so an
    /// interrupted run resumes where it stopped. Cells run in order, one at a time, so the
    /// same seed and answers give the same file.
    pub async fn generate(&self, path: impl AsRef<Path>) -> Result<GenerationSummary> {
        let path = path.as_ref();
        let mut items = if path.exists() {
            read_benchmark(path)?
        } else {
            Vec::new()
        };
        let mut seen: HashSet<String> = items
            .iter()
            .map(|i| normalize_question(&i.question))
            .collect();
        let mut per_cell: BTreeMap<(String, String), usize> = BTreeMap::new();
        for it in &items {
            *per_cell
                .entry((it.category.clone(), it.difficulty.clone()))
                .or_default() += 1;
        }
        let mut summary = GenerationSummary::default();
        let want = self.config.questions_per_cell;
        for category in &self.config.categories {
            for difficulty in &self.config.difficulties {
                let have = per_cell
                    .get(&(category.clone(), difficulty.clone()))
                    .copied()
                    .unwrap_or(0);
                if have >= want {
                    summary.skipped_cells += 1;
                    continue;
                }
                let mut got = have;
                let mut errors = Vec::new();
                for attempt in 0..self.config.attempts {
                    if got >= want {
                        break;
                    }
                    let topic = self.topic(category, difficulty, attempt).to_string();
                    let req = self.request(category, difficulty, &topic, want - got, attempt)?;
                    summary.requests += 1;
                    let answer = match self.config.llm.chat(&req).await {
                        Ok(r) => r.choices.into_iter().next().map(|c| c.content),
                        Err(e) => {
                            errors.push(format!("request {attempt}: {e}"));
                            continue;
                        }
                    };
                    let answer = answer.unwrap_or_default();
                    match self.read_answer(&answer, category, difficulty) {
                        Err(why) => errors.push(format!(
                            "request {attempt}: {why}: \"{}\"",
                            excerpt(answer.trim(), 160)
                        )),
                        Ok((new, rejected)) => {
                            summary.invalid += rejected.len();
                            errors.extend(
                                rejected
                                    .into_iter()
                                    .map(|r| format!("request {attempt}: {r}")),
                            );
                            for it in new {
                                if got >= want {
                                    break;
                                }
                                if !seen.insert(normalize_question(&it.question)) {
                                    summary.duplicates += 1;
                                    continue;
                                }
                                items.push(it);
                                got += 1;
                                summary.generated += 1;
                            }
                        }
                    }
                }
                if got < want {
                    tracing::warn!(%category, %difficulty, got, want, "LUXELLA cell left short");
                    summary.failures.push(CellFailure {
                        category: category.clone(),
                        difficulty: difficulty.clone(),
                        wanted: want,
                        got,
                        errors,
                    });
                }
                if got > have {
                    lux_core::fs::write_jsonl_atomic(path, &items)?;
                }
            }
        }
        summary.total = items.len();
        Ok(summary)
    }
}
