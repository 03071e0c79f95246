use serde::{Deserialize, Serialize};

/// What a [`crate::Filter`] decided about one example.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// The example passes this filter.
    Keep,
    /// The example is dropped; the reason is written to `dropped.jsonl` and counted in the
    /// run's statistics, so nothing disappears silently.
    Drop {
        /// Human-readable and specific: `output has 3 chars, minimum is 20`.
        reason: String,
    },
}

impl Verdict {
    /// A drop with a reason.
    pub fn drop(reason: impl Into<String>) -> Verdict {
        Verdict::Drop {
            reason: reason.into(),
        }
    }

    /// Whether the example is kept.
    pub fn is_keep(&self) -> bool {
        matches!(self, Verdict::Keep)
    }
}
