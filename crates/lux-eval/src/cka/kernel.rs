//! `n×n` kernel matrices: squared distances, the median distance, centring, and CKA of two
//! kernels.

use burn::tensor::Tensor;
use lux_core::{Error, Result};

use super::{host_vec, ratio, scalar};

/// Squared Euclidean distances between the rows of `x` `[n, d]`, `[n, n]`, with an exact
/// zero diagonal and no negative rounding noise.
pub(crate) fn squared_distances(x: &Tensor<2>) -> Tensor<2> {
    let [n, _] = x.dims();
    let device = x.device();
    let sq = x.clone().square().sum_dim(1);
    let gram = x.clone().matmul(x.clone().transpose());
    let d2 = sq
        .clone()
        .add(sq.transpose())
        .sub(gram.mul_scalar(2.0))
        .clamp_min(0.0);
    let off_diagonal = Tensor::<2>::ones([n, n], &device).sub(Tensor::eye(n, &device));
    d2.mul(off_diagonal)
}

/// The median of the distances `√d2[i, j]` over distinct pairs `i < j` (the mean of the two
/// middle values when their count is even).
pub(crate) fn median_distance(d2: &Tensor<2>, label: &str) -> Result<f64> {
    let [n, _] = d2.dims();
    let all = host_vec(d2.clone(), label)?;
    let mut upper: Vec<f64> = Vec::with_capacity(n * n.saturating_sub(1) / 2);
    for i in 0..n {
        upper.extend_from_slice(&all[i * n + i + 1..(i + 1) * n]);
    }
    if upper.is_empty() {
        return Err(Error::Numeric(format!(
            "{label} has fewer than 2 rows: no pairwise distance"
        )));
    }
    let m = upper.len();
    let hi_index = m / 2;
    let (left, hi, _) = upper.select_nth_unstable_by(hi_index, f64::total_cmp);
    let hi = hi.sqrt();
    let median = if m % 2 == 1 {
        hi
    } else {
        let lo = left.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo.sqrt() + hi) / 2.0
    };
    Ok(median)
}

/// `HKH`: `k` with its row and column means removed.
pub(crate) fn center(k: Tensor<2>) -> Tensor<2> {
    let grand = k.clone().mean().reshape([1, 1]);
    let rows = k.clone().mean_dim(1);
    let cols = k.clone().mean_dim(0);
    k.sub(rows).sub(cols).add(grand)
}

/// CKA of two kernel matrices with the biased HSIC estimator:
/// `⟨HKH, HLH⟩ / (‖HKH‖_F ‖HLH‖_F)`.
pub(crate) fn kernel_cka(k: Tensor<2>, l: Tensor<2>, estimator: &str) -> Result<f64> {
    let kc = center(k);
    let lc = center(l);
    let num = scalar(kc.clone().mul(lc.clone()).sum(), estimator)?;
    let kk = scalar(kc.square().sum(), estimator)?;
    let ll = scalar(lc.square().sum(), estimator)?;
    ratio(num, kk, ll, estimator)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    #[test]
    fn distances_and_median() {
        let device = Device::flex();
        // Points on a line at 0, 1, 3, 7: distances 1, 3, 7, 2, 6, 4 → median (3 + 4) / 2.
        let x = Tensor::<2>::from_floats([[0.0], [1.0], [3.0], [7.0]], &device);
        let d2 = squared_distances(&x);
        let v: Vec<f32> = d2.clone().try_into_vec_as::<f32>().unwrap();
        assert_eq!(v[1], 1.0);
        assert_eq!(v[3], 49.0);
        assert_eq!(v[5], 0.0);
        assert!((median_distance(&d2, "x").unwrap() - 3.5).abs() < 1e-6);
        // Odd count: 0, 1, 3 → distances 1, 3, 2 → median 2.
        let x = Tensor::<2>::from_floats([[0.0], [1.0], [3.0]], &device);
        assert!((median_distance(&squared_distances(&x), "x").unwrap() - 2.0).abs() < 1e-6);
    }

    #[test]
    fn centred_kernel_has_zero_means() {
        let device = Device::flex();
        let k = Tensor::<2>::from_floats(
            [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 10.0]],
            &device,
        );
        let c = center(k);
        let rows: Vec<f32> = c.clone().sum_dim(1).try_into_vec_as::<f32>().unwrap();
        let cols: Vec<f32> = c.sum_dim(0).try_into_vec_as::<f32>().unwrap();
        assert!(
            rows.iter().chain(&cols).all(|v| v.abs() < 1e-5),
            "{rows:?} {cols:?}"
        );
    }
}
