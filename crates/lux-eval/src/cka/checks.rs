//! Input checks shared by the CKA estimators: each failure is an [`Error::Numeric`] that names
//! the input (`x`, `y`, `lb layer 3`) and what is wrong with it.

use burn::tensor::{DType, FloatDType, Tensor};
use lux_core::{Error, Result};

use super::{host_vec, scalar};

/// Variance below this fraction of the mean square is rounding noise of a constant input
/// (f32 means over thousands of rows are off by a few dozen ulps).
const CONSTANT_RELATIVE: f64 = 64.0 * 64.0 * (f32::EPSILON as f64) * (f32::EPSILON as f64);

/// One validated representation, centred: what every estimator starts from.
///
/// The input itself is not kept: when the caller hands over the only reference to it, the
/// centring overwrites it in place instead of allocating a second `[n, d]` buffer.
pub(crate) struct Centred {
    /// `x − mean(x)`, column by column, as f32 (f16/bf16 widened) or f64.
    pub xc: Tensor<2>,
    /// The column means, on the host.
    pub mean: Vec<f64>,
}

/// Validates one representation and centres it: f16/bf16 are widened to f32, f32 and f64
/// are kept.
///
/// NaN and infinities are found through the column means rather than by a pass of their
/// own: a sum that takes in a NaN or an infinity is never finite, so finite means prove a
/// finite input, and only an input that fails this scans its values for the first bad one.
pub(crate) fn centred(x: Tensor<2>, label: &str, min_rows: usize) -> Result<Centred> {
    let [n, d] = x.dims();
    if d == 0 {
        return Err(Error::Numeric(format!("{label} has no columns")));
    }
    if n < min_rows {
        return Err(Error::Numeric(format!(
            "{label} has {n} rows; this estimator needs at least {min_rows}"
        )));
    }
    let x = match x.dtype() {
        DType::F32 | DType::F64 => x,
        _ => x.cast(FloatDType::F32),
    }
    .detach();
    let mean_t = x.clone().mean_dim(0);
    let mean = host_vec(mean_t.clone(), label)?;
    if mean.iter().any(|m| !m.is_finite()) {
        finite(&x, label)?;
        // Every value is finite but a column sum is not: it overflowed.
        return Err(Error::Numeric(format!(
            "{label} has values too large to sum in {:?} (a column sum overflows)",
            x.dtype()
        )));
    }
    let xc = x.sub(mean_t);
    Ok(Centred { xc, mean })
}

/// Errors when the two inputs describe different numbers of items.
pub(crate) fn same_rows(x_rows: usize, y_rows: usize, x: &str, y: &str) -> Result<()> {
    if x_rows != y_rows {
        return Err(Error::Numeric(format!(
            "{x} has {x_rows} rows but {y} has {y_rows}: CKA compares the same items in both, \
             row by row"
        )));
    }
    Ok(())
}

/// Errors when `x` holds a NaN or an infinity, naming the first one.
fn finite(x: &Tensor<2>, label: &str) -> Result<()> {
    let ok = x
        .clone()
        .is_finite()
        .all()
        .try_into_scalar::<bool>()
        .map_err(|e| Error::Numeric(format!("checking {label} for NaN failed: {e:?}")))?;
    if ok {
        return Ok(());
    }
    let [_, d] = x.dims();
    let values = host_vec(x.clone(), label)?;
    let (i, v) = values
        .iter()
        .enumerate()
        .find(|(_, v)| !v.is_finite())
        .map(|(i, v)| (i, *v))
        .unwrap_or((0, f64::NAN));
    Err(Error::Numeric(format!(
        "{label} contains NaN or infinite values (first: {v} at row {}, column {})",
        i / d,
        i % d
    )))
}

