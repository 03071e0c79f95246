//! [`NgramRepetition`]: `type = "ngram_repetition"` — drops examples whose text loops.

use std::collections::HashMap;

use lux::core::{Error, Example, Filter, Result, Verdict};
use lux::data::text::words;
use serde::{Deserialize, Serialize};

/// Which text of an example a filter looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// The instruction.
    Instruction,
    /// The input, when there is one.
    Input,
    /// The output (the answer the model learns to write).
    Output,
}

/// Settings of [`NgramRepetition`], as a recipe writes them.
///
/// ```toml
/// [[data.filters]]
/// type = "ngram_repetition"
/// n = 3                 # word n-grams (default 3)
/// max_fraction = 0.3    # of the text's characters inside repeated n-grams (default 0.3)
/// fields = ["output"]   # default: the output only
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NgramRepetitionConfig {
    /// Length of the word n-grams. Default 3.
    #[serde(default = "default_n")]
    pub n: usize,
    /// Largest share of a text's word characters that may sit inside n-grams occurring more
    /// than once. Default 0.3.
    #[serde(default = "default_max_fraction")]
    pub max_fraction: f64,
    /// The texts checked. Default `["output"]`.
    #[serde(default = "default_fields")]
    pub fields: Vec<Field>,
}

fn default_n() -> usize {
    3
}
fn default_max_fraction() -> f64 {
    0.3
}
fn default_fields() -> Vec<Field> {
    vec![Field::Output]
}

/// Drops an example when too much of a text is repeated word n-grams: Gopher's "duplicate
/// n-gram character fraction" (Rae et al. 2021, appendix A), the measure their quality rules
/// use against boilerplate and degenerate loops. A generator (or an LLM writing instructions)
/// that got stuck — "the cat sat on the mat the cat sat on the mat" — teaches the tuned model
/// to loop; length filters and exact dedup do not see it, because the example is neither long
/// nor a copy of another.
///
/// Words are lux's [`words`] (letters, digits, inner apostrophes and hyphens), compared in
/// lower case. Every word covered by an n-gram that occurs twice or more counts once, and the
/// fraction is the covered words' characters over all words' characters, so one repeated
/// short phrase in a long answer weighs little. Texts of fewer than `n` words have no n-gram
/// and pass. Gopher drops web documents above 0.15 for 5-grams; instruction outputs are short
/// and lux's default is 3-grams above 0.3.
///
/// Drop reason: `output: 0.80 of its characters are in repeated 3-grams (max 0.30), e.g. "the
/// cat sat" ×2`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "NgramRepetitionConfig", into = "NgramRepetitionConfig")]
pub struct NgramRepetition {
    config: NgramRepetitionConfig,
}

impl TryFrom<NgramRepetitionConfig> for NgramRepetition {
    type Error = Error;

    /// Checks the settings when the recipe is read, so a bad value stops the run before
    /// anything runs, with the recipe's file and line (errors name `ngram_repetition.<key>`).
    fn try_from(config: NgramRepetitionConfig) -> Result<NgramRepetition> {
        if config.n == 0 {
            return Err(Error::invalid("ngram_repetition.n", "must be at least 1"));
        }
        if !(0.0..1.0).contains(&config.max_fraction) {
            return Err(Error::invalid(
                "ngram_repetition.max_fraction",
                format!(
                    "{} must be in [0, 1) (1 would keep everything)",
                    config.max_fraction
                ),
            ));
        }
        if config.fields.is_empty() {
            return Err(Error::invalid(
                "ngram_repetition.fields",
                "names no field; give at least one of \"instruction\", \"input\", \"output\"",
            ));
        }
        Ok(NgramRepetition { config })
    }
}

impl From<NgramRepetition> for NgramRepetitionConfig {
    fn from(filter: NgramRepetition) -> NgramRepetitionConfig {
        filter.config
    }
}

/// How much of a text repeats: the covered fraction and the most frequent repeated n-gram.
#[derive(Debug, Clone, PartialEq)]
pub struct Repetition {
    /// Characters of words inside a repeated n-gram over the characters of all words.
    pub fraction: f64,
    /// The most frequent repeated n-gram (the first in the text on a tie) and its count.
    pub top: Option<(String, usize)>,
}

/// Measures the repeated word `n`-grams of `text` (lower-cased [`words`]); `n` ≥ 1.
pub fn repetition(text: &str, n: usize) -> Repetition {
    let lower = text.to_lowercase();
    let ws: Vec<&str> = words(&lower).collect();
    let none = Repetition {
        fraction: 0.0,
        top: None,
    };
    if n == 0 || ws.len() < n {
        return none;
    }
    let mut counts: HashMap<&[&str], (usize, usize)> = HashMap::new();
    for (i, gram) in ws.windows(n).enumerate() {
        counts.entry(gram).or_insert((0, i)).0 += 1;
    }
    let mut covered = vec![false; ws.len()];
    for (i, gram) in ws.windows(n).enumerate() {
        if counts[gram].0 > 1 {
            covered[i..i + n].iter_mut().for_each(|c| *c = true);
        }
    }
    let chars = |w: &&str| w.chars().count();
    let total: usize = ws.iter().map(chars).sum();
    let repeated: usize = ws
        .iter()
        .zip(&covered)
        .filter(|(_, c)| **c)
        .map(|(w, _)| chars(w))
        .sum();
    // Most frequent, then earliest: a deterministic example for the drop reason.
    let top = counts
        .iter()
        .filter(|(_, (count, _))| *count > 1)
        .max_by(|a, b| a.1.0.cmp(&b.1.0).then(b.1.1.cmp(&a.1.1)))
        .map(|(gram, (count, _))| (gram.join(" "), *count));
    Repetition {
        fraction: repeated as f64 / total as f64,
        top,
    }
}

