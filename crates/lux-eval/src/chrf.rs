//! chrF and chrF++ (Popović 2015, 2017), exactly as sacrebleu 2.x computes them.
//!
//! chrF is the F-score (β = 2: recall weighs twice as much as precision) of character
//! n-grams of orders 1–6, averaged over the orders; chrF++ adds word unigrams and bigrams.
//! lux follows sacrebleu's `CHRF` metric to the digit:
//!
//! - character n-grams are taken from the text with all whitespace removed (Python's
//!   `str.split()` whitespace, which includes U+001C–U+001F), unless `whitespace = true`;
//! - words are whitespace-separated tokens, with one ASCII punctuation character split off
//!   the end of a token longer than one character — or, if the end is not punctuation, off
//!   its start;
//! - per order, precision and recall are averaged over the orders that have both hypothesis
//!   and reference n-grams ("effective order"), and the F-score is taken of the averages;
//!   `eps_smoothing = true` switches to the averaged per-order F-scores of chrF++.py/NLTK;
//! - with several references, a sentence keeps the statistics of the reference it scores
//!   best against; a corpus score sums the statistics of all sentences, then takes one
//!   F-score (it is not a mean of sentence scores).
//!
//! Scores are on sacrebleu's 0–100 scale.
//!
//! ```
//! use lux_eval::chrf::ChrfConfig;
//!
//! let chrf = ChrfConfig::chrf_plus_plus().init().unwrap();
//! let s = chrf.sentence_score("D'Kanner spillen am Gaart.", &["D'Kanner spillen am Gaart."]);
//! assert!((s - 100.0).abs() < 1e-9);
//! let c = chrf.corpus_score(&["Moien!", "Äddi"], &["Moien", "Äddi!"]).unwrap();
//! assert!(c > 50.0 && c < 100.0);
//! ```

use std::collections::HashMap;
use std::hash::Hash;

use lux_core::{Error, Metric, MetricInput, Result};
use serde::{Deserialize, Serialize};

/// Settings of [`Chrf`], with sacrebleu's defaults (chrF2: `char_order = 6`,
/// `word_order = 0`, `beta = 2`).
///
/// ```toml
/// [[metrics]]
/// type = "chrf"
/// word_order = 2   # chrF++
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChrfConfig {
    /// Largest character n-gram order (default 6; ≥ 1).
    #[serde(default = "default_char_order")]
    pub char_order: usize,
    /// Largest word n-gram order: 0 for chrF, 2 for chrF++ (default 0).
    #[serde(default)]
    pub word_order: usize,
    /// Weight of recall relative to precision (default 2; > 0).
    #[serde(default = "default_beta")]
    pub beta: f64,
    /// Lower-case hypotheses and references first (default false).
    #[serde(default)]
    pub lowercase: bool,
    /// Keep whitespace inside character n-grams (default false).
    #[serde(default)]
    pub whitespace: bool,
    /// Average per-order F-scores with ε smoothing, as chrF++.py and NLTK do, instead of
    /// sacrebleu's effective-order averaging (default false).
    #[serde(default)]
    pub eps_smoothing: bool,
}

fn default_char_order() -> usize {
    6
}

fn default_beta() -> f64 {
    2.0
}

impl Default for ChrfConfig {
    fn default() -> Self {
        ChrfConfig::chrf()
    }
}

impl ChrfConfig {
    /// chrF2: character 6-grams, no word n-grams.
    pub fn chrf() -> ChrfConfig {
        ChrfConfig {
            char_order: 6,
            word_order: 0,
            beta: 2.0,
            lowercase: false,
            whitespace: false,
            eps_smoothing: false,
        }
    }

    /// chrF2++: character 6-grams and word bigrams.
    pub fn chrf_plus_plus() -> ChrfConfig {
        ChrfConfig {
            word_order: 2,
            ..ChrfConfig::chrf()
        }
    }

