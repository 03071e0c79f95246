//! What constrained decoding changes for SmolLM2-135M-Instruct in lux's JSON tasks (issue 16,
//! item 4): how many LUXELLA question-generation answers and LLM-judge answers parse, first
//! with `constrained = false` (the schema ignored, as before), then constrained, on the same
//! requests; plus the masking cost per token. Writes the tables to stdout (they are copied
//! into `docs/constrained-decoding.md`).
//!
//! ```text
//! bash scripts/fetch-models.sh                 # once
//! cargo run --example constrained_json         # 20 requests of each kind
//! cargo run --example constrained_json -- 5    # 5 of each
//! ```
//!
//! Question generation uses [`QuestionGenerator`]'s own requests (its prompt, schema, seed
//! and temperature 0.9), one question per request, cells taken across the categories and
//! difficulties, `max_tokens` 256 (a constrained answer takes ~60 tokens; an unconstrained
//! one that runs past 256 is not heading for JSON).
//! The judge uses [`LlmJudge`]'s requests (greedy, its schema) on LUXELLA-style items: ten
//! translation questions, each with its reference and with a wrong answer.
//!
//! An answer is counted as: *JSON* when the whole text parses; *read* when lux's lenient
//! reader ([`parse_object`], which also takes a fenced or embedded object) finds an object;
//! *schema* when that object follows the request's schema; *accepted* when lux would also
//! use it: for questions, every field a non-empty string and the cell's category and
//! difficulty (as [`QuestionGenerator`] requires), for the judge, a whole-number score on the
//! 1–5 scale (as [`LlmJudge`] requires).

use std::time::Instant;

use burn::tensor::Device;
use lux::core::json_answer::parse_object;
use lux::core::{ChatRequest, Criteria, JudgeRequest, LlmClient, ScoreScale};
use lux::eval::judge::{LlmJudge, LlmJudgeConfig};
use lux::eval::luxella::{DEFAULT_CATEGORIES, DEFAULT_DIFFICULTIES};
use lux::eval::luxella::{QuestionGenerator, QuestionGeneratorConfig};
use lux::train::base_model::shared_model;
use lux::train::generate::{JsonSchema, TokenMask, TokenVocabulary};
use lux::train::gguf::find_smollm2;
use lux::train::local_llm::{LocalLlm, LocalLlmConfig};
use serde_json::Value;

/// Completion limit of a question-generation request.
const QUESTION_MAX_TOKENS: u32 = 256;

/// Ten LUXELLA-style translation items: (English, reference Luxembourgish, a wrong answer).
const ITEMS: &[(&str, &str, &str)] = &[
    (
        "Thank you very much.",
        "Merci villmools.",
        "Thank you very much.",
    ),
    ("Good morning!", "Gudde Moien!", "Gutt Nuecht!"),
    (
        "Where is the train station?",
        "Wou ass d'Gare?",
        "Wéi ass d'Wieder?",
    ),
    ("I am hungry.", "Ech hunn Honger.", "Ech sinn midd."),
    (
        "The weather is nice today.",
        "D'Wieder ass haut schéin.",
        "Ech iessen e Bam.",
    ),
    ("How are you?", "Wéi geet et dir?", "Wou wunns du?"),
    (
        "My name is Anna.",
        "Ech heeschen Anna.",
        "Anna ass meng Schwëster.",
    ),
    ("See you tomorrow.", "Bis muer.", "Bis gëschter."),
    (
        "I speak a little Luxembourgish.",
        "Ech schwätze e bëssen Lëtzebuergesch.",
        "Je parle français.",
    ),
    (
        "The book is on the table.",
        "D'Buch läit um Dësch.",
        "D'Kaz schléift.",
    ),
];

/// Counts of one kind of request in one mode.
#[derive(Debug, Default)]
struct Tally {
    requests: usize,
    json: usize,
    read: usize,
    schema: usize,
    accepted: usize,
    stopped: usize,
    completion_tokens: u64,
    seconds: f64,
}

