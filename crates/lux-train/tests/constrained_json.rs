//! Constrained JSON decoding: every answer that ends by itself parses and follows the schema.
//!
//! - a random-logits "model" over a small fake vocabulary (many seeds, several schemas, greedy
//!   and sampled): the mask alone must keep any choice of tokens on a valid document;
//! - a tiny random Llama through [`generate_json`] (batched) and through `LocalLlm`;
//! - SmolLM2 as a LUXELLA judge (skipped with the reason when the model is not fetched).

use std::time::Instant;

use lux_core::rng::SplitMix64;
use lux_core::{ChatMessage, ChatRequest, LlmClient};
use lux_train::generate::{
    FinishReason, JsonSchema, Sampler, SamplingConfig, TokenMask, TokenVocabulary, generate_json,
};
use lux_train::gguf::find_smollm2;
use lux_train::local_llm::{LocalLlm, LocalLlmConfig};
use lux_train::model::Llama;
use lux_train::tokenizer::Tokenizer;
use serde_json::{Value, json};

fn judge_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "score": {"type": "integer", "minimum": 1, "maximum": 5},
            "reason": {"type": "string"}
        },
        "required": ["score", "reason"],
        "additionalProperties": false
    })
}

/// LUXELLA question generation's schema (`QuestionGenerator::schema`), with bounds added so
/// random choices end in reasonable time.
fn questions_schema() -> Value {
    json!({
        "type": "object",
        "properties": {"questions": {"type": "array", "minItems": 1, "maxItems": 3, "items": {
            "type": "object",
            "properties": {
                "question": {"type": "string", "minLength": 1},
                "reference_answer": {"type": "string"},
                "category": {"type": "string", "enum": ["vocabulary"]},
                "difficulty": {"type": "string", "enum": ["beginner"]},
                "topic": {"type": "string", "maxLength": 12}
            },
            "required": ["question", "reference_answer", "category", "difficulty", "topic"],
            "additionalProperties": false
        }}},
        "required": ["questions"],
        "additionalProperties": false
    })
}

/// Short values only, so that a model choosing bytes at random finishes documents.
fn short_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "score": {"type": "integer", "minimum": -3, "maximum": 250},
            "label": {"enum": ["good", "bad", "good enough", 7, null]},
            "ok": {"type": "boolean"},
            "tags": {"type": "array", "maxItems": 2, "items": {"type": "string", "maxLength": 3}},
            "weight": {"type": "number"}
        },
        "required": ["score", "label", "ok", "tags", "weight"]
    })
}

/// Every printable ASCII character, plus multi-byte pieces as a BPE vocabulary has them
/// (JSON punctuation runs, words, whitespace, escapes, a two-byte character whole and split),
/// plus an end-of-sequence token without text (id 0).
fn fake_vocabulary() -> TokenVocabulary {
    let mut tokens: Vec<Vec<u8>> = vec![Vec::new()];
    tokens.extend((0x20u8..0x7f).map(|b| vec![b]));
    for piece in [
        "{\"",
        "\"}",
        "\":",
        "\": ",
        "\", \"",
        ", \"",
        "\",\"",
        "[{",
        "}]",
        "},{",
        "}, {",
        "\n",
        "\n  ",
        "  ",
        "\\n",
        "\\\"",
        "\\u00e9",
        "true",
        "false",
        "null",
        "12",
        "-1",
        "0.5",
        "e+",
        "score",
        "reason",
        "question",
        "good",
        "ë",
        "Lëtzebuerg",
        " the",
        "\t",
    ] {
        tokens.push(piece.as_bytes().to_vec());
    }
    tokens.push(vec![0xc3]);
    tokens.push(vec![0xab]);
    TokenVocabulary::new(tokens)
}

/// Decodes with random logits under the mask; the text, and whether it ended by itself.
fn random_document(
    schema: &JsonSchema,
    vocabulary: &TokenVocabulary,
    config: &SamplingConfig,
    seed: u64,
) -> (Vec<u8>, bool) {
    let mut rng = SplitMix64::new(seed);
    let mut sampler = Sampler::new(config, seed as usize);
    let mut mask = TokenMask::new(schema, vocabulary, [0]);
    let mut text = Vec::new();
    for _ in 0..3000 {
        let mut logits: Vec<f32> = (0..vocabulary.len())
            .map(|_| (rng.unit() as f32 - 0.5) * 8.0)
            .collect();
        mask.apply(&mut logits).expect("some token is allowed");
        let token = sampler.sample(&logits);
        if token == 0 {
            return (text, true);
        }
        mask.accept(token).expect("a sampled token is allowed");
        text.extend_from_slice(vocabulary.bytes(token));
        if mask.is_finished() {
            return (text, true);
        }
    }
    (text, false)
}

