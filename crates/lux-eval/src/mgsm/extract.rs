//! MGSM-style answer extraction: the final number of a model's answer, in en/lb/de/fr.
//!
//! The extractor looks for an answer phrase ("The answer is", "Die Antwort lautet",
//! "La réponse est", "D'Äntwert ass"…), case-insensitively and through Markdown emphasis,
//! and takes the first number after the last phrase that is followed by one in the same
//! sentence ("The answer is: **€1,234**", "La réponse est donc 18"). Without such a phrase
//! it falls back to the last number in the text. The result records which of the two
//! happened ([`ExtractionMethod`]), so reports can tell a formatted answer from a guess.
//!
//! Numbers are read as people write them:
//!
//! | written | en | de / fr / lb |
//! |---|---|---|
//! | `1,234` | 1234 | 1.234 |
//! | `1.234` | 1.234 | 1234 |
//! | `3,5` | 3.5 | 3.5 |
//! | `1,234.5`, `1.234,5` | 1234.5 | 1234.5 |
//! | `1 234` (space, no-break or narrow no-break space), `1'234` | 1234 | 1234 |
//! | `-5`, `−5` | −5 | −5 |
//!
//! A separator followed by exactly three digits is a thousands separator when it is the
//! language's grouping mark (`,` in English, `.` in German, French and Luxembourgish), when
//! it repeats (`1.234.567`) or when the other mark follows (`1.234,5`); otherwise `.` and
//! `,` are decimal marks. Spaces and apostrophes only ever group thousands.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::OnceLock;

use lux_core::lang_table::LangTable;
use lux_core::{Error, Lang, Result};
use serde::{Deserialize, Serialize};

use super::Number;

/// How an answer was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExtractionMethod {
    /// After an answer phrase ("The answer is 42").
    Phrase,
    /// No phrase had a number after it: the last number in the text.
    LastNumber,
    /// No number at all.
    None,
}

/// The answer extracted from one response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extraction {
    /// The number, if any was found.
    pub answer: Option<Number>,
    /// How it was found.
    pub method: ExtractionMethod,
    /// Byte range of the number in the response.
    pub span: Option<Range<usize>>,
}

impl Extraction {
    /// Whether the extracted answer equals `gold` exactly (as decimals: `18.0` equals `18`).
    pub fn is_correct(&self, gold: &Number) -> bool {
        self.answer.as_ref() == Some(gold)
    }
}

/// Which mark separates the decimals in a language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecimalMark {
    /// `3.5`, thousands grouped with `,` (English).
    Point,
    /// `3,5`, thousands grouped with `.` (German, French, Luxembourgish…).
    Comma,
}

impl DecimalMark {
    fn grouping(self) -> char {
        match self {
            DecimalMark::Point => ',',
            DecimalMark::Comma => '.',
        }
    }
}

/// Settings of [`AnswerExtractor`]. The defaults are the answer-phrases table
/// (`tables/mgsm_answer_phrases.toml`: en, lb, de, fr, fo, is, da, nb, nn, br, fy, and the
/// decimal marks of more); porting to another language means adding its row there, or its
/// phrases (and, if it writes `3,5`, its code in `decimal_comma`) in a recipe.
///
/// ```toml
/// [extractor.phrases]
/// en = ["the answer is", "the final answer is"]
/// lb = ["d'äntwert ass"]
/// pt = ["a resposta é"]
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerExtractorConfig {
    /// Answer phrases per language code, matched case-insensitively, with any run of
    /// whitespace for a space and any apostrophe (`'`, `’`, `ʼ`…) for `'`. A number after a
    /// phrase is read with that phrase's language conventions.
    #[serde(default = "default_phrases")]
    pub phrases: BTreeMap<String, Vec<String>>,
    /// Languages that write decimal commas (`3,5`) and group thousands with `.`.
    #[serde(default = "default_decimal_comma")]
    pub decimal_comma: Vec<String>,
    /// Fall back to the last number in the text when no phrase matches (default true).
    #[serde(default = "yes")]
    pub last_number_fallback: bool,
}

fn yes() -> bool {
    true
}

/// One language's row of the answer-phrases table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PhraseRow {
    #[serde(default)]
    phrases: Vec<String>,
    decimal_mark: DecimalMark,
}

