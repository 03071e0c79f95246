//! [`GEval`]: the G-Eval judge (Liu et al. 2023, "G-Eval: NLG Evaluation using GPT-4 with
//! Better Human Alignment") over any [`LlmClient`].
//!
//! G-Eval asks for a score only, through a form: a task introduction, the criterion, the
//! evaluation steps (a chain of thought the model wrote once for the criterion), the text to
//! judge, and `- criterion:` left open. The score is then read one of three ways, chosen in
//! the recipe and recorded in every [`Judgement`]'s [`ScoreMethod`]:
//!
//! - `probability_weighted` (the paper's): `Σ s·p(s) / Σ p(s)` over the score tokens among
//!   the top log-probs at the position where the model wrote its score. Fine-grained (4.3
//!   rather than 4) and deterministic. Needs a server that returns top log-probs; when it
//!   does not, the judge falls back to `fallback` and says so in the judgement's reason (and
//!   in [`GEval::fallbacks`]), or fails when `fallback = "error"`.
//! - `sample_mean`: the mean of `n` answers sampled at `temperature` (the paper's
//!   approximation for endpoints without log-probs).
//! - `parsed`: the number in one greedy answer.
//!
//! An answer with no readable score, or a score outside the scale, is an `Err` naming the
//! judge and quoting the answer: never a default value.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use futures::lock::Mutex;
use lux_core::prompt::PromptSource;
use lux_core::{
    ChatMessage, ChatRequest, Criteria, Error, Judge, JudgeContext, JudgeRequest, Judgement,
    LlmClient, PromptTemplate, Result, ScoreMethod, ScoreScale, TokenLogprob,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::text::{excerpt, number};

/// How a [`GEval`] turns the model's output into a score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GEvalMode {
    /// Probability-weighted mean over the score tokens' top log-probs (the paper's method).
    #[default]
    ProbabilityWeighted,
    /// Mean of `n` sampled answers.
    SampleMean,
    /// The number in one greedy answer.
    Parsed,
}

/// What a probability-weighted [`GEval`] does when the server returns no usable log-probs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GEvalFallback {
    /// Read the number in the same answer (no extra request).
    #[default]
    Parsed,
    /// Sample `n` answers and take their mean.
    SampleMean,
    /// Fail the judgement.
    Error,
}

/// How many probability-weighted judgements of a [`GEval`] fell back, per cause.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GEvalFallbacks {
    /// The answer came without log-probs: the server ignores `logprobs`.
    pub no_logprobs: usize,
    /// The score token came without top log-probs: the server ignores `top_logprobs`.
    pub no_top_logprobs: usize,
    /// No generated token is a score (the model wrote words first, or no score at all).
    pub no_score_token: usize,
}

impl GEvalFallbacks {
    /// All causes together.
    pub fn total(&self) -> usize {
        self.no_logprobs + self.no_top_logprobs + self.no_score_token
    }
}

/// Settings of a [`GEval`] judge, as written in a recipe:
///
/// ```toml
/// [[judges]]
/// type = "g_eval"
/// llm = { type = "openai", base_url = "http://localhost:8080/v1", model = "qwen2.5-7b" }
/// mode = "probability_weighted"   # or "sample_mean", "parsed"
/// fallback = "parsed"             # when the server returns no log-probs
/// steps = { fluency = "1. Read the response.\n2. ..." }   # else generated once per criterion
/// ```
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GEvalConfig {
    /// The judging model; [`Judge::prepare`] swaps in the run's client of equal settings.
    #[serde(with = "lux_core::plugin::judge_context::shared_llm")]
    pub llm: Arc<dyn LlmClient>,
    /// The judge's id in reports; default `g_eval:<model>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// How the score is read. Default `probability_weighted`.
    #[serde(default)]
    pub mode: GEvalMode,
    /// What `probability_weighted` does without log-probs. Default `parsed`.
    #[serde(default)]
    pub fallback: GEvalFallback,
    /// Top log-probs asked for per token (OpenAI allows up to 20). Default 20.
    #[serde(default = "default_top_logprobs")]
    pub top_logprobs: u8,
    /// Samples for `sample_mean` (the paper used 20). Default 20.
    #[serde(default = "default_n")]
    pub n: u32,
    /// Sampling temperature for `sample_mean`. Default 1.0.
    #[serde(default = "default_temperature")]
    pub temperature: f32,
    /// Completion limit of a scoring request, in tokens: the form asks for the score only.
    /// Default 8.
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u32,
    /// Base sampling seed (request `i` of a sample run uses `seed + i`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// What the judged text is, completing "You will be given …".
    #[serde(default = "default_task")]
    pub task: String,
    /// Evaluation steps per criterion name; a criterion without steps here gets steps
    /// generated by the model once (then cached for the judge's lifetime).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub steps: BTreeMap<String, String>,
    /// A file replacing the built-in form prompt (this crate's `prompts/g_eval.form.txt`);
    /// relative to the recipe's directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form_prompt: Option<PathBuf>,
    /// A file replacing the built-in prompt that asks for evaluation steps; relative to the
    /// recipe's directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps_prompt: Option<PathBuf>,
}

