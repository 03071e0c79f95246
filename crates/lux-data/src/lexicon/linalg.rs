//! The little linear algebra lexicon induction needs: `f32` matrix products on burn's `flex`
//! CPU backend (gemm with run-time SIMD dispatch, multi-threaded), and the orthogonal polar
//! factor `U Vᵀ` of a small square matrix by one-sided Jacobi SVD in `f64`.
//!
//! Why not `burn-linalg`: it is a feature of the workspace's `burn` that nothing else enables,
//! so turning it on would rebuild burn for every crate; and the Procrustes problem only ever
//! needs the SVD of one `d × d` matrix (`d` ≤ a few hundred), where a Jacobi sweep in plain
//! Rust is exact to `f64` precision and costs milliseconds to a fraction of a second.

use burn::tensor::{Device, Tensor, TensorData};
use rayon::prelude::*;

/// A row-major `rows × cols` `f32` matrix kept on the flex device, for repeated products with
/// blocks of another matrix.
pub(crate) struct DeviceMatrix {
    t: Tensor<2>,
    pub(crate) rows: usize,
}

impl DeviceMatrix {
    /// Uploads `data` (`rows × cols`, row-major).
    pub(crate) fn new(data: &[f32], rows: usize, cols: usize) -> DeviceMatrix {
        debug_assert_eq!(data.len(), rows * cols);
        let t = Tensor::<2>::from_data(TensorData::new(data.to_vec(), [rows, cols]), &device());
        DeviceMatrix { t, rows }
    }

    /// `a · selfᵀ` for a row-major block `a` (`m × cols`): an `m × rows` matrix, row-major.
    pub(crate) fn times_transposed(&self, a: &[f32], m: usize, cols: usize) -> Vec<f32> {
        let at = Tensor::<2>::from_data(TensorData::new(a.to_vec(), [m, cols]), &device());
        into_vec(at.matmul(self.t.clone().transpose()))
    }
}

fn device() -> Device {
    Device::flex()
}

fn into_vec(t: Tensor<2>) -> Vec<f32> {
    t.into_data()
        .try_into_vec::<f32>()
        .expect("flex matmul of f32 tensors gives f32")
}

/// `aᵀ · b` for row-major `a` (`n × p`) and `b` (`n × q`): a `p × q` row-major matrix (the
/// Procrustes cross-covariance), computed in `f32` like MUSE and returned widened to `f64`.
pub(crate) fn transposed_times(a: &[f32], p: usize, b: &[f32], q: usize) -> Vec<f64> {
    let n = a.len().checked_div(p).unwrap_or(0);
    debug_assert_eq!(b.len(), n * q);
    if n == 0 {
        return vec![0f64; p * q];
    }
    let at = Tensor::<2>::from_data(TensorData::new(a.to_vec(), [n, p]), &device());
    let bt = Tensor::<2>::from_data(TensorData::new(b.to_vec(), [n, q]), &device());
    into_vec(at.transpose().matmul(bt))
        .into_iter()
        .map(f64::from)
        .collect()
}

