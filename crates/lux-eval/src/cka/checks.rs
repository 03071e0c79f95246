//! Input checks shared by the CKA estimators: each failure is an [`Error::Numeric`] that names
//! the input (`x`, `y`, `lb layer 3`) and what is wrong with it.

use burn::tensor::{DType, FloatDType, Tensor};
use lux_core::{Error, Result};

use super::{host_vec, scalar};

/// Variance below this fraction of the mean square is rounding noise of a constant input
/// (f32 means over thousands of rows are off by a few dozen ulps).
const CONSTANT_RELATIVE: f64 = 64.0 * 64.0 * (f32::EPSILON as f64) * (f32::EPSILON as f64);

/// Validates one representation and returns it as a detached float tensor ready for the
/// estimators: f16/bf16 are widened to f32, f32 and f64 are kept.
pub(crate) fn input(x: Tensor<2>, label: &str, min_rows: usize) -> Result<Tensor<2>> {
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
    finite(&x, label)?;
    Ok(x)
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

/// Errors when `x` is constant: every column holds a single value, or the centred `xc` has a
/// variance that is only f32 rounding noise of `x`'s magnitude.
pub(crate) fn not_constant(x: &Tensor<2>, xc: &Tensor<2>, label: &str) -> Result<()> {
    let variance = scalar(xc.clone().square().sum(), label)?;
    let magnitude = scalar(x.clone().square().sum(), label)?;
    // The exact test costs two more passes: only run it when the variance is suspiciously small.
    let suspicious = variance <= 1e-6 * magnitude;
    let exact = suspicious
        && x.clone()
            .max_dim(0)
            .equal(x.clone().min_dim(0))
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
        let e = input(x, "lb layer 2", 2).unwrap_err().to_string();
        assert_eq!(
            e,
            "lb layer 2 contains NaN or infinite values (first: inf at row 1, column 1)"
        );
    }

    #[test]
    fn too_few_rows_and_no_columns() {
        let device = Device::flex();
        let x = Tensor::<2>::from_floats([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], &device);
        let e = input(x, "x", 4).unwrap_err().to_string();
        assert!(
            e.contains("x has 3 rows; this estimator needs at least 4"),
            "{e}"
        );
        let empty = Tensor::<2>::zeros([5, 0], &device);
        assert!(
            input(empty, "y", 2)
                .unwrap_err()
                .to_string()
                .contains("no columns")
        );
    }

    #[test]
    fn constant_up_to_rounding() {
        let device = Device::flex();
        let x = Tensor::<2>::full([100, 3], 0.1f32, &device);
        let xc = x.clone().sub(x.clone().mean_dim(0));
        let e = not_constant(&x, &xc, "x").unwrap_err().to_string();
        assert!(e.contains("x is constant"), "{e}");
    }
}
