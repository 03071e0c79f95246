//! Aligning `key → text` per language into [`Parallel`] groups.

use std::collections::{BTreeMap, HashMap};

use lux_core::{Lang, Parallel, Provenance};

use super::{CatalogueCleaning, CleaningReport, DropReason, clean_text};
use crate::text::dedup_key;

/// Collects `key → text` per language from one or more catalogues and aligns them into
/// [`Parallel`] groups.
///
/// ```
/// use lux_core::{Lang, Provenance};
/// use lux_data::catalogue::{CatalogueBuilder, CatalogueCleaning};
///
/// let mut b = CatalogueBuilder::new(Lang::LB, Provenance::new("demo", "MIT"));
/// b.insert("open", &Lang::EN, "_Open %s");
/// b.insert("open", &Lang::LB, "%s _opmaachen");
/// b.insert("ok", &Lang::EN, "OK");
/// b.insert("ok", &Lang::LB, "OK");
/// let (groups, report) = b.build(&CatalogueCleaning::default());
/// assert_eq!(groups.len(), 1);
/// assert_eq!(groups[0].get(&Lang::LB), Some("{1} opmaachen"));
/// assert_eq!(groups[0].get(&Lang::EN), Some("Open {1}"));
/// assert_eq!(report.groups, 1);
/// ```
#[derive(Debug, Clone)]
pub struct CatalogueBuilder {
    native: Lang,
    provenance: Provenance,
    groups: BTreeMap<String, Pending>,
}

#[derive(Debug, Clone, Default)]
struct Pending {
    texts: BTreeMap<Lang, String>,
    origin: Option<String>,
    license: Option<String>,
}

impl CatalogueBuilder {
    /// A builder for groups around `native`, each with (a copy of) `provenance`.
    pub fn new(native: Lang, provenance: Provenance) -> CatalogueBuilder {
        CatalogueBuilder {
            native,
            provenance,
            groups: BTreeMap::new(),
        }
    }

    /// The native language.
    pub fn native(&self) -> &Lang {
        &self.native
    }

    /// Adds `text` as `lang`'s string for `key`. Blank texts are ignored; when `key` already
    /// has a text in `lang` the first is kept and `false` is returned.
    pub fn insert(&mut self, key: &str, lang: &Lang, text: &str) -> bool {
        if text.trim().is_empty() {
            return true;
        }
        let group = match self.groups.get_mut(key) {
            Some(g) => g,
            None => self.groups.entry(key.to_string()).or_default(),
        };
        if group.texts.contains_key(lang) {
            return false;
        }
        group.texts.insert(lang.clone(), text.to_string());
        true
    }

    /// Records where `key`'s group was read from (kept on its provenance); the first call wins.
    pub fn set_origin(&mut self, key: &str, origin: impl Into<String>) {
        if let Some(g) = self.groups.get_mut(key) {
            g.origin.get_or_insert_with(|| origin.into());
        }
    }

    /// Gives `key`'s group a license other than the builder's; the first call wins.
    pub fn set_license(&mut self, key: &str, license: impl Into<String>) {
        if let Some(g) = self.groups.get_mut(key) {
            g.license.get_or_insert_with(|| license.into());
        }
    }

    /// Number of keys collected so far.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether no key was collected.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Whether `key` has a text in `lang`.
    pub fn has(&self, key: &str, lang: &Lang) -> bool {
        self.groups
            .get(key)
            .is_some_and(|g| g.texts.contains_key(lang))
    }

