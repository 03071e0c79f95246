//! Compares lux's Llama decoder with Hugging Face transformers on tiny random models.
//!
//! The fixtures under `tests/fixtures/llama/` and the script that made them
//! (`make_fixtures.py`, using `LlamaForCausalLM` / `Qwen2ForCausalLM` in float32) hold three
//! variants: untied F32 weights; tied BF16 weights with llama3 rope scaling and an explicit
//! `head_dim`; Qwen2-style q/k/v biases with F16 weights. Each is run on three rows: unpadded,
//! right-padded and left-padded. Values at padded positions are unspecified and not compared.

use std::path::PathBuf;

use burn::tensor::{Device, Int, Tensor, TensorData};
use lux_train::model::{Llama, SafetensorsWeights, WeightSource};

const TOLERANCE: f32 = 1e-4;
const VARIANTS: [&str; 3] = ["llama_untied", "llama3_tied_bf16", "qwen2_f16"];

fn fixture_dir(variant: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/llama")
        .join(variant)
}

/// The reference inputs and outputs of one variant.
struct Expected {
    /// `[batch, seq]` token ids.
    ids: Vec<i64>,
    /// `[batch, seq]`, 1 = token, 0 = padding.
    mask: Vec<i64>,
    batch: usize,
    seq: usize,
    vocab: usize,
    hidden: usize,
    /// `[batch, seq, vocab]`.
    logits: Vec<f32>,
    /// `[layers + 1, batch, seq, hidden]`.
    hidden_states: Vec<f32>,
    num_states: usize,
}

impl Expected {
    fn load(variant: &str) -> Self {
        let mut file =
            SafetensorsWeights::open(fixture_dir(variant).join("expected.safetensors")).unwrap();
        let mut take = |name: &str| file.take(name).unwrap().unwrap();
        let (shape, ids) = take("input_ids");
        let (_, mask) = take("attention_mask");
        let (logit_shape, logits) = take("logits");
        let (state_shape, hidden_states) = take("hidden_states");
        Self {
            ids: ids.iter().map(|&v| v as i64).collect(),
            mask: mask.iter().map(|&v| v as i64).collect(),
            batch: shape[0],
            seq: shape[1],
            vocab: logit_shape[2],
            hidden: state_shape[3],
            logits,
            hidden_states,
            num_states: state_shape[0],
        }
    }

    fn ids(&self, device: &Device) -> Tensor<2, Int> {
        Tensor::from_data(
            TensorData::new(self.ids.clone(), [self.batch, self.seq]),
            device,
        )
    }

    fn mask(&self, device: &Device) -> Tensor<2, Int> {
        Tensor::from_data(
            TensorData::new(self.mask.clone(), [self.batch, self.seq]),
            device,
        )
    }

    /// Largest absolute difference between `got` (`[batch, seq, width]`) and `want` over the
    /// unpadded positions.
    fn max_error(&self, got: &[f32], want: &[f32], width: usize) -> f32 {
        assert_eq!(got.len(), want.len());
        let mut max = 0.0f32;
        for (pos, &m) in self.mask.iter().enumerate() {
            if m == 0 {
                continue;
            }
            for i in pos * width..(pos + 1) * width {
                let e = (got[i] - want[i]).abs();
                assert!(e.is_finite(), "non-finite value at position {pos}");
                max = max.max(e);
            }
        }
        max
    }
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_into_vec::<f32>().unwrap()
}

fn check_forward(device: &Device) {
    for variant in VARIANTS {
        let model = Llama::from_pretrained(fixture_dir(variant), device).unwrap();
        let e = Expected::load(variant);

        let states = model.forward_hidden_states(e.ids(device), Some(e.mask(device)));
        assert_eq!(states.len(), e.num_states);
        let per_state = e.batch * e.seq * e.hidden;
        for (i, state) in states.into_iter().enumerate() {
            let want = &e.hidden_states[i * per_state..(i + 1) * per_state];
            let err = e.max_error(&values(state), want, e.hidden);
            eprintln!("{variant} on {device:?}: hidden state {i} max abs error {err:e}");
            assert!(
                err <= TOLERANCE,
                "{variant}: hidden state {i} differs by {err}"
            );
        }
        let logits = model.forward(e.ids(device), Some(e.mask(device)));
        assert_eq!(logits.dims(), [e.batch, e.seq, e.vocab]);
        let err = e.max_error(&values(logits), &e.logits, e.vocab);
        eprintln!("{variant} on {device:?}: logits max abs error {err:e}");
        assert!(err <= TOLERANCE, "{variant}: logits differ by {err}");
    }
}

#[test]
fn logits_and_hidden_states_match_transformers() {
    check_forward(&Device::flex());
}

#[test]
fn autodiff_device_matches_transformers() {
    // The decomposed (differentiable) attention kernel.
    check_forward(&Device::flex().autodiff());
}

