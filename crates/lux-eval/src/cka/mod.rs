//! Centred kernel alignment (CKA): how similar two representations of the same items are.
//!
//! CKA compares two matrices `X` `[n, d₁]` and `Y` `[n, d₂]` whose row `i` describes the same
//! item (the hidden states of sentence `i` in Luxembourgish and in English, say). It is 1 when
//! one is an orthogonal transform of the other up to scale, and near 0 for unrelated
//! representations. Every estimator here runs on burn tensors, on whatever device they live
//! on (the model's), and returns an [`Error`] — never a NaN — for inputs it cannot score.
//!
//! | estimator | type | metric name | cost |
//! |---|---|---|---|
//! | linear, centred (Kornblith et al. 2019) | [`LinearCka`] | `linear_cka` | `O(n·d²)`, feature space |
//! | RBF kernel, median-distance bandwidth | [`RbfCka`] | `rbf_cka` | `O(n²·d)`, `n×n` kernels |
//! | unbiased HSIC, linear kernel (Song et al. 2012) | [`UnbiasedCka`] | `unbiased_cka` | `O(n·d²)`, feature space |
//! | minibatch: ratio of HSIC sums (Nguyen et al. 2021) | [`MinibatchCka`], [`MinibatchHsic`] | `minibatch_cka` | `O(n·d²)`, any `n` |
//!
//! Layer-by-layer comparisons of several languages go through [`LayerwiseCka`]: it centres
//! each (language, layer) representation and computes its Gram statistics once, then reuses
//! them for every pair that representation appears in (`lb`–`en`, `lb`–`fr`, a layer × layer
//! map…). [`CenteredFeatures`] is that prepared form.
//!
//! ```
//! use burn::tensor::{Device, Tensor};
//! use lux_eval::cka::LinearCka;
//!
//! let device = Device::flex();
//! let x = Tensor::<2>::from_floats([[1.0, 2.0], [2.0, 1.0], [3.0, 5.0], [4.0, 3.0]], &device);
//! let y = x.clone().mul_scalar(3.0); // isotropic scaling leaves CKA at 1
//! let cka = LinearCka::new().cka(x, y).unwrap();
//! assert!((cka - 1.0).abs() < 1e-6);
//! ```
//!
//! # Errors
//! Row counts that differ, NaN or infinite values (the message names the first row and
//! column), constant inputs (zero variance after centring), too few rows (2 for the biased
//! estimators, 4 for the unbiased one) and a zero RBF bandwidth are all [`Error::Numeric`].

mod checks;
mod features;
mod kernel;
mod layerwise;
mod linear;
mod minibatch;
mod rbf;
mod unbiased;

pub use features::CenteredFeatures;
pub use layerwise::{LayerwiseCka, LayerwiseCkaReport, LayerwiseCkaRow};
pub use linear::LinearCka;
pub use minibatch::{HsicEstimator, MinibatchCka, MinibatchCkaConfig, MinibatchHsic};
pub use rbf::{Bandwidth, RbfCka, RbfCkaConfig};
pub use unbiased::UnbiasedCka;

use burn::tensor::{Device, Tensor, TensorData};
use lux_core::{Error, MatrixRef, Result};

#[allow(unused_imports)] // used by the module docs' links
use lux_core::Metric;

/// Copies a host matrix onto `device` as an f32 tensor `[rows, cols]`.
///
/// The [`Metric`] impls use this with `Device::default()`; call it yourself to choose the
/// device.
pub fn tensor_from_matrix(m: MatrixRef<'_>, device: &Device) -> Result<Tensor<2>> {
    // Re-validate: `MatrixRef`'s fields are public, so it may have been built by hand.
    let m = MatrixRef::new(m.rows, m.cols, m.data)?;
    if m.rows == 0 || m.cols == 0 {
        return Err(Error::Numeric(format!(
            "a {}×{} matrix has no values to compare",
            m.rows, m.cols
        )));
    }
    Ok(Tensor::from_data(
        TensorData::new(m.data.to_vec(), [m.rows, m.cols]),
        device,
    ))
}

/// The two representations of a [`lux_core::MetricInput::Representations`], or an error
/// naming the metric when it got predictions instead.
fn representations<'a>(
    input: &lux_core::MetricInput<'a>,
    metric: &str,
) -> Result<(MatrixRef<'a>, MatrixRef<'a>)> {
    match input {
        lux_core::MetricInput::Representations { x, y } => Ok((*x, *y)),
        lux_core::MetricInput::Predictions { .. } => Err(Error::plugin(
            metric,
            "needs representations (two matrices), got predictions",
        )),
    }
}

/// Reads a one-element tensor back as `f64`.
fn scalar(t: Tensor<1>, what: &str) -> Result<f64> {
    t.try_into_scalar::<f64>()
        .map_err(|e| Error::Numeric(format!("reading {what} from the device failed: {e:?}")))
}

/// Reads a tensor back as a host vector of `f64`.
fn host_vec<const D: usize>(t: Tensor<D>, what: &str) -> Result<Vec<f64>> {
    t.try_into_vec_as::<f64>()
        .map_err(|e| Error::Numeric(format!("reading {what} from the device failed: {e:?}")))
}

/// `num / sqrt(den_x · den_y)` with the checks every CKA ratio needs.
fn ratio(num: f64, den_x: f64, den_y: f64, estimator: &str) -> Result<f64> {
    if !(den_x > 0.0 && den_y > 0.0 && num.is_finite()) {
        return Err(Error::Numeric(format!(
            "{estimator}: HSIC(x, x) = {den_x:e} and HSIC(y, y) = {den_y:e} must both be \
             positive (constant input or too few rows)"
        )));
    }
    let v = num / (den_x.sqrt() * den_y.sqrt());
    if v.is_finite() {
        Ok(v)
    } else {
        Err(Error::Numeric(format!(
            "{estimator}: the ratio overflowed (HSIC(x, y) = {num:e})"
        )))
    }
}
