//! LLM-backed judges, one per file.
//!
//! | `type` | judge |
//! |---|---|
//! | `llm_judge` | [`LlmJudge`]: one parsed score with a reason |
//!
//! The evaluation crate builds richer judges (G-Eval's probability-weighted scores, panels)
//! on the same client, cache and accounting.

mod llm_judge;

pub use llm_judge::{LlmJudge, LlmJudgeConfig};
