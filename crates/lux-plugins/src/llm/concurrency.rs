//! [`ConcurrencyLimit`]: at most N requests in flight.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use lux_core::{ChatRequest, ChatResponse};
use tokio::sync::Semaphore;

use super::ChatService;
use crate::LlmError;

/// Requests in flight now, and the most there ever were.
#[derive(Debug, Default)]
pub struct InFlight {
    now: AtomicUsize,
    max: AtomicUsize,
}

impl InFlight {
    /// Requests in flight now.
    pub fn current(&self) -> usize {
        self.now.load(Ordering::Relaxed)
    }

    /// The most requests ever in flight at once.
    pub fn max(&self) -> usize {
        self.max.load(Ordering::Relaxed)
    }
}

/// Lets at most `limit` requests through to the inner service at once; the others wait
/// (fairly, first come first served). Sits inside the retry layer, so a request waiting out
/// a backoff holds no slot.
#[derive(Debug)]
pub struct ConcurrencyLimit<S> {
    inner: S,
    limit: usize,
    semaphore: Semaphore,
    in_flight: Arc<InFlight>,
}

impl<S> ConcurrencyLimit<S> {
    /// Wraps `inner`, allowing `limit` (at least 1) requests at once.
    pub fn new(inner: S, limit: usize) -> ConcurrencyLimit<S> {
        let limit = limit.max(1);
        ConcurrencyLimit {
            inner,
            limit,
            semaphore: Semaphore::new(limit),
            in_flight: Arc::default(),
        }
    }

    /// The bound.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// A live view of the requests in flight.
    pub fn in_flight(&self) -> Arc<InFlight> {
        Arc::clone(&self.in_flight)
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

struct Slot<'a>(&'a InFlight);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::Relaxed);
    }
}

#[async_trait]
impl<S: ChatService> ChatService for ConcurrencyLimit<S> {
    async fn call(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        // The semaphore is never closed, so acquiring only waits.
        let _permit = self.semaphore.acquire().await.ok();
        let now = self.in_flight.now.fetch_add(1, Ordering::Relaxed) + 1;
        self.in_flight.max.fetch_max(now, Ordering::Relaxed);
        let _slot = Slot(&self.in_flight);
        self.inner.call(request).await
    }
}
