//! [`LinearCka`]: centred linear CKA in feature space.

use burn::tensor::{Device, Tensor};
use lux_core::{MatrixRef, Metric, MetricInput, Result};
use serde::{Deserialize, Serialize};

use super::{CenteredFeatures, checks, representations, tensor_from_matrix};

/// Linear CKA (Kornblith et al. 2019) of two representations of the same `n` items:
///
/// `CKA(X, Y) = ‖YcᵀXc‖²_F / (‖XcᵀXc‖_F · ‖YcᵀYc‖_F)`, with `Xc`, `Yc` the column-centred
/// inputs.
///
/// This feature-space form costs `O(n·d²)` instead of the `O(n²·d)` of `n×n` Gram matrices
/// (it switches to those when `d > n`). It equals the biased-HSIC CKA with linear kernels,
/// is invariant to orthogonal transforms and isotropic scaling of either input, and is not
/// invariant to general invertible linear maps.
///
/// As a metric over [`MetricInput::Representations`] (computed on `Device::default()`):
///
/// ```toml
/// [[metrics]]
/// type = "linear_cka"
/// ```
///
/// To compare one representation with many, prepare it once with [`CenteredFeatures`] or use
/// [`LayerwiseCka`](super::LayerwiseCka).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinearCka {}

impl LinearCka {
    /// The estimator (it has no settings).
    pub fn new() -> LinearCka {
        LinearCka {}
    }

    /// Linear CKA of `x` `[n, d₁]` and `y` `[n, d₂]`, on their device.
    ///
    /// Errors on differing row counts, fewer than 2 rows, NaN/infinite values or a constant
    /// input.
    pub fn cka(&self, x: Tensor<2>, y: Tensor<2>) -> Result<f64> {
        checks::same_rows(x.dims()[0], y.dims()[0], "x", "y")?;
        let fx = CenteredFeatures::new(x, "x")?;
        let fy = CenteredFeatures::new(y, "y")?;
        fx.linear_cka(&fy)
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

#[typetag::serde(name = "linear_cka")]
impl Metric for LinearCka {
    fn compute(&self, input: &MetricInput<'_>) -> Result<f64> {
        let (x, y) = representations(input, "linear_cka")?;
        self.cka_matrices(x, y, &Device::default())
    }
}
