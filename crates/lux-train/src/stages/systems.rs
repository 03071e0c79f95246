//! [`System`]: what an evaluation compares — the base model and each trained adapter.

use std::path::{Path, PathBuf};

use lux_core::stage::StageContext;
use lux_core::{Error, IoContext, Result};

use std::sync::Arc;

use super::{LoadedModel, base_model};
use crate::adapter::Adapter;
use crate::model::Llama;

/// The file beside a saved adapter that says which [`Adapter`] wrote it (its recipe table as
/// JSON), so any stage can load it back.
pub const ADAPTER_SPEC_FILE: &str = "lux_adapter.json";

/// A model an evaluation scores: the base (`adapter = None`) or the base with the adapter a
/// training stage left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct System {
    /// `base`, or the training stage's name.
    pub name: String,
    /// The adapter directory.
    pub adapter: Option<PathBuf>,
}

/// `base`, then one system per adapter in the run's inputs, in training order.
pub fn systems(ctx: &StageContext) -> Vec<System> {
    let mut all = vec![System {
        name: "base".into(),
        adapter: None,
    }];
    for (key, artifact) in ctx.inputs_of_kind("adapter") {
        all.push(System {
            name: key.split('/').next().unwrap_or(key).to_string(),
            adapter: Some(artifact.path.clone()),
        });
    }
    all
}

/// The system's model on the `[model]`'s device (the shared base, or a copy with the adapter
/// loaded and merged when it can be), and the shared base (for its tokenizer).
pub fn load_system(ctx: &StageContext, system: &System) -> Result<(Llama, Arc<LoadedModel>)> {
    let base = base_model(ctx)?;
    let Some(dir) = &system.adapter else {
        return Ok((base.model.clone(), base));
    };
    let adapter = read_adapter_spec(dir)?;
    let mut model = adapter.load(base.model.clone(), dir)?;
    adapter.merge(&mut model)?;
    Ok((model, base))
}

/// Writes the adapter's recipe table beside its files (see [`ADAPTER_SPEC_FILE`]).
pub fn write_adapter_spec(adapter: &dyn Adapter, dir: &Path) -> Result<()> {
    lux_core::fs::write_json_atomic(dir.join(ADAPTER_SPEC_FILE), adapter)
}

/// Reads the [`Adapter`] that wrote `dir`.
pub fn read_adapter_spec(dir: &Path) -> Result<Box<dyn Adapter>> {
    let path = dir.join(ADAPTER_SPEC_FILE);
    let text = std::fs::read_to_string(&path).with_path(&path)?;
    serde_json::from_str(&text).map_err(|e| Error::parse(&path, None, e.to_string()))
}
