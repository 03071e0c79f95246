use std::collections::BTreeMap;

use async_trait::async_trait;
use lux_core::{
    GenerateContext, Generation, InstructionGenerator, Lang, Result, Seed, TaskKind, rng,
};
use serde::{Deserialize, Serialize};

use super::Draft;
use super::template::{Builtin, choose, langs_with, render};
use crate::text::{dedup_key, word_count};

/// This generator's row in the instruction-templates table (`tables/instruction_templates.toml`).
const TEMPLATES: Builtin = "sentence_translation";

/// Sentence translation into the native language, from aligned human translations
/// (localisation catalogues): the input is the sentence in one language, the output the
/// native translation a person wrote.
///
/// The text's language and the instruction's language are chosen independently among the
/// run's instruction languages (a French instruction may ask to translate a German
/// sentence), which is the cross-lingual signal LuxInstruct relies on.
/// Template placeholders: `{native}`, `{source_lang}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentenceTranslation {
    /// Fewest words the source text must have (shorter entries are word translations).
    #[serde(default = "default_min_words")]
    pub min_words: usize,
    /// Templates per instruction language, replacing the built-in ones for that language.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub templates: BTreeMap<Lang, Vec<String>>,
}

impl Default for SentenceTranslation {
    fn default() -> Self {
        SentenceTranslation {
            min_words: default_min_words(),
            templates: BTreeMap::new(),
        }
    }
}

fn default_min_words() -> usize {
    3
}

#[typetag::serde(name = "sentence_translation")]
#[async_trait]
impl InstructionGenerator for SentenceTranslation {
    fn accepts(&self, seed: &Seed) -> bool {
        matches!(seed, Seed::Parallel(p) if p.texts.len() >= 2)
    }

    async fn generate(&self, seed: &Seed, ctx: &GenerateContext) -> Result<Generation> {
        let Seed::Parallel(p) = seed else {
            return Ok(Generation::default());
        };
        let Some(native) = p.get(&ctx.native) else {
            return Ok(Generation::default());
        };
        let native_key = dedup_key(native);
        // Source texts: real translations (not copies of the native text), long enough.
        let sources = langs_with(ctx, |l| {
            p.get(l)
                .is_some_and(|t| word_count(t) >= self.min_words && dedup_key(t) != native_key)
        });
        if sources.is_empty() {
            return Ok(Generation::default());
        }
        let source_lang = &sources[rng::pick(
            ctx.seed,
            &format!("sentence_translation/{}/src", p.id),
            sources.len(),
        )];
        let Some(chosen) = choose(
            "sentence_translation",
            seed.id(),
            "",
            ctx,
            &ctx.instruction_langs,
            TEMPLATES,
            &self.templates,
        ) else {
            return Ok(Generation::default());
        };
        let instruction = render(
            "sentence_translation",
            chosen.template,
            &[
                ("native", &ctx.language_name(&chosen.lang, &ctx.native)),
                ("source_lang", &ctx.language_name(&chosen.lang, source_lang)),
            ],
        )?;
        let ex = Draft {
            generator: "sentence_translation",
            task: TaskKind::SENTENCE_TRANSLATION,
            instruction,
            instruction_lang: chosen.lang.clone(),
            input: p.get(source_lang).map(str::to_string),
            output: native.to_string(),
            template: format!("{} src={}", chosen.name, source_lang),
            salt: String::new(),
        }
        .finish(seed, ctx);
        Ok(Generation::of(vec![ex]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generators::testing::*;

    #[test]
    fn translates_into_native_from_a_real_translation() {
        let g = SentenceTranslation::default();
        let seed = parallel(
            "msg1",
            &[
                ("en", "Your changes have been saved."),
                ("fr", "Vos modifications ont été enregistrées."),
                ("de", "Deine Änderungen wurden gespeichert."),
                ("lb", "Är Ännerunge goufe gespäichert."),
            ],
        );
        let ex = &run(&g, &seed).examples[0];
        assert_eq!(ex.output, "Är Ännerunge goufe gespäichert.");
        let input = ex.input.as_deref().unwrap();
        assert!(
            ["Your changes", "Vos modif", "Deine Änd"]
                .iter()
                .any(|p| input.starts_with(p))
        );
        assert_eq!(ex.task, TaskKind::SENTENCE_TRANSLATION);
    }

    #[test]
    fn skips_short_and_copied_and_non_native() {
        let g = SentenceTranslation::default();
        assert!(
            run(&g, &parallel("a", &[("en", "Save"), ("lb", "Späicheren")]))
                .examples
                .is_empty()
        );
        let copy = parallel(
            "b",
            &[
                ("en", "Open Street Map data"),
                ("lb", "Open Street Map data"),
            ],
        );
        assert!(run(&g, &copy).examples.is_empty());
        let no_native = parallel(
            "c",
            &[("en", "One two three four"), ("fr", "Un deux trois quatre")],
        );
        assert!(run(&g, &no_native).examples.is_empty());
    }
}
