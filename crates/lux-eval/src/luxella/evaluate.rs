//! [`Luxella`]: models answer the benchmark, a judge scores the answers, [`LuxellaReport`]
//! tabulates them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use futures::StreamExt;
use lux_core::{
    ChatMessage, ChatRequest, Criteria, Error, Judge, JudgeRequest, LlmClient, PromptTemplate,
    Result, ScoreMethod, ScoreScale,
};
use serde::{Deserialize, Serialize};

use super::BenchmarkItem;

/// Settings of a [`Luxella`] run:
///
/// ```toml
/// [luxella.evaluate]
/// judge = { type = "llm_judge", llm = { type = "openai", base_url = "...", model = "..." } }
/// concurrency = 4
/// ```
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LuxellaConfig {
    /// The judge scoring answers 1–5 (a 1–5 judge with a reason, as on the LuxLlama card).
    pub judge: Box<dyn Judge>,
    /// The language tested. Default `Luxembourgish`.
    #[serde(default = "default_language")]
    pub language: String,
    /// A file replacing the built-in criterion description (`prompts/luxella.judge.txt`,
    /// placeholder `{language}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub criterion: Option<PathBuf>,
    /// A system prompt for the answering models; none by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_prompt: Option<String>,
    /// Completion limit of an answer. Default 512.
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u32,
    /// Sampling temperature of an answer. Default 0.
    #[serde(default)]
    pub temperature: f32,
    /// Items answered and judged at once. Default 4.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
}

fn default_language() -> String {
    "Luxembourgish".into()
}
fn default_max_tokens() -> u32 {
    512
}
fn default_concurrency() -> usize {
    4
}

impl LuxellaConfig {
    /// Settings with the defaults above, around `judge`.
    pub fn new(judge: Box<dyn Judge>) -> LuxellaConfig {
        LuxellaConfig {
            judge,
            language: default_language(),
            criterion: None,
            system_prompt: None,
            max_tokens: default_max_tokens(),
            temperature: 0.0,
            concurrency: default_concurrency(),
        }
    }
}

/// One benchmark item as a model did on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemResult {
    /// The item's id.
    pub id: String,
    /// Its category.
    pub category: String,
    /// Its difficulty.
    pub difficulty: String,
    /// The model's answer; `None` when answering failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    /// The judge's score; `None` when the item failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// The judge's reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// How the judge obtained the score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<ScoreMethod>,
    /// Why the item failed (`answer: …` or `judge: …`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One model's results on the benchmark, in benchmark order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelResult {
    /// The model's name.
    pub model: String,
    /// One result per benchmark item.
    pub items: Vec<ItemResult>,
}

/// The mean score of a group of items.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct ScoreCell {
    /// Mean score of the scored items; `None` when none was scored.
    pub mean: Option<f64>,
    /// Items scored.
    pub n: usize,
    /// Items that failed (no answer, or the judge failed).
    pub failed: usize,
}

impl ScoreCell {
    fn of<'a>(items: impl Iterator<Item = &'a ItemResult>) -> ScoreCell {
        let (mut sum, mut n, mut failed) = (0.0, 0, 0);
        for it in items {
            match it.score {
                Some(s) => {
                    sum += s;
                    n += 1;
                }
                None => failed += 1,
            }
        }
        ScoreCell {
            mean: (n > 0).then(|| sum / n as f64),
            n,
            failed,
        }
    }
}

/// One model's scores overall, per category and per difficulty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSummary {
    /// The model.
    pub model: String,
    /// All items.
    pub overall: ScoreCell,
    /// Per category.
    pub by_category: BTreeMap<String, ScoreCell>,
    /// Per difficulty.
    pub by_difficulty: BTreeMap<String, ScoreCell>,
}

/// The benchmark's tables for several models side by side, with every item result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LuxellaReport {
    /// Categories in benchmark order.
    pub categories: Vec<String>,
    /// Difficulties in benchmark order.
    pub difficulties: Vec<String>,
    /// One summary per model, in the order given.
    pub models: Vec<ModelSummary>,
    /// Every item result.
    pub results: Vec<ModelResult>,
}

impl LuxellaReport {
    /// Tabulates `results` (one per model).
    pub fn new(results: Vec<ModelResult>) -> LuxellaReport {
        let mut categories: Vec<String> = Vec::new();
        let mut difficulties: Vec<String> = Vec::new();
        for it in results.iter().flat_map(|r| &r.items) {
            if !categories.contains(&it.category) {
                categories.push(it.category.clone());
            }
            if !difficulties.contains(&it.difficulty) {
                difficulties.push(it.difficulty.clone());
            }
        }
        let models = results
            .iter()
            .map(|r| ModelSummary {
                model: r.model.clone(),
                overall: ScoreCell::of(r.items.iter()),
                by_category: categories
                    .iter()
                    .map(|c| {
                        (
                            c.clone(),
                            ScoreCell::of(r.items.iter().filter(|i| i.category == *c)),
                        )
                    })
                    .collect(),
                by_difficulty: difficulties
                    .iter()
                    .map(|d| {
                        (
                            d.clone(),
                            ScoreCell::of(r.items.iter().filter(|i| i.difficulty == *d)),
                        )
                    })
                    .collect(),
            })
            .collect();
        LuxellaReport {
            categories,
            difficulties,
            models,
            results,
        }
    }
}

