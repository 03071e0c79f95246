//! [`RbfCka`]: CKA with Gaussian (RBF) kernels.

use burn::tensor::{Device, Tensor};
use lux_core::{Error, MatrixRef, Metric, MetricInput, Result};
use serde::{Deserialize, Serialize};

use super::{checks, kernel, representations, tensor_from_matrix};

/// How the RBF bandwidth `σ` is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Bandwidth {
    /// `σ = factor × median distance between distinct rows`, computed for each input on its
    /// own (Kornblith et al. 2019 use factors 0.2–1.0).
    MedianDistance {
        /// The multiplier (> 0).
        factor: f64,
    },
    /// The same fixed `σ` (> 0) for both inputs.
    Fixed {
        /// The bandwidth.
        sigma: f64,
    },
}

/// Settings of [`RbfCka`], as written in a recipe.
///
/// ```toml
/// [[metrics]]
/// type = "rbf_cka"
/// median_factor = 0.5   # σ = 0.5 × median pairwise distance (default 1.0)
/// # sigma = 2.0         # or a fixed σ; not both
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RbfCkaConfig {
    /// `σ` as a multiple of the median distance between distinct rows of each input.
    /// Default 1.0 (when `sigma` is absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median_factor: Option<f64>,
    /// A fixed `σ` for both inputs, instead of the median rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigma: Option<f64>,
}

impl RbfCkaConfig {
    /// Checks the settings and builds the estimator.
    pub fn init(&self) -> Result<RbfCka> {
        let positive = |key: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(v)
            } else {
                Err(Error::invalid(
                    format!("rbf_cka.{key}"),
                    format!("{v} must be a finite number > 0"),
                ))
            }
        };
        let bandwidth = match (self.median_factor, self.sigma) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    "rbf_cka.sigma",
                    "give either `sigma` (fixed) or `median_factor`, not both",
                ));
            }
            (None, Some(s)) => Bandwidth::Fixed {
                sigma: positive("sigma", s)?,
            },
            (f, None) => Bandwidth::MedianDistance {
                factor: positive("median_factor", f.unwrap_or(1.0))?,
            },
        };
        Ok(RbfCka { bandwidth })
    }
}

/// CKA with Gaussian kernels `k(a, b) = exp(−‖a − b‖² / (2σ²))` and the biased HSIC
/// estimator: `⟨HKH, HLH⟩ / (‖HKH‖_F ‖HLH‖_F)`.
///
/// Builds two `n×n` kernels (`O(n²·d)` time, `O(n²)` memory): use it for a few thousand rows
/// at most. Build it from an [`RbfCkaConfig`]; the median rule takes the median over the
/// `n(n−1)/2` distinct pairs (Kornblith et al.'s code takes it over squared distances
/// including the zero diagonal, which gives a slightly smaller `σ`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RbfCkaConfig", into = "RbfCkaConfig")]
pub struct RbfCka {
    bandwidth: Bandwidth,
}

impl TryFrom<RbfCkaConfig> for RbfCka {
    type Error = Error;
    fn try_from(config: RbfCkaConfig) -> Result<RbfCka> {
        config.init()
    }
}

impl From<RbfCka> for RbfCkaConfig {
    fn from(cka: RbfCka) -> RbfCkaConfig {
        match cka.bandwidth {
            Bandwidth::MedianDistance { factor } => RbfCkaConfig {
                median_factor: Some(factor),
                sigma: None,
            },
            Bandwidth::Fixed { sigma } => RbfCkaConfig {
                median_factor: None,
                sigma: Some(sigma),
            },
        }
    }
}

impl Default for RbfCka {
    fn default() -> Self {
        RbfCka {
            bandwidth: Bandwidth::MedianDistance { factor: 1.0 },
        }
    }
}

impl RbfCka {
    /// The bandwidth rule in use.
    pub fn bandwidth(&self) -> Bandwidth {
        self.bandwidth
    }

    /// RBF CKA of `x` `[n, d₁]` and `y` `[n, d₂]`, on their device.
    ///
    /// Errors on differing row counts, fewer than 2 rows, NaN/infinite values, a constant
    /// input or a zero median distance (more than half of the pairs of rows are identical).
    pub fn cka(&self, x: Tensor<2>, y: Tensor<2>) -> Result<f64> {
        checks::same_rows(x.dims()[0], y.dims()[0], "x", "y")?;
        let k = self.kernel(x, "x")?;
        let l = self.kernel(y, "y")?;
        kernel::kernel_cka(k, l, "RBF CKA")
    }

    /// [`cka`](Self::cka) of two host matrices, copied to `device`.
    pub fn cka_matrices(&self, x: MatrixRef<'_>, y: MatrixRef<'_>, device: &Device) -> Result<f64> {
        checks::same_rows(x.rows, y.rows, "x", "y")?;
        self.cka(
            tensor_from_matrix(x, device)?,
            tensor_from_matrix(y, device)?,
        )
    }

    /// The bandwidth this estimator uses for `x`.
    pub fn sigma(&self, x: Tensor<2>) -> Result<f64> {
        let c = checks::centred(x, "x", 2)?;
        checks::not_constant(&c, "x")?;
        self.sigma_of(&kernel::squared_distances(&c.xc), "x")
    }

    fn sigma_of(&self, d2: &Tensor<2>, label: &str) -> Result<f64> {
        match self.bandwidth {
            Bandwidth::Fixed { sigma } => Ok(sigma),
            Bandwidth::MedianDistance { factor } => {
                let median = kernel::median_distance(d2, label)?;
                if median > 0.0 {
                    Ok(factor * median)
                } else {
                    Err(Error::Numeric(format!(
                        "{label}: the median distance between rows is 0 (more than half of \
                         the pairs of rows are identical), so the RBF bandwidth would be 0"
                    )))
                }
            }
        }
    }

    fn kernel(&self, x: Tensor<2>, label: &str) -> Result<Tensor<2>> {
        // Centring changes no distance but keeps the Gram-based distances accurate.
        let c = checks::centred(x, label, 2)?;
        checks::not_constant(&c, label)?;
        let d2 = kernel::squared_distances(&c.xc);
        let sigma = self.sigma_of(&d2, label)?;
        Ok(d2.div_scalar(-2.0 * sigma * sigma).exp())
    }
}

#[typetag::serde(name = "rbf_cka")]
impl Metric for RbfCka {
    fn compute(&self, input: &MetricInput<'_>) -> Result<f64> {
        let (x, y) = representations(input, "rbf_cka")?;
        self.cka_matrices(x, y, &Device::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_is_checked_when_read() {
        let m: Box<dyn Metric> = toml::from_str("type = \"rbf_cka\"\nsigma = 2.0").unwrap();
        assert_eq!(m.name(), "rbf_cka");
        let e = toml::from_str::<Box<dyn Metric>>(
            "type = \"rbf_cka\"\nsigma = 2.0\nmedian_factor = 1.0",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("not both"), "{e}");
        let e = toml::from_str::<Box<dyn Metric>>("type = \"rbf_cka\"\nmedian_factor = -1.0")
            .unwrap_err()
            .to_string();
        assert!(e.contains("invalid rbf_cka.median_factor"), "{e}");
        let cka = RbfCkaConfig::default().init().unwrap();
        assert_eq!(cka.bandwidth(), Bandwidth::MedianDistance { factor: 1.0 });
    }
}
