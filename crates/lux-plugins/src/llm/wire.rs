//! The chat-completions wire format: lux's [`ChatRequest`] to an OpenAI JSON body, and the
//! server's JSON back to a [`ChatResponse`]. Lenient on input: fields that OpenAI, vLLM,
//! Ollama or llama.cpp leave out are defaulted, unknown fields ignored.

use lux_core::{ChatChoice, ChatRequest, ChatResponse, TokenLogprob, TopLogprob, Usage};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// How a request's JSON schema ([`ChatRequest::json_schema`]) is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseFormat {
    /// `response_format: {type: "json_schema", json_schema: {...}}` (OpenAI, vLLM, recent
    /// Ollama and llama.cpp servers).
    #[default]
    JsonSchema,
    /// `response_format: {type: "json_object"}`: JSON, but no schema (older servers).
    JsonObject,
    /// No `response_format`: the prompt alone asks for JSON.
    None,
}

/// Which field carries the completion length limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaxTokensField {
    /// `max_tokens`, understood by every compatible server.
    #[default]
    MaxTokens,
    /// `max_completion_tokens`, required by OpenAI's reasoning models.
    MaxCompletionTokens,
}

/// Server-specific choices of how requests are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WireOptions {
    /// How JSON schemas are sent.
    pub response_format: ResponseFormat,
    /// Ask the server to enforce the schema exactly (`strict: true`).
    pub strict_schema: bool,
    /// Which field carries `max_tokens`.
    pub max_tokens_field: MaxTokensField,
}

/// The JSON body of a chat-completions request.
pub(crate) fn request_body(model: &str, req: &ChatRequest, opts: &WireOptions) -> Value {
    let mut body = json!({ "model": model, "messages": req.messages });
    let obj = body.as_object_mut().expect("a JSON object");
    if let Some(t) = req.temperature {
        obj.insert("temperature".into(), json!(t));
    }
    if let Some(p) = req.top_p {
        obj.insert("top_p".into(), json!(p));
    }
    if let Some(m) = req.max_tokens {
        let field = match opts.max_tokens_field {
            MaxTokensField::MaxTokens => "max_tokens",
            MaxTokensField::MaxCompletionTokens => "max_completion_tokens",
        };
        obj.insert(field.into(), json!(m));
    }
    if let Some(s) = req.seed {
        obj.insert("seed".into(), json!(s));
    }
    if !req.stop.is_empty() {
        obj.insert("stop".into(), json!(req.stop));
    }
    if let Some(n) = req.n {
        obj.insert("n".into(), json!(n));
    }
    if let Some(k) = req.top_logprobs {
        obj.insert("logprobs".into(), json!(true));
        if k > 0 {
            obj.insert("top_logprobs".into(), json!(k));
        }
    }
    if let Some(schema) = &req.json_schema {
        match opts.response_format {
            ResponseFormat::JsonSchema => {
                obj.insert(
                    "response_format".into(),
                    json!({
                        "type": "json_schema",
                        "json_schema": {
                            "name": "answer",
                            "schema": schema,
                            "strict": opts.strict_schema,
                        }
                    }),
                );
            }
            ResponseFormat::JsonObject => {
                obj.insert("response_format".into(), json!({ "type": "json_object" }));
            }
            ResponseFormat::None => {}
        }
    }
    body
}

#[derive(Deserialize)]
struct WireResponse {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Option<Vec<WireChoice>>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct WireChoice {
    #[serde(default)]
    index: Option<u32>,
    #[serde(default)]
    message: Option<WireMessage>,
    #[serde(default)]
    finish_reason: Option<String>,
    #[serde(default)]
    logprobs: Option<WireLogprobs>,
}

#[derive(Deserialize)]
struct WireMessage {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize)]
struct WireLogprobs {
    #[serde(default)]
    content: Option<Vec<WireToken>>,
}

#[derive(Deserialize)]
struct WireToken {
    token: String,
    #[serde(default)]
    logprob: Option<f32>,
    #[serde(default)]
    top_logprobs: Option<Vec<WireTop>>,
}

#[derive(Deserialize)]
struct WireTop {
    token: String,
    #[serde(default)]
    logprob: Option<f32>,
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
}

/// The log-probability recorded for a token whose `logprob` the server sent as `null`
/// (vLLM writes -9999.0 for -inf): finite, so that it survives JSON in caches and datasets.
pub(crate) const MISSING_LOGPROB: f32 = -9999.0;

