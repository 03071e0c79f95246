//! Mid-stage checkpoints of [`train_aligner`](super::train_aligner) and
//! [`train_llm`](super::train_llm): a stage interrupted after step `N` resumes at step `N + 1`
//! with the same weights, optimizer state and data order.
//!
//! `checkpoint-N/` holds the stage's trainable parameters (`trainable.safetensors`, keyed by
//! their position in module order, each with the parameter id the optimizer state is keyed
//! by), AdamW's state (`optimizer.bpk`) and `stage_state.json` (step, epoch, the rest of the
//! epoch's order, the report so far). Frozen parameters (the LLM in stage 1, its base weights
//! in stage 2) are not written: the caller rebuilds the same module. A checkpoint is written
//! into a temporary directory renamed into place, so an interrupted write leaves none.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::ModuleOptimizer;
use burn::tensor::{Tensor, TensorData};
use lux_core::{Error, IoContext, Result, fs};
use safetensors::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};

use super::two_stage::StageReport;
use crate::sft::checkpoint_dir;

const TRAINABLE: &str = "trainable.safetensors";
const OPTIMIZER: &str = "optimizer.bpk";
const STATE: &str = "stage_state.json";

/// Where a stage stands after a step, as written to `stage_state.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StageState {
    /// `"align"` or `"llm"`.
    pub(crate) stage: String,
    /// Steps done.
    pub(crate) step: usize,
    /// Epochs started (the next reshuffle draws epoch `epoch`).
    pub(crate) epoch: usize,
    /// What is left of the current epoch's order, drawn from the end.
    pub(crate) order: Vec<usize>,
    /// Settings that shape the run; a resumed stage must have the same.
    pub(crate) seed: u64,
    pub(crate) batch_size: usize,
    pub(crate) steps: usize,
    /// The report so far.
    pub(crate) report: StageReport,
}

/// The newest complete `checkpoint-N/` under `dir` (highest `N`), if any.
pub(crate) fn latest(dir: &Path) -> Option<PathBuf> {
    checkpoint_dir::newest(dir, STATE)
}

/// Writes `dir/checkpoint-{state.step}/` atomically.
pub(crate) fn save<M: Module>(
    dir: &Path,
    module: &M,
    optim: &ModuleOptimizer,
    state: &StageState,
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
    checkpoint_dir::write(dir, state.step, |tmp| {
        fs::write_atomic(tmp.join(TRAINABLE), &serialized)?;
        let optim_path = tmp.join(OPTIMIZER);
        optim
            .save(&optim_path)
            .map_err(|e| Error::parse(&optim_path, None, format!("{e:?}")))?;
        fs::write_json_atomic(tmp.join(STATE), state)
    })
}

/// Reads `checkpoint`'s state and puts its trainable parameters (values and ids) into
/// `module`, whose trainable parameters must match in number, order and shape.
pub(crate) fn load<M: Module>(
    checkpoint: &Path,
    module: M,
    optim: ModuleOptimizer,
) -> Result<(M, ModuleOptimizer, StageState)> {
    let state_path = checkpoint.join(STATE);
    let text = std::fs::read_to_string(&state_path).with_path(&state_path)?;
    let state: StageState =
        serde_json::from_str(&text).map_err(|e| Error::parse(&state_path, None, e.to_string()))?;

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
    Ok((module, optim, state))
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
