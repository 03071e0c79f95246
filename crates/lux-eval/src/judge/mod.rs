//! LLM judges and panels of them: [`GEval`] (G-Eval with probability-weighted, sampled or
//! parsed scores), [`Panel`] (several judges aggregated per item) and the agreement
//! statistics a panel reports ([`agreement`]).

pub mod agreement;
mod g_eval;
mod panel;

pub use agreement::{Agreement, AlphaLevel, PairSpearman, krippendorff_alpha, spearman};
pub use g_eval::{
    GEval, GEvalConfig, GEvalFallback, GEvalMode, ScoreDistribution, parse_score,
    score_distribution, score_token, weighted_score,
};
pub use panel::{Aggregation, JudgeOutcome, Panel, PanelConfig, PanelItem, PanelRun, aggregate};
