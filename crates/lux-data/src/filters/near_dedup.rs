use std::collections::HashMap;

use lux_core::{Error, Example, Filter, FilterContext, Result, Verdict, rng};
use serde::{Deserialize, Serialize};

use super::exact_dedup::DedupScope;
use crate::text::dedup_key;

/// What a shingle is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShingleKind {
    /// `k` consecutive words.
    #[default]
    Words,
    /// `k` consecutive characters (spaces between words included).
    Chars,
}

/// Drops an example whose text is a near duplicate of an earlier kept one: their sets of
/// shingles (`k` consecutive words or characters of the [`dedup_key`]) have a Jaccard
/// similarity of at least `threshold`.
///
/// Candidates are found with MinHash and LSH banding: `num_perm` hash functions (derived from
/// `seed` with [`lux_core::rng`]) give each text a signature, split into `bands` bands of
/// `num_perm / bands` rows; texts sharing a whole band are candidates. With the defaults
/// (128 permutations, 32 bands of 4 rows), a pair with Jaccard 0.8 becomes a candidate with
/// probability above 0.999 and one with Jaccard 0.3 with probability 0.23. Every candidate is
/// then verified by the exact Jaccard similarity of the shingle sets, so the filter never
/// drops a pair below the threshold; it can (rarely) miss one above it.
///
/// Deterministic: verdicts depend only on the stream and the settings (candidates are
/// checked in stream order and the earliest match is reported). Texts with fewer than
/// `min_words` words are passed through and not remembered (short answers legitimately
/// repeat; `exact_dedup` handles exact repeats). Kept texts' shingle sets are kept in memory
/// (8 bytes per shingle). `prepare` forgets everything seen.
///
/// ```toml
/// [[filters]]
/// type = "near_dedup"
/// threshold = 0.8
/// shingles = "words"   # or "chars"
/// k = 3
/// ```
///
/// Drop reason: `near duplicate: Jaccard 0.86 >= 0.80 with 3f2a…`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NearDedup {
    /// Compare `output`s (the default) or whole `example`s.
    #[serde(default = "default_scope")]
    pub scope: DedupScope,
    /// Shingles of `words` or `chars`.
    #[serde(default)]
    pub shingles: ShingleKind,
    /// Shingle size; by default 3 for words and 5 for characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<usize>,
    /// Number of MinHash functions (signature length).
    #[serde(default = "default_num_perm")]
    pub num_perm: usize,
    /// Number of LSH bands; must divide `num_perm`.
    #[serde(default = "default_bands")]
    pub bands: usize,
    /// Jaccard similarity at or above which an example is dropped.
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    /// Texts with fewer words are not compared.
    #[serde(default = "default_min_words")]
    pub min_words: usize,
    /// Seed of the MinHash functions.
    #[serde(default)]
    pub seed: u64,
    /// What has been kept so far.
    #[serde(skip)]
    state: Option<State>,
}

fn default_scope() -> DedupScope {
    DedupScope::Output
}
fn default_num_perm() -> usize {
    128
}
fn default_bands() -> usize {
    32
}
fn default_threshold() -> f64 {
    0.8
}
fn default_min_words() -> usize {
    5
}

impl Default for NearDedup {
    fn default() -> Self {
        NearDedup {
            scope: default_scope(),
            shingles: ShingleKind::Words,
            k: None,
            num_perm: default_num_perm(),
            bands: default_bands(),
            threshold: default_threshold(),
            min_words: default_min_words(),
            seed: 0,
            state: None,
        }
    }
}

/// The filter's memory of kept texts.
#[derive(Debug, Clone)]
struct State {
    /// One salt per MinHash function.
    salts: Vec<u64>,
    /// Kept examples: id and sorted shingle hashes.
    kept: Vec<(String, Vec<u64>)>,
    /// Per band: band hash → indices into `kept`.
    buckets: Vec<HashMap<u64, Vec<u32>>>,
}

impl State {
    fn new(f: &NearDedup) -> State {
        State {
            salts: (0..f.num_perm)
                .map(|i| rng::hash(f.seed, &format!("minhash/{i}")))
                .collect(),
            kept: Vec::new(),
            buckets: vec![HashMap::new(); f.bands],
        }
    }
}

/// Exact Jaccard similarity of two sorted, deduplicated sets.
fn jaccard(a: &[u64], b: &[u64]) -> f64 {
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    let union = a.len() + b.len() - common;
    if union == 0 {
        1.0
    } else {
        common as f64 / union as f64
    }
}

impl NearDedup {
    fn validate(&self) -> Result<()> {
        if self.num_perm == 0 || self.bands == 0 || !self.num_perm.is_multiple_of(self.bands) {
            return Err(Error::invalid(
                "near_dedup.bands",
                format!(
                    "bands ({}) must be at least 1 and divide num_perm ({})",
                    self.bands, self.num_perm
                ),
            ));
        }
        if !(self.threshold > 0.0 && self.threshold <= 1.0) {
            return Err(Error::invalid(
                "near_dedup.threshold",
                format!("must be in (0, 1], got {}", self.threshold),
            ));
        }
        if self.k == Some(0) {
            return Err(Error::invalid("near_dedup.k", "must be at least 1"));
        }
        Ok(())
    }

