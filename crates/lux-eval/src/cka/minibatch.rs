//! Minibatch CKA: HSIC summed over batches, then one ratio (Nguyen et al. 2021).

use burn::tensor::{Device, Tensor};
use lux_core::{Error, MatrixRef, Metric, MetricInput, Result};
use serde::{Deserialize, Serialize};

use super::{CenteredFeatures, checks, ratio, representations, tensor_from_matrix};

/// Which HSIC estimator each minibatch uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum HsicEstimator {
    /// Song et al.'s unbiased estimator (Nguyen et al.'s choice): the sums converge to the
    /// population CKA as batches are added, whatever the batch size. Batches need ≥ 4 rows.
    #[default]
    Unbiased,
    /// `tr(KHLH) / (n−1)²`: with one batch, the result is exactly [`LinearCka`](super::LinearCka).
    Biased,
}

impl HsicEstimator {
    fn min_rows(self) -> usize {
        match self {
            HsicEstimator::Unbiased => 4,
            HsicEstimator::Biased => 2,
        }
    }
}

/// Settings of [`MinibatchCka`].
///
/// ```toml
/// [[metrics]]
/// type = "minibatch_cka"
/// batch_size = 256        # rows per batch (default 256)
/// estimator = "unbiased"  # or "biased" (default "unbiased")
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinibatchCkaConfig {
    /// Rows per batch when [`MinibatchCka::cka`] splits a whole matrix (default 256).
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// The HSIC estimator per batch (default unbiased).
    #[serde(default)]
    pub estimator: HsicEstimator,
}

fn default_batch_size() -> usize {
    256
}

impl Default for MinibatchCkaConfig {
    fn default() -> Self {
        MinibatchCkaConfig {
            batch_size: default_batch_size(),
            estimator: HsicEstimator::default(),
        }
    }
}

impl MinibatchCkaConfig {
    /// Checks the settings and builds the estimator.
    pub fn init(&self) -> Result<MinibatchCka> {
        let min = self.estimator.min_rows();
        if self.batch_size < min {
            return Err(Error::invalid(
                "minibatch_cka.batch_size",
                format!(
                    "{} is too small: the {:?} estimator needs at least {min} rows per batch",
                    self.batch_size, self.estimator
                ),
            ));
        }
        Ok(MinibatchCka { config: *self })
    }
}

/// Minibatch linear CKA (Nguyen et al. 2021): HSIC of each batch is *summed*, and CKA is the
/// ratio of the sums, `Σ HSIC(Kᵦ, Lᵦ) / √(Σ HSIC(Kᵦ, Kᵦ) · Σ HSIC(Lᵦ, Lᵦ))` — not the mean of
/// per-batch CKA values, which weighs a batch of low-variance rows as much as any other.
///
/// Use [`MinibatchCka::accumulator`] to feed batches as they come out of a model (memory
/// stays `O(batch·d + d²)`), or [`MinibatchCka::cka`] to split whole matrices into
/// consecutive batches of `batch_size` rows (a last batch too small for the estimator is
/// merged into the one before).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "MinibatchCkaConfig", into = "MinibatchCkaConfig")]
pub struct MinibatchCka {
    config: MinibatchCkaConfig,
}

impl TryFrom<MinibatchCkaConfig> for MinibatchCka {
    type Error = Error;
    fn try_from(config: MinibatchCkaConfig) -> Result<MinibatchCka> {
        config.init()
    }
}

impl From<MinibatchCka> for MinibatchCkaConfig {
    fn from(cka: MinibatchCka) -> MinibatchCkaConfig {
        cka.config
    }
}

impl MinibatchCka {
    /// The settings.
    pub fn config(&self) -> &MinibatchCkaConfig {
        &self.config
    }

    /// An empty accumulator using this estimator.
    pub fn accumulator(&self) -> MinibatchHsic {
        MinibatchHsic::new(self.config.estimator)
    }

