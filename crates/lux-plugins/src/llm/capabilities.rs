//! [`Capabilities`]: the layer that copes with what an OpenAI-compatible server does not
//! support, learns it once per endpoint, and counts every fallback.
//!
//! Servers differ in the optional fields of a chat-completions request. Some reject a field
//! with an HTTP 400 naming it; some accept it and ignore it. Each case is detected from the
//! answer or the error, never assumed from the server's name:
//!
//! | the server | detected by | what lux does | counted as |
//! |---|---|---|---|
//! | rejects `response_format: json_schema` | HTTP 400/422 naming `response_format` or the schema | sends that request again with `json_object`, then without `response_format`; later requests start from what worked | `response_format_json_object`, `response_format_none` |
//! | refuses `n` above its limit (llama.cpp: its parallel slots) | HTTP 400/422 naming `n` | splits the request into requests of at most the limit the message states (else half) and merges their choices | `n_split` |
//! | answers fewer choices than `n` (ignores `n`) | `choices.len() < n` | asks again for the missing ones (with another seed) | `n_topped_up` |
//! | ignores `logprobs` / `top_logprobs` | no log-probs in the answer | passes the answer on: the caller decides (G-Eval falls back or fails) | `logprobs_missing` |
//! | ignores `response_format` | text where JSON was asked | passes the answer on: the caller reads it as unparsed | `text_for_json` |
//!
//! Where no fallback exists (a server that refuses `n = 1`, or rejects a request even without
//! `response_format`) the request fails with an error naming the endpoint, the model and the
//! field. The counts are part of the client's [`UsageReport`](super::UsageReport), so a run
//! report says, per endpoint, how many requests needed which fallback.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};

use async_trait::async_trait;
use lux_core::{ChatRequest, ChatResponse, Usage};
use serde::{Deserialize, Serialize};

use super::{ChatService, HttpError, ResponseFormat};
use crate::LlmError;

/// What one endpoint (base URL and model) was found to accept, shared by the
/// [`Capabilities`] layer, which learns it, and the
/// [`HttpTransport`](super::HttpTransport), which writes requests by it.
#[derive(Debug)]
pub struct EndpointCapabilities {
    /// The [`ResponseFormat`] the settings ask for.
    configured: ResponseFormat,
    /// The [`ResponseFormat`] requests are sent with now, as `format_code`.
    response_format: AtomicU8,
    /// The largest `n` the server accepts (`u32::MAX` until it refuses one).
    max_n: AtomicU32,
}

fn format_code(f: ResponseFormat) -> u8 {
    match f {
        ResponseFormat::JsonSchema => 0,
        ResponseFormat::JsonObject => 1,
        ResponseFormat::None => 2,
    }
}

fn format_of(code: u8) -> ResponseFormat {
    match code {
        0 => ResponseFormat::JsonSchema,
        1 => ResponseFormat::JsonObject,
        _ => ResponseFormat::None,
    }
}

/// The next weaker way of asking for JSON: `json_schema` → `json_object` → none.
fn weaker(f: ResponseFormat) -> Option<ResponseFormat> {
    match f {
        ResponseFormat::JsonSchema => Some(ResponseFormat::JsonObject),
        ResponseFormat::JsonObject => Some(ResponseFormat::None),
        ResponseFormat::None => None,
    }
}

impl EndpointCapabilities {
    /// An endpoint assumed to accept `response_format` as configured and any `n`.
    pub fn new(response_format: ResponseFormat) -> EndpointCapabilities {
        EndpointCapabilities {
            configured: response_format,
            response_format: AtomicU8::new(format_code(response_format)),
            max_n: AtomicU32::new(u32::MAX),
        }
    }

    /// How a request's JSON schema is sent now.
    pub fn response_format(&self) -> ResponseFormat {
        format_of(self.response_format.load(Ordering::Relaxed))
    }

    /// The largest `n` known to be accepted (`u32::MAX`: no limit seen).
    pub fn max_n(&self) -> u32 {
        self.max_n.load(Ordering::Relaxed)
    }

