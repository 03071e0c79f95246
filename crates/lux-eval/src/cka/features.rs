//! [`CenteredFeatures`]: one representation, centred, with its Gram statistics computed once.

use std::fmt;

use burn::tensor::Tensor;
use lux_core::{Error, Result};

use super::{checks, host_vec, ratio, scalar};

/// Target width of a column band of the blocked Gram. Narrower bands leave less of the
/// mirrored half to compute (`k` bands cost `(k + 1) / 2k` of a full product) but give the
/// matrix kernel thinner products and re-read the columns right of each band. Measured at
/// n = 4096, d = 576 on one core (CPU time of the Gram relative to a full product): 4 bands
/// of 144 columns 0.67, 6 of 96 0.64, 12 of 48 0.56, 18 of 32 0.56, 24 of 24 0.63; on the
/// whole 30-layer-pairs bench, 48 columns took 63 ms per pair, 96 took 68 and 144 took 71.
const GRAM_BAND_COLS: usize = 48;

/// Band edges fall on multiples of this many columns (one AVX-512 register of f32) where the
/// width allows: 72- or 36-column bands ran 10–15% slower than 48- or 96-column ones.
const GRAM_BAND_ALIGN: usize = 16;

/// A representation `X` `[n, d]` prepared for linear and unbiased CKA: centred once, with
/// the statistics of its own Gram matrix kept for every pair it takes part in.
///
/// CKA of a pair `(X, Y)` needs three products: `XᵀX`, `YᵀY` and `YᵀX`. The first two only
/// depend on one side, so when `X` is compared with several representations (Luxembourgish
/// against English, French and German; layer `i` against every layer of another model) they
/// are computed once here and only the cross product is left per pair.
/// [`LayerwiseCka`](super::LayerwiseCka) builds on this.
///
/// What is kept: the centred features `Xc = X − mean(X)` (on the input's device),
/// `‖XcᵀXc‖²_F`, and — computed the first time the unbiased estimator needs them — three
/// `n`-vectors on the host. When `d > n` the `n×n` kernel `XcXcᵀ` is kept too, which makes cross terms
/// between two such representations an elementwise product instead of a matrix product.
///
/// The symmetric Gram `XcᵀXc` is computed by column bands of about 48 columns: band `i`
/// is multiplied only with itself and the bands after it, so the mirrored half is never
/// computed — with 12 bands (d = 576), 13/24 of the work of a full product.
#[derive(Clone)]
pub struct CenteredFeatures {
    label: String,
    xc: Tensor<2>,
    kernel: Option<Tensor<2>>,
    rows: usize,
    cols: usize,
    gram_sq: f64,
    unbiased: std::sync::OnceLock<UnbiasedStats>,
}

/// Unbiased-HSIC statistics of the kernel `K = XcXcᵀ` with its diagonal removed (`K̃`),
/// computed on first use: `diag_i = K_ii`, `row_sums_i = (K̃1)_i = x_i·Σⱼxⱼ − K_ii`,
/// `total = 1ᵀK̃1`.
#[derive(Debug, Clone)]
struct UnbiasedStats {
    diag: Vec<f64>,
    row_sums: Vec<f64>,
    total: f64,
}

impl fmt::Debug for CenteredFeatures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CenteredFeatures")
            .field("label", &self.label)
            .field("rows", &self.rows)
            .field("cols", &self.cols)
            .field("gram_norm", &self.gram_norm())
            .finish_non_exhaustive()
    }
}

impl CenteredFeatures {
    /// Centres `x` `[n, d]` and computes its Gram statistics. `label` names it in errors
    /// (`"x"`, `"lb layer 3"`).
    ///
    /// Errors when `x` has fewer than 2 rows, no columns, NaN or infinite values, or is
    /// constant.
    pub fn new(x: Tensor<2>, label: impl Into<String>) -> Result<CenteredFeatures> {
        CenteredFeatures::build(x, label.into(), true)
    }

    /// [`new`](Self::new), optionally accepting a constant input (a minibatch whose rows are
    /// all equal contributes zero to every HSIC sum; that is not an error there).
    pub(crate) fn build(
        x: Tensor<2>,
        label: String,
        reject_constant: bool,
    ) -> Result<CenteredFeatures> {
        let centred = checks::centred(x, &label, 2)?;
        if reject_constant {
            checks::not_constant(&centred, &label)?;
        }
        let xc = centred.xc;
        let [rows, cols] = xc.dims();

        let (gram_sq, kernel) = if cols > rows {
            let k = xc.clone().matmul(xc.clone().transpose());
            (scalar(k.clone().square().sum(), &label)?, Some(k))
        } else {
            (feature_gram_sq(&xc, &label)?, None)
        };

        Ok(CenteredFeatures {
            label,
            xc,
            kernel,
            rows,
            cols,
            gram_sq,
            unbiased: std::sync::OnceLock::new(),
        })
    }