impl Tally {
    fn row(&self, kind: &str, mode: &str) -> String {
        let n = self.requests;
        format!(
            "| {kind} | {mode} | {}/{n} | {}/{n} | {}/{n} | {}/{n} | {}/{n} | {:.1} | {:.0} |",
            self.json,
            self.read,
            self.schema,
            self.accepted,
            self.stopped,
            self.completion_tokens as f64 / n.max(1) as f64,
            1000.0 * self.seconds / self.completion_tokens.max(1) as f64,
        )
    }
}

/// Sends `req`, classifies the answer, and keeps it for the masking measurement.
async fn ask(
    client: &LocalLlm,
    req: &ChatRequest,
    tally: &mut Tally,
    answers: &mut Vec<(Value, String)>,
    judge: bool,
) -> lux::core::Result<()> {
    let start = Instant::now();
    let resp = client.chat(req).await?;
    tally.seconds += start.elapsed().as_secs_f64();
    tally.requests += 1;
    tally.completion_tokens += resp.usage.completion_tokens;
    let choice = &resp.choices[0];
    let text = choice.content.as_str();
    tally.stopped += usize::from(choice.finish_reason.as_deref() == Some("stop"));
    tally.json += usize::from(serde_json::from_str::<Value>(text).is_ok());
    let schema_value = req.json_schema.clone().unwrap_or(Value::Null);
    if let Ok(obj) = parse_object(text) {
        tally.read += 1;
        let value = Value::Object(obj);
        if JsonSchema::compile(&schema_value)?.validate(&value).is_ok() {
            tally.schema += 1;
        }
        if accepted(&value, req, judge) {
            tally.accepted += 1;
        }
    }
    answers.push((schema_value, text.to_owned()));
    Ok(())
}

