//! [`ReverseInstruction`]: LuxInstruct's reverse-instruction generator.

use std::fmt;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use lux_core::json_answer::{parse_object, string_field};
use lux_core::prompt::{PromptSource, PromptTemplate, prompt_hash};
use lux_core::{
    ChatMessage, ChatRequest, Document, Error, Example, GenerateContext, Generation,
    InstructionGenerator, Lang, LlmClient, Rejection, Result, Seed, TaskKind, rng,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::json;

use crate::langcheck::{self, LangVerdict, LanguageCheck};
use crate::text::{excerpt, find_verbatim, normalize_ws, truncate_chars};

/// Settings of a [`ReverseInstruction`] generator, as written in a recipe:
///
/// ```toml
/// [[data.generators]]
/// type = "reverse_instruction"
/// llm = { type = "openai", base_url = "https://api.openai.com/v1", model = "gpt-4.1-mini",
///         api_key_env = "OPENAI_API_KEY", cache_dir = "cache/llm" }
/// task = "open_generation"
/// spans_per_document = 1
/// system_prompt = "prompts/my_reverse_instruction.system.txt"   # optional override
/// ```
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReverseInstructionConfig {
    /// The model that reads documents and writes instructions.
    pub llm: Box<dyn LlmClient>,
    /// The task the examples teach (`{task}` in the prompt). Default `open_generation`.
    #[serde(default = "default_task")]
    pub task: TaskKind,
    /// What an instruction of this task asks for (`{task_description}` in the prompt).
    #[serde(default = "default_task_description")]
    pub task_description: String,
    /// A file replacing the built-in system prompt (relative: to the working directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_prompt: Option<PathBuf>,
    /// A file replacing the built-in user prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_prompt: Option<PathBuf>,
    /// Spans (so examples and requests) per document. Default 1.
    #[serde(default = "default_spans")]
    pub spans_per_document: u32,
    /// Shorter documents are skipped. Default 200 characters.
    #[serde(default = "default_min_document_chars")]
    pub min_document_chars: usize,
    /// Longer documents are cut (at a paragraph boundary) before they go into the prompt.
    /// Default 6000 characters.
    #[serde(default = "default_max_document_chars")]
    pub max_document_chars: usize,
    /// Shorter spans are rejected. Default 80 characters.
    #[serde(default = "default_min_span_chars")]
    pub min_span_chars: usize,
    /// Sampling temperature; none: the client's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Completion limit. Default 1024.
    #[serde(
        default = "default_max_tokens",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_tokens: Option<u32>,
    /// How the instruction's language is checked. Default `{ type = "stopwords" }`.
    #[serde(default = "langcheck::default_check")]
    pub language_check: Box<dyn LanguageCheck>,
}

fn default_task() -> TaskKind {
    TaskKind::OPEN_GENERATION
}
fn default_task_description() -> String {
    "The instruction asks for an explanation, a description or an account of a subject, and \
     the passage is a complete answer to it."
        .into()
}
fn default_spans() -> u32 {
    1
}
fn default_min_document_chars() -> usize {
    200
}
fn default_max_document_chars() -> usize {
    6000
}
fn default_min_span_chars() -> usize {
    80
}
fn default_max_tokens() -> Option<u32> {
    Some(1024)
}

impl ReverseInstructionConfig {
    /// Settings with the defaults above, around `llm`.
    pub fn new(llm: Box<dyn LlmClient>) -> ReverseInstructionConfig {
        ReverseInstructionConfig {
            llm,
            task: default_task(),
            task_description: default_task_description(),
            system_prompt: None,
            user_prompt: None,
            spans_per_document: default_spans(),
            min_document_chars: default_min_document_chars(),
            max_document_chars: default_max_document_chars(),
            min_span_chars: default_min_span_chars(),
            temperature: None,
            max_tokens: default_max_tokens(),
            language_check: langcheck::default_check(),
        }
    }
}

/// Reverse instructions (LuxInstruct §3): the model picks a span of a native document and
/// writes, in an instruction language chosen by seed among the run's `instruction_langs`,
/// the instruction that span answers. The example's output is the span exactly as the
/// document has it; the model's text is never used as output.
///
/// Every candidate is checked, and a failed check is a [`Rejection`] with a specific
/// reason: `invalid JSON: …`, `schema: missing field instruction`, `span not in source: …`,
/// `span too short: …`, `instruction quotes the span`, `wrong language: expected fr, looks
/// like en`. A request that fails after the client's retries fails the seed (the pipeline
/// records it).
///
/// Deterministic: the instruction language and the request's sampling seed derive from the
/// recipe's seed and the document id, so a rerun asks exactly the same requests, and the
/// client's cache answers them.
pub struct ReverseInstruction {
    config: ReverseInstructionConfig,
    system: PromptTemplate,
    user: PromptTemplate,
    prompt_hash: String,
    /// Relative prompt paths from a recipe, waiting for `prepare` to know the recipe's directory.
    prompts_pending: bool,
}

impl fmt::Debug for ReverseInstruction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReverseInstruction")
            .field("config", &self.config)
            .field("system_prompt", &self.system.origin())
            .field("user_prompt", &self.user.origin())
            .field("prompt_hash", &self.prompt_hash)
            .finish()
    }
}

