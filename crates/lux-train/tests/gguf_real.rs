//! The GGUF reader on the real SmolLM2-135M-Instruct file (`scripts/fetch-models.sh`), compared
//! with values from the Python `gguf` package (`tests/fixtures/gguf/smollm2_reference.json`,
//! written by `make_smollm2_reference.py`). Skips, saying why, when the model is absent; set
//! `LUX_MODELS` to the file or its directory when it is not in the default cache.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use lux_train::gguf::{self, GgufFile, GgufWeights};
use lux_train::model::WeightSource;
use serde::Deserialize;

#[derive(Deserialize)]
struct TensorRef {
    #[serde(rename = "type")]
    ty: String,
    shape: Vec<usize>,
    first: Vec<f64>,
    middle_offset: usize,
    middle: Vec<f64>,
    sum: f64,
    sum_sq: f64,
    hf_first: Option<Vec<f64>>,
}

#[derive(Deserialize)]
struct Reference {
    file_size: u64,
    tensor_count: usize,
    type_counts: BTreeMap<String, usize>,
    metadata: BTreeMap<String, serde_json::Value>,
    tensors: BTreeMap<String, TensorRef>,
}

fn reference() -> Reference {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gguf/smollm2_reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn smollm2() -> Option<GgufFile> {
    let Some(path) = gguf::find_smollm2() else {
        eprintln!(
            "skipping: SmolLM2 GGUF not found (run scripts/fetch-models.sh, or set LUX_MODELS to the \
             .gguf file or its directory); looked under {}",
            std::env::var_os("LUX_MODELS")
                .map(std::path::PathBuf::from)
                .or_else(gguf::models_dir)
                .map_or_else(
                    || "nothing ($HOME and $LUX_CACHE unset)".to_owned(),
                    |p| p.display().to_string()
                )
        );
        return None;
    };
    let r = reference();
    let size = std::fs::metadata(&path).unwrap().len();
    if size != r.file_size {
        eprintln!(
            "skipping: {} has {size} bytes, the reference was made from a file of {}",
            path.display(),
            r.file_size
        );
        return None;
    }
    Some(GgufFile::open(&path).unwrap())
}

fn assert_close(got: &[f32], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let w = w as f32;
        assert!(
            (g - w).abs() <= 1e-6 * w.abs(),
            "{what}[{i}]: lux {g}, gguf {w}"
        );
    }
}

#[test]
fn metadata_matches_the_python_reader() {
    let Some(file) = smollm2() else { return };
    let r = reference();
    let m = file.metadata();
    assert_eq!(file.version(), 3);
    assert_eq!(file.architecture().unwrap(), "llama");
    assert_eq!(m.get_u32("llama.block_count").unwrap(), 30);
    assert_eq!(m.get_u32("llama.embedding_length").unwrap(), 576);
    assert_eq!(m.get_u32("llama.feed_forward_length").unwrap(), 1536);
    assert_eq!(m.get_u32("llama.attention.head_count").unwrap(), 9);
    assert_eq!(m.get_u32("llama.attention.head_count_kv").unwrap(), 3);
    assert_eq!(
        m.get_str_array("tokenizer.ggml.tokens").unwrap().len(),
        49152
    );
    for (key, want) in &r.metadata {
        let got = match key.strip_suffix(".len") {
            Some(array) => serde_json::json!(m.get_array(array).unwrap().len()),
            None => match m.get(key).unwrap() {
                gguf::GgufValue::String(s) => serde_json::json!(s),
                gguf::GgufValue::F32(v) => serde_json::json!(f64::from(*v)),
                v => serde_json::json!(v.as_integer().unwrap() as i64),
            },
        };
        assert_eq!(&got, want, "{key}");
    }
    assert_eq!(file.tensors().len(), r.tensor_count);
    let mut counts = BTreeMap::new();
    for t in file.tensors() {
        *counts.entry(t.type_name()).or_insert(0) += 1;
    }
    assert_eq!(counts, r.type_counts);
}

