//! Building a seed corpus from aligned catalogues: deduplicated parallel groups, and a
//! dictionary mined from them (single-word entries, with native example sentences taken
//! from the corpus's own sentences).
//!
//! This is how lux's embedded default (`data/`) is made from localisation packages, and how a
//! user makes one for another language from the same kinds of packages.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use lux_core::{Lang, LexEntry, Parallel, Provenance};
use serde::{Deserialize, Serialize};

use crate::text::{dedup_key, word_count, words};

/// Settings of [`mine_dictionary`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DictionaryMining {
    /// Longest native entry (in words) that becomes a headword.
    #[serde(default = "one")]
    pub max_headword_words: usize,
    /// Longest translation (in words) kept for a headword.
    #[serde(default = "two")]
    pub max_translation_words: usize,
    /// Example sentences kept per headword.
    #[serde(default = "three")]
    pub max_examples: usize,
    /// Shortest native text (in words) used as an example sentence.
    #[serde(default = "four")]
    pub min_example_words: usize,
    /// Longest native text (in words) used as an example sentence.
    #[serde(default = "twenty_five")]
    pub max_example_words: usize,
}

fn one() -> usize {
    1
}
fn two() -> usize {
    2
}
fn three() -> usize {
    3
}
fn four() -> usize {
    4
}
fn twenty_five() -> usize {
    25
}

impl Default for DictionaryMining {
    fn default() -> Self {
        DictionaryMining {
            max_headword_words: 1,
            max_translation_words: 2,
            max_examples: 3,
            min_example_words: 4,
            max_example_words: 25,
        }
    }
}

/// Removes groups whose native text and (when present) English text repeat an earlier
/// group's, comparing by [`dedup_key`]; keeps the first, in input order.
pub fn dedupe_parallel(groups: Vec<Parallel>, native: &Lang) -> Vec<Parallel> {
    let mut seen = HashSet::new();
    groups
        .into_iter()
        .filter(|g| {
            let key = (
                g.get(native).map(dedup_key).unwrap_or_default(),
                g.get(&Lang::EN).map(dedup_key).unwrap_or_default(),
            );
            seen.insert(key)
        })
        .collect()
}