impl ReverseInstruction {
    /// The built-in system prompt (this crate's `prompts/reverse_instruction.system.txt`).
    pub const SYSTEM_PROMPT: &str = include_str!("../../prompts/reverse_instruction.system.txt");
    /// The built-in user prompt (this crate's `prompts/reverse_instruction.user.txt`).
    pub const USER_PROMPT: &str = include_str!("../../prompts/reverse_instruction.user.txt");

    /// The placeholders its prompts may use.
    pub const PLACEHOLDERS: &[&str] = &[
        "native_language",
        "native_lang",
        "instruction_language",
        "instruction_language_native",
        "instruction_lang",
        "task",
        "task_description",
        "title",
        "text",
        "min_span_chars",
    ];

    /// A generator of these settings: checks them and loads the prompts (relative prompt
    /// paths: from the working directory).
    pub fn new(config: ReverseInstructionConfig) -> Result<ReverseInstruction> {
        let mut generator = Self::unloaded(config)?;
        generator.load_prompts(Some(Path::new("")))?;
        Ok(generator)
    }

    /// Checks the settings; loads absolute prompt paths, leaves relative ones to `prepare`.
    fn unloaded(config: ReverseInstructionConfig) -> Result<ReverseInstruction> {
        let c = &config;
        if !(1..=16).contains(&c.spans_per_document) {
            return Err(Error::invalid(
                "spans_per_document",
                "must be within 1..=16",
            ));
        }
        if c.min_span_chars >= c.max_document_chars {
            return Err(Error::invalid(
                "min_span_chars",
                format!(
                    "must be below max_document_chars ({})",
                    c.max_document_chars
                ),
            ));
        }
        if c.max_document_chars < 100 {
            return Err(Error::invalid("max_document_chars", "must be at least 100"));
        }
        let mut generator = ReverseInstruction {
            config,
            system: PromptTemplate::builtin("", ""),
            user: PromptTemplate::builtin("", ""),
            prompt_hash: String::new(),
            prompts_pending: false,
        };
        generator.load_prompts(None)?;
        Ok(generator)
    }

    /// Loads the prompt files. With `base_dir`, relative paths are resolved against it; without,
    /// relative paths are left for [`InstructionGenerator::prepare`] (a recipe's paths are
    /// relative to the recipe, which deserialisation does not know) and absolute ones load now.
    fn load_prompts(&mut self, base_dir: Option<&Path>) -> Result<()> {
        let c = &self.config;
        let Some([system, user]) = PromptTemplate::load_all(
            [
                PromptSource {
                    path: c.system_prompt.as_deref(),
                    builtin_origin: "reverse_instruction.system (built in)",
                    builtin: Self::SYSTEM_PROMPT,
                    placeholders: Self::PLACEHOLDERS,
                },
                PromptSource {
                    path: c.user_prompt.as_deref(),
                    builtin_origin: "reverse_instruction.user (built in)",
                    builtin: Self::USER_PROMPT,
                    placeholders: Self::PLACEHOLDERS,
                },
            ],
            base_dir,
        )?
        else {
            self.prompts_pending = true;
            return Ok(());
        };
        if !user.placeholders().contains(&"text") && !system.placeholders().contains(&"text") {
            return Err(Error::invalid(
                "user_prompt",
                "the prompts must show the document: use {text} in one of them",
            ));
        }
        self.prompt_hash = prompt_hash(&[&system, &user]);
        self.system = system;
        self.user = user;
        self.prompts_pending = false;
        Ok(())
    }

