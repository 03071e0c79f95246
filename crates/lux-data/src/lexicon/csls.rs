//! Retrieval of translations: nearest neighbours and CSLS (cross-domain similarity local
//! scaling, Conneau et al. 2018), with blocked matrix products and streaming top-k.
//!
//! CSLS scores a source word `x` (already mapped) against a target word `y` as
//! `2 cos(x, y) − r_T(x) − r_S(y)`, where `r_T(x)` is the mean cosine of `x` to its `k` nearest
//! target words and `r_S(y)` the mean cosine of `y` to its `k` nearest (mapped) source words.
//! It penalises "hubs", target words that are near everything.
//!
//! The similarity matrix is never stored whole: rows of the source are processed in blocks,
//! each block's similarities come from one gemm call, and a block is reduced at once into
//! per-row and per-column top-k lists (in parallel). One pass over the blocks gives both
//! neighbourhood means and, per source word, its best cosine candidates, from which the CSLS
//! top-k follows exactly for almost every word (the rest are scanned again; see
//! `csls_one_pass`) — where a straightforward numpy implementation needs three products and a
//! selection over each full row.
//!
//! Vectors are expected unit length (cosine = dot product), as MUSE normalises them.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::linalg::DeviceMatrix;

/// How translations are retrieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Retrieval {
    /// The target with the highest cosine.
    NearestNeighbour,
    /// CSLS with neighbourhoods of `knn` words (MUSE: 10).
    Csls {
        /// Neighbourhood size.
        knn: usize,
    },
}

impl Default for Retrieval {
    fn default() -> Retrieval {
        Retrieval::Csls { knn: 10 }
    }
}

/// The best `k` targets of each query, best first.
#[derive(Debug, Clone, PartialEq)]
pub struct Neighbours {
    /// Per query, how many slots (`k`).
    pub k: usize,
    /// Query row ids (into the source vectors), in the order given.
    pub queries: Vec<usize>,
    /// `queries.len() × k` target row ids.
    pub indices: Vec<u32>,
    /// `queries.len() × k` scores (cosine, or CSLS), descending per query.
    pub scores: Vec<f32>,
}

impl Neighbours {
    /// Target ids of the `q`-th query, best first.
    pub fn targets(&self, q: usize) -> &[u32] {
        &self.indices[q * self.k..(q + 1) * self.k]
    }

    /// Scores of the `q`-th query, best first.
    pub fn scores_of(&self, q: usize) -> &[f32] {
        &self.scores[q * self.k..(q + 1) * self.k]
    }
}

/// Neighbourhood means for CSLS, computed in one pass over `src × tgt`: `r_src[i]` is the
/// mean cosine of source row `i` to its `knn` nearest target rows (MUSE's `r_T`), `r_tgt[j]`
/// the mean cosine of target row `j` to its `knn` nearest source rows (`r_S`).
#[derive(Debug, Clone, PartialEq)]
pub struct Neighbourhoods {
    /// Per source row.
    pub r_src: Vec<f32>,
    /// Per target row.
    pub r_tgt: Vec<f32>,
}

/// Rows per block: large enough for gemm to run at full speed, small enough that a block of
/// similarities (`BLOCK × targets` floats) stays a few ten megabytes.
const BLOCK: usize = 512;

/// Computes both neighbourhood means (row-major unit vectors of dimension `dim`).
pub fn neighbourhoods(src: &[f32], tgt: &[f32], dim: usize, knn: usize) -> Neighbourhoods {
    let (ns, nt) = (src.len() / dim, tgt.len() / dim);
    let b = DeviceMatrix::new(tgt, nt, dim);
    let (rows, cols) = scan(src, ns, &b, dim, knn.min(nt), knn.min(ns), None);
    Neighbourhoods {
        r_src: rows.means(),
        r_tgt: cols.means(),
    }
}

