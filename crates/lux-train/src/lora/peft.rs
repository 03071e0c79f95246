//! PEFT's on-disk format: `adapter_config.json` + `adapter_model.safetensors`.
//!
//! Keys are PEFT's for a causal LM: `base_model.model.<module>.lora_A.weight` of shape
//! `[r, in]` and `...lora_B.weight` of shape `[out, r]`, f32, so `PeftModel.from_pretrained`
//! loads an adapter lux trained, and lux loads one PEFT trained.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use burn::module::{Module, Param};
use burn::tensor::{Tensor, TensorData};
use lux_core::{Error, IoContext, Result, fs};
use safetensors::{Dtype, SafeTensors};
use serde_json::{Value, json};

use super::config::{LoraConfig, TargetModules};
use crate::model::{Llama, LowRank};

/// A tensor read from the adapter file: its shape and its values.
type SavedTensor = (Vec<usize>, Vec<f32>);

/// The adapter's config file name, as PEFT writes it.
pub const ADAPTER_CONFIG_FILE: &str = "adapter_config.json";
/// The adapter's weights file name, as PEFT writes it.
pub const ADAPTER_WEIGHTS_FILE: &str = "adapter_model.safetensors";

const PREFIX: &str = "base_model.model.";

/// PEFT's key of a module's `lora_A` or `lora_B` weight (`which` is `"A"` or `"B"`).
pub fn peft_key(module: &str, which: &str) -> String {
    format!("{PREFIX}{module}.lora_{which}.weight")
}

/// Writes the model's LoRA pairs and `config` in PEFT's format into `dir` (created if needed),
/// each file atomically. Errors when the model has no pair.
pub fn save_peft(model: &Llama, config: &LoraConfig, dir: &Path) -> Result<()> {
    let mut tensors: BTreeMap<String, (Vec<usize>, Vec<u8>)> = BTreeMap::new();
    let mut modules = Vec::new();
    for (name, projection) in model.projections() {
        let Some(pair) = &projection.low_rank else {
            continue;
        };
        for (which, tensor) in [("A", pair.a.val()), ("B", pair.b.val())] {
            // lux: A [in, r], B [r, out]; PEFT (torch Linear): A [r, in], B [out, r].
            let t = tensor.detach().transpose();
            let shape = t.dims().to_vec();
            let values = host(t, &name)?;
            let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            tensors.insert(peft_key(&name, which), (shape, bytes));
        }
        modules.push(name);
    }
    if modules.is_empty() {
        return Err(Error::invalid("model", "has no LoRA pair to save"));
    }
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .map(|(k, (shape, bytes))| {
            safetensors::tensor::TensorView::new(Dtype::F32, shape.clone(), bytes)
                .map(|v| (k.clone(), v))
                .map_err(|e| Error::other(format!("tensor {k}"), e))
        })
        .collect::<Result<_>>()?;
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    let bytes = safetensors::serialize(views, Some(metadata))
        .map_err(|e| Error::other("serialising the adapter", e))?;
    std::fs::create_dir_all(dir).with_path(dir)?;
    fs::write_atomic(dir.join(ADAPTER_WEIGHTS_FILE), &bytes)?;
    fs::write_json_atomic(dir.join(ADAPTER_CONFIG_FILE), &peft_config_json(config))
}

/// `adapter_config.json` as PEFT writes it for a causal-LM LoRA.
fn peft_config_json(c: &LoraConfig) -> Value {
    let targets = match &c.target_modules {
        TargetModules::Names(n) => json!(n),
        TargetModules::Pattern(p) => json!(p),
    };
    json!({
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": c.base_model_name_or_path,
        "r": c.r,
        // PEFT's field is an int; keep whole values whole so Python sees `8`, not `8.0`.
        "lora_alpha": if c.lora_alpha.fract() == 0.0 && c.lora_alpha.abs() < 1e15 {
            json!(c.lora_alpha as i64)
        } else {
            json!(c.lora_alpha)
        },
        "lora_dropout": c.lora_dropout,
        "target_modules": targets,
        "use_rslora": c.use_rslora,
        "bias": c.bias,
        "fan_in_fan_out": false,
        "inference_mode": true,
        "init_lora_weights": true,
        "use_dora": false,
        "modules_to_save": null,
        "layers_to_transform": null,
        "layers_pattern": null,
        "rank_pattern": {},
        "alpha_pattern": {},
        "revision": null,
    })
}

