//! Code-switching: replace words of a text by their lexicon translations, as LinguaLIFT's
//! first stage does to teach an alignment layer that `maison` and `house` mean the same.
//!
//! Choices are deterministic: whether a word is switched, into which language and which
//! translation depend only on the seed, the text's key and the word's position
//! ([`lux_core::rng`]), so a rerun or a resumed run produces the same data.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::OnceLock;

use lux_core::{Error, Example, Lang, Provenance, Result, TaskKind, rng};
use regex::Regex;

use crate::lexicon::Lexicon;

/// One replaced word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replacement {
    /// Byte range of the word in the original text.
    pub span: Range<usize>,
    /// The original word.
    pub original: String,
    /// What replaced it (cased like the original).
    pub translation: String,
    /// The translation's language.
    pub lang: Lang,
}

/// A code-switched text and what was replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Switched {
    /// The new text.
    pub text: String,
    /// The replacements, in text order.
    pub replacements: Vec<Replacement>,
    /// Words that had a translation (the ratio applies to these).
    pub eligible: usize,
}

/// Replaces words by their translations from one or several lexicons.
///
/// - `ratio` is the chance that a word *with a translation* is replaced (LinguaLIFT's
///   code-switching ratio); words no lexicon knows are never counted or touched.
/// - With several target languages, each replaced word picks one of the languages that can
///   translate it.
/// - Case is kept: `House` → `Maison`, `HOUSE` → `MAISON`, `house` → the lexicon's spelling.
///   Lookups try the word as written, then lower-cased.
/// - Punctuation and spacing are kept, and placeholders are never touched: `{0}`, `{name}`,
///   `%s`, `%1$d`, `$1`, `<b>`, `&amp;`.
#[derive(Debug, Clone)]
pub struct CodeSwitcher {
    ratio: f64,
    seed: u64,
    lexicons: Vec<(Lang, HashMap<String, Vec<String>>)>,
}

impl CodeSwitcher {
    /// A code-switcher with no lexicon yet; `ratio` must lie in `[0, 1]`.
    pub fn new(ratio: f64, seed: u64) -> Result<CodeSwitcher> {
        if !(0.0..=1.0).contains(&ratio) {
            return Err(Error::invalid(
                "code_switch.ratio",
                format!("{ratio} is not in [0, 1]"),
            ));
        }
        Ok(CodeSwitcher {
            ratio,
            seed,
            lexicons: Vec::new(),
        })
    }

    /// Adds a lexicon into `lang` (its sources are words of the texts to switch). Multi-word
    /// sources are ignored: switching works word by word.
    pub fn with_lexicon(mut self, lang: Lang, lexicon: &Lexicon) -> CodeSwitcher {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for p in &lexicon.pairs {
            if p.source.contains(char::is_whitespace) || p.target.trim().is_empty() {
                continue;
            }
            let ts = map.entry(p.source.clone()).or_default();
            if !ts.contains(&p.target) {
                ts.push(p.target.clone());
            }
        }
        self.lexicons.push((lang, map));
        self
    }

    /// The target languages, in the order their lexicons were added.
    pub fn languages(&self) -> Vec<Lang> {
        self.lexicons.iter().map(|(l, _)| l.clone()).collect()
    }

    /// Code-switches `text`; `key` names the text (its id) so that choices are reproducible.
    pub fn switch(&self, text: &str, key: &str) -> Switched {
        let protected = protected_spans(text);
        let mut out = String::with_capacity(text.len() + 16);
        let mut replacements = Vec::new();
        let mut eligible = 0;
        let mut last = 0;
        for (n, span) in word_spans(text).into_iter().enumerate() {
            if protected
                .iter()
                .any(|p| p.start < span.end && span.start < p.end)
            {
                continue;
            }
            let word = &text[span.clone()];
            let options: Vec<(&Lang, &Vec<String>)> = self
                .lexicons
                .iter()
                .filter_map(|(lang, map)| {
                    map.get(word)
                        .or_else(|| map.get(&word.to_lowercase()))
                        .map(|ts| (lang, ts))
                })
                .collect();
            if options.is_empty() {
                continue;
            }
            eligible += 1;
            let wkey = format!("{key}/{n}");
            if rng::unit(self.seed, &wkey) >= self.ratio {
                continue;
            }
            let (lang, ts) = options[rng::pick(self.seed, &format!("{wkey}/lang"), options.len())];
            let t = &ts[rng::pick(self.seed, &format!("{wkey}/word"), ts.len())];
            let translation = match_case(word, t);
            out.push_str(&text[last..span.start]);
            out.push_str(&translation);
            last = span.end;
            replacements.push(Replacement {
                span: span.clone(),
                original: word.to_string(),
                translation,
                lang: lang.clone(),
            });
        }
        out.push_str(&text[last..]);
        Switched {
            text: out,
            replacements,
            eligible,
        }
    }

