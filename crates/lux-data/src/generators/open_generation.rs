use std::collections::BTreeMap;

use async_trait::async_trait;
use lux_core::{GenerateContext, Generation, InstructionGenerator, Lang, Result, Seed, TaskKind};
use serde::{Deserialize, Serialize};

use super::article_to_title::DocumentSelection;
use super::single_example;
use super::template::Builtin;

/// This generator's row in the instruction-templates table (`tables/instruction_templates.toml`).
const TEMPLATES: Builtin = "open_generation";

/// Open-ended generation from encyclopedic text, offline: the instruction asks about the
/// article's subject, the output is its lead section (the text before the first heading,
/// cut at a paragraph boundary).
///
/// The LLM-backed reverse-instruction generator in `lux-plugins` makes richer instructions
/// from any span of the text; this one needs no model. Placeholders: `{native}`, `{title}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenGeneration {
    /// Which documents to use.
    #[serde(default, flatten)]
    pub selection: DocumentSelection,
    /// Templates per instruction language, replacing the built-in ones for that language.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub templates: BTreeMap<Lang, Vec<String>>,
}

/// The lead section: paragraphs before the first heading-like line (a short line without
/// final punctuation followed by a paragraph).
fn lead(text: &str) -> String {
    let mut out = Vec::new();
    for para in text.split("\n\n") {
        let p = para.trim();
        let heading_like = !p.contains('\n')
            && p.chars().count() < 80
            && !p.ends_with(['.', '!', '?', ':', '»', '"']);
        if heading_like && !out.is_empty() {
            break;
        }
        if !heading_like && !p.is_empty() {
            out.push(p);
        }
    }
    out.join("\n\n")
}

#[typetag::serde(name = "open_generation")]
#[async_trait]
impl InstructionGenerator for OpenGeneration {
    fn accepts(&self, seed: &Seed) -> bool {
        self.selection.may_select(seed)
    }

    async fn generate(&self, seed: &Seed, ctx: &GenerateContext) -> Result<Generation> {
        let Some((doc, title)) = self.selection.select(seed, &ctx.native) else {
            return Ok(Generation::default());
        };
        let lead = lead(&doc.text);
        if lead.chars().count() < self.selection.min_chars.min(200) {
            return Ok(Generation::default());
        }
        single_example(
            "open_generation",
            TaskKind::OPEN_GENERATION,
            (TEMPLATES, &self.templates),
            seed,
            ctx,
            &[("title", title.trim())],
            None,
            self.selection.cut(&lead),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generators::testing::*;

    #[test]
    fn lead_stops_at_first_heading() {
        let intro = "Lëtzebuerg ass e Land an Europa. ".repeat(8);
        let text = format!("{intro}\n\nGeschicht\n\nD'Geschicht vum Land ass laang.");
        let ex = &run(&OpenGeneration::default(), &article("Lëtzebuerg", &text)).examples[0];
        assert_eq!(ex.output, intro.trim());
        assert!(ex.instruction.contains("Lëtzebuerg"));
        assert_eq!(ex.task, TaskKind::OPEN_GENERATION);
    }
}
