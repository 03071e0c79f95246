//! The `local` LLM client end to end: a tiny random model saved as a Hugging Face directory
//! (config, safetensors, tokenizer with a chat template), and SmolLM2 when fetched.

use std::path::Path;

use lux_core::{ChatMessage, ChatRequest, LlmClient};
use lux_train::generate::{SamplingConfig, generate};
use lux_train::gguf::find_smollm2;
use lux_train::local_llm::{LocalLlm, LocalLlmConfig};
use lux_train::model::Llama;
use lux_train::tokenizer::Tokenizer;

/// Writes a tiny random Llama with a byte-level tokenizer as an HF model directory.
fn write_tiny_model(dir: &Path) {
    lux_train::testing::write_tiny_llama(dir, 8).unwrap();
}

fn request(temperature: f32, n: u32, top_logprobs: Option<u8>) -> ChatRequest {
    ChatRequest {
        temperature: Some(temperature),
        max_tokens: Some(8),
        seed: Some(4),
        n: Some(n),
        top_logprobs,
        ..ChatRequest::new(vec![
            ChatMessage::system("Be brief."),
            ChatMessage::user("Hello there"),
        ])
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiny_model_answers_through_the_llm_client_trait() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_model(dir.path());
    let table = serde_json::json!({"type": "local", "path": dir.path(), "threads": 1});
    let client: Box<dyn LlmClient> = serde_json::from_value(table).unwrap();
    assert!(client.model().starts_with("local:"));

    // n samples with log-probs.
    let req = request(1.0, 3, Some(2));
    let resp = client.chat(&req).await.unwrap();
    assert_eq!(resp.choices.len(), 3);
    let (model, tok) = (
        Llama::from_pretrained(dir.path(), &burn::tensor::Device::flex()).unwrap(),
        Tokenizer::from_file(dir.path().join("tokenizer.json")).unwrap(),
    );
    let prompt_text = tok.apply_chat_template(&req.messages, true).unwrap();
    assert!(prompt_text.ends_with("<|im_start|>assistant\n"));
    let prompt = tok.encode(&prompt_text, false).unwrap();
    assert_eq!(resp.usage.prompt_tokens, prompt.len() as u64);
    let mut completion = 0;
    for choice in &resp.choices {
        let reason = choice.finish_reason.as_deref().unwrap();
        assert!(reason == "stop" || reason == "length", "{reason}");
        let lps = choice.logprobs.as_ref().unwrap();
        assert!(lps.len() <= 8);
        assert!(lps.iter().all(|l| l.logprob <= 0.0 && l.top.len() == 2));
        assert!(lps.iter().all(|l| l.top[0].logprob >= l.logprob - 1e-6));
        completion += lps.len() as u64 + u64::from(reason == "stop");
    }
    assert_eq!(resp.usage.completion_tokens, completion);
    assert!(
        resp.choices
            .windows(2)
            .any(|w| w[0].logprobs != w[1].logprobs),
        "three samples should not all be equal"
    );
    // Same seed, same answers; requests are deterministic and served one at a time.
    let (a, b) = tokio::join!(client.chat(&req), client.chat(&req));
    assert_eq!(a.unwrap(), resp);
    assert_eq!(b.unwrap(), resp);

    // Greedy: what `generate` gives on the same model and chat prompt.
    let greedy = client.chat(&request(0.0, 2, None)).await.unwrap();
    assert!(greedy.choices[0].logprobs.is_none());
    assert_eq!(greedy.choices[0], greedy.choices[1]);
    let config = SamplingConfig {
        stop_token_ids: vec![tok.token_id("<|endoftext|>").unwrap()],
        ..SamplingConfig::greedy(8)
    };
    let want = generate(&model, &tok, &[prompt], &config).unwrap();
    assert_eq!(greedy.choices[0].content, want[0].text);
}

#[tokio::test]
async fn bad_requests_and_missing_models_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let client = LocalLlm::new(LocalLlmConfig::from_path(dir.path().join("missing"))).unwrap();
    let e = client.chat(&request(0.0, 1, None)).await.unwrap_err();
    assert!(e.to_string().contains("missing"), "{e}");
    let e = client.chat(&request(0.0, 0, None)).await.unwrap_err();
    assert!(e.to_string().contains("invalid n"), "{e}");
}

#[tokio::test]
async fn smollm2_answers_offline() {
    if find_smollm2().is_none() {
        eprintln!(
            "skipping: SmolLM2 GGUF not found (run `bash scripts/fetch-models.sh`, or set LUX_MODELS)"
        );
        return;
    }
    let client: Box<dyn LlmClient> =
        serde_json::from_str(r#"{"type": "local", "model": "smollm2", "max_tokens": 32}"#).unwrap();
    let req = ChatRequest {
        temperature: Some(0.0),
        top_logprobs: Some(1),
        ..ChatRequest::new(vec![ChatMessage::user("What is the capital of France?")])
    };
    let resp = client.chat(&req).await.unwrap();
    let choice = &resp.choices[0];
    eprintln!(
        "{:?} {:?} {:?}",
        choice.content, choice.finish_reason, resp.usage
    );
    assert!(choice.content.contains("Paris"), "{:?}", choice.content);
    assert_eq!(choice.finish_reason.as_deref(), Some("stop"));
    let tokens: String = choice
        .logprobs
        .as_ref()
        .unwrap()
        .iter()
        .map(|l| l.token.as_str())
        .collect();
    assert_eq!(tokens, choice.content);
    assert_eq!(
        resp.usage.completion_tokens,
        choice.logprobs.as_ref().unwrap().len() as u64 + 1
    );
    assert_eq!(resp.model, "local:smollm2");
}
