//! [`Metric`]: representations or predictions in, a named number out.

use std::fmt::Debug;

use crate::plugin::judge_context::MetricContext;
use crate::{Error, Result};

/// A borrowed row-major `rows × cols` matrix of `f32` (one row per example).
#[derive(Debug, Clone, Copy)]
pub struct MatrixRef<'a> {
    /// Number of rows (examples).
    pub rows: usize,
    /// Number of columns (features).
    pub cols: usize,
    /// `rows * cols` values, row-major.
    pub data: &'a [f32],
}

impl<'a> MatrixRef<'a> {
    /// A view of `data` as `rows × cols`; errors when the sizes disagree.
    pub fn new(rows: usize, cols: usize, data: &'a [f32]) -> Result<MatrixRef<'a>> {
        if rows.checked_mul(cols) != Some(data.len()) {
            return Err(Error::Numeric(format!(
                "matrix of {rows}×{cols} needs {} values, got {}",
                rows.saturating_mul(cols),
                data.len()
            )));
        }
        Ok(MatrixRef { rows, cols, data })
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &'a [f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }
}

/// The input of a metric.
#[derive(Debug, Clone, Copy)]
pub enum MetricInput<'a> {
    /// Two representations of the same items (e.g. hidden states of parallel sentences in two
    /// languages): row `i` of `x` and of `y` describe item `i`.
    Representations {
        /// First representation.
        x: MatrixRef<'a>,
        /// Second representation.
        y: MatrixRef<'a>,
    },
    /// Predictions and references, aligned by index.
    Predictions {
        /// Model outputs.
        predictions: &'a [String],
        /// Expected outputs.
        references: &'a [String],
    },
}

/// Computes one number from representations or predictions.
///
/// Contract: inputs the metric cannot give a meaningful value for (too few rows, constant
/// columns, NaNs, mismatched lengths) are an `Err` explaining why, never a NaN.
#[typetag::serde(tag = "type")]
pub trait Metric: Send + Sync + Debug {
    /// Computes the metric.
    fn compute(&self, input: &MetricInput<'_>) -> Result<f64>;

    /// Called once before the first computation of a run: read files the settings name
    /// (relative paths against `ctx.base_dir`) or take shared models from `ctx.resources`.
    fn prepare(&mut self, ctx: &MetricContext) -> Result<()> {
        let _ = ctx;
        Ok(())
    }

    /// The metric's name in reports; defaults to the type name.
    fn name(&self) -> String {
        self.typetag_name().to_string()
    }
}
