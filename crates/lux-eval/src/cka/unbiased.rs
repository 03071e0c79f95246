//! [`UnbiasedCka`]: CKA from the unbiased HSIC estimator, linear kernel.

use burn::tensor::{Device, Tensor};
use lux_core::{Error, MatrixRef, Metric, MetricInput, Result};
use serde::{Deserialize, Serialize};

use super::{CenteredFeatures, checks, representations, tensor_from_matrix};

/// CKA from the unbiased HSIC estimator of Song et al. (2012), as used by Nguyen et al.
/// (2021), with linear kernels `K = XXᵀ`, `L = YYᵀ`:
///
/// `CKA₁ = HSIC₁(K, L) / √(HSIC₁(K, K) · HSIC₁(L, L))`, where
/// `HSIC₁(K, L) = [tr(K̃L̃) + 1ᵀK̃1·1ᵀL̃1/((n−1)(n−2)) − 2/(n−2)·1ᵀK̃L̃1] / (n(n−3))` and `K̃`,
/// `L̃` are the kernels with their diagonals set to zero.
///
/// Unlike the biased estimator ([`LinearCka`](super::LinearCka)), its value for independent
/// representations is near 0 even when `n` is not much larger than `d`. Every term is
/// computed in feature space (`O(n·d²)`), never with `n×n` matrices. Needs `n ≥ 4`; the value
/// can be slightly negative.
///
/// ```toml
/// [[metrics]]
/// type = "unbiased_cka"
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnbiasedCka {}

impl UnbiasedCka {
    /// The estimator (it has no settings).
    pub fn new() -> UnbiasedCka {
        UnbiasedCka {}
    }

    /// Unbiased CKA of `x` `[n, d₁]` and `y` `[n, d₂]`, on their device.
    ///
    /// Errors on differing row counts, fewer than 4 rows, NaN/infinite values, a constant
    /// input, or a non-positive self-HSIC estimate.
    pub fn cka(&self, x: Tensor<2>, y: Tensor<2>) -> Result<f64> {
        let (n, m) = (x.dims()[0], y.dims()[0]);
        checks::same_rows(n, m, "x", "y")?;
        if n < 4 {
            return Err(Error::Numeric(format!(
                "x and y have {n} rows; the unbiased HSIC estimator needs at least 4"
            )));
        }
        let fx = CenteredFeatures::new(x, "x")?;
        let fy = CenteredFeatures::new(y, "y")?;
        fx.unbiased_cka(&fy)
    }

    /// [`cka`](Self::cka) of two host matrices, copied to `device`.
    pub fn cka_matrices(&self, x: MatrixRef<'_>, y: MatrixRef<'_>, device: &Device) -> Result<f64> {
        checks::same_rows(x.rows, y.rows, "x", "y")?;
        self.cka(
            tensor_from_matrix(x, device)?,
            tensor_from_matrix(y, device)?,
        )
    }
}

#[typetag::serde(name = "unbiased_cka")]
impl Metric for UnbiasedCka {
    fn compute(&self, input: &MetricInput<'_>) -> Result<f64> {
        let (x, y) = representations(input, "unbiased_cka")?;
        self.cka_matrices(x, y, &Device::default())
    }
}
