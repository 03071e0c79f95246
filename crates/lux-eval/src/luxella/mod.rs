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
//! Nothing here is specific to Luxembourgish except the defaults: a recipe for another
//! language sets `language`, and its own categories if it likes.

mod evaluate;
mod generate;

pub use evaluate::{
    ItemResult, Luxella, LuxellaConfig, LuxellaReport, ModelResult, ModelSummary, ScoreCell,
};
pub use generate::{
    CellFailure, GenerationSummary, QuestionGenerator, QuestionGeneratorConfig, normalize_question,
    read_benchmark,
};

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

/// Topics drawn (by seed) for the questions of a cell: the card's "randomized topics".
pub const DEFAULT_TOPICS: &[&str] = &[
    "family",
    "food and cooking",
    "weather and seasons",
    "work and school",
    "travel and transport",
    "health",
    "shopping",
    "history of Luxembourg",
    "local festivals and traditions",
    "nature and the Moselle valley",
    "sports",
    "politics and the Chamber of Deputies",
    "music and literature",
    "technology",
    "housing",
    "the city of Luxembourg",
];

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
