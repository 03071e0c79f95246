//! [`Retry`]: sends a request again after transient failures, with exponential backoff and
//! full jitter, honouring the server's `Retry-After`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use lux_core::{ChatRequest, ChatResponse, rng};
use serde::{Deserialize, Serialize};

use super::ChatService;
use crate::LlmError;

/// When and how often to send a request again. In a recipe: `retry = { max_retries = 8 }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// Retries after the first attempt (so `max_retries + 1` attempts in all). Default 6.
    pub max_retries: u32,
    /// The backoff's first ceiling, in milliseconds; it doubles after every retry.
    /// Default 500.
    pub base_delay_ms: u64,
    /// The backoff's largest ceiling, in milliseconds. Default 60 000.
    pub max_delay_ms: u64,
    /// The longest `Retry-After` honoured, in seconds; a server asking for more (a daily
    /// quota) fails the request at once instead of stalling the run. Default 600.
    pub max_retry_after_secs: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 6,
            base_delay_ms: 500,
            max_delay_ms: 60_000,
            max_retry_after_secs: 600,
        }
    }
}

impl RetryPolicy {
    /// The backoff before retry number `retry` (0 = the first retry), for a uniform draw
    /// `unit` in `[0, 1)`: full jitter, `unit × min(max_delay, base_delay × 2^retry)`.
    pub fn backoff(&self, retry: u32, unit: f64) -> Duration {
        let ceiling = self
            .base_delay_ms
            .saturating_mul(1u64.checked_shl(retry.min(63)).unwrap_or(u64::MAX))
            .min(self.max_delay_ms);
        Duration::from_secs_f64(ceiling as f64 / 1000.0 * unit.clamp(0.0, 1.0))
    }

    /// The wait before retry number `retry` after `error`: the server's `Retry-After` when it
    /// sent one (exactly, without jitter), else [`RetryPolicy::backoff`].
    pub fn delay(&self, error: &LlmError, retry: u32, unit: f64) -> Duration {
        error
            .retry_after()
            .unwrap_or_else(|| self.backoff(retry, unit))
    }
}

/// The retry layer gave up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RetryError {
    /// Every attempt failed with a transient error.
    #[error("gave up after {attempts} attempts (retry.max_retries = {}): {last}", attempts - 1)]
    Exhausted {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        #[source]
        last: Box<LlmError>,
    },
    /// The server asked to wait longer than the policy allows.
    #[error(
        "the server asks to wait {} s, more than retry.max_retry_after_secs = {max_secs}: {last}",
        wait.as_secs()
    )]
    WaitTooLong {
        /// The wait asked for.
        wait: Duration,
        /// The policy's limit, in seconds.
        max_secs: u64,
        /// The failure that asked for it.
        #[source]
        last: Box<LlmError>,
    },
}

/// Counts of what the retry layer did.
#[derive(Debug, Default)]
pub struct RetryStats {
    retries: AtomicU64,
    gave_up: AtomicU64,
}

impl RetryStats {
    /// Requests sent again.
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// Requests given up on.
    pub fn gave_up(&self) -> u64 {
        self.gave_up.load(Ordering::Relaxed)
    }
}

/// Sends a request again while it fails with a transient error ([`LlmError::is_transient`]:
/// 429, 408, 5xx, connection errors, timeouts), waiting [`RetryPolicy::delay`] between
/// attempts. Other errors (400, 401, an unreadable answer, an exhausted budget) return at once.
#[derive(Debug)]
pub struct Retry<S> {
    inner: S,
    policy: RetryPolicy,
    stats: Arc<RetryStats>,
    jitter: AtomicU64,
}

impl<S> Retry<S> {
    /// Wraps `inner` with `policy`.
    pub fn new(inner: S, policy: RetryPolicy) -> Retry<S> {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Retry {
            inner,
            policy,
            stats: Arc::default(),
            jitter: AtomicU64::new(seed),
        }
    }

    /// The policy.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// A live view of the counts.
    pub fn stats(&self) -> Arc<RetryStats> {
        Arc::clone(&self.stats)
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// A uniform draw in `[0, 1)`. Jitter only spreads load; it never affects data, so it
    /// may come from the clock.
    fn unit(&self) -> f64 {
        let x = self
            .jitter
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
        (rng::splitmix(x) >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[async_trait]
impl<S: ChatService> ChatService for Retry<S> {
    async fn call(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let mut retry = 0u32;
        loop {
            let error = match self.inner.call(request).await {
                Ok(response) => return Ok(response),
                Err(e) if !e.is_transient() => return Err(e),
                Err(e) => e,
            };
            if retry >= self.policy.max_retries {
                self.stats.gave_up.fetch_add(1, Ordering::Relaxed);
                return Err(RetryError::Exhausted {
                    attempts: retry + 1,
                    last: Box::new(error),
                }
                .into());
            }
            let wait = self.policy.delay(&error, retry, self.unit());
            if wait > Duration::from_secs(self.policy.max_retry_after_secs) {
                self.stats.gave_up.fetch_add(1, Ordering::Relaxed);
                return Err(RetryError::WaitTooLong {
                    wait,
                    max_secs: self.policy.max_retry_after_secs,
                    last: Box::new(error),
                }
                .into());
            }
            tracing::warn!(
                "LLM request failed ({error}); retry {} of {} in {:.2} s",
                retry + 1,
                self.policy.max_retries,
                wait.as_secs_f64()
            );
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(wait).await;
            retry += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::{Elapsed, HttpError};

    #[test]
    fn backoff_doubles_up_to_the_cap_with_full_jitter() {
        let p = RetryPolicy {
            base_delay_ms: 100,
            max_delay_ms: 1000,
            ..RetryPolicy::default()
        };
        assert_eq!(p.backoff(0, 0.999_999).as_millis(), 99);
        assert_eq!(p.backoff(1, 0.5), Duration::from_millis(100));
        assert_eq!(p.backoff(3, 0.5), Duration::from_millis(400));
        assert_eq!(p.backoff(10, 0.5), Duration::from_millis(500));
        assert_eq!(p.backoff(200, 0.5), Duration::from_millis(500));
        assert_eq!(p.backoff(3, 0.0), Duration::ZERO);
    }

    #[test]
    fn retry_after_wins_over_backoff() {
        let p = RetryPolicy::default();
        let e: LlmError = HttpError::Status {
            status: 429,
            url: String::new(),
            message: String::new(),
            retry_after: Some(Duration::from_secs(3)),
        }
        .into();
        assert_eq!(p.delay(&e, 5, 0.9), Duration::from_secs(3));
        let t: LlmError = Elapsed {
            after: Duration::from_secs(1),
        }
        .into();
        assert!(p.delay(&t, 0, 0.5) <= Duration::from_millis(500));
    }
}
