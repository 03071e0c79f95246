//! [`LlmError`]: everything that can go wrong between a chat request and its answer.

use std::time::Duration;

use crate::llm::{
    BudgetExhausted, CacheError, Elapsed, HttpError, NoEndpointAvailable, RetryError,
};

/// Why a chat request failed, by the layer that failed it.
///
/// Each layer of the client has its own error type in its own file; this enum gathers them
/// so layers compose, and converts into [`lux_core::Error`] at the plugin boundary. Messages
/// never contain the API key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LlmError {
    /// The server answered with an error status, could not be reached, or sent an unreadable
    /// body.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// No answer within the per-request timeout.
    #[error(transparent)]
    Timeout(#[from] Elapsed),
    /// Every endpoint of a pool is out of service for now.
    #[error(transparent)]
    NoEndpoint(#[from] NoEndpointAvailable),
    /// The run's request budget is spent.
    #[error(transparent)]
    Budget(#[from] BudgetExhausted),
    /// Transient failures went on past the retry policy.
    #[error(transparent)]
    Retry(#[from] RetryError),
    /// The response cache could not be read.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// The client's settings cannot work (an unset API key variable, a bad URL).
    #[error("invalid {key}: {message}")]
    Config {
        /// The recipe key.
        key: String,
        /// What is wrong.
        message: String,
    },
}

impl LlmError {
    /// Whether sending the same request again may succeed: 429, 5xx, 408, connection errors
    /// and timeouts.
    pub fn is_transient(&self) -> bool {
        match self {
            LlmError::Http(e) => e.is_transient(),
            LlmError::Timeout(_) | LlmError::NoEndpoint(_) => true,
            _ => false,
        }
    }

    /// How long the server asked to wait (`Retry-After`), if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            LlmError::Http(e) => e.retry_after(),
            LlmError::NoEndpoint(e) => Some(e.wait),
            _ => None,
        }
    }
}

impl From<LlmError> for lux_core::Error {
    fn from(e: LlmError) -> lux_core::Error {
        match e {
            LlmError::Config { key, message } => lux_core::Error::invalid(key, message),
            other => lux_core::Error::llm("LLM request failed", other),
        }
    }
}