/// The embedded answer-phrases table (`tables/mgsm_answer_phrases.toml`).
fn table() -> &'static LangTable<PhraseRow> {
    static TABLE: OnceLock<LangTable<PhraseRow>> = OnceLock::new();
    TABLE.get_or_init(|| {
        LangTable::from_toml(
            "mgsm_answer_phrases",
            "lux-eval/tables/mgsm_answer_phrases.toml",
            include_str!("../../tables/mgsm_answer_phrases.toml"),
        )
        // Embedded at build time and checked by this module's tests.
        .expect("the embedded MGSM answer-phrases table parses")
    })
}

fn default_phrases() -> BTreeMap<String, Vec<String>> {
    table()
        .iter()
        .filter(|(_, row)| !row.phrases.is_empty())
        .map(|(code, row)| (code.to_string(), row.phrases.clone()))
        .collect()
}

fn default_decimal_comma() -> Vec<String> {
    table()
        .iter()
        .filter(|(_, row)| row.decimal_mark == DecimalMark::Comma)
        .map(|(code, _)| code.to_string())
        .collect()
}

impl Default for AnswerExtractorConfig {
    fn default() -> Self {
        AnswerExtractorConfig {
            phrases: default_phrases(),
            decimal_comma: default_decimal_comma(),
            last_number_fallback: true,
        }
    }
}

impl AnswerExtractorConfig {
    /// Checks the settings and builds the extractor.
    pub fn init(&self) -> Result<AnswerExtractor> {
        let mut phrases = Vec::new();
        for (code, list) in &self.phrases {
            let lang = Lang::new(code).map_err(|_| {
                Error::invalid(format!("extractor.phrases.{code}"), "not a language code")
            })?;
            for (i, p) in list.iter().enumerate() {
                let norm = normalize(p).chars;
                let trimmed: Vec<char> = trim_spaces(&norm);
                if trimmed.is_empty() {
                    return Err(Error::invalid(
                        format!("extractor.phrases.{code}[{i}]"),
                        "an answer phrase cannot be empty",
                    ));
                }
                phrases.push(Phrase {
                    chars: trimmed,
                    lang: lang.clone(),
                });
            }
        }
        let mut decimal_comma = Vec::new();
        for (i, code) in self.decimal_comma.iter().enumerate() {
            decimal_comma.push(Lang::new(code).map_err(|_| {
                Error::invalid(
                    format!("extractor.decimal_comma[{i}]"),
                    format!("`{code}` is not a language code"),
                )
            })?);
        }
        Ok(AnswerExtractor {
            phrases,
            decimal_comma,
            fallback: self.last_number_fallback,
        })
    }
}

#[derive(Debug, Clone)]
struct Phrase {
    chars: Vec<char>,
    lang: Lang,
}

/// Finds the final numeric answer in a model's response; build it from an
/// [`AnswerExtractorConfig`] or take the [`Default`] (en/lb/de/fr).
///
/// ```
/// use lux_core::Lang;
/// use lux_eval::mgsm::{AnswerExtractor, ExtractionMethod, Number};
///
/// let x = AnswerExtractor::default();
/// let e = x.extract("Hatt huet 12 − 5 = 7 Äppel. **D'Äntwert ass: 7**", &Lang::LB);
/// assert_eq!(e.answer, Some(Number::integer(7)));
/// assert_eq!(e.method, ExtractionMethod::Phrase);
/// let e = x.extract("Sie zahlt 1.234,50 €.", &Lang::DE);
/// assert_eq!(e.answer, Some(Number::parse("1234.5").unwrap()));
/// assert_eq!(e.method, ExtractionMethod::LastNumber);
/// ```
#[derive(Debug, Clone)]
pub struct AnswerExtractor {
    phrases: Vec<Phrase>,
    decimal_comma: Vec<Lang>,
    fallback: bool,
}

impl Default for AnswerExtractor {
    fn default() -> Self {
        static DEFAULT: OnceLock<AnswerExtractor> = OnceLock::new();
        DEFAULT
            .get_or_init(|| {
                AnswerExtractorConfig::default()
                    .init()
                    .expect("the built-in extractor settings are valid")
            })
            .clone()
    }
}

impl AnswerExtractor {
    /// Whether any answer phrase is in `lang` (same primary subtag).
    pub fn has_phrases(&self, lang: &Lang) -> bool {
        self.phrases
            .iter()
            .any(|p| p.lang.primary() == lang.primary())
    }