    fn unbiased_stats(&self) -> Result<&UnbiasedStats> {
        if let Some(s) = self.unbiased.get() {
            return Ok(s);
        }
        let xc = &self.xc;
        let diag = host_vec(xc.clone().square().sum_dim(1), &self.label)?;
        let col_sum = xc.clone().sum_dim(0);
        let row_dot = xc.clone().matmul(col_sum.transpose());
        let row_sums: Vec<f64> = host_vec(row_dot, &self.label)?
            .into_iter()
            .zip(&diag)
            .map(|(r, d)| r - d)
            .collect();
        let total = row_sums.iter().sum();
        Ok(self.unbiased.get_or_init(|| UnbiasedStats {
            diag,
            row_sums,
            total,
        }))
    }

    /// The label given at construction.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Number of rows (items), `n`.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns (features), `d`.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The centred features `X − mean(X)`, `[n, d]`, on the input's device.
    pub fn centered(&self) -> &Tensor<2> {
        &self.xc
    }

    /// `‖XcᵀXc‖_F`, the Frobenius norm of the centred Gram matrix (the linear-CKA
    /// normaliser).
    pub fn gram_norm(&self) -> f64 {
        self.gram_sq.sqrt()
    }

    /// `‖YcᵀXc‖²_F = tr(Kx·Ky)` with `Y = other`: the one product that is new per pair.
    pub fn cross_sq(&self, other: &CenteredFeatures) -> Result<f64> {
        checks::same_rows(self.rows, other.rows, &self.label, &other.label)?;
        let what = format!("HSIC({}, {})", self.label, other.label);
        let v = match (&self.kernel, &other.kernel) {
            (Some(kx), Some(ky)) => scalar(kx.clone().mul(ky.clone()).sum(), &what)?,
            _ => {
                let cross = other.xc.clone().transpose().matmul(self.xc.clone());
                scalar(cross.square().sum(), &what)?
            }
        };
        if v.is_finite() {
            Ok(v)
        } else {
            Err(Error::Numeric(format!("{what} overflowed")))
        }
    }

    /// Linear CKA with `other`: `‖YcᵀXc‖²_F / (‖XcᵀXc‖_F ‖YcᵀYc‖_F)`.
    pub fn linear_cka(&self, other: &CenteredFeatures) -> Result<f64> {
        let cross = self.cross_sq(other)?;
        ratio(cross, self.gram_sq, other.gram_sq, "linear CKA")
    }

    /// The unbiased HSIC estimator (Song et al. 2012, eq. 5) of the linear kernels of `self`
    /// and `other`, given their cross term `tr(Kx·Ky)` ([`cross_sq`](Self::cross_sq)).
    ///
    /// `HSIC₁ = [tr(K̃L̃) + 1ᵀK̃1·1ᵀL̃1 / ((n−1)(n−2)) − 2/(n−2)·1ᵀK̃L̃1] / (n(n−3))`, where
    /// `K̃`, `L̃` are the kernels with zeroed diagonals. Needs `n ≥ 4`.
    pub fn unbiased_hsic_with(&self, other: &CenteredFeatures, cross_sq: f64) -> Result<f64> {
        checks::same_rows(self.rows, other.rows, &self.label, &other.label)?;
        let n = self.rows;
        if n < 4 {
            return Err(Error::Numeric(format!(
                "{} has {n} rows; the unbiased HSIC estimator needs at least 4",
                self.label
            )));
        }
        let (a, b) = (self.unbiased_stats()?, other.unbiased_stats()?);
        let diag_dot: f64 = a.diag.iter().zip(&b.diag).map(|(x, y)| x * y).sum();
        let sums_dot: f64 = a.row_sums.iter().zip(&b.row_sums).map(|(x, y)| x * y).sum();
        let nf = n as f64;
        let trace = cross_sq - diag_dot;
        let hsic = (trace + a.total * b.total / ((nf - 1.0) * (nf - 2.0))
            - 2.0 / (nf - 2.0) * sums_dot)
            / (nf * (nf - 3.0));
        Ok(hsic)
    }

    /// The unbiased HSIC of this representation's kernel with itself.
    pub fn unbiased_self_hsic(&self) -> Result<f64> {
        self.unbiased_hsic_with(self, self.gram_sq)
    }

    /// Unbiased linear CKA with `other` (Nguyen et al. 2021):
    /// `HSIC₁(K, L) / √(HSIC₁(K, K) · HSIC₁(L, L))`. Needs `n ≥ 4`.
    pub fn unbiased_cka(&self, other: &CenteredFeatures) -> Result<f64> {
        let cross = self.cross_sq(other)?;
        let xy = self.unbiased_hsic_with(other, cross)?;
        let xx = self.unbiased_self_hsic()?;
        let yy = other.unbiased_self_hsic()?;
        ratio(xy, xx, yy, "unbiased CKA")
    }
}

