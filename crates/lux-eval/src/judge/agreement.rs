//! Agreement between judges: Krippendorff's alpha and Spearman's rank correlation.
//!
//! Ratings are a raters × items matrix of `Option<f64>` (`None` = the rater did not score
//! the item, e.g. a failed judgement). Both statistics are undefined in degenerate cases
//! (fewer than two pairable values, no variation at all): they return `None` there, never a
//! NaN.

use serde::{Deserialize, Serialize};

/// The difference function of Krippendorff's alpha.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlphaLevel {
    /// Interval data: `δ²(c, k) = (c − k)²`.
    Interval,
    /// Ordinal data: `δ²(c, k) = (Σ_{g=c..k} n_g − (n_c + n_k)/2)²` over the pairable values'
    /// frequencies `n_g` (ranks, not distances, matter).
    Ordinal,
    /// Nominal data: `δ²(c, k) = [c ≠ k]`.
    Nominal,
}

/// Krippendorff's alpha, `1 − D_o / D_e`, over `ratings[rater][item]` (Krippendorff 2011,
/// "Computing Krippendorff's Alpha-Reliability").
///
/// Items with fewer than two values are not pairable and are left out. `None` when fewer
/// than two pairable values remain, or when all pairable values are equal (`D_e = 0`).
/// Rows may differ in length (missing trailing items).
pub fn krippendorff_alpha(ratings: &[Vec<Option<f64>>], level: AlphaLevel) -> Option<f64> {
    let items = ratings.iter().map(Vec::len).max().unwrap_or(0);
    // Values per pairable item.
    let units: Vec<Vec<f64>> = (0..items)
        .map(|i| {
            ratings
                .iter()
                .filter_map(|r| r.get(i).copied().flatten())
                .filter(|v| v.is_finite())
                .collect::<Vec<f64>>()
        })
        .filter(|u| u.len() >= 2)
        .collect();
    // Distinct values and their frequencies n_c among pairable values.
    let mut values: Vec<f64> = units.iter().flatten().copied().collect();
    values.sort_by(f64::total_cmp);
    values.dedup();
    if values.len() < 2 {
        return None;
    }
    let index = |v: f64| values.partition_point(|&x| x < v);
    let mut freq = vec![0.0f64; values.len()];
    for u in &units {
        for &v in u {
            freq[index(v)] += 1.0;
        }
    }
    let n: f64 = freq.iter().sum();
    // Prefix sums of frequencies for the ordinal metric.
    let mut cum = Vec::with_capacity(freq.len() + 1);
    cum.push(0.0);
    for f in &freq {
        cum.push(cum.last().copied().unwrap_or(0.0) + f);
    }
    let delta2 = |a: usize, b: usize| -> f64 {
        match level {
            AlphaLevel::Interval => (values[a] - values[b]).powi(2),
            AlphaLevel::Nominal => f64::from(u8::from(a != b)),
            AlphaLevel::Ordinal => {
                if a == b {
                    0.0
                } else {
                    let (lo, hi) = (a.min(b), a.max(b));
                    let between = cum[hi + 1] - cum[lo];
                    (between - (freq[lo] + freq[hi]) / 2.0).powi(2)
                }
            }
        }
    };
    // Observed disagreement: each item's pairs weighted by 1 / (m_u − 1).
    let mut observed = 0.0;
    for u in &units {
        let idx: Vec<usize> = u.iter().map(|&v| index(v)).collect();
        let mut s = 0.0;
        for (i, &a) in idx.iter().enumerate() {
            for &b in &idx[i + 1..] {
                s += 2.0 * delta2(a, b);
            }
        }
        observed += s / (u.len() as f64 - 1.0);
    }
    // Expected disagreement from the marginal frequencies.
    let expected = match level {
        AlphaLevel::Interval => {
            let s1: f64 = freq.iter().zip(&values).map(|(f, v)| f * v).sum();
            let s2: f64 = freq.iter().zip(&values).map(|(f, v)| f * v * v).sum();
            2.0 * (n * s2 - s1 * s1)
        }
        _ => {
            let mut e = 0.0;
            for a in 0..values.len() {
                for b in a + 1..values.len() {
                    e += 2.0 * freq[a] * freq[b] * delta2(a, b);
                }
            }
            e
        }
    };
    if !(expected.is_finite() && expected > 0.0) {
        return None;
    }
    Some(1.0 - (n - 1.0) * observed / expected)
}