    /// Checks the settings and builds the metric.
    pub fn init(&self) -> Result<Chrf> {
        if self.char_order == 0 && self.word_order == 0 {
            return Err(Error::invalid(
                "chrf.char_order",
                "char_order and word_order are both 0: there is nothing to count",
            ));
        }
        if !(self.beta.is_finite() && self.beta > 0.0) {
            return Err(Error::invalid(
                "chrf.beta",
                format!("{} must be a finite number > 0", self.beta),
            ));
        }
        Ok(Chrf { config: *self })
    }
}

/// The chrF / chrF++ metric; build it from a [`ChrfConfig`].
///
/// As a [`Metric`] over [`MetricInput::Predictions`], it is the corpus score of the
/// predictions against one reference each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ChrfConfig", into = "ChrfConfig")]
pub struct Chrf {
    config: ChrfConfig,
}

impl TryFrom<ChrfConfig> for Chrf {
    type Error = Error;
    fn try_from(config: ChrfConfig) -> Result<Chrf> {
        config.init()
    }
}

impl From<Chrf> for ChrfConfig {
    fn from(chrf: Chrf) -> ChrfConfig {
        chrf.config
    }
}

/// Per-order n-gram counts, `[hypothesis, reference, matched]` for character orders
/// `1..=char_order` then word orders `1..=word_order`. Statistics add up over sentences.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChrfStats {
    /// One `[hyp, ref, match]` triple per order.
    pub counts: Vec<[u64; 3]>,
}

impl ChrfStats {
    /// Adds `other`'s counts to these (an empty `self` takes `other`'s orders).
    pub fn add(&mut self, other: &ChrfStats) {
        if self.counts.len() < other.counts.len() {
            self.counts.resize(other.counts.len(), [0; 3]);
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            for k in 0..3 {
                a[k] += b[k];
            }
        }
    }
}

/// The n-grams of one text: one multiset per order.
struct Ngrams {
    chars: Vec<HashMap<Vec<char>, u64>>,
    words: Vec<HashMap<Vec<String>, u64>>,
}

impl Chrf {
    /// The settings.
    pub fn config(&self) -> &ChrfConfig {
        &self.config
    }

    /// sacrebleu's name for the score: `chrF2`, `chrF2++`.
    pub fn display_name(&self) -> String {
        let beta = self.config.beta;
        let beta = if beta.fract() == 0.0 {
            format!("{}", beta as i64)
        } else {
            beta.to_string()
        };
        format!("chrF{beta}{}", "+".repeat(self.config.word_order))
    }

    /// Sentence-level score (0–100) of `hypothesis` against the best of `references`.
    /// No reference at all scores 0.
    pub fn sentence_score<S: AsRef<str>>(&self, hypothesis: &str, references: &[S]) -> f64 {
        self.score_stats(&self.sentence_stats(hypothesis, references))
    }

    /// The statistics of `hypothesis` against the reference it scores best against (the
    /// first of equals).
    pub fn sentence_stats<S: AsRef<str>>(&self, hypothesis: &str, references: &[S]) -> ChrfStats {
        let hyp = self.ngrams(hypothesis);
        let mut best: Option<(f64, ChrfStats)> = None;
        for r in references {
            let stats = self.match_stats(&hyp, &self.ngrams(r.as_ref()));
            let f = self.score_stats(&stats);
            if best.as_ref().is_none_or(|(bf, _)| f > *bf) {
                best = Some((f, stats));
            }
        }
        best.map(|(_, s)| s).unwrap_or_else(|| ChrfStats {
            counts: vec![[0; 3]; self.orders()],
        })
    }

    /// Corpus-level score (0–100): statistics summed over all sentences, one reference per
    /// hypothesis. Errors when the two lists differ in length.
    pub fn corpus_score<H: AsRef<str>, R: AsRef<str>>(
        &self,
        hypotheses: &[H],
        references: &[R],
    ) -> Result<f64> {
        check_lengths(hypotheses.len(), references.len())?;
        let mut total = ChrfStats {
            counts: vec![[0; 3]; self.orders()],
        };
        for (h, r) in hypotheses.iter().zip(references) {
            total.add(&self.sentence_stats(h.as_ref(), &[r.as_ref()]));
        }
        Ok(self.score_stats(&total))
    }