/// The best `k` targets for the source rows `queries`, by `method`.
///
/// `src` holds all (mapped) source rows and `tgt` all target rows, row-major with `dim`
/// values each. For CSLS, `neighbourhoods` may pass means computed earlier for the same
/// vectors (refinement reuses them); otherwise they are computed here.
pub fn retrieve(
    src: &[f32],
    tgt: &[f32],
    dim: usize,
    queries: &[usize],
    k: usize,
    method: Retrieval,
    neighbourhoods_of: Option<&Neighbourhoods>,
) -> Neighbours {
    let nt = tgt.len() / dim;
    let k = k.min(nt);
    let b = DeviceMatrix::new(tgt, nt, dim);
    let gather = || {
        let mut a = Vec::with_capacity(queries.len() * dim);
        for &q in queries {
            a.extend_from_slice(&src[q * dim..(q + 1) * dim]);
        }
        a
    };
    if k == 0 {
        return TopK::new(queries.len(), 0).into_neighbours(queries.to_vec(), |_| 0.0);
    }
    match method {
        Retrieval::NearestNeighbour => {
            let (rows, _) = scan(&gather(), queries.len(), &b, dim, k, 0, None);
            rows.into_neighbours(queries.to_vec(), |_| 0.0)
        }
        Retrieval::Csls { knn } => match neighbourhoods_of {
            Some(nb) => {
                let (rows, _) = scan(&gather(), queries.len(), &b, dim, k, 0, Some(&nb.r_tgt));
                rows.into_neighbours(queries.to_vec(), |q| nb.r_src[queries[q]])
            }
            None => csls_one_pass(src, &b, dim, queries, k, knn),
        },
    }
}

/// Raw-cosine candidates kept per source row by [`csls_one_pass`].
const CANDIDATES: usize = 64;

/// CSLS without a second product pass, exactly.
///
/// The pass that computes the neighbourhood means also keeps each source row's best
/// `CANDIDATES` targets by cosine. A target outside that list has cosine ≤ `s_M` (the list's
/// last value), so its CSLS score is at most `2·s_M − min_j r_tgt[j]`; when the `k`-th best
/// CSLS score among the candidates is above that bound, the candidates' top-`k` is the exact
/// answer. The few rows where it is not are scanned again, alone.
fn csls_one_pass(
    src: &[f32],
    b: &DeviceMatrix,
    dim: usize,
    queries: &[usize],
    k: usize,
    knn: usize,
) -> Neighbours {
    let (ns, nt) = (src.len() / dim, b.rows);
    let knn_s = knn.min(nt);
    let m = CANDIDATES.max(k).max(knn_s).min(nt);
    let (rows, cols) = scan(src, ns, b, dim, m, knn.min(ns), None);
    let r_tgt = cols.means();
    let r_src: Vec<f32> = rows
        .vals
        .chunks_exact(m.max(1))
        .map(|v| v[..knn_s].iter().sum::<f32>() / knn_s.max(1) as f32)
        .collect();
    let r_min = r_tgt.iter().copied().fold(f32::INFINITY, f32::min);
    let mut out = TopK::new(queries.len(), k);
    let mut redo = Vec::new();
    for (qi, &q) in queries.iter().enumerate() {
        let vals = &rows.vals[q * m..(q + 1) * m];
        let idx = &rows.idx[q * m..(q + 1) * m];
        let (ov, oi) = (
            &mut out.vals[qi * k..(qi + 1) * k],
            &mut out.idx[qi * k..(qi + 1) * k],
        );
        for (&s, &j) in vals.iter().zip(idx) {
            let c = 2.0 * s - r_tgt[j as usize];
            if c > ov[k - 1] || (c == ov[k - 1] && j < oi[k - 1]) {
                insert_ordered(ov, oi, c, j);
            }
        }
        let bound = 2.0 * vals[m - 1] - r_min;
        if m < nt && ov[k - 1] <= bound {
            redo.push(qi);
        }
    }
    if !redo.is_empty() {
        let mut a = Vec::with_capacity(redo.len() * dim);
        for &qi in &redo {
            let q = queries[qi];
            a.extend_from_slice(&src[q * dim..(q + 1) * dim]);
        }
        let (again, _) = scan(&a, redo.len(), b, dim, k, 0, Some(&r_tgt));
        for (ri, &qi) in redo.iter().enumerate() {
            out.vals[qi * k..(qi + 1) * k].copy_from_slice(&again.vals[ri * k..(ri + 1) * k]);
            out.idx[qi * k..(qi + 1) * k].copy_from_slice(&again.idx[ri * k..(ri + 1) * k]);
        }
    }
    tracing::debug!(
        rescanned = redo.len(),
        queries = queries.len(),
        "CSLS one pass"
    );
    out.into_neighbours(queries.to_vec(), |qi| r_src[queries[qi]])
}