fn default_top_logprobs() -> u8 {
    20
}
fn default_n() -> u32 {
    20
}
fn default_temperature() -> f32 {
    1.0
}
fn default_max_tokens() -> u32 {
    8
}
fn default_task() -> String {
    "an instruction and a response written for it".into()
}

impl GEvalConfig {
    /// Settings with the defaults above, around `llm`.
    pub fn new(llm: Box<dyn LlmClient>) -> GEvalConfig {
        GEvalConfig {
            llm: Arc::from(llm),
            id: None,
            mode: GEvalMode::default(),
            fallback: GEvalFallback::default(),
            top_logprobs: default_top_logprobs(),
            n: default_n(),
            temperature: default_temperature(),
            max_tokens: default_max_tokens(),
            seed: None,
            task: default_task(),
            steps: BTreeMap::new(),
            form_prompt: None,
            steps_prompt: None,
        }
    }
}

/// The G-Eval judge; see the module documentation (`judge::g_eval`).
pub struct GEval {
    config: GEvalConfig,
    form: PromptTemplate,
    steps_prompt: PromptTemplate,
    /// Generated steps per criterion; an async lock so that concurrent judgements of a new
    /// criterion generate its steps once.
    generated: Mutex<HashMap<String, String>>,
    /// Fallbacks per cause: no log-probs, no top log-probs, no score token.
    fallbacks: [AtomicUsize; 3],
    /// Relative prompt paths, waiting for [`Judge::prepare`] to know the recipe's directory.
    prompts_pending: bool,
}

impl fmt::Debug for GEval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GEval")
            .field("config", &self.config)
            .field("form_prompt", &self.form.origin())
            .field("steps_prompt", &self.steps_prompt.origin())
            .field("fallbacks", &self.fallbacks_by_cause())
            .finish()
    }
}

/// A score-token distribution read from top log-probs: `(score, probability)` per score
/// value, ascending, probabilities not renormalised.
pub type ScoreDistribution = Vec<(f64, f64)>;

impl GEval {
    /// The built-in form prompt.
    pub const FORM_PROMPT: &str = include_str!("../../prompts/g_eval.form.txt");
    /// The built-in prompt asking for evaluation steps.
    pub const STEPS_PROMPT: &str = include_str!("../../prompts/g_eval.steps.txt");
    /// Placeholders the form may use.
    pub const FORM_PLACEHOLDERS: &[&str] = &[
        "task",
        "criterion",
        "criterion_description",
        "min",
        "max",
        "steps",
        "instruction",
        "response",
        "reference",
    ];
    /// Placeholders the steps prompt may use.
    pub const STEPS_PLACEHOLDERS: &[&str] =
        &["task", "criterion", "criterion_description", "min", "max"];

    /// A judge of these settings: checks the ranges and loads the prompts given by absolute
    /// paths; relative ones are a recipe's, read by [`Judge::prepare`] against its directory.
    pub fn new(config: GEvalConfig) -> Result<GEval> {
        if config.n == 0 {
            return Err(Error::invalid("g_eval.n", "must be at least 1"));
        }
        if config.max_tokens == 0 {
            return Err(Error::invalid("g_eval.max_tokens", "must be at least 1"));
        }
        if !(config.temperature.is_finite() && config.temperature >= 0.0) {
            return Err(Error::invalid(
                "g_eval.temperature",
                format!("{} is not a temperature", config.temperature),
            ));
        }
        if config.mode == GEvalMode::ProbabilityWeighted && config.top_logprobs < 2 {
            return Err(Error::invalid(
                "g_eval.top_logprobs",
                "probability_weighted needs at least 2 top log-probs",
            ));
        }
        let mut judge = GEval {
            config,
            form: PromptTemplate::builtin("", ""),
            steps_prompt: PromptTemplate::builtin("", ""),
            generated: Mutex::new(HashMap::new()),
            fallbacks: Default::default(),
            prompts_pending: false,
        };
        judge.load_prompts(None)?;
        Ok(judge)
    }

    /// Loads the prompt files: relative paths against `base_dir`, or, without one, left
    /// pending when there are any (deserialisation does not know where the recipe is).
    fn load_prompts(&mut self, base_dir: Option<&Path>) -> Result<()> {
        let c = &self.config;
        let prompts = PromptTemplate::load_all(
            [
                PromptSource {
                    path: c.form_prompt.as_deref(),
                    builtin_origin: "g_eval.form (built in)",
                    builtin: Self::FORM_PROMPT,
                    placeholders: Self::FORM_PLACEHOLDERS,
                },
                PromptSource {
                    path: c.steps_prompt.as_deref(),
                    builtin_origin: "g_eval.steps (built in)",
                    builtin: Self::STEPS_PROMPT,
                    placeholders: Self::STEPS_PLACEHOLDERS,
                },
            ],
            base_dir,
        )?;
        self.prompts_pending = prompts.is_none();
        if let Some([form, steps]) = prompts {
            (self.form, self.steps_prompt) = (form, steps);
        }
        Ok(())
    }