/// Reads a chat-completions response body; the error says what is wrong with it.
pub(crate) fn parse_response(body: &[u8], requested_model: &str) -> Result<ChatResponse, String> {
    let wire: WireResponse = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let mut choices = wire.choices.ok_or("no `choices` field")?;
    if choices.is_empty() {
        return Err("`choices` is empty".into());
    }
    choices.sort_by_key(|c| c.index.unwrap_or(0));
    let choices = choices
        .into_iter()
        .map(|c| ChatChoice {
            content: c.message.and_then(|m| m.content).unwrap_or_default(),
            finish_reason: c.finish_reason,
            logprobs: c.logprobs.and_then(|l| l.content).map(|tokens| {
                tokens
                    .into_iter()
                    .map(|t| TokenLogprob {
                        token: t.token,
                        logprob: t.logprob.unwrap_or(MISSING_LOGPROB),
                        top: t
                            .top_logprobs
                            .unwrap_or_default()
                            .into_iter()
                            .map(|a| TopLogprob {
                                token: a.token,
                                logprob: a.logprob.unwrap_or(MISSING_LOGPROB),
                            })
                            .collect(),
                    })
                    .collect()
            }),
        })
        .collect();
    let usage = wire.usage.map_or(Usage::default(), |u| Usage {
        prompt_tokens: u.prompt_tokens.unwrap_or(0),
        completion_tokens: u.completion_tokens.unwrap_or(0),
    });
    Ok(ChatResponse {
        choices,
        usage,
        model: wire
            .model
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| requested_model.to_string()),
    })
}

/// The `error.message` of an OpenAI-style error body, else the body's first 300 characters.
pub(crate) fn error_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct E {
        error: Inner,
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Inner {
        Object { message: String },
        Text(String),
    }
    match serde_json::from_slice::<E>(body) {
        Ok(E {
            error: Inner::Object { message } | Inner::Text(message),
        }) => message,
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            if text.is_empty() {
                "(empty body)".into()
            } else {
                text.chars().take(300).collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use lux_core::ChatMessage;

    use super::*;

    #[test]
    fn body_carries_every_parameter() {
        let mut req = ChatRequest::new(vec![ChatMessage::user("hi")]);
        req.temperature = Some(0.5);
        req.top_p = Some(0.9);
        req.max_tokens = Some(64);
        req.seed = Some(7);
        req.stop = vec!["\n".into()];
        req.n = Some(2);
        req.top_logprobs = Some(3);
        req.json_schema = Some(json!({"type": "object"}));
        let opts = WireOptions {
            strict_schema: true,
            ..WireOptions::default()
        };
        let b = request_body("m", &req, &opts);
        assert_eq!(b["model"], "m");
        assert_eq!(b["messages"][0]["role"], "user");
        assert_eq!(b["temperature"], 0.5);
        assert_eq!(b["max_tokens"], 64);
        assert_eq!(b["seed"], 7);
        assert_eq!(b["stop"][0], "\n");
        assert_eq!(b["n"], 2);
        assert_eq!(b["logprobs"], true);
        assert_eq!(b["top_logprobs"], 3);
        assert_eq!(b["response_format"]["type"], "json_schema");
        assert_eq!(b["response_format"]["json_schema"]["strict"], true);
        assert_eq!(
            b["response_format"]["json_schema"]["schema"]["type"],
            "object"
        );

        let off = WireOptions {
            response_format: ResponseFormat::None,
            max_tokens_field: MaxTokensField::MaxCompletionTokens,
            ..opts
        };
        let b = request_body("m", &req, &off);
        assert!(b.get("response_format").is_none());
        assert_eq!(b["max_completion_tokens"], 64);
        assert!(b.get("max_tokens").is_none());
    }

    #[test]
    fn parses_openai_and_minimal_servers() {
        let body = br#"{"id":"x","model":"gpt-x","choices":[
            {"index":1,"message":{"role":"assistant","content":"b"},"finish_reason":"stop"},
            {"index":0,"message":{"role":"assistant","content":"a"},"finish_reason":"length",
             "logprobs":{"content":[{"token":"a","logprob":-0.1,"bytes":[97],
               "top_logprobs":[{"token":"a","logprob":-0.1},{"token":"b","logprob":-2.5}]}]}}],
            "usage":{"prompt_tokens":10,"completion_tokens":2,"total_tokens":12}}"#;
        let r = parse_response(body, "req").unwrap();
        assert_eq!(r.model, "gpt-x");
        assert_eq!(r.choices[0].content, "a");
        assert_eq!(r.choices[0].finish_reason.as_deref(), Some("length"));
        let lp = r.choices[0].logprobs.as_ref().unwrap();
        assert_eq!(lp[0].top[1].token, "b");
        assert_eq!(lp[0].top[1].logprob, -2.5);
        assert!(r.choices[1].logprobs.is_none());
        assert_eq!(
            r.usage,
            Usage {
                prompt_tokens: 10,
                completion_tokens: 2
            }
        );

        let minimal = br#"{"choices":[{"message":{"content":null}}]}"#;
        let r = parse_response(minimal, "req").unwrap();
        assert_eq!(r.model, "req");
        assert_eq!(r.choices[0].content, "");
        assert!(
            parse_response(b"{\"choices\":[]}", "m")
                .unwrap_err()
                .contains("empty")
        );
        assert!(
            parse_response(b"{\"choi", "m")
                .unwrap_err()
                .starts_with("not JSON")
        );
    }

    #[test]
    fn error_bodies() {
        assert_eq!(
            error_message(br#"{"error":{"message":"slow down","type":"x"}}"#),
            "slow down"
        );
        assert_eq!(
            error_message(br#"{"error":"model not found"}"#),
            "model not found"
        );
        assert_eq!(error_message(b"Bad Gateway"), "Bad Gateway");
        assert_eq!(error_message(b""), "(empty body)");
    }
}