    /// Stage-1 training examples: for each `(id, text)` in `source_lang` with at least one
    /// replaced word, the instruction asks to translate the code-switched text back into
    /// `source_lang` and the output is the original text. Task `code_switched_translation`,
    /// generator `code_switch`.
    pub fn instructions<'a>(
        &self,
        texts: impl IntoIterator<Item = (&'a str, &'a str)>,
        source_lang: &Lang,
        provenance: &Provenance,
    ) -> Result<Vec<Example>> {
        let task = TaskKind::new("code_switched_translation")?;
        let mut out = Vec::new();
        for (id, text) in texts {
            let s = self.switch(text, id);
            if s.replacements.is_empty() {
                continue;
            }
            let instruction = format!("Translate into {}: {}", source_lang.english_name(), s.text);
            let mut langs: Vec<&str> = s.replacements.iter().map(|r| r.lang.code()).collect();
            langs.sort_unstable();
            langs.dedup();
            out.push(
                Example {
                    id: rng::id(&format!("code_switch/{}/{id}", self.seed)),
                    task: task.clone(),
                    instruction,
                    instruction_lang: source_lang.clone(),
                    input: None,
                    output: text.to_string(),
                    output_lang: source_lang.clone(),
                    source: String::new(),
                    license: String::new(),
                    seed_id: id.to_string(),
                    generator: "code_switch".into(),
                    template: format!("{}/{}", source_lang.code(), langs.join("+")),
                }
                .with_provenance(provenance),
            );
        }
        Ok(out)
    }
}

/// Byte spans of the words of `text`: runs of letters and digits, with inner apostrophes
/// and hyphens (`don't`, `e-mail`), as [`crate::text::words`] cuts them.
fn word_spans(text: &str) -> Vec<Range<usize>> {
    let joiner = |c: char| c == '\'' || c == '’' || c == '-';
    let mut spans = Vec::new();
    let mut start: Option<usize> = None;
    let mut end = 0;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    for (i, &(b, c)) in chars.iter().enumerate() {
        if c.is_alphanumeric() {
            if start.is_none() {
                start = Some(b);
            }
            end = b + c.len_utf8();
        } else if joiner(c)
            && start.is_some()
            && chars.get(i + 1).is_some_and(|(_, n)| n.is_alphanumeric())
        {
            // inner joiner: keep going
        } else if let Some(s) = start.take() {
            spans.push(s..end);
        }
    }
    if let Some(s) = start {
        spans.push(s..end);
    }
    spans
}

/// Placeholders and markup that must survive untouched.
fn protected_spans(text: &str) -> Vec<Range<usize>> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(
            r"\{\{[^{}]*\}\}|\{[^{}]*\}|%(\d+\$)?[-+ #0]*\d*(\.\d+)?[sdifuxXeEgGcp]|\$\d+|<[^<>]+>|&#?\w+;",
        )
        .expect("valid placeholder pattern")
    });
    re.find_iter(text).map(|m| m.range()).collect()
}

