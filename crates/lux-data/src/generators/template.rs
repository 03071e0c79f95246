//! Instruction templates: several per instruction language, chosen by seed, from the
//! instruction-templates table (`tables/instruction_templates.toml`, one row per instruction
//! language) unless a recipe gives its own.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use lux_core::lang_table::{LangTable, warn_missing};
use lux_core::{Error, GenerateContext, Lang, PromptTemplate, Result, rng};

/// A generator's key in the instruction-templates table (`word_translation`).
pub(crate) type Builtin = &'static str;

/// The embedded instruction-templates table: `[instruction language] generator = [...]`.
pub(crate) fn table() -> &'static LangTable<BTreeMap<String, Vec<String>>> {
    static TABLE: OnceLock<LangTable<BTreeMap<String, Vec<String>>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        LangTable::from_toml(
            "instruction_templates",
            "lux-data/tables/instruction_templates.toml",
            include_str!("../../tables/instruction_templates.toml"),
        )
        // Embedded at build time and checked by this module's tests.
        .expect("the embedded instruction-templates table parses")
    })
}

/// Templates of a generator for an instruction language: the recipe's `templates.<lang>`,
/// else the table's row. A language with neither gets none (the generator makes no examples
/// in it), which is logged once per generator and language.
pub(crate) fn templates_for<'a>(
    builtin: Builtin,
    overrides: &'a BTreeMap<Lang, Vec<String>>,
    lang: &Lang,
) -> Vec<&'a str> {
    if let Some(own) = overrides.get(lang).filter(|t| !t.is_empty()) {
        return own.iter().map(String::as_str).collect();
    }
    match table().get(lang).and_then(|row| row.get(builtin)) {
        Some(list) => list.iter().map(String::as_str).collect(),
        None => {
            warn_missing(
                &format!("instruction_templates.{builtin}"),
                lang,
                "no templates (no examples with instructions in it)",
            );
            Vec::new()
        }
    }
}

/// An instruction language and template chosen for one seed.
#[derive(Debug, Clone)]
pub(crate) struct Chosen<'a> {
    pub(crate) lang: Lang,
    pub(crate) template: &'a str,
    /// `en/2`: language and index, recorded in the example's `template` field.
    pub(crate) name: String,
}

