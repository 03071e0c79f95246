//! [`merge_lora`] / [`unmerge_lora`]: fold the adapters into the base weights for inference,
//! and take them out again.

use burn::tensor::module::linear;
use lux_core::{Error, Result};

use crate::model::{Llama, LowRank};

/// The pairs [`merge_lora`] folded in, by module name: what [`unmerge_lora`] needs.
#[derive(Debug)]
pub struct MergedLora {
    /// `(module name, pair)` in model order.
    pub pairs: Vec<(String, LowRank)>,
}

/// Replaces `W` by `W + s·A·B` in every adapted layer and detaches the pairs: the model then
/// runs at the base model's cost, with the adapter's outputs (up to f32 rounding).
pub fn merge_lora(model: &mut Llama) -> MergedLora {
    let mut pairs = Vec::new();
    for (name, projection) in model.projections_mut() {
        let Some(pair) = projection.set_low_rank(None) else {
            continue;
        };
        let delta = delta(&pair);
        projection.weight = projection.weight.clone().map(|w| w + delta);
        pairs.push((name, pair));
    }
    MergedLora { pairs }
}

/// Undoes [`merge_lora`]: `W ← W − s·A·B` and the pairs are attached again.
///
/// `W` comes back equal to the original up to one f32 rounding of the addition and the
/// subtraction (`|ΔW|` relative to `|W|`, about 1e-7). Errors when a module named in `merged`
/// is missing or already has a pair.
pub fn unmerge_lora(model: &mut Llama, merged: MergedLora) -> Result<()> {
    for (name, pair) in merged.pairs {
        let projection = model.projection_mut(&name).ok_or_else(|| {
            Error::invalid("merged", format!("the model has no linear layer {name}"))
        })?;
        if projection.low_rank.is_some() {
            return Err(Error::invalid(
                "merged",
                format!("{name} already has a low-rank pair"),
            ));
        }
        let delta = delta(&pair);
        projection.weight = projection.weight.clone().map(|w| w - delta);
        projection.set_low_rank(Some(pair));
    }
    Ok(())
}

/// `s·A·B` `[in, out]`, outside the autodiff graph.
fn delta(pair: &LowRank) -> burn::tensor::Tensor<2> {
    linear(pair.a.val().detach(), pair.b.val().detach(), None).mul_scalar(pair.scale)
}
