use std::collections::BTreeMap;

use async_trait::async_trait;
use lux_core::{GenerateContext, Generation, InstructionGenerator, Lang, Result, Seed, TaskKind};
use serde::{Deserialize, Serialize};

use super::Draft;
use super::template::{Builtin, choose, langs_with, render};

/// This generator's row in the instruction-templates table (`tables/instruction_templates.toml`).
const TEMPLATES: Builtin = "word_translation";

/// Word translation into the native language, from dictionary entries (headword plus
/// translations) and from aligned single-word catalogue entries ("File" → "Fichier").
///
/// The instruction quotes the word in the instruction language; the output is the native
/// word. Template placeholders: `{word}`, `{native}`, `{source_lang}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WordTranslation {
    /// Longest aligned entry (in words) still treated as a word, for parallel seeds.
    #[serde(default = "default_max_words")]
    pub max_words: usize,
    /// Templates per instruction language, replacing the built-in ones for that language.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub templates: BTreeMap<Lang, Vec<String>>,
}

fn default_max_words() -> usize {
    2
}

impl WordTranslation {
    /// `(instruction-language word, native word)` pairs this seed offers, per language.
    fn pairs(&self, seed: &Seed, ctx: &GenerateContext) -> Vec<(Lang, String, String)> {
        match seed {
            Seed::Lexeme(e) if e.lang == ctx.native => e
                .translations
                .iter()
                .filter_map(|(l, ws)| {
                    ws.first()
                        .map(|w| (l.clone(), w.clone(), e.headword.clone()))
                })
                .collect(),
            Seed::Parallel(p) => {
                let Some(native) = p.get(&ctx.native) else {
                    return Vec::new();
                };
                let max = if self.max_words == 0 {
                    default_max_words()
                } else {
                    self.max_words
                };
                if crate::text::word_count(native) == 0 || crate::text::word_count(native) > max {
                    return Vec::new();
                }
                p.texts
                    .iter()
                    .filter(|(l, t)| {
                        **l != ctx.native
                            && (1..=max).contains(&crate::text::word_count(t))
                            && crate::text::dedup_key(t) != crate::text::dedup_key(native)
                    })
                    .map(|(l, t)| (l.clone(), t.clone(), native.to_string()))
                    .collect()
            }
            _ => Vec::new(),
        }
    }
}

#[typetag::serde(name = "word_translation")]
#[async_trait]
impl InstructionGenerator for WordTranslation {
    fn accepts(&self, seed: &Seed) -> bool {
        matches!(seed, Seed::Lexeme(e) if !e.translations.is_empty())
            || matches!(seed, Seed::Parallel(_))
    }

    async fn generate(&self, seed: &Seed, ctx: &GenerateContext) -> Result<Generation> {
        let pairs = self.pairs(seed, ctx);
        let langs = langs_with(ctx, |l| pairs.iter().any(|(pl, _, _)| pl == l));
        let Some(chosen) = choose(
            "word_translation",
            seed.id(),
            "",
            ctx,
            &langs,
            TEMPLATES,
            &self.templates,
        ) else {
            return Ok(Generation::default());
        };
        let Some((_, word, native_word)) = pairs.iter().find(|(l, _, _)| *l == chosen.lang) else {
            return Ok(Generation::default());
        };
        let instruction = render(
            "word_translation",
            chosen.template,
            &[
                ("word", word),
                ("native", &ctx.language_name(&chosen.lang, &ctx.native)),
                (
                    "source_lang",
                    &ctx.language_name(&chosen.lang, &chosen.lang),
                ),
            ],
        )?;
        let ex = Draft {
            generator: "word_translation",
            task: TaskKind::WORD_TRANSLATION,
            instruction,
            instruction_lang: chosen.lang.clone(),
            input: None,
            output: native_word.clone(),
            template: chosen.name,
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
    fn lexeme_gives_native_headword() {
        let g = WordTranslation::default();
        let seed = lexeme(
            "Haus",
            &[("en", "house"), ("fr", "maison"), ("de", "Haus")],
            &[],
            &[],
        );
        let out = run(&g, &seed).examples;
        assert_eq!(out.len(), 1);
        let ex = &out[0];
        assert_eq!(ex.output, "Haus");
        assert_eq!(ex.output_lang, Lang::LB);
        assert_eq!(ex.task, TaskKind::WORD_TRANSLATION);
        let word = match ex.instruction_lang.code() {
            "en" => "house",
            "fr" => "maison",
            _ => "Haus",
        };
        assert!(ex.instruction.contains(word), "{}", ex.instruction);
        assert_eq!(ex.license, "CC0-1.0");
        // Deterministic.
        assert_eq!(run(&g, &seed).examples, out);
    }

    #[test]
    fn parallel_single_words_only_and_not_copies() {
        let g = WordTranslation::default();
        let long = parallel(
            "k",
            &[
                ("en", "Save the file now please"),
                ("lb", "Späichert de Fichier elo w.e.g."),
            ],
        );
        assert!(run(&g, &long).examples.is_empty());
        let copy = parallel("k2", &[("en", "Internet"), ("lb", "Internet")]);
        assert!(run(&g, &copy).examples.is_empty());
        let ok = parallel(
            "k3",
            &[("en", "File"), ("lb", "Fichier"), ("fr", "Fichier")],
        );
        let ex = run(&g, &ok).examples;
        assert_eq!(ex.len(), 1);
        assert_eq!(
            ex[0].instruction_lang,
            Lang::EN,
            "fr copies lb, so only en qualifies"
        );
    }
}
