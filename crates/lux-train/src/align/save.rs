//! [`save_aligner`] / [`load_aligner`]: an aligner as `aligner_config.json` +
//! `aligner.safetensors`, in PyTorch's layout, so stage 1's result can be reused (stage 2,
//! evaluation, a resumed run) and loaded into `torch.nn.Sequential(Linear, GELU(), Linear)`.

use std::collections::HashMap;
use std::path::Path;

use burn::module::Param;
use burn::tensor::{Device, Tensor, TensorData};
use lux_core::{Error, IoContext, Result, fs};
use safetensors::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};

use super::aligner::{AlignMode, Aligner, AlignerConfig};

/// File names inside an aligner directory.
pub const ALIGNER_CONFIG_FILE: &str = "aligner_config.json";
/// The weights, keys `0.weight`, `0.bias` (and `2.weight`, `2.bias` with a hidden layer), each
/// weight `[out, in]` as `torch.nn.Linear` keeps it (LLaVA's `mm_projector` layout).
pub const ALIGNER_WEIGHTS_FILE: &str = "aligner.safetensors";

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedConfig {
    d_encoder: usize,
    d_model: usize,
    hidden: usize,
    mode: AlignMode,
}

/// Writes `aligner` into `dir` (created if needed; each file written atomically).
pub fn save_aligner(aligner: &Aligner, dir: &Path) -> Result<()> {
    let mut layers = vec![("0", &aligner.first)];
    if let Some(second) = &aligner.second {
        layers.push(("2", second));
    }
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (index, layer) in &layers {
        // burn keeps [in, out]; torch keeps [out, in].
        let w = layer.weight.val().detach().transpose();
        tensors.push((
            format!("{index}.weight"),
            w.dims().to_vec(),
            bytes(w.into_data())?,
        ));
        if let Some(b) = &layer.bias {
            let b = b.val().detach();
            tensors.push((
                format!("{index}.bias"),
                b.dims().to_vec(),
                bytes(b.into_data())?,
            ));
        }
    }
    let views = tensors
        .iter()
        .map(|(k, shape, data)| {
            safetensors::tensor::TensorView::new(Dtype::F32, shape.clone(), data)
                .map(|v| (k.clone(), v))
                .map_err(|e| Error::other(format!("tensor {k}"), e))
        })
        .collect::<Result<Vec<_>>>()?;
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    let serialized = safetensors::serialize(views, Some(metadata))
        .map_err(|e| Error::other("serialising the aligner", e))?;
    std::fs::create_dir_all(dir).with_path(dir)?;
    fs::write_atomic(dir.join(ALIGNER_WEIGHTS_FILE), &serialized)?;
    let hidden = aligner
        .second
        .as_ref()
        .map_or(0, |_| aligner.first.weight.lazy_shape().dims::<2>()[1]);
    fs::write_json_atomic(
        dir.join(ALIGNER_CONFIG_FILE),
        &SavedConfig {
            d_encoder: aligner.d_encoder(),
            d_model: aligner.d_model(),
            hidden,
            mode: aligner.mode,
        },
    )
}

/// Reads an aligner written by [`save_aligner`] onto `device`. Errors name the file and the
/// key: a missing or malformed config, a missing tensor, a shape that does not match the
/// config, a dtype other than F32.
pub fn load_aligner(dir: &Path, device: &Device) -> Result<Aligner> {
    let config_path = dir.join(ALIGNER_CONFIG_FILE);
    let text = std::fs::read_to_string(&config_path).with_path(&config_path)?;
    let saved: SavedConfig =
        serde_json::from_str(&text).map_err(|e| Error::parse_source(&config_path, None, e))?;
    let mut aligner = AlignerConfig::new(saved.d_encoder, saved.d_model)
        .with_hidden(saved.hidden)
        .with_mode(saved.mode)
        .init(device)
        .map_err(|e| Error::parse_source(&config_path, None, e))?;
    let weights_path = dir.join(ALIGNER_WEIGHTS_FILE);
    let raw = std::fs::read(&weights_path).with_path(&weights_path)?;
    let file =
        SafeTensors::deserialize(&raw).map_err(|e| Error::parse_source(&weights_path, None, e))?;
    let read = |key: &str, shape: &[usize]| -> Result<TensorData> {
        let view = file
            .tensor(key)
            .map_err(|_| Error::parse(&weights_path, None, format!("tensor `{key}` is missing")))?;
        if view.dtype() != Dtype::F32 {
            return Err(Error::parse(
                &weights_path,
                None,
                format!("tensor `{key}` is {:?}; lux writes F32", view.dtype()),
            ));
        }
        if view.shape() != shape {
            return Err(Error::parse(
                &weights_path,
                None,
                format!(
                    "tensor `{key}` has shape {:?}, the config needs {shape:?}",
                    view.shape()
                ),
            ));
        }
        let values: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        Ok(TensorData::new(values, shape.to_vec()))
    };
    let first_out = if saved.hidden == 0 {
        saved.d_model
    } else {
        saved.hidden
    };
    let mut layers = vec![("0", &mut aligner.first, saved.d_encoder, first_out)];
    if let Some(second) = aligner.second.as_mut() {
        layers.push(("2", second, saved.hidden, saved.d_model));
    }
    for (index, layer, d_in, d_out) in layers {
        let w = read(&format!("{index}.weight"), &[d_out, d_in])?;
        // torch [out, in] → burn [in, out], transposed on the host so the weight is contiguous.
        let w = w
            .try_to_vec::<f32>()
            .map_err(|e| Error::Numeric(format!("{e:?}")))?;
        let mut t = vec![0f32; w.len()];
        for o in 0..d_out {
            for i in 0..d_in {
                t[i * d_out + o] = w[o * d_in + i];
            }
        }
        layer.weight = Param::from_tensor(Tensor::<2>::from_data(
            TensorData::new(t, [d_in, d_out]),
            device,
        ));
        let b = read(&format!("{index}.bias"), &[d_out])?;
        layer.bias = Some(Param::from_tensor(Tensor::<1>::from_data(b, device)));
    }
    Ok(aligner)
}

fn bytes(data: TensorData) -> Result<Vec<u8>> {
    let values = data
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| Error::Numeric(format!("reading the aligner's weights: {e:?}")))?;
    Ok(values.iter().flat_map(|v| v.to_le_bytes()).collect())
}
