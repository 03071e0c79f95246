//! [`SamplingConfig`] and [`Sampler`]: how the next token is chosen from a row of logits.
//!
//! The warpers follow Hugging Face's `generate` exactly, in its order: temperature
//! (`TemperatureLogitsWarper`), then top-k (`TopKLogitsWarper`), then top-p
//! (`TopPLogitsWarper`). A filtered-out token gets `-inf`, so it can never be drawn. A
//! temperature of 0 means greedy decoding (HF's `do_sample=False`): the first arg-max.

use lux_core::rng::{SplitMix64, hash};
use lux_core::{Error, Result};
use serde::{Deserialize, Serialize};

/// How tokens are chosen and when generation stops.
///
/// The default is greedy decoding of at most 64 new tokens, with the tokenizer's end-of-sequence
/// token as the only stop.
///
/// ```
/// use lux_train::generate::SamplingConfig;
///
/// let config = SamplingConfig {
///     temperature: 0.7,
///     top_p: 0.9,
///     seed: 42,
///     stop: vec!["\n\n".into()],
///     ..SamplingConfig::default()
/// };
/// config.validate().unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SamplingConfig {
    /// Softmax temperature; `0` = greedy (arg-max, no randomness). Must be ≥ 0.
    pub temperature: f32,
    /// Keep only the `top_k` most likely tokens (ties with the k-th kept too); `0` = off.
    pub top_k: usize,
    /// Nucleus sampling: keep the smallest set of most likely tokens whose probability mass
    /// reaches `top_p` (after temperature and top-k); `1` = off. In `(0, 1]`.
    pub top_p: f32,
    /// Seed of the random draws. Sequence `i` of a batch draws from its own stream derived
    /// from `(seed, i)`, so its output does not depend on the other sequences.
    pub seed: u64,
    /// At most this many tokens are generated per sequence (finish reason `length`).
    pub max_new_tokens: usize,
    /// Stop strings: generation stops when the decoded text contains one, and the text is cut
    /// before it (as OpenAI's `stop`).
    pub stop: Vec<String>,
    /// Token ids that end a sequence, besides the tokenizer's end-of-sequence token; they are
    /// not part of the output.
    pub stop_token_ids: Vec<u32>,
    /// Return each generated token's log-probability and this many most likely alternatives
    /// (`Some(0)`: the chosen token's only); `None`: no log-probs.
    pub logprobs: Option<usize>,
}

impl Default for SamplingConfig {
    fn default() -> Self {
        SamplingConfig {
            temperature: 0.0,
            top_k: 0,
            top_p: 1.0,
            seed: 0,
            max_new_tokens: 64,
            stop: Vec::new(),
            stop_token_ids: Vec::new(),
            logprobs: None,
        }
    }
}

impl SamplingConfig {
    /// Greedy decoding of at most `max_new_tokens` tokens.
    pub fn greedy(max_new_tokens: usize) -> SamplingConfig {
        SamplingConfig {
            max_new_tokens,
            ..SamplingConfig::default()
        }
    }

    /// Whether tokens are chosen by arg-max.
    pub fn is_greedy(&self) -> bool {
        self.temperature == 0.0
    }

    /// Checks the ranges; the error names the field.
    pub fn validate(&self) -> Result<()> {
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            return Err(Error::invalid(
                "temperature",
                format!("{} is not a finite number ≥ 0", self.temperature),
            ));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(Error::invalid(
                "top_p",
                format!("{} is not in (0, 1]", self.top_p),
            ));
        }
        if let Some(i) = self.stop.iter().position(String::is_empty) {
            return Err(Error::invalid(
                format!("stop[{i}]"),
                "an empty stop string would stop at once",
            ));
        }
        Ok(())
    }
}

/// Divides the logits by `temperature` (HF `TemperatureLogitsWarper`; a no-op at 1).
pub fn apply_temperature(logits: &mut [f32], temperature: f32) {
    if temperature != 1.0 && temperature > 0.0 {
        for l in logits.iter_mut() {
            *l /= temperature;
        }
    }
}

/// Sets every logit below the `k`-th largest to `-inf` (HF `TopKLogitsWarper`: ties with the
/// k-th value survive). `k = 0` or `k ≥ len` is a no-op.
pub fn apply_top_k(logits: &mut [f32], k: usize) {
    if k == 0 || k >= logits.len() {
        return;
    }
    let mut sorted: Vec<f32> = logits.to_vec();
    // The k-th largest value: select_nth on the descending order.
    let (_, kth, _) = sorted.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
    let kth = *kth;
    for l in logits.iter_mut() {
        if *l < kth {
            *l = f32::NEG_INFINITY;
        }
    }
}

/// Keeps the nucleus: the most likely tokens whose probability mass reaches `p`, the rest set
/// to `-inf` (HF `TopPLogitsWarper`, `min_tokens_to_keep = 1`). `p ≥ 1` is a no-op.
///
/// As in HF, tokens are sorted by ascending logit and those whose cumulative probability
/// (from the least likely) is `≤ 1 - p` are removed; the most likely token always stays.
pub fn apply_top_p(logits: &mut [f32], p: f32) {
    if p >= 1.0 || logits.is_empty() {
        return;
    }
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[a].total_cmp(&logits[b]));
    let probs = softmax(logits);
    let threshold = 1.0 - p;
    let mut cumulative = 0f32;
    let last = order.len() - 1;
    for (rank, &i) in order.iter().enumerate() {
        cumulative += probs[i];
        if cumulative > threshold || rank == last {
            break;
        }
        logits[i] = f32::NEG_INFINITY;
    }
}

