use std::sync::Arc;

use lux_core::{Error, Example, Filter, FilterContext, Lang, Result, Verdict};
use serde::{Deserialize, Serialize};

use super::common::without_quoted;
use crate::langid::{LangId, LangIdModel, same_lang};

/// Drops examples whose output is not identified as the example's `output_lang`, or whose
/// instruction is not identified as its `instruction_lang`, by the character n-gram
/// [`LangId`] model.
///
/// A text is judged only when it has at least `min_chars` letters (single words and short
/// phrases are identified unreliably, and a dictionary answer like `Haus` is both German
/// and Luxembourgish); it is kept when the model gives its expected language a probability
/// of at least `min_confidence`. Quoted material in the instruction (the word to translate,
/// often in the native language) is left out before identifying it, unless
/// `ignore_quoted = false`.
///
/// The model is trained when the filter is prepared, from `model.training_file` (by default
/// the embedded corpus `data/parallel.jsonl`, resolved against the recipe's directory), or
/// loaded from a saved `model.file`; see [`LangIdModel`].
///
/// ```toml
/// [[filters]]
/// type = "lang_id"
/// min_confidence = 0.5
/// min_chars = 20
/// model = { training_file = "data/parallel.jsonl" }
/// ```
///
/// Drop reasons: `wrong output language: de (0.91), expected lb (0.06)` and
/// `uncertain instruction language: en 0.42 < 0.50`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LangIdFilter {
    /// Check that the output is in the example's `output_lang`.
    #[serde(default = "yes")]
    pub check_output: bool,
    /// Check that the instruction is in the example's `instruction_lang`.
    #[serde(default = "yes")]
    pub check_instruction: bool,
    /// Lowest probability of the expected language that keeps the example.
    #[serde(default = "default_min_confidence")]
    pub min_confidence: f64,
    /// Texts with fewer letters than this are not judged.
    #[serde(default = "default_min_chars")]
    pub min_chars: usize,
    /// Leave quoted material out of the instruction before identifying it.
    #[serde(default = "yes")]
    pub ignore_quoted: bool,
    /// Where the model comes from.
    #[serde(default)]
    pub model: LangIdModel,
    /// A model given in code ([`LangIdFilter::with_model`]), used instead of `model`.
    #[serde(skip)]
    given: Option<Arc<LangId>>,
    /// The model in use (set by `prepare`).
    #[serde(skip)]
    loaded: Option<Arc<LangId>>,
}

fn yes() -> bool {
    true
}

fn default_min_confidence() -> f64 {
    0.5
}

fn default_min_chars() -> usize {
    20
}

impl Default for LangIdFilter {
    fn default() -> Self {
        LangIdFilter {
            check_output: true,
            check_instruction: true,
            min_confidence: default_min_confidence(),
            min_chars: default_min_chars(),
            ignore_quoted: true,
            model: LangIdModel::default(),
            given: None,
            loaded: None,
        }
    }
}

impl LangIdFilter {
    /// A filter using an already trained model: `prepare` reads no file and `model` is
    /// ignored.
    pub fn with_model(model: Arc<LangId>) -> LangIdFilter {
        LangIdFilter {
            given: Some(Arc::clone(&model)),
            loaded: Some(model),
            ..Default::default()
        }
    }
}

/// Number of letters in `text`.
pub(crate) fn letters(text: &str) -> usize {
    text.chars().filter(|c| c.is_alphabetic()).count()
}

/// Checks that `min_confidence` is a probability.
pub(crate) fn check_confidence(key: &str, v: f64) -> Result<()> {
    if (0.0..=1.0).contains(&v) {
        Ok(())
    } else {
        Err(Error::invalid(
            key,
            format!("must be between 0 and 1, got {v}"),
        ))
    }
}