    /// The settings.
    pub fn config(&self) -> &ReverseInstructionConfig {
        &self.config
    }

    /// The client it asks.
    pub fn llm(&self) -> &dyn LlmClient {
        self.config.llm.as_ref()
    }

    /// The schema answers must follow: `{"instruction": string, "span": string}`.
    pub fn answer_schema() -> serde_json::Value {
        json!({
            "type": "object",
            "properties": {
                "instruction": { "type": "string" },
                "span": { "type": "string" }
            },
            "required": ["instruction", "span"],
            "additionalProperties": false
        })
    }

    /// The instruction language of span `index` of `seed_id`.
    fn language(&self, ctx: &GenerateContext, seed_id: &str, index: u32) -> Lang {
        let key = format!("{}/{seed_id}/{index}/lang", self.name());
        ctx.instruction_langs[rng::pick(ctx.seed, &key, ctx.instruction_langs.len())].clone()
    }

    /// The request for span `index` of `doc`, in `lang`.
    fn request(
        &self,
        doc: &Document,
        text: &str,
        ctx: &GenerateContext,
        lang: &Lang,
        index: u32,
    ) -> Result<ChatRequest> {
        let en = Lang::EN;
        let native_language = ctx.language_name(&en, &doc.lang);
        let instruction_language = ctx.language_name(&en, lang);
        let instruction_language_native = ctx.language_name(lang, lang);
        let min_span = self.config.min_span_chars.to_string();
        let task = self.config.task.to_string();
        let vars: [(&str, &str); 10] = [
            ("native_language", &native_language),
            ("native_lang", doc.lang.code()),
            ("instruction_language", &instruction_language),
            ("instruction_language_native", &instruction_language_native),
            ("instruction_lang", lang.code()),
            ("task", &task),
            ("task_description", &self.config.task_description),
            ("title", doc.title.as_deref().unwrap_or("(none)")),
            ("text", text),
            ("min_span_chars", &min_span),
        ];
        let mut req = ChatRequest::new(vec![
            ChatMessage::system(self.system.render(&vars)?),
            ChatMessage::user(self.user.render(&vars)?),
        ]);
        req.temperature = self.config.temperature;
        req.max_tokens = self.config.max_tokens;
        req.seed = Some(
            rng::hash(
                ctx.seed,
                &format!("{}/{}/{index}/sample", self.name(), doc.id),
            ) & 0x7fff_ffff,
        );
        req.json_schema = Some(Self::answer_schema());
        Ok(req)
    }

    /// Checks one answer; `Err` is the rejection reason.
    fn check_answer<'d>(
        &self,
        content: &str,
        finish_reason: Option<&str>,
        source: &'d str,
        lang: &Lang,
    ) -> std::result::Result<(String, &'d str), String> {
        let obj = parse_object(content).map_err(|e| {
            if finish_reason == Some("length") {
                format!("{e} (the answer was cut at max_tokens)")
            } else {
                e
            }
        })?;
        let instruction = normalize_ws(string_field(&obj, "instruction")?);
        let span = string_field(&obj, "span")?;
        let Some(verbatim) = find_verbatim(source, span) else {
            return Err(format!("span not in source: \"{}\"", excerpt(span, 80)));
        };
        let span_chars = normalize_ws(verbatim).chars().count();
        if span_chars < self.config.min_span_chars {
            return Err(format!(
                "span too short: {span_chars} characters, min_span_chars = {}",
                self.config.min_span_chars
            ));
        }
        if instruction.contains(&normalize_ws(verbatim)) {
            return Err("instruction quotes the span: it would give the answer away".into());
        }
        if let LangVerdict::Mismatch { looks_like } =
            self.config.language_check.check(&instruction, lang)
        {
            return Err(format!(
                "wrong language: expected {lang}, looks like {looks_like}"
            ));
        }
        Ok((instruction, verbatim.trim()))
    }

    /// One span: `Ok(Err(reason))` is a rejection, `Err` a failed request.
    async fn one(
        &self,
        seed: &Seed,
        doc: &Document,
        text: &str,
        ctx: &GenerateContext,
        index: u32,
    ) -> Result<std::result::Result<Example, String>> {
        let lang = self.language(ctx, &doc.id, index);
        let request = self.request(doc, text, ctx, &lang, index)?;
        let response = self.config.llm.chat(&request).await?;
        let Some(choice) = response.choices.first() else {
            return Ok(Err("empty response: the server sent no choices".into()));
        };
        let (instruction, output) = match self.check_answer(
            &choice.content,
            choice.finish_reason.as_deref(),
            &doc.text,
            &lang,
        ) {
            Ok(x) => x,
            Err(reason) => return Ok(Err(reason)),
        };
        let name = self.name();
        let task = self.config.task.clone();
        Ok(Ok(Example {
            id: rng::id(&format!("{}/{name}/{}/{task}/{index}", ctx.seed, seed.id())),
            task,
            instruction,
            instruction_lang: lang.clone(),
            input: None,
            output: output.to_string(),
            output_lang: doc.lang.clone(),
            source: String::new(),
            license: String::new(),
            seed_id: seed.id().to_string(),
            generator: name,
            template: format!("{}/{}", lang.code(), self.prompt_hash),
        }
        .with_provenance(seed.provenance())))
    }
}

