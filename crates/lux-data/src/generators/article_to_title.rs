use std::collections::BTreeMap;

use async_trait::async_trait;
use lux_core::{
    Document, GenerateContext, Generation, InstructionGenerator, Lang, Result, Seed, TaskKind,
};
use serde::{Deserialize, Serialize};

use super::single_example;
use super::template::{Builtin, truncate_text};

/// This generator's row in the instruction-templates table (`tables/instruction_templates.toml`).
const TEMPLATES: Builtin = "article_to_title";

/// Which documents a document-based generator uses: by source name and length.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentSelection {
    /// Only documents whose provenance `source` is one of these (empty: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
    /// Shortest usable text, in characters.
    #[serde(default = "default_min_chars")]
    pub min_chars: usize,
    /// Texts are cut to this many characters at a paragraph or sentence boundary.
    #[serde(default = "default_max_chars")]
    pub max_chars: usize,
}

impl Default for DocumentSelection {
    fn default() -> Self {
        DocumentSelection {
            sources: Vec::new(),
            min_chars: default_min_chars(),
            max_chars: default_max_chars(),
        }
    }
}

fn default_min_chars() -> usize {
    200
}

fn default_max_chars() -> usize {
    2000
}

impl DocumentSelection {
    /// The document and its title, when `seed` is a usable titled document in `native`.
    pub(crate) fn select<'a>(
        &self,
        seed: &'a Seed,
        native: &Lang,
    ) -> Option<(&'a Document, &'a str)> {
        let Seed::Document(d) = seed else { return None };
        let title = d.title.as_deref().filter(|t| !t.trim().is_empty())?;
        let source_ok = self.sources.is_empty() || self.sources.contains(&d.provenance.source);
        (d.lang == *native && source_ok && d.text.chars().count() >= self.min_chars)
            .then_some((d, title))
    }

    /// Whether `seed` could be selected (without knowing the run's native language).
    pub(crate) fn may_select(&self, seed: &Seed) -> bool {
        matches!(seed, Seed::Document(d) if d.title.is_some()
            && (self.sources.is_empty() || self.sources.contains(&d.provenance.source)))
    }

    pub(crate) fn cut(&self, text: &str) -> String {
        truncate_text(text, self.max_chars)
    }
}

/// Article → title (news, Wikipedia): the input is the native article, the output its
/// native title. Template placeholders: `{native}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArticleToTitle {
    /// Which documents to use.
    #[serde(default, flatten)]
    pub selection: DocumentSelection,
    /// Templates per instruction language, replacing the built-in ones for that language.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub templates: BTreeMap<Lang, Vec<String>>,
}

#[typetag::serde(name = "article_to_title")]
#[async_trait]
impl InstructionGenerator for ArticleToTitle {
    fn accepts(&self, seed: &Seed) -> bool {
        self.selection.may_select(seed)
    }

    async fn generate(&self, seed: &Seed, ctx: &GenerateContext) -> Result<Generation> {
        let Some((doc, title)) = self.selection.select(seed, &ctx.native) else {
            return Ok(Generation::default());
        };
        single_example(
            "article_to_title",
            TaskKind::ARTICLE_TO_TITLE,
            (TEMPLATES, &self.templates),
            seed,
            ctx,
            &[],
            Some(self.selection.cut(&doc.text)),
            title.trim().to_string(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generators::testing::*;

    #[test]
    fn title_is_output_article_is_input() {
        let text = "D'Regierung huet en neit Gesetz iwwer de Wunnengsbau virgestallt. ".repeat(5);
        let seed = article("Neit Gesetz fir de Wunnengsbau", &text);
        let ex = &run(&ArticleToTitle::default(), &seed).examples[0];
        assert_eq!(ex.output, "Neit Gesetz fir de Wunnengsbau");
        assert!(ex.input.as_deref().unwrap().starts_with("D'Regierung"));
        assert_eq!(ex.task, TaskKind::ARTICLE_TO_TITLE);
    }

    #[test]
    fn short_or_other_source_skipped() {
        let g = ArticleToTitle::default();
        assert!(run(&g, &article("Titel", "Ze kuerz.")).examples.is_empty());
        let g2: Box<dyn InstructionGenerator> =
            toml::from_str("type = \"article_to_title\"\nsources = [\"rtl\"]\nmin_chars = 10")
                .unwrap();
        assert!(!g2.accepts(&article("Titel", "Laang genuch fir den Test hei.")));
    }
}
