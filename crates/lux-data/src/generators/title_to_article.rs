use std::collections::BTreeMap;

use async_trait::async_trait;
use lux_core::{GenerateContext, Generation, InstructionGenerator, Lang, Result, Seed, TaskKind};
use serde::{Deserialize, Serialize};

use super::article_to_title::DocumentSelection;
use super::single_example;
use super::template::Builtin;

/// This generator's row in the instruction-templates table (`tables/instruction_templates.toml`).
const TEMPLATES: Builtin = "title_to_article";

/// Title → article (news): the instruction gives the native title, the output is the
/// native article (cut at a paragraph boundary). Template placeholders: `{native}`, `{title}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TitleToArticle {
    /// Which documents to use.
    #[serde(default, flatten)]
    pub selection: DocumentSelection,
    /// Templates per instruction language, replacing the built-in ones for that language.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub templates: BTreeMap<Lang, Vec<String>>,
}

#[typetag::serde(name = "title_to_article")]
#[async_trait]
impl InstructionGenerator for TitleToArticle {
    fn accepts(&self, seed: &Seed) -> bool {
        self.selection.may_select(seed)
    }

    async fn generate(&self, seed: &Seed, ctx: &GenerateContext) -> Result<Generation> {
        let Some((doc, title)) = self.selection.select(seed, &ctx.native) else {
            return Ok(Generation::default());
        };
        single_example(
            "title_to_article",
            TaskKind::TITLE_TO_ARTICLE,
            (TEMPLATES, &self.templates),
            seed,
            ctx,
            &[("title", title.trim())],
            None,
            self.selection.cut(&doc.text),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generators::testing::*;

    #[test]
    fn article_is_output_cut_at_paragraph() {
        let para = "Um Samschdeg ass an der Stad e grousse Maart. Vill Leit sinn komm.";
        let text = format!("{para}\n\n{}", "Nach méi Text. ".repeat(200));
        let g = TitleToArticle {
            selection: DocumentSelection {
                max_chars: 100,
                ..Default::default()
            },
            ..Default::default()
        };
        let ex = &run(&g, &article("Maart an der Stad", &text)).examples[0];
        assert_eq!(ex.output, para);
        assert!(ex.instruction.contains("Maart an der Stad"));
        assert!(ex.input.is_none());
    }
}