    /// Steps down from `rejected` to the next weaker format, unless a concurrent request did
    /// already; `false` when there is nothing weaker.
    fn downgrade(&self, rejected: ResponseFormat) -> bool {
        let Some(next) = weaker(rejected) else {
            return false;
        };
        let _ = self.response_format.compare_exchange(
            format_code(rejected),
            format_code(next),
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
        true
    }

    fn limit_n(&self, n: u32) {
        self.max_n.fetch_min(n.max(1), Ordering::Relaxed);
    }
}

/// How many requests needed each fallback, per endpoint.
///
/// A request is counted once per kind however many extra HTTP requests it took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FallbackCounts {
    /// Requests sent with `response_format: json_object` because the server rejected the
    /// configured `json_schema` (on this request or an earlier one).
    pub response_format_json_object: u64,
    /// Requests sent without `response_format` because the server rejected the configured
    /// format and `json_object`.
    pub response_format_none: u64,
    /// Requests whose `n` was split into several requests the server accepts.
    pub n_split: u64,
    /// Requests answered with fewer choices than `n`, completed by further requests.
    pub n_topped_up: u64,
    /// Requests that asked for log-probs and got an answer without them.
    pub logprobs_missing: u64,
    /// Requests that asked for JSON and got an answer that is not a JSON object.
    pub text_for_json: u64,
}

impl FallbackCounts {
    /// No fallback at all.
    pub fn is_empty(&self) -> bool {
        *self == FallbackCounts::default()
    }
}

impl fmt::Display for FallbackCounts {
    /// `n_split 3, logprobs_missing 1` (the non-zero counts), or `none`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = [
            (
                "response_format_json_object",
                self.response_format_json_object,
            ),
            ("response_format_none", self.response_format_none),
            ("n_split", self.n_split),
            ("n_topped_up", self.n_topped_up),
            ("logprobs_missing", self.logprobs_missing),
            ("text_for_json", self.text_for_json),
        ]
        .iter()
        .filter(|(_, v)| *v > 0)
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
        if parts.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// Live fallback counters, read by [`FallbackStats::snapshot`].
#[derive(Debug, Default)]
pub struct FallbackStats {
    json_object: AtomicU64,
    none: AtomicU64,
    n_split: AtomicU64,
    n_topped_up: AtomicU64,
    logprobs_missing: AtomicU64,
    text_for_json: AtomicU64,
}

impl FallbackStats {
    /// The counts now.
    pub fn snapshot(&self) -> FallbackCounts {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        FallbackCounts {
            response_format_json_object: get(&self.json_object),
            response_format_none: get(&self.none),
            n_split: get(&self.n_split),
            n_topped_up: get(&self.n_topped_up),
            logprobs_missing: get(&self.logprobs_missing),
            text_for_json: get(&self.text_for_json),
        }
    }

    fn bump(a: &AtomicU64) {
        a.fetch_add(1, Ordering::Relaxed);
    }
}

/// The layer; see the module documentation (`llm::capabilities`). It sits above [`Retry`](super::Retry),
/// so every request it sends is retried and budgeted like any other.
#[derive(Debug)]
pub struct Capabilities<S> {
    inner: S,
    endpoint: Arc<EndpointCapabilities>,
    stats: Arc<FallbackStats>,
    /// `base_url` and model, for errors.
    name: String,
}

impl<S> Capabilities<S> {
    /// Wraps `inner`, whose transport writes requests by `endpoint`; `base_url` and `model`
    /// name the endpoint in errors.
    pub fn new(
        inner: S,
        endpoint: Arc<EndpointCapabilities>,
        base_url: &str,
        model: &str,
    ) -> Capabilities<S> {
        Capabilities {
            inner,
            endpoint,
            stats: Arc::default(),
            name: format!("{} (model {model})", base_url.trim_end_matches('/')),
        }
    }

    /// The live counters.
    pub fn stats(&self) -> Arc<FallbackStats> {
        Arc::clone(&self.stats)
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }

    fn unsupported(&self, field: &str, message: String) -> LlmError {
        LlmError::Config {
            key: field.into(),
            message: format!("the server at {} {message}", self.name),
        }
    }
}

/// The server's message when it answered 400 or 422 (a request it will never accept).
fn rejection(e: &LlmError) -> Option<&str> {
    match e {
        LlmError::Http(HttpError::Status {
            status: 400 | 422,
            message,
            ..
        }) => Some(message),
        _ => None,
    }
}