/// Reads a PEFT LoRA adapter from `dir` and attaches it to `model` (whose base weights are
/// frozen, as [`apply_lora`](super::apply_lora) does). Returns the model and the adapter's
/// config.
///
/// Errors name the file and the key: a config that is not LoRA or uses what lux does not
/// implement (DoRA, per-module ranks, `fan_in_fan_out`), a key for a module the model lacks, a
/// module with only one of its two matrices, a shape that does not fit the layer or the rank,
/// a dtype other than F32/F16/BF16.
pub fn load_peft(model: Llama, dir: &Path) -> Result<(Llama, LoraConfig)> {
    let config_path = dir.join(ADAPTER_CONFIG_FILE);
    let config = read_peft_config(&config_path)?;

    let weights_path = dir.join(ADAPTER_WEIGHTS_FILE);
    let bytes = std::fs::read(&weights_path).with_path(&weights_path)?;
    let file = SafeTensors::deserialize(&bytes)
        .map_err(|e| Error::parse_source(&weights_path, None, e))?;
    let bad = |key: &str, m: String| Error::parse(&weights_path, Some(format!("tensor {key}")), m);

    // module → (A, B).
    let mut found: BTreeMap<String, [Option<SavedTensor>; 2]> = BTreeMap::new();
    for key in file.names() {
        let rest = key
            .strip_prefix(PREFIX)
            .ok_or_else(|| bad(key, format!("expected keys starting with {PREFIX}")))?;
        let (module, slot) = if let Some(m) = rest.strip_suffix(".lora_A.weight") {
            (m, 0)
        } else if let Some(m) = rest.strip_suffix(".lora_B.weight") {
            (m, 1)
        } else {
            return Err(bad(key, "not a lora_A/lora_B weight".into()));
        };
        let view = file.tensor(key).map_err(|e| bad(key, e.to_string()))?;
        let values = to_f32(view.dtype(), view.data()).map_err(|m| bad(key, m))?;
        found.entry(module.to_string()).or_default()[slot] = Some((view.shape().to_vec(), values));
    }
    if found.is_empty() {
        return Err(Error::parse(&weights_path, None, "holds no LoRA weights"));
    }

    // The config and the tensors must describe the same adapter, and it must fit the model
    // (PEFT refuses target modules the model lacks): a mismatch is an error naming both files,
    // never a partly applied adapter.
    let names: Vec<String> = model.projections().into_iter().map(|(n, _)| n).collect();
    let targets = config.target_modules.select(&names).map_err(|e| {
        Error::parse(
            &config_path,
            Some("target_modules".into()),
            format!("{e} (the model's linear layers: {})", summarise(&names)),
        )
    })?;
    if let Some(extra) = found.keys().find(|m| !targets.contains(m)) {
        return Err(Error::parse(
            &weights_path,
            Some(format!("tensor {}", peft_key(extra, "A"))),
            format!(
                "is for {extra}, which target_modules in {} does not select (it selects {})",
                config_path.display(),
                summarise(&targets)
            ),
        ));
    }
    if let Some(missing) = targets.iter().find(|m| !found.contains_key(*m)) {
        return Err(Error::parse(
            &config_path,
            Some("target_modules".into()),
            format!(
                "selects {missing}, for which {} holds no lora_A/lora_B weights",
                weights_path.display()
            ),
        ));
    }

    let mut model = model.no_grad();
    let scale = config.scale();
    let r = config.r;
    for (module, [a, b]) in found {
        let key_a = peft_key(&module, "A");
        let key_b = peft_key(&module, "B");
        let (Some((shape_a, a)), Some((shape_b, b))) = (a, b) else {
            return Err(bad(&module, "needs both lora_A and lora_B".into()));
        };
        let projection = model
            .projection_mut(&module)
            .ok_or_else(|| bad(&key_a, format!("the model has no linear layer {module}")))?;
        let (d_in, d_out) = (projection.d_input(), projection.d_output());
        if shape_a != [r, d_in] {
            return Err(bad(
                &key_a,
                format!("shape {shape_a:?}, expected [{r}, {d_in}] (r, in)"),
            ));
        }
        if shape_b != [d_out, r] {
            return Err(bad(
                &key_b,
                format!("shape {shape_b:?}, expected [{d_out}, {r}] (out, r)"),
            ));
        }
        let device = projection.weight.lazy_device();
        let a = Tensor::<2>::from_data(TensorData::new(a, [r, d_in]), &device).transpose();
        let b = Tensor::<2>::from_data(TensorData::new(b, [d_out, r]), &device).transpose();
        let mut pair = LowRank::new(Param::from_tensor(a), Param::from_tensor(b), scale);
        pair.dropout = config.lora_dropout;
        projection.set_low_rank(Some(pair));
    }
    Ok((model, config))
}

