//! Every LLM judge of lux, and panels of them: [`GEval`] (`g_eval`: G-Eval with
//! probability-weighted, sampled or parsed scores), [`LlmJudge`] (`llm_judge`: one parsed
//! score with a reason, as JSON), [`Panel`] (several judges aggregated per item) and the
//! agreement statistics a panel reports ([`agreement`]).
//!
//! The judges run on any [`LlmClient`](lux_core::LlmClient); `lux-plugins` provides the
//! OpenAI-compatible one (with its cache and accounting).

pub mod agreement;
mod g_eval;
mod llm_judge;
mod panel;

pub use agreement::{Agreement, AlphaLevel, PairSpearman, krippendorff_alpha, spearman};
pub use g_eval::{
    GEval, GEvalConfig, GEvalFallback, GEvalFallbacks, GEvalMode, ScoreDistribution, parse_score,
    score_distribution, score_token, weighted_score,
};
pub use llm_judge::{LlmJudge, LlmJudgeConfig};
pub use panel::{Aggregation, JudgeOutcome, Panel, PanelConfig, PanelItem, PanelRun, aggregate};