    /// The settings.
    pub fn config(&self) -> &GEvalConfig {
        &self.config
    }

    /// How many judgements fell back from `probability_weighted` so far.
    pub fn fallbacks(&self) -> usize {
        self.fallbacks_by_cause().total()
    }

    /// How many judgements fell back from `probability_weighted` so far, per cause: tells a
    /// server that ignores `logprobs` or `top_logprobs` from a model that writes no score.
    pub fn fallbacks_by_cause(&self) -> GEvalFallbacks {
        let [a, b, c] = &self.fallbacks;
        GEvalFallbacks {
            no_logprobs: a.load(Ordering::Relaxed),
            no_top_logprobs: b.load(Ordering::Relaxed),
            no_score_token: c.load(Ordering::Relaxed),
        }
    }

    /// The evaluation steps of `criteria`: from the settings, else generated by the model
    /// once and cached.
    pub async fn evaluation_steps(&self, criteria: &Criteria) -> Result<String> {
        if let Some(s) = self.config.steps.get(&criteria.name) {
            return Ok(s.trim().to_string());
        }
        let key = format!(
            "{}\u{0}{}\u{0}{}\u{0}{}",
            criteria.name, criteria.description, criteria.scale.min, criteria.scale.max
        );
        let mut cache = self.generated.lock().await;
        if let Some(s) = cache.get(&key) {
            return Ok(s.clone());
        }
        let (min, max) = (number(criteria.scale.min), number(criteria.scale.max));
        let vars: [(&str, &str); 5] = [
            ("task", &self.config.task),
            ("criterion", &criteria.name),
            ("criterion_description", &criteria.description),
            ("min", &min),
            ("max", &max),
        ];
        let mut req = ChatRequest::new(vec![ChatMessage::user(self.steps_prompt.render(&vars)?)]);
        req.temperature = Some(0.0);
        req.max_tokens = Some(400);
        req.seed = self.config.seed;
        let resp = self.config.llm.chat(&req).await?;
        let steps = resp
            .choices
            .first()
            .map(|c| c.content.trim().to_string())
            .unwrap_or_default();
        if steps.is_empty() {
            return Err(Error::plugin(
                self.id(),
                format!("empty evaluation steps for criterion {}", criteria.name),
            ));
        }
        cache.insert(key, steps.clone());
        Ok(steps)
    }

    /// The filled-in form for `r` (evaluation steps included).
    pub async fn form(&self, r: &JudgeRequest) -> Result<String> {
        let steps = self.evaluation_steps(&r.criteria).await?;
        let (min, max) = (number(r.criteria.scale.min), number(r.criteria.scale.max));
        let vars: [(&str, &str); 9] = [
            ("task", &self.config.task),
            ("criterion", &r.criteria.name),
            ("criterion_description", &r.criteria.description),
            ("min", &min),
            ("max", &max),
            ("steps", &steps),
            ("instruction", &r.instruction),
            ("response", &r.response),
            ("reference", r.reference.as_deref().unwrap_or("(none)")),
        ];
        self.form.render(&vars)
    }

    fn fail(&self, why: impl fmt::Display, answer: &str) -> Error {
        Error::plugin(
            self.id(),
            format!("{why}: \"{}\"", excerpt(answer.trim(), 200)),
        )
    }

    async fn parsed(&self, form: &str, scale: ScoreScale) -> Result<(f64, String)> {
        let mut req = ChatRequest::new(vec![ChatMessage::user(form)]);
        req.temperature = Some(0.0);
        req.max_tokens = Some(self.config.max_tokens);
        req.seed = self.config.seed;
        let resp = self.config.llm.chat(&req).await?;
        let answer = resp
            .choices
            .first()
            .map(|c| c.content.clone())
            .unwrap_or_default();
        let score = parse_score(&answer, scale).map_err(|why| self.fail(why, &answer))?;
        Ok((score, answer))
    }

    /// `n` sampled answers: the mean of those with a score, and how many had none.
    async fn sample_mean(&self, form: &str, scale: ScoreScale) -> Result<(f64, u32, usize)> {
        let n = self.config.n as usize;
        let mut scores = Vec::with_capacity(n);
        let mut unreadable = 0usize;
        let mut first_bad: Option<(String, String)> = None;
        let mut answers = 0usize;
        // Some servers ignore `n` and answer once: ask again for what is missing, at most n
        // requests in all.
        for i in 0..n {
            if answers >= n {
                break;
            }
            let mut req = ChatRequest::new(vec![ChatMessage::user(form)]);
            req.temperature = Some(self.config.temperature);
            req.max_tokens = Some(self.config.max_tokens);
            req.n = Some((n - answers) as u32);
            req.seed = self.config.seed.map(|s| s.wrapping_add(i as u64));
            let resp = self.config.llm.chat(&req).await?;
            if resp.choices.is_empty() {
                return Err(Error::plugin(self.id(), "the server returned no choices"));
            }
            for c in resp.choices.iter().take(n - answers) {
                answers += 1;
                match parse_score(&c.content, scale) {
                    Ok(s) => scores.push(s),
                    Err(why) => {
                        unreadable += 1;
                        first_bad.get_or_insert_with(|| (why, c.content.clone()));
                    }
                }
            }
        }
        if scores.is_empty() {
            let (why, answer) = first_bad.unwrap_or_default();
            return Err(self.fail(format!("no sample had a score ({why})"), &answer));
        }
        let mean = scores.iter().sum::<f64>() / scores.len() as f64;
        Ok((mean, scores.len() as u32, unreadable))
    }