#[test]
fn every_finished_random_document_parses_and_follows_the_schema() {
    let vocabulary = fake_vocabulary();
    let sampled = SamplingConfig {
        temperature: 1.0,
        top_p: 0.95,
        ..SamplingConfig::default()
    };
    for (name, raw) in [
        ("judge", judge_schema()),
        ("questions", questions_schema()),
        ("short", short_schema()),
        ("json_object", json!({"type": "object"})),
    ] {
        let schema = JsonSchema::compile(&raw).unwrap();
        let mut finished = 0;
        let runs = 60;
        for seed in 0..runs {
            let config = if seed % 4 == 0 {
                SamplingConfig::greedy(0)
            } else {
                sampled.clone()
            };
            let (text, ended) = random_document(&schema, &vocabulary, &config, seed);
            if !ended {
                continue;
            }
            finished += 1;
            let shown = String::from_utf8_lossy(&text);
            let value: Value = serde_json::from_slice(&text)
                .unwrap_or_else(|e| panic!("{name} seed {seed}: {e}: {shown}"));
            schema
                .validate(&value)
                .unwrap_or_else(|e| panic!("{name} seed {seed}: {e}: {shown}"));
        }
        // Random choices may wander (an object of any keys can nest), but most end.
        assert!(
            finished * 2 > runs,
            "{name}: only {finished} of {runs} ended"
        );
    }
}

#[test]
fn a_document_starts_with_whitespace_or_the_opening_brace() {
    let vocabulary = fake_vocabulary();
    let schema = JsonSchema::compile(&judge_schema()).unwrap();
    let mut mask = TokenMask::new(&schema, &vocabulary, [0]);
    let mut logits = vec![0.0; vocabulary.len()];
    mask.apply(&mut logits).unwrap();
    let allowed: Vec<String> = (0..vocabulary.len() as u32)
        .filter(|&i| logits[i as usize].is_finite())
        .map(|i| String::from_utf8_lossy(vocabulary.bytes(i)).into_owned())
        .collect();
    // One space, or a newline and an indent (not two spaces, not a tab first).
    assert_eq!(allowed, [" ", "{", "{\"", "\n", "\n  "]);
}

