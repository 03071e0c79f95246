use std::sync::Arc;

use lux_core::{Example, Filter, FilterContext, Lang, Result, Verdict};
use serde::{Deserialize, Serialize};

use super::common::quoted_spans;
use super::lang_id::{check_confidence, check_languages, letters};
use crate::langid::{LangId, LangIdModel, same_lang};
use crate::text::{dedup_key, word_count};

/// Drops examples whose output merely copies the source instead of answering in the native
/// language. Precisely, with texts compared by [`dedup_key`] (case, spacing, punctuation and
/// Unicode normalisation do not count), an example is dropped when:
///
/// 1. `output equals input`: the output is the input (a "translation" that is the sentence
///    itself);
/// 2. `output equals instruction`: the output is the instruction, or one of its quoted spans
///    (`How do you say "Internet" in Luxembourgish?` → `Internet`; see
///    [`quoted_spans`]);
/// 3. `output in source language` (only with `lang_id` set): the output has at least
///    `min_chars` letters, and the language identifier's best guess for it is a *source
///    language* other than the example's `output_lang`, with probability at least
///    `min_confidence`. The source languages are the `instruction_lang` and, when the input
///    has at least `min_chars` letters, the input's identified language. (An output in some
///    third language is the `lang_id` filter's business.)
///
/// Outputs with fewer than `min_output_words` words are not checked at all, for languages
/// where loanwords legitimately equal their source (`Internet`, `Computer`). Empty texts are
/// never equal to anything.
///
/// ```toml
/// [[filters]]
/// type = "copy_source"
/// lang_id = {}          # also check the output's language, with the default model
/// min_confidence = 0.8
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CopySource {
    /// Drop outputs equal to the input.
    #[serde(default = "yes")]
    pub compare_input: bool,
    /// Drop outputs equal to the instruction or to one of its quoted spans.
    #[serde(default = "yes")]
    pub compare_instruction: bool,
    /// The language identifier used to find outputs in a source language; no language
    /// check when absent. `lang_id = {}` uses the default model (`data/parallel.jsonl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang_id: Option<LangIdModel>,
    /// Lowest probability of the source language for the language check to drop.
    #[serde(default = "default_min_confidence")]
    pub min_confidence: f64,
    /// Texts with fewer letters are not language-checked.
    #[serde(default = "default_min_chars")]
    pub min_chars: usize,
    /// Outputs with fewer words are not checked.
    #[serde(default = "one")]
    pub min_output_words: usize,
    /// The loaded model (set by `prepare`).
    #[serde(skip)]
    loaded: Option<Arc<LangId>>,
}

fn yes() -> bool {
    true
}
fn one() -> usize {
    1
}
fn default_min_confidence() -> f64 {
    0.8
}
fn default_min_chars() -> usize {
    20
}

impl Default for CopySource {
    fn default() -> Self {
        CopySource {
            compare_input: true,
            compare_instruction: true,
            lang_id: None,
            min_confidence: default_min_confidence(),
            min_chars: default_min_chars(),
            min_output_words: 1,
            loaded: None,
        }
    }
}

impl CopySource {
    /// A filter that also checks the output's language with an already trained model.
    pub fn with_model(model: Arc<LangId>) -> CopySource {
        CopySource {
            loaded: Some(model),
            ..Default::default()
        }
    }

    /// The identified language of `text` when it is long enough and confident enough.
    fn language(&self, model: &LangId, text: &str) -> Option<(Lang, f64)> {
        if letters(text) < self.min_chars {
            return None;
        }
        model.best(text).filter(|(_, p)| *p >= self.min_confidence)
    }
}

#[typetag::serde(name = "copy_source")]
impl Filter for CopySource {
    fn prepare(&mut self, ctx: &FilterContext) -> Result<()> {
        check_confidence("copy_source.min_confidence", self.min_confidence)?;
        if let Some(source) = &self.lang_id {
            let model = source.load(&ctx.base_dir)?;
            let mut langs = vec![&ctx.native];
            langs.extend(&ctx.instruction_langs);
            check_languages("copy_source.lang_id", &model, &langs)?;
            self.loaded = Some(model);
        }
        Ok(())
    }