/// One-sided Jacobi (Hestenes) on the square row-major `m`: column pairs of `A = M` are
/// rotated until all are orthogonal; then `A V = U Σ`. Column `j` of the result holds
/// `(M V)_j = σ_j u_j` in its first `d` values and `v_j` in the last `d` (stored together so
/// that a rotation touches one allocation).
pub(crate) fn jacobi_columns(m: &[f64], d: usize) -> Vec<Vec<f64>> {
    let mut cols: Vec<Vec<f64>> = (0..d)
        .map(|j| {
            let mut c = vec![0f64; 2 * d];
            for i in 0..d {
                c[i] = m[i * d + j];
            }
            c[d + j] = 1.0;
            c
        })
        .collect();
    // Round-robin ("tournament") ordering: each round pairs every column with another, all
    // pairs disjoint, so a round's rotations run in parallel.
    let players = d + d % 2;
    let mut ring: Vec<usize> = (0..players).collect();
    let eps = 1e-15;
    for _sweep in 0..60 {
        let mut rotated = false;
        for _round in 0..players.saturating_sub(1) {
            let mut work: Vec<(usize, usize, Vec<f64>, Vec<f64>)> = (0..players / 2)
                .filter_map(|k| {
                    let (p, q) = (ring[k], ring[players - 1 - k]);
                    (p < d && q < d).then(|| {
                        let (p, q) = (p.min(q), p.max(q));
                        (
                            p,
                            q,
                            std::mem::take(&mut cols[p]),
                            std::mem::take(&mut cols[q]),
                        )
                    })
                })
                .collect();
            let any = work
                .par_iter_mut()
                .map(|(_, _, a, b)| rotate(a, b, d, eps))
                .reduce(|| false, |x, y| x || y);
            rotated |= any;
            for (p, q, a, b) in work {
                cols[p] = a;
                cols[q] = b;
            }
            // Keep ring[0] fixed, rotate the rest by one.
            let last = ring[players - 1];
            for k in (2..players).rev() {
                ring[k] = ring[k - 1];
            }
            if players > 1 {
                ring[1] = last;
            }
        }
        if !rotated {
            break;
        }
    }
    cols
}

/// The orthogonal polar factor `U Vᵀ` of the square row-major matrix `m` (`d × d`), where
/// `m = U Σ Vᵀ` is its SVD. Directions with a zero singular value (a dictionary with fewer
/// than `d` independent pairs) get an arbitrary orthonormal completion, so the result is
/// always orthogonal.
pub(crate) fn polar_factor(m: &[f64], d: usize) -> Vec<f64> {
    assert_eq!(m.len(), d * d);
    if m.iter().all(|x| *x == 0.0) {
        return identity(d);
    }
    let cols = jacobi_columns(m, d);
    // U's columns: normalised A columns; tiny ones are completed below.
    let norms: Vec<f64> = cols
        .iter()
        .map(|c| c[..d].iter().map(|x| x * x).sum::<f64>().sqrt())
        .collect();
    let max = norms.iter().cloned().fold(0.0, f64::max);
    let tol = max * 1e-10 * d as f64;
    let mut u: Vec<Option<Vec<f64>>> = cols
        .iter()
        .zip(&norms)
        .map(|(c, &n)| (n > tol).then(|| c[..d].iter().map(|x| x / n).collect()))
        .collect();
    complete_orthonormal(&mut u, d);
    // W = U Vᵀ = Σ_j u_j v_jᵀ.
    let mut w = vec![0f64; d * d];
    w.par_chunks_mut(d).enumerate().for_each(|(i, row)| {
        for (j, c) in cols.iter().enumerate() {
            let uij = u[j].as_ref().expect("completed")[i];
            for (o, v) in row.iter_mut().zip(&c[d..]) {
                *o += uij * v;
            }
        }
    });
    w
}

/// Rotates the column pair `(a, b)` (each `[A column | V column]`) to make the A parts
/// orthogonal; returns whether a rotation was needed.
fn rotate(a: &mut [f64], b: &mut [f64], d: usize, eps: f64) -> bool {
    let (mut alpha, mut beta, mut gamma) = (0f64, 0f64, 0f64);
    for (x, y) in a[..d].iter().zip(&b[..d]) {
        alpha += x * x;
        beta += y * y;
        gamma += x * y;
    }
    if gamma == 0.0 || gamma.abs() <= eps * (alpha * beta).sqrt() {
        return false;
    }
    let zeta = (beta - alpha) / (2.0 * gamma);
    let t = zeta.signum() / (zeta.abs() + (1.0 + zeta * zeta).sqrt());
    let c = 1.0 / (1.0 + t * t).sqrt();
    let s = c * t;
    for (x, y) in a.iter_mut().zip(b.iter_mut()) {
        let (xv, yv) = (*x, *y);
        *x = c * xv - s * yv;
        *y = s * xv + c * yv;
    }
    true
}

