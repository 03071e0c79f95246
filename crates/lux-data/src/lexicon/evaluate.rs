//! Precision@k of induced translations against a gold dictionary, as MUSE reports it.

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::csls::{Retrieval, retrieve};
use super::{Lexicon, WordVectors};

/// Word-translation accuracy and how much of the gold dictionary could be evaluated.
///
/// Only pairs whose two words are both in the vocabularies are evaluated; the others are
/// counted and listed, not silently dropped. A source word counts as correct at `k` when any
/// of its in-vocabulary gold translations is among its `k` best targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Pairs in the gold dictionary.
    pub gold_pairs: usize,
    /// Pairs with both words in the vocabularies.
    pub pairs_in_vocab: usize,
    /// Distinct gold source words.
    pub source_words: usize,
    /// Distinct source words evaluated (with at least one pair in the vocabularies).
    pub queries: usize,
    /// Precision at 1, 5 and 10, in `[0, 1]` (0 when nothing could be evaluated).
    pub precision_at: [f64; 3],
    /// Gold pairs with a word missing from the vocabularies.
    pub oov_pairs: Vec<(String, String)>,
}

impl Evaluation {
    /// `pairs_in_vocab / gold_pairs`.
    pub fn coverage(&self) -> f64 {
        if self.gold_pairs == 0 {
            0.0
        } else {
            self.pairs_in_vocab as f64 / self.gold_pairs as f64
        }
    }

    /// Precision at 1.
    pub fn p_at_1(&self) -> f64 {
        self.precision_at[0]
    }
}

impl fmt::Display for Evaluation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "P@1 {:.1}%  P@5 {:.1}%  P@10 {:.1}%  ({} queries; {}/{} gold pairs in vocabulary, coverage {:.1}%)",
            100.0 * self.precision_at[0],
            100.0 * self.precision_at[1],
            100.0 * self.precision_at[2],
            self.queries,
            self.pairs_in_vocab,
            self.gold_pairs,
            100.0 * self.coverage()
        )
    }
}

/// Evaluates retrieval from `mapped_src` (source vectors already mapped into the target
/// space) into `tgt` against `gold`.
pub fn evaluate(
    mapped_src: &WordVectors,
    tgt: &WordVectors,
    gold: &Lexicon,
    method: Retrieval,
) -> Evaluation {
    let by_source = gold.by_source();
    let mut queries = Vec::new();
    let mut answers: Vec<HashSet<u32>> = Vec::new();
    let mut oov_pairs = Vec::new();
    let mut pairs_in_vocab = 0;
    for (s, ts) in &by_source {
        let sid = mapped_src.id(s);
        let mut ok = HashSet::new();
        for t in ts {
            match (sid, tgt.id(t)) {
                (Some(_), Some(tid)) => {
                    ok.insert(tid as u32);
                    pairs_in_vocab += 1;
                }
                _ => oov_pairs.push((s.to_string(), t.to_string())),
            }
        }
        if let (Some(sid), false) = (sid, ok.is_empty()) {
            queries.push(sid);
            answers.push(ok);
        }
    }
    let mut precision_at = [0f64; 3];
    if !queries.is_empty() && mapped_src.dim == tgt.dim {
        let found = retrieve(
            &mapped_src.matrix,
            &tgt.matrix,
            tgt.dim,
            &queries,
            10,
            method,
            None,
        );
        for (pi, k) in [1usize, 5, 10].into_iter().enumerate() {
            let hits = answers
                .iter()
                .enumerate()
                .filter(|(q, ok)| found.targets(*q).iter().take(k).any(|t| ok.contains(t)))
                .count();
            precision_at[pi] = hits as f64 / queries.len() as f64;
        }
    }
    Evaluation {
        gold_pairs: gold.len(),
        pairs_in_vocab,
        source_words: by_source.len(),
        queries: queries.len(),
        precision_at,
        oov_pairs,
    }
}
