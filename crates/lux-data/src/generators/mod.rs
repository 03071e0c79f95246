//! Offline instruction generators, one per file: they need no LLM, so the embedded default
//! runs anywhere. Each has several hand-written templates per instruction language (en, fr,
//! de: the instruction-templates table, `tables/instruction_templates.toml`), chosen by seed;
//! a recipe replaces them per language with `templates.<lang> = [...]`.
//! The output side is always native text written by people.
//!
//! | `type` | task | seeds it accepts |
//! |---|---|---|
//! | `word_translation` | `word_translation` | dictionary entries with translations; aligned single words |
//! | `sentence_translation` | `sentence_translation` | aligned groups with a native sentence |
//! | `article_to_title` | `article_to_title` | titled documents |
//! | `title_to_article` | `title_to_article` | titled documents |
//! | `open_generation` | `open_generation` | titled documents (the lead section) |
//! | `usage_in_context` | `usage_in_context` | dictionary entries with example sentences |
//! | `paraphrase` | `paraphrase` | dictionary entries with synonyms |
//! | `code_switch` | `code_switch` | aligned groups and documents in `source_lang` (LinguaLIFT stage 1; instruction = the switched text, output = the original) |

mod article_to_title;
mod code_switch;
mod open_generation;
mod paraphrase;
mod sentence_translation;
mod template;
mod title_to_article;
mod usage_in_context;
mod word_translation;

pub use article_to_title::*;
pub use code_switch::*;
pub use open_generation::*;
pub use paraphrase::*;
pub use sentence_translation::*;
pub use title_to_article::*;
pub use usage_in_context::*;
pub use word_translation::*;

use std::collections::BTreeMap;

use lux_core::{Example, GenerateContext, Generation, Lang, Result, Seed, TaskKind, rng};

/// The common shape of generators that make one example per seed: choose an instruction
/// language and template, fill `{native}` plus the generator's own placeholders, and attach
/// the given input and output. (The arguments are the parts a generator's seed gives; a struct
/// of them would only be built to be taken apart here.)
#[allow(clippy::too_many_arguments)]
pub(crate) fn single_example(
    generator: &'static str,
    task: TaskKind,
    (builtin, overrides): (template::Builtin, &BTreeMap<Lang, Vec<String>>),
    seed: &Seed,
    ctx: &GenerateContext,
    vars: &[(&str, &str)],
    input: Option<String>,
    output: String,
) -> Result<Generation> {
    let Some(chosen) = template::choose(
        generator,
        seed.id(),
        "",
        ctx,
        &ctx.instruction_langs,
        builtin,
        overrides,
    ) else {
        return Ok(Generation::default());
    };
    let native = ctx.language_name(&chosen.lang, &ctx.native);
    let mut all = vec![("native", native.as_str())];
    all.extend_from_slice(vars);
    let instruction = template::render(generator, chosen.template, &all)?;
    let example = Draft {
        generator,
        task,
        instruction,
        instruction_lang: chosen.lang.clone(),
        input,
        output,
        template: chosen.name,
        salt: String::new(),
    }
    .finish(seed, ctx);
    Ok(Generation::of(vec![example]))
}

/// The parts of an example that differ between generators.
pub(crate) struct Draft<'a> {
    pub(crate) generator: &'a str,
    pub(crate) task: TaskKind,
    pub(crate) instruction: String,
    pub(crate) instruction_lang: Lang,
    pub(crate) input: Option<String>,
    pub(crate) output: String,
    pub(crate) template: String,
    /// Distinguishes several examples one generator makes from one seed.
    pub(crate) salt: String,
}

impl Draft<'_> {
    /// The finished example, with a stable id and the seed's provenance.
    pub(crate) fn finish(self, seed: &Seed, ctx: &GenerateContext) -> Example {
        let id = rng::id(&format!(
            "{}/{}/{}/{}/{}",
            ctx.seed,
            self.generator,
            seed.id(),
            self.task,
            self.salt
        ));
        Example {
            id,
            task: self.task,
            instruction: self.instruction,
            instruction_lang: self.instruction_lang,
            input: self.input,
            output: self.output,
            output_lang: ctx.native.clone(),
            source: String::new(),
            license: String::new(),
            seed_id: seed.id().to_string(),
            generator: self.generator.to_string(),
            template: self.template,
        }
        .with_provenance(seed.provenance())
    }
}

/// Test helpers shared by the generator tests.
#[cfg(test)]
pub(crate) mod testing {
    use std::collections::BTreeMap;

    use lux_core::{
        Document, GenerateContext, Generation, InstructionGenerator, Lang, LexEntry, Parallel,
        Provenance, Seed,
    };

    pub(crate) fn ctx() -> GenerateContext {
        GenerateContext::new(1729, Lang::LB, vec![Lang::EN, Lang::FR, Lang::DE])
    }

    pub(crate) fn run(g: &dyn InstructionGenerator, seed: &Seed) -> Generation {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(g.generate(seed, &ctx())).unwrap()
    }

    pub(crate) fn parallel(id: &str, texts: &[(&str, &str)]) -> Seed {
        Seed::Parallel(Parallel {
            id: id.into(),
            texts: texts
                .iter()
                .map(|(l, t)| (Lang::new(l).unwrap(), t.to_string()))
                .collect(),
            provenance: Provenance::new("test", "MIT"),
        })
    }

    pub(crate) fn lexeme(
        headword: &str,
        translations: &[(&str, &str)],
        examples: &[&str],
        synonyms: &[&str],
    ) -> Seed {
        let mut tr: BTreeMap<Lang, Vec<String>> = BTreeMap::new();
        for (l, w) in translations {
            tr.entry(Lang::new(l).unwrap())
                .or_default()
                .push(w.to_string());
        }
        Seed::Lexeme(LexEntry {
            id: headword.into(),
            headword: headword.into(),
            lang: Lang::LB,
            pos: Some("noun".into()),
            translations: tr,
            examples: examples.iter().map(|s| s.to_string()).collect(),
            synonyms: synonyms.iter().map(|s| s.to_string()).collect(),
            provenance: Provenance::new("dict", "CC0-1.0"),
        })
    }

    pub(crate) fn article(title: &str, text: &str) -> Seed {
        Seed::Document(Document {
            id: title.into(),
            lang: Lang::LB,
            title: Some(title.into()),
            text: text.into(),
            provenance: Provenance::new("news", "CC-BY-4.0"),
            metadata: BTreeMap::new(),
        })
    }
}
