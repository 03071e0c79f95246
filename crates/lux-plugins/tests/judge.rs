//! `llm_judge` (from `lux_eval::judge`, through this crate's re-export) against a real HTTP
//! server: scores, reasons, and errors on bad answers.

mod support;

use lux_core::{
    ChatMessage, ChatRequest, Criteria, Judge, JudgeRequest, LlmClient, ScoreMethod, ScoreScale,
};
use lux_plugins::judges::{LlmJudge, LlmJudgeConfig};
use lux_plugins::llm::OpenAiCompatible;
use serde_json::json;
use support::*;

fn request(response: &str) -> JudgeRequest {
    JudgeRequest {
        instruction: "Erzielt mer eppes iwwer Lëtzebuerg.".into(),
        response: response.into(),
        reference: None,
        criteria: Criteria {
            name: "fluency".into(),
            description: "Is the answer fluent, natural Luxembourgish?".into(),
            scale: ScoreScale::ONE_TO_FIVE,
        },
    }
}

/// The server answers with whatever the response text asks for.
fn server() -> MockServer {
    MockServer::start(|r| {
        let user = r.user_text();
        let answer = if user.contains("GOOD") {
            json!({"score": 4, "reason": "Fluent, one awkward word."}).to_string()
        } else if user.contains("HIGH") {
            json!({"score": 7, "reason": "Excellent!"}).to_string()
        } else if user.contains("HALF") {
            json!({"score": 3.5, "reason": "Hmm."}).to_string()
        } else if user.contains("TEXT") {
            "I would give it a four out of five.".to_string()
        } else {
            json!({"reason": "forgot the score"}).to_string()
        };
        Reply::chat(&answer)
    })
}

#[tokio::test]
async fn scores_and_reasons_are_parsed_and_checked() {
    let server = server();
    let table = format!(
        "type = \"llm_judge\"\nllm = {{ type = \"openai\", base_url = \"{}\", model = \"judge-model\" }}",
        server.url()
    );
    let judge: Box<dyn Judge> = toml::from_str(&table).unwrap();
    assert_eq!(judge.id(), "llm_judge:judge-model");

    let j = judge.judge(&request("GOOD")).await.unwrap();
    assert_eq!(j.score, 4.0);
    assert_eq!(j.reason.as_deref(), Some("Fluent, one awkward word."));
    assert_eq!(j.method, ScoreMethod::Parsed);
    assert_eq!(j.scale, ScoreScale::ONE_TO_FIVE);
    let body = &server.log()[0].body;
    assert_eq!(body["temperature"], 0.0);
    assert_eq!(
        body["response_format"]["json_schema"]["schema"]["properties"]["score"]["type"],
        "integer"
    );
    let prompt = server.log()[0].user_text();
    assert!(
        prompt.contains("fluency")
            && prompt.contains("from 1 to 5")
            && prompt.contains("Reference answer: (none)"),
        "{prompt}"
    );

    let e = judge.judge(&request("HIGH")).await.unwrap_err().to_string();
    assert!(e.contains("score 7 is outside the scale 1–5"), "{e}");
    let e = judge.judge(&request("HALF")).await.unwrap_err().to_string();
    assert!(e.contains("not a whole number"), "{e}");
    let e = judge.judge(&request("TEXT")).await.unwrap_err().to_string();
    assert!(
        e.contains("unparseable answer (invalid JSON") && e.contains("four out of five"),
        "{e}"
    );
    let e = judge
        .judge(&request("NOTHING"))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("schema: missing field score"), "{e}");
}

#[tokio::test]
async fn a_judge_and_a_generator_share_one_client() {
    let server = server();
    let mut cfg = client_config(&server.url());
    cfg.concurrency = 2;
    let client = OpenAiCompatible::new(cfg).unwrap();
    let judge = LlmJudge::new(LlmJudgeConfig::new(Box::new(client.clone()))).unwrap();
    judge.judge(&request("GOOD")).await.unwrap();
    client
        .chat(&ChatRequest::new(vec![ChatMessage::user("GOOD")]))
        .await
        .unwrap();
    // One accounting for both: the clone shares the built client.
    assert_eq!(client.usage().totals.calls, 2);
    assert_eq!(client.usage().totals.prompt_tokens, 200);
}