#[test]
fn unpadded_row_needs_no_mask() {
    let device = Device::flex();
    for variant in VARIANTS {
        let model = Llama::from_pretrained(fixture_dir(variant), &device).unwrap();
        let e = Expected::load(variant);
        let ids = e.ids(&device).narrow(0, 0, 1);
        let got = values(model.forward(ids, None));
        let want = &e.logits[..e.seq * e.vocab];
        let err = got
            .iter()
            .zip(want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(err <= TOLERANCE, "{variant}: {err}");
    }
}

#[test]
fn selected_positions_match_transformers() {
    let device = Device::flex();
    for variant in VARIANTS {
        let model = Llama::from_pretrained(fixture_dir(variant), &device).unwrap();
        let e = Expected::load(variant);
        let chosen: Vec<i64> = vec![3, 6, 7 + 4, 2 * 7 + 3, 2 * 7 + 6];
        let positions =
            Tensor::<1, Int>::from_data(TensorData::new(chosen.clone(), [chosen.len()]), &device);
        let got = values(model.forward_selected(e.ids(&device), Some(e.mask(&device)), positions));
        for (row, &p) in chosen.iter().enumerate() {
            let p = p as usize;
            for v in 0..e.vocab {
                let err = (got[row * e.vocab + v] - e.logits[p * e.vocab + v]).abs();
                assert!(err <= TOLERANCE, "{variant}: position {p}: {err}");
            }
        }
    }
}

#[test]
fn kv_cache_steps_match_full_forward() {
    let device = Device::flex();
    for variant in VARIANTS {
        let model = Llama::from_pretrained(fixture_dir(variant), &device).unwrap();
        let e = Expected::load(variant);
        let ids = e.ids(&device);
        let mask = e.mask(&device);
        let mut cache = model.new_cache();
        // A 3-token prompt, then one token at a time.
        let mut pieces = vec![model.forward_step(
            ids.clone().narrow(1, 0, 3),
            Some(mask.clone().narrow(1, 0, 3)),
            &mut cache,
        )];
        for t in 3..e.seq {
            pieces.push(model.forward_step(
                ids.clone().narrow(1, t, 1),
                Some(mask.clone().narrow(1, t, 1)),
                &mut cache,
            ));
        }
        assert_eq!(cache.len(), e.seq);
        let stepped = values(Tensor::cat(pieces, 1));
        let err = e.max_error(&stepped, &e.logits, e.vocab);
        eprintln!("{variant}: KV-cache logits max abs error {err:e}");
        assert!(
            err <= TOLERANCE,
            "{variant}: stepped logits differ by {err}"
        );

        // The last-position shortcut agrees too.
        let mut cache = model.new_cache();
        let row0 = ids.clone().narrow(0, 0, 1);
        let _ = model.forward_step_last(row0.clone().narrow(1, 0, e.seq - 1), None, &mut cache);
        let last = values(model.forward_step_last(row0.narrow(1, e.seq - 1, 1), None, &mut cache));
        let want = &e.logits[(e.seq - 1) * e.vocab..e.seq * e.vocab];
        let err = last
            .iter()
            .zip(want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(
            err <= TOLERANCE,
            "{variant}: last-position logits differ by {err}"
        );
    }
}

/// Throughput of a hidden-states forward at SmolLM2-135M's shape (random weights), batch
/// 8 × 128: `cargo test --workspace --test llama_reference -- --ignored --nocapture`.
#[test]
#[ignore = "timing; run explicitly in release mode"]
fn smollm2_shape_throughput() {
    use lux_train::model::LlamaConfig;
    use std::time::Instant;

    let config = LlamaConfig::from_json_str(
        r#"{"hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30,
        "num_attention_heads": 9, "num_key_value_heads": 3, "vocab_size": 49152,
        "rms_norm_eps": 1e-5, "rope_theta": 100000, "tie_word_embeddings": true}"#,
    )
    .unwrap();
    let device = Device::flex();
    device.seed(0);
    let model = config.init(&device).unwrap();
    let (batch, seq) = (8, 128);
    let ids: Vec<i64> = (0..batch * seq)
        .map(|i| (i * 7919 % 49152) as i64)
        .collect();
    let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [batch, seq]), &device);
    let mask = Tensor::<2, Int>::ones([batch, seq], &device);

    let time = |label: &str, f: &dyn Fn()| {
        f(); // warm-up (also materialises the lazily initialised weights)
        let mut runs = Vec::new();
        for _ in 0..3 {
            let start = Instant::now();
            f();
            runs.push(start.elapsed().as_secs_f64());
        }
        runs.sort_by(f64::total_cmp);
        let median = runs[1];
        eprintln!(
            "{label}: median {median:.3} s, {:.0} tokens/s (runs {runs:.3?})",
            (batch * seq) as f64 / median
        );
    };
    time("hidden states, no mask", &|| {
        let states = model.forward_hidden_states(ids.clone(), None);
        let _ = states.last().unwrap().to_data();
    });
    time("hidden states, padding mask", &|| {
        let states = model.forward_hidden_states(ids.clone(), Some(mask.clone()));
        let _ = states.last().unwrap().to_data();
    });
    time("logits", &|| {
        let _ = model.forward(ids.clone(), None).to_data();
    });
}