#[test]
fn tiny_model_writes_valid_documents_in_a_batch() {
    let dir = tempfile::tempdir().unwrap();
    lux_train::testing::write_tiny_llama(dir.path(), 3).unwrap();
    let device = burn::tensor::Device::flex();
    let model = Llama::from_pretrained(dir.path(), &device).unwrap();
    let tok = Tokenizer::from_file(dir.path().join("tokenizer.json")).unwrap();
    let vocabulary = TokenVocabulary::from_tokenizer(&tok, model.config().vocab_size).unwrap();
    let schema = JsonSchema::compile(&short_schema()).unwrap();
    let prompt = tok
        .encode("<|im_start|>user\nJSON please<|im_end|>\n", false)
        .unwrap();
    let config = SamplingConfig {
        temperature: 1.0,
        seed: 9,
        max_new_tokens: 400,
        stop_token_ids: tok.turn_end_ids(),
        ..SamplingConfig::default()
    };
    let out = generate_json(
        &model,
        &tok,
        &vec![prompt; 4],
        &config,
        &schema,
        &vocabulary,
    )
    .unwrap();
    let mut stopped = 0;
    for g in &out {
        if g.finish_reason == FinishReason::Stop {
            stopped += 1;
            let value: Value =
                serde_json::from_str(&g.text).unwrap_or_else(|e| panic!("{e}: {}", g.text));
            schema
                .validate(&value)
                .unwrap_or_else(|e| panic!("{e}: {}", g.text));
        }
    }
    assert!(stopped >= 2, "{out:?}");
    // A vocabulary of another size is refused by name.
    let small = TokenVocabulary::new(vec![b"{".to_vec()]);
    let e = generate_json(&model, &tok, &[vec![5]], &config, &schema, &small).unwrap_err();
    assert!(e.to_string().contains("vocabulary"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_client_enforces_the_request_schema() {
    let dir = tempfile::tempdir().unwrap();
    lux_train::testing::write_tiny_llama(dir.path(), 5).unwrap();
    let table = json!({"type": "local", "path": dir.path(), "threads": 1, "max_tokens": 400});
    let client: Box<dyn LlmClient> = serde_json::from_value(table).unwrap();
    let schema = short_schema();
    let req = ChatRequest {
        temperature: Some(0.8),
        seed: Some(1),
        n: Some(3),
        json_schema: Some(schema.clone()),
        ..ChatRequest::new(vec![ChatMessage::user("Answer in JSON.")])
    };
    let resp = client.chat(&req).await.unwrap();
    let compiled = JsonSchema::compile(&schema).unwrap();
    let mut stopped = 0;
    for c in &resp.choices {
        if c.finish_reason.as_deref() == Some("stop") {
            stopped += 1;
            let value: Value = serde_json::from_str(&c.content).unwrap();
            compiled.validate(&value).unwrap();
        }
    }
    assert!(stopped >= 1, "{resp:?}");

    // A schema outside the subset is an error naming the keyword.
    let bad = ChatRequest {
        json_schema: Some(json!({"type": "object", "properties": {"a": {"oneOf": []}}})),
        ..req.clone()
    };
    let e = client.chat(&bad).await.unwrap_err();
    assert!(
        e.to_string().contains("json_schema.properties.a.oneOf"),
        "{e}"
    );

    // `constrained = false` ignores the schema (and is kept in the recipe table).
    let mut config = LocalLlmConfig::from_path(dir.path());
    config.constrained = false;
    config.max_tokens = 24;
    let free = LocalLlm::new(config).unwrap();
    assert!(
        serde_json::to_string(&free)
            .unwrap()
            .contains("\"constrained\":false")
    );
    let answer = free.chat_blocking(&bad).unwrap();
    assert_eq!(answer.choices.len(), 3);
}

#[tokio::test]
async fn smollm2_judges_in_valid_json() {
    let Some(path) = find_smollm2() else {
        eprintln!(
            "skipping: SmolLM2 GGUF not found (run `bash scripts/fetch-models.sh`, or set LUX_MODELS)"
        );
        return;
    };
    let mut config = LocalLlmConfig::from_path(path);
    config.max_tokens = 96;
    let client = LocalLlm::new(config).unwrap();
    let system = "You are a careful, impartial evaluator of answers written by an AI assistant. \
                  You judge one criterion at a time, on a scale from 1 (worst) to 5 (best), and \
                  you explain your score in one or two sentences.\n\nAnswer with one JSON object \
                  and nothing else, in this form:\n{\"score\": <a whole number from 1 to 5>, \
                  \"reason\": \"<why, briefly>\"}";
    let user = "Criterion: correctness\nIs the answer a correct translation into \
                Luxembourgish?\n\nInstruction given to the assistant:\n<<<\nTranslate into \
                Luxembourgish: \"Thank you very much.\"\n>>>\n\nReference answer: Merci \
                villmools.\n\nThe assistant's answer:\n<<<\nMerci villmools.\n>>>\n\nScore the \
                assistant's answer on \"correctness\" from 1 to 5.";
    let req = ChatRequest {
        temperature: Some(0.0),
        json_schema: Some(judge_schema()),
        ..ChatRequest::new(vec![ChatMessage::system(system), ChatMessage::user(user)])
    };
    let start = Instant::now();
    let resp = client.chat(&req).await.unwrap();
    let answer = &resp.choices[0];
    eprintln!(
        "SmolLM2 judge ({:.1} s, {} tokens): {}",
        start.elapsed().as_secs_f32(),
        resp.usage.completion_tokens,
        answer.content
    );
    assert_eq!(answer.finish_reason.as_deref(), Some("stop"), "{answer:?}");
    let value: Value = serde_json::from_str(&answer.content).unwrap();
    let score = value["score"].as_i64().unwrap();
    assert!((1..=5).contains(&score), "{value}");
    assert!(value["reason"].is_string(), "{value}");
}