/// `‖XcᵀXc‖²_F` from the upper block triangle of the Gram matrix.
fn feature_gram_sq(xc: &Tensor<2>, label: &str) -> Result<f64> {
    gram_sq_in_bands(xc, &gram_bands(xc.dims()[1]), label)
}

/// Edges `0 = e₀ < e₁ < … < e_k = d` of about `d / GRAM_BAND_COLS` column bands, on multiples
/// of [`GRAM_BAND_ALIGN`] where `d` allows.
pub(crate) fn gram_bands(d: usize) -> Vec<usize> {
    let bands = ((d + GRAM_BAND_COLS / 2) / GRAM_BAND_COLS).max(1);
    let units = d.div_ceil(GRAM_BAND_ALIGN);
    let mut edges: Vec<usize> = (0..=bands)
        .map(|i| (i * units / bands * GRAM_BAND_ALIGN).min(d))
        .collect();
    edges.dedup();
    edges
}

/// `‖XcᵀXc‖²_F` with the columns split at `edges` into bands `X₁ … X_k`: band `i` is
/// multiplied only with itself and the bands after it (`Xᵢᵀ[Xᵢ … X_k]`), and the
/// off-diagonal blocks count twice. Equal bands cost `(k + 1) / 2k` of a full product.
pub(crate) fn gram_sq_in_bands(xc: &Tensor<2>, edges: &[usize], label: &str) -> Result<f64> {
    let [n, d] = xc.dims();
    // Per band: ‖diagonal block‖² and ‖blocks right of it‖², read back together.
    let mut sums = Vec::with_capacity(2 * edges.len());
    for w in edges.windows(2) {
        let (s, e) = (w[0], w[1]);
        let band = xc.clone().slice([0..n, s..e]);
        let rest = xc.clone().slice([0..n, s..d]);
        let p = band.transpose().matmul(rest);
        let width = e - s;
        sums.push(p.clone().slice([0..width, 0..width]).square().sum());
        if e < d {
            sums.push(p.slice([0..width, width..d - s]).square().sum());
        }
    }
    let sums = host_vec(Tensor::cat(sums, 0), label)?;
    // Diagonal blocks sit at the band's first entry; what follows each one counts twice.
    let mut total = 0.0;
    let mut i = 0;
    for w in edges.windows(2) {
        total += sums[i];
        i += 1;
        if w[1] < d {
            total += 2.0 * sums[i];
            i += 1;
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Distribution};

    #[test]
    fn blocked_gram_matches_full_product() {
        let device = Device::flex();
        let x = Tensor::<2>::random([300, 200], Distribution::Normal(0.0, 1.0), &device);
        let g = x.clone().transpose().matmul(x.clone());
        let full: f64 = g.square().sum().into_scalar();
        let edges = [
            vec![0, 200],
            vec![0, 100, 200],
            vec![0, 48, 96, 144, 200],
            vec![0, 1, 199, 200],
            gram_bands(200),
        ];
        for e in &edges {
            let blocked = gram_sq_in_bands(&x, e, "x").unwrap();
            assert!(
                (blocked - full).abs() / full < 1e-5,
                "{e:?}: {blocked} vs {full}"
            );
        }
    }

    #[test]
    fn band_edges() {
        assert_eq!(
            gram_bands(576),
            (0..=12).map(|i| 48 * i).collect::<Vec<_>>()
        );
        assert_eq!(gram_bands(200), vec![0, 48, 96, 144, 200]);
        assert_eq!(gram_bands(10), vec![0, 10]);
        assert_eq!(gram_bands(1), vec![0, 1]);
        for d in 1..700 {
            let e = gram_bands(d);
            assert!(e[0] == 0 && *e.last().unwrap() == d, "{d}: {e:?}");
            assert!(e.windows(2).all(|w| w[0] < w[1]), "{d}: {e:?}");
        }
    }

    #[test]
    fn kernel_form_when_wider_than_tall() {
        let device = Device::flex();
        let x = Tensor::<2>::random([20, 50], Distribution::Normal(0.0, 1.0), &device);
        let y = Tensor::<2>::random([20, 60], Distribution::Normal(0.0, 1.0), &device);
        let fx = CenteredFeatures::new(x.clone(), "x").unwrap();
        let fy = CenteredFeatures::new(y.clone(), "y").unwrap();
        assert!(fx.kernel.is_some() && fy.kernel.is_some());
        let via_kernels = fx.cross_sq(&fy).unwrap();
        let cross = fy
            .centered()
            .clone()
            .transpose()
            .matmul(fx.centered().clone());
        let via_features: f64 = cross.square().sum().into_scalar();
        assert!((via_kernels - via_features).abs() / via_features < 1e-5);
        let g = fx
            .centered()
            .clone()
            .transpose()
            .matmul(fx.centered().clone());
        let gram_sq: f64 = g.square().sum().into_scalar();
        assert!((fx.gram_norm().powi(2) - gram_sq).abs() / gram_sq < 1e-5);
    }
}
