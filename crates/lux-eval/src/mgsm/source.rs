//! [`WordProblems`]: `type = "word_problems"` — templated word problems as seeds of a recipe's
//! data stage, made with a seed other than the evaluation set's.

use std::collections::BTreeMap;

use lux_core::{
    Document, Error, Lang, Provenance, Result, Seed, SeedSource, SeedStream, SourceContext,
};
use serde::{Deserialize, Serialize};

use super::{MgsmMiniConfig, generate};

/// Word problems from the templates of the bundled MGSM-style set (`mgsm::generate`), as
/// documents: `text` is the question, `metadata.answer` the answer, `metadata.template` the
/// template. LinguaLIFT trains on English problems only (stage 2), and code-switches them
/// for stage 1; the evaluation set has the same templates with other names and numbers.
///
/// ```toml
/// [[data.sources]]
/// type = "word_problems"
/// seed = 1729            # not the evaluation set's 2024: that is refused
/// per_template = 12      # 13 templates → 156 problems per language
/// languages = ["en"]
/// ```
///
/// Ids are `<problem id>/<lang>` (`mgsm-mini-007/en`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WordProblems {
    /// Seed of the names and numbers.
    pub seed: u64,
    /// Problems per template. Default 12.
    #[serde(default = "default_per_template")]
    pub per_template: usize,
    /// Languages of the problems, among en, lb, de, fr. Default `["en"]`.
    #[serde(default = "default_languages")]
    pub languages: Vec<Lang>,
}

fn default_per_template() -> usize {
    12
}
fn default_languages() -> Vec<Lang> {
    vec![Lang::EN]
}

impl WordProblems {
    fn problems(&self) -> Result<Vec<Seed>> {
        let bundled = MgsmMiniConfig::default().seed;
        if self.seed == bundled {
            return Err(Error::invalid(
                "word_problems.seed",
                format!(
                    "{bundled} is the seed of the bundled evaluation set: its problems would be \
                     trained on; choose another"
                ),
            ));
        }
        if let Some(l) = self
            .languages
            .iter()
            .find(|l| !super::LANGUAGES.contains(&l.code()))
        {
            return Err(Error::invalid(
                "word_problems.languages",
                format!(
                    "no templates in `{}` (there are: {})",
                    l.code(),
                    super::LANGUAGES.join(", ")
                ),
            ));
        }
        let problems = generate(&MgsmMiniConfig {
            seed: self.seed,
            per_template: self.per_template,
        })?;
        Ok(problems
            .into_iter()
            .filter(|p| self.languages.contains(&p.lang))
            .map(|p| {
                Seed::Document(Document {
                    id: format!("{}/{}", p.id, p.lang.code()),
                    lang: p.lang.clone(),
                    title: None,
                    text: p.question,
                    provenance: Provenance::new("word_problems", "MIT OR Apache-2.0")
                        .with_origin("lux_eval::mgsm templates"),
                    metadata: BTreeMap::from([
                        ("answer".to_string(), p.answer.to_string().into()),
                        ("template".to_string(), p.template.into()),
                    ]),
                })
            })
            .collect())
    }
}

#[typetag::serde(name = "word_problems")]
impl SeedSource for WordProblems {
    fn open(&self, _ctx: &SourceContext) -> Result<SeedStream> {
        Ok(Box::new(self.problems()?.into_iter().map(Ok)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_problems_with_their_answers_and_never_the_evaluation_set() {
        let source = WordProblems {
            seed: 1729,
            per_template: 2,
            languages: vec![Lang::EN],
        };
        let seeds: Vec<Seed> = source
            .open(&SourceContext::default())
            .unwrap()
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(seeds.len(), 26);
        let Seed::Document(d) = &seeds[0] else {
            panic!("a document")
        };
        assert_eq!(d.lang, Lang::EN);
        assert!(d.id.ends_with("/en"));
        let answer = d.metadata["answer"].as_str().unwrap();
        assert!(crate::mgsm::Number::parse(answer).is_ok(), "{answer}");
        let eval: Vec<String> = crate::mgsm::bundled()
            .unwrap()
            .into_iter()
            .map(|p| p.question)
            .collect();
        assert!(seeds.iter().all(|s| match s {
            Seed::Document(d) => !eval.contains(&d.text),
            _ => false,
        }));

        let bad = WordProblems {
            seed: 2024,
            ..source.clone()
        };
        let e = bad
            .open(&SourceContext::default())
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("2024") && e.contains("evaluation"), "{e}");
        let bad = WordProblems {
            languages: vec![Lang::new("pt").unwrap()],
            ..source
        };
        let e = bad
            .open(&SourceContext::default())
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("pt"), "{e}");
    }
}