/// Applies temperature, top-k and top-p in HF's order (greedy configs are left unwarped).
pub fn warp(logits: &mut [f32], config: &SamplingConfig) {
    if config.is_greedy() {
        return;
    }
    apply_temperature(logits, config.temperature);
    apply_top_k(logits, config.top_k);
    apply_top_p(logits, config.top_p);
}

/// The probabilities the sampler draws from: `softmax(warp(logits))`. For a greedy config,
/// a one-hot vector on the arg-max.
pub fn filtered_distribution(logits: &[f32], config: &SamplingConfig) -> Vec<f32> {
    if config.is_greedy() {
        let mut out = vec![0.0; logits.len()];
        if !logits.is_empty() {
            out[argmax(logits) as usize] = 1.0;
        }
        return out;
    }
    let mut warped = logits.to_vec();
    warp(&mut warped, config);
    softmax(&warped)
}

/// `softmax(logits)`, computed stably; `-inf` logits get probability 0.
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if max == f32::NEG_INFINITY {
        return vec![0.0; logits.len()];
    }
    let exps: Vec<f32> = logits.iter().map(|&l| (l - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.into_iter().map(|e| e / sum).collect()
}

/// `log_softmax(logits)`, with the log-sum-exp accumulated in f64.
pub fn log_softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = logits.iter().map(|&l| f64::from(l - max).exp()).sum();
    let lse = max + sum.ln() as f32;
    logits.iter().map(|&l| l - lse).collect()
}

/// Index of the largest logit; the first one on ties (as `torch.argmax`). NaNs are skipped.
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    let mut best_value = f32::NEG_INFINITY;
    for (i, &v) in logits.iter().enumerate() {
        if v > best_value {
            best = i;
            best_value = v;
        }
    }
    best as u32
}

/// The `n` largest values with their indices, largest first (lower index first on ties).
pub fn top_n(values: &[f32], n: usize) -> Vec<(u32, f32)> {
    let n = n.min(values.len());
    if n == 0 {
        return Vec::new();
    }
    let cmp = |a: &usize, b: &usize| values[*b].total_cmp(&values[*a]).then(a.cmp(b));
    let mut idx: Vec<usize> = (0..values.len()).collect();
    if n < idx.len() {
        idx.select_nth_unstable_by(n - 1, cmp);
        idx.truncate(n);
    }
    idx.sort_by(cmp);
    idx.into_iter().map(|i| (i as u32, values[i])).collect()
}

/// Chooses tokens for one sequence: greedy, or a seeded draw from the warped distribution.
#[derive(Debug, Clone)]
pub struct Sampler {
    config: SamplingConfig,
    rng: SplitMix64,
}

impl Sampler {
    /// The sampler of sequence `index` of a batch; its random stream depends only on
    /// `(config.seed, index)`.
    pub fn new(config: &SamplingConfig, index: usize) -> Sampler {
        Sampler {
            config: config.clone(),
            rng: SplitMix64::new(hash(config.seed, &format!("lux.generate.sequence.{index}"))),
        }
    }

    /// The next token given the logits of the last position.
    pub fn sample(&mut self, logits: &[f32]) -> u32 {
        if self.config.is_greedy() {
            return argmax(logits);
        }
        let probs = filtered_distribution(logits, &self.config);
        let u = self.rng.unit() as f32;
        let mut cumulative = 0f32;
        let mut last_kept = argmax(logits);
        for (i, &p) in probs.iter().enumerate() {
            if p > 0.0 {
                cumulative += p;
                last_kept = i as u32;
                if u < cumulative {
                    return i as u32;
                }
            }
        }
        // Rounding left `cumulative` just below 1: the last token with mass.
        last_kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_keeps_ties_with_the_kth() {
        let mut l = vec![1.0, 3.0, 2.0, 2.0, 0.5];
        apply_top_k(&mut l, 2);
        assert_eq!(l[1], 3.0);
        assert_eq!((l[2], l[3]), (2.0, 2.0));
        assert!(l[0].is_infinite() && l[4].is_infinite());
    }

    #[test]
    fn top_p_keeps_at_least_the_best() {
        let mut l = vec![0.0, 10.0, 0.0];
        apply_top_p(&mut l, 0.01);
        assert_eq!(l[1], 10.0);
        assert!(l[0].is_infinite() && l[2].is_infinite());
    }

    #[test]
    fn validate_names_the_field() {
        let bad = SamplingConfig {
            top_p: 0.0,
            ..SamplingConfig::default()
        };
        assert!(bad.validate().unwrap_err().to_string().contains("top_p"));
        let bad = SamplingConfig {
            temperature: -1.0,
            ..SamplingConfig::default()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("temperature")
        );
    }

    #[test]
    fn top_n_orders_best_first() {
        assert_eq!(
            top_n(&[0.1, 0.5, 0.3, 0.5], 3),
            vec![(1, 0.5), (3, 0.5), (2, 0.3)]
        );
        assert_eq!(top_n(&[1.0], 4), vec![(0, 1.0)]);
    }
}
