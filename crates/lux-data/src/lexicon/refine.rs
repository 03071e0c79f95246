//! Initial dictionaries (seed lexicon, identical strings) and MUSE's iterative refinement:
//! map, build a dictionary of mutual CSLS nearest neighbours among the most frequent words,
//! solve Procrustes again, repeat.

use lux_core::{Error, Result};
use serde::{Deserialize, Serialize};

use super::csls::{Neighbourhoods, Retrieval, neighbourhoods, retrieve};
use super::{Lexicon, Mapping, WordVectors};

/// Where the first dictionary comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Init {
    /// Pairs of a seed lexicon found in both vocabularies.
    Seed,
    /// Words spelt the same in both vocabularies (MUSE's `identical_char`).
    IdenticalStrings,
    /// Both, deduplicated.
    Both,
}

/// Settings of [`refine`], with MUSE's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefineConfig {
    /// Rounds of (build dictionary, Procrustes) after the first Procrustes (MUSE's
    /// `n_refinement` counts the first solve too: its 5 is 4 here).
    #[serde(default = "default_iterations")]
    pub iterations: usize,
    /// Only the `max_rank` most frequent words of each side enter a built dictionary.
    #[serde(default = "default_max_rank")]
    pub max_rank: usize,
    /// CSLS neighbourhood size.
    #[serde(default = "default_knn")]
    pub knn: usize,
}

fn default_iterations() -> usize {
    4
}
fn default_max_rank() -> usize {
    15_000
}
fn default_knn() -> usize {
    10
}

impl Default for RefineConfig {
    fn default() -> RefineConfig {
        RefineConfig {
            iterations: default_iterations(),
            max_rank: default_max_rank(),
            knn: default_knn(),
        }
    }
}

/// Row pairs `(source row, target row)`.
pub type RowPairs = Vec<(usize, usize)>;

/// Row pairs `(source, target)` for a seed lexicon, and the pairs it has that either
/// vocabulary lacks.
pub fn seed_pairs(
    src: &WordVectors,
    tgt: &WordVectors,
    lexicon: &Lexicon,
) -> (RowPairs, Vec<(String, String)>) {
    let mut pairs = Vec::new();
    let mut oov = Vec::new();
    for p in &lexicon.pairs {
        match (src.id(&p.source), tgt.id(&p.target)) {
            (Some(s), Some(t)) => pairs.push((s, t)),
            _ => oov.push((p.source.clone(), p.target.clone())),
        }
    }
    (pairs, oov)
}

/// Row pairs of words spelt identically on both sides, in source order.
pub fn identical_pairs(src: &WordVectors, tgt: &WordVectors) -> Vec<(usize, usize)> {
    src.words
        .iter()
        .enumerate()
        .filter_map(|(i, w)| tgt.id(w).map(|j| (i, j)))
        .collect()
}

/// The first dictionary for `init`.
pub fn initial_pairs(
    src: &WordVectors,
    tgt: &WordVectors,
    init: Init,
    seed: Option<&Lexicon>,
) -> Result<Vec<(usize, usize)>> {
    let mut pairs = Vec::new();
    if matches!(init, Init::Seed | Init::Both) {
        let seed = seed
            .ok_or_else(|| Error::invalid("init", "a seed initialisation needs a seed lexicon"))?;
        pairs = seed_pairs(src, tgt, seed).0;
    }
    if matches!(init, Init::IdenticalStrings | Init::Both) {
        pairs.extend(identical_pairs(src, tgt));
    }
    let mut seen = std::collections::HashSet::new();
    pairs.retain(|p| seen.insert(*p));
    if pairs.is_empty() {
        return Err(Error::invalid(
            "init",
            "the initial dictionary has no pair in both vocabularies",
        ));
    }
    Ok(pairs)
}

/// Mutual nearest neighbours by CSLS among the `max_rank` most frequent words of each side
/// (MUSE's `S2T&T2S` with `csls_knn_<knn>` and `dico_max_rank`): a source word `s` and target
/// word `t` are paired when `t` is `s`'s best target, `s` is `t`'s best source, and both rank
/// below `max_rank`. Neighbourhood means are computed over the whole vocabularies. Pairs are
/// returned in source order.
pub fn mutual_csls_pairs(
    mapped_src: &[f32],
    tgt: &[f32],
    dim: usize,
    max_rank: usize,
    knn: usize,
) -> Vec<(usize, usize)> {
    let (ns, nt) = (mapped_src.len() / dim, tgt.len() / dim);
    let nb = neighbourhoods(mapped_src, tgt, dim, knn);
    let method = Retrieval::Csls { knn };
    let sq: Vec<usize> = (0..ns.min(max_rank)).collect();
    let s2t = retrieve(mapped_src, tgt, dim, &sq, 1, method, Some(&nb));
    let swapped = Neighbourhoods {
        r_src: nb.r_tgt.clone(),
        r_tgt: nb.r_src.clone(),
    };
    let tq: Vec<usize> = (0..nt.min(max_rank)).collect();
    let t2s = retrieve(tgt, mapped_src, dim, &tq, 1, method, Some(&swapped));
    sq.iter()
        .enumerate()
        .filter_map(|(qi, &s)| {
            let t = s2t.targets(qi)[0] as usize;
            (t < tq.len() && t2s.targets(t)[0] as usize == s).then_some((s, t))
        })
        .collect()
}

/// One refinement round's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefineStep {
    /// Pairs the Procrustes solve of this round used.
    pub pairs: usize,
}

/// A refined mapping and the dictionary it was last solved on.
#[derive(Debug, Clone)]
pub struct Refinement {
    /// The final mapping.
    pub mapping: Mapping,
    /// The last dictionary built (the initial one when `iterations` is 0).
    pub dictionary: Vec<(usize, usize)>,
    /// Dictionary sizes, round by round (the initial solve first).
    pub steps: Vec<RefineStep>,
}

/// Procrustes on `init`, then `config.iterations` rounds of: map the source, build the mutual
/// CSLS dictionary, solve Procrustes on it. Both sides should be normalised (MUSE: at least
/// `renorm`) and of the same dimension.
pub fn refine(
    src: &WordVectors,
    tgt: &WordVectors,
    init: &[(usize, usize)],
    config: &RefineConfig,
) -> Result<Refinement> {
    if config.knn == 0 {
        return Err(Error::invalid("refine.knn", "must be > 0"));
    }
    let mut mapping = Mapping::procrustes(src, tgt, init)?;
    let mut dictionary = init.to_vec();
    let mut steps = vec![RefineStep { pairs: init.len() }];
    for round in 0..config.iterations {
        let mapped = mapping.apply_rows(&src.matrix);
        let pairs = mutual_csls_pairs(&mapped, &tgt.matrix, src.dim, config.max_rank, config.knn);
        tracing::info!(round, pairs = pairs.len(), "refinement dictionary");
        if pairs.is_empty() {
            return Err(Error::Numeric(format!(
                "refinement round {round}: no mutual nearest neighbours; the mapping is too poor"
            )));
        }
        mapping = Mapping::procrustes(src, tgt, &pairs)?;
        steps.push(RefineStep { pairs: pairs.len() });
        dictionary = pairs;
    }
    Ok(Refinement {
        mapping,
        dictionary,
        steps,
    })
}
