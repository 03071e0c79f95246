//! LLM judges, re-exported for compatibility: every judge of lux lives in
//! [`lux_eval::judge`], which runs them on any [`LlmClient`](lux_core::LlmClient), this
//! crate's OpenAI-compatible client included.
//!
//! | `type` | judge |
//! |---|---|
//! | `llm_judge` | [`LlmJudge`]: one parsed score with a reason |
//! | `g_eval` | [`lux_eval::judge::GEval`]: G-Eval's probability-weighted, sampled or parsed scores |

pub use lux_eval::judge::{LlmJudge, LlmJudgeConfig};