/// Average ranks (1-based) of `x`; ties share the mean of the ranks they span.
pub fn average_ranks(x: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut ranks = vec![0.0; x.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && x[order[j + 1]] == x[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            ranks[k] = rank;
        }
        i = j + 1;
    }
    ranks
}

/// Spearman's rank correlation of the pairs where both values are present and finite: the
/// Pearson correlation of their average ranks (as `scipy.stats.spearmanr`). `None` for fewer
/// than two pairs or when either side is constant.
pub fn spearman(x: &[Option<f64>], y: &[Option<f64>]) -> Option<f64> {
    let (a, b): (Vec<f64>, Vec<f64>) = x
        .iter()
        .zip(y)
        .filter_map(|(a, b)| Some(((*a)?, (*b)?)))
        .filter(|(a, b)| a.is_finite() && b.is_finite())
        .unzip();
    if a.len() < 2 {
        return None;
    }
    pearson(&average_ranks(&a), &average_ranks(&b))
}

fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    if sxx <= 0.0 || syy <= 0.0 {
        return None;
    }
    Some((sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0))
}

/// Spearman's rho between two raters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairSpearman {
    /// First rater.
    pub a: String,
    /// Second rater.
    pub b: String,
    /// Items both rated.
    pub n: usize,
    /// The correlation; `None` when undefined.
    pub rho: Option<f64>,
}

/// How much a panel's raters agree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agreement {
    /// The raters, in order.
    pub raters: Vec<String>,
    /// Items rated by at least two raters.
    pub pairable_items: usize,
    /// Krippendorff's alpha, interval metric.
    pub alpha_interval: Option<f64>,
    /// Krippendorff's alpha, ordinal metric.
    pub alpha_ordinal: Option<f64>,
    /// Spearman's rho for every pair of raters.
    pub spearman: Vec<PairSpearman>,
    /// The mean of the defined pairwise rhos.
    pub mean_spearman: Option<f64>,
}

impl Agreement {
    /// Agreement of `ratings[rater][item]` given by the named `raters`.
    pub fn compute(raters: &[String], ratings: &[Vec<Option<f64>>]) -> Agreement {
        let items = ratings.iter().map(Vec::len).max().unwrap_or(0);
        let pairable_items = (0..items)
            .filter(|&i| {
                ratings
                    .iter()
                    .filter(|r| r.get(i).copied().flatten().is_some_and(f64::is_finite))
                    .count()
                    >= 2
            })
            .count();
        let mut pairs = Vec::new();
        for a in 0..ratings.len() {
            for b in a + 1..ratings.len() {
                let n = ratings[a]
                    .iter()
                    .zip(&ratings[b])
                    .filter(|(x, y)| x.is_some() && y.is_some())
                    .count();
                pairs.push(PairSpearman {
                    a: raters
                        .get(a)
                        .cloned()
                        .unwrap_or_else(|| format!("rater {a}")),
                    b: raters
                        .get(b)
                        .cloned()
                        .unwrap_or_else(|| format!("rater {b}")),
                    n,
                    rho: spearman(&ratings[a], &ratings[b]),
                });
            }
        }
        let defined: Vec<f64> = pairs.iter().filter_map(|p| p.rho).collect();
        Agreement {
            raters: raters.to_vec(),
            pairable_items,
            alpha_interval: krippendorff_alpha(ratings, AlphaLevel::Interval),
            alpha_ordinal: krippendorff_alpha(ratings, AlphaLevel::Ordinal),
            mean_spearman: (!defined.is_empty())
                .then(|| defined.iter().sum::<f64>() / defined.len() as f64),
            spearman: pairs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_average_ties() {
        assert_eq!(
            average_ranks(&[3.0, 1.0, 3.0, 2.0]),
            vec![3.5, 1.0, 3.5, 2.0]
        );
        assert_eq!(average_ranks(&[]), Vec::<f64>::new());
    }

    #[test]
    fn degenerate_cases_are_none() {
        assert_eq!(spearman(&[Some(1.0)], &[Some(2.0)]), None);
        assert_eq!(
            spearman(&[Some(1.0), Some(1.0)], &[Some(2.0), Some(3.0)]),
            None
        );
        let same = vec![vec![Some(3.0); 4], vec![Some(3.0); 4]];
        assert_eq!(krippendorff_alpha(&same, AlphaLevel::Interval), None);
        assert_eq!(krippendorff_alpha(&[], AlphaLevel::Ordinal), None);
        let lonely = vec![vec![Some(1.0), None], vec![None, Some(2.0)]];
        assert_eq!(krippendorff_alpha(&lonely, AlphaLevel::Interval), None);
    }
}