    /// Corpus-level score with several references per hypothesis (`references[i]` are the
    /// references of `hypotheses[i]`).
    pub fn corpus_score_multi<H: AsRef<str>, R: AsRef<str>>(
        &self,
        hypotheses: &[H],
        references: &[Vec<R>],
    ) -> Result<f64> {
        check_lengths(hypotheses.len(), references.len())?;
        let mut total = ChrfStats {
            counts: vec![[0; 3]; self.orders()],
        };
        for (h, r) in hypotheses.iter().zip(references) {
            total.add(&self.sentence_stats(h.as_ref(), r));
        }
        Ok(self.score_stats(&total))
    }

    /// The score (0–100) of accumulated statistics.
    pub fn score_stats(&self, stats: &ChrfStats) -> f64 {
        const EPS: f64 = 1e-16;
        let factor = self.config.beta * self.config.beta;
        let (mut score, mut avg_prec, mut avg_rec, mut effective) = (0.0, 0.0, 0.0, 0usize);
        for &[n_hyp, n_ref, n_match] in &stats.counts {
            let prec = if n_hyp > 0 {
                n_match as f64 / n_hyp as f64
            } else {
                EPS
            };
            let rec = if n_ref > 0 {
                n_match as f64 / n_ref as f64
            } else {
                EPS
            };
            let denom = factor * prec + rec;
            score += if denom > 0.0 {
                (1.0 + factor) * prec * rec / denom
            } else {
                EPS
            };
            if n_hyp > 0 && n_ref > 0 {
                avg_prec += prec;
                avg_rec += rec;
                effective += 1;
            }
        }
        if self.config.eps_smoothing {
            return 100.0 * score / self.orders() as f64;
        }
        if effective == 0 {
            return 0.0;
        }
        avg_prec /= effective as f64;
        avg_rec /= effective as f64;
        if avg_prec + avg_rec > 0.0 {
            100.0 * (1.0 + factor) * avg_prec * avg_rec / (factor * avg_prec + avg_rec)
        } else {
            0.0
        }
    }

    fn orders(&self) -> usize {
        self.config.char_order + self.config.word_order
    }

    fn ngrams(&self, text: &str) -> Ngrams {
        let lowered;
        let text = if self.config.lowercase {
            lowered = text.to_lowercase();
            lowered.as_str()
        } else {
            text
        };
        let chars: Vec<char> = if self.config.whitespace {
            text.chars().collect()
        } else {
            text.chars().filter(|c| !is_python_whitespace(*c)).collect()
        };
        let char_grams = (1..=self.config.char_order)
            .map(|n| count(&chars, n))
            .collect();
        let word_grams = if self.config.word_order > 0 {
            let words = words(text);
            (1..=self.config.word_order)
                .map(|n| count(&words, n))
                .collect()
        } else {
            Vec::new()
        };
        Ngrams {
            chars: char_grams,
            words: word_grams,
        }
    }

    fn match_stats(&self, hyp: &Ngrams, reference: &Ngrams) -> ChrfStats {
        let mut counts = Vec::with_capacity(self.orders());
        for (h, r) in hyp.chars.iter().zip(&reference.chars) {
            counts.push(order_stats(h, r));
        }
        for (h, r) in hyp.words.iter().zip(&reference.words) {
            counts.push(order_stats(h, r));
        }
        ChrfStats { counts }
    }
}

#[typetag::serde(name = "chrf")]
impl Metric for Chrf {
    fn compute(&self, input: &MetricInput<'_>) -> Result<f64> {
        match input {
            MetricInput::Predictions {
                predictions,
                references,
            } => self.corpus_score(predictions, references),
            MetricInput::Representations { .. } => Err(Error::plugin(
                "chrf",
                "needs predictions and references, got representations",
            )),
        }
    }

    fn name(&self) -> String {
        if self.config.word_order == 0 {
            "chrf".into()
        } else {
            "chrf++".into()
        }
    }
}

fn check_lengths(hypotheses: usize, references: usize) -> Result<()> {
    if hypotheses != references {
        return Err(Error::Numeric(format!(
            "chrF: {hypotheses} hypotheses but {references} references; they are paired by index"
        )));
    }
    Ok(())
}

