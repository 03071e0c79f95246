//! Servers that differ: each way an OpenAI-compatible server rejects or ignores an optional
//! field, scripted on a loopback server, and what the `openai` client and the judges do
//! about it (the `Capabilities` layer): fall back and count it in the usage report, or fail
//! naming the endpoint and the field.

mod support;

use lux_core::{
    ChatMessage, ChatRequest, Criteria, Judge, JudgeRequest, LlmClient, ScoreMethod, ScoreScale,
};
use lux_eval::judge::{GEval, GEvalConfig, GEvalFallback, GEvalMode, LlmJudge, LlmJudgeConfig};
use lux_plugins::llm::{OpenAiCompatible, ResponseFormat};
use serde_json::{Value, json};
use support::*;

fn client(server: &MockServer) -> OpenAiCompatible {
    OpenAiCompatible::new(client_config(&server.url())).unwrap()
}

fn json_request() -> ChatRequest {
    let mut r = ChatRequest::new(vec![ChatMessage::user("Score it.")]);
    r.json_schema = Some(json!({"type": "object", "properties": {"score": {"type": "integer"}}}));
    r
}

fn sampled(n: u32) -> ChatRequest {
    let mut r = ChatRequest::new(vec![ChatMessage::user("Score it.")]);
    r.n = Some(n);
    r.temperature = Some(1.0);
    r.seed = Some(100);
    r
}

/// A 200 answer of `k` choices `"0"`, `"1"`, …, with usage.
fn choices(k: usize) -> Reply {
    let list: Vec<Value> = (0..k)
        .map(|i| {
            json!({"index": i, "message": {"role": "assistant", "content": i.to_string()},
                   "finish_reason": "stop"})
        })
        .collect();
    Reply::json(
        200,
        json!({"model": "test-model", "choices": list,
               "usage": {"prompt_tokens": 10, "completion_tokens": k}}),
    )
}

fn format_of(r: &Incoming) -> &str {
    r.body["response_format"]["type"].as_str().unwrap_or("none")
}

#[tokio::test]
async fn a_rejected_json_schema_is_sent_again_as_json_object_and_remembered() {
    // llama.cpp's older servers: "response_format type must be one of "text" or "json_object"".
    let server = MockServer::start(|r| match format_of(r) {
        "json_schema" => Reply::error(
            400,
            "response_format type must be one of \"text\" or \"json_object\", but got: json_schema",
        ),
        _ => Reply::chat("{\"score\": 4}"),
    });
    let c = client(&server);
    for _ in 0..3 {
        assert_eq!(
            c.chat(&json_request()).await.unwrap().choices[0].content,
            "{\"score\": 4}"
        );
    }
    let formats: Vec<String> = server
        .log()
        .iter()
        .map(|r| format_of(r).to_string())
        .collect();
    assert_eq!(
        formats,
        ["json_schema", "json_object", "json_object", "json_object"]
    );
    let usage = c.usage();
    assert_eq!(usage.fallbacks.response_format_json_object, 3);
    assert_eq!(usage.fallbacks.text_for_json, 0);
    assert_eq!(usage.totals.calls, 3);
    assert!(
        usage
            .to_string()
            .contains("fallbacks: response_format_json_object 3"),
        "{usage}"
    );
    // A request without a schema is not affected.
    c.chat(&ChatRequest::new(vec![ChatMessage::user("hi")]))
        .await
        .unwrap();
    assert_eq!(c.usage().fallbacks.response_format_json_object, 3);
}

#[tokio::test]
async fn a_server_that_takes_neither_format_gets_none_and_text_is_counted() {
    let server = MockServer::start(|r| match format_of(r) {
        "none" => Reply::chat("The score is 4."),
        other => Reply::error(422, &format!("unsupported response_format {other}")),
    });
    let c = client(&server);
    assert_eq!(
        c.chat(&json_request()).await.unwrap().choices[0].content,
        "The score is 4."
    );
    let formats: Vec<String> = server
        .log()
        .iter()
        .map(|r| format_of(r).to_string())
        .collect();
    assert_eq!(formats, ["json_schema", "json_object", "none"]);
    let f = c.usage().fallbacks;
    assert_eq!((f.response_format_none, f.text_for_json), (1, 1));

    // The LUXELLA/LLM judge reads that text as unparsed: a failure naming the judge, no score.
    let judge = LlmJudge::new(LlmJudgeConfig::new(Box::new(c.clone()))).unwrap();
    let e = judge.judge(&judge_request()).await.unwrap_err().to_string();
    assert!(
        e.contains("unparseable answer") && e.contains("llm_judge:test-model"),
        "{e}"
    );
    assert_eq!(c.usage().fallbacks.text_for_json, 2);
}

#[tokio::test]
async fn other_rejections_are_not_mistaken_for_a_format_problem() {
    let server = MockServer::start(|_| Reply::error(400, "messages: field required"));
    let c = client(&server);
    let e = c.chat(&json_request()).await.unwrap_err().to_string();
    assert!(
        e.contains("HTTP 400") && e.contains("messages: field required"),
        "{e}"
    );
    assert_eq!(server.requests(), 1);
    assert!(c.usage().fallbacks.is_empty());
}