    fn text<'a>(&self, example: &'a Example) -> std::borrow::Cow<'a, str> {
        match self.scope {
            DedupScope::Output => example.output.as_str().into(),
            DedupScope::Example => {
                let input = example.input.as_deref().unwrap_or("");
                format!("{}\n{input}\n{}", example.instruction, example.output).into()
            }
        }
    }

    /// Sorted, deduplicated shingle hashes of `key` (a [`dedup_key`]), or `None` when the
    /// text is too short to compare.
    fn shingle_set(&self, key: &str) -> Option<Vec<u64>> {
        let words = if key.is_empty() {
            0
        } else {
            key.split(' ').count()
        };
        if words == 0 || words < self.min_words {
            return None;
        }
        let tokens: Vec<u64> = match self.shingles {
            ShingleKind::Words => key.split(' ').map(|w| rng::hash(0, w)).collect(),
            ShingleKind::Chars => key.chars().map(|c| rng::splitmix(u64::from(c))).collect(),
        };
        let k = self.k.unwrap_or(match self.shingles {
            ShingleKind::Words => 3,
            ShingleKind::Chars => 5,
        });
        let mut set: Vec<u64> = tokens
            .windows(k.min(tokens.len()))
            .map(|w| {
                w.iter()
                    .fold(0x6e65_6172u64, |h, &t| rng::splitmix(h.rotate_left(17) ^ t))
            })
            .collect();
        set.sort_unstable();
        set.dedup();
        Some(set)
    }
}

#[typetag::serde(name = "near_dedup")]
impl Filter for NearDedup {
    fn prepare(&mut self, _ctx: &FilterContext) -> Result<()> {
        self.validate()?;
        self.state = Some(State::new(self));
        Ok(())
    }

