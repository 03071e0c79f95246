//! Bilingual lexicons: word pairs with provenance, and MUSE's dictionary format.

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use lux_core::rng::SplitMix64;
use lux_core::{Error, IoContext, Result};

/// A source word, one of its translations, and where the pair came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexiconPair {
    /// The source-language word.
    pub source: String,
    /// The target-language word.
    pub target: String,
    /// Every origin that gave this pair (`dictionary:cldr`, `catalogue:gettext`,
    /// `induced:csls`, `muse:en-fr.txt`…): merging keeps them all.
    pub origins: BTreeSet<String>,
}

/// A bilingual lexicon: pairs in insertion order, without duplicates.
///
/// A source word may have several translations (MUSE's gold dictionaries list them on
/// separate lines); evaluation counts a source word as correct when any of them is retrieved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lexicon {
    /// The pairs.
    pub pairs: Vec<LexiconPair>,
    seen: HashMap<(String, String), usize>,
}

impl Lexicon {
    /// An empty lexicon.
    pub fn new() -> Lexicon {
        Lexicon::default()
    }

    /// Adds a pair from `origin`; an existing pair only gains the origin. Returns whether the
    /// pair was new.
    pub fn push(
        &mut self,
        source: impl Into<String>,
        target: impl Into<String>,
        origin: &str,
    ) -> bool {
        let key = (source.into(), target.into());
        if let Some(&i) = self.seen.get(&key) {
            self.pairs[i].origins.insert(origin.to_string());
            return false;
        }
        self.seen.insert(key.clone(), self.pairs.len());
        self.pairs.push(LexiconPair {
            source: key.0,
            target: key.1,
            origins: BTreeSet::from([origin.to_string()]),
        });
        true
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Whether the pair is present.
    pub fn contains(&self, source: &str, target: &str) -> bool {
        self.seen
            .contains_key(&(source.to_string(), target.to_string()))
    }

    /// Translations per source word, in first-seen order of the source words.
    pub fn by_source(&self) -> Vec<(&str, Vec<&str>)> {
        let mut order: Vec<(&str, Vec<&str>)> = Vec::new();
        let mut at: HashMap<&str, usize> = HashMap::new();
        for p in &self.pairs {
            let i = *at.entry(&p.source).or_insert_with(|| {
                order.push((&p.source, Vec::new()));
                order.len() - 1
            });
            order[i].1.push(&p.target);
        }
        order
    }

    /// Merges lexicons: the union of their pairs, first-seen order, origins united.
    pub fn merge<'a>(lexicons: impl IntoIterator<Item = &'a Lexicon>) -> Lexicon {
        let mut out = Lexicon::new();
        for l in lexicons {
            for p in &l.pairs {
                for o in &p.origins {
                    out.push(p.source.clone(), p.target.clone(), o);
                }
            }
        }
        out
    }

    /// The lexicon with source and target swapped.
    pub fn inverted(&self) -> Lexicon {
        let mut out = Lexicon::new();
        for p in &self.pairs {
            for o in &p.origins {
                out.push(p.target.clone(), p.source.clone(), o);
            }
        }
        out
    }

    /// Splits by source word (all translations of a word go to the same side): a seeded
    /// shuffle of the source words, the first `fraction` of them into the first lexicon.
    pub fn split(&self, fraction: f64, seed: u64) -> (Lexicon, Lexicon) {
        let mut words: Vec<&str> = self.by_source().into_iter().map(|(w, _)| w).collect();
        SplitMix64::new(seed).shuffle(&mut words);
        let cut = ((words.len() as f64) * fraction.clamp(0.0, 1.0)).round() as usize;
        let first: std::collections::HashSet<&str> = words[..cut].iter().copied().collect();
        let (mut a, mut b) = (Lexicon::new(), Lexicon::new());
        for p in &self.pairs {
            let side = if first.contains(p.source.as_str()) {
                &mut a
            } else {
                &mut b
            };
            for o in &p.origins {
                side.push(p.source.clone(), p.target.clone(), o);
            }
        }
        (a, b)
    }