/// Errors when the input is constant: every column holds a single value, or the centred
/// `xc` has a variance that is only f32 rounding noise of `x`'s magnitude.
///
/// The magnitude `Σx²` is `Σxc² + n·Σmean²`, so it costs no pass over `x`; a column of `x`
/// holds a single value exactly when its centred column does.
pub(crate) fn not_constant(c: &Centred, label: &str) -> Result<()> {
    let variance = scalar(c.xc.clone().square().sum(), label)?;
    let rows = c.xc.dims()[0] as f64;
    let magnitude = variance + rows * c.mean.iter().map(|m| m * m).sum::<f64>();
    // The exact test costs two more passes: only run it when the variance is suspiciously small.
    let suspicious = variance <= 1e-6 * magnitude;
    let exact = suspicious
        && c.xc
            .clone()
            .max_dim(0)
            .equal(c.xc.clone().min_dim(0))
            .all()
            .try_into_scalar::<bool>()
            .map_err(|e| Error::Numeric(format!("checking {label} for variance failed: {e:?}")))?;
    if exact || variance <= CONSTANT_RELATIVE * magnitude {
        return Err(Error::Numeric(format!(
            "{label} is constant (zero variance after centring): CKA is undefined for it"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    #[test]
    fn names_the_first_bad_value() {
        let device = Device::flex();
        let x =
            Tensor::<2>::from_floats([[1.0, 2.0], [3.0, f32::INFINITY], [f32::NAN, 0.0]], &device);
        let e = centred(x, "lb layer 2", 2).err().unwrap().to_string();
        assert_eq!(
            e,
            "lb layer 2 contains NaN or infinite values (first: inf at row 1, column 1)"
        );
        // +inf and -inf in one column sum to NaN; a NaN alone in the last row.
        let x = Tensor::<2>::from_floats(
            [
                [1.0, f32::INFINITY],
                [2.0, f32::NEG_INFINITY],
                [3.0, 0.0],
                [f32::NAN, 1.0],
            ],
            &device,
        );
        let e = centred(x, "x", 2).err().unwrap().to_string();
        assert!(e.contains("first: inf at row 0, column 1"), "{e}");
        let x = Tensor::<2>::from_floats([[1.0, 2.0], [3.0, 4.0], [f32::NAN, 5.0]], &device);
        let e = centred(x, "x", 2).err().unwrap().to_string();
        assert!(e.contains("first: NaN at row 2, column 0"), "{e}");
    }

    #[test]
    fn finite_values_whose_sum_overflows() {
        let device = Device::flex();
        let x = Tensor::<2>::from_floats([[3e38, 1.0], [3e38, 2.0], [0.0, 3.0]], &device);
        let e = centred(x, "x", 2).err().unwrap().to_string();
        assert!(e.contains("x has values too large to sum"), "{e}");
    }

    #[test]
    fn centres_and_keeps_the_means() {
        let device = Device::flex();
        let x = Tensor::<2>::from_floats([[1.0, 10.0], [3.0, 20.0], [5.0, 60.0]], &device);
        let c = centred(x, "x", 2).ok().unwrap();
        assert_eq!(c.mean, vec![3.0, 30.0]);
        let xc: Vec<f32> = c.xc.into_data().try_to_vec().unwrap();
        assert_eq!(xc, vec![-2.0, -20.0, 0.0, -10.0, 2.0, 30.0]);
        assert!(
            not_constant(
                &centred(Tensor::<2>::from_floats([[1.0], [2.0]], &device), "y", 2)
                    .ok()
                    .unwrap(),
                "y"
            )
            .is_ok()
        );
    }

    #[test]
    fn too_few_rows_and_no_columns() {
        let device = Device::flex();
        let x = Tensor::<2>::from_floats([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], &device);
        let e = centred(x, "x", 4).err().unwrap().to_string();
        assert!(
            e.contains("x has 3 rows; this estimator needs at least 4"),
            "{e}"
        );
        let empty = Tensor::<2>::zeros([5, 0], &device);
        assert!(
            centred(empty, "y", 2)
                .err()
                .unwrap()
                .to_string()
                .contains("no columns")
        );
    }

    #[test]
    fn constant_up_to_rounding() {
        let device = Device::flex();
        let x = Tensor::<2>::full([100, 3], 0.1f32, &device);
        let e = not_constant(&centred(x, "x", 2).ok().unwrap(), "x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("x is constant"), "{e}");
    }
}