/// Python's `str.isspace()`: Unicode White_Space plus the information separators
/// U+001C–U+001F.
fn is_python_whitespace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// sacrebleu's punctuation set for chrF++ word splitting.
fn is_punct(c: char) -> bool {
    c.is_ascii_punctuation()
}

/// Whitespace tokens, with one punctuation character split off the end (or else the start)
/// of each token longer than one character.
fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for w in text.split(is_python_whitespace).filter(|w| !w.is_empty()) {
        let mut chars = w.chars();
        let (first, last) = (chars.next(), chars.next_back());
        match (first, last) {
            (Some(_), None) => out.push(w.to_string()),
            (Some(f), Some(l)) => {
                if is_punct(l) {
                    out.push(w[..w.len() - l.len_utf8()].to_string());
                    out.push(l.to_string());
                } else if is_punct(f) {
                    out.push(f.to_string());
                    out.push(w[f.len_utf8()..].to_string());
                } else {
                    out.push(w.to_string());
                }
            }
            (None, _) => {}
        }
    }
    out
}

/// The multiset of `n`-grams of `items`.
fn count<T: Clone + Eq + Hash>(items: &[T], n: usize) -> HashMap<Vec<T>, u64> {
    let mut m: HashMap<Vec<T>, u64> = HashMap::new();
    if n > 0 && items.len() >= n {
        for w in items.windows(n) {
            *m.entry(w.to_vec()).or_default() += 1;
        }
    }
    m
}

/// `[hyp count, ref count, clipped matches]` of one order; the hypothesis count is 0 when the
/// reference has no n-gram of this order, as in sacrebleu.
fn order_stats<K: Eq + Hash>(hyp: &HashMap<K, u64>, reference: &HashMap<K, u64>) -> [u64; 3] {
    let mut matched = 0;
    let mut hyp_count = 0;
    for (g, &c) in hyp {
        hyp_count += c;
        if let Some(&r) = reference.get(g) {
            matched += c.min(r);
        }
    }
    let ref_count = reference.values().sum();
    [
        if reference.is_empty() { 0 } else { hyp_count },
        ref_count,
        matched,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn punctuation_is_split_once_per_token() {
        assert_eq!(
            words("Moien, wéi geet et?"),
            ["Moien", ",", "wéi", "geet", "et", "?"]
        );
        assert_eq!(
            words("(a) \"b\" ... x"),
            ["(a", ")", "\"b", "\"", "..", ".", "x"]
        );
        assert_eq!(words(" ! 'Äddi "), ["!", "'", "Äddi"]);
    }

    #[test]
    fn python_whitespace_includes_separators() {
        assert!(is_python_whitespace('\u{1f}'));
        assert!(is_python_whitespace('\u{a0}'));
        assert!(!is_python_whitespace('\u{200b}'));
    }

    #[test]
    fn settings_are_checked() {
        let e = ChrfConfig {
            char_order: 0,
            ..ChrfConfig::chrf()
        }
        .init()
        .unwrap_err();
        assert!(e.to_string().contains("invalid chrf.char_order"), "{e}");
        let e = ChrfConfig {
            beta: 0.0,
            ..ChrfConfig::chrf()
        }
        .init()
        .unwrap_err();
        assert!(e.to_string().contains("invalid chrf.beta"), "{e}");
        assert_eq!(ChrfConfig::chrf().init().unwrap().display_name(), "chrF2");
        assert_eq!(
            ChrfConfig::chrf_plus_plus().init().unwrap().display_name(),
            "chrF2++"
        );
    }

    #[test]
    fn no_reference_and_empty_texts_score_zero() {
        let chrf = Chrf::default();
        assert_eq!(chrf.sentence_score::<&str>("Moien", &[]), 0.0);
        assert_eq!(chrf.sentence_score("", &["Moien"]), 0.0);
        assert_eq!(chrf.sentence_score("Moien", &[""]), 0.0);
        let e = chrf.corpus_score(&["a"], &["a", "b"]).unwrap_err();
        assert!(
            e.to_string().contains("1 hypotheses but 2 references"),
            "{e}"
        );
    }
}
