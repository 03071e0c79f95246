//! Lexicons from lux's own seed data: dictionary entries (`data/dictionary.jsonl`), aligned
//! single-word catalogue entries (`data/parallel.jsonl`) and induced pairs; merge them with
//! [`Lexicon::merge`], which keeps every pair once with all its origins.

use lux_core::{Lang, LexEntry, Parallel};

use super::{Lexicon, WordVectors};

/// The text as one word, if it is one: a single [`crate::text::words`] item equal to the
/// whole trimmed text (so `avr.` or `Open…` are not words), optionally lower-cased.
pub fn single_word(text: &str, lowercase: bool) -> Option<String> {
    let t = text.trim();
    let mut words = crate::text::words(t);
    let w = words.next()?;
    if words.next().is_some() || w != t {
        return None;
    }
    Some(if lowercase {
        w.to_lowercase()
    } else {
        w.to_string()
    })
}

/// `from → to` pairs from dictionary entries. An entry in `from` gives (headword, each `to`
/// translation); an entry in `to` gives (each `from` translation, headword); an entry in a
/// third language pivots: each `from` translation × each `to` translation (origin marked
/// `pivot`). Only single words are kept. Origins: `dictionary:<source>`.
pub fn from_dictionary(entries: &[LexEntry], from: &Lang, to: &Lang, lowercase: bool) -> Lexicon {
    let mut out = Lexicon::new();
    let word = |s: &str| single_word(s, lowercase);
    let empty = Vec::new();
    for e in entries {
        let origin = format!("dictionary:{}", e.provenance.source);
        let f: Vec<String> = if &e.lang == from {
            word(&e.headword).into_iter().collect()
        } else {
            e.translations
                .get(from)
                .unwrap_or(&empty)
                .iter()
                .filter_map(|s| word(s))
                .collect()
        };
        let t: Vec<String> = if &e.lang == to {
            word(&e.headword).into_iter().collect()
        } else {
            e.translations
                .get(to)
                .unwrap_or(&empty)
                .iter()
                .filter_map(|s| word(s))
                .collect()
        };
        let origin = if &e.lang != from && &e.lang != to {
            format!("{origin}:pivot")
        } else {
            origin
        };
        for a in &f {
            for b in &t {
                out.push(a.clone(), b.clone(), &origin);
            }
        }
    }
    out
}

/// `from → to` pairs from aligned catalogue groups whose texts in both languages are single
/// words (`"File"` → `"Fichier"`). Origins: `catalogue:<source>`.
pub fn from_parallel(groups: &[Parallel], from: &Lang, to: &Lang, lowercase: bool) -> Lexicon {
    let mut out = Lexicon::new();
    for g in groups {
        let (Some(a), Some(b)) = (g.get(from), g.get(to)) else {
            continue;
        };
        if let (Some(a), Some(b)) = (single_word(a, lowercase), single_word(b, lowercase)) {
            out.push(a, b, &format!("catalogue:{}", g.provenance.source));
        }
    }
    out
}

/// Pairs `(source row, target row)` (an induced dictionary) as a lexicon with `origin`
/// (e.g. `induced:csls`).
pub fn from_pairs(
    src: &WordVectors,
    tgt: &WordVectors,
    pairs: &[(usize, usize)],
    origin: &str,
) -> Lexicon {
    let mut out = Lexicon::new();
    for &(s, t) in pairs {
        out.push(src.words[s].clone(), tgt.words[t].clone(), origin);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use lux_core::Provenance;
    use std::collections::BTreeMap;

    #[test]
    fn dictionary_catalogue_and_merge() {
        let e = LexEntry {
            id: "Haus".into(),
            headword: "Haus".into(),
            lang: Lang::LB,
            pos: None,
            translations: BTreeMap::from([
                (Lang::EN, vec!["house".into(), "home".into()]),
                (Lang::FR, vec!["maison".into(), "chez soi".into()]),
            ]),
            examples: vec![],
            synonyms: vec![],
            provenance: Provenance::new("cldr", "x"),
        };
        let en_lb = from_dictionary(std::slice::from_ref(&e), &Lang::EN, &Lang::LB, false);
        assert_eq!(en_lb.len(), 2);
        assert!(en_lb.contains("home", "Haus"));
        let en_fr = from_dictionary(&[e], &Lang::EN, &Lang::FR, false);
        assert_eq!(en_fr.len(), 2);
        assert!(en_fr.pairs[0].origins.contains("dictionary:cldr:pivot"));

        let g = Parallel {
            id: "a".into(),
            texts: BTreeMap::from([
                (Lang::EN, "House".into()),
                (Lang::LB, "Haus".into()),
                (Lang::FR, "Ouvrir…".into()),
            ]),
            provenance: Provenance::new("gettext", "x"),
        };
        let cat = from_parallel(std::slice::from_ref(&g), &Lang::EN, &Lang::LB, true);
        assert!(cat.contains("house", "haus"));
        assert!(from_parallel(&[g], &Lang::EN, &Lang::FR, true).is_empty());
        let en_lb_lower = from_dictionary(&[], &Lang::EN, &Lang::LB, true);
        let m = Lexicon::merge([&en_lb, &cat, &en_lb_lower]);
        assert_eq!(m.len(), 3);
        assert_eq!(single_word("avr.", false), None);
        assert_eq!(
            single_word(" d'Lëtzebuerger ", false).as_deref(),
            Some("d'Lëtzebuerger")
        );
    }
}
