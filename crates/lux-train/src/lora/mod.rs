//! LoRA adapters (Hu et al. 2021) with PEFT's conventions, so adapters move freely between lux
//! and Python.
//!
//! | file | concept |
//! |---|---|
//! | `config.rs` | [`LoraConfig`], [`TargetModules`]: PEFT's `LoraConfig` fields and target matching |
//! | `apply.rs` | [`apply_lora`]: attach `(A, B)` pairs, PEFT's initialisation, freeze the base |
//! | `merge.rs` | [`merge_lora`] / [`unmerge_lora`]: fold `s·A·B` into `W` and back |
//! | `peft.rs` | [`save_peft`] / [`load_peft`]: `adapter_config.json` + `adapter_model.safetensors` |
//!
//! # How it computes
//!
//! Each targeted [`Projection`](crate::model::Projection) gets a
//! [`LowRank`](crate::model::LowRank) pair and computes `x·W + s·dropout(x)·A·B`. `W` is never
//! rebuilt (`W + s·A·B` would cost a `d_in × d_out` product per step and a gradient of that
//! size); the adapter's cost is two thin products.
//!
//! # What is trainable
//!
//! [`apply_lora`] calls burn's `Module::no_grad` on the whole model first, so every base weight
//! (embeddings, norms, projections, the head) is a constant of the autodiff graph: it gets no
//! gradient, and an optimizer, which only steps parameters that have one, keeps no state for
//! it. The `A`/`B` parameters are created afterwards and require gradients.
//! [`lora_parameter_names`] lists them.
//!
//! # Layouts
//!
//! burn stores a linear weight as `[in, out]`; PEFT stores `lora_A.weight` as `[r, in]` and
//! `lora_B.weight` as `[out, r]` (torch's `[out, in]`). lux keeps `A` as `[in, r]` and `B` as
//! `[r, out]`, and [`save_peft`] / [`load_peft`] transpose.

mod apply;
mod config;
mod merge;
mod peft;

pub use apply::{apply_lora, lora_parameter_names};
pub use config::{LoraConfig, TargetModules};
pub use merge::{MergedLora, merge_lora, unmerge_lora};
pub use peft::{
    ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, load_peft, peft_key, read_peft_config, save_peft,
};