/// Runs the benchmark; see the [module documentation](super).
#[derive(Debug)]
pub struct Luxella {
    config: LuxellaConfig,
    criteria: Criteria,
}

impl Luxella {
    /// The built-in criterion description.
    pub const CRITERION: &str = include_str!("../../prompts/luxella.judge.txt");

    /// A run of these settings.
    pub fn new(config: LuxellaConfig) -> Result<Luxella> {
        if config.concurrency == 0 {
            return Err(Error::invalid("luxella.concurrency", "must be at least 1"));
        }
        let t = PromptTemplate::load_or(
            config.criterion.as_deref(),
            "luxella.judge (built in)",
            Self::CRITERION,
            &["language"],
        )?;
        let description = t
            .render(&[("language", &config.language)])?
            .trim()
            .to_string();
        Ok(Luxella {
            criteria: Criteria {
                name: "luxella".into(),
                description,
                scale: ScoreScale::ONE_TO_FIVE,
            },
            config,
        })
    }

    /// The criterion the judge scores.
    pub fn criteria(&self) -> &Criteria {
        &self.criteria
    }

    /// The judge's id.
    pub fn judge_id(&self) -> String {
        self.config.judge.id()
    }

    fn answer_request(&self, item: &BenchmarkItem) -> ChatRequest {
        let mut messages = Vec::new();
        if let Some(s) = &self.config.system_prompt {
            messages.push(ChatMessage::system(s.as_str()));
        }
        messages.push(ChatMessage::user(item.question.as_str()));
        let mut req = ChatRequest::new(messages);
        req.max_tokens = Some(self.config.max_tokens);
        req.temperature = Some(self.config.temperature);
        req
    }

    async fn judge_item(&self, item: &BenchmarkItem, answer: Result<String>) -> ItemResult {
        let mut out = ItemResult {
            id: item.id.clone(),
            category: item.category.clone(),
            difficulty: item.difficulty.clone(),
            answer: None,
            score: None,
            reason: None,
            method: None,
            error: None,
        };
        let answer = match answer {
            Ok(a) if !a.trim().is_empty() => a,
            Ok(_) => {
                out.error = Some("answer: the model returned an empty answer".into());
                return out;
            }
            Err(e) => {
                out.error = Some(format!("answer: {e}"));
                return out;
            }
        };
        let request = JudgeRequest {
            instruction: item.question.clone(),
            response: answer.clone(),
            reference: Some(item.reference_answer.clone()),
            criteria: self.criteria.clone(),
        };
        out.answer = Some(answer);
        match self.config.judge.judge(&request).await {
            Ok(j) => {
                out.score = Some(j.score);
                out.reason = j.reason;
                out.method = Some(j.method);
            }
            Err(e) => out.error = Some(format!("judge: {e}")),
        }
        out
    }

    /// `llm` answers every item, then the judge scores each answer; failures are kept.
    pub async fn run_model(
        &self,
        model: &str,
        llm: &dyn LlmClient,
        items: &[BenchmarkItem],
    ) -> ModelResult {
        let results: Vec<ItemResult> = futures::stream::iter(items)
            .map(|item| async move {
                let answer = llm.chat(&self.answer_request(item)).await.and_then(|r| {
                    r.choices
                        .into_iter()
                        .next()
                        .map(|c| c.content)
                        .ok_or_else(|| Error::plugin(model, "the server returned no choices"))
                });
                self.judge_item(item, answer).await
            })
            .buffered(self.config.concurrency)
            .collect()
            .await;
        ModelResult {
            model: model.to_string(),
            items: results,
        }
    }

    /// Scores answers produced elsewhere (e.g. by a local model's batch generation):
    /// `answers[i]` answers `items[i]`, `None` = no answer (recorded as failed).
    pub async fn judge_answers(
        &self,
        model: &str,
        items: &[BenchmarkItem],
        answers: &[Option<String>],
    ) -> ModelResult {
        let results: Vec<ItemResult> = futures::stream::iter(items.iter().enumerate())
            .map(|(i, item)| {
                let answer = answers
                    .get(i)
                    .cloned()
                    .flatten()
                    .ok_or_else(|| Error::plugin(model, "no answer given"));
                self.judge_item(item, answer)
            })
            .buffered(self.config.concurrency)
            .collect()
            .await;
        ModelResult {
            model: model.to_string(),
            items: results,
        }
    }
}
