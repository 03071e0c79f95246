use lux_core::{Error, Example, Filter, FilterContext, Result, Verdict};
use serde::{Deserialize, Serialize};

use crate::text::word_count;

/// Drops examples whose instruction or output is too short or too long, counted in
/// characters (Unicode scalar values of the trimmed text) and, optionally, in
/// [`words`](crate::text::words). The input is not measured: use `length_ratio` for it.
///
/// ```toml
/// [[filters]]
/// type = "length"
/// min_output_chars = 2
/// max_output_chars = 4000
/// min_instruction_words = 3
/// ```
///
/// Drop reasons: `output too short: 1 < 2 chars`, `instruction too long: 90 > 80 words`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Length {
    /// Fewest characters of the instruction.
    #[serde(default = "one")]
    pub min_instruction_chars: usize,
    /// Most characters of the instruction (no limit when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_instruction_chars: Option<usize>,
    /// Fewest characters of the output.
    #[serde(default = "one")]
    pub min_output_chars: usize,
    /// Most characters of the output (no limit when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_chars: Option<usize>,
    /// Fewest words of the instruction.
    #[serde(default)]
    pub min_instruction_words: usize,
    /// Most words of the instruction (no limit when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_instruction_words: Option<usize>,
    /// Fewest words of the output.
    #[serde(default)]
    pub min_output_words: usize,
    /// Most words of the output (no limit when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_words: Option<usize>,
}

fn one() -> usize {
    1
}

impl Default for Length {
    fn default() -> Self {
        Length {
            min_instruction_chars: 1,
            max_instruction_chars: None,
            min_output_chars: 1,
            max_output_chars: None,
            min_instruction_words: 0,
            max_instruction_words: None,
            min_output_words: 0,
            max_output_words: None,
        }
    }
}

/// `Some(reason)` when `n` is outside `min..=max`.
fn out_of_range(
    field: &str,
    n: usize,
    min: usize,
    max: Option<usize>,
    unit: &str,
) -> Option<String> {
    if n < min {
        Some(format!("{field} too short: {n} < {min} {unit}"))
    } else {
        max.filter(|&m| n > m)
            .map(|max| format!("{field} too long: {n} > {max} {unit}"))
    }
}

impl Length {
    fn validate(&self) -> Result<()> {
        let pairs = [
            (
                "instruction_chars",
                self.min_instruction_chars,
                self.max_instruction_chars,
            ),
            ("output_chars", self.min_output_chars, self.max_output_chars),
            (
                "instruction_words",
                self.min_instruction_words,
                self.max_instruction_words,
            ),
            ("output_words", self.min_output_words, self.max_output_words),
        ];
        for (name, min, max) in pairs {
            if let Some(max) = max.filter(|&m| m < min) {
                return Err(Error::invalid(
                    format!("length.max_{name}"),
                    format!("{max} is below min_{name} = {min}"),
                ));
            }
        }
        Ok(())
    }
}

#[typetag::serde(name = "length")]
impl Filter for Length {
    fn prepare(&mut self, _ctx: &FilterContext) -> Result<()> {
        self.validate()
    }

    fn check(&mut self, example: &Example) -> Result<Verdict> {
        let fields = [
            (
                "instruction",
                example.instruction.trim(),
                self.min_instruction_chars,
                self.max_instruction_chars,
                self.min_instruction_words,
                self.max_instruction_words,
            ),
            (
                "output",
                example.output.trim(),
                self.min_output_chars,
                self.max_output_chars,
                self.min_output_words,
                self.max_output_words,
            ),
        ];
        for (field, text, min_c, max_c, min_w, max_w) in fields {
            if let Some(r) = out_of_range(field, text.chars().count(), min_c, max_c, "chars") {
                return Ok(Verdict::drop(r));
            }
            if (min_w > 0 || max_w.is_some())
                && let Some(r) = out_of_range(field, word_count(text), min_w, max_w, "words")
            {
                return Ok(Verdict::drop(r));
            }
        }
        Ok(Verdict::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filters::testing::*;

    #[test]
    fn bounds_in_chars_and_words() {
        let mut f = Length {
            min_output_chars: 5,
            max_output_chars: Some(40),
            min_instruction_words: 3,
            max_output_words: Some(5),
            ..Default::default()
        };
        let r = run(
            &mut f,
            &[
                ex(
                    "Translate this into Luxembourgish.",
                    "D'Kanner spillen am Gaart.",
                ),
                ex("Translate this into Luxembourgish.", " Haus "),
                ex("Translate this into Luxembourgish.", "ëëë"),
                ex("Translate this into Luxembourgish.", &"Moien ".repeat(8)),
                ex("Translate this into Luxembourgish.", "a b c d e f g"),
                ex("Translate this.", "D'Kanner spillen am Gaart."),
            ],
        );
        assert_eq!(r[0], None);
        assert_eq!(r[1].as_deref(), Some("output too short: 4 < 5 chars"));
        assert_eq!(
            r[2].as_deref(),
            Some("output too short: 3 < 5 chars"),
            "chars, not bytes"
        );
        assert_eq!(r[3].as_deref(), Some("output too long: 47 > 40 chars"));
        assert_eq!(r[4].as_deref(), Some("output too long: 7 > 5 words"));
        assert_eq!(r[5].as_deref(), Some("instruction too short: 2 < 3 words"));
    }

    #[test]
    fn defaults_drop_only_empty_texts() {
        let mut f = Length::default();
        let r = run(
            &mut f,
            &[
                ex("Say hi.", "Moien"),
                ex("Say hi.", "   "),
                ex("", "Moien"),
            ],
        );
        assert_eq!(r[0], None);
        assert_eq!(r[1].as_deref(), Some("output too short: 0 < 1 chars"));
        assert_eq!(r[2].as_deref(), Some("instruction too short: 0 < 1 chars"));
    }

    #[test]
    fn contradictory_bounds_are_an_error_at_prepare() {
        let mut f = Length {
            min_output_chars: 10,
            max_output_chars: Some(5),
            ..Default::default()
        };
        let err = f.prepare(&ctx()).unwrap_err().to_string();
        assert!(err.contains("length.max_output_chars"), "{err}");
    }

    #[test]
    fn deserialises_through_the_trait() {
        let mut f = from_toml("type = \"length\"\nmin_output_chars = 3\nmax_instruction_words = 2");
        assert_eq!(f.name(), "length");
        let r = run(f.as_mut(), &[ex("a b c", "Moien"), ex("a b", "Mo")]);
        assert_eq!(r[0].as_deref(), Some("instruction too long: 3 > 2 words"));
        assert_eq!(r[1].as_deref(), Some("output too short: 2 < 3 chars"));
        assert!(toml::from_str::<Box<dyn Filter>>("type = \"length\"\nmin_chars = 3").is_err());
    }
}
