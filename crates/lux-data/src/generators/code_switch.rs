use std::collections::BTreeMap;
use std::path::PathBuf;

use async_trait::async_trait;
use lux_core::{
    Error, Example, GenerateContext, Generation, InstructionGenerator, Lang, Result, Seed,
    SourceContext, TaskKind, rng,
};
use serde::{Deserialize, Serialize};

use crate::code_switch::CodeSwitcher;
use crate::lexicon::{Lexicon, from_dictionary, from_parallel};
use crate::sources::{DictionaryFile, read_parallel_jsonl};
use crate::text::word_count;

/// LinguaLIFT's stage-1 data: a text in `source_lang` with words replaced by their lexicon
/// translations into `languages` (`CodeSwitcher`), paired with its original. The instruction
/// is the switched text itself and the output the original, task `code_switch`: an alignment
/// layer trained on these learns to make `Haus`, `maison` and `house` mean the same to the
/// LLM, with no parallel sentence and no multilingual instruction.
///
/// ```toml
/// [[data.generators]]
/// type = "code_switch"
/// languages = ["lb", "de", "fr"]
/// dictionary = "../data/dictionary.jsonl"   # single-word entries → source_lang→lang pairs
/// parallel = "../data/parallel.jsonl"       # single-word aligned entries, likewise
/// ratio = 0.5
/// ```
///
/// Seeds it reads: aligned groups (their `source_lang` side only — the translations are not
/// used, which is the point) and documents written in `source_lang`, of at least `min_words`
/// words. A text in which no word was switched gives no example. The lexicons are built once,
/// in `prepare`, from the dictionary file, the aligned file and MUSE files (`muse.<lang>`,
/// `source target` per line, e.g. what lexicon induction wrote), merged per language.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeSwitch {
    /// Languages words are switched into.
    pub languages: Vec<Lang>,
    /// The language of the texts (and of the outputs). Default `en`.
    #[serde(default = "default_source")]
    pub source_lang: Lang,
    /// A dictionary in lux's format (`sources::DictionaryFile`), relative to the recipe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dictionary: Option<PathBuf>,
    /// An aligned file (`parallel_jsonl` format) whose single-word groups give word pairs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel: Option<PathBuf>,
    /// MUSE lexicons per target language (`source target` per line).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub muse: BTreeMap<Lang, PathBuf>,
    /// Chance that a word with a translation is switched (LinguaLIFT's ratio). Default 0.5.
    #[serde(default = "default_ratio")]
    pub ratio: f64,
    /// Seed of the switching choices. Default: the run's seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Fewest words a text must have. Default 3.
    #[serde(default = "default_min_words")]
    pub min_words: usize,
    /// Task name of the examples. Default `code_switch`.
    #[serde(default = "default_task")]
    pub task: String,
    /// Built by `prepare`.
    #[serde(skip)]
    switcher: Option<CodeSwitcher>,
}

fn default_source() -> Lang {
    Lang::EN
}
fn default_ratio() -> f64 {
    0.5
}
fn default_min_words() -> usize {
    3
}
fn default_task() -> String {
    "code_switch".into()
}

impl CodeSwitch {
    /// A generator switching into `languages` with the defaults above and no lexicon yet.
    pub fn new(languages: Vec<Lang>) -> CodeSwitch {
        CodeSwitch {
            languages,
            source_lang: default_source(),
            dictionary: None,
            parallel: None,
            muse: BTreeMap::new(),
            ratio: default_ratio(),
            seed: None,
            min_words: default_min_words(),
            task: default_task(),
            switcher: None,
        }
    }

