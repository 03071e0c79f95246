//! `checkpoint-N/`: everything a [`Trainer`](super::Trainer) needs to continue a run after
//! step `N` exactly as if it had not stopped.
//!
//! A checkpoint holds the trainable parameters (`trainable.safetensors`, keyed by their
//! position in module order, each with the parameter id AdamW's state is keyed by), AdamW's
//! state (`optimizer.bpk`), `trainer_state.json` (step, epoch and position in it, the settings
//! that shape the run, the metrics so far) and whatever the objective saves for users (for SFT
//! the PEFT adapter, so any checkpoint loads in PEFT). Frozen parameters are not written: the
//! caller rebuilds the same module. A checkpoint is written into a temporary directory renamed
//! into place, so an interrupted write leaves the previous checkpoints and no half-written one;
//! `checksums.json` holds every file's SHA-256, checked before anything is loaded, so a file
//! damaged later is refused (and the run resumes from an older checkpoint) instead of loaded.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::ModuleOptimizer;
use burn::tensor::{Tensor, TensorData};
use lux_core::{Error, IoContext, Result, fs};
use safetensors::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};

use super::metrics::StepMetrics;

const TRAINABLE: &str = "trainable.safetensors";
const OPTIMIZER: &str = "optimizer.bpk";
/// The file whose presence makes a `checkpoint-N/` complete.
pub(crate) const STATE: &str = "trainer_state.json";

/// `trainer_state.json` (transformers' names where they exist).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TrainerState {
    /// The objective that wrote it.
    pub(crate) objective: String,
    /// Optimizer steps done.
    pub(crate) global_step: usize,
    /// The epoch the next step draws from.
    pub(crate) epoch: usize,
    /// Index of the next accumulation group in `epoch`'s order.
    pub(crate) next_group: usize,
    /// Settings that shape the run; a resumed run must have the same.
    pub(crate) seed: u64,
    pub(crate) per_device_train_batch_size: usize,
    pub(crate) gradient_accumulation_steps: usize,
    /// Validation loss before the first step.
    pub(crate) initial_eval_loss: Option<f64>,
    /// The metrics so far.
    pub(crate) log_history: Vec<StepMetrics>,
}

/// The newest complete `checkpoint-N/` under `dir` (highest `N` holding a state file) whose
/// files match their checksums, if any; a corrupted one is skipped with a warning naming the
/// file, so a run resumes from the newest checkpoint it can trust.
pub(crate) fn latest(dir: &Path) -> Option<PathBuf> {
    let mut all = complete(dir);
    all.sort_by_key(|(step, _)| std::cmp::Reverse(*step));
    all.into_iter().map(|(_, path)| path).find(|path| match verify(path) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(checkpoint = %path.display(), "skipping a corrupted checkpoint: {e}");
            false
        }
    })
}

/// Every complete `checkpoint-N/` under `dir`, with its `N`.
fn complete(dir: &Path) -> Vec<(usize, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let step: usize = entry
                .file_name()
                .to_str()?
                .strip_prefix("checkpoint-")?
                .parse()
                .ok()?;
            entry
                .path()
                .join(STATE)
                .is_file()
                .then(|| (step, entry.path()))
        })
        .collect()
}

/// The file of a checkpoint listing the SHA-256 of every other file in it.
const CHECKSUMS: &str = "checksums.json";

