//! [`LangIdCheck`]: the language-id model of `lux_data::langid`, as a generator's check.

use std::path::Path;
use std::sync::Arc;

use lux_core::{Error, Lang, Result};
use lux_data::langid::{LangId, LangIdModel, same_lang};
use serde::{Deserialize, Serialize};

use super::{LangVerdict, LanguageCheck};

/// Identifies the text with the character n-gram model that the `lang_id` filter uses, so a
/// generator rejects (and records) a wrong-language instruction before it reaches the
/// dataset, with the same judgement the filter would make.
///
/// A text is judged only with at least `min_chars` letters; it is a mismatch when another
/// language is the best guess with probability at least `min_confidence` (in doubt, the
/// check accepts, as its contract asks).
///
/// ```toml
/// language_check = { type = "langid", model = { training_file = "../data/parallel.jsonl" } }
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LangIdCheck {
    /// Where the model comes from (a saved model file, or a parallel corpus to train on);
    /// relative paths are resolved against the recipe's directory.
    #[serde(default)]
    pub model: LangIdModel,
    /// Texts with fewer letters are not judged. Default 20.
    #[serde(default = "default_min_chars")]
    pub min_chars: usize,
    /// Probability another language needs to make the text a mismatch. Default 0.5.
    #[serde(default = "default_min_confidence")]
    pub min_confidence: f64,
    #[serde(skip)]
    loaded: Option<Arc<LangId>>,
}

fn default_min_chars() -> usize {
    20
}

fn default_min_confidence() -> f64 {
    0.5
}

impl LangIdCheck {
    /// A check with an already trained model (no `prepare` needed).
    pub fn with_model(model: Arc<LangId>) -> LangIdCheck {
        LangIdCheck {
            model: LangIdModel::default(),
            min_chars: default_min_chars(),
            min_confidence: default_min_confidence(),
            loaded: Some(model),
        }
    }
}

#[typetag::serde(name = "langid")]
impl LanguageCheck for LangIdCheck {
    fn check(&self, text: &str, expected: &Lang) -> LangVerdict {
        // Unprepared, the check cannot judge: `prepare` is where a missing model is an error.
        let Some(model) = &self.loaded else {
            return LangVerdict::Undetermined;
        };
        if text.chars().filter(|c| c.is_alphabetic()).count() < self.min_chars
            || !model.knows(expected)
        {
            return LangVerdict::Undetermined;
        }
        match model.best(text) {
            Some((lang, p)) if !same_lang(&lang, expected) && p >= self.min_confidence => {
                LangVerdict::Mismatch { looks_like: lang }
            }
            Some((lang, _)) if same_lang(&lang, expected) => LangVerdict::Matches,
            _ => LangVerdict::Undetermined,
        }
    }

    fn prepare(&mut self, base_dir: &Path) -> Result<()> {
        if !(0.0..=1.0).contains(&self.min_confidence) {
            return Err(Error::invalid(
                "language_check.min_confidence",
                format!("must be between 0 and 1, got {}", self.min_confidence),
            ));
        }
        if self.loaded.is_none() {
            self.loaded = Some(self.model.load(base_dir)?);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> Arc<LangId> {
        let en = "The committee will publish its report on the new railway line next week, \
                  after the hearings of the residents who live along the planned route.";
        let fr = "Le comité publiera son rapport sur la nouvelle ligne de chemin de fer la \
                  semaine prochaine, après les auditions des habitants qui vivent le long du tracé.";
        let de = "Der Ausschuss wird seinen Bericht über die neue Bahnstrecke nächste Woche \
                  veröffentlichen, nach den Anhörungen der Anwohner entlang der geplanten Strecke.";
        let samples = [(Lang::EN, en), (Lang::FR, fr), (Lang::DE, de)]
            .into_iter()
            .flat_map(|(l, t)| {
                t.split(", ")
                    .map(move |part| (l.clone(), part.to_string()))
                    .collect::<Vec<_>>()
            });
        Arc::new(LangId::train(samples, Default::default()).unwrap())
    }

    #[test]
    fn judges_long_texts_and_leaves_short_ones() {
        let check = LangIdCheck::with_model(model());
        let french =
            "Écrivez un résumé du rapport publié par le comité sur la ligne de chemin de fer.";
        assert_eq!(check.check(french, &Lang::FR), LangVerdict::Matches);
        assert!(matches!(
            check.check(french, &Lang::EN),
            LangVerdict::Mismatch { looks_like } if looks_like == Lang::FR
        ));
        assert_eq!(check.check("Résumé", &Lang::EN), LangVerdict::Undetermined);
        // A language the model does not know is never a mismatch.
        assert_eq!(check.check(french, &Lang::LB), LangVerdict::Undetermined);
    }

    #[test]
    fn prepare_names_a_missing_model_file() {
        let mut check: LangIdCheck =
            toml::from_str("model = { training_file = \"no/such/corpus.jsonl\" }").unwrap();
        let err = check.prepare(Path::new("/tmp")).unwrap_err().to_string();
        assert!(err.contains("no/such/corpus.jsonl"), "{err}");
        assert_eq!(
            check.check("anything at all, long enough to judge", &Lang::EN),
            LangVerdict::Undetermined
        );
    }
}