    /// The lexicon `source_lang → lang` from every configured file.
    fn lexicon(&self, ctx: &GenerateContext, lang: &Lang) -> Result<Lexicon> {
        let mut parts = Vec::new();
        if let Some(path) = &self.dictionary {
            // The dictionary reader resolves `path` against the recipe's directory itself.
            let entries = DictionaryFile::new(path.clone())
                .read_all(&SourceContext::new(&ctx.base_dir).with_native(ctx.native.clone()))?;
            parts.push(from_dictionary(&entries, &self.source_lang, lang, true));
        }
        if let Some(path) = &self.parallel {
            let groups = read_parallel_jsonl(ctx.resolve(path))?;
            parts.push(from_parallel(&groups, &self.source_lang, lang, true));
        }
        if let Some(path) = self.muse.get(lang) {
            let path = ctx.resolve(path);
            parts.push(Lexicon::read_muse(&path, &path.display().to_string())?);
        }
        Ok(Lexicon::merge(parts.iter()))
    }

    /// The text of `seed` this generator switches, if any.
    fn text<'a>(&self, seed: &'a Seed) -> Option<&'a str> {
        let text = match seed {
            Seed::Parallel(p) => p.get(&self.source_lang)?,
            Seed::Document(d) if d.lang == self.source_lang => d.text.as_str(),
            _ => return None,
        };
        (word_count(text) >= self.min_words).then_some(text)
    }
}

#[typetag::serde(name = "code_switch")]
#[async_trait]
impl InstructionGenerator for CodeSwitch {
    fn prepare(&mut self, ctx: &GenerateContext) -> Result<()> {
        if self.languages.is_empty() {
            return Err(Error::invalid(
                "code_switch.languages",
                "name at least one language to switch into",
            ));
        }
        if self.dictionary.is_none() && self.parallel.is_none() && self.muse.is_empty() {
            return Err(Error::invalid(
                "code_switch",
                "give at least one lexicon source: `dictionary`, `parallel` or `muse`",
            ));
        }
        if let Some(lang) = self.muse.keys().find(|l| !self.languages.contains(l)) {
            return Err(Error::invalid(
                format!("code_switch.muse.{}", lang.code()),
                format!("{} is not in `languages`", lang.code()),
            ));
        }
        TaskKind::new(&self.task).map_err(|e| Error::invalid("code_switch.task", e.to_string()))?;
        let mut switcher = CodeSwitcher::new(self.ratio, self.seed.unwrap_or(ctx.seed))?;
        for lang in &self.languages {
            let lexicon = self.lexicon(ctx, lang)?;
            if lexicon.is_empty() {
                return Err(Error::invalid(
                    "code_switch",
                    format!(
                        "no {}→{} word pair in the configured lexicon files",
                        self.source_lang.code(),
                        lang.code()
                    ),
                ));
            }
            tracing::info!(
                lang = lang.code(),
                pairs = lexicon.len(),
                "code_switch lexicon"
            );
            switcher = switcher.with_lexicon(lang.clone(), &lexicon);
        }
        self.switcher = Some(switcher);
        Ok(())
    }

    fn accepts(&self, seed: &Seed) -> bool {
        self.text(seed).is_some()
    }

