//! Orthogonal Procrustes: the rotation that best maps source vectors onto their translations.

use lux_core::{Error, Result};

use super::WordVectors;
use super::linalg::{DeviceMatrix, polar_factor, transposed_times};

/// An orthogonal linear map `W` (`dim × dim`, row-major) from the source space to the target
/// space. A source row `x` maps to `W x`; a matrix of rows `X` maps to `X Wᵀ` (MUSE's
/// `nn.Linear` without bias).
#[derive(Debug, Clone, PartialEq)]
pub struct Mapping {
    /// Row-major `dim × dim` matrix.
    pub w: Vec<f32>,
    /// Dimension of both spaces.
    pub dim: usize,
}

impl Mapping {
    /// The identity (no mapping: the baseline that compares raw vectors).
    pub fn identity(dim: usize) -> Mapping {
        let mut w = vec![0f32; dim * dim];
        for i in 0..dim {
            w[i * dim + i] = 1.0;
        }
        Mapping { w, dim }
    }

    /// Solves orthogonal Procrustes on paired rows: `x` and `y` hold the source and target
    /// vectors of the same `n` dictionary pairs (row-major `n × dim`). With `U Σ Vᵀ` the SVD of
    /// `Yᵀ X`, `W = U Vᵀ` minimises `‖X Wᵀ − Y‖` over orthogonal `W` (Schönemann 1966; MUSE's
    /// `procrustes`).
    pub fn procrustes_rows(x: &[f32], y: &[f32], dim: usize) -> Result<Mapping> {
        if dim == 0 || x.len() != y.len() || !x.len().is_multiple_of(dim) {
            return Err(Error::invalid(
                "procrustes",
                format!(
                    "source and target rows must be paired and of dimension {dim} ({} and {} values)",
                    x.len(),
                    y.len()
                ),
            ));
        }
        if x.is_empty() {
            return Err(Error::invalid("procrustes", "an empty dictionary"));
        }
        let m = transposed_times(y, dim, x, dim);
        if m.iter().any(|v| !v.is_finite()) {
            return Err(Error::Numeric(
                "Procrustes: the vectors contain NaN or infinite values".into(),
            ));
        }
        let w = polar_factor(&m, dim);
        Ok(Mapping {
            w: w.into_iter().map(|v| v as f32).collect(),
            dim,
        })
    }

    /// Procrustes over dictionary pairs `(source row, target row)`.
    pub fn procrustes(
        src: &WordVectors,
        tgt: &WordVectors,
        pairs: &[(usize, usize)],
    ) -> Result<Mapping> {
        if src.dim != tgt.dim {
            return Err(Error::invalid(
                "procrustes",
                format!(
                    "source vectors have dimension {}, target vectors {} (reduce both to a common dimension first)",
                    src.dim, tgt.dim
                ),
            ));
        }
        let d = src.dim;
        let mut x = Vec::with_capacity(pairs.len() * d);
        let mut y = Vec::with_capacity(pairs.len() * d);
        for &(s, t) in pairs {
            if s >= src.len() || t >= tgt.len() {
                return Err(Error::invalid(
                    "procrustes",
                    format!("pair ({s}, {t}) is outside the vocabularies"),
                ));
            }
            x.extend_from_slice(src.row(s));
            y.extend_from_slice(tgt.row(t));
        }
        Mapping::procrustes_rows(&x, &y, d)
    }

    /// `X Wᵀ` for row-major rows `x` (`n × dim`).
    pub fn apply_rows(&self, x: &[f32]) -> Vec<f32> {
        let n = x.len() / self.dim;
        if n == 0 {
            return Vec::new();
        }
        DeviceMatrix::new(&self.w, self.dim, self.dim).times_transposed(x, n, self.dim)
    }

    /// The mapped vectors (same words).
    pub fn apply(&self, v: &WordVectors) -> Result<WordVectors> {
        if v.dim != self.dim {
            return Err(Error::invalid(
                "mapping",
                format!("a {}-d mapping applied to {}-d vectors", self.dim, v.dim),
            ));
        }
        v.with_matrix(self.apply_rows(&v.matrix), self.dim)
    }

    /// `max |WᵀW − I|`: 0 for an exactly orthogonal map.
    pub fn orthogonality_error(&self) -> f32 {
        let d = self.dim;
        let mut worst = 0f32;
        for i in 0..d {
            for j in 0..d {
                let dot: f32 = (0..d).map(|k| self.w[k * d + i] * self.w[k * d + j]).sum();
                let e = if i == j { 1.0 } else { 0.0 };
                worst = worst.max((dot - e).abs());
            }
        }
        worst
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lux_core::rng::SplitMix64;

    #[test]
    fn recovers_a_rotation() {
        let (n, d) = (50, 6);
        let mut r = SplitMix64::new(5);
        let x: Vec<f32> = (0..n * d).map(|_| r.unit() as f32 - 0.5).collect();
        // A rotation from Procrustes on random data, then y = x Rᵀ.
        let z: Vec<f32> = (0..n * d).map(|_| r.unit() as f32 - 0.5).collect();
        let rot = Mapping::procrustes_rows(&x, &z, d).unwrap();
        assert!(rot.orthogonality_error() < 1e-5);
        let y = rot.apply_rows(&x);
        let got = Mapping::procrustes_rows(&x, &y, d).unwrap();
        for (a, b) in got.w.iter().zip(&rot.w) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
        assert!(Mapping::procrustes_rows(&x, &y[..d], d).is_err());
    }
}
