//! [`MgsmScorer`]: exact-match accuracy per language, as a table.

use std::fmt::Write as _;

use lux_core::Lang;
use serde::{Deserialize, Serialize};

use super::{AnswerExtractor, Extraction, ExtractionMethod, MgsmProblem, Number};

/// One scored response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MgsmItem {
    /// The problem's id.
    pub id: String,
    /// The problem's language.
    pub lang: Lang,
    /// The correct answer.
    pub gold: Number,
    /// What was extracted from the response, and how.
    pub extraction: Extraction,
    /// Whether the extracted answer equals `gold`.
    pub correct: bool,
}

/// Accuracy of one language (or of all, with `lang` = `all`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LanguageAccuracy {
    /// The language code, or `all`.
    pub lang: String,
    /// Responses scored.
    pub total: usize,
    /// Responses whose extracted answer is right.
    pub correct: usize,
    /// `correct / total` (0 when `total` is 0).
    pub accuracy: f64,
    /// Answers found after an answer phrase.
    pub by_phrase: usize,
    /// Answers taken as the last number in the text.
    pub by_last_number: usize,
    /// Responses with no number at all.
    pub no_answer: usize,
}

impl LanguageAccuracy {
    fn new(lang: String) -> LanguageAccuracy {
        LanguageAccuracy {
            lang,
            total: 0,
            correct: 0,
            accuracy: 0.0,
            by_phrase: 0,
            by_last_number: 0,
            no_answer: 0,
        }
    }

    fn add(&mut self, item: &MgsmItem) {
        self.total += 1;
        self.correct += usize::from(item.correct);
        match item.extraction.method {
            ExtractionMethod::Phrase => self.by_phrase += 1,
            ExtractionMethod::LastNumber => self.by_last_number += 1,
            ExtractionMethod::None => self.no_answer += 1,
        }
        self.accuracy = self.correct as f64 / self.total as f64;
    }
}

/// Accuracy per language and overall, with every scored item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MgsmReport {
    /// One row per language, in the order the languages first appear.
    pub languages: Vec<LanguageAccuracy>,
    /// All responses together.
    pub overall: LanguageAccuracy,
    /// Every scored response.
    pub items: Vec<MgsmItem>,
}

impl MgsmReport {
    /// The accuracy row of `lang`, if it was scored.
    pub fn language(&self, lang: &str) -> Option<&LanguageAccuracy> {
        self.languages.iter().find(|l| l.lang == lang)
    }

    /// The table as Markdown: accuracy per language, then how answers were found.
    pub fn to_markdown(&self) -> String {
        let mut out = String::from(
            "| language | correct | total | accuracy | phrase | last number | none |\n\
             |---|---:|---:|---:|---:|---:|---:|\n",
        );
        for row in self.languages.iter().chain(std::iter::once(&self.overall)) {
            let name = if row.lang == "all" {
                "**all**".to_string()
            } else {
                row.lang.clone()
            };
            let _ = writeln!(
                out,
                "| {name} | {} | {} | {:.1}% | {} | {} | {} |",
                row.correct,
                row.total,
                100.0 * row.accuracy,
                row.by_phrase,
                row.by_last_number,
                row.no_answer
            );
        }
        out
    }
}

/// Scores responses to [`MgsmProblem`]s by exact match of the extracted number.
#[derive(Debug, Clone, Default)]
pub struct MgsmScorer {
    extractor: AnswerExtractor,
}

impl MgsmScorer {
    /// A scorer using `extractor`.
    pub fn new(extractor: AnswerExtractor) -> MgsmScorer {
        MgsmScorer { extractor }
    }

    /// Scores one response. A problem language without answer phrases is scored by the other
    /// languages' phrases and the last number, which is logged once per language.
    pub fn score_one(&self, problem: &MgsmProblem, response: &str) -> MgsmItem {
        if !self.extractor.has_phrases(&problem.lang) {
            lux_core::lang_table::warn_missing(
                "mgsm_answer_phrases",
                &problem.lang,
                "the other languages' phrases, then the last number",
            );
        }
        let extraction = self.extractor.extract(response, &problem.lang);
        let correct = extraction.is_correct(&problem.answer);
        MgsmItem {
            id: problem.id.clone(),
            lang: problem.lang.clone(),
            gold: problem.answer,
            extraction,
            correct,
        }
    }

    /// Scores `(problem, response)` pairs into a report.
    pub fn score<'a>(
        &self,
        responses: impl IntoIterator<Item = (&'a MgsmProblem, &'a str)>,
    ) -> MgsmReport {
        let mut languages: Vec<LanguageAccuracy> = Vec::new();
        let mut overall = LanguageAccuracy::new("all".into());
        let mut items = Vec::new();
        for (problem, response) in responses {
            let item = self.score_one(problem, response);
            let code = item.lang.code();
            let idx = match languages.iter().position(|l| l.lang == code) {
                Some(i) => i,
                None => {
                    languages.push(LanguageAccuracy::new(code.to_string()));
                    languages.len() - 1
                }
            };
            languages[idx].add(&item);
            overall.add(&item);
            items.push(item);
        }
        MgsmReport {
            languages,
            overall,
            items,
        }
    }
}
