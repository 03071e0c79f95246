//! Each layer of the `openai` client, against a real HTTP server on loopback.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use lux_core::{ChatMessage, ChatRequest, LlmClient};
use lux_plugins::llm::{ModelPrice, OpenAiCompatible, ResponseFormat, usage_reports};
use serde_json::json;
use support::*;

fn hello() -> ChatRequest {
    ChatRequest::new(vec![ChatMessage::user("Moien!")])
}

fn request(text: &str) -> ChatRequest {
    ChatRequest::new(vec![ChatMessage::user(text)])
}

fn client(c: lux_plugins::OpenAiConfig) -> OpenAiCompatible {
    OpenAiCompatible::new(c).unwrap()
}

#[tokio::test]
async fn retry_after_in_seconds_is_honoured() {
    let server = MockServer::start(|r| {
        if r.attempt == 1 {
            Reply::error(429, "rate limited").header("retry-after", "1")
        } else {
            Reply::chat("ok")
        }
    });
    let c = client(client_config(&server.url()));
    let t = Instant::now();
    assert_eq!(c.chat(&hello()).await.unwrap().choices[0].content, "ok");
    let log = server.log();
    let gap = log[1].at - log[0].at;
    // The backoff alone would be ≤ 5 ms: the wait is the server's, not jitter.
    assert!(
        gap >= Duration::from_millis(990) && gap < Duration::from_millis(1400),
        "{gap:?}"
    );
    assert!(t.elapsed() < Duration::from_secs(2));
    assert_eq!(c.usage().retries, 1);
}

#[tokio::test]
async fn retry_after_as_an_http_date_is_honoured() {
    let target = SystemTime::now() + Duration::from_secs(2);
    let date = http_date(target);
    let server = MockServer::start(move |r| {
        if r.attempt == 1 {
            Reply::error(503, "maintenance").header("retry-after", &date)
        } else {
            Reply::chat("ok")
        }
    });
    let c = client(client_config(&server.url()));
    c.chat(&hello()).await.unwrap();
    let log = server.log();
    let gap = log[1].at - log[0].at;
    // The date has one-second resolution: the wait is between 1 and 2 seconds.
    assert!(
        gap >= Duration::from_millis(950) && gap <= Duration::from_millis(2300),
        "{gap:?}"
    );
}

