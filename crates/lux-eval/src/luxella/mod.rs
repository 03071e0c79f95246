//! A LUXELLA-style benchmark (after the LuxLlama model card's LUXELLA: Luxembourgish
//! Excellence Language Learning Assessment): an LLM writes questions for categories ×
//! difficulty levels, models answer them, a judge scores each answer 1–5 with a reason, and
//! the report compares models per category, per difficulty and overall.
//!
//! - [`QuestionGenerator`] writes the benchmark file (JSONL of [`BenchmarkItem`]s):
//!   schema-checked JSON answers, deduplicated on normalised question text, resumable (cells
//!   already in the file are skipped).
//! - [`Luxella`] has models answer and a judge score; every failure (no answer, a judge
//!   error) is kept as a failed [`ItemResult`], never dropped.
//! - [`LuxellaReport`] holds the tables; [`crate::report::luxella_report`] writes them as
//!   Markdown, JSON and SVG.
//!
//! Nothing here is specific to Luxembourgish: the stage names the run's native language in its
//! prompts and draws topics from its row of the topics table ([`default_topics`]); a recipe
//! may set `language`, `generate.topics` and its own categories.

mod evaluate;
mod generate;

pub use evaluate::{
    ItemResult, Luxella, LuxellaConfig, LuxellaReport, ModelResult, ModelSummary, ScoreCell,
};
pub use generate::{
    CellFailure, GenerationSummary, QuestionGenerator, QuestionGeneratorConfig, normalize_question,
    read_benchmark,
};

use std::sync::OnceLock;

use lux_core::Lang;
use lux_core::lang_table::LangTable;
use serde::{Deserialize, Serialize};

/// The categories of the LuxLlama model card's LUXELLA results table. The card's text says
/// 15 categories but its table lists these 16 (`translation` beside the two directed
/// translation categories); all 16 are kept.
pub const DEFAULT_CATEGORIES: &[&str] = &[
    "vocabulary",
    "grammar",
    "translation",
    "translation_to_english",
    "translation_from_english",
    "reading_comprehension",
    "listening_comprehension_simulation",
    "verb_conjugation",
    "multiple_choice",
    "conversation",
    "word_order",
    "cultural_knowledge",
    "writing_prompt",
    "idioms_and_expressions",
    "sentence_completion",
    "spelling_and_pronunciation",
];

/// The card's four difficulty levels, easiest first.
pub const DEFAULT_DIFFICULTIES: &[&str] = &["beginner", "intermediate", "advanced", "native"];

/// The topics drawn (by seed) for the questions of a cell — the card's "randomized topics" —
/// for a native language: its row of the LUXELLA topics table (`tables/luxella_topics.toml`;
/// Luxembourgish has the card-style list), else the table's everyday `*` row, which is logged
/// once per language.
pub fn default_topics(native: &Lang) -> Vec<String> {
    topics_table()
        .get_or_fallback(native)
        .cloned()
        .unwrap_or_default()
}

/// The topics table's everyday `*` row, for a generator that knows no native language.
pub(crate) fn everyday_topics() -> Vec<String> {
    topics_table().fallback().cloned().unwrap_or_default()
}

fn topics_table() -> &'static LangTable<Vec<String>> {
    static TABLE: OnceLock<LangTable<Vec<String>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        LangTable::from_toml(
            "luxella_topics",
            "lux-eval/tables/luxella_topics.toml",
            include_str!("../../tables/luxella_topics.toml"),
        )
        // Embedded at build time and checked by this module's tests.
        .expect("the embedded LUXELLA topics table parses")
    })
}

/// One benchmark question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchmarkItem {
    /// Stable id: a hash of the normalised question.
    pub id: String,
    /// The category (`vocabulary`, `translation_to_english`…).
    pub category: String,
    /// The difficulty level (`beginner`…`native`).
    pub difficulty: String,
    /// The topic the question was written about.
    pub topic: String,
    /// The question put to the models.
    pub question: String,
    /// A correct answer the judge compares with.
    pub reference_answer: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_come_from_the_native_languages_row_else_the_everyday_row() {
        let lb = default_topics(&Lang::LB);
        assert_eq!(lb.len(), 16);
        assert!(lb.iter().any(|t| t.contains("Luxembourg")));
        let fo = default_topics(&Lang::new("fo").unwrap());
        assert!(fo.iter().any(|t| t.contains("Faroe")));
        let other = default_topics(&Lang::new("qaa").unwrap());
        assert_eq!(other.len(), 16);
        assert!(other.iter().all(|t| !t.contains("Luxembourg")));
        assert_eq!(other, everyday_topics());
    }
}