    /// Reads MUSE's dictionary format: `source target` per line, separated by whitespace
    /// (MUSE's files use a space or a tab). Blank lines are skipped; any other line without
    /// exactly two fields is an error naming the file and line. Pairs get the origin `origin`.
    pub fn read_muse(path: impl AsRef<Path>, origin: &str) -> Result<Lexicon> {
        let path = path.as_ref();
        let file = File::open(path).with_path(path)?;
        let mut out = Lexicon::new();
        for (i, line) in BufReader::new(file).lines().enumerate() {
            let line = line.with_path(path)?;
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields.as_slice() {
                [] => continue,
                [s, t] => {
                    out.push(*s, *t, origin);
                }
                _ => {
                    return Err(Error::at_line(
                        path,
                        i + 1,
                        format!(
                            "expected `source target`, found {} fields in `{line}`",
                            fields.len()
                        ),
                    ));
                }
            }
        }
        Ok(out)
    }

    /// Writes MUSE's format (`source target`, one pair per line, space-separated). A word
    /// containing whitespace cannot be written and is an error naming the pair.
    pub fn write_muse(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let mut w = BufWriter::new(File::create(path).with_path(path)?);
        for (i, p) in self.pairs.iter().enumerate() {
            if [&p.source, &p.target]
                .iter()
                .any(|s| s.is_empty() || s.contains(char::is_whitespace))
            {
                return Err(Error::invalid(
                    format!("pairs[{i}]"),
                    format!(
                        "`{}` → `{}` is not a pair of single words",
                        p.source, p.target
                    ),
                ));
            }
            writeln!(w, "{} {}", p.source, p.target).with_path(path)?;
        }
        w.flush().with_path(path)
    }

    /// Writes `source<TAB>target<TAB>origin,origin…` per line: the pairs with their
    /// provenance, for inspection and merging audits ([`Lexicon::read_muse`] reads MUSE's two
    /// fields only and rejects this third one).
    pub fn write_tsv(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let mut w = BufWriter::new(File::create(path).with_path(path)?);
        for p in &self.pairs {
            let origins: Vec<&str> = p.origins.iter().map(String::as_str).collect();
            writeln!(w, "{}\t{}\t{}", p.source, p.target, origins.join(",")).with_path(path)?;
        }
        w.flush().with_path(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn muse_round_trip_merge_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("en-fr.txt");
        std::fs::write(&p, "house maison\nhouse\tdemeure\n\ndog chien\n").unwrap();
        let l = Lexicon::read_muse(&p, "muse").unwrap();
        assert_eq!(l.len(), 3);
        assert_eq!(l.by_source()[0], ("house", vec!["maison", "demeure"]));
        let q = dir.path().join("out.txt");
        l.write_muse(&q).unwrap();
        assert_eq!(Lexicon::read_muse(&q, "muse").unwrap(), l);

        let mut other = Lexicon::new();
        other.push("dog", "chien", "dictionary");
        other.push("cat", "chat", "dictionary");
        let m = Lexicon::merge([&l, &other]);
        assert_eq!(m.len(), 4);
        let dog = m.pairs.iter().find(|p| p.source == "dog").unwrap();
        assert_eq!(dog.origins.len(), 2);

        std::fs::write(&p, "house maison\nice cream glace\n").unwrap();
        let e = Lexicon::read_muse(&p, "muse").unwrap_err().to_string();
        assert!(e.contains("en-fr.txt:line 2"), "{e}");
        let mut bad = Lexicon::new();
        bad.push("ice cream", "glace", "x");
        assert!(bad.write_muse(&q).is_err());
    }

    #[test]
    fn split_keeps_words_together() {
        let mut l = Lexicon::new();
        for i in 0..100 {
            l.push(format!("w{i}"), format!("a{i}"), "x");
            l.push(format!("w{i}"), format!("b{i}"), "x");
        }
        let (a, b) = l.split(0.3, 7);
        assert_eq!(a.len(), 60);
        assert_eq!(b.len(), 140);
        let sa: std::collections::HashSet<_> = a.pairs.iter().map(|p| &p.source).collect();
        assert!(b.pairs.iter().all(|p| !sa.contains(&p.source)));
    }
}
