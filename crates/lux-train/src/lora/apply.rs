//! [`apply_lora`]: attach LoRA pairs to a model, initialised as PEFT does, base frozen.

use burn::module::{Module, Param};
use burn::tensor::{Tensor, TensorData};
use lux_core::{Result, rng};

use super::config::LoraConfig;
use crate::model::{Llama, LowRank};

/// Attaches a LoRA pair to every linear layer `config` targets and freezes everything else.
///
/// Initialisation follows PEFT's default: `A` from Kaiming-uniform with `a = √5`, which for
/// PEFT's `[r, in]` layout is `U(−1/√in, 1/√in)`, and `B = 0`, so the adapted model starts
/// exactly equal to the base. Each module's `A` comes from its own stream, seeded by `seed` and
/// the module's name, so adding a target does not change the others' initial values.
///
/// The whole base model goes through `Module::no_grad` first (no gradient, no optimizer state
/// for frozen weights); the new `A`/`B` parameters require gradients on an autodiff device.
///
/// Returns the model and the adapted module names. Errors when the config is invalid, when
/// its targets match no linear layer (the message lists the model's names), or when a target
/// already has a pair.
pub fn apply_lora(model: Llama, config: &LoraConfig, seed: u64) -> Result<(Llama, Vec<String>)> {
    config.validate()?;
    let names: Vec<String> = model.projections().into_iter().map(|(n, _)| n).collect();
    let targets = config.target_modules.select(&names)?;
    if let Some((name, _)) = model
        .projections()
        .into_iter()
        .find(|(n, p)| p.low_rank.is_some() && targets.contains(n))
    {
        return Err(lux_core::Error::invalid(
            "target_modules",
            format!("{name} already has a low-rank pair; merge or remove it first"),
        ));
    }
    let mut model = model.no_grad();
    let scale = config.scale();
    for (name, projection) in model.projections_mut() {
        if !targets.contains(&name) {
            continue;
        }
        let device = projection.weight.lazy_device();
        let (d_in, d_out) = (projection.d_input(), projection.d_output());
        let bound = 1.0 / (d_in as f64).sqrt();
        let mut stream = rng::SplitMix64::new(rng::hash(seed, &format!("lora_A/{name}")));
        let a: Vec<f32> = (0..d_in * config.r)
            .map(|_| ((stream.unit() * 2.0 - 1.0) * bound) as f32)
            .collect();
        let a = Tensor::<2>::from_data(TensorData::new(a, [d_in, config.r]), &device);
        let b = Tensor::<2>::zeros([config.r, d_out], &device);
        let mut pair = LowRank::new(Param::from_tensor(a), Param::from_tensor(b), scale);
        pair.dropout = config.lora_dropout;
        projection.set_low_rank(Some(pair));
    }
    Ok((model, targets))
}

/// The names of every LoRA parameter of `model` in PEFT's naming without the
/// `base_model.model.` prefix (`model.layers.0.self_attn.q_proj.lora_A`), in model order.
pub fn lora_parameter_names(model: &Llama) -> Vec<String> {
    model
        .projections()
        .into_iter()
        .filter(|(_, p)| p.low_rank.is_some())
        .flat_map(|(n, _)| [format!("{n}.lora_A"), format!("{n}.lora_B")])
        .collect()
}