    /// Minibatch CKA of `x` `[n, d₁]` and `y` `[n, d₂]`, split into batches of rows.
    pub fn cka(&self, x: Tensor<2>, y: Tensor<2>) -> Result<f64> {
        let n = x.dims()[0];
        checks::same_rows(n, y.dims()[0], "x", "y")?;
        let min = self.config.estimator.min_rows();
        if n < min {
            return Err(Error::Numeric(format!(
                "x and y have {n} rows; the {:?} HSIC estimator needs at least {min}",
                self.config.estimator
            )));
        }
        let mut acc = self.accumulator();
        let size = self.config.batch_size;
        let mut start = 0;
        while start < n {
            let mut end = (start + size).min(n);
            if n - end < min {
                end = n;
            }
            let rows = start..end;
            acc.update(x.clone().slice(rows.clone()), y.clone().slice(rows))?;
            start = end;
        }
        acc.cka()
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

#[typetag::serde(name = "minibatch_cka")]
impl Metric for MinibatchCka {
    fn compute(&self, input: &MetricInput<'_>) -> Result<f64> {
        let (x, y) = representations(input, "minibatch_cka")?;
        self.cka_matrices(x, y, &Device::default())
    }
}

/// Running sums of HSIC over minibatches; [`cka`](Self::cka) is their ratio.
#[derive(Debug, Clone, PartialEq)]
pub struct MinibatchHsic {
    estimator: HsicEstimator,
    xy: f64,
    xx: f64,
    yy: f64,
    batches: usize,
    rows: usize,
}

impl MinibatchHsic {
    /// Empty sums for `estimator`.
    pub fn new(estimator: HsicEstimator) -> MinibatchHsic {
        MinibatchHsic {
            estimator,
            xy: 0.0,
            xx: 0.0,
            yy: 0.0,
            batches: 0,
            rows: 0,
        }
    }

    /// Adds one batch: `x` `[b, d₁]` and `y` `[b, d₂]` describe the same `b` items.
    ///
    /// A batch whose rows are all equal adds zero; NaN/infinite values, differing row counts
    /// and batches too small for the estimator are errors (the sums are left unchanged).
    pub fn update(&mut self, x: Tensor<2>, y: Tensor<2>) -> Result<()> {
        let b = self.batches;
        let (xl, yl) = (format!("x (batch {b})"), format!("y (batch {b})"));
        let n = x.dims()[0];
        checks::same_rows(n, y.dims()[0], &xl, &yl)?;
        let min = self.estimator.min_rows();
        if n < min {
            return Err(Error::Numeric(format!(
                "batch {b} has {n} rows; the {:?} HSIC estimator needs at least {min}",
                self.estimator
            )));
        }
        let fx = CenteredFeatures::build(x, xl, false)?;
        let fy = CenteredFeatures::build(y, yl, false)?;
        let cross = fx.cross_sq(&fy)?;
        let (xy, xx, yy) = match self.estimator {
            HsicEstimator::Unbiased => (
                fx.unbiased_hsic_with(&fy, cross)?,
                fx.unbiased_self_hsic()?,
                fy.unbiased_self_hsic()?,
            ),
            HsicEstimator::Biased => {
                let scale = ((n - 1) * (n - 1)) as f64;
                (
                    cross / scale,
                    fx.gram_norm().powi(2) / scale,
                    fy.gram_norm().powi(2) / scale,
                )
            }
        };
        self.xy += xy;
        self.xx += xx;
        self.yy += yy;
        self.batches += 1;
        self.rows += n;
        Ok(())
    }

    /// Batches added so far.
    pub fn batches(&self) -> usize {
        self.batches
    }

    /// Rows added so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// `(Σ HSIC(K, L), Σ HSIC(K, K), Σ HSIC(L, L))` so far.
    pub fn sums(&self) -> (f64, f64, f64) {
        (self.xy, self.xx, self.yy)
    }

    /// The minibatch CKA of the batches so far.
    ///
    /// Errors when no batch was added or a self-HSIC sum is not positive (constant inputs).
    pub fn cka(&self) -> Result<f64> {
        if self.batches == 0 {
            return Err(Error::Numeric("minibatch CKA: no batch was added".into()));
        }
        ratio(self.xy, self.xx, self.yy, "minibatch CKA")
    }
}
