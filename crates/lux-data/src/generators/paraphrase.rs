use std::collections::BTreeMap;

use async_trait::async_trait;
use lux_core::{GenerateContext, Generation, InstructionGenerator, Lang, Result, Seed, TaskKind};
use serde::{Deserialize, Serialize};

use super::single_example;
use super::template::Builtin;

/// This generator's row in the instruction-templates table (`tables/instruction_templates.toml`).
const TEMPLATES: Builtin = "paraphrase";

/// Paraphrase (dictionary): the instruction gives a native headword, the output lists the
/// entry's native synonyms, comma-separated. Placeholders: `{native}`, `{word}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Paraphrase {
    /// Templates per instruction language, replacing the built-in ones for that language.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub templates: BTreeMap<Lang, Vec<String>>,
}

#[typetag::serde(name = "paraphrase")]
#[async_trait]
impl InstructionGenerator for Paraphrase {
    fn accepts(&self, seed: &Seed) -> bool {
        matches!(seed, Seed::Lexeme(e) if !e.synonyms.is_empty())
    }

    async fn generate(&self, seed: &Seed, ctx: &GenerateContext) -> Result<Generation> {
        let Seed::Lexeme(entry) = seed else {
            return Ok(Generation::default());
        };
        let synonyms: Vec<&str> = entry
            .synonyms
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty() && *s != entry.headword)
            .collect();
        if entry.lang != ctx.native || synonyms.is_empty() {
            return Ok(Generation::default());
        }
        single_example(
            "paraphrase",
            TaskKind::PARAPHRASE,
            (TEMPLATES, &self.templates),
            seed,
            ctx,
            &[("word", &entry.headword)],
            None,
            synonyms.join(", "),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generators::testing::*;

    #[test]
    fn lists_synonyms_without_the_headword() {
        let seed = lexeme(
            "séier",
            &[("en", "fast")],
            &[],
            &["séier", "flott", "gëschwënn"],
        );
        let ex = &run(&Paraphrase::default(), &seed).examples[0];
        assert_eq!(ex.output, "flott, gëschwënn");
        assert!(ex.instruction.contains("séier"));
        assert!(
            run(&Paraphrase::default(), &lexeme("x", &[], &[], &["x"]))
                .examples
                .is_empty()
        );
    }
}