    fn check(&mut self, example: &Example) -> Result<Verdict> {
        if word_count(&example.output) < self.min_output_words {
            return Ok(Verdict::Keep);
        }
        let output = dedup_key(&example.output);
        if output.is_empty() {
            return Ok(Verdict::Keep);
        }
        if self.compare_input
            && let Some(input) = &example.input
            && dedup_key(input) == output
        {
            return Ok(Verdict::drop("output equals input"));
        }
        if self.compare_instruction {
            if dedup_key(&example.instruction) == output {
                return Ok(Verdict::drop("output equals instruction"));
            }
            if let Some(span) = quoted_spans(&example.instruction)
                .into_iter()
                .find(|s| dedup_key(s) == output)
            {
                return Ok(Verdict::drop(format!(
                    "output equals instruction: quoted {span:?}"
                )));
            }
        }
        if let Some(model) = self.loaded.as_deref()
            && let Some((lang, p)) = self.language(model, &example.output)
            && !same_lang(&lang, &example.output_lang)
        {
            let from_instruction = same_lang(&lang, &example.instruction_lang);
            let from_input = || {
                example
                    .input
                    .as_deref()
                    .and_then(|i| self.language(model, i))
                    .is_some_and(|(l, _)| same_lang(&l, &lang))
            };
            if from_instruction || from_input() {
                let source = if from_instruction {
                    "instruction"
                } else {
                    "input"
                };
                return Ok(Verdict::drop(format!(
                    "output in source language: {lang} ({p:.2}) like the {source}, expected {}",
                    example.output_lang
                )));
            }
        }
        Ok(Verdict::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filters::testing::*;
    use crate::langid::test_corpus::{CORPUS, model, write_parallel_jsonl};

    #[test]
    fn copies_of_input_and_quoted_material_are_dropped() {
        let (en, lb, de, _) = CORPUS[5];
        let mut f = CopySource::default();
        let r = run(
            &mut f,
            &[
                example("Translate into Luxembourgish.", Some(en), lb),
                example(
                    "Translate into Luxembourgish.",
                    Some(en),
                    &en.to_uppercase(),
                ),
                ex("How do you say \"Internet\" in Luxembourgish?", "internet!"),
                ex("Wie sagt man „Haus“ auf Luxemburgisch?", "Haus"),
                ex("Wie sagt man „Haus“ auf Luxemburgisch?", "Haus an der Stad"),
                ex("Repeat after me.", "repeat after me"),
                ex("Translate into Luxembourgish.", de),
            ],
        );
        assert_eq!(r[0], None);
        assert_eq!(r[1].as_deref(), Some("output equals input"));
        assert_eq!(
            r[2].as_deref(),
            Some("output equals instruction: quoted \"Internet\"")
        );
        assert_eq!(
            r[3].as_deref(),
            Some("output equals instruction: quoted \"Haus\"")
        );
        assert_eq!(r[4], None);
        assert_eq!(r[5].as_deref(), Some("output equals instruction"));
        assert_eq!(r[6], None, "no language check without a model");
    }

    #[test]
    fn outputs_in_the_source_language_are_dropped_with_a_model() {
        let mut f = CopySource::with_model(model());
        let (en, lb, de, fr) = CORPUS[1];
        let mut from_de = example("Translate into Luxembourgish.", Some(de), de);
        from_de.output = CORPUS[2].2.to_string(); // German, but not the input itself
        let r = run(
            &mut f,
            &[
                example("Translate into Luxembourgish.", Some(de), lb),
                ex(
                    "Please translate the following sentence into Luxembourgish.",
                    en,
                ),
                from_de,
                // French output for an English instruction and German input: another
                // language, not a copy of the source (lang_id's business).
                example("Translate into Luxembourgish.", Some(de), fr),
            ],
        );
        assert_eq!(r[0], None);
        let reason = r[1].as_deref().expect("English output dropped");
        assert!(
            reason.starts_with("output in source language: en (")
                && reason.contains("like the instruction, expected lb"),
            "{reason}"
        );
        let reason = r[2].as_deref().expect("German output dropped");
        assert!(
            reason.starts_with("output in source language: de (")
                && reason.contains("like the input"),
            "{reason}"
        );
        assert_eq!(r[3], None);
    }

    #[test]
    fn short_outputs_can_be_exempt() {
        let mut f = CopySource {
            min_output_words: 2,
            ..Default::default()
        };
        let r = run(
            &mut f,
            &[ex(
                "How do you say \"Internet\" in Luxembourgish?",
                "Internet",
            )],
        );
        assert_eq!(r[0], None);
    }

    #[test]
    fn deserialises_through_the_trait_and_loads_the_model() {
        let dir = tempfile::tempdir().unwrap();
        write_parallel_jsonl(&dir.path().join("p.jsonl"));
        let mut f = from_toml(
            "type = \"copy_source\"\ncompare_input = false\nlang_id = { training_file = \"p.jsonl\" }",
        );
        assert_eq!(f.name(), "copy_source");
        f.prepare(&ctx_in(dir.path().to_path_buf())).unwrap();
        let (en, ..) = CORPUS[0];
        assert!(
            f.check(&example("Translate.", Some("x y"), "x y"))
                .unwrap()
                .is_keep()
        );
        let v = f
            .check(&ex(
                "Please translate the following sentence into Luxembourgish.",
                en,
            ))
            .unwrap();
        assert!(
            reason(&v)
                .unwrap()
                .starts_with("output in source language: en"),
            "{v:?}"
        );
        let mut g = from_toml("type = \"copy_source\"\nlang_id = {}");
        assert!(
            g.prepare(&ctx_in(dir.path().to_path_buf())).is_err(),
            "default corpus missing"
        );
        assert!(toml::from_str::<Box<dyn Filter>>("type = \"copy_source\"\nmodel = {}").is_err());
    }
}