#[tokio::test]
async fn a_retry_after_beyond_the_policy_fails_at_once() {
    let server =
        MockServer::start(|_| Reply::error(429, "daily quota").header("retry-after", "86400"));
    let c = client(client_config(&server.url()));
    let t = Instant::now();
    let e = c.chat(&hello()).await.unwrap_err().to_string();
    assert!(
        e.contains("asks to wait 86400 s") && e.contains("max_retry_after_secs"),
        "{e}"
    );
    assert!(t.elapsed() < Duration::from_secs(1));
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn budget_exhaustion_is_a_clear_error_and_counts_retries() {
    let server = MockServer::start(|_| Reply::chat("ok"));
    let mut cfg = client_config(&server.url());
    cfg.max_requests = Some(3);
    let c = client(cfg);
    for i in 0..3 {
        c.chat(&request(&i.to_string())).await.unwrap();
    }
    let e = c.chat(&request("3")).await.unwrap_err().to_string();
    assert!(
        e.contains("request budget exhausted") && e.contains("max_requests"),
        "{e}"
    );
    assert_eq!(server.requests(), 3);
    assert_eq!(c.usage().http_requests, 3);

    // Retries spend the budget too, and an exhausted budget is not retried.
    let failing = MockServer::start(|_| Reply::error(500, "down"));
    let mut cfg = client_config(&failing.url());
    cfg.max_requests = Some(2);
    let c = client(cfg);
    let e = c.chat(&hello()).await.unwrap_err().to_string();
    assert!(e.contains("request budget exhausted"), "{e}");
    assert_eq!(failing.requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_concurrency_bound_is_never_exceeded() {
    let server = MockServer::start(|_| Reply::chat("ok").delay(Duration::from_millis(40)));
    let mut cfg = client_config(&server.url());
    cfg.concurrency = 4;
    let c = Arc::new(client(cfg));
    let t = Instant::now();
    let calls = (0..40).map(|i| {
        let c = Arc::clone(&c);
        tokio::spawn(async move { c.chat(&request(&i.to_string())).await.unwrap() })
    });
    for h in futures::future::join_all(calls).await {
        h.unwrap();
    }
    assert_eq!(server.requests(), 40);
    assert_eq!(
        server.max_in_flight(),
        4,
        "the bound is reached and never passed"
    );
    assert_eq!(c.usage().max_in_flight, 4);
    // 40 requests, 4 at a time, 40 ms each: about 400 ms.
    assert!(
        t.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn slow_answers_time_out_and_are_retried() {
    let server = MockServer::start(|r| {
        if r.attempt == 1 {
            Reply::chat("late").delay(Duration::from_secs(5))
        } else {
            Reply::chat("ok")
        }
    });
    let mut cfg = client_config(&server.url());
    cfg.timeout_secs = 0.3;
    let c = client(cfg);
    let t = Instant::now();
    assert_eq!(c.chat(&hello()).await.unwrap().choices[0].content, "ok");
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());

    let always_slow = MockServer::start(|_| Reply::chat("late").delay(Duration::from_secs(5)));
    let mut cfg = client_config(&always_slow.url());
    cfg.timeout_secs = 0.2;
    cfg.retry.max_retries = 1;
    let e = client(cfg).chat(&hello()).await.unwrap_err().to_string();
    assert!(
        e.contains("gave up after 2 attempts") && e.contains("no answer within 0.2 s"),
        "{e}"
    );
    assert_eq!(always_slow.requests(), 2);
}

#[tokio::test]
async fn server_errors_retry_until_the_policy_gives_up_and_client_errors_do_not() {
    let server = MockServer::start(|_| Reply::error(500, "internal"));
    let c = client(client_config(&server.url()));
    let e = c.chat(&hello()).await.unwrap_err().to_string();
    assert!(
        e.contains("gave up after 5 attempts") && e.contains("HTTP 500"),
        "{e}"
    );
    assert_eq!(server.requests(), 5);
    assert_eq!(c.usage().totals.failed, 1);

    let server = MockServer::start(|_| Reply::error(400, "model `x` does not exist"));
    let e = client(client_config(&server.url()))
        .chat(&hello())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("HTTP 400") && e.contains("does not exist"),
        "{e}"
    );
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn broken_bodies() {
    // Truncated: the connection broke, so it is sent again.
    let server = MockServer::start(|r| {
        if r.attempt == 1 {
            Reply::chat("ok").truncated()
        } else {
            Reply::chat("ok")
        }
    });
    let c = client(client_config(&server.url()));
    assert_eq!(c.chat(&hello()).await.unwrap().choices[0].content, "ok");
    assert_eq!(server.requests(), 2);

    // Complete but not JSON: the server is not compatible; asking again will not help.
    let server = MockServer::start(|_| Reply::raw(200, "<html>gateway</html>"));
    let e = client(client_config(&server.url()))
        .chat(&hello())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("unreadable answer") && e.contains("not JSON"),
        "{e}"
    );
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn unreachable_servers_are_retried_then_reported() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cfg = client_config(&format!("http://127.0.0.1:{port}/v1"));
    cfg.retry.max_retries = 2;
    let e = client(cfg).chat(&hello()).await.unwrap_err().to_string();
    assert!(
        e.contains("gave up after 3 attempts") && e.contains("connection to"),
        "{e}"
    );
}

#[tokio::test]
async fn every_parameter_reaches_the_server_and_logprobs_come_back() {
    let server = MockServer::start(|r| {
        assert_eq!(r.path, "/v1/chat/completions");
        Reply::json(
            200,
            json!({
                "model": "served-model",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "Jo"},
                    "finish_reason": "stop",
                    "logprobs": {"content": [{"token": "Jo", "logprob": -0.05,
                        "top_logprobs": [{"token": "Jo", "logprob": -0.05}, {"token": "Nee", "logprob": -3.0}]}]}}],
                "usage": {"prompt_tokens": 1000, "completion_tokens": 500}
            }),
        )
    });
    let mut cfg = client_config(&server.url());
    cfg.temperature = Some(0.3); // a default: the request's own value wins
    cfg.top_p = Some(0.9);
    cfg.seed = Some(11);
    cfg.prices.insert(
        "test-model".into(),
        ModelPrice {
            prompt_per_million: 2.0,
            completion_per_million: 8.0,
        },
    );
    let c = client(cfg);
    let mut req = hello();
    req.temperature = Some(0.0);
    req.max_tokens = Some(5);
    req.stop = vec!["\n".into()];
    req.n = Some(1);
    req.top_logprobs = Some(2);
    req.json_schema = Some(json!({"type": "object", "properties": {"a": {"type": "string"}}}));
    let r = c.chat(&req).await.unwrap();
    let body = &server.log()[0].body;
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["temperature"], 0.0);
    assert_eq!(body["top_p"], 0.9f32 as f64);
    assert_eq!(body["seed"], 11);
    assert_eq!(body["max_tokens"], 5);
    assert_eq!(body["stop"], json!(["\n"]));
    assert_eq!(body["n"], 1);
    assert_eq!(body["logprobs"], true);
    assert_eq!(body["top_logprobs"], 2);
    assert_eq!(body["response_format"]["type"], "json_schema");
    assert_eq!(body["response_format"]["json_schema"]["strict"], true);
    assert!(
        server.log()[0].header("authorization").is_none(),
        "no key configured, none sent"
    );

    assert_eq!(r.model, "served-model");
    let lp = r.choices[0].logprobs.as_ref().unwrap();
    assert_eq!(lp[0].token, "Jo");
    assert_eq!(lp[0].top[1].token, "Nee");
    assert_eq!(lp[0].top[1].logprob, -3.0);

    let u = c.usage();
    assert_eq!(
        (u.totals.prompt_tokens, u.totals.completion_tokens),
        (1000, 500)
    );
    assert!((u.totals.cost_usd - (1000.0 * 2.0 + 500.0 * 8.0) / 1e6).abs() < 1e-12);
    assert!(
        usage_reports()
            .iter()
            .any(|r| r.base_url == server.url() && r.totals.calls == 1)
    );
    assert!(
        u.to_string()
            .contains("1000 prompt + 500 completion tokens"),
        "{u}"
    );

    // Servers without structured output: the schema stays in the prompt's hands.
    let mut cfg = client_config(&server.url());
    cfg.response_format = ResponseFormat::None;
    client(cfg).chat(&req).await.unwrap();
    assert!(server.log()[1].body.get("response_format").is_none());
}