/// Mines dictionary entries from aligned groups: every short native entry (`Fichier`) with
/// its short translations becomes a headword, and native sentences of the corpus that
/// contain it as a word become its examples (shortest first, deterministic).
///
/// Entries are merged by exact headword; translations keep first-seen order; provenance
/// lists every contributing source and license.
pub fn mine_dictionary(
    groups: &[Parallel],
    native: &Lang,
    opts: &DictionaryMining,
) -> Vec<LexEntry> {
    struct Acc {
        translations: BTreeMap<Lang, Vec<String>>,
        sources: BTreeSet<String>,
        licenses: BTreeSet<String>,
    }
    let mut heads: BTreeMap<String, Acc> = BTreeMap::new();
    let mut sentences: Vec<&str> = Vec::new();
    for g in groups {
        let Some(n) = g.get(native).map(str::trim) else {
            continue;
        };
        let n_words = word_count(n);
        if (opts.min_example_words..=opts.max_example_words).contains(&n_words) {
            sentences.push(n);
        }
        // Symbols and abbreviations (`A`, `km`) are not dictionary words.
        let letters = n.chars().filter(|c| c.is_alphabetic()).count();
        if n_words == 0 || n_words > opts.max_headword_words || letters < 3 {
            continue;
        }
        let nk = dedup_key(n);
        let translations: Vec<(&Lang, &str)> = g
            .texts
            .iter()
            .filter(|(l, t)| {
                *l != native
                    && (1..=opts.max_translation_words).contains(&word_count(t))
                    && t.chars().filter(|c| c.is_alphabetic()).count() >= 3
                    && dedup_key(t) != nk
            })
            .map(|(l, t)| (l, t.trim()))
            .collect();
        if translations.is_empty() {
            continue;
        }
        let acc = heads.entry(n.to_string()).or_insert_with(|| Acc {
            translations: BTreeMap::new(),
            sources: BTreeSet::new(),
            licenses: BTreeSet::new(),
        });
        for (l, t) in translations {
            let list = acc.translations.entry(l.clone()).or_default();
            if !list.iter().any(|x| x == t) {
                list.push(t.to_string());
            }
        }
        acc.sources.insert(g.provenance.source.clone());
        acc.licenses.insert(g.provenance.license.clone());
    }

    // Word form → sentences containing it, shortest first.
    sentences.sort_by_key(|s| (s.chars().count(), *s));
    sentences.dedup();
    let mut index: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, s) in sentences.iter().enumerate() {
        let mut in_sentence = HashSet::new();
        for w in words(s) {
            if in_sentence.insert(w) {
                index.entry(w).or_default().push(i);
            }
        }
    }

    heads
        .into_iter()
        .map(|(headword, acc)| {
            let examples = index
                .get(headword.as_str())
                .map(|ids| {
                    ids.iter()
                        .map(|&i| sentences[i].to_string())
                        .filter(|s| s != &headword)
                        .take(opts.max_examples)
                        .collect()
                })
                .unwrap_or_default();
            LexEntry {
                id: headword.clone(),
                headword,
                lang: native.clone(),
                pos: None,
                translations: acc.translations,
                examples,
                synonyms: Vec::new(),
                provenance: Provenance::new(
                    acc.sources.into_iter().collect::<Vec<_>>().join("+"),
                    acc.licenses.into_iter().collect::<Vec<_>>().join(" AND "),
                ),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(id: &str, source: &str, texts: &[(&str, &str)]) -> Parallel {
        Parallel {
            id: id.into(),
            texts: texts
                .iter()
                .map(|(l, t)| (Lang::new(l).unwrap(), t.to_string()))
                .collect(),
            provenance: Provenance::new(source, "MIT"),
        }
    }

    #[test]
    fn mines_headwords_with_translations_and_examples() {
        let groups = vec![
            group(
                "1",
                "a",
                &[
                    ("en", "File"),
                    ("fr", "Fichier"),
                    ("de", "Datei"),
                    ("lb", "Fichier"),
                ],
            ),
            group("2", "b", &[("en", "Document"), ("lb", "Fichier")]),
            group(
                "3",
                "a",
                &[
                    ("en", "The file could not be saved."),
                    ("lb", "De Fichier konnt net gespäichert ginn."),
                ],
            ),
            group(
                "4",
                "a",
                &[
                    ("en", "Open a file from your computer now"),
                    ("lb", "E Fichier vun Ärem Computer opmaachen"),
                ],
            ),
            group("5", "a", &[("en", "Internet"), ("lb", "Internet")]),
            group(
                "6",
                "a",
                &[("en", "Please save"), ("lb", "Sou gespäichert")],
            ),
        ];
        let dict = mine_dictionary(&groups, &Lang::LB, &DictionaryMining::default());
        assert_eq!(dict.len(), 1, "{dict:?}");
        let e = &dict[0];
        assert_eq!(e.headword, "Fichier");
        assert_eq!(e.translations[&Lang::EN], ["File", "Document"]);
        assert_eq!(e.translations[&Lang::DE], ["Datei"]);
        assert!(
            !e.translations.contains_key(&Lang::FR),
            "fr copies the headword"
        );
        assert_eq!(e.examples.len(), 2);
        assert!(e.examples[0].chars().count() <= e.examples[1].chars().count());
        assert_eq!(e.provenance.source, "a+b");
    }

    #[test]
    fn dedupe_keeps_first() {
        let g = vec![
            group("1", "a", &[("en", "Save"), ("lb", "Späicheren")]),
            group("2", "b", &[("en", "save"), ("lb", "späicheren!")]),
            group("3", "b", &[("en", "Store"), ("lb", "Späicheren")]),
        ];
        let ids: Vec<_> = dedupe_parallel(g, &Lang::LB)
            .into_iter()
            .map(|g| g.id)
            .collect();
        assert_eq!(ids, ["1", "3"]);
    }
}

/// A corpus build: which catalogue sources to read, for which languages, and how to mine
/// the dictionary. Paths are relative to the packages directory.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CorpusConfig {
    /// The native language (every group must have it).
    pub native: Lang,
    /// The languages instructions will be written in (default en, fr, de): kept in each group
    /// so that translation tasks have a source text.
    #[serde(default = "default_instruction_langs")]
    pub instruction_langs: Vec<Lang>,
    /// Languages kept in each group (others are dropped). Default: the native language, the
    /// instruction languages and the native language's neighbours from the language-id
    /// neighbours table ([`crate::langid::neighbours`]), so the language identifier trained on
    /// the corpus learns to tell them apart.
    #[serde(default)]
    pub langs: Vec<Lang>,
    /// Text put at the top of `NOTICE.md` (where the packages come from, how to rebuild).
    #[serde(default)]
    pub notice: String,
    /// Catalogue sources (`cldr`, `json_messages`, `gettext_locale_dir`…), read in order.
    pub sources: Vec<Box<dyn lux_core::SeedSource>>,
    /// Dictionary mining settings.
    #[serde(default)]
    pub dictionary: DictionaryMining,
}

fn default_instruction_langs() -> Vec<Lang> {
    vec![Lang::EN, Lang::FR, Lang::DE]
}

impl CorpusConfig {
    /// The languages kept in each group: `langs`, or when empty the native language, the
    /// instruction languages and the native language's language-id neighbours, in that order
    /// and without repeats.
    pub fn kept_langs(&self) -> Vec<Lang> {
        if !self.langs.is_empty() {
            return self.langs.clone();
        }
        let mut out = vec![self.native.clone()];
        for l in self
            .instruction_langs
            .iter()
            .cloned()
            .chain(crate::langid::neighbours(&self.native))
        {
            if !out.contains(&l) {
                out.push(l);
            }
        }
        out
    }
}

/// What a corpus build wrote.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CorpusReport {
    /// Aligned groups written to `parallel.jsonl`.
    pub groups: usize,
    /// Groups with every language of the config.
    pub complete_groups: usize,
    /// Groups per source and license.
    pub per_source: BTreeMap<String, usize>,
    /// Dictionary entries written to `dictionary.jsonl`.
    pub dictionary_entries: usize,
    /// Entries with at least one example sentence.
    pub entries_with_examples: usize,
}