/// Like [`insert`], for candidates arriving in any index order: equal scores order by index.
fn insert_ordered(vals: &mut [f32], idx: &mut [u32], v: f32, j: u32) {
    let k = vals.len();
    let mut p = k - 1;
    while p > 0 && (vals[p - 1] < v || (vals[p - 1] == v && idx[p - 1] > j)) {
        vals[p] = vals[p - 1];
        idx[p] = idx[p - 1];
        p -= 1;
    }
    vals[p] = v;
    idx[p] = j;
}

/// Per-row top-k lists for `n` rows, flat: values descending, then indices.
#[derive(Debug, Clone)]
pub(crate) struct TopK {
    k: usize,
    vals: Vec<f32>,
    idx: Vec<u32>,
}

impl TopK {
    fn new(n: usize, k: usize) -> TopK {
        TopK {
            k,
            vals: vec![f32::NEG_INFINITY; n * k],
            idx: vec![u32::MAX; n * k],
        }
    }

    fn means(&self) -> Vec<f32> {
        if self.k == 0 {
            return vec![0.0; self.vals.len()];
        }
        self.vals
            .chunks_exact(self.k)
            .map(|v| v.iter().sum::<f32>() / self.k as f32)
            .collect()
    }

    /// Final scores are `value − offset(query)`.
    fn into_neighbours(self, queries: Vec<usize>, offset: impl Fn(usize) -> f32) -> Neighbours {
        let mut scores = self.vals;
        if self.k > 0 {
            for (q, s) in scores.chunks_exact_mut(self.k).enumerate() {
                let o = offset(q);
                s.iter_mut().for_each(|v| *v -= o);
            }
        }
        Neighbours {
            k: self.k,
            queries,
            indices: self.idx,
            scores,
        }
    }
}

/// Inserts `(v, j)` into one sorted list; ties keep the earlier (lower) index first.
#[inline]
fn insert(vals: &mut [f32], idx: &mut [u32], v: f32, j: u32) {
    let k = vals.len();
    let mut p = k - 1;
    while p > 0 && vals[p - 1] < v {
        vals[p] = vals[p - 1];
        idx[p] = idx[p - 1];
        p -= 1;
    }
    vals[p] = v;
    idx[p] = j;
}