/// Picks an instruction language among `langs` (those of the run that the seed supports and
/// that have templates) and one of its templates, deterministically from
/// `(ctx.seed, generator, seed id, salt)`.
pub(crate) fn choose<'a>(
    generator: &str,
    seed_id: &str,
    salt: &str,
    ctx: &GenerateContext,
    langs: &[Lang],
    builtin: Builtin,
    overrides: &'a BTreeMap<Lang, Vec<String>>,
) -> Option<Chosen<'a>>
where
    'static: 'a,
{
    let usable: Vec<(&Lang, Vec<&'a str>)> = langs
        .iter()
        .map(|l| (l, templates_for(builtin, overrides, l)))
        .filter(|(_, t)| !t.is_empty())
        .collect();
    if usable.is_empty() {
        return None;
    }
    let key = format!("{generator}/{seed_id}/{salt}");
    let (lang, templates) = &usable[rng::pick(ctx.seed, &format!("{key}/lang"), usable.len())];
    let i = rng::pick(ctx.seed, &format!("{key}/template"), templates.len());
    Some(Chosen {
        lang: (*lang).clone(),
        template: templates[i],
        name: format!("{}/{i}", lang.code()),
    })
}

/// Fills `{name}` placeholders with [`PromptTemplate`]'s rules (a lower-case identifier in
/// braces; any other brace is literal). A placeholder with no value is an error naming the
/// generator and the template, so a typo in a recipe's template is caught on the first seed.
pub(crate) fn render(generator: &str, template: &str, vars: &[(&str, &str)]) -> Result<String> {
    let t = PromptTemplate::builtin(format!("template `{template}`"), template);
    let known: Vec<&str> = vars.iter().map(|(k, _)| *k).collect();
    t.check(&known)
        .and_then(|()| t.render(vars))
        .map_err(|e| Error::plugin(generator, e.to_string()))
}

/// The languages among `ctx.instruction_langs` for which `has_text` holds.
pub(crate) fn langs_with(ctx: &GenerateContext, has_text: impl Fn(&Lang) -> bool) -> Vec<Lang> {
    ctx.instruction_langs
        .iter()
        .filter(|l| has_text(l))
        .cloned()
        .collect()
}

/// Cuts `text` to at most `max_chars` characters at a paragraph, else sentence, else word
/// boundary (a hard cut when no boundary lies past a third of the limit).
pub(crate) fn truncate_text(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.trim().to_string();
    }
    let cut: String = text.chars().take(max_chars).collect();
    for sep in ["\n\n", ". ", " "] {
        if let Some(i) = cut.rfind(sep)
            && i > max_chars / 3
        {
            let end = if sep == ". " { i + 1 } else { i };
            return cut[..end].trim().to_string();
        }
    }
    cut.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUILTIN: Builtin = "word_translation";

    #[test]
    fn every_row_fills_with_its_generators_slots() {
        let slots: &[(&str, &[&str])] = &[
            ("word_translation", &["native", "word", "source_lang"]),
            ("sentence_translation", &["native", "source_lang"]),
            ("usage_in_context", &["native", "word", "gloss"]),
            ("paraphrase", &["native", "word"]),
            ("open_generation", &["native", "title"]),
            ("article_to_title", &["native"]),
            ("title_to_article", &["native", "title"]),
        ];
        let langs: Vec<&str> = table().languages().collect();
        assert_eq!(langs, ["de", "en", "fr", "lb"]);
        for (code, row) in table().iter() {
            // Luxembourgish instructions (LB→LB) have no translation rows: translating into
            // the language the instruction is written in is not a task.
            let translations = ["word_translation", "sentence_translation"];
            let expected = if code == "lb" {
                slots.len() - translations.len()
            } else {
                slots.len()
            };
            assert_eq!(row.len(), expected, "{code}: {:?}", row.keys());
            for (generator, known) in slots {
                let Some(list) = row.get(*generator) else {
                    assert!(
                        code == "lb" && translations.contains(generator),
                        "{code}.{generator}"
                    );
                    continue;
                };
                assert!(list.len() >= 2, "{code}.{generator}");
                for t in list {
                    let vars: Vec<(&str, &str)> = known.iter().map(|k| (*k, "x")).collect();
                    render(generator, t, &vars).unwrap();
                    assert!(t.contains("{native}") || *generator == "article_to_title");
                }
            }
        }
    }

    #[test]
    fn render_fills_and_rejects_unknown() {
        assert_eq!(
            render("g", "Say {x}!", &[("x", "moien")]).unwrap(),
            "Say moien!"
        );
        let e = render("g", "Say {y}", &[("x", "1")])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("g: ") && e.contains("Say {y}") && e.contains("{x}"),
            "{e}"
        );
        assert_eq!(render("g", "a { b", &[]).unwrap(), "a { b");
        assert_eq!(
            render("g", "{\"w\": \"{x}\"} {Not}", &[("x", "1")]).unwrap(),
            "{\"w\": \"1\"} {Not}"
        );
    }

    #[test]
    fn choice_is_deterministic_and_uses_overrides() {
        let ctx = GenerateContext::new(1, Lang::LB, vec![Lang::EN, Lang::FR]);
        let none = BTreeMap::new();
        let a = choose("g", "s1", "", &ctx, &ctx.instruction_langs, BUILTIN, &none).unwrap();
        let b = choose("g", "s1", "", &ctx, &ctx.instruction_langs, BUILTIN, &none).unwrap();
        assert_eq!((a.lang, a.template), (b.lang, b.template));
        let mut own = BTreeMap::new();
        own.insert(Lang::EN, vec!["Z {x}".to_string()]);
        assert!(a.template.contains("{word}"), "{}", a.template);
        let c = choose("g", "s1", "", &ctx, &[Lang::EN], BUILTIN, &own).unwrap();
        assert_eq!(c.template, "Z {x}");
        // No row for Faroese instructions: no template, the generator skips the language.
        let fo = Lang::new("fo").unwrap();
        assert!(choose("g", "s1", "", &ctx, &[fo], BUILTIN, &none).is_none());
    }

    #[test]
    fn every_language_gets_used() {
        let ctx = GenerateContext::new(9, Lang::LB, vec![Lang::EN, Lang::FR]);
        let none = BTreeMap::new();
        let mut fr = 0;
        for i in 0..200 {
            let c = choose(
                "g",
                &i.to_string(),
                "",
                &ctx,
                &ctx.instruction_langs,
                BUILTIN,
                &none,
            );
            if c.unwrap().lang == Lang::FR {
                fr += 1;
            }
        }
        assert!((60..140).contains(&fr), "{fr}");
    }

    #[test]
    fn truncation_prefers_boundaries() {
        let t = "Eischte Paragraph ass hei.\n\nZweete Paragraph ass vill méi laang a geet weider.";
        assert_eq!(truncate_text(t, 40), "Eischte Paragraph ass hei.");
        assert_eq!(truncate_text("kuerz", 40), "kuerz");
    }
}