/// Whether a rejection message is about the `response_format` field.
pub fn names_response_format(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "response_format",
        "response format",
        "json_schema",
        "json_object",
        "schema",
    ]
    .iter()
    .any(|k| m.contains(k))
}

/// Whether a rejection message is about the `n` field: it has `n` as a word (`'n'`, `` `n` ``,
/// `n=1`, `n must`; llama.cpp: "Field 'n': Value must be between 1 <= value <= 1").
pub fn names_n(message: &str) -> bool {
    message
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .any(|w| w == "n" || w == "N")
}

/// The largest `n` a rejection message states, below `asked`: the number after `<=`, `at
/// most`, `maximum`, `max`, `up to` or `must be`, e.g. 1 in llama.cpp's "Value must be between
/// 1 <= value <= 1, but got 3". None when the message states no usable bound.
pub fn stated_n_limit(message: &str, asked: u32) -> Option<u32> {
    let m = message.to_ascii_lowercase();
    let mut best: Option<u32> = None;
    for marker in [
        "<=",
        "at most",
        "maximum",
        "max",
        "up to",
        "must be",
        "less than",
    ] {
        for (i, _) in m.match_indices(marker) {
            let mut after = m[i + marker.len()..].trim_start();
            for filler in ["of", "is", ":", "="] {
                if let Some(rest) = after.strip_prefix(filler) {
                    after = rest.trim_start();
                }
            }
            let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
            let Ok(v) = digits.parse::<u32>() else {
                continue;
            };
            let v = if marker == "less than" {
                v.saturating_sub(1)
            } else {
                v
            };
            if (1..asked).contains(&v) {
                best = Some(best.map_or(v, |b| b.max(v)));
            }
        }
    }
    best
}

/// Whether `content` is a JSON object, alone or in a fenced block.
fn is_json_object(content: &str) -> bool {
    let t = content.trim();
    let t = t
        .strip_prefix("```json")
        .or_else(|| t.strip_prefix("```"))
        .map_or(t, |rest| rest.trim_end().trim_end_matches("```"))
        .trim();
    matches!(
        serde_json::from_str::<serde_json::Value>(t),
        Ok(serde_json::Value::Object(_))
    )
}

impl<S: ChatService> Capabilities<S> {
    /// One request with the `response_format` fallback.
    async fn send(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let mut downgraded: Option<ResponseFormat> = None;
        let result = loop {
            let format = self.endpoint.response_format();
            match self.inner.call(request).await {
                Err(e)
                    if request.json_schema.is_some()
                        && format != ResponseFormat::None
                        && rejection(&e).is_some_and(names_response_format) =>
                {
                    if !self.endpoint.downgrade(format) {
                        break Err(e);
                    }
                    tracing::warn!(
                        endpoint = %self.name,
                        "the server rejected response_format {format:?} ({e}); trying {:?}",
                        self.endpoint.response_format()
                    );
                }
                other => {
                    if request.json_schema.is_some() && format != self.endpoint.configured {
                        downgraded = Some(format);
                    }
                    break other;
                }
            }
        };
        match downgraded {
            Some(ResponseFormat::JsonObject) => FallbackStats::bump(&self.stats.json_object),
            Some(ResponseFormat::None) => FallbackStats::bump(&self.stats.none),
            _ => {}
        }
        result
    }

    /// Counts what the server ignored in the answer to `request`, all parts merged: no
    /// log-probs where asked, text where JSON was asked.
    fn check(&self, request: &ChatRequest, response: &ChatResponse) {
        if request.top_logprobs.is_some() && response.choices.iter().any(|c| c.logprobs.is_none()) {
            FallbackStats::bump(&self.stats.logprobs_missing);
        }
        if request.json_schema.is_some()
            && response.choices.iter().any(|c| !is_json_object(&c.content))
        {
            FallbackStats::bump(&self.stats.text_for_json);
        }
    }

