use std::collections::BTreeMap;

use async_trait::async_trait;
use lux_core::{
    GenerateContext, Generation, InstructionGenerator, Lang, Result, Seed, TaskKind, rng,
};
use serde::{Deserialize, Serialize};

use super::Draft;
use super::template::{Builtin, choose, render};

/// This generator's row in the instruction-templates table (`tables/instruction_templates.toml`).
const TEMPLATES: Builtin = "usage_in_context";

/// Usage in context (dictionary): the instruction names a native headword (with its meaning
/// in the instruction language when the entry has one), the output is one of the entry's
/// native example sentences. Placeholders: `{native}`, `{word}`, `{gloss}` (` ("house")` or
/// empty).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageInContext {
    /// Make one example per example sentence (up to this many) instead of one per entry.
    #[serde(default = "one")]
    pub per_entry: usize,
    /// Templates per instruction language, replacing the built-in ones for that language.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub templates: BTreeMap<Lang, Vec<String>>,
}

fn one() -> usize {
    1
}

#[typetag::serde(name = "usage_in_context")]
#[async_trait]
impl InstructionGenerator for UsageInContext {
    fn accepts(&self, seed: &Seed) -> bool {
        matches!(seed, Seed::Lexeme(e) if !e.examples.is_empty())
    }

    async fn generate(&self, seed: &Seed, ctx: &GenerateContext) -> Result<Generation> {
        let Seed::Lexeme(entry) = seed else {
            return Ok(Generation::default());
        };
        if entry.lang != ctx.native || entry.examples.is_empty() {
            return Ok(Generation::default());
        }
        let mut order: Vec<usize> = (0..entry.examples.len()).collect();
        rng::SplitMix64::new(rng::hash(
            ctx.seed,
            &format!("usage_in_context/{}", entry.id),
        ))
        .shuffle(&mut order);
        let mut examples = Vec::new();
        for (k, &i) in order.iter().take(self.per_entry.max(1)).enumerate() {
            let salt = k.to_string();
            let Some(chosen) = choose(
                "usage_in_context",
                seed.id(),
                &salt,
                ctx,
                &ctx.instruction_langs,
                TEMPLATES,
                &self.templates,
            ) else {
                break;
            };
            let gloss = entry
                .translations
                .get(&chosen.lang)
                .and_then(|ws| ws.first())
                .map(|w| match chosen.lang.primary() {
                    "fr" => format!(" (« {w} »)"),
                    "de" => format!(" („{w}“)"),
                    _ => format!(" (\"{w}\")"),
                })
                .unwrap_or_default();
            let instruction = render(
                "usage_in_context",
                chosen.template,
                &[
                    ("native", &ctx.language_name(&chosen.lang, &ctx.native)),
                    ("word", &entry.headword),
                    ("gloss", &gloss),
                ],
            )?;
            examples.push(
                Draft {
                    generator: "usage_in_context",
                    task: TaskKind::USAGE_IN_CONTEXT,
                    instruction,
                    instruction_lang: chosen.lang.clone(),
                    input: None,
                    output: entry.examples[i].clone(),
                    template: chosen.name,
                    salt,
                }
                .finish(seed, ctx),
            );
        }
        Ok(Generation::of(examples))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generators::testing::*;

    #[test]
    fn output_is_an_example_sentence() {
        let sentences = [
            "D'Haus ass grouss.",
            "Mir wunnen an engem Haus.",
            "Den Haus-Schlëssel.",
        ];
        let seed = lexeme("Haus", &[("en", "house")], &sentences, &[]);
        let g = UsageInContext {
            per_entry: 2,
            ..Default::default()
        };
        let out = run(&g, &seed).examples;
        assert_eq!(out.len(), 2);
        assert_ne!(out[0].output, out[1].output);
        assert_ne!(out[0].id, out[1].id);
        for ex in &out {
            assert!(sentences.contains(&ex.output.as_str()));
            assert!(ex.instruction.contains("Haus"));
        }
        assert!(run(&g, &lexeme("Haus", &[], &[], &[])).examples.is_empty());
    }
}