    /// How `lang` writes decimals.
    pub fn decimal_mark(&self, lang: &Lang) -> DecimalMark {
        if self
            .decimal_comma
            .iter()
            .any(|l| l.primary() == lang.primary())
        {
            DecimalMark::Comma
        } else {
            DecimalMark::Point
        }
    }

    /// The answer in `response`, a model's answer to a problem posed in `lang`.
    pub fn extract(&self, response: &str, lang: &Lang) -> Extraction {
        let text = normalize(response);
        let chars = &text.chars;
        // Phrase occurrences, last first.
        let mut hits: Vec<(usize, &Phrase)> = Vec::new();
        for p in &self.phrases {
            hits.extend(find_phrase(chars, &p.chars).into_iter().map(|end| (end, p)));
        }
        hits.sort_by_key(|&(end, _)| std::cmp::Reverse(end));
        for (end, phrase) in hits {
            let mark = self.decimal_mark(&phrase.lang);
            if let Some(found) = numbers(chars, end, answer_limit(chars, end), mark).next() {
                return text.extraction(found, ExtractionMethod::Phrase);
            }
        }
        if self.fallback
            && let Some(found) = numbers(chars, 0, chars.len(), self.decimal_mark(lang)).last()
        {
            return text.extraction(found, ExtractionMethod::LastNumber);
        }
        Extraction {
            answer: None,
            method: ExtractionMethod::None,
            span: None,
        }
    }
}

/// Extracts with the default extractor (the answer-phrases table).
pub fn extract_answer(response: &str, lang: &Lang) -> Extraction {
    AnswerExtractor::default().extract(response, lang)
}

/// Every number in `text` read with `lang`'s conventions (default extractor's languages),
/// with its byte range: what the last-number fallback chooses from.
pub fn find_numbers(text: &str, lang: &Lang) -> Vec<(Range<usize>, Number)> {
    let mark = AnswerExtractor::default().decimal_mark(lang);
    let norm = normalize(text);
    numbers(&norm.chars, 0, norm.chars.len(), mark)
        .map(|(s, e, n)| (norm.byte_range(s, e), n))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Normalised text

/// Lower-cased text with one space for each run of blanks (a newline if the run has one),
/// apostrophes unified, Markdown emphasis (`*`, `_`) dropped, and the original byte range of
/// every character kept.
struct Normalized {
    chars: Vec<char>,
    spans: Vec<(usize, usize)>,
}

impl Normalized {
    fn byte_range(&self, start: usize, end: usize) -> Range<usize> {
        self.spans[start].0..self.spans[end - 1].1
    }

    fn extraction(
        &self,
        (start, end, n): (usize, usize, Number),
        method: ExtractionMethod,
    ) -> Extraction {
        Extraction {
            answer: Some(n),
            method,
            span: Some(self.byte_range(start, end)),
        }
    }
}

fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '’' | '‘' | 'ʼ' | '`' | '´' | '′')
}

fn normalize(text: &str) -> Normalized {
    let mut chars: Vec<char> = Vec::with_capacity(text.len());
    let mut spans = Vec::with_capacity(text.len());
    let raw: Vec<(usize, char)> = text.char_indices().collect();
    for (k, &(i, c)) in raw.iter().enumerate() {
        let span = (i, i + c.len_utf8());
        if c == '*' || c == '_' {
            // `12*150` is a product, not `12150`: keep a neutral mark between digits.
            let digit_before = chars.last().is_some_and(|p: &char| p.is_ascii_digit());
            let digit_after = raw.get(k + 1).is_some_and(|(_, n)| n.is_ascii_digit());
            if digit_before && digit_after {
                chars.push('×');
                spans.push(span);
            }
            continue;
        }
        if c.is_whitespace() {
            let w = if c == '\n' || c == '\u{2028}' || c == '\u{2029}' {
                '\n'
            } else {
                ' '
            };
            match chars.last_mut() {
                Some(last) if *last == ' ' || *last == '\n' => {
                    if w == '\n' {
                        *last = '\n';
                    }
                }
                _ => {
                    chars.push(w);
                    spans.push(span);
                }
            }
            continue;
        }
        if is_apostrophe(c) {
            chars.push('\'');
            spans.push(span);
            continue;
        }
        for l in c.to_lowercase() {
            chars.push(l);
            spans.push(span);
        }
    }
    Normalized { chars, spans }
}