#[tokio::test]
async fn the_cache_key_ignores_the_key_and_covers_every_parameter() {
    let server = MockServer::start(|r| Reply::chat(&format!("answer {}", r.index)));
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = client_config(&server.url());
    cfg.cache_dir = Some(dir.path().to_path_buf());
    let c = client(cfg.clone());
    let a = c.chat(&hello()).await.unwrap();
    let mut warmer = hello();
    warmer.temperature = Some(1.0);
    let b = c.chat(&warmer).await.unwrap();
    assert_ne!(a.choices[0].content, b.choices[0].content);
    assert_eq!(server.requests(), 2);
    assert!(c.cache_path(&hello()).unwrap().exists());

    // Another client on the same directory (a rerun), asking the same: no request.
    let again = client(cfg.clone());
    assert_eq!(again.chat(&hello()).await.unwrap(), a);
    assert_eq!(again.chat(&warmer).await.unwrap(), b);
    assert_eq!(server.requests(), 2);
    assert_eq!(again.usage().cache_hits, 2);
    assert_eq!(again.usage().totals.calls, 0, "cached answers cost nothing");

    // Another model is another namespace.
    let mut other = cfg;
    other.model = "other-model".into();
    client(other).chat(&hello()).await.unwrap();
    assert_eq!(server.requests(), 3);
}

#[tokio::test]
async fn https_clients_build_with_the_ring_provider() {
    // The mock server speaks plain HTTP: the TLS handshake fails, as an error, not a panic.
    let server = MockServer::start(|_| Reply::chat("ok"));
    let mut cfg = client_config(&format!("https://{}/v1", server.addr));
    cfg.retry.max_retries = 0;
    let e = client(cfg).chat(&hello()).await.unwrap_err().to_string();
    assert!(e.contains("connection to https://"), "{e}");
}