    fn check(&mut self, example: &Example) -> Result<Verdict> {
        if self.state.is_none() {
            self.validate()?;
            self.state = Some(State::new(self));
        }
        let key = dedup_key(&self.text(example));
        let Some(set) = self.shingle_set(&key) else {
            return Ok(Verdict::Keep);
        };
        let threshold = self.threshold;
        let rows = self.num_perm / self.bands;
        let state = self.state.as_mut().expect("initialised above");
        let signature: Vec<u64> = state
            .salts
            .iter()
            .map(|&salt| {
                set.iter()
                    .map(|&s| rng::splitmix(s ^ salt))
                    .min()
                    .unwrap_or(u64::MAX)
            })
            .collect();
        let band_keys: Vec<u64> = signature
            .chunks(rows)
            .map(|band| {
                band.iter()
                    .fold(0x006c_7368_u64, |h, &v| rng::splitmix(h ^ v))
            })
            .collect();
        let mut candidates: Vec<u32> = band_keys
            .iter()
            .zip(&state.buckets)
            .filter_map(|(k, bucket)| bucket.get(k))
            .flatten()
            .copied()
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        for c in candidates {
            let (id, other) = &state.kept[c as usize];
            let j = jaccard(&set, other);
            if j >= threshold {
                return Ok(Verdict::drop(format!(
                    "near duplicate: Jaccard {j:.2} >= {threshold:.2} with {id}"
                )));
            }
        }
        let index = state.kept.len() as u32;
        state.kept.push((example.id.clone(), set));
        for (k, bucket) in band_keys.into_iter().zip(&mut state.buckets) {
            bucket.entry(k).or_default().push(index);
        }
        Ok(Verdict::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filters::testing::*;
    use crate::langid::test_corpus::CORPUS;

    const BASE: &str = "D'Regierung huet en neit Gesetz iwwer de Wunnengsbau virgestallt, dat vill \
        Famillen am ganze Land hëllefe soll, eng bezuelbar Wunneng ze fannen. D'Gemenge kréien \
        domat méi Geld, fir nei Appartementer ze bauen, an d'Proprietäre mussen eidel Haiser méi \
        séier verlounen.";

    fn corpus_examples() -> Vec<Example> {
        let mut v: Vec<Example> = CORPUS.iter().map(|(en, lb, _, _)| ex(en, lb)).collect();
        // Near duplicates of the first three, and an exact one.
        // 40 words (38 word trigrams); x has 41 trigrams.
        let x = format!("{BASE} Dat ass gutt.");
        v.push(ex("x", &x));
        v.push(ex("y", BASE)); // 38 of 41 shared: 0.93
        v.push(ex("z", &x.replace("Famillen", "Leit"))); // 38 of 44: 0.86
        v.push(ex("w", &x.to_uppercase())); // 1.0
        v
    }

    #[test]
    fn drops_near_duplicates_and_keeps_the_rest() {
        let mut f = NearDedup::default();
        let examples = corpus_examples();
        let r = run(&mut f, &examples);
        let n = CORPUS.len();
        assert!(r[..n].iter().all(Option::is_none), "{:?}", &r[..n]);
        assert_eq!(r[n], None, "the first of its family");
        let first = &examples[n].id;
        for reason in &r[n + 1..] {
            let reason = reason.as_deref().expect("dropped");
            assert!(reason.starts_with("near duplicate: Jaccard "), "{reason}");
            assert!(reason.ends_with(&format!("with {first}")), "{reason}");
        }
        assert!(
            r[n + 3].as_deref().unwrap().contains("Jaccard 1.00"),
            "case does not count"
        );
    }

    #[test]
    fn verification_is_exact() {
        // Sharing half the words is not a near duplicate at threshold 0.8, even when LSH
        // with 128 one-row bands makes the pair a candidate (all but surely).
        let a = "een zwee dräi véier fënnef sechs siwen aacht néng zéng";
        let b = "een zwee dräi véier fënnef elef zwielef dräizéng véierzéng fofzéng";
        let mut f = NearDedup {
            bands: 128,
            ..Default::default()
        };
        assert_eq!(run(&mut f, &[ex("a", a), ex("b", b)]), [None, None]);
        // … but is at 0.2: 3 shared word trigrams of 13 give 0.23.
        let mut g = NearDedup {
            threshold: 0.2,
            bands: 128,
            ..Default::default()
        };
        let r = run(&mut g, &[ex("a", a), ex("b", b)]);
        assert!(
            r[1].as_deref()
                .unwrap()
                .starts_with("near duplicate: Jaccard 0.23"),
            "{r:?}"
        );
        assert!((jaccard(&[1, 2, 3], &[2, 3, 4]) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn deterministic_across_runs_and_instances() {
        let examples = corpus_examples();
        let mut f = NearDedup::default();
        let first = run(&mut f, &examples);
        let again = run(&mut f, &examples);
        let fresh = run(&mut NearDedup::default(), &examples);
        assert_eq!(first, again);
        assert_eq!(first, fresh);
        // Another seed draws other hash functions but finds the same obvious duplicates.
        let other = run(
            &mut NearDedup {
                seed: 99,
                ..Default::default()
            },
            &examples,
        );
        assert_eq!(first, other);
    }

    #[test]
    fn prepare_resets_the_state() {
        let mut f = NearDedup::default();
        let e = ex("x", BASE);
        assert_eq!(run(&mut f, std::slice::from_ref(&e)), [None]);
        assert!(f.check(&e).unwrap() != Verdict::Keep);
        f.prepare(&ctx()).unwrap();
        assert!(f.check(&e).unwrap().is_keep(), "forgotten after prepare");
    }

    #[test]
    fn short_texts_chars_and_example_scope() {
        let mut f = NearDedup::default();
        assert_eq!(
            run(&mut f, &[ex("a", "Moien Welt"), ex("b", "Moien Welt")]),
            [None, None]
        );
        let mut g = NearDedup {
            shingles: ShingleKind::Chars,
            ..Default::default()
        };
        let r = run(
            &mut g,
            &[ex("a", BASE), ex("b", &BASE.replace("Gesetz", "Gesez"))],
        );
        assert!(
            r[1].is_some(),
            "one typo is a near duplicate in char shingles"
        );
        let mut h = NearDedup {
            scope: DedupScope::Example,
            ..Default::default()
        };
        let r = run(
            &mut h,
            &[
                ex(
                    "Schreif en Text iwwer d'Wunnengspolitik vun der Regierung.",
                    BASE,
                ),
                ex(
                    "Schreif en Text iwwer d'Wunnengspolitik vun der Regierung.",
                    BASE,
                ),
                ex(CORPUS[0].0, BASE),
            ],
        );
        assert_eq!(r[0], None);
        assert!(r[1].is_some());
        assert_eq!(r[2], None, "another instruction makes another example");
    }

    #[test]
    fn bad_settings_are_errors() {
        for f in [
            NearDedup {
                bands: 30,
                ..Default::default()
            },
            NearDedup {
                threshold: 0.0,
                ..Default::default()
            },
            NearDedup {
                k: Some(0),
                ..Default::default()
            },
        ] {
            let mut f = f;
            assert!(f.prepare(&ctx()).is_err(), "{f:?}");
        }
        let err = NearDedup {
            bands: 30,
            ..Default::default()
        }
        .prepare(&ctx())
        .unwrap_err();
        assert!(err.to_string().contains("near_dedup.bands"), "{err}");
    }

    #[test]
    fn deserialises_through_the_trait() {
        let mut f = from_toml(
            "type = \"near_dedup\"\nthreshold = 0.7\nshingles = \"chars\"\nk = 4\nnum_perm = 64\nbands = 16",
        );
        assert_eq!(f.name(), "near_dedup");
        let r = run(f.as_mut(), &[ex("a", BASE), ex("b", BASE)]);
        assert!(r[1].is_some());
        assert!(toml::from_str::<Box<dyn Filter>>("type = \"near_dedup\"\nperms = 3").is_err());
    }
}