    async fn generate(&self, seed: &Seed, ctx: &GenerateContext) -> Result<Generation> {
        let Some(switcher) = &self.switcher else {
            return Err(Error::plugin(
                "code_switch",
                "not prepared: the pipeline calls `prepare` before the first seed",
            ));
        };
        let Some(text) = self.text(seed) else {
            return Ok(Generation::default());
        };
        let switched = switcher.switch(text, seed.id());
        if switched.replacements.is_empty() {
            return Ok(Generation::default());
        }
        let mut langs: Vec<&str> = switched
            .replacements
            .iter()
            .map(|r| r.lang.code())
            .collect();
        langs.sort_unstable();
        langs.dedup();
        let example = Example {
            id: rng::id(&format!("{}/code_switch/{}", ctx.seed, seed.id())),
            task: TaskKind::new(&self.task)?,
            instruction: switched.text,
            instruction_lang: self.source_lang.clone(),
            input: None,
            output: text.to_string(),
            output_lang: self.source_lang.clone(),
            source: String::new(),
            license: String::new(),
            seed_id: seed.id().to_string(),
            generator: "code_switch".into(),
            template: format!(
                "{}/{} of {} switched into {}",
                switched.replacements.len(),
                switched.eligible,
                self.source_lang.code(),
                langs.join("+")
            ),
        }
        .with_provenance(seed.provenance());
        Ok(Generation::of(vec![example]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generators::testing::{article, parallel};

    fn prepared(ratio: f64) -> (CodeSwitch, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("en-lb.txt"),
            "house Haus\nred rout\nbig grouss\n",
        )
        .unwrap();
        let mut g = CodeSwitch::new(vec![Lang::LB]);
        g.muse.insert(Lang::LB, dir.path().join("en-lb.txt"));
        g.ratio = ratio;
        g.prepare(&crate::generators::testing::ctx()).unwrap();
        (g, dir)
    }

    #[test]
    fn switches_the_english_side_and_keeps_the_original_as_output() {
        let (g, _dir) = prepared(1.0);
        let seed = parallel(
            "p1",
            &[("en", "The big red house"), ("lb", "Dat grousst rout Haus")],
        );
        let ex = crate::generators::testing::run(&g, &seed).examples;
        assert_eq!(ex.len(), 1);
        assert_eq!(ex[0].instruction, "The grouss rout Haus");
        assert_eq!(ex[0].output, "The big red house");
        assert_eq!(ex[0].task.as_str(), "code_switch");
        assert_eq!(
            (ex[0].instruction_lang.code(), ex[0].output_lang.code()),
            ("en", "en")
        );
        assert_eq!(ex[0].template, "3/3 of en switched into lb");
    }

    #[test]
    fn skips_short_texts_other_languages_and_texts_with_nothing_switched() {
        let (g, _dir) = prepared(1.0);
        assert!(!g.accepts(&parallel("p", &[("en", "red house")])));
        // A document in Luxembourgish is not an English text.
        assert!(!g.accepts(&article("Haus", "Dat ass e grousst Haus hei")));
        let none = parallel("p2", &[("en", "Nothing here is known")]);
        assert!(
            crate::generators::testing::run(&g, &none)
                .examples
                .is_empty()
        );
        let (zero, _dir) = prepared(0.0);
        let seed = parallel("p3", &[("en", "The big red house")]);
        assert!(
            crate::generators::testing::run(&zero, &seed)
                .examples
                .is_empty()
        );
    }

    #[test]
    fn lexicon_files_are_found_relative_to_the_recipe() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("dict.jsonl"),
            "{\"headword\": \"Haus\", \"translations\": {\"en\": [\"house\"]}}\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("parallel.jsonl"),
            "{\"id\": \"a\", \"texts\": {\"en\": \"red\", \"lb\": \"rout\"}, \"provenance\": {\"source\": \"t\", \"license\": \"MIT\"}}\n",
        )
        .unwrap();
        let mut g = CodeSwitch::new(vec![Lang::LB]);
        g.dictionary = Some("dict.jsonl".into());
        g.parallel = Some("parallel.jsonl".into());
        g.ratio = 1.0;
        g.prepare(&crate::generators::testing::ctx().with_base_dir(dir.path()))
            .unwrap();
        let seed = parallel("p", &[("en", "A red house here")]);
        let ex = crate::generators::testing::run(&g, &seed).examples;
        // Lexicons are lower-cased (the bundled dictionary capitalises lb and de nouns).
        assert_eq!(ex[0].instruction, "A rout haus here");
    }

    #[test]
    fn settings_are_checked_in_prepare() {
        let ctx = crate::generators::testing::ctx();
        let e = CodeSwitch::new(vec![Lang::LB])
            .prepare(&ctx)
            .unwrap_err()
            .to_string();
        assert!(e.contains("dictionary"), "{e}");
        let mut g = CodeSwitch::new(vec![Lang::LB]);
        g.muse.insert(Lang::FR, "x.txt".into());
        let e = g.prepare(&ctx).unwrap_err().to_string();
        assert!(e.contains("muse.fr"), "{e}");
        let mut g = CodeSwitch::new(vec![Lang::LB]);
        g.parallel = Some("/nonexistent/parallel.jsonl".into());
        let e = g.prepare(&ctx).unwrap_err().to_string();
        assert!(e.contains("/nonexistent/parallel.jsonl"), "{e}");
    }
}