#[typetag::serde(name = "ngram_repetition")]
impl Filter for NgramRepetition {
    fn check(&mut self, example: &Example) -> Result<Verdict> {
        let c = &self.config;
        for field in &c.fields {
            let (name, text) = match field {
                Field::Instruction => ("instruction", example.instruction.as_str()),
                Field::Input => ("input", example.input.as_deref().unwrap_or("")),
                Field::Output => ("output", example.output.as_str()),
            };
            let r = repetition(text, c.n);
            if r.fraction > c.max_fraction {
                let example = r
                    .top
                    .map(|(gram, count)| format!(", e.g. \"{gram}\" ×{count}"))
                    .unwrap_or_default();
                return Ok(Verdict::drop(format!(
                    "{name}: {:.2} of its characters are in repeated {}-grams (max {:.2}){example}",
                    r.fraction, c.n, c.max_fraction
                )));
            }
        }
        Ok(Verdict::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(table: &str) -> Box<dyn Filter> {
        toml::from_str(&format!("type = \"ngram_repetition\"\n{table}")).unwrap()
    }

    fn example(output: &str) -> Example {
        serde_json::from_value(serde_json::json!({
            "id": "x", "task": "open_generation", "instruction": "Write.",
            "instruction_lang": "en", "output": output, "output_lang": "lb",
            "source": "test", "license": "CC0", "seed_id": "s", "generator": "test",
        }))
        .unwrap()
    }

    #[test]
    fn fraction_counts_characters_of_words_in_repeated_ngrams() {
        // "the cat" occurs twice and covers words 0–3: 12 of 15 characters.
        let r = repetition("The cat, the cat sat.", 2);
        assert!((r.fraction - 12.0 / 15.0).abs() < 1e-12, "{r:?}");
        assert_eq!(r.top, Some(("the cat".into(), 2)));
        // Every trigram of "a b c a b c" is covered by "a b c" ×2.
        assert_eq!(repetition("a b c a b c", 3).fraction, 1.0);
        // Distinct bigrams: nothing repeats, even though "the" does.
        let r = repetition("the cat sat on the mat", 2);
        assert_eq!((r.fraction, r.top), (0.0, None));
        // Fewer words than n: no n-gram at all.
        assert_eq!(repetition("Moien", 3).fraction, 0.0);
        // Long words weigh more: "aaaa b" ×2 + "c": 10 of 11 characters.
        assert!((repetition("aaaa b aaaa b c", 2).fraction - 10.0 / 11.0).abs() < 1e-12);
    }

    #[test]
    fn drops_above_the_threshold_with_a_reason_and_keeps_at_it() {
        let mut f = filter("n = 2\nmax_fraction = 0.5");
        match f.check(&example("the cat the cat sat")).unwrap() {
            Verdict::Drop { reason } => assert_eq!(
                reason,
                "output: 0.80 of its characters are in repeated 2-grams (max 0.50), e.g. \"the cat\" ×2"
            ),
            v => panic!("{v:?}"),
        }
        assert!(
            f.check(&example("the cat sat on the mat"))
                .unwrap()
                .is_keep()
        );
        // Exactly at the threshold is kept: "a b" ×2 + "c d e f": 4 of 8 characters.
        assert_eq!(repetition("a b a b c d e f", 2).fraction, 0.5);
        assert!(f.check(&example("a b a b c d e f")).unwrap().is_keep());
        // Only the fields named are checked.
        let mut f = filter("n = 2\nmax_fraction = 0.5\nfields = [\"instruction\"]");
        assert!(f.check(&example("the cat the cat sat")).unwrap().is_keep());
    }

    #[test]
    fn settings_are_checked_when_read_and_errors_name_the_key() {
        for (table, key) in [
            ("n = 0", "ngram_repetition.n"),
            ("max_fraction = 1.0", "ngram_repetition.max_fraction"),
            ("fields = []", "ngram_repetition.fields"),
        ] {
            let e =
                toml::from_str::<Box<dyn Filter>>(&format!("type = \"ngram_repetition\"\n{table}"))
                    .unwrap_err()
                    .to_string();
            assert!(e.contains(key), "{table}: {e}");
        }
        let e =
            toml::from_str::<Box<dyn Filter>>("type = \"ngram_repetition\"\nmax_fractoin = 0.2")
                .unwrap_err()
                .to_string();
        assert!(
            e.contains("max_fractoin") && e.contains("max_fraction"),
            "{e}"
        );
        assert_eq!(filter("").name(), "ngram_repetition");
    }
}