/// One pass over `a · bᵀ` by blocks of rows of `a`. Row lists see `2·s − bias[j]` when a
/// `bias` is given (the CSLS score up to the row's constant), else `s`; column lists see `s`.
fn scan(
    a: &[f32],
    na: usize,
    b: &DeviceMatrix,
    dim: usize,
    row_k: usize,
    col_k: usize,
    bias: Option<&[f32]>,
) -> (TopK, TopK) {
    let nb = b.rows;
    let mut rows = TopK::new(na, row_k);
    let mut cols = TopK::new(nb, col_k);
    let mut col_min = vec![f32::NEG_INFINITY; nb];
    // Columns are split into chunks, one rayon task each, so that column lists are owned.
    let col_chunk = nb.div_ceil(rayon::current_num_threads() * 4).max(64);
    for start in (0..na).step_by(BLOCK) {
        let m = BLOCK.min(na - start);
        let s = b.times_transposed(&a[start * dim..(start + m) * dim], m, dim);
        if row_k > 0 {
            let vals = &mut rows.vals[start * row_k..(start + m) * row_k];
            let idx = &mut rows.idx[start * row_k..(start + m) * row_k];
            vals.par_chunks_mut(row_k)
                .zip(idx.par_chunks_mut(row_k))
                .zip(s.par_chunks(nb))
                .for_each(|((v, ix), srow)| {
                    let mut min = v[row_k - 1];
                    match bias {
                        None => {
                            for (j, &x) in srow.iter().enumerate() {
                                if x > min {
                                    insert(v, ix, x, j as u32);
                                    min = v[row_k - 1];
                                }
                            }
                        }
                        Some(bias) => {
                            for (j, (&x, &r)) in srow.iter().zip(bias).enumerate() {
                                let c = 2.0 * x - r;
                                if c > min {
                                    insert(v, ix, c, j as u32);
                                    min = v[row_k - 1];
                                }
                            }
                        }
                    }
                });
        }
        if col_k > 0 {
            col_min
                .par_chunks_mut(col_chunk)
                .zip(cols.vals.par_chunks_mut(col_chunk * col_k))
                .zip(cols.idx.par_chunks_mut(col_chunk * col_k))
                .enumerate()
                .for_each(|(c, ((mins, vals), idx))| {
                    let j0 = c * col_chunk;
                    let w = mins.len();
                    for r in 0..m {
                        let srow = &s[r * nb + j0..r * nb + j0 + w];
                        let i = (start + r) as u32;
                        for (jj, (&x, min)) in srow.iter().zip(mins.iter_mut()).enumerate() {
                            if x > *min {
                                let v = &mut vals[jj * col_k..(jj + 1) * col_k];
                                insert(v, &mut idx[jj * col_k..(jj + 1) * col_k], x, i);
                                *min = v[col_k - 1];
                            }
                        }
                    }
                });
        }
    }
    (rows, cols)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexicon::vectors::renorm_rows;
    use lux_core::rng::SplitMix64;

    fn random(n: usize, d: usize, seed: u64) -> Vec<f32> {
        let mut r = SplitMix64::new(seed);
        let mut m: Vec<f32> = (0..n * d).map(|_| r.unit() as f32 - 0.5).collect();
        renorm_rows(&mut m, d);
        m
    }

    fn dot(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    /// Brute force: every score, sorted.
    fn brute(src: &[f32], tgt: &[f32], d: usize, knn: usize) -> (Vec<f32>, Vec<f32>) {
        let (ns, nt) = (src.len() / d, tgt.len() / d);
        let mean_top = |mut v: Vec<f32>| {
            v.sort_by(|a, b| b.partial_cmp(a).unwrap());
            v[..knn].iter().sum::<f32>() / knn as f32
        };
        let r_src = (0..ns)
            .map(|i| {
                mean_top(
                    (0..nt)
                        .map(|j| dot(&src[i * d..][..d], &tgt[j * d..][..d]))
                        .collect(),
                )
            })
            .collect();
        let r_tgt = (0..nt)
            .map(|j| {
                mean_top(
                    (0..ns)
                        .map(|i| dot(&src[i * d..][..d], &tgt[j * d..][..d]))
                        .collect(),
                )
            })
            .collect();
        (r_src, r_tgt)
    }

    #[test]
    fn matches_brute_force_across_blocks() {
        let d = 8;
        let (ns, nt) = (BLOCK + 37, 300);
        let src = random(ns, d, 1);
        let tgt = random(nt, d, 2);
        let nb = neighbourhoods(&src, &tgt, d, 5);
        let (rs, rt) = brute(&src, &tgt, d, 5);
        for (a, b) in nb.r_src.iter().zip(&rs).chain(nb.r_tgt.iter().zip(&rt)) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
        let queries = [0, 3, BLOCK + 30];
        // Both CSLS paths: one pass with candidates, and with precomputed neighbourhoods.
        let pre = retrieve(
            &src,
            &tgt,
            d,
            &queries,
            4,
            Retrieval::Csls { knn: 5 },
            Some(&nb),
        );
        let got = retrieve(&src, &tgt, d, &queries, 4, Retrieval::Csls { knn: 5 }, None);
        for (qi, &q) in queries.iter().enumerate() {
            let mut all: Vec<(f32, usize)> = (0..nt)
                .map(|j| {
                    let s = dot(&src[q * d..][..d], &tgt[j * d..][..d]);
                    (2.0 * s - rs[q] - rt[j], j)
                })
                .collect();
            all.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap());
            let want: Vec<u32> = all[..4].iter().map(|x| x.1 as u32).collect();
            assert_eq!(got.targets(qi), want.as_slice());
            assert_eq!(pre.targets(qi), want.as_slice());
            assert!((got.scores_of(qi)[0] - all[0].0).abs() < 1e-5);
        }
        // Every row: the one-pass path (candidates + rescans) equals the two-pass one.
        let all: Vec<usize> = (0..ns).collect();
        let one = retrieve(&src, &tgt, d, &all, 10, Retrieval::Csls { knn: 5 }, None);
        let two = retrieve(
            &src,
            &tgt,
            d,
            &all,
            10,
            Retrieval::Csls { knn: 5 },
            Some(&nb),
        );
        assert_eq!(one.indices, two.indices);
        let nn = retrieve(
            &src,
            &tgt,
            d,
            &queries,
            1,
            Retrieval::NearestNeighbour,
            None,
        );
        let best = (0..nt)
            .max_by(|&a, &b| {
                dot(&src[..d], &tgt[a * d..][..d])
                    .partial_cmp(&dot(&src[..d], &tgt[b * d..][..d]))
                    .unwrap()
            })
            .unwrap();
        assert_eq!(nn.targets(0), &[best as u32]);
    }
}
