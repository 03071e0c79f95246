//! [`Judge`]: scores a response, and says how the score was obtained.

use std::fmt::Debug;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::Result;
use crate::plugin::judge_context::JudgeContext;

/// The range of a score: `1..=5` for LUXELLA-style judging, `1..=10` for some G-Eval criteria.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScoreScale {
    /// Lowest score.
    pub min: f64,
    /// Highest score.
    pub max: f64,
}

impl ScoreScale {
    /// The 1–5 scale.
    pub const ONE_TO_FIVE: ScoreScale = ScoreScale { min: 1.0, max: 5.0 };
}

/// What is judged: a named criterion and its description, on a scale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Criteria {
    /// Short name (`fluency`, `correctness`).
    pub name: String,
    /// What the judge should look for.
    pub description: String,
    /// The scale scores are on.
    pub scale: ScoreScale,
}

/// One thing to judge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JudgeRequest {
    /// The instruction the model was given.
    pub instruction: String,
    /// The model's response.
    pub response: String,
    /// A reference answer, when the benchmark has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The criterion.
    pub criteria: Criteria,
}

/// How a judge turned model output into a number: recorded with every judgement, so no
/// report mixes methods silently.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum ScoreMethod {
    /// Probability-weighted mean over the score tokens' top log-probs (G-Eval).
    ProbabilityWeighted,
    /// Mean of `n` sampled answers.
    SampleMean {
        /// Number of samples.
        n: u32,
    },
    /// The number parsed from one answer.
    Parsed,
    /// Computed without a model (chrF, exact match).
    Reference,
}

/// A judge's verdict on one response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Judgement {
    /// Which judge.
    pub judge: String,
    /// The score, within `scale`.
    pub score: f64,
    /// The scale.
    pub scale: ScoreScale,
    /// The judge's stated reason, when it gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// How the score was obtained.
    pub method: ScoreMethod,
}

/// Scores responses against a criterion.
///
/// Contract: a score outside the declared scale, or an answer that cannot be read as a score,
/// is an `Err` (a recorded failure), never a default value.
#[typetag::serde(tag = "type")]
#[async_trait]
pub trait Judge: Send + Sync + Debug {
    /// Judges one response.
    async fn judge(&self, request: &JudgeRequest) -> Result<Judgement>;

    /// Called once before the first judgement of a run: read prompt files (relative paths
    /// against `ctx.base_dir`, not the working directory) and take the run's shared LLM client
    /// ([`JudgeContext::share_llm`]). Failures here stop the run before any model answers.
    fn prepare(&mut self, ctx: &JudgeContext) -> Result<()> {
        let _ = ctx;
        Ok(())
    }

    /// The judge's id in reports; defaults to the type name.
    fn id(&self) -> String {
        self.typetag_name().to_string()
    }
}
