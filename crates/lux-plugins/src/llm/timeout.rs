//! [`Timeout`]: a deadline on every request.

use std::time::Duration;

use async_trait::async_trait;
use lux_core::{ChatRequest, ChatResponse};

use super::ChatService;
use crate::LlmError;

/// The inner service gave no answer in time. Transient: the retry layer sends again.
#[derive(Debug, Clone, thiserror::Error)]
#[error("no answer within {:.1} s (timeout_secs)", after.as_secs_f64())]
pub struct Elapsed {
    /// The deadline that passed.
    pub after: Duration,
}

/// Fails a request with [`Elapsed`] when the inner service takes longer than `duration`
/// (connection, upload, the model's generation and the download together). The dropped
/// request's connection is closed.
#[derive(Debug)]
pub struct Timeout<S> {
    inner: S,
    duration: Duration,
}

impl<S> Timeout<S> {
    /// Wraps `inner` with a per-request deadline.
    pub fn new(inner: S, duration: Duration) -> Timeout<S> {
        Timeout { inner, duration }
    }

    /// The deadline.
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

#[async_trait]
impl<S: ChatService> ChatService for Timeout<S> {
    async fn call(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        match tokio::time::timeout(self.duration, self.inner.call(request)).await {
            Ok(result) => result,
            Err(_) => Err(Elapsed {
                after: self.duration,
            }
            .into()),
        }
    }
}