/// `translation` cased like `original`: Title, UPPER, or as the lexicon spells it.
fn match_case(original: &str, translation: &str) -> String {
    let mut oc = original.chars();
    let first_upper = oc.next().is_some_and(char::is_uppercase);
    let letters: Vec<char> = original.chars().filter(|c| c.is_alphabetic()).collect();
    let all_upper = letters.len() > 1 && letters.iter().all(|c| c.is_uppercase());
    if all_upper {
        translation.to_uppercase()
    } else if first_upper {
        let mut tc = translation.chars();
        match tc.next() {
            Some(f) => f.to_uppercase().chain(tc).collect(),
            None => String::new(),
        }
    } else {
        translation.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lexicon(pairs: &[(&str, &str)]) -> Lexicon {
        let mut l = Lexicon::new();
        for (s, t) in pairs {
            l.push(*s, *t, "test");
        }
        l
    }

    #[test]
    fn keeps_case_punctuation_and_placeholders() {
        let fr = lexicon(&[("house", "maison"), ("open", "ouvrir"), ("file", "fichier")]);
        let cs = CodeSwitcher::new(1.0, 1)
            .unwrap()
            .with_lexicon(Lang::FR, &fr);
        let s = cs.switch("House, HOUSE! Open {file} and %s file <b>file</b>.", "k");
        assert_eq!(
            s.text,
            "Maison, MAISON! Ouvrir {file} and %s fichier <b>fichier</b>."
        );
        assert_eq!(s.replacements.len(), 5);
        assert_eq!(s.eligible, 5);
        assert_eq!(s.replacements[0].span, 0..5);
        let none = CodeSwitcher::new(0.0, 1)
            .unwrap()
            .with_lexicon(Lang::FR, &fr);
        assert_eq!(none.switch("Open the house.", "k").text, "Open the house.");
        assert!(CodeSwitcher::new(1.5, 1).is_err());
    }

    #[test]
    fn ratio_seed_and_several_languages() {
        let words: Vec<String> = (0..2000).map(|i| format!("w{i}")).collect();
        let fr_pairs: Vec<(String, String)> = words
            .iter()
            .map(|w| (w.clone(), format!("{w}fr")))
            .collect();
        let lb_pairs: Vec<(String, String)> = words
            .iter()
            .map(|w| (w.clone(), format!("{w}lb")))
            .collect();
        let mut fr = Lexicon::new();
        let mut lb = Lexicon::new();
        for (s, t) in &fr_pairs {
            fr.push(s.clone(), t.clone(), "x");
        }
        for (s, t) in &lb_pairs {
            lb.push(s.clone(), t.clone(), "x");
        }
        let cs = CodeSwitcher::new(0.3, 42)
            .unwrap()
            .with_lexicon(Lang::FR, &fr)
            .with_lexicon(Lang::LB, &lb);
        let text = words.join(" ");
        let a = cs.switch(&text, "doc1");
        assert_eq!(
            a,
            cs.switch(&text, "doc1"),
            "same seed and key, same result"
        );
        let ratio = a.replacements.len() as f64 / a.eligible as f64;
        assert!((0.26..0.34).contains(&ratio), "ratio {ratio}");
        let n_lb = a.replacements.iter().filter(|r| r.lang == Lang::LB).count();
        assert!(n_lb > 200 && n_lb < a.replacements.len() - 200, "{n_lb}");
        assert_ne!(a.text, cs.switch(&text, "doc2").text);

        let ex = cs
            .instructions(
                [
                    ("d1", "w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11 w12"),
                    ("d2", "nothing here"),
                ],
                &Lang::EN,
                &Provenance::new("test", "MIT"),
            )
            .unwrap();
        assert_eq!(ex.len(), 1);
        assert_eq!(ex[0].output, "w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11 w12");
        assert!(ex[0].instruction.starts_with("Translate into English: "));
        assert_eq!(ex[0].task.as_str(), "code_switched_translation");
        assert_eq!(ex[0].license, "MIT");
    }

    #[test]
    fn word_spans_keep_inner_joiners() {
        let t = "d'Lëtzebuerger E-Mail -- don't 'quoted'";
        let w: Vec<&str> = word_spans(t).into_iter().map(|r| &t[r]).collect();
        assert_eq!(w, ["d'Lëtzebuerger", "E-Mail", "don't", "quoted"]);
    }
}
