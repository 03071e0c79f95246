//! [`Accounting`]: calls, tokens and cost, readable at any time.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use lux_core::{ChatRequest, ChatResponse};
use serde::{Deserialize, Serialize};

use super::ChatService;
use crate::LlmError;

/// Price of one model, in US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    /// Per million prompt (input) tokens.
    pub prompt_per_million: f64,
    /// Per million completion (output) tokens.
    pub completion_per_million: f64,
}

/// Prices by model name. In a recipe:
/// `prices."gpt-4.1-mini" = { prompt_per_million = 0.4, completion_per_million = 1.6 }`.
///
/// A response is priced by the configured model's name, else by the name the server
/// answered with, else by the longest table key that name starts with
/// (`gpt-4.1-mini` prices `gpt-4.1-mini-2025-04-14`).
pub type PriceTable = BTreeMap<String, ModelPrice>;

fn price_of<'a>(table: &'a PriceTable, configured: &str, answered: &str) -> Option<&'a ModelPrice> {
    table
        .get(configured)
        .or_else(|| table.get(answered))
        .or_else(|| {
            table
                .iter()
                .filter(|(k, _)| {
                    answered.starts_with(k.as_str()) || configured.starts_with(k.as_str())
                })
                .max_by_key(|(k, _)| k.len())
                .map(|(_, p)| p)
        })
}

/// Totals so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageTotals {
    /// Requests that reached the accounting layer (cache misses).
    pub calls: u64,
    /// Of which answered.
    pub succeeded: u64,
    /// Of which failed after retries.
    pub failed: u64,
    /// Prompt tokens of the answered calls.
    pub prompt_tokens: u64,
    /// Completion tokens of the answered calls.
    pub completion_tokens: u64,
    /// Cost of the priced calls, in US dollars.
    pub cost_usd: f64,
    /// Answered calls whose model has no price in the table (their cost is not in
    /// `cost_usd`).
    pub unpriced_calls: u64,
}

/// A shared, live view of the totals, for progress bars and run reports.
#[derive(Debug, Default)]
pub struct UsageMeter {
    totals: Mutex<UsageTotals>,
}

impl UsageMeter {
    /// The totals now.
    pub fn snapshot(&self) -> UsageTotals {
        self.totals
            .lock()
            .map(|t| t.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    fn update(&self, f: impl FnOnce(&mut UsageTotals)) {
        let mut guard = self.totals.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard);
    }
}

/// Counts every call and, for answered ones, tokens and cost from a [`PriceTable`].
/// Sits outside the retry layer (one call, however many attempts) and inside the cache
/// (cached answers cost nothing).
#[derive(Debug)]
pub struct Accounting<S> {
    inner: S,
    model: String,
    prices: PriceTable,
    meter: Arc<UsageMeter>,
}

impl<S> Accounting<S> {
    /// Wraps `inner`, pricing answers of `model` with `prices`.
    pub fn new(inner: S, model: impl Into<String>, prices: PriceTable) -> Accounting<S> {
        Accounting {
            inner,
            model: model.into(),
            prices,
            meter: Arc::default(),
        }
    }

    /// The live totals.
    pub fn meter(&self) -> Arc<UsageMeter> {
        Arc::clone(&self.meter)
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
impl<S: ChatService> ChatService for Accounting<S> {
    async fn call(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let result = self.inner.call(request).await;
        self.meter.update(|t| {
            t.calls += 1;
            match &result {
                Ok(r) => {
                    t.succeeded += 1;
                    t.prompt_tokens += r.usage.prompt_tokens;
                    t.completion_tokens += r.usage.completion_tokens;
                    match price_of(&self.prices, &self.model, &r.model) {
                        Some(p) => {
                            t.cost_usd += (r.usage.prompt_tokens as f64 * p.prompt_per_million
                                + r.usage.completion_tokens as f64 * p.completion_per_million)
                                / 1e6;
                        }
                        None => t.unpriced_calls += 1,
                    }
                }
                Err(_) => t.failed += 1,
            }
        });
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_by_name_then_prefix() {
        let mut t = PriceTable::new();
        let p = |x| ModelPrice {
            prompt_per_million: x,
            completion_per_million: x,
        };
        t.insert("gpt-4.1".into(), p(2.0));
        t.insert("gpt-4.1-mini".into(), p(0.4));
        assert_eq!(
            price_of(&t, "gpt-4.1-mini", "whatever")
                .unwrap()
                .prompt_per_million,
            0.4
        );
        assert_eq!(
            price_of(&t, "x", "gpt-4.1-mini-2025-04-14")
                .unwrap()
                .prompt_per_million,
            0.4
        );
        assert_eq!(
            price_of(&t, "x", "gpt-4.1-2025")
                .unwrap()
                .prompt_per_million,
            2.0
        );
        assert!(price_of(&t, "llama", "llama").is_none());
    }
}
