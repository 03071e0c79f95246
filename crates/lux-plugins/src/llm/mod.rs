//! The OpenAI-compatible client, built as a stack of small layers.
//!
//! Every layer implements [`ChatService`] around an inner service, lives in its own file
//! with its own error type, and offers `get_ref`/`into_inner`, as tower's middlewares do:
//!
//! | file | layer | does | error |
//! |---|---|---|---|
//! | `cache.rs` | [`Cache`] | content-addressed on-disk answers: a rerun repeats no completed call | [`CacheError`] |
//! | `accounting.rs` | [`Accounting`] | counts calls, tokens and cost ([`UsageMeter`]) | — |
//! | `capabilities.rs` | [`Capabilities`] | falls back where a server rejects or ignores `response_format`, `n`, `logprobs`; counts it | — |
//! | `retry.rs` | [`Retry`] | exponential backoff with full jitter, honours `Retry-After` | [`RetryError`] |
//! | `budget.rs` | [`Budget`] | at most `max_requests` HTTP requests per run | [`BudgetExhausted`] |
//! | `balance.rs` | [`Balance`] | several endpoints: least-loaded choice, ejection, failover | [`NoEndpointAvailable`] |
//! | `concurrency.rs` | [`ConcurrencyLimit`] | at most `concurrency` requests in flight | — |
//! | `timeout.rs` | [`Timeout`] | a per-request deadline | [`Elapsed`] |
//! | `http.rs` | [`HttpTransport`] | one chat-completions request over HTTP | [`HttpError`] |
//!
//! With `endpoints = [...]` instead of one `base_url`, the stack under the budget is
//! [`ConcurrencyLimit`] (the pool's total) → [`Balance`] → one `Budget → Timeout →
//! HttpTransport` per server (`endpoint.rs`: [`EndpointConfig`], [`HealthPolicy`]).
//!
//! [`OpenAiCompatible`] is the recipe-facing plugin: a deserialisable config that builds this
//! stack lazily on its first request.

mod accounting;
mod balance;
mod budget;
mod cache;
mod capabilities;
mod concurrency;
mod endpoint;
mod http;
mod openai;
mod retry;
mod retry_after;
mod secret;
mod timeout;
mod wire;

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use lux_core::{ChatRequest, ChatResponse};

pub use accounting::{Accounting, ModelPrice, PriceTable, UsageMeter, UsageTotals};
pub use balance::{Balance, Member, NoEndpointAvailable, PoolState};
pub use budget::{Budget, BudgetExhausted};
pub use cache::{Cache, CacheError, CacheStats, cache_key};
pub use capabilities::{
    Capabilities, EndpointCapabilities, FallbackCounts, FallbackStats, names_n,
    names_response_format, stated_n_limit,
};
pub use concurrency::{ConcurrencyLimit, InFlight};
pub use endpoint::{EndpointConfig, EndpointCounts, EndpointReport, HealthPolicy};
pub use http::{HttpError, HttpTransport};
pub use openai::{OpenAiCompatible, OpenAiConfig, UsageReport, usage_reports};
pub use retry::{Retry, RetryError, RetryPolicy, RetryStats};
pub use retry_after::{parse_http_date, parse_retry_after};
pub use secret::ApiKey;
pub use timeout::{Elapsed, Timeout};
pub use wire::{MaxTokensField, ResponseFormat, WireOptions};

use crate::LlmError;

/// One step of the client: sends a chat request on, or answers it.
///
/// The layers of [`OpenAiCompatible`] implement it around an inner service; a test or an
/// offline replay can implement it directly.
#[async_trait]
pub trait ChatService: Send + Sync + Debug {
    /// Sends one request.
    async fn call(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError>;
}

#[async_trait]
impl<S: ChatService + ?Sized> ChatService for Box<S> {
    async fn call(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        (**self).call(request).await
    }
}

#[async_trait]
impl<S: ChatService + ?Sized> ChatService for Arc<S> {
    async fn call(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        (**self).call(request).await
    }
}

#[cfg(test)]
mod object_safety {
    fn _obj_safe(_: &dyn super::ChatService) {}
}
