//! What several filters share: naming an example's text fields, and finding quoted material
//! in an instruction.

use lux_core::Example;
use serde::{Deserialize, Serialize};

/// A text field of an [`Example`] that a filter looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// The instruction.
    Instruction,
    /// The optional input.
    Input,
    /// The output.
    Output,
}

impl Field {
    /// All three fields, in example order.
    pub const ALL: [Field; 3] = [Field::Instruction, Field::Input, Field::Output];

    /// The field's name, as in the JSONL dataset.
    pub fn name(self) -> &'static str {
        match self {
            Field::Instruction => "instruction",
            Field::Input => "input",
            Field::Output => "output",
        }
    }

    /// The field's text (`None` for a missing input).
    pub fn get(self, example: &Example) -> Option<&str> {
        match self {
            Field::Instruction => Some(&example.instruction),
            Field::Input => example.input.as_deref(),
            Field::Output => Some(&example.output),
        }
    }
}

pub(crate) fn all_fields() -> Vec<Field> {
    Field::ALL.to_vec()
}

/// Opening quotation marks and the marks that may close them: `"…"`, `“…”`, `„…“`, `„…”`,
/// `«…»`, `»…«`, `‹…›`, `‚…‘`, `‘…’`, `「…」`, and backquotes. Straight single quotes are
/// not quotation marks here: they are apostrophes too often (`d'Stad`, `l'école`).
const QUOTES: &[(char, &[char])] = &[
    ('"', &['"']),
    ('“', &['”', '“']),
    ('„', &['“', '”']),
    ('«', &['»']),
    ('»', &['«']),
    ('‹', &['›']),
    ('‚', &['‘', '’']),
    ('‘', &['’']),
    ('「', &['」']),
    ('`', &['`']),
];

/// Byte ranges `(opening mark, inner start, inner end, after closing mark)` of the quoted
/// spans of `text`, in order, not nested.
fn quote_ranges(text: &str) -> Vec<(usize, usize, usize, usize)> {
    let mut ranges = Vec::new();
    let mut pos = 0;
    while let Some((start, open)) = text[pos..]
        .char_indices()
        .find(|(_, c)| QUOTES.iter().any(|(o, _)| o == c))
    {
        let open_at = pos + start;
        let inner = open_at + open.len_utf8();
        let closers = QUOTES
            .iter()
            .find(|(o, _)| *o == open)
            .map(|(_, c)| *c)
            .unwrap_or(&[]);
        match text[inner..]
            .char_indices()
            .find(|(_, c)| closers.contains(c))
        {
            Some((end, close)) => {
                let inner_end = inner + end;
                let after = inner_end + close.len_utf8();
                ranges.push((open_at, inner, inner_end, after));
                pos = after;
            }
            None => pos = inner,
        }
    }
    ranges
}

/// The quoted spans of `text`, trimmed, in order, not nested: in
/// `Wie sagt man „Haus“ auf Luxemburgisch?` the span is `Haus`. An opening mark with no
/// closing one is ignored, and so are empty quotes.
pub fn quoted_spans(text: &str) -> Vec<&str> {
    quote_ranges(text)
        .into_iter()
        .map(|(_, a, b, _)| text[a..b].trim())
        .filter(|s| !s.is_empty())
        .collect()
}

/// `text` with its quoted spans, quotation marks included, each replaced by one space.
pub fn without_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    for (open, _, _, after) in quote_ranges(text) {
        out.push_str(&text[pos..open]);
        out.push(' ');
        pos = after;
    }
    out.push_str(&text[pos..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_quoted_spans_in_several_conventions() {
        assert_eq!(
            quoted_spans("How do you say \"house\" in Luxembourgish?"),
            ["house"]
        );
        assert_eq!(
            quoted_spans("Wie sagt man „Haus“ auf Luxemburgisch?"),
            ["Haus"]
        );
        assert_eq!(
            quoted_spans("Comment dit-on « maison » en luxembourgeois ?"),
            ["maison"]
        );
        assert_eq!(quoted_spans("“a” and “b c”"), ["a", "b c"]);
        assert!(quoted_spans("Translate d'Stad and l'école, \"unclosed").is_empty());
    }

    #[test]
    fn removes_quoted_spans() {
        assert_eq!(
            without_quoted("Wie sagt man „Haus“ auf Luxemburgisch?"),
            "Wie sagt man   auf Luxemburgisch?"
        );
        assert_eq!(without_quoted("« a » et « b »!"), "  et  !");
        assert_eq!(without_quoted("no quotes"), "no quotes");
    }

    #[test]
    fn fields_read_the_example() {
        let ex = crate::filters::testing::example("instr", Some("in"), "out");
        assert_eq!(Field::Input.get(&ex), Some("in"));
        assert_eq!(Field::Output.name(), "output");
        let f: Vec<Field> = serde_json::from_str("[\"instruction\", \"output\"]").unwrap();
        assert_eq!(f, [Field::Instruction, Field::Output]);
    }
}
