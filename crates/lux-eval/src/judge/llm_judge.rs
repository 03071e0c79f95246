//! [`LlmJudge`]: asks a model for a score and a reason, as JSON.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use lux_core::json_answer::{number_field, parse_object};
use lux_core::prompt::PromptSource;
use lux_core::{
    ChatMessage, ChatRequest, Error, Judge, JudgeContext, JudgeRequest, Judgement, LlmClient,
    PromptTemplate, Result, ScoreMethod, ScoreScale,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Value, json};

use crate::text::{excerpt, number};

/// Settings of an [`LlmJudge`], as written in a recipe:
///
/// ```toml
/// [[judges]]
/// type = "llm_judge"
/// llm = { type = "openai", base_url = "https://api.openai.com/v1", model = "gpt-5-mini",
///         api_key_env = "OPENAI_API_KEY", cache_dir = "cache/llm" }
/// ```
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmJudgeConfig {
    /// The judging model; [`Judge::prepare`] swaps in the run's client of equal settings.
    #[serde(with = "lux_core::plugin::judge_context::shared_llm")]
    pub llm: Arc<dyn LlmClient>,
    /// The judge's id in reports; default `llm_judge:<model>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// A file replacing the built-in system prompt (relative: to the recipe's directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_prompt: Option<PathBuf>,
    /// A file replacing the built-in user prompt (relative: to the recipe's directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_prompt: Option<PathBuf>,
    /// Sampling temperature. Default 0.
    #[serde(
        default = "default_temperature",
        skip_serializing_if = "Option::is_none"
    )]
    pub temperature: Option<f32>,
    /// Completion limit. Default 512.
    #[serde(
        default = "default_max_tokens",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_tokens: Option<u32>,
    /// Scores must be whole numbers. Default true.
    #[serde(default = "yes")]
    pub integer_scores: bool,
}

fn default_temperature() -> Option<f32> {
    Some(0.0)
}
fn default_max_tokens() -> Option<u32> {
    Some(512)
}
fn yes() -> bool {
    true
}

impl LlmJudgeConfig {
    /// Settings with the defaults above, around `llm`.
    pub fn new(llm: Box<dyn LlmClient>) -> LlmJudgeConfig {
        LlmJudgeConfig {
            llm: Arc::from(llm),
            id: None,
            system_prompt: None,
            user_prompt: None,
            temperature: default_temperature(),
            max_tokens: default_max_tokens(),
            integer_scores: true,
        }
    }
}

/// A judge that asks a model to score a response on a criterion's scale and say why, as
/// `{"score": 4, "reason": "..."}` (sent as a JSON schema where the server supports it).
///
/// An answer that is not such an object, a score that is not a (whole) number, or one
/// outside the scale, is an error naming the judge and quoting the answer: never a default
/// score. The score is [`ScoreMethod::Parsed`].
pub struct LlmJudge {
    config: LlmJudgeConfig,
    system: PromptTemplate,
    user: PromptTemplate,
    /// Relative prompt paths, waiting for [`Judge::prepare`] to know the recipe's directory.
    prompts_pending: bool,
}

impl fmt::Debug for LlmJudge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LlmJudge")
            .field("config", &self.config)
            .field("system_prompt", &self.system.origin())
            .field("user_prompt", &self.user.origin())
            .finish()
    }
}

impl LlmJudge {
    /// The built-in system prompt (this crate's `prompts/llm_judge.system.txt`).
    pub const SYSTEM_PROMPT: &str = include_str!("../../prompts/llm_judge.system.txt");
    /// The built-in user prompt (this crate's `prompts/llm_judge.user.txt`).
    pub const USER_PROMPT: &str = include_str!("../../prompts/llm_judge.user.txt");

    /// The placeholders its prompts may use.
    pub const PLACEHOLDERS: &[&str] = &[
        "criterion",
        "criterion_description",
        "instruction",
        "response",
        "reference",
        "min",
        "max",
    ];