/// Errors unless the model knows every language the run will ask about.
pub(crate) fn check_languages(key: &str, model: &LangId, langs: &[&Lang]) -> Result<()> {
    let missing: Vec<String> = langs
        .iter()
        .filter(|l| !model.knows(l))
        .map(|l| format!("`{l}`"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let known: Vec<&str> = model.languages().iter().map(Lang::code).collect();
    Err(Error::invalid(
        key,
        format!(
            "the language model does not know {} (it knows {}): train it on a corpus with \
             texts in these languages",
            missing.join(", "),
            known.join(", ")
        ),
    ))
}

/// Judges `text` against `expected`: `Some(drop reason)` or `None` to keep.
fn judge(
    model: &LangId,
    field: &str,
    text: &str,
    expected: &Lang,
    min_confidence: f64,
) -> Result<Option<String>> {
    if !model.knows(expected) {
        return Err(Error::plugin(
            "lang_id",
            format!("the language model does not know `{expected}`, the {field} language"),
        ));
    }
    let ranked = model.identify(text);
    let Some((best, p_best)) = ranked.first() else {
        return Ok(None);
    };
    let p_expected = ranked
        .iter()
        .find(|(l, _)| same_lang(l, expected))
        .map(|(_, p)| *p)
        .unwrap_or(0.0);
    if p_expected >= min_confidence {
        return Ok(None);
    }
    Ok(Some(if same_lang(best, expected) {
        format!("uncertain {field} language: {expected} {p_expected:.2} < {min_confidence:.2}")
    } else {
        format!(
            "wrong {field} language: {best} ({p_best:.2}), expected {expected} ({p_expected:.2})"
        )
    }))
}

#[typetag::serde(name = "lang_id")]
impl Filter for LangIdFilter {
    fn prepare(&mut self, ctx: &FilterContext) -> Result<()> {
        check_confidence("lang_id.min_confidence", self.min_confidence)?;
        let model = match &self.given {
            Some(model) => Arc::clone(model),
            None => self.model.load(&ctx.base_dir)?,
        };
        let model = &**self.loaded.insert(model);
        let mut langs = Vec::new();
        if self.check_output {
            langs.push(&ctx.native);
        }
        if self.check_instruction {
            langs.extend(&ctx.instruction_langs);
        }
        check_languages("lang_id.model", model, &langs)
    }

    fn check(&mut self, example: &Example) -> Result<Verdict> {
        let Some(model) = self.loaded.as_deref() else {
            return Err(Error::plugin(
                "lang_id",
                "the filter was not prepared (no model loaded)",
            ));
        };
        if self.check_output && letters(&example.output) >= self.min_chars {
            let reason = judge(
                model,
                "output",
                &example.output,
                &example.output_lang,
                self.min_confidence,
            )?;
            if let Some(reason) = reason {
                return Ok(Verdict::drop(reason));
            }
        }
        if self.check_instruction {
            let text = if self.ignore_quoted {
                without_quoted(&example.instruction)
            } else {
                example.instruction.clone()
            };
            if letters(&text) >= self.min_chars {
                let expected = &example.instruction_lang;
                if let Some(reason) =
                    judge(model, "instruction", &text, expected, self.min_confidence)?
                {
                    return Ok(Verdict::drop(reason));
                }
            }
        }
        Ok(Verdict::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filters::testing::*;
    use crate::langid::test_corpus::{LB_DE_PAIRS, model, write_parallel_jsonl};

    fn filter() -> LangIdFilter {
        LangIdFilter::with_model(model())
    }

    #[test]
    fn keeps_native_outputs_and_drops_other_languages() {
        let instruction = "Translate the following sentence into Luxembourgish, please.";
        let mut f = filter();
        let mut examples = vec![];
        for (lb, de) in LB_DE_PAIRS {
            examples.push(ex(instruction, lb));
            examples.push(ex(instruction, de));
        }
        let r = run(&mut f, &examples);
        for (pair, verdicts) in LB_DE_PAIRS.iter().zip(r.chunks(2)) {
            assert_eq!(verdicts[0], None, "{:?} was dropped", pair.0);
            let reason = verdicts[1]
                .as_deref()
                .unwrap_or_else(|| panic!("{:?} kept", pair.1));
            assert!(
                reason.starts_with("wrong output language: de ("),
                "{reason}"
            );
            assert!(reason.contains("expected lb"), "{reason}");
        }
    }

    #[test]
    fn judges_the_instruction_without_its_quoted_part() {
        let mut f = filter();
        let mut de = ex(
            "Übersetze diesen Satz bitte auf Luxemburgisch für mich.",
            "Moien",
        );
        de.instruction_lang = lux_core::Lang::DE;
        let mut mislabelled = de.clone();
        mislabelled.instruction_lang = lux_core::Lang::FR;
        // The quoted Luxembourgish sentence would otherwise dominate the instruction.
        let quoted = ex(
            "What does \"D'Regierung huet en neit Gesetz iwwer de Wunnengsbau virgestallt\" mean?",
            "x",
        );
        let r = run(&mut f, &[de, mislabelled, quoted.clone()]);
        assert_eq!(r[0], None);
        assert!(
            r[1].as_deref()
                .unwrap()
                .starts_with("wrong instruction language: de"),
            "{r:?}"
        );
        assert_eq!(r[2], None, "too few letters outside the quotes to judge");
        let mut g = LangIdFilter {
            ignore_quoted: false,
            min_chars: 10,
            ..filter()
        };
        let r = run(&mut g, &[quoted]);
        assert!(
            r[0].as_deref()
                .unwrap()
                .starts_with("wrong instruction language: lb"),
            "{r:?}"
        );
    }

    #[test]
    fn short_texts_are_not_judged_and_checks_can_be_turned_off() {
        let mut f = filter();
        let r = run(
            &mut f,
            &[ex("How do you say \"house\" in Luxembourgish?", "Haus")],
        );
        assert_eq!(r[0], None);
        let mut g = LangIdFilter {
            check_output: false,
            ..filter()
        };
        let r = run(
            &mut g,
            &[ex(
                "Translate this sentence into Luxembourgish.",
                LB_DE_PAIRS[0].1,
            )],
        );
        assert_eq!(r[0], None);
    }

    #[test]
    fn a_high_threshold_drops_uncertain_texts() {
        let mut f = LangIdFilter {
            min_confidence: 1.0,
            min_chars: 1,
            ..filter()
        };
        let r = run(&mut f, &[ex("Translate this.", "Haus")]);
        let reason = r[0].as_deref().expect("dropped");
        assert!(
            reason.starts_with("uncertain output language") || reason.starts_with("wrong output"),
            "{reason}"
        );
    }

    #[test]
    fn unprepared_and_unknown_languages_are_errors() {
        let mut f = LangIdFilter::default();
        assert!(f.check(&ex("a", "b")).is_err());
        let mut g = filter();
        let mut c = ctx();
        c.instruction_langs.push(lux_core::Lang::new("nl").unwrap());
        let err = g.prepare(&c).unwrap_err().to_string();
        assert!(
            err.contains("`nl`") && err.contains("lang_id.model"),
            "{err}"
        );
        let mut h = LangIdFilter {
            min_confidence: 2.0,
            ..filter()
        };
        assert!(h.prepare(&ctx()).is_err());
    }

    #[test]
    fn trains_from_the_configured_corpus() {
        let dir = tempfile::tempdir().unwrap();
        write_parallel_jsonl(&dir.path().join("corpus.jsonl"));
        let mut f = from_toml(
            "type = \"lang_id\"\nmin_chars = 15\nmodel = { training_file = \"corpus.jsonl\" }",
        );
        assert_eq!(f.name(), "lang_id");
        f.prepare(&ctx_in(dir.path().to_path_buf())).unwrap();
        let instruction = "Translate the following sentence into Luxembourgish, please.";
        let (lb, de) = LB_DE_PAIRS[2];
        assert!(f.check(&ex(instruction, lb)).unwrap().is_keep());
        assert!(!f.check(&ex(instruction, de)).unwrap().is_keep());
        // The default corpus path is missing here: a clear error at prepare.
        let mut g = from_toml("type = \"lang_id\"");
        let err = g
            .prepare(&ctx_in(dir.path().to_path_buf()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("data/parallel.jsonl"), "{err}");
        assert!(toml::from_str::<Box<dyn Filter>>("type = \"lang_id\"\nthreshold = 1").is_err());
    }
}