/// The first few of `names`, for an error message.
fn summarise(names: &[String]) -> String {
    let shown: Vec<&str> = names.iter().take(4).map(String::as_str).collect();
    match names.len() {
        0 => "none".into(),
        n if n > shown.len() => format!("{}, … ({n} in all)", shown.join(", ")),
        _ => shown.join(", "),
    }
}

/// Reads and checks a PEFT `adapter_config.json` on its own (no model needed): the part of
/// [`load_peft`] that parses user input, separate so that it can be fuzzed and reused.
/// Errors name the file.
pub fn read_peft_config(config_path: &Path) -> Result<LoraConfig> {
    let text = std::fs::read_to_string(config_path).with_path(config_path)?;
    let raw: Value =
        serde_json::from_str(&text).map_err(|e| Error::parse_source(config_path, None, e))?;
    let config = config_from_peft(&raw).map_err(|m| Error::parse(config_path, None, m))?;
    config
        .validate()
        .map_err(|e| Error::parse_source(config_path, None, e))?;
    Ok(config)
}

/// The LoRA settings of a PEFT `adapter_config.json`; PEFT's other fields are checked only
/// where lux would otherwise compute something different.
fn config_from_peft(raw: &Value) -> std::result::Result<LoraConfig, String> {
    let field = |k: &str| raw.get(k).filter(|v| !v.is_null());
    match field("peft_type").and_then(Value::as_str) {
        Some("LORA") => {}
        other => return Err(format!("peft_type: expected \"LORA\", found {other:?}")),
    }
    if field("use_dora").and_then(Value::as_bool) == Some(true) {
        return Err("use_dora: DoRA adapters are not supported".into());
    }
    if field("fan_in_fan_out").and_then(Value::as_bool) == Some(true) {
        return Err("fan_in_fan_out: only torch Linear layouts are supported".into());
    }
    for k in ["rank_pattern", "alpha_pattern"] {
        if field(k)
            .and_then(Value::as_object)
            .is_some_and(|m| !m.is_empty())
        {
            return Err(format!(
                "{k}: per-module ranks and alphas are not supported"
            ));
        }
    }
    let r = field("r")
        .and_then(Value::as_u64)
        .ok_or("r: missing or not a positive integer")? as usize;
    let lora_alpha = field("lora_alpha")
        .and_then(Value::as_f64)
        .ok_or("lora_alpha: missing or not a number")?;
    let target_modules = match field("target_modules") {
        Some(Value::String(s)) => TargetModules::Pattern(s.clone()),
        Some(Value::Array(names)) => TargetModules::Names(
            names
                .iter()
                .map(|n| n.as_str().map(str::to_string))
                .collect::<Option<_>>()
                .ok_or("target_modules: expected strings")?,
        ),
        _ => return Err("target_modules: missing".into()),
    };
    Ok(LoraConfig {
        r,
        lora_alpha,
        lora_dropout: field("lora_dropout").and_then(Value::as_f64).unwrap_or(0.0),
        use_rslora: field("use_rslora")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        target_modules,
        bias: field("bias")
            .and_then(Value::as_str)
            .unwrap_or("none")
            .to_string(),
        base_model_name_or_path: field("base_model_name_or_path")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

fn to_f32(dtype: Dtype, data: &[u8]) -> std::result::Result<Vec<f32>, String> {
    match dtype {
        Dtype::F32 => Ok(data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()),
        Dtype::F16 => Ok(data
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect()),
        Dtype::BF16 => Ok(data
            .chunks_exact(2)
            .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect()),
        other => Err(format!("dtype {other:?} is not supported (F32, F16, BF16)")),
    }
}

fn host(t: Tensor<2>, name: &str) -> Result<Vec<f32>> {
    t.into_data()
        .try_into_vec::<f32>()
        .map_err(|e| Error::invalid(name, format!("reading the adapter: {e:?}")))
}