/// Whether lux would use the answer: a judge's score is a whole number from 1 to 5; every
/// question has its five fields as non-empty strings, in the cell asked for (the category
/// and difficulty are the schema's only enum values).
fn accepted(value: &Value, req: &ChatRequest, judge: bool) -> bool {
    if judge {
        let score = value.get("score").and_then(Value::as_f64);
        return score.is_some_and(|s| s.fract() == 0.0 && (1.0..=5.0).contains(&s));
    }
    let item_schema = req
        .json_schema
        .as_ref()
        .map(|s| &s["properties"]["questions"]["items"]["properties"]);
    let wanted = |field: &str| item_schema.and_then(|p| p[field]["enum"][0].as_str());
    let Some(Value::Array(questions)) = value.get("questions") else {
        return false;
    };
    !questions.is_empty()
        && questions.iter().all(|q| {
            [
                "question",
                "reference_answer",
                "category",
                "difficulty",
                "topic",
            ]
            .iter()
            .all(|f| q[*f].as_str().is_some_and(|s| !s.trim().is_empty()))
                && ["category", "difficulty"]
                    .iter()
                    .all(|f| q[*f].as_str().map(str::trim) == wanted(f))
        })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> lux::core::Result<()> {
    let count: usize = match std::env::args().nth(1) {
        Some(n) => n
            .parse()
            .map_err(|_| lux::core::Error::invalid("count", format!("`{n}` is not a number")))?,
        None => 20,
    };
    let Some(path) = find_smollm2() else {
        eprintln!("SmolLM2 GGUF not found: run `bash scripts/fetch-models.sh` (or set LUX_MODELS)");
        return Ok(());
    };
    let criteria = Criteria {
        name: "correctness".into(),
        description: "Is the answer a correct translation into Luxembourgish?".into(),
        scale: ScoreScale::ONE_TO_FIVE,
    };
    let judge_items: Vec<JudgeRequest> = ITEMS
        .iter()
        .flat_map(|(en, lb, wrong)| {
            [lb, wrong].map(|response| JudgeRequest {
                instruction: format!("Translate into Luxembourgish: \"{en}\""),
                response: response.to_string(),
                reference: Some(lb.to_string()),
                criteria: criteria.clone(),
            })
        })
        .cycle()
        .take(count)
        .collect();

    let mut rows = Vec::new();
    let mut constrained_answers = Vec::new();
    for constrained in [false, true] {
        let mode = if constrained {
            "constrained"
        } else {
            "unconstrained"
        };
        let mut config = LocalLlmConfig::from_path(&path);
        config.constrained = constrained;
        let client = LocalLlm::new(config.clone())?;
        let mut gen_config = QuestionGeneratorConfig::new(Box::new(LocalLlm::new(config.clone())?));
        gen_config.max_tokens = QUESTION_MAX_TOKENS;
        let generator = QuestionGenerator::new(gen_config)?;
        let judge = LlmJudge::new(LlmJudgeConfig::new(Box::new(LocalLlm::new(config)?)))?;

        let mut answers = Vec::new();
        let mut questions = Tally::default();
        for i in 0..count {
            // Cells 17 apart (coprime with the 64 cells): distinct categories and
            // difficulties, no cell twice in the first 64 requests.
            let cells = DEFAULT_CATEGORIES.len() * DEFAULT_DIFFICULTIES.len();
            let cell = (i * 17) % cells;
            let category = DEFAULT_CATEGORIES[cell % DEFAULT_CATEGORIES.len()];
            let difficulty = DEFAULT_DIFFICULTIES[cell / DEFAULT_CATEGORIES.len()];
            let topic = generator.topic(category, difficulty, 0).to_string();
            let req = generator.request(category, difficulty, &topic, 1, 0)?;
            ask(&client, &req, &mut questions, &mut answers, false).await?;
            eprintln!(
                "[{mode}] question {i}: {}",
                answers.last().map_or("", |a| a.1.as_str())
            );
        }
        let mut judged = Tally::default();
        for (i, item) in judge_items.iter().enumerate() {
            ask(
                &client,
                &judge.request(item)?,
                &mut judged,
                &mut answers,
                true,
            )
            .await?;
            eprintln!(
                "[{mode}] judge {i}: {}",
                answers.last().map_or("", |a| a.1.as_str())
            );
        }
        rows.push(questions.row("LUXELLA questions", mode));
        rows.push(judged.row("LLM judge", mode));
        if constrained {
            constrained_answers = answers;
        }
    }

    println!(
        "| requests | decoding | JSON | read | schema | accepted | ended by itself | tokens/answer | ms/token |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for row in &rows {
        println!("{row}");
    }
    println!();
    mask_cost(&path, &constrained_answers)
}

/// Replays the constrained answers token by token, timing the mask of each step.
fn mask_cost(path: &std::path::Path, answers: &[(Value, String)]) -> lux::core::Result<()> {
    let loaded = shared_model(path, &Device::flex())?;
    let tok = &loaded.tokenizer;
    let start = Instant::now();
    let vocab = TokenVocabulary::from_tokenizer(tok, loaded.model.config().vocab_size)?;
    let build = start.elapsed();
    let mut times = Vec::new();
    for (schema, text) in answers {
        let schema = JsonSchema::compile(schema)?;
        let mut mask = TokenMask::new(&schema, &vocab, tok.turn_end_ids());
        let mut logits = vec![0f32; vocab.len()];
        for id in tok.encode(text, false)? {
            let t = Instant::now();
            mask.apply(&mut logits)?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            if mask.accept(id).is_err() {
                // Re-encoding may split the text differently at a cut (`length`) answer's
                // end; the steps timed so far stand.
                break;
            }
        }
    }
    times.sort_by(f64::total_cmp);
    let quantile = |q: f64| {
        times
            .get(((times.len() as f64 - 1.0) * q) as usize)
            .copied()
    };
    println!(
        "mask: {} steps, {:.2} ms/token on average, median {:.2} ms, 99th percentile {:.2} ms, \
         worst {:.2} ms; vocabulary index built in {:.0} ms",
        times.len(),
        times.iter().sum::<f64>() / times.len().max(1) as f64,
        quantile(0.5).unwrap_or(0.0),
        quantile(0.99).unwrap_or(0.0),
        quantile(1.0).unwrap_or(0.0),
        build.as_secs_f64() * 1000.0
    );
    Ok(())
}
