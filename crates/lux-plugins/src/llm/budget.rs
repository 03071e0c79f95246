//! [`Budget`]: a cap on the HTTP requests one run may send.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use lux_core::{ChatRequest, ChatResponse};

use super::ChatService;
use crate::LlmError;

/// The run has sent as many requests as its budget allows.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "request budget exhausted: all {max} requests of max_requests used; raise max_requests and \
     run again (answers already received are cached and journaled, so nothing is asked twice)"
)]
pub struct BudgetExhausted {
    /// The budget.
    pub max: u64,
}

/// Lets at most `max` requests through, then fails every request with [`BudgetExhausted`]
/// (not transient: the retry layer gives up at once). Sits inside the retry layer, so every
/// attempt counts, retries included: the budget bounds what is sent and paid for. Cache hits
/// never reach it.
#[derive(Debug)]
pub struct Budget<S> {
    inner: S,
    max: Option<u64>,
    used: Arc<AtomicU64>,
}

impl<S> Budget<S> {
    /// Wraps `inner` with a budget of `max` requests; `None` counts without limit.
    pub fn new(inner: S, max: Option<u64>) -> Budget<S> {
        Budget {
            inner,
            max,
            used: Arc::default(),
        }
    }

    /// Wraps `inner` with a budget counted in `used`, which other `Budget`s may share: the
    /// endpoints of a pool spend one budget between them.
    pub fn sharing(inner: S, max: Option<u64>, used: Arc<AtomicU64>) -> Budget<S> {
        Budget { inner, max, used }
    }

    /// The budget.
    pub fn max(&self) -> Option<u64> {
        self.max
    }

    /// A live count of the requests sent so far.
    pub fn used(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.used)
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
impl<S: ChatService> ChatService for Budget<S> {
    async fn call(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let granted = self
            .used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| match self.max {
                Some(max) if used >= max => None,
                _ => Some(used + 1),
            })
            .is_ok();
        if !granted {
            return Err(BudgetExhausted {
                max: self.max.unwrap_or(0),
            }
            .into());
        }
        self.inner.call(request).await
    }
}