/// Fills the missing columns with unit vectors orthogonal to all others (Gram–Schmidt on
/// the standard basis).
fn complete_orthonormal(u: &mut [Option<Vec<f64>>], d: usize) {
    let mut basis = 0;
    for j in 0..u.len() {
        if u[j].is_some() {
            continue;
        }
        while basis < d {
            let mut v = vec![0f64; d];
            v[basis] = 1.0;
            basis += 1;
            for _ in 0..2 {
                for o in u.iter().flatten() {
                    let dot: f64 = o.iter().zip(&v).map(|(a, b)| a * b).sum();
                    v.iter_mut().zip(o).for_each(|(x, y)| *x -= dot * y);
                }
            }
            let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
            if n > 1e-6 {
                v.iter_mut().for_each(|x| *x /= n);
                u[j] = Some(v);
                break;
            }
        }
    }
}

fn identity(d: usize) -> Vec<f64> {
    let mut w = vec![0f64; d * d];
    for i in 0..d {
        w[i * d + i] = 1.0;
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use lux_core::rng::SplitMix64;

    fn random(n: usize, seed: u64) -> Vec<f64> {
        let mut r = SplitMix64::new(seed);
        (0..n).map(|_| r.unit() * 2.0 - 1.0).collect()
    }

    fn matmul(a: &[f64], b: &[f64], d: usize) -> Vec<f64> {
        let mut c = vec![0f64; d * d];
        for i in 0..d {
            for k in 0..d {
                for j in 0..d {
                    c[i * d + j] += a[i * d + k] * b[k * d + j];
                }
            }
        }
        c
    }

    fn transpose(a: &[f64], d: usize) -> Vec<f64> {
        (0..d * d).map(|x| a[(x % d) * d + x / d]).collect()
    }

    #[test]
    fn polar_factor_is_orthogonal_and_symmetrises() {
        for (d, rank) in [(1, 1), (7, 7), (20, 20), (12, 5)] {
            // M = A Bᵀ with rank `rank`.
            let a = random(d * rank, 1);
            let b = random(d * rank, 2);
            let mut m = vec![0f64; d * d];
            for i in 0..d {
                for j in 0..d {
                    m[i * d + j] = (0..rank).map(|r| a[i * rank + r] * b[j * rank + r]).sum();
                }
            }
            let w = polar_factor(&m, d);
            let wtw = matmul(&transpose(&w, d), &w, d);
            for i in 0..d {
                for j in 0..d {
                    let e = if i == j { 1.0 } else { 0.0 };
                    assert!((wtw[i * d + j] - e).abs() < 1e-9, "d={d} WᵀW[{i},{j}]");
                }
            }
            // Wᵀ M = V Σ Vᵀ is symmetric positive semi-definite.
            let s = matmul(&transpose(&w, d), &m, d);
            for i in 0..d {
                assert!(s[i * d + i] >= -1e-9);
                for j in 0..d {
                    assert!((s[i * d + j] - s[j * d + i]).abs() < 1e-9, "d={d}");
                }
            }
        }
    }

    #[test]
    fn products_match_naive() {
        let a: Vec<f32> = random(5 * 3, 3).iter().map(|&x| x as f32).collect();
        let b: Vec<f32> = random(4 * 3, 4).iter().map(|&x| x as f32).collect();
        let dm = DeviceMatrix::new(&b, 4, 3);
        let c = dm.times_transposed(&a, 5, 3);
        for i in 0..5 {
            for j in 0..4 {
                let e: f32 = (0..3).map(|k| a[i * 3 + k] * b[j * 3 + k]).sum();
                assert!((c[i * 4 + j] - e).abs() < 1e-5);
            }
        }
        let g = transposed_times(&a[..12], 3, &b, 3);
        for i in 0..3 {
            for j in 0..3 {
                let e: f64 = (0..4)
                    .map(|r| f64::from(a[r * 3 + i]) * f64::from(b[r * 3 + j]))
                    .sum();
                assert!((g[i * 3 + j] - e).abs() < 1e-5);
            }
        }
    }
}
