//! [`RotaryEmbedding`]: rotary position embeddings in Hugging Face's "rotate half" convention.
//!
//! Each head vector `x` of width `d` is split in halves `(x₁, x₂)` and mapped to
//! `x·cos + rotate_half(x)·sin` with `rotate_half(x) = (−x₂, x₁)`; frequency `i` (of `d/2`)
//! rotates the pair `(x[i], x[i + d/2])`. (burn-nn's `RotaryEncoding` pairs adjacent elements
//! instead, which does not match HF checkpoints.)
//!
//! The cos/sin tables are computed on the host for exactly the positions of a forward pass,
//! in `f32` and in the same order of operations as HF, so no table of `max_position_embeddings`
//! rows is kept.

use burn::config::Config;
use std::sync::Arc;

use burn::tensor::{Device, Tensor, TensorData};

use super::config::RopeScaling;
use super::fused::HostRope;
use super::position_ids::PositionIds;

/// Configuration of a [`RotaryEmbedding`], built with [`init`](RotaryEmbeddingConfig::init).
#[derive(Config, Debug)]
pub struct RotaryEmbeddingConfig {
    /// Width of one attention head (even; checked by
    /// [`LlamaConfig::validate`](super::LlamaConfig::validate)).
    pub head_dim: usize,
    /// Base of the frequencies (`rope_theta`).
    #[config(default = 10000.0)]
    pub theta: f64,
    /// Frequency rescaling for long contexts, if any.
    #[config(default = "None")]
    pub scaling: Option<RopeScaling>,
}

impl RotaryEmbeddingConfig {
    /// Computes the inverse frequencies (with scaling applied).
    pub fn init(&self) -> RotaryEmbedding {
        let d = self.head_dim;
        let base = self.theta as f32;
        // HF: 1 / base ** (arange(0, d, 2).float() / d), in f32.
        let mut inv_freq: Vec<f32> = (0..d / 2)
            .map(|i| 1.0 / base.powf((2 * i) as f32 / d as f32))
            .collect();
        match &self.scaling {
            None => {}
            Some(RopeScaling::Linear { factor }) => {
                let factor = *factor as f32;
                inv_freq.iter_mut().for_each(|f| *f /= factor);
            }
            Some(RopeScaling::Llama3 {
                factor,
                low_freq_factor,
                high_freq_factor,
                original_max_position_embeddings,
            }) => {
                let (factor, low, high) = (
                    *factor as f32,
                    *low_freq_factor as f32,
                    *high_freq_factor as f32,
                );
                let old_context = *original_max_position_embeddings as f32;
                let low_freq_wavelen = old_context / low;
                let high_freq_wavelen = old_context / high;
                for f in inv_freq.iter_mut() {
                    let wavelen = 2.0 * std::f32::consts::PI / *f;
                    if wavelen > low_freq_wavelen {
                        *f /= factor;
                    } else if wavelen >= high_freq_wavelen {
                        let smooth = (old_context / wavelen - low) / (high - low);
                        *f = (1.0 - smooth) * *f / factor + smooth * *f;
                    }
                }
            }
        }
        RotaryEmbedding { inv_freq }
    }
}

/// The rotary frequencies of one model; hands out [`RopeTables`] for a range of positions.
///
/// Not a burn module: it has no parameters and is rebuilt from the config.
#[derive(Debug, Clone)]
pub struct RotaryEmbedding {
    /// `head_dim / 2` inverse frequencies, scaling applied.
    inv_freq: Vec<f32>,
}

impl RotaryEmbedding {
    /// The inverse frequencies, `head_dim / 2` of them.
    pub fn inv_freq(&self) -> &[f32] {
        &self.inv_freq
    }

    /// The cos/sin tables for positions `start..start + len`.
    pub fn tables(&self, start: usize, len: usize, device: &Device) -> RopeTables {
        let d = 2 * self.inv_freq.len();
        let (cos, sin) = self.host_rows(start, len);
        RopeTables {
            cos: Tensor::from_data(TensorData::new(cos.to_vec(), [1, 1, len, d]), device),
            signed_sin: Tensor::from_data(TensorData::new(sin.to_vec(), [1, 1, len, d]), device),
            host_cos: cos,
            host_signed_sin: sin,
        }
    }

    /// The tables of a packed batch: each token rotated by its own position id, which restarts
    /// at 0 with every example ([`PositionIds`]), so a packed example gets the angles it would
    /// get alone. The tensors are per token (`[batch, 1, seq, head_dim]`); the host tables, for
    /// the fused kernels (which run per example), hold positions `0..max_len`.
    pub fn tables_at(&self, positions: &PositionIds, device: &Device) -> RopeTables {
        let d = 2 * self.inv_freq.len();
        let [batch, seq] = positions.dims();
        let (cos, sin) = self.host_rows(0, positions.max_len());
        let gather = |table: &[f32]| -> Vec<f32> {
            let mut out = Vec::with_capacity(batch * seq * d);
            for &p in positions.ids() {
                out.extend_from_slice(&table[p * d..(p + 1) * d]);
            }
            out
        };
        RopeTables {
            cos: Tensor::from_data(TensorData::new(gather(&cos), [batch, 1, seq, d]), device),
            signed_sin: Tensor::from_data(
                TensorData::new(gather(&sin), [batch, 1, seq, d]),
                device,
            ),
            host_cos: cos,
            host_signed_sin: sin,
        }
    }