/// SHA-256 of a file, in hex.
fn sha256(path: &Path) -> Result<String> {
    use sha2::{Digest, Sha256};
    let mut file = std::fs::File::open(path).with_path(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).with_path(path)?;
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Writes `dir/checksums.json`: the SHA-256 of every file in `dir` (flat, as checkpoints are).
fn write_checksums(dir: &Path) -> Result<()> {
    let mut sums = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(dir).with_path(dir)? {
        let path = entry.with_path(dir)?.path();
        if path.is_file() {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            sums.insert(name, sha256(&path)?);
        }
    }
    fs::write_json_atomic(dir.join(CHECKSUMS), &sums)
}

/// Checks every file a checkpoint's `checksums.json` lists; an error names the first file that
/// is missing or changed since the checkpoint was written.
pub(crate) fn verify(checkpoint: &Path) -> Result<()> {
    let list = checkpoint.join(CHECKSUMS);
    let text = std::fs::read_to_string(&list).with_path(&list)?;
    let sums: std::collections::BTreeMap<String, String> =
        serde_json::from_str(&text).map_err(|e| Error::parse_source(&list, None, e))?;
    for (name, expected) in &sums {
        let path = checkpoint.join(name);
        if !path.is_file() {
            return Err(Error::parse(
                &path,
                None,
                format!("missing (listed in {CHECKSUMS})"),
            ));
        }
        if &sha256(&path)? != expected {
            return Err(Error::parse(
                &path,
                None,
                format!(
                    "its SHA-256 differs from the one in {CHECKSUMS}: the file changed after \
                     the checkpoint was written (corrupted?); it is not loaded"
                ),
            ));
        }
    }
    Ok(())
}

/// Writes `dir/checkpoint-{state.global_step}/`: the trainable parameters, the optimizer, the
/// state, and what `extra` writes into the directory.
pub(crate) fn save<M: Module>(
    dir: &Path,
    module: &M,
    optim: &ModuleOptimizer,
    state: &TrainerState,
    extra: impl FnOnce(&Path) -> Result<()>,
) -> Result<()> {
    let mut params = Trainable::default();
    module.visit(&mut params);
    let views = params
        .tensors
        .iter()
        .enumerate()
        .map(|(i, (_, shape, bytes))| {
            safetensors::tensor::TensorView::new(Dtype::F32, shape.clone(), bytes)
                .map(|view| (i.to_string(), view))
                .map_err(|e| Error::other(format!("trainable parameter {i}"), e))
        })
        .collect::<Result<Vec<_>>>()?;
    let ids: HashMap<String, String> = params
        .tensors
        .iter()
        .enumerate()
        .map(|(i, (id, _, _))| (i.to_string(), id.val().to_string()))
        .collect();
    let serialized = safetensors::serialize(views, Some(ids))
        .map_err(|e| Error::other("serialising the trainable parameters", e))?;

    let target = dir.join(format!("checkpoint-{}", state.global_step));
    let tmp = dir.join(format!(".checkpoint-{}.tmp", state.global_step));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).with_path(&tmp)?;
    }
    std::fs::create_dir_all(&tmp).with_path(&tmp)?;
    extra(&tmp)?;
    fs::write_atomic(tmp.join(TRAINABLE), &serialized)?;
    let optim_path = tmp.join(OPTIMIZER);
    optim
        .save(&optim_path)
        .map_err(|e| Error::parse(&optim_path, None, format!("{e:?}")))?;
    fs::write_json_atomic(tmp.join(STATE), state)?;
    write_checksums(&tmp)?;
    if !target.exists() {
        return std::fs::rename(&tmp, &target).with_path(&target);
    }
    // A run resumed from an older checkpoint writes this step again. The old one is moved
    // aside, not deleted in place, so a kill at any point leaves `checkpoint-N` whole (old or
    // new) or absent, never half deleted; the aside copy's name is not a checkpoint's.
    let aside = dir.join(format!(".checkpoint-{}.old", state.global_step));
    if aside.exists() {
        std::fs::remove_dir_all(&aside).with_path(&aside)?;
    }
    std::fs::rename(&target, &aside).with_path(&aside)?;
    std::fs::rename(&tmp, &target).with_path(&target)?;
    std::fs::remove_dir_all(&aside).with_path(&aside)
}

/// Reads `checkpoint/trainer_state.json`.
pub(crate) fn read_state(checkpoint: &Path) -> Result<TrainerState> {
    let path = checkpoint.join(STATE);
    let text = std::fs::read_to_string(&path).with_path(&path)?;
    serde_json::from_str(&text).map_err(|e| Error::parse_source(&path, None, e))
}