impl Serialize for ReverseInstruction {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.config.serialize(s)
    }
}

impl<'de> Deserialize<'de> for ReverseInstruction {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        ReverseInstruction::unloaded(ReverseInstructionConfig::deserialize(d)?)
            .map_err(serde::de::Error::custom)
    }
}

#[typetag::serde(name = "reverse_instruction")]
#[async_trait]
impl InstructionGenerator for ReverseInstruction {
    fn accepts(&self, seed: &Seed) -> bool {
        matches!(seed, Seed::Document(d) if d.text.trim().chars().count() >= self.config.min_document_chars)
    }

    fn prepare(&mut self, ctx: &GenerateContext) -> Result<()> {
        if self.prompts_pending {
            self.load_prompts(Some(&ctx.base_dir))?;
        }
        self.config.language_check.prepare(&ctx.base_dir)
    }

    async fn generate(&self, seed: &Seed, ctx: &GenerateContext) -> Result<Generation> {
        let Seed::Document(doc) = seed else {
            return Ok(Generation::default());
        };
        if self.prompts_pending {
            return Err(Error::invalid(
                "system_prompt",
                "relative prompt paths are resolved against the recipe's directory by \
                 `prepare`, which was not called",
            ));
        }
        if doc.lang.primary() != ctx.native.primary()
            || ctx.instruction_langs.is_empty()
            || doc.text.trim().chars().count() < self.config.min_document_chars
        {
            return Ok(Generation::default());
        }
        let text = truncate_chars(&doc.text, self.config.max_document_chars);
        let spans = (0..self.config.spans_per_document).map(|i| self.one(seed, doc, text, ctx, i));
        let mut generation = Generation::default();
        for outcome in futures::future::join_all(spans).await {
            match outcome? {
                Ok(example) => generation.examples.push(example),
                Err(reason) => {
                    tracing::debug!("{}: seed {}: rejected: {reason}", self.name(), seed.id());
                    generation.rejected.push(Rejection {
                        generator: self.name(),
                        reason,
                    });
                }
            }
        }
        Ok(generation)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use async_trait::async_trait;
    use lux_core::{ChatChoice, ChatResponse, Provenance, Usage};
    use serde::{Deserialize, Serialize};

    use super::*;

    /// Answers every request with a fixed text.
    #[derive(Debug, Serialize, Deserialize)]
    struct Fixed {
        answer: String,
    }

    #[typetag::serde(name = "test_fixed_reverse")]
    #[async_trait]
    impl LlmClient for Fixed {
        async fn chat(&self, _: &ChatRequest) -> Result<ChatResponse> {
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

    const TEXT: &str = "Lëtzebuerg ass e klengt Land an der Mëtt vun Europa, tëscht der Belsch, \
        Däitschland a Frankräich.\n\nD'Haaptstad ass d'Stad Lëtzebuerg. Si ass de Sëtz vun \
        der Regierung a vu ville europäeschen Institutiounen, dorënner dem Europäesche \
        Geriichtshaff.";

    fn doc() -> Seed {
        Seed::Document(Document {
            id: "lux".into(),
            lang: Lang::LB,
            title: Some("Lëtzebuerg".into()),
            text: TEXT.into(),
            provenance: Provenance::new("wiki", "CC-BY-SA-4.0"),
            metadata: BTreeMap::new(),
        })
    }

    fn run(answer: serde_json::Value, lang: Lang) -> Generation {
        let answer = match answer {
            serde_json::Value::String(s) => s,
            v => v.to_string(),
        };
        let mut c = ReverseInstructionConfig::new(Box::new(Fixed { answer }));
        c.min_span_chars = 40;
        let g = ReverseInstruction::new(c).unwrap();
        let ctx = GenerateContext::new(1, Lang::LB, vec![lang]);
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(g.generate(&doc(), &ctx))
            .unwrap()
    }

    fn reason(g: &Generation) -> &str {
        assert!(g.examples.is_empty(), "{g:?}");
        &g.rejected[0].reason
    }

    #[test]
    fn accepts_a_verbatim_span_and_keeps_the_source_text() {
        let g = run(
            json!({"instruction": "What is the capital of Luxembourg and what is there?",
                   "span": "D'Haaptstad ass d'Stad Lëtzebuerg.   Si ass de Sëtz vun der Regierung"}),
            Lang::EN,
        );
        let ex = &g.examples[0];
        assert_eq!(
            ex.output,
            "D'Haaptstad ass d'Stad Lëtzebuerg. Si ass de Sëtz vun der Regierung"
        );
        assert_eq!(ex.instruction_lang, Lang::EN);
        assert_eq!(ex.output_lang, Lang::LB);
        assert_eq!(ex.task, TaskKind::OPEN_GENERATION);
        assert_eq!(ex.license, "CC-BY-SA-4.0");
        assert!(ex.template.starts_with("en/"));
    }

    #[test]
    fn each_failure_has_its_reason() {
        let span = "D'Haaptstad ass d'Stad Lëtzebuerg. Si ass de Sëtz vun der Regierung";
        let g = run(json!({"span": span}), Lang::EN);
        assert_eq!(reason(&g), "schema: missing field instruction");
        let g = run(json!("{\"instruction\": \"Tell"), Lang::EN);
        assert!(reason(&g).starts_with("invalid JSON: "), "{g:?}");
        let g = run(
            json!({"instruction": "Tell me about the capital.", "span": "Paris ass d'Haaptstad vu Frankräich, et ass eng grouss Stad."}),
            Lang::EN,
        );
        assert!(
            reason(&g).starts_with("span not in source: \"Paris ass"),
            "{g:?}"
        );
        let g = run(
            json!({"instruction": "Tell me about the capital of the country.", "span": span}),
            Lang::FR,
        );
        assert_eq!(reason(&g), "wrong language: expected fr, looks like en");
        let g = run(
            json!({"instruction": "Tell me about the capital.", "span": "D'Haaptstad ass"}),
            Lang::EN,
        );
        assert!(
            reason(&g).starts_with("span too short: 15 characters"),
            "{g:?}"
        );
        let g = run(
            json!({"instruction": format!("Translate: {span}"), "span": span}),
            Lang::EN,
        );
        assert!(
            reason(&g).starts_with("instruction quotes the span"),
            "{g:?}"
        );
    }

    #[test]
    fn recipe_table_and_prompt_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.txt");
        std::fs::write(&bad, "Write in {instruction_language}: {txet}").unwrap();
        let table = format!(
            "type = \"reverse_instruction\"\nuser_prompt = {:?}\nllm = {{ type = \"test_fixed_reverse\", answer = \"\" }}",
            bad.display().to_string()
        );
        let e = toml::from_str::<Box<dyn InstructionGenerator>>(&table)
            .unwrap_err()
            .to_string();
        assert!(e.contains("{txet}") && e.contains("bad.txt"), "{e}");

        let g: Box<dyn InstructionGenerator> = toml::from_str(
            "type = \"reverse_instruction\"\ntask = \"paraphrase\"\nllm = { type = \"test_fixed_reverse\", answer = \"\" }",
        )
        .unwrap();
        let v = serde_json::to_value(&g).unwrap();
        assert_eq!(v["task"], "paraphrase");
        assert_eq!(v["llm"]["type"], "test_fixed_reverse");
        assert_eq!(v["language_check"]["type"], "stopwords");
        let _back: Box<dyn InstructionGenerator> = serde_json::from_value(v).unwrap();
    }
}