fn trim_spaces(chars: &[char]) -> Vec<char> {
    let start = chars
        .iter()
        .position(|c| *c != ' ' && *c != '\n')
        .unwrap_or(chars.len());
    let end = chars
        .iter()
        .rposition(|c| *c != ' ' && *c != '\n')
        .map_or(start, |e| e + 1);
    chars[start..end]
        .iter()
        .map(|&c| if c == '\n' { ' ' } else { c })
        .collect()
}

/// End positions of `phrase` in `text`, matched at word boundaries (a space in the phrase
/// matches a space or a newline).
fn find_phrase(text: &[char], phrase: &[char]) -> Vec<usize> {
    let mut ends = Vec::new();
    if phrase.is_empty() || phrase.len() > text.len() {
        return ends;
    }
    for start in 0..=text.len() - phrase.len() {
        let matches = phrase
            .iter()
            .zip(&text[start..])
            .all(|(p, t)| *p == *t || (*p == ' ' && *t == '\n'));
        if !matches {
            continue;
        }
        let end = start + phrase.len();
        let starts_word =
            start == 0 || !text[start - 1].is_alphanumeric() || !phrase[0].is_alphanumeric();
        let ends_word = end == text.len()
            || !text[end].is_alphanumeric()
            || !phrase[phrase.len() - 1].is_alphanumeric();
        if starts_word && ends_word {
            ends.push(end);
        }
    }
    ends
}

/// How far after a phrase its number may be: to the end of the sentence (`.`, `!`, `?`, `;`
/// before a blank), to a line break after some words, and at most [`MAX_GAP`] characters.
/// Blank lines and Markdown right after the phrase are crossed (`The answer is:\n\n**12**`).
fn answer_limit(chars: &[char], from: usize) -> usize {
    let mut seen_word = false;
    let end = chars.len().min(from + MAX_GAP);
    for i in from..end {
        let c = chars[i];
        let next_is_blank = chars.get(i + 1).is_none_or(|n| n.is_whitespace());
        if c.is_ascii_digit() && (i == 0 || !chars[i - 1].is_alphanumeric()) {
            // The number itself may run past the gap limit.
            return chars.len();
        }
        if (matches!(c, '.' | '!' | '?' | ';') && next_is_blank) || (c == '\n' && seen_word) {
            return i;
        }
        seen_word |= c.is_alphanumeric();
    }
    end
}

/// Most characters between an answer phrase and its number.
const MAX_GAP: usize = 80;

// ---------------------------------------------------------------------------------------------
// Numbers

fn digits_from(chars: &[char], i: usize) -> usize {
    chars[i.min(chars.len())..]
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count()
}

/// The numbers in `chars[from..to]`, in order, as `(start, end, value)` (char indices).
fn numbers(
    chars: &[char],
    from: usize,
    to: usize,
    mark: DecimalMark,
) -> impl Iterator<Item = (usize, usize, Number)> + '_ {
    let to = to.min(chars.len());
    let mut i = from;
    std::iter::from_fn(move || {
        while i < to {
            let c = chars[i];
            let starts = c.is_ascii_digit() && (i == 0 || !chars[i - 1].is_alphanumeric());
            if !starts {
                i += 1;
                continue;
            }
            let (end, value) = read_number(&chars[..to], i, mark);
            let negative = i >= 1
                && matches!(chars[i - 1], '-' | '−')
                && (i < 2 || !chars[i - 2].is_alphanumeric());
            let start = if negative { i - 1 } else { i };
            i = end;
            if let Some(mut n) = value {
                if negative {
                    n = -n;
                }
                return Some((start, end, n));
            }
        }
        None
    })
}