/// Puts `checkpoint`'s trainable parameters (values and ids) into `module`, whose trainable
/// parameters must match in number, order and shape, and loads the optimizer state into
/// `optim`.
pub(crate) fn load<M: Module>(
    checkpoint: &Path,
    module: M,
    optim: ModuleOptimizer,
) -> Result<(M, ModuleOptimizer)> {
    let path = checkpoint.join(TRAINABLE);
    let raw = std::fs::read(&path).with_path(&path)?;
    let (_, metadata) =
        SafeTensors::read_metadata(&raw).map_err(|e| Error::parse(&path, None, e.to_string()))?;
    let ids = metadata.metadata().clone().unwrap_or_default();
    let file =
        SafeTensors::deserialize(&raw).map_err(|e| Error::parse(&path, None, e.to_string()))?;
    let mut saved = Vec::with_capacity(file.len());
    for i in 0..file.len() {
        let key = i.to_string();
        let view = file
            .tensor(&key)
            .map_err(|_| Error::parse(&path, None, format!("tensor `{key}` is missing")))?;
        if view.dtype() != Dtype::F32 {
            return Err(Error::parse(
                &path,
                None,
                format!("tensor `{key}` is not F32"),
            ));
        }
        let id: u64 = ids
            .get(&key)
            .and_then(|id| id.parse().ok())
            .ok_or_else(|| Error::parse(&path, None, format!("no parameter id for `{key}`")))?;
        let values: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        saved.push((ParamId::from(id), view.shape().to_vec(), values));
    }
    let mut restore = Restore {
        saved: saved.into_iter(),
        error: None,
        count: 0,
    };
    let module = module.map(&mut restore);
    if let Some(why) = restore.error {
        return Err(Error::parse(&path, None, why));
    }
    if restore.saved.len() > 0 {
        return Err(Error::parse(
            &path,
            None,
            format!(
                "{} trainable parameters saved, the module has {}",
                restore.count + restore.saved.len(),
                restore.count
            ),
        ));
    }

    let optim_path = checkpoint.join(OPTIMIZER);
    if !optim_path.exists() {
        return Err(Error::parse(
            &optim_path,
            None,
            "the optimizer state is missing",
        ));
    }
    let optim = optim
        .load(&optim_path)
        .map_err(|e| Error::parse(&optim_path, None, format!("{e:?}")))?;
    Ok((module, optim))
}

/// Collects `(id, shape, little-endian f32 bytes)` of every parameter that takes gradients.
#[derive(Default)]
struct Trainable {
    tensors: Vec<(ParamId, Vec<usize>, Vec<u8>)>,
}

impl ModuleVisitor for Trainable {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let value = param.val();
        if !value.is_require_grad() {
            return;
        }
        let shape = value.dims().to_vec();
        let values = value
            .detach()
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap_or_default();
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.tensors.push((param.id, shape, bytes));
    }
}

/// Puts saved values and ids into the parameters that take gradients, in module order.
struct Restore {
    saved: std::vec::IntoIter<(ParamId, Vec<usize>, Vec<f32>)>,
    error: Option<String>,
    count: usize,
}

impl ModuleMapper for Restore {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let value = param.val();
        if self.error.is_some() || !value.is_require_grad() {
            return param;
        }
        let Some((id, shape, values)) = self.saved.next() else {
            self.count += 1;
            self.error = Some(format!(
                "the module has more trainable parameters than the {} saved",
                self.count - 1
            ));
            return param;
        };
        self.count += 1;
        if shape != value.dims() {
            self.error = Some(format!(
                "trainable parameter {} has shape {shape:?} in the checkpoint, {:?} in the module",
                self.count - 1,
                value.dims()
            ));
            return param;
        }
        let device = value.device();
        let tensor = Tensor::<D>::from_data(TensorData::new(values, shape), &device);
        param.transform_for_load(tensor, id)
    }
}