    async fn judge_inner(&self, r: &JudgeRequest) -> Result<Judgement> {
        if self.prompts_pending {
            return Err(Error::invalid(
                "g_eval.form_prompt",
                format!(
                    "{}: relative prompt paths are read by `prepare` (against the recipe's \
                     directory), which was not called",
                    self.id()
                ),
            ));
        }
        let scale = r.criteria.scale;
        let form = self.form(r).await?;
        let judgement = |score: f64, reason: Option<String>, method: ScoreMethod| Judgement {
            judge: self.id(),
            score,
            scale,
            reason,
            method,
        };
        let sample = |mean: f64, n: u32, unreadable: usize, prefix: String| {
            let mut reason = prefix;
            if unreadable > 0 {
                reason.push_str(&format!(
                    "{}{unreadable} of {} samples had no score and were left out",
                    if reason.is_empty() { "" } else { "; " },
                    n as usize + unreadable
                ));
            }
            judgement(
                mean,
                Some(reason).filter(|r| !r.is_empty()),
                ScoreMethod::SampleMean { n },
            )
        };
        match self.config.mode {
            GEvalMode::Parsed => {
                let (score, _) = self.parsed(&form, scale).await?;
                Ok(judgement(score, None, ScoreMethod::Parsed))
            }
            GEvalMode::SampleMean => {
                let (mean, n, unreadable) = self.sample_mean(&form, scale).await?;
                Ok(sample(mean, n, unreadable, String::new()))
            }
            GEvalMode::ProbabilityWeighted => {
                let mut req = ChatRequest::new(vec![ChatMessage::user(form.as_str())]);
                req.temperature = Some(0.0);
                req.max_tokens = Some(self.config.max_tokens);
                req.seed = self.config.seed;
                req.top_logprobs = Some(self.config.top_logprobs);
                let resp = self.config.llm.chat(&req).await?;
                let choice = resp.choices.first();
                let answer = choice.map(|c| c.content.as_str()).unwrap_or_default();
                let tokens = choice.and_then(|c| c.logprobs.as_deref());
                // The counter of the cause: 0 no log-probs, 1 no top log-probs, 2 no score token.
                let cause = match tokens {
                    None => 0,
                    Some(t) if t.iter().any(|t| score_token(&t.token, scale).is_some()) => 1,
                    Some(_) => 2,
                };
                let why = match tokens {
                    None => "the server returned no log-probs".to_string(),
                    Some(tokens) => match score_distribution(tokens, scale) {
                        Ok(dist) => {
                            let score = weighted_score(&dist).ok_or_else(|| {
                                self.fail("score tokens have zero probability", answer)
                            })?;
                            return Ok(judgement(
                                score,
                                Some(describe(&dist)),
                                ScoreMethod::ProbabilityWeighted,
                            ));
                        }
                        Err(why) => why,
                    },
                };
                self.fallbacks[cause].fetch_add(1, Ordering::Relaxed);
                tracing::debug!(judge = %self.id(), %why, "g_eval falls back");
                let prefix = format!("fallback from probability_weighted ({why})");
                match self.config.fallback {
                    GEvalFallback::Error => Err(self.fail(
                        format!("probability_weighted impossible ({why}), fallback = error"),
                        answer,
                    )),
                    GEvalFallback::Parsed => {
                        let score = parse_score(answer, scale).map_err(|e| self.fail(e, answer))?;
                        Ok(judgement(score, Some(prefix), ScoreMethod::Parsed))
                    }
                    GEvalFallback::SampleMean => {
                        let (mean, n, unreadable) = self.sample_mean(&form, scale).await?;
                        Ok(sample(mean, n, unreadable, prefix))
                    }
                }
            }
        }
    }
}

fn describe(dist: &ScoreDistribution) -> String {
    let total: f64 = dist.iter().map(|d| d.1).sum();
    let parts: Vec<String> = dist
        .iter()
        .map(|(s, p)| format!("p({})={:.3}", number(*s), p / total))
        .collect();
    format!("score-token probabilities {}", parts.join(" "))
}