    /// Cleans every text and returns the kept groups, sorted by key, with what was removed.
    pub fn build(self, cleaning: &CatalogueCleaning) -> (Vec<Parallel>, CleaningReport) {
        let mut report = CleaningReport {
            keys: self.groups.len(),
            ..Default::default()
        };
        let mut out: Vec<Parallel> = Vec::new();
        let mut seen: HashMap<(String, String), usize> = HashMap::new();
        let drop = |report: &mut CleaningReport, r: DropReason| {
            *report.dropped.entry(r).or_default() += 1;
        };
        for (key, pending) in self.groups {
            for lang in pending.texts.keys() {
                *report.texts.entry(lang.clone()).or_default() += 1;
            }
            if !pending.texts.contains_key(&self.native) {
                report.without_native += 1;
                continue;
            }
            let zero_based = pending.texts.values().any(|t| has_zero_brace(t));
            let mut texts = BTreeMap::new();
            for (lang, raw) in pending.texts {
                match clean_text(&raw, cleaning, zero_based) {
                    Ok(t) => {
                        texts.insert(lang, t);
                    }
                    Err(r) => drop(&mut report, r),
                }
            }
            if cleaning.drop_code_like
                && texts.get(&cleaning.pivot).is_some_and(|t| is_code(t))
                && texts
                    .iter()
                    .all(|(l, t)| *l == cleaning.pivot || t.chars().any(char::is_lowercase))
            {
                // A pivot text like `TR` that no translation keeps is an id (a country code).
                texts.remove(&cleaning.pivot);
                drop(&mut report, DropReason::CodeLike);
            }
            if cleaning.drop_copies
                && let Some(pivot) = texts.get(&cleaning.pivot).map(|t| dedup_key(t))
            {
                let before = texts.len();
                texts.retain(|l, t| *l == cleaning.pivot || dedup_key(t) != pivot);
                for _ in texts.len()..before {
                    drop(&mut report, DropReason::Copy);
                }
            }
            if !texts.contains_key(&self.native) || texts.len() < cleaning.min_langs.max(2) {
                drop(&mut report, DropReason::TooFewLanguages);
                continue;
            }
            if cleaning.dedupe {
                let k = (
                    texts
                        .get(&self.native)
                        .map(|t| dedup_key(t))
                        .unwrap_or_default(),
                    texts
                        .get(&cleaning.pivot)
                        .map(|t| dedup_key(t))
                        .unwrap_or_default(),
                );
                if let Some(&i) = seen.get(&k) {
                    drop(&mut report, DropReason::Duplicate);
                    for (l, t) in texts {
                        out[i].texts.entry(l).or_insert(t);
                    }
                    continue;
                }
                seen.insert(k, out.len());
            }
            let mut provenance = self.provenance.clone();
            if let Some(l) = pending.license {
                provenance.license = l;
            }
            if let Some(o) = pending.origin {
                provenance.origin = Some(o);
            }
            out.push(Parallel {
                id: key,
                texts,
                provenance,
            });
        }
        report.groups = out.len();
        for g in &out {
            for l in g.texts.keys() {
                *report.groups_with.entry(l.clone()).or_default() += 1;
            }
        }
        (out, report)
    }
}

/// Whether `s` is two or three capital letters (`TR`, `DEU`): a code when no translation
/// keeps it in capitals.
fn is_code(s: &str) -> bool {
    (2..=3).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_uppercase())
}