#[tokio::test]
async fn an_n_above_the_stated_limit_is_split() {
    // llama.cpp with 2 parallel slots.
    let server = MockServer::start(|r| {
        let n = r.body["n"].as_u64().unwrap_or(1);
        if n > 2 {
            Reply::error(
                400,
                &format!("Field 'n': Value must be between 1 <= value <= 2, but got {n}"),
            )
        } else {
            choices(n as usize)
        }
    });
    let c = client(&server);
    let r = c.chat(&sampled(5)).await.unwrap();
    assert_eq!(r.choices.len(), 5);
    assert_eq!(r.usage.completion_tokens, 5);
    let r = c.chat(&sampled(5)).await.unwrap();
    assert_eq!(r.choices.len(), 5);
    let log = server.log();
    let ns: Vec<Option<u64>> = log.iter().map(|r| r.body["n"].as_u64()).collect();
    // Refused once; then 2 + 2 + 1, twice, without asking for 5 again.
    assert_eq!(
        ns,
        [Some(5), Some(2), Some(2), None, Some(2), Some(2), None]
    );
    // Every part samples anew: its own seed.
    let seeds: Vec<Option<u64>> = log[1..4].iter().map(|r| r.body["seed"].as_u64()).collect();
    assert_eq!(seeds, [Some(100), Some(101), Some(102)]);
    let usage = c.usage();
    assert_eq!(
        (usage.fallbacks.n_split, usage.fallbacks.n_topped_up),
        (2, 0)
    );
    assert_eq!(usage.totals.calls, 2);
    assert_eq!(usage.http_requests, 7);
}

#[tokio::test]
async fn an_n_refused_without_a_limit_is_halved_until_accepted() {
    let server = MockServer::start(|r| match r.body["n"].as_u64() {
        Some(n) if n > 1 => Reply::error(400, "n is not supported by this backend"),
        _ => choices(1),
    });
    let c = client(&server);
    assert_eq!(c.chat(&sampled(4)).await.unwrap().choices.len(), 4);
    let ns: Vec<Option<u64>> = server.log().iter().map(|r| r.body["n"].as_u64()).collect();
    assert_eq!(ns, [Some(4), Some(2), None, None, None, None]);
    assert_eq!(c.usage().fallbacks.n_split, 1);
}

#[tokio::test]
async fn a_server_that_ignores_n_is_asked_again_for_the_rest() {
    // Ollama-like: `n` accepted, one choice answered.
    let server = MockServer::start(|_| choices(1));
    let c = client(&server);
    let r = c.chat(&sampled(3)).await.unwrap();
    assert_eq!(r.choices.len(), 3);
    let log = server.log();
    let asked: Vec<(Option<u64>, Option<u64>)> = log
        .iter()
        .map(|r| (r.body["n"].as_u64(), r.body["seed"].as_u64()))
        .collect();
    assert_eq!(
        asked,
        [(Some(3), Some(100)), (None, Some(101)), (None, Some(102))]
    );
    let f = c.usage().fallbacks;
    assert_eq!((f.n_topped_up, f.n_split), (1, 0));
}

#[tokio::test]
async fn an_endpoint_that_answers_no_choices_is_named() {
    let server = MockServer::start(|r| match r.body["n"].as_u64() {
        Some(_) => Reply::json(200, json!({"choices": [], "model": "m"})),
        None => choices(1),
    });
    let c = client(&server);
    let e = c.chat(&sampled(3)).await.unwrap_err().to_string();
    // The wire layer already refuses an empty `choices`, naming the URL.
    assert!(e.contains(&server.url()) && e.contains("choices"), "{e}");
}

fn judge_request() -> JudgeRequest {
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

fn g_eval(llm: OpenAiCompatible, mode: GEvalMode, fallback: GEvalFallback) -> GEval {
    let mut c = GEvalConfig::new(Box::new(llm) as Box<dyn LlmClient>);
    c.mode = mode;
    c.fallback = fallback;
    c.n = 4;
    c.steps.insert("correctness".into(), "1. Compare.".into());
    GEval::new(c).unwrap()
}

#[tokio::test]
async fn g_eval_on_a_server_that_ignores_logprobs_falls_back_and_both_count_it() {
    // `logprobs` accepted, no log-probs in the answer; `n` limited to 2.
    let server = MockServer::start(|r| match r.body["n"].as_u64() {
        Some(n) if n > 2 => Reply::error(400, "'n' must be at most 2"),
        Some(n) => {
            let list: Vec<Value> = (0..n)
                .map(|_| json!({"message": {"content": "4"}, "finish_reason": "stop"}))
                .collect();
            Reply::json(200, json!({"choices": list}))
        }
        None => Reply::chat("4"),
    });
    let c = client(&server);
    let g = g_eval(
        c.clone(),
        GEvalMode::ProbabilityWeighted,
        GEvalFallback::SampleMean,
    );
    let j = g.judge(&judge_request()).await.unwrap();
    assert_eq!((j.score, j.method), (4.0, ScoreMethod::SampleMean { n: 4 }));
    assert!(
        j.reason
            .unwrap()
            .contains("fallback from probability_weighted (the server returned no log-probs)")
    );
    assert_eq!(g.fallbacks(), 1);
    let f = c.usage().fallbacks;
    assert_eq!((f.logprobs_missing, f.n_split), (1, 1));

    // fallback = "error": no score, an error naming the judge and why.
    let g = g_eval(
        c.clone(),
        GEvalMode::ProbabilityWeighted,
        GEvalFallback::Error,
    );
    let e = g.judge(&judge_request()).await.unwrap_err().to_string();
    assert!(
        e.contains("no log-probs") && e.contains("fallback = error"),
        "{e}"
    );
    assert_eq!(c.usage().fallbacks.logprobs_missing, 2);
}

#[tokio::test]
async fn a_configured_weaker_format_is_used_from_the_start() {
    let server = MockServer::start(|_| Reply::chat("{\"score\": 2}"));
    let mut config = client_config(&server.url());
    config.response_format = ResponseFormat::JsonObject;
    let c = OpenAiCompatible::new(config).unwrap();
    c.chat(&json_request()).await.unwrap();
    assert_eq!(format_of(&server.log()[0]), "json_object");
    // What the recipe asked for is not a fallback.
    assert!(c.usage().fallbacks.is_empty());
}