    /// `cos` and `signed_sin` rows (`[len, head_dim]`) for positions `start..start + len`.
    fn host_rows(&self, start: usize, len: usize) -> (Arc<[f32]>, Arc<[f32]>) {
        let half = self.inv_freq.len();
        let d = 2 * half;
        let mut cos = Vec::with_capacity(len * d);
        let mut sin = Vec::with_capacity(len * d);
        for pos in start..start + len {
            let row = cos.len();
            for &f in &self.inv_freq {
                let angle = pos as f32 * f;
                cos.push(angle.cos());
                sin.push(-angle.sin());
            }
            cos.extend_from_within(row..row + half);
            for i in 0..half {
                let s = sin[row + i];
                sin.push(-s);
            }
        }
        (cos.into(), sin.into())
    }
}

/// Cos/sin tables for the positions of one forward pass, shared by every layer.
#[derive(Debug, Clone)]
pub struct RopeTables {
    /// `cos(pos·f)` repeated for both halves: `[1, 1, seq, head_dim]` (`[batch, 1, seq,
    /// head_dim]` for a packed batch).
    cos: Tensor<4>,
    /// `sin(pos·f)` with the first half negated: `[1, 1, seq, head_dim]`, so that
    /// `rotate_half(x)·sin = swap_halves(x)·signed_sin`.
    signed_sin: Tensor<4>,
    /// `cos` on the host, `[seq, head_dim]`, for the fused CPU attention (for a packed batch
    /// positions `0..max_len`, which every example starts from).
    host_cos: Arc<[f32]>,
    /// `signed_sin` on the host, `[seq, head_dim]`.
    host_signed_sin: Arc<[f32]>,
}

impl RopeTables {
    /// The tables as host slices, for the fused CPU attention.
    pub(crate) fn host(&self) -> HostRope {
        HostRope {
            cos: Arc::clone(&self.host_cos),
            signed_sin: Arc::clone(&self.host_signed_sin),
        }
    }

    /// Rotates `input` by its positions.
    ///
    /// # Shapes
    ///
    /// - input: `[batch, heads, seq, head_dim]`
    /// - output: `[batch, heads, seq, head_dim]`
    pub fn apply(&self, input: Tensor<4>) -> Tensor<4> {
        let [_, _, _, d] = input.dims();
        let half = d / 2;
        let swapped = Tensor::cat(
            vec![
                input.clone().narrow(3, half, half),
                input.clone().narrow(3, 0, half),
            ],
            3,
        );
        input * self.cos.clone() + swapped * self.signed_sin.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_pairs_of_halves() {
        let device = Device::flex();
        let rope = RotaryEmbeddingConfig::new(4).with_theta(100.0).init();
        assert_eq!(rope.inv_freq(), &[1.0, 0.1]);
        let x = Tensor::<4>::from_data(
            TensorData::new(
                vec![1.0f32, 2.0, 3.0, 4.0, 1.0, 2.0, 3.0, 4.0],
                [1, 1, 2, 4],
            ),
            &device,
        );
        let y = rope
            .tables(0, 2, &device)
            .apply(x)
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        // Position 0 is the identity.
        assert_eq!(&y[..4], &[1.0, 2.0, 3.0, 4.0]);
        // Position 1: pair (x0, x2) rotated by 1 rad, pair (x1, x3) by 0.1 rad.
        let (c1, s1, c2, s2) = (1f32.cos(), 1f32.sin(), 0.1f32.cos(), 0.1f32.sin());
        let want = [
            1.0 * c1 - 3.0 * s1,
            2.0 * c2 - 4.0 * s2,
            3.0 * c1 + 1.0 * s1,
            4.0 * c2 + 2.0 * s2,
        ];
        for (a, b) in y[4..].iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{y:?} vs {want:?}");
        }
    }

    /// A packed row's tokens are rotated by their position ids: the second example's first
    /// token is not rotated at all, as if it were alone.
    #[test]
    fn packed_tables_rotate_each_token_by_its_own_position() {
        let device = Device::flex();
        let rope = RotaryEmbeddingConfig::new(4).with_theta(100.0).init();
        let positions = PositionIds::from_lengths(&[vec![2, 3]], 5).unwrap();
        let x = Tensor::<4>::ones([1, 1, 5, 4], &device);
        let packed = rope.tables_at(&positions, &device).apply(x.clone());
        let alone = |len| {
            rope.tables(0, len, &device)
                .apply(Tensor::ones([1, 1, len, 4], &device))
        };
        let expected = Tensor::cat(vec![alone(2), alone(3)], 2);
        packed.into_data().assert_approx_eq::<f32>(
            &expected.into_data(),
            burn::tensor::Tolerance::absolute(1e-6),
        );
    }

    #[test]
    fn llama3_scaling_keeps_high_and_divides_low_frequencies() {
        let plain = RotaryEmbeddingConfig::new(128).with_theta(500_000.0).init();
        let scaled = RotaryEmbeddingConfig::new(128)
            .with_theta(500_000.0)
            .with_scaling(Some(RopeScaling::Llama3 {
                factor: 8.0,
                low_freq_factor: 1.0,
                high_freq_factor: 4.0,
                original_max_position_embeddings: 8192,
            }))
            .init();
        let (p, s) = (plain.inv_freq(), scaled.inv_freq());
        assert_eq!(p[0], s[0]);
        assert!((p[63] / 8.0 - s[63]).abs() < 1e-12);
        assert!(s[40] < p[40] && s[40] > p[40] / 8.0 || s[40] == p[40] || s[40] == p[40] / 8.0);
    }
}
