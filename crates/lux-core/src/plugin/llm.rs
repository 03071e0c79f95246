//! [`LlmClient`]: the one way lux talks to a language model, local or remote.

use std::fmt::Debug;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::Result;

/// Who says a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// System prompt.
    System,
    /// The user.
    User,
    /// The model.
    Assistant,
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Who says it.
    pub role: Role,
    /// What is said.
    pub content: String,
}

impl ChatMessage {
    /// A system message.
    pub fn system(content: impl Into<String>) -> ChatMessage {
        ChatMessage {
            role: Role::System,
            content: content.into(),
        }
    }
    /// A user message.
    pub fn user(content: impl Into<String>) -> ChatMessage {
        ChatMessage {
            role: Role::User,
            content: content.into(),
        }
    }
    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> ChatMessage {
        ChatMessage {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

/// A chat-completion request, with the OpenAI parameters lux uses.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The conversation.
    pub messages: Vec<ChatMessage>,
    /// Sampling temperature; `None` leaves the server's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Nucleus sampling mass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    /// Completion length limit, in tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Sampling seed, where the server honours it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Stop sequences.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
    /// Number of choices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    /// A JSON schema the answer must follow (OpenAI `response_format: json_schema`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_schema: Option<serde_json::Value>,
    /// Return this many top log-probs per generated token (0 = the chosen token's only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_logprobs: Option<u8>,
}

impl ChatRequest {
    /// A request of these messages with server defaults.
    pub fn new(messages: Vec<ChatMessage>) -> ChatRequest {
        ChatRequest {
            messages,
            ..ChatRequest::default()
        }
    }
}

/// An alternative token and its log-probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopLogprob {
    /// The token text.
    pub token: String,
    /// Natural-log probability.
    pub logprob: f32,
}

/// A generated token with its log-probability and the alternatives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenLogprob {
    /// The token text.
    pub token: String,
    /// Natural-log probability.
    pub logprob: f32,
    /// The most likely alternatives at this position, best first.
    #[serde(default)]
    pub top: Vec<TopLogprob>,
}

/// One generated answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatChoice {
    /// The text.
    pub content: String,
    /// Why generation stopped (`stop`, `length`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    /// Per-token log-probs, when requested and supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Vec<TokenLogprob>>,
}

/// Token counts of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
}

/// A chat-completion response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// The answers (`n` of them).
    pub choices: Vec<ChatChoice>,
    /// Token counts.
    #[serde(default)]
    pub usage: Usage,
    /// The model that answered.
    #[serde(default)]
    pub model: String,
}

/// Sends chat requests to a language model: an OpenAI-compatible server, or a local model.
///
/// Contract: retries, caching and rate limits are the implementation's business (or a
/// wrapping layer's); an `Err` means the request finally failed.
#[typetag::serde(tag = "type")]
#[async_trait]
pub trait LlmClient: Send + Sync + Debug {
    /// Sends one request.
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse>;

    /// The model's name, for provenance.
    fn model(&self) -> String;

    /// Resolves relative files in the client's settings (a local model's `path`) against
    /// `base_dir`, the directory of the recipe that names the client: a recipe and its files
    /// move together, whatever the working directory. Called once, before the first request,
    /// by whoever prepares the plugin holding the client (see
    /// [`JudgeContext::share_llm`](crate::JudgeContext::share_llm)); the default has nothing
    /// to resolve.
    fn resolve_paths(&mut self, base_dir: &std::path::Path) -> Result<()> {
        let _ = base_dir;
        Ok(())
    }
}