/// Reads every source of `config` (paths resolved against `packages_dir`), deduplicates,
/// and writes `parallel.jsonl`, `dictionary.jsonl` and `NOTICE.md` into `out_dir`.
pub fn build_corpus(
    config: &CorpusConfig,
    packages_dir: &std::path::Path,
    out_dir: &std::path::Path,
) -> lux_core::Result<CorpusReport> {
    let langs = config.kept_langs();
    let ctx = lux_core::SourceContext::new(packages_dir)
        .with_native(config.native.clone())
        .with_langs(langs.clone());
    let mut groups = Vec::new();
    for source in &config.sources {
        for item in source.open(&ctx)? {
            let lux_core::Seed::Parallel(mut g) = item? else {
                continue;
            };
            g.texts.retain(|l, _| langs.contains(l));
            if g.texts.contains_key(&config.native) && g.texts.len() >= 2 {
                // Ids must be unique across sources in the merged file.
                g.id = format!("{}/{}", g.provenance.source, g.id);
                groups.push(g);
            }
        }
    }
    let groups = dedupe_parallel(groups, &config.native);
    let dictionary = mine_dictionary(&groups, &config.native, &config.dictionary);

    let mut report = CorpusReport {
        groups: groups.len(),
        complete_groups: groups
            .iter()
            .filter(|g| langs.iter().all(|l| g.texts.contains_key(l)))
            .count(),
        dictionary_entries: dictionary.len(),
        entries_with_examples: dictionary.iter().filter(|e| !e.examples.is_empty()).count(),
        ..Default::default()
    };
    for g in &groups {
        *report
            .per_source
            .entry(format!(
                "{} ({})",
                g.provenance.source, g.provenance.license
            ))
            .or_default() += 1;
    }
    crate::sources::write_parallel_jsonl(out_dir.join("parallel.jsonl"), &groups)?;
    crate::sources::write_dictionary_jsonl(out_dir.join("dictionary.jsonl"), &dictionary)?;
    let mut notice = config.notice.trim_end().to_string();
    notice.push_str("\n\n## Contents\n\n| source (license) | aligned groups |\n|---|---:|\n");
    for (source, n) in &report.per_source {
        notice.push_str(&format!("| {source} | {n} |\n"));
    }
    notice.push_str(&format!(
        "\n`parallel.jsonl`: {} groups ({} with all of {}). `dictionary.jsonl`: {} entries mined \
         from the single-word groups ({} with example sentences from the corpus); each entry's \
         `license` field lists the licenses of the groups it was mined from.\n",
        report.groups,
        report.complete_groups,
        langs.iter().map(Lang::code).collect::<Vec<_>>().join("/"),
        report.dictionary_entries,
        report.entries_with_examples,
    ));
    lux_core::fs::write_atomic(out_dir.join("NOTICE.md"), notice.as_bytes())?;
    Ok(report)
}