/// A token's text as a score: whitespace and tokenizer space markers (`Ġ`, `▁`) trimmed,
/// then a whole number inside `scale` (`" 4"`, `"4"`, `"▁4"` → 4; `"4.5"`, `"x"` → none).
pub fn score_token(token: &str, scale: ScoreScale) -> Option<f64> {
    let t = token.trim_matches(|c: char| c.is_whitespace() || c == 'Ġ' || c == '▁');
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) || t.len() > 6 {
        return None;
    }
    let v: f64 = t.parse().ok()?;
    (v >= scale.min && v <= scale.max).then_some(v)
}

/// The score distribution at the first generated token that is a score: probabilities
/// `exp(logprob)` of the score tokens among its top alternatives (the chosen token included),
/// summed per score value (`" 4"` and `"4"` add up), ascending by score.
///
/// The error says why there is none: no token is a score, or the score token came without
/// alternatives (the server ignored `top_logprobs`).
pub fn score_distribution(
    tokens: &[TokenLogprob],
    scale: ScoreScale,
) -> std::result::Result<ScoreDistribution, String> {
    let Some(at) = tokens
        .iter()
        .find(|t| score_token(&t.token, scale).is_some())
    else {
        return Err("no generated token is a score".into());
    };
    if at.top.is_empty() {
        return Err("the score token came without top log-probs".into());
    }
    let mut dist: BTreeMap<i64, f64> = BTreeMap::new();
    let mut chosen_listed = false;
    for alt in &at.top {
        chosen_listed |= alt.token == at.token;
        if let Some(s) = score_token(&alt.token, scale) {
            *dist.entry(s as i64).or_default() += (alt.logprob as f64).exp();
        }
    }
    if !chosen_listed && let Some(s) = score_token(&at.token, scale) {
        *dist.entry(s as i64).or_default() += (at.logprob as f64).exp();
    }
    Ok(dist.into_iter().map(|(s, p)| (s as f64, p)).collect())
}

/// `Σ s·p(s) / Σ p(s)`; `None` when the probabilities sum to zero (or are not finite).
pub fn weighted_score(dist: &[(f64, f64)]) -> Option<f64> {
    let total: f64 = dist.iter().map(|d| d.1).sum();
    if !(total.is_finite() && total > 0.0) {
        return None;
    }
    Some(dist.iter().map(|(s, p)| s * p).sum::<f64>() / total)
}

/// The score in a free-text answer: the first number after the last `:` if there is one
/// (`"Coherence (1-5): 4"` → 4), else the first number (`"**4**/5"` → 4); decimals allowed
/// (`"3.5"`, `"3,5"`). An answer without a number, or one outside `scale`, is an error
/// saying so.
pub fn parse_score(answer: &str, scale: ScoreScale) -> std::result::Result<f64, String> {
    let numbers = |s: &str| -> Vec<f64> {
        let mut out = Vec::new();
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i].is_ascii_digit() {
                let start = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                if i + 1 < b.len() && (b[i] == b'.' || b[i] == b',') && b[i + 1].is_ascii_digit() {
                    i += 1;
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                }
                if let Ok(v) = s[start..i].replace(',', ".").parse() {
                    out.push(v);
                }
            } else {
                i += 1;
            }
        }
        out
    };
    let text = answer.trim();
    let after_colon = text.rfind(':').map(|i| &text[i + 1..]);
    let score = after_colon
        .and_then(|t| numbers(t).first().copied())
        .or_else(|| numbers(text).first().copied())
        .ok_or_else(|| "no score in the answer".to_string())?;
    if score < scale.min || score > scale.max {
        return Err(format!(
            "score {} is outside the scale {}–{}",
            number(score),
            number(scale.min),
            number(scale.max)
        ));
    }
    Ok(score)
}

impl Serialize for GEval {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.config.serialize(s)
    }
}

