//! [`Adapter`]: trainable modules attached to a frozen model, saved in an interchange format.

use std::fmt::Debug;
use std::path::Path;

use lux_core::Result;

use crate::model::Llama;

/// An adapter: what a training stage attaches to the base model, trains, and saves.
///
/// LoRA ([`crate::lora::LoraConfig`], `type = "lora"`) is one; a recipe names an adapter in
/// its training stage (`adapter = { type = "lora", r = 16, lora_alpha = 32.0 }`), and a
/// crate of your own adds others with `#[typetag::serde(name = "...")]`.
///
/// Contract:
/// - [`attach`](Adapter::attach) freezes the base model (`Module::no_grad`) and adds
///   parameters that require gradients; the optimizer steps exactly those, so "what trains"
///   is "what has a gradient", and [`attach`](Adapter::attach) returns their names;
/// - [`save`](Adapter::save) writes only the adapter, in a format other tools read (PEFT's
///   `adapter_config.json` + `adapter_model.safetensors` for LoRA), and
///   [`load`](Adapter::load) reads it back onto the same base: `load(save(m))` computes what
///   `m` computes;
/// - the same seed gives the same initial values.
///
/// LinguaLIFT's alignment layer is another ([`crate::align::AlignerAdapter`], `type =
/// "aligner"`): an input adapter in front of the frozen model, saved as safetensors in
/// `torch.nn.Sequential` layout, which does not merge.
#[typetag::serde(tag = "type")]
pub trait Adapter: Send + Sync + Debug {
    /// Attaches the adapter to `model` (base frozen), initialised from `seed`; returns the
    /// model and the names of the modules that now train.
    fn attach(&self, model: Llama, seed: u64) -> Result<(Llama, Vec<String>)>;

    /// Writes the adapter of `model` into `dir` (created if missing).
    fn save(&self, model: &Llama, dir: &Path) -> Result<()>;

    /// Reads an adapter written by [`save`](Adapter::save) from `dir` onto `model`, the base
    /// without this adapter.
    fn load(&self, model: Llama, dir: &Path) -> Result<Llama>;

    /// Folds the adapter into the base weights so the model runs at the base's cost; returns
    /// whether it did (an adapter that cannot be folded leaves the model as it is).
    fn merge(&self, model: &mut Llama) -> Result<bool> {
        let _ = model;
        Ok(false)
    }

    /// Records the base model's name in what [`save`](Adapter::save) writes (PEFT's
    /// `base_model_name_or_path`), when the recipe did not give one.
    fn set_base_model(&mut self, name: &str) {
        let _ = name;
    }

    /// A name for logs and reports; defaults to the type name.
    fn name(&self) -> String {
        self.typetag_name().to_string()
    }
}

#[cfg(test)]
mod object_safety {
    fn _obj_safe(_: &dyn super::Adapter) {}
    fn _send_sync<T: Send + Sync + ?Sized>() {}
    fn _adapter() {
        _send_sync::<dyn super::Adapter>();
    }
}