    /// A judge of these settings: loads and checks the prompts given by absolute paths;
    /// relative ones are a recipe's, read by [`Judge::prepare`] against its directory.
    pub fn new(config: LlmJudgeConfig) -> Result<LlmJudge> {
        let mut judge = LlmJudge {
            config,
            system: PromptTemplate::builtin("", ""),
            user: PromptTemplate::builtin("", ""),
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
                    path: c.system_prompt.as_deref(),
                    builtin_origin: "llm_judge.system (built in)",
                    builtin: Self::SYSTEM_PROMPT,
                    placeholders: Self::PLACEHOLDERS,
                },
                PromptSource {
                    path: c.user_prompt.as_deref(),
                    builtin_origin: "llm_judge.user (built in)",
                    builtin: Self::USER_PROMPT,
                    placeholders: Self::PLACEHOLDERS,
                },
            ],
            base_dir,
        )?;
        self.prompts_pending = prompts.is_none();
        if let Some([system, user]) = prompts {
            (self.system, self.user) = (system, user);
        }
        Ok(())
    }

    /// The settings.
    pub fn config(&self) -> &LlmJudgeConfig {
        &self.config
    }

    /// The schema answers must follow.
    pub fn answer_schema(&self) -> Value {
        let score_type = if self.config.integer_scores {
            "integer"
        } else {
            "number"
        };
        json!({
            "type": "object",
            "properties": {
                "score": { "type": score_type },
                "reason": { "type": "string" }
            },
            "required": ["score", "reason"],
            "additionalProperties": false
        })
    }

    /// The schema for answers on `scale`: with integer scores and whole-number bounds, the
    /// score's range is part of the schema, so a server or local model that enforces schemas
    /// (llama.cpp's grammars, `LocalLlm`'s constrained decoding) can only write a score on the
    /// scale. Fractional scores get no range: a range on `number` is not enforceable by
    /// token masking, and the reader still checks it.
    pub fn answer_schema_on(&self, scale: ScoreScale) -> Value {
        let mut schema = self.answer_schema();
        let whole = |x: f64| x.fract() == 0.0 && x.abs() < 1e15;
        if self.config.integer_scores && whole(scale.min) && whole(scale.max) {
            schema["properties"]["score"]["minimum"] = json!(scale.min as i64);
            schema["properties"]["score"]["maximum"] = json!(scale.max as i64);
        }
        schema
    }

    /// The request judging `r`.
    pub fn request(&self, r: &JudgeRequest) -> Result<ChatRequest> {
        if self.prompts_pending {
            return Err(Error::invalid(
                "llm_judge.user_prompt",
                format!(
                    "{}: relative prompt paths are read by `prepare` (against the recipe's \
                     directory), which was not called",
                    self.id()
                ),
            ));
        }
        let (min, max) = (number(r.criteria.scale.min), number(r.criteria.scale.max));
        let vars: [(&str, &str); 7] = [
            ("criterion", &r.criteria.name),
            ("criterion_description", &r.criteria.description),
            ("instruction", &r.instruction),
            ("response", &r.response),
            ("reference", r.reference.as_deref().unwrap_or("(none)")),
            ("min", &min),
            ("max", &max),
        ];
        let mut req = ChatRequest::new(vec![
            ChatMessage::system(self.system.render(&vars)?),
            ChatMessage::user(self.user.render(&vars)?),
        ]);
        req.temperature = self.config.temperature;
        req.max_tokens = self.config.max_tokens;
        req.json_schema = Some(self.answer_schema_on(r.criteria.scale));
        Ok(req)
    }

    /// Reads an answer into a score and a reason.
    fn read(
        &self,
        answer: &str,
        r: &JudgeRequest,
    ) -> std::result::Result<(f64, Option<String>), String> {
        let obj = parse_object(answer)?;
        let score = number_field(&obj, "score")?;
        if self.config.integer_scores && score.fract() != 0.0 {
            return Err(format!("schema: score {score} is not a whole number"));
        }
        let scale = r.criteria.scale;
        if score < scale.min || score > scale.max {
            return Err(format!(
                "score {} is outside the scale {}–{}",
                number(score),
                number(scale.min),
                number(scale.max)
            ));
        }
        let reason = match obj.get("reason") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
            Some(_) => return Err("schema: field reason is not a string".into()),
        };
        Ok((score, reason))
    }
}