impl<'de> Deserialize<'de> for GEval {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        GEval::new(GEvalConfig::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[typetag::serde(name = "g_eval")]
#[async_trait]
impl Judge for GEval {
    async fn judge(&self, request: &JudgeRequest) -> Result<Judgement> {
        self.judge_inner(request).await
    }

    /// Reads relative prompt files against the recipe's directory and takes the run's
    /// client of equal settings.
    fn prepare(&mut self, ctx: &JudgeContext) -> Result<()> {
        if self.prompts_pending {
            self.load_prompts(Some(&ctx.base_dir))?;
        }
        ctx.share_llm(&mut self.config.llm)
    }

    fn id(&self) -> String {
        self.config
            .id
            .clone()
            .unwrap_or_else(|| format!("g_eval:{}", self.config.llm.model()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;
    use lux_core::{ChatChoice, ChatResponse, TopLogprob, Usage};
    use std::sync::{Arc, Mutex as StdMutex};

    /// An in-process client answering from a script, recording requests.
    #[derive(Debug, Serialize, Deserialize)]
    struct Scripted {
        #[serde(skip)]
        answers: StdMutex<Vec<ChatResponse>>,
        #[serde(skip)]
        seen: Arc<StdMutex<Vec<ChatRequest>>>,
    }

    type Log = Arc<StdMutex<Vec<ChatRequest>>>;

    impl Scripted {
        fn new(answers: Vec<ChatResponse>) -> Box<Scripted> {
            Scripted::logged(answers).0
        }

        fn logged(answers: Vec<ChatResponse>) -> (Box<Scripted>, Log) {
            let seen = Log::default();
            let s = Box::new(Scripted {
                answers: StdMutex::new(answers.into_iter().rev().collect()),
                seen: Arc::clone(&seen),
            });
            (s, seen)
        }
    }

    #[typetag::serde(name = "g_eval_test_scripted")]
    #[async_trait]
    impl LlmClient for Scripted {
        async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse> {
            self.seen.lock().unwrap().push(request.clone());
            self.answers
                .lock()
                .unwrap()
                .pop()
                .ok_or_else(|| Error::plugin("scripted", "script exhausted"))
        }
        fn model(&self) -> String {
            "scripted".into()
        }
    }

    fn text(content: &str) -> ChatChoice {
        ChatChoice {
            content: content.into(),
            finish_reason: Some("stop".into()),
            logprobs: None,
        }
    }

    fn resp(choices: Vec<ChatChoice>) -> ChatResponse {
        ChatResponse {
            choices,
            usage: Usage::default(),
            model: "scripted".into(),
        }
    }

    fn with_logprobs(content: &str, chosen: &str, top: &[(&str, f32)]) -> ChatChoice {
        ChatChoice {
            content: content.into(),
            finish_reason: Some("stop".into()),
            logprobs: Some(vec![TokenLogprob {
                token: chosen.into(),
                logprob: top[0].1,
                top: top
                    .iter()
                    .map(|(t, l)| TopLogprob {
                        token: t.to_string(),
                        logprob: *l,
                    })
                    .collect(),
            }]),
        }
    }

    fn request() -> JudgeRequest {
        JudgeRequest {
            instruction: "Translate 'house' into Luxembourgish.".into(),
            response: "Haus".into(),
            reference: Some("Haus".into()),
            criteria: Criteria {
                name: "correctness".into(),
                description: "Is the answer right?".into(),
                scale: ScoreScale::ONE_TO_FIVE,
            },
        }
    }

    fn judge(mode: GEvalMode, fallback: GEvalFallback, script: Vec<ChatResponse>) -> GEval {
        judge_logged(mode, fallback, script).0
    }

    fn judge_logged(
        mode: GEvalMode,
        fallback: GEvalFallback,
        script: Vec<ChatResponse>,
    ) -> (GEval, Log) {
        let (client, log) = Scripted::logged(script);
        let mut c = GEvalConfig::new(client);
        c.mode = mode;
        c.fallback = fallback;
        c.n = 4;
        c.steps.insert(
            "correctness".into(),
            "1. Compare with the reference.".into(),
        );
        (GEval::new(c).unwrap(), log)
    }

    #[test]
    fn probability_weighted_matches_hand_computed_mean() {
        let (p4, p5, p3) = (0.6f64, 0.3f64, 0.05f64);
        let (g, log) = judge_logged(
            GEvalMode::ProbabilityWeighted,
            GEvalFallback::Parsed,
            vec![resp(vec![with_logprobs(
                "4",
                "4",
                &[
                    ("4", p4.ln() as f32),
                    (" 5", p5.ln() as f32),
                    ("3", p3.ln() as f32),
                    ("The", (0.04f64).ln() as f32),
                    ("5", (0.01f64).ln() as f32),
                ],
            )])],
        );
        let j = block_on(g.judge(&request())).unwrap();
        // " 5" and "5" add up; "The" is not a score token.
        let expected = (4.0 * p4 + 5.0 * (p5 + 0.01) + 3.0 * p3) / (p4 + p5 + 0.01 + p3);
        assert!(
            (j.score - expected).abs() < 1e-5,
            "{} vs {expected}",
            j.score
        );
        assert_eq!(j.method, ScoreMethod::ProbabilityWeighted);
        assert!(j.reason.unwrap().contains("p(4)="));
        assert_eq!(g.fallbacks(), 0);
        assert_eq!(j.judge, "g_eval:scripted");
        let sent = log.lock().unwrap();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].top_logprobs, Some(20));
        assert_eq!(sent[0].temperature, Some(0.0));
        assert!(
            sent[0].messages[0]
                .content
                .contains("1. Compare with the reference.")
        );
    }

    #[test]
    fn probability_weighted_falls_back_and_says_so() {
        let g = judge(
            GEvalMode::ProbabilityWeighted,
            GEvalFallback::Parsed,
            vec![resp(vec![text("Correctness: 3")])],
        );
        let j = block_on(g.judge(&request())).unwrap();
        assert_eq!(j.score, 3.0);
        assert_eq!(j.method, ScoreMethod::Parsed);
        assert!(j.reason.unwrap().contains("no log-probs"));
        assert_eq!(g.fallbacks(), 1);
        assert_eq!(
            g.fallbacks_by_cause(),
            GEvalFallbacks {
                no_logprobs: 1,
                ..GEvalFallbacks::default()
            }
        );

        let g = judge(
            GEvalMode::ProbabilityWeighted,
            GEvalFallback::SampleMean,
            vec![
                resp(vec![text("3")]),
                resp(vec![text("2"), text("4"), text("oops"), text("5")]),
            ],
        );
        let j = block_on(g.judge(&request())).unwrap();
        assert!((j.score - 11.0 / 3.0).abs() < 1e-12);
        assert_eq!(j.method, ScoreMethod::SampleMean { n: 3 });
        let reason = j.reason.unwrap();
        assert!(
            reason.contains("fallback") && reason.contains("1 of 4"),
            "{reason}"
        );

        let g = judge(
            GEvalMode::ProbabilityWeighted,
            GEvalFallback::Error,
            vec![resp(vec![text("3")])],
        );
        let e = block_on(g.judge(&request())).unwrap_err().to_string();
        assert!(e.contains("fallback = error"), "{e}");
    }

    #[test]
    fn fallbacks_are_counted_per_cause() {
        // Log-probs without alternatives at the score token (`top_logprobs` ignored), then
        // log-probs whose tokens hold no score (the model wrote words).
        let no_top = ChatChoice {
            logprobs: Some(vec![TokenLogprob {
                token: "4".into(),
                logprob: -0.1,
                top: vec![],
            }]),
            ..text("4")
        };
        let words = with_logprobs("Good", "Good", &[("Good", -0.1), ("Fine", -2.0)]);
        let g = judge(
            GEvalMode::ProbabilityWeighted,
            GEvalFallback::Parsed,
            vec![resp(vec![no_top]), resp(vec![words]), resp(vec![text("2")])],
        );
        assert_eq!(block_on(g.judge(&request())).unwrap().score, 4.0);
        let e = block_on(g.judge(&request())).unwrap_err().to_string();
        assert!(e.contains("no score"), "{e}");
        block_on(g.judge(&request())).unwrap();
        assert_eq!(
            g.fallbacks_by_cause(),
            GEvalFallbacks {
                no_logprobs: 1,
                no_top_logprobs: 1,
                no_score_token: 1,
            }
        );
        assert_eq!(g.fallbacks(), 3);
    }

    #[test]
    fn sample_mean_asks_again_when_the_server_ignores_n() {
        let (g, log) = judge_logged(
            GEvalMode::SampleMean,
            GEvalFallback::Parsed,
            vec![
                resp(vec![text("4")]),
                resp(vec![text("5")]),
                resp(vec![text("3"), text("4")]),
            ],
        );
        let j = block_on(g.judge(&request())).unwrap();
        assert_eq!(j.score, 4.0);
        assert_eq!(j.method, ScoreMethod::SampleMean { n: 4 });
        assert!(j.reason.is_none());
        let n: Vec<Option<u32>> = log.lock().unwrap().iter().map(|r| r.n).collect();
        assert_eq!(n, vec![Some(4), Some(3), Some(2)]);
    }

    #[test]
    fn parsed_mode_and_failures() {
        let g = judge(
            GEvalMode::Parsed,
            GEvalFallback::Parsed,
            vec![resp(vec![text("**5**")])],
        );
        let j = block_on(g.judge(&request())).unwrap();
        assert_eq!((j.score, j.method), (5.0, ScoreMethod::Parsed));

        let g = judge(
            GEvalMode::Parsed,
            GEvalFallback::Parsed,
            vec![resp(vec![text("Correctness: 9")])],
        );
        let e = block_on(g.judge(&request())).unwrap_err().to_string();
        assert!(
            e.contains("outside the scale") && e.contains("g_eval:scripted"),
            "{e}"
        );

        let g = judge(
            GEvalMode::Parsed,
            GEvalFallback::Parsed,
            vec![resp(vec![text("I cannot judge this.")])],
        );
        let e = block_on(g.judge(&request())).unwrap_err().to_string();
        assert!(e.contains("no score"), "{e}");
    }

    #[test]
    fn steps_are_generated_once_per_criterion() {
        let client = Scripted::new(vec![
            resp(vec![text("1. Read.\n2. Compare.\n3. Score.")]),
            resp(vec![text("4")]),
            resp(vec![text("2")]),
        ]);
        let mut c = GEvalConfig::new(client);
        c.mode = GEvalMode::Parsed;
        let g = GEval::new(c).unwrap();
        let a = block_on(g.judge(&request())).unwrap();
        let b = block_on(g.judge(&request())).unwrap();
        assert_eq!((a.score, b.score), (4.0, 2.0));
        let form = block_on(g.form(&request())).unwrap();
        assert!(form.contains("2. Compare."));
        assert!(form.contains("Evaluation Form (scores ONLY)"));
        assert!(form.trim_end().ends_with("- correctness:"));
    }

    #[test]
    fn score_tokens_are_read_leniently() {
        let s = ScoreScale::ONE_TO_FIVE;
        assert_eq!(score_token(" 4", s), Some(4.0));
        assert_eq!(score_token("4", s), Some(4.0));
        assert_eq!(score_token("Ġ5", s), Some(5.0));
        assert_eq!(score_token("▁1", s), Some(1.0));
        assert_eq!(score_token("6", s), None);
        assert_eq!(score_token("4.5", s), None);
        assert_eq!(score_token("", s), None);
        assert_eq!(score_token("-1", s), None);
        assert_eq!(parse_score("Score: 3,5", s), Ok(3.5));
        assert_eq!(parse_score("coherence (1-5): 2", s), Ok(2.0));
        assert_eq!(parse_score("4/5", s), Ok(4.0));
        assert!(parse_score("", s).is_err());
        assert_eq!(weighted_score(&[(1.0, 0.0)]), None);
        assert_eq!(weighted_score(&[(2.0, 0.5), (4.0, 0.5)]), Some(3.0));
        // The score is found at the first score token, after preamble tokens.
        let tokens = vec![
            TokenLogprob {
                token: "Score".into(),
                logprob: -0.1,
                top: vec![],
            },
            TokenLogprob {
                token: " 2".into(),
                logprob: -0.2,
                top: vec![TopLogprob {
                    token: " 3".into(),
                    logprob: -1.0,
                }],
            },
        ];
        // The chosen token is added when the server did not list it among the alternatives.
        let d = score_distribution(&tokens, s).unwrap();
        assert_eq!(d.len(), 2);
        assert!((d[0].1 - (-0.2f64).exp()).abs() < 1e-6);
        let no_top = vec![TokenLogprob {
            token: "3".into(),
            logprob: 0.0,
            top: vec![],
        }];
        assert!(
            score_distribution(&no_top, s)
                .unwrap_err()
                .contains("without top")
        );
    }

    #[test]
    fn config_rejects_unknown_keys_and_bad_values() {
        let c = GEvalConfig::new(Scripted::new(vec![]));
        let mut v = serde_json::to_value(&c).unwrap();
        v["colour"] = "red".into();
        let e = serde_json::from_value::<GEvalConfig>(v)
            .unwrap_err()
            .to_string();
        assert!(e.contains("colour"), "{e}");
        let mut c = GEvalConfig::new(Scripted::new(vec![]));
        c.n = 0;
        assert!(GEval::new(c).unwrap_err().to_string().contains("g_eval.n"));
        let mut c = GEvalConfig::new(Scripted::new(vec![]));
        c.top_logprobs = 1;
        assert!(GEval::new(c).is_err());
    }

    #[test]
    fn relative_prompts_are_read_against_the_recipe_dir_in_prepare() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("form.txt"),
            "Rate {response} for {criterion} from {min} to {max}. Steps: {steps}",
        )
        .unwrap();
        let (client, log) = Scripted::logged(vec![resp(vec![text("4")])]);
        let mut c = GEvalConfig::new(client);
        c.mode = GEvalMode::Parsed;
        c.form_prompt = Some("form.txt".into());
        c.steps.insert("correctness".into(), "1. Compare.".into());
        // Deserialisation cannot know the recipe's directory: nothing is read yet, and judging
        // before `prepare` is an error rather than a read against the working directory.
        let mut g = GEval::new(c).unwrap();
        let e = block_on(g.judge(&request())).unwrap_err().to_string();
        assert!(e.contains("form_prompt") && e.contains("prepare"), "{e}");
        let ctx = JudgeContext::new(dir.path());
        g.prepare(&ctx).unwrap();
        assert_eq!(
            g.form.origin(),
            dir.path().join("form.txt").display().to_string()
        );
        assert_eq!(block_on(g.judge(&request())).unwrap().score, 4.0);
        let sent = &log.lock().unwrap()[0].messages[0].content;
        assert!(
            sent.starts_with("Rate Haus for correctness from 1 to 5"),
            "{sent}"
        );

        // A missing file is found in `prepare`, named with the recipe's directory.
        let mut c = GEvalConfig::new(Scripted::new(vec![]));
        c.steps_prompt = Some("missing.txt".into());
        let mut g = GEval::new(c).unwrap();
        let e = g.prepare(&ctx).unwrap_err().to_string();
        assert!(
            e.contains(&dir.path().join("missing.txt").display().to_string()),
            "{e}"
        );
    }

    #[test]
    fn judges_with_equal_clients_share_one_after_prepare() {
        let ctx = JudgeContext::new(".");
        let mut a = GEval::new(GEvalConfig::new(Scripted::new(vec![]))).unwrap();
        let mut b = GEval::new(GEvalConfig::new(Scripted::new(vec![]))).unwrap();
        assert!(!Arc::ptr_eq(&a.config.llm, &b.config.llm));
        a.prepare(&ctx).unwrap();
        b.prepare(&ctx).unwrap();
        assert!(Arc::ptr_eq(&a.config.llm, &b.config.llm));
    }
}