    /// A request for `n` > 1 choices: in parts the server accepts, until `n` are collected.
    async fn send_n(&self, request: &ChatRequest, n: u32) -> Result<ChatResponse, LlmError> {
        let mut merged = ChatResponse {
            choices: Vec::with_capacity(n as usize),
            usage: Usage::default(),
            model: String::new(),
        };
        let (mut split, mut topped_up) = (false, false);
        let mut round = 0u64;
        while (merged.choices.len() as u32) < n {
            let missing = n - merged.choices.len() as u32;
            let ask = missing.min(self.endpoint.max_n());
            split |= ask < missing;
            let mut part = request.clone();
            part.n = (ask > 1).then_some(ask);
            // Each further part samples anew: the same seed would repeat the first answers.
            part.seed = request.seed.map(|s| s.wrapping_add(round));
            let response = match self.send(&part).await {
                Ok(r) => r,
                Err(e) => match rejection(&e).filter(|m| ask > 1 && names_n(m)) {
                    Some(message) => {
                        let limit = stated_n_limit(message, ask).unwrap_or(ask / 2);
                        tracing::warn!(
                            endpoint = %self.name,
                            "the server refused n = {ask} ({message}); asking for at most {limit} at a time"
                        );
                        self.endpoint.limit_n(limit);
                        split = true;
                        continue;
                    }
                    None => return Err(e),
                },
            };
            round += 1;
            if response.choices.is_empty() {
                return Err(self.unsupported("n", "answered with no choices".into()));
            }
            let got = response.choices.len() as u32;
            if got < ask {
                // The server ignored `n` (or answers fewer): ask for the rest, no more than it
                // gave at once.
                topped_up = true;
                self.endpoint.limit_n(got);
            }
            merged.usage.prompt_tokens += response.usage.prompt_tokens;
            merged.usage.completion_tokens += response.usage.completion_tokens;
            if merged.model.is_empty() {
                merged.model = response.model;
            }
            merged.choices.extend(
                response
                    .choices
                    .into_iter()
                    .take((n - merged.choices.len() as u32) as usize),
            );
        }
        if split && !topped_up {
            FallbackStats::bump(&self.stats.n_split);
        }
        if topped_up {
            FallbackStats::bump(&self.stats.n_topped_up);
        }
        Ok(merged)
    }
}

#[async_trait]
impl<S: ChatService> ChatService for Capabilities<S> {
    async fn call(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let response = match request.n {
            Some(n) if n > 1 => self.send_n(request, n).await,
            _ => self.send(request).await,
        }?;
        self.check(request, &response);
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_rejections_of_n() {
        let llama = "Field 'n': Value must be between 1 <= value <= 1, but got 3";
        assert!(names_n(llama));
        assert_eq!(stated_n_limit(llama, 3), Some(1));
        assert!(names_n("n must be at most 8"));
        assert_eq!(stated_n_limit("n must be at most 8", 20), Some(8));
        assert_eq!(stated_n_limit("'n' must be less than 5", 20), Some(4));
        assert_eq!(stated_n_limit("Only n=1 is supported", 20), None);
        assert!(names_n("Only n=1 is supported"));
        assert!(!names_n("messages: field required"));
        assert!(!names_n("Unknown model"));
        assert_eq!(stated_n_limit("no number here", 4), None);
    }

    #[test]
    fn recognises_rejections_of_response_format() {
        assert!(names_response_format(
            "response_format type must be one of \"text\" or \"json_object\", but got: json_schema"
        ));
        assert!(names_response_format(
            "Invalid schema for response_format 'answer'"
        ));
        assert!(!names_response_format("maximum context length exceeded"));
    }

    #[test]
    fn formats_step_down_once_even_when_two_requests_see_the_rejection() {
        let e = EndpointCapabilities::new(ResponseFormat::JsonSchema);
        assert!(e.downgrade(ResponseFormat::JsonSchema));
        assert!(e.downgrade(ResponseFormat::JsonSchema));
        assert_eq!(e.response_format(), ResponseFormat::JsonObject);
        assert!(e.downgrade(ResponseFormat::JsonObject));
        assert_eq!(e.response_format(), ResponseFormat::None);
        assert!(!e.downgrade(ResponseFormat::None));
    }

    #[test]
    fn json_answers_are_told_from_text() {
        assert!(is_json_object("{\"score\": 4}"));
        assert!(is_json_object("```json\n{\"score\": 4}\n```"));
        assert!(!is_json_object("Score: 4"));
        assert!(!is_json_object("[4]"));
        let c = FallbackCounts {
            n_split: 2,
            logprobs_missing: 1,
            ..FallbackCounts::default()
        };
        assert_eq!(c.to_string(), "n_split 2, logprobs_missing 1");
        assert_eq!(FallbackCounts::default().to_string(), "none");
    }
}