/// Reads the number whose first digit is at `i`; returns its end and value (`None` on
/// overflow).
fn read_number(chars: &[char], i: usize, mark: DecimalMark) -> (usize, Option<Number>) {
    let first = digits_from(chars, i);
    let mut int: String = chars[i..i + first].iter().collect();
    let mut frac = String::new();
    let mut j = i + first;
    let mut group: Option<char> = None;
    // A grouped number starts with 1–3 digits and no leading zero.
    let can_group = first <= 3 && chars[i] != '0';
    while j < chars.len() {
        let c = chars[j];
        if !matches!(c, '.' | ',' | ' ' | '\'') {
            break;
        }
        let k = digits_from(chars, j + 1);
        if k == 0 {
            break;
        }
        let after = j + 1 + k;
        let next = chars.get(after).copied();
        let three = k == 3 && can_group;
        let digits: String = chars[j + 1..after].iter().collect();
        match c {
            ' ' | '\'' => {
                if three && group.is_none_or(|g| g == c) {
                    group = Some(c);
                    int.push_str(&digits);
                } else {
                    break;
                }
            }
            _ => {
                let other = if c == '.' { ',' } else { '.' };
                let followed_by_other = next == Some(other) && digits_from(chars, after + 1) > 0;
                let followed_by_same = next == Some(c) && digits_from(chars, after + 1) == 3;
                let grouping = three
                    && match group {
                        Some(g) => g == c,
                        None => followed_by_other || followed_by_same || c == mark.grouping(),
                    };
                if grouping {
                    group = Some(c);
                    int.push_str(&digits);
                } else if group == Some(c) {
                    break;
                } else {
                    frac = digits;
                    j = after;
                    break;
                }
            }
        }
        j = after;
    }
    (j, Number::from_parts(false, &int, &frac))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nums(text: &str, mark: DecimalMark) -> Vec<String> {
        let n = normalize(text);
        numbers(&n.chars, 0, n.chars.len(), mark)
            .map(|(_, _, v)| v.to_string())
            .collect()
    }

    #[test]
    fn the_table_gives_phrases_and_decimal_marks_of_new_languages() {
        let x = AnswerExtractor::default();
        let fo = Lang::new("fo").unwrap();
        assert!(x.has_phrases(&fo) && x.has_phrases(&Lang::LB));
        assert!(!x.has_phrases(&Lang::new("nl").unwrap()));
        assert_eq!(x.decimal_mark(&fo), DecimalMark::Comma);
        assert_eq!(
            x.decimal_mark(&Lang::new("nl").unwrap()),
            DecimalMark::Comma
        );
        assert_eq!(
            x.decimal_mark(&Lang::new("qaa").unwrap()),
            DecimalMark::Point
        );
        let e = x.extract(
            "Hon hevur 12 epli og 3 fara. Svarið er: 1.234,5 krónur.",
            &fo,
        );
        assert_eq!(e.method, ExtractionMethod::Phrase);
        assert_eq!(e.answer, Some(Number::parse("1234.5").unwrap()));
        let e = x.extract("Ar respont eo 18.", &Lang::new("br").unwrap());
        assert_eq!(e.answer, Some(Number::integer(18)));
        assert_eq!(e.method, ExtractionMethod::Phrase);
    }

    #[test]
    fn reads_grouping_and_decimals_by_convention() {
        use DecimalMark::*;
        assert_eq!(nums("1,234 and 1.234", Point), ["1234", "1.234"]);
        assert_eq!(nums("1,234 and 1.234", Comma), ["1.234", "1234"]);
        assert_eq!(nums("1,234.5 1.234,5", Point), ["1234.5", "1234.5"]);
        assert_eq!(nums("1,234.5 1.234,5", Comma), ["1234.5", "1234.5"]);
        assert_eq!(nums("1.234.567 1,234,567", Point), ["1234567", "1234567"]);
        assert_eq!(
            nums("1 234 1\u{a0}234 1\u{202f}234,5 1'234 1’234", Comma),
            ["1234", "1234", "1234.5", "1234", "1234"]
        );
        assert_eq!(nums("3,5 0,234 0.5", Comma), ["3.5", "0.234", "0.5"]);
        assert_eq!(nums("2, 3, 5 and 7.", Point), ["2", "3", "5", "7"]);
        assert_eq!(
            nums("-5 − 3 = −8; 10-4", Point),
            ["-5", "3", "-8", "10", "4"]
        );
        assert_eq!(nums("12 Äppel, 3 Bicher", Comma), ["12", "3"]);
        assert_eq!(nums("12345 678", Point), ["12345", "678"]);
        assert_eq!(nums("CO2 B12 x 4", Point), ["4"]);
        assert_eq!(nums("12*150=1800", Point), ["12", "150", "1800"]);
        assert_eq!(nums("1,2345", Point), ["1.2345"]);
    }

    #[test]
    fn phrases_match_at_word_boundaries() {
        let t = normalize("Moien! D’Äntwert  ass:\n5");
        let p = normalize("d'äntwert ass").chars;
        assert_eq!(find_phrase(&t.chars, &p), vec![20]);
        let t = normalize("the answer isn't 5");
        assert!(find_phrase(&t.chars, &normalize("the answer is").chars).is_empty());
    }
}