/// Whether `s` has a `{0}` / `{0,…}` placeholder (so its brace numbers are 0-based).
fn has_zero_brace(s: &str) -> bool {
    s.contains("{0}") || s.contains("{0,")
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_based_braces_are_decided_per_group() {
        let mut b = CatalogueBuilder::new(Lang::LB, Provenance::new("t", "MIT"));
        b.insert("k", &Lang::EN, "{0} and {1} hours");
        b.insert("k", &Lang::LB, "{1} an {0} Stonnen");
        b.insert("only1", &Lang::EN, "{1} day");
        b.insert("only1", &Lang::LB, "{1} Dag");
        let (g, _) = b.build(&CatalogueCleaning::default());
        assert_eq!(g[0].get(&Lang::EN), Some("{1} and {2} hours"));
        assert_eq!(g[0].get(&Lang::LB), Some("{2} an {1} Stonnen"));
        assert_eq!(g[1].get(&Lang::LB), Some("{1} Dag"));
    }

    fn builder() -> CatalogueBuilder {
        CatalogueBuilder::new(Lang::LB, Provenance::new("test", "MIT"))
    }

    #[test]
    fn copies_of_english_are_removed_and_groups_need_native_plus_one() {
        let mut b = builder();
        b.insert("a", &Lang::EN, "Open file");
        b.insert("a", &Lang::LB, "Fichier opmaachen");
        b.insert("a", &Lang::DE, "Open File"); // a copy: removed
        b.insert("a", &Lang::FR, "Ouvrir le fichier");
        b.insert("b", &Lang::EN, "OK");
        b.insert("b", &Lang::LB, "OK"); // copy: group loses its native text
        b.insert("b", &Lang::DE, "Gut");
        b.insert("c", &Lang::LB, "Nëmmen lb");
        b.insert("d", &Lang::DE, "Nur Deutsch");
        b.insert("d", &Lang::EN, "Only German");
        let (g, r) = b.build(&CatalogueCleaning::default());
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].id, "a");
        assert_eq!(
            g[0].texts.keys().cloned().collect::<Vec<_>>(),
            [Lang::EN, Lang::FR, Lang::LB]
        );
        assert_eq!(r.count(DropReason::Copy), 2);
        assert_eq!(r.count(DropReason::TooFewLanguages), 2);
        assert_eq!(r.without_native, 1);
        assert_eq!(r.keys, 4);
        assert_eq!(r.texts.get(&Lang::LB), Some(&3));
        assert_eq!(r.groups_with.get(&Lang::FR), Some(&1));

        let mut b = builder();
        b.insert("b", &Lang::EN, "OK");
        b.insert("b", &Lang::LB, "OK");
        let keep = CatalogueCleaning {
            drop_copies: false,
            ..Default::default()
        };
        assert_eq!(b.build(&keep).0.len(), 1);
    }

    #[test]
    fn capital_codes_are_not_english() {
        let mut b = builder();
        b.insert("geo/TR", &Lang::EN, "TR");
        b.insert("geo/TR", &Lang::LB, "Tierkei");
        b.insert("geo/TR", &Lang::DE, "Türkei");
        b.insert("ok", &Lang::EN, "PDF");
        b.insert("ok", &Lang::LB, "PDF-Fichier");
        b.insert("ok", &Lang::DE, "PDF");
        let (g, r) = b.build(&CatalogueCleaning::default());
        assert_eq!(g[0].get(&Lang::EN), None);
        assert_eq!(g[0].get(&Lang::DE), Some("Türkei"));
        assert_eq!(g[1].get(&Lang::EN), Some("PDF"));
        assert_eq!(r.count(DropReason::CodeLike), 1);
    }

    #[test]
    fn min_langs_is_respected() {
        let mut b = builder();
        b.insert("a", &Lang::EN, "Open");
        b.insert("a", &Lang::LB, "Opmaachen");
        b.insert("b", &Lang::EN, "Close");
        b.insert("b", &Lang::LB, "Zoumaachen");
        b.insert("b", &Lang::DE, "Schließen");
        let c = CatalogueCleaning {
            min_langs: 3,
            ..Default::default()
        };
        let (g, _) = b.build(&c);
        assert_eq!(g.iter().map(|g| g.id.as_str()).collect::<Vec<_>>(), ["b"]);
    }

    #[test]
    fn duplicates_merge_into_the_first_group() {
        let mut b = builder();
        b.insert("x/1", &Lang::EN, "_Save");
        b.insert("x/1", &Lang::LB, "_Späicheren");
        b.insert("y/2", &Lang::EN, "&Save");
        b.insert("y/2", &Lang::LB, "&Späicheren");
        b.insert("y/2", &Lang::FR, "Enregistrer");
        let (g, r) = b.build(&CatalogueCleaning::default());
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].id, "x/1");
        assert_eq!(g[0].get(&Lang::FR), Some("Enregistrer"));
        assert_eq!(r.count(DropReason::Duplicate), 1);

        let mut b = builder();
        b.insert("x/1", &Lang::EN, "Save");
        b.insert("x/1", &Lang::LB, "Späicheren");
        b.insert("y/2", &Lang::EN, "Save");
        b.insert("y/2", &Lang::LB, "Späicheren");
        let c = CatalogueCleaning {
            dedupe: false,
            ..Default::default()
        };
        assert_eq!(b.build(&c).0.len(), 2);
    }

    #[test]
    fn provenance_origin_and_license_per_group() {
        let mut b = builder();
        assert!(b.insert("a", &Lang::EN, "Open"));
        assert!(!b.insert("a", &Lang::EN, "Other"));
        b.insert("a", &Lang::LB, "Opmaachen");
        b.set_origin("a", "lb/a.mo");
        b.set_origin("a", "later.mo");
        b.set_license("a", "GPL-2.0-or-later");
        b.insert("b", &Lang::EN, "Close");
        b.insert("b", &Lang::LB, "Zoumaachen");
        assert!(b.has("a", &Lang::LB) && !b.has("a", &Lang::FR));
        let (g, r) = b.build(&CatalogueCleaning::default());
        assert_eq!(g[0].get(&Lang::EN), Some("Open"));
        assert_eq!(g[0].provenance.origin.as_deref(), Some("lb/a.mo"));
        assert_eq!(g[0].provenance.license, "GPL-2.0-or-later");
        assert_eq!(g[1].provenance.license, "MIT");
        assert_eq!(g[1].provenance.origin, None);
        assert!(r.to_string().contains("2 groups"));
    }
}
