//! [`ErrorRate`]: `type = "wer"` — word (or character) error rate of predictions against
//! references.

use lux::core::{Error, Metric, MetricInput, Result};
use serde::{Deserialize, Serialize};

/// What the edit distance counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Whitespace-separated tokens: WER, as speech recognition and `jiwer` compute it.
    Word,
    /// Unicode scalar values: CER.
    Char,
}

/// Corpus word error rate: the Levenshtein distance (substitutions + insertions + deletions)
/// between each prediction and its reference, summed over the corpus and divided by the
/// references' total length. `unit = "char"` makes it the character error rate, and the
/// metric then reports itself as `cer`.
///
/// ```toml
/// [[eval]]
/// type = "chrf"
/// metrics = [{ type = "chrf", lowercase = true }, { type = "wer" }, { type = "wer", unit = "char" }]
/// ```
///
/// Why beside chrF: chrF rewards shared character n-grams and forgives word order; WER counts
/// the edits a reader would make, so a tuned model that keeps the words but scrambles them, or
/// pads a correct answer with chatter, shows up here and not there. Lower is better, and it
/// exceeds 1 when predictions are much longer than references.
///
/// Summing before dividing (not averaging per sentence) is what `jiwer.wer` and sacrebleu's
/// TER do: long references weigh by their length. Inputs it cannot score are errors (the
/// `chrf` stage records them in place of a value): representations instead of predictions,
/// lists of different lengths, references with no word at all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorRate {
    /// `word` (default) or `char`.
    #[serde(default = "word")]
    pub unit: Unit,
    /// Compare in lower case. Default false (as `jiwer`).
    #[serde(default)]
    pub lowercase: bool,
}

fn word() -> Unit {
    Unit::Word
}

/// Levenshtein distance between two sequences: one row of the dynamic programme, O(|a|·|b|)
/// time and O(|b|) memory.
pub fn edit_distance<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, x) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, y) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(x != y);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

impl ErrorRate {
    /// Edits and reference length of one pair, in the configured unit.
    pub fn counts(&self, prediction: &str, reference: &str) -> (usize, usize) {
        let fold = |s: &str| {
            if self.lowercase {
                s.to_lowercase()
            } else {
                s.to_string()
            }
        };
        let (p, r) = (fold(prediction), fold(reference));
        match self.unit {
            Unit::Word => {
                let p: Vec<&str> = p.split_whitespace().collect();
                let r: Vec<&str> = r.split_whitespace().collect();
                (edit_distance(&p, &r), r.len())
            }
            Unit::Char => {
                let p: Vec<char> = p.chars().collect();
                let r: Vec<char> = r.chars().collect();
                (edit_distance(&p, &r), r.len())
            }
        }
    }
}

#[typetag::serde(name = "wer")]
impl Metric for ErrorRate {
    fn compute(&self, input: &MetricInput<'_>) -> Result<f64> {
        let name = self.name();
        let MetricInput::Predictions {
            predictions,
            references,
        } = input
        else {
            return Err(Error::Numeric(format!(
                "{name} scores predictions against references, not representations"
            )));
        };
        if predictions.len() != references.len() {
            return Err(Error::Numeric(format!(
                "{name}: {} predictions for {} references",
                predictions.len(),
                references.len()
            )));
        }
        let (edits, length) = predictions
            .iter()
            .zip(references.iter())
            .map(|(p, r)| self.counts(p, r))
            .fold((0, 0), |(e, l), (de, dl)| (e + de, l + dl));
        if length == 0 {
            return Err(Error::Numeric(format!(
                "{name}: the {} references have no {} to count errors against",
                references.len(),
                if self.unit == Unit::Word {
                    "word"
                } else {
                    "character"
                }
            )));
        }
        Ok(edits as f64 / length as f64)
    }

    fn name(&self) -> String {
        match self.unit {
            Unit::Word => "wer".into(),
            Unit::Char => "cer".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lux::core::MatrixRef;

    fn metric(table: &str) -> Box<dyn Metric> {
        toml::from_str(&format!("type = \"wer\"\n{table}")).unwrap()
    }

    fn score(m: &dyn Metric, predictions: &[&str], references: &[&str]) -> Result<f64> {
        let p: Vec<String> = predictions.iter().map(|s| s.to_string()).collect();
        let r: Vec<String> = references.iter().map(|s| s.to_string()).collect();
        m.compute(&MetricInput::Predictions {
            predictions: &p,
            references: &r,
        })
    }

    #[test]
    fn edit_distance_by_hand() {
        assert_eq!(edit_distance(b"kitten", b"sitting"), 3);
        assert_eq!(edit_distance(b"", b"abc"), 3);
        assert_eq!(edit_distance(b"abc", b""), 3);
        assert_eq!(edit_distance(b"flaw", b"lawn"), 2);
        assert_eq!(edit_distance::<u8>(b"", b""), 0);
    }

    #[test]
    fn corpus_rates_sum_edits_before_dividing() {
        let wer = metric("");
        // 1 insertion ("down") + 1 deletion ("a") over 3 + 2 reference words.
        let v = score(&*wer, &["the cat sat down", "b"], &["the cat sat", "a b"]).unwrap();
        assert!((v - 2.0 / 5.0).abs() < 1e-12, "{v}");
        // Case: one substitution unless folded.
        assert_eq!(score(&*wer, &["Moien"], &["moien"]).unwrap(), 1.0);
        assert_eq!(
            score(&*metric("lowercase = true"), &["Moien"], &["moien"]).unwrap(),
            0.0
        );
        // Above 1 when the prediction is much longer.
        assert_eq!(score(&*wer, &["a b c"], &["a"]).unwrap(), 2.0);
        let cer = metric("unit = \"char\"");
        assert_eq!(cer.name(), "cer");
        // "Moien" → "Moin": one deletion over 5 characters.
        assert!((score(&*cer, &["Moin"], &["Moien"]).unwrap() - 0.2).abs() < 1e-12);
    }

    #[test]
    fn inputs_it_cannot_score_are_errors() {
        let wer = metric("");
        let e = score(&*wer, &["a"], &["a", "b"]).unwrap_err().to_string();
        assert!(e.contains("1 predictions for 2 references"), "{e}");
        let e = score(&*wer, &["a"], &["  "]).unwrap_err().to_string();
        assert!(e.contains("no word"), "{e}");
        let m = MatrixRef::new(1, 1, &[1.0]).unwrap();
        let e = wer
            .compute(&MetricInput::Representations { x: m, y: m })
            .unwrap_err()
            .to_string();
        assert!(e.contains("not representations"), "{e}");
        let e = toml::from_str::<Box<dyn Metric>>("type = \"wer\"\nunit = \"token\"")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("token") && e.contains("word") && e.contains("char"),
            "{e}"
        );
    }
}