impl Serialize for LlmJudge {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.config.serialize(s)
    }
}

impl<'de> Deserialize<'de> for LlmJudge {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        LlmJudge::new(LlmJudgeConfig::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[typetag::serde(name = "llm_judge")]
#[async_trait]
impl Judge for LlmJudge {
    async fn judge(&self, request: &JudgeRequest) -> Result<Judgement> {
        let response = self.config.llm.chat(&self.request(request)?).await?;
        let answer = response
            .choices
            .first()
            .map(|c| c.content.as_str())
            .unwrap_or_default();
        let (score, reason) = self.read(answer, request).map_err(|why| {
            Error::plugin(
                self.id(),
                format!("unparseable answer ({why}): \"{}\"", excerpt(answer, 200)),
            )
        })?;
        Ok(Judgement {
            judge: self.id(),
            score,
            scale: request.criteria.scale,
            reason,
            method: ScoreMethod::Parsed,
        })
    }

    fn id(&self) -> String {
        self.config
            .id
            .clone()
            .unwrap_or_else(|| format!("llm_judge:{}", self.config.llm.model()))
    }

    /// Reads relative prompt files against the recipe's directory and takes the run's
    /// client of equal settings.
    fn prepare(&mut self, ctx: &JudgeContext) -> Result<()> {
        if self.prompts_pending {
            self.load_prompts(Some(&ctx.base_dir))?;
        }
        ctx.share_llm(&mut self.config.llm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;
    use lux_core::{ChatChoice, ChatResponse, Criteria, Usage};
    use std::sync::{Arc, Mutex};

    type Log = Arc<Mutex<Vec<ChatRequest>>>;

    /// An in-process client giving one fixed answer, recording requests.
    #[derive(Debug, Serialize, Deserialize)]
    struct Fixed {
        answer: String,
        #[serde(skip)]
        seen: Log,
    }

    #[typetag::serde(name = "llm_judge_test_fixed")]
    #[async_trait]
    impl LlmClient for Fixed {
        async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse> {
            self.seen.lock().unwrap().push(request.clone());
            Ok(ChatResponse {
                choices: vec![ChatChoice {
                    content: self.answer.clone(),
                    finish_reason: Some("stop".into()),
                    logprobs: None,
                }],
                usage: Usage::default(),
                model: "fixed".into(),
            })
        }
        fn model(&self) -> String {
            "fixed".into()
        }
    }

    fn judge(answer: &str) -> (LlmJudge, Log) {
        let seen = Log::default();
        let client = Box::new(Fixed {
            answer: answer.into(),
            seen: Arc::clone(&seen),
        });
        (LlmJudge::new(LlmJudgeConfig::new(client)).unwrap(), seen)
    }

    fn request() -> JudgeRequest {
        JudgeRequest {
            instruction: "Erzielt mer eppes iwwer Lëtzebuerg.".into(),
            response: "Lëtzebuerg ass e klengt Land.".into(),
            reference: None,
            criteria: Criteria {
                name: "fluency".into(),
                description: "Is the answer fluent, natural Luxembourgish?".into(),
                scale: ScoreScale::ONE_TO_FIVE,
            },
        }
    }

    #[test]
    fn a_fractional_scale_or_fractional_scores_put_no_range_in_the_schema() {
        let (j, _) = judge("{}");
        let half = ScoreScale { min: 0.5, max: 5.0 };
        assert!(
            j.answer_schema_on(half)["properties"]["score"]
                .get("minimum")
                .is_none()
        );
        let mut config = LlmJudgeConfig::new(Box::new(Fixed {
            answer: "{}".into(),
            seen: Log::default(),
        }));
        config.integer_scores = false;
        let j = LlmJudge::new(config).unwrap();
        let score = &j.answer_schema_on(ScoreScale::ONE_TO_FIVE)["properties"]["score"];
        assert_eq!(score["type"], "number");
        assert!(score.get("minimum").is_none());
    }

    #[test]
    fn score_and_reason_are_read() {
        let (j, seen) = judge(
            r#"```json
{"score": 4, "reason": " Fluent. "}
```"#,
        );
        assert_eq!(j.id(), "llm_judge:fixed");
        let out = block_on(j.judge(&request())).unwrap();
        assert_eq!(out.score, 4.0);
        assert_eq!(out.reason.as_deref(), Some("Fluent."));
        assert_eq!(out.method, ScoreMethod::Parsed);
        let sent = seen.lock().unwrap();
        assert_eq!(sent[0].temperature, Some(0.0));
        let score = &sent[0].json_schema.as_ref().unwrap()["properties"]["score"];
        assert_eq!(score["type"], "integer");
        assert_eq!(
            (&score["minimum"], &score["maximum"]),
            (&json!(1), &json!(5))
        );
        let user = &sent[0].messages[1].content;
        assert!(
            user.contains("fluency") && user.contains("from 1 to 5") && user.contains("(none)"),
            "{user}"
        );
    }

    #[test]
    fn bad_answers_are_errors_naming_the_judge() {
        for (answer, why) in [
            (
                r#"{"score": 7, "reason": "!"}"#,
                "score 7 is outside the scale 1–5",
            ),
            (r#"{"score": 3.5, "reason": "?"}"#, "not a whole number"),
            (
                "I would give it a\n four.",
                "unparseable answer (invalid JSON",
            ),
            (r#"{"reason": "no score"}"#, "schema: missing field score"),
            (
                r#"{"score": 3, "reason": 1}"#,
                "field reason is not a string",
            ),
        ] {
            let e = block_on(judge(answer).0.judge(&request()))
                .unwrap_err()
                .to_string();
            assert!(e.contains(why) && e.contains("llm_judge:fixed"), "{e}");
        }
        let e = block_on(judge("I would give it a\n four.").0.judge(&request()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"I would give it a four.\""), "{e}");
    }

    #[test]
    fn recipe_table_and_prompt_checks() {
        let j: Box<dyn Judge> = toml::from_str(
            "type = \"llm_judge\"\nid = \"lj\"\ninteger_scores = false\nllm = { type = \"llm_judge_test_fixed\", answer = \"{\\\"score\\\": 2.5}\" }",
        )
        .unwrap();
        assert_eq!(j.id(), "lj");
        let out = block_on(j.judge(&request())).unwrap();
        assert_eq!((out.score, out.reason), (2.5, None));

        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("user.txt");
        std::fs::write(&bad, "Rate {answer}").unwrap();
        let mut c = LlmJudgeConfig::new(Box::new(Fixed {
            answer: String::new(),
            seen: Log::default(),
        }));
        c.user_prompt = Some(bad);
        let e = LlmJudge::new(c).unwrap_err().to_string();
        assert!(e.contains("user.txt") && e.contains("{answer}"), "{e}");
    }

    #[test]
    fn relative_prompts_wait_for_prepare_and_equal_clients_are_shared() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("user.txt"),
            "Score {response} on {criterion} ({min}-{max}).",
        )
        .unwrap();
        let table = r#"type = "llm_judge"
user_prompt = "user.txt"
llm = { type = "llm_judge_test_fixed", answer = "{\"score\": 3}" }"#;
        let mut j: Box<dyn Judge> = toml::from_str(table).unwrap();
        let e = block_on(j.judge(&request())).unwrap_err().to_string();
        assert!(e.contains("user_prompt") && e.contains("prepare"), "{e}");
        let ctx = JudgeContext::new(dir.path());
        j.prepare(&ctx).unwrap();
        assert_eq!(block_on(j.judge(&request())).unwrap().score, 3.0);

        let (mut a, _) = judge("{}");
        let (mut b, _) = judge("{}");
        a.prepare(&ctx).unwrap();
        b.prepare(&ctx).unwrap();
        assert!(Arc::ptr_eq(&a.config.llm, &b.config.llm));
        let (mut other, _) = judge("{\"score\": 1}");
        other.prepare(&ctx).unwrap();
        assert!(!Arc::ptr_eq(&a.config.llm, &other.config.llm));
    }
}
