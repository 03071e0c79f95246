//! SmolLM2-135M-Instruct from its real GGUF file (fetched by `scripts/fetch-models.sh`):
//! greedy continuation, and logits against transformers' own GGUF loading.

use burn::tensor::{Device, Int, Tensor, TensorData};
use lux_train::gguf::find_smollm2;
use lux_train::model::Llama;

fn load() -> Option<(Llama, lux_train::tokenizer::Tokenizer)> {
    let Some(path) = find_smollm2() else {
        eprintln!(
            "skipping: SmolLM2 GGUF not found (run `bash scripts/fetch-models.sh`, or set LUX_MODELS)"
        );
        return None;
    };
    Some(Llama::from_gguf(&path, &Device::flex()).expect("load SmolLM2"))
}

fn ids_tensor(ids: &[u32]) -> Tensor<2, Int> {
    let data: Vec<i64> = ids.iter().map(|&i| i64::from(i)).collect();
    Tensor::from_data(TensorData::new(data, [1, ids.len()]), &Device::flex())
}

fn argmax(row: &[f32]) -> u32 {
    let mut best = 0;
    for (i, v) in row.iter().enumerate() {
        if *v > row[best] {
            best = i;
        }
    }
    best as u32
}

#[test]
fn greedy_continuation_is_coherent_and_logits_match_transformers() {
    let Some((model, tok)) = load() else { return };
    let prompt = "The capital of France is";
    let ids = tok.encode(prompt, true).unwrap();
    assert_eq!(ids, [504, 3575, 282, 4649, 314]);

    // Logits of the last prompt position against transformers (fixture).
    let reference: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/smollm2/logits_reference.json")).unwrap();
    let logits = model.forward(ids_tensor(&ids), None);
    let [_, s, v] = logits.dims();
    let last: Vec<f32> = logits
        .slice([0..1, s - 1..s, 0..v])
        .into_data()
        .try_into_vec::<f32>()
        .unwrap();
    let mut max_err = 0f32;
    for (i, want) in reference["last_logits_head"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        max_err = max_err.max((last[i] - want.as_f64().unwrap() as f32).abs());
    }
    for pair in reference["last_logits_top"].as_array().unwrap() {
        let (id, want) = (
            pair[0].as_u64().unwrap() as usize,
            pair[1].as_f64().unwrap() as f32,
        );
        max_err = max_err.max((last[id] - want).abs());
    }
    assert!(max_err < 1e-3, "max |logit - transformers| = {max_err}");

    // Greedy continuation with the KV cache.
    let mut cache = model.new_cache();
    let mut next = argmax(
        &model
            .forward_step_last(ids_tensor(&ids), None, &mut cache)
            .into_data()
            .try_into_vec::<f32>()
            .unwrap(),
    );
    let mut out = vec![next];
    for _ in 0..7 {
        let logits = model.forward_step_last(ids_tensor(&[next]), None, &mut cache);
        next = argmax(&logits.into_data().try_into_vec::<f32>().unwrap());
        out.push(next);
    }
    let text = tok.decode(&out, true).unwrap();
    eprintln!("{prompt}{text}");
    assert!(text.contains("Paris"), "greedy continuation: {text:?}");
}