#[test]
fn every_tensor_dequantizes_with_the_expected_shape() {
    let Some(file) = smollm2() else { return };
    let m = file.metadata();
    let hidden = m.get_usize("llama.embedding_length").unwrap();
    let ff = m.get_usize("llama.feed_forward_length").unwrap();
    let n_head = m.get_usize("llama.attention.head_count").unwrap();
    let n_kv = m.get_usize("llama.attention.head_count_kv").unwrap();
    let vocab = m.get_str_array("tokenizer.ggml.tokens").unwrap().len();
    let kv_dim = hidden / n_head * n_kv;
    let expected_shape = |name: &str| -> Vec<usize> {
        match name {
            "token_embd.weight" => vec![vocab, hidden],
            "output_norm.weight" => vec![hidden],
            _ => match name.split('.').nth(2).unwrap_or("") {
                "attn_norm" | "ffn_norm" => vec![hidden],
                "attn_q" | "attn_output" => vec![hidden, hidden],
                "attn_k" | "attn_v" => vec![kv_dim, hidden],
                "ffn_gate" | "ffn_up" => vec![ff, hidden],
                "ffn_down" => vec![hidden, ff],
                other => panic!("unexpected tensor {name} ({other})"),
            },
        }
    };
    let start = Instant::now();
    let mut n_values = 0usize;
    for t in file.tensors() {
        let (shape, values) = file.tensor_f32(&t.name).unwrap();
        assert_eq!(shape, expected_shape(&t.name), "{}", t.name);
        assert_eq!(values.len(), shape.iter().product::<usize>());
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            panic!("{}[{i}] is {}", t.name, values[i]);
        }
        n_values += values.len();
    }
    let elapsed = start.elapsed();
    eprintln!(
        "dequantized {} tensors ({n_values} values) of {} in {:.1} ms ({:.0} M values/s)",
        file.tensors().len(),
        file.path().display(),
        elapsed.as_secs_f64() * 1e3,
        n_values as f64 / elapsed.as_secs_f64() / 1e6
    );
    assert_eq!(n_values, 134_515_008);
}

#[test]
fn values_match_the_python_gguf_package() {
    let Some(file) = smollm2() else { return };
    for (name, r) in reference().tensors {
        assert_eq!(file.tensor_info(&name).unwrap().type_name(), r.ty, "{name}");
        let (shape, values) = file.tensor_f32(&name).unwrap();
        assert_eq!(shape, r.shape, "{name}");
        assert_close(&values[..64], &r.first, &format!("{name} first"));
        let mid = r.middle_offset;
        assert_close(&values[mid..mid + 64], &r.middle, &format!("{name} middle"));
        let sum: f64 = values.iter().map(|&v| f64::from(v)).sum();
        let sum_sq: f64 = values.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
        assert!(
            (sum - r.sum).abs() <= 1e-9 * r.sum_sq.max(1.0),
            "{name} sum: lux {sum}, gguf {}",
            r.sum
        );
        assert!(
            (sum_sq - r.sum_sq).abs() <= 1e-9 * r.sum_sq,
            "{name} sum of squares: {sum_sq} vs {}",
            r.sum_sq
        );
    }
}

#[test]
fn weight_source_gives_hf_layout() {
    let Some(file) = smollm2() else { return };
    let r = reference();
    let mut source = GgufWeights::new(file).unwrap();
    for (hf, gguf_name) in [
        (
            "model.layers.0.self_attn.q_proj.weight",
            "blk.0.attn_q.weight",
        ),
        (
            "model.layers.0.self_attn.k_proj.weight",
            "blk.0.attn_k.weight",
        ),
    ] {
        let want = r.tensors[gguf_name].hf_first.as_ref().unwrap();
        let (shape, values) = source.take(hf).unwrap().unwrap();
        assert_eq!(shape, r.tensors[gguf_name].shape);
        assert_close(&values[..64], want, hf);
    }
    let (shape, _) = source.take("model.embed_tokens.weight").unwrap().unwrap();
    assert_eq!(shape, vec![49152, 576]);
    // SmolLM2 ties its output layer to the embedding: there is no output.weight.
    assert!(source.take("lm_head.weight").unwrap().is_none());
}

#[test]
fn tokenizer_rebuilds_from_the_metadata() {
    let Some(file) = smollm2() else { return };
    let meta = file.tokenizer_metadata().unwrap();
    assert_eq!(
        (meta.model.as_str(), meta.pre.as_deref()),
        ("gpt2", Some("smollm"))
    );
    assert_eq!(
        (meta.bos_token_id, meta.eos_token_id, meta.padding_token_id),
        (Some(1), Some(2), Some(2))
    );
    let tok = lux_train::tokenizer::Tokenizer::from_gguf_metadata(&meta).unwrap();
    assert_eq!(
        tok.encode("The capital of France is", false).unwrap(),
        vec![504, 3575, 282, 4649, 314]
    );
}
