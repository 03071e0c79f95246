//! [`AdapterConfig`]: a serialisable description of trainable modules attached to a model.

use std::any::Any;
use std::fmt::Debug;

/// An adapter's configuration (LoRA, an alignment layer…): which modules it attaches to, and
/// what it leaves frozen.
///
/// The config is all a recipe holds; the training crate (`lux-train`) turns a config into
/// modules on a concrete model. burn 0.22's modules are not generic over a backend, so this
/// trait needs no type parameter and recipes can name adapters by `type`.
#[typetag::serde(tag = "type")]
pub trait AdapterConfig: Send + Sync + Debug {
    /// Module-name patterns the adapter targets (`q_proj`, `layers\.\d+\.mlp\..*`), as given.
    fn targets(&self) -> Vec<String>;

    /// Whether the base model's own weights stay frozen while this adapter trains.
    fn freezes_base(&self) -> bool {
        true
    }

    /// For the training crate to recover the concrete config.
    fn as_any(&self) -> &dyn Any;

    /// A name for logs; defaults to the type name.
    fn name(&self) -> String {
        self.typetag_name().to_string()
    }
}
