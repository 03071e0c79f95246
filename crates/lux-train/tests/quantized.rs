//! The quantised frozen base ([`QuantizedWeight`], `GgufLoadOptions::keep_quantized`):
//!
//! - per block type, the kernels' `x·Wᵀ` and `dy·W` match "dequantise, then multiply" within
//!   the bound of `f32` summation (both see the same decoded values; only the order of the
//!   additions differs), on the few-rows (decoding) and the tiled (prefill, training) paths;
//! - through the autodiff op, the input gradient and a LoRA pair's gradients equal the `f32`
//!   path's;
//! - on the real SmolLM2 Q4_1 file: logits of the quantised model against the dequantised `f32`
//!   model on a few prompts (top-1 agreement, max |Δlogit|), the weights' resident bytes, and a
//!   LoRA step on the quantised base that leaves its `f32` weights unallocated.

use burn::module::{Module, Param};
use burn::tensor::{Device, Int, Tensor, TensorData};
use half::f16;
use lux_train::gguf::{GgmlType, find_smollm2};
use lux_train::lora::{LoraConfig, TargetModules, apply_lora};
use lux_train::model::{
    GgufLoadOptions, Llama, LowRank, Projection, ProjectionConfig, QuantizedWeight,
};

/// A deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn byte(&mut self) -> u8 {
        (self.next() >> 24) as u8
    }

    /// Uniform in `[-1, 1)`.
    fn unit(&mut self) -> f32 {
        ((self.next() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    /// An f16 scale of magnitude in `[0.001, 0.05)`, random sign when `signed`.
    fn scale(&mut self, signed: bool) -> [u8; 2] {
        let magnitude = 0.001 + 0.049 * (self.unit() + 1.0) / 2.0;
        let sign = if signed && self.unit() < 0.0 {
            -1.0
        } else {
            1.0
        };
        f16::from_f32(sign * magnitude).to_le_bytes()
    }
}

/// Random blocks of `ty` for a `[d_out, d_in]` matrix, with random quants and sane f16 scales
/// (random bytes would give infinities and NaNs where the scales sit).
fn random_blocks(ty: GgmlType, d_out: usize, d_in: usize, rng: &mut Rng) -> Vec<u8> {
    let n_blocks = d_out * d_in / ty.block_size();
    let mut bytes = Vec::with_capacity(n_blocks * ty.type_size());
    for _ in 0..n_blocks {
        let mut block: Vec<u8> = (0..ty.type_size()).map(|_| rng.byte()).collect();
        match ty {
            GgmlType::Q8_0 | GgmlType::Q4_0 => block[..2].copy_from_slice(&rng.scale(true)),
            GgmlType::Q4_1 => {
                block[..2].copy_from_slice(&rng.scale(false));
                block[2..4].copy_from_slice(&rng.scale(true));
            }
            GgmlType::Q4_K => {
                block[..2].copy_from_slice(&rng.scale(false));
                block[2..4].copy_from_slice(&rng.scale(false));
            }
            GgmlType::Q6_K => block[208..210].copy_from_slice(&rng.scale(true)),
            other => panic!("no generator for {other}"),
        }
        bytes.extend(block);
    }
    bytes
}

fn random_values(n: usize, rng: &mut Rng) -> Vec<f32> {
    (0..n).map(|_| rng.unit()).collect()
}

/// Checks `got` (`[rows, n]`) against `lhs[rows, k] · rhs` where `rhs(j, i)` gives the
/// right-hand side's value for output `j` and summed index `i`: each entry must lie within
/// `k · 2⁻²⁴ · Σ|lhs·rhs|` of the exact sum (computed in f64), the bound on any order of `k`
/// f32 additions of exactly the same products (plus the product roundings themselves).
fn assert_within_summation_bound(
    what: &str,
    got: &[f32],
    lhs: &[f32],
    [rows, n, k]: [usize; 3],
    rhs: impl Fn(usize, usize) -> f32,
) {
    assert_eq!(got.len(), rows * n, "{what}: output size");
    let mut worst = 0f64;
    for r in 0..rows {
        for j in 0..n {
            let (mut exact, mut magnitude) = (0f64, 0f64);
            for i in 0..k {
                let p = f64::from(lhs[r * k + i]) * f64::from(rhs(j, i));
                exact += p;
                magnitude += p.abs();
            }
            let bound = (k as f64 + 1.0) * f64::from(f32::EPSILON / 2.0) * magnitude + 1e-30;
            let error = (f64::from(got[r * n + j]) - exact).abs();
            assert!(
                error <= bound,
                "{what}: [{r}, {j}] = {} vs exact {exact} (error {error:e} > bound {bound:e})",
                got[r * n + j]
            );
            worst = worst.max(error / bound);
        }
    }
    eprintln!("{what}: worst error {:.3} of the bound", worst);
}

#[test]
fn kernels_match_dequantise_then_multiply_for_every_type() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    // d_out = 70: not a multiple of the 16-row tasks nor of the 64-row tiles.
    let d_out = 70;
    for ty in QuantizedWeight::TYPES {
        // Two super-blocks of the k-quants; sixteen blocks of the others.
        let d_in = 512;
        let w = QuantizedWeight::new(ty, [d_out, d_in], random_blocks(ty, d_out, d_in, &mut rng))
            .unwrap();
        let dense = w.dequantize();
        // 1, 3, 4 rows: the decoding path (groups of 1, 2 + 1, 4); 6, 9, 37: tiles + gemm.
        for rows in [1, 3, 4, 6, 9, 37] {
            let x = random_values(rows * d_in, &mut rng);
            let y = w.matmul_transposed(&x);
            assert_within_summation_bound(
                &format!("{ty} x·Wᵀ, {rows} rows"),
                &y,
                &x,
                [rows, d_out, d_in],
                |o, i| dense[o * d_in + i],
            );
            let dy = random_values(rows * d_out, &mut rng);
            let dx = w.matmul(&dy);
            assert_within_summation_bound(
                &format!("{ty} dy·W, {rows} rows"),
                &dx,
                &dy,
                [rows, d_in, d_out],
                |i, o| dense[o * d_in + i],
            );
        }
    }
}

#[test]
fn bad_geometry_is_an_error_not_a_panic() {
    let err = QuantizedWeight::new(GgmlType::Q4_1, [2, 48], vec![0; 60]).unwrap_err();
    assert!(err.to_string().contains("not whole Q4_1 blocks"), "{err}");
    let err = QuantizedWeight::new(GgmlType::Q4_1, [2, 64], vec![0; 79]).unwrap_err();
    assert!(err.to_string().contains("takes 80 bytes, got 79"), "{err}");
    let err = QuantizedWeight::new(GgmlType::Q5_K, [1, 256], vec![0; 176]).unwrap_err();
    assert!(
        err.to_string().contains("Q5_K cannot stay quantised"),
        "{err}"
    );
}

/// A projection with bias whose weight is `w`, kept quantised (`quantized`) or dequantised to
/// `f32` (the reference).
fn projection(w: &QuantizedWeight, quantized: bool, device: &Device) -> Projection {
    let [d_out, d_in] = w.shape();
    let mut p = if quantized {
        Projection::from_quantized(w.clone(), device)
    } else {
        let dense = w.dequantize();
        let mut t = vec![0f32; dense.len()];
        for o in 0..d_out {
            for i in 0..d_in {
                t[i * d_out + o] = dense[o * d_in + i];
            }
        }
        let mut p = ProjectionConfig::new(d_in, d_out).init(device);
        p.weight = Param::from_data(TensorData::new(t, [d_in, d_out]), device);
        p
    };
    p.bias = Some(Param::from_data(
        TensorData::new((0..d_out).map(|o| o as f32 * 0.01).collect(), [d_out]),
        device,
    ));
    p
}

fn tensor3(values: Vec<f32>, shape: [usize; 3], device: &Device) -> Tensor<3> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

#[test]
fn input_and_lora_gradients_through_a_quantised_base_equal_the_f32_paths() {
    let mut rng = Rng(7);
    let device = Device::flex().autodiff();
    let (d_in, d_out, rank) = (256, 96, 4);
    for ty in [GgmlType::Q4_1, GgmlType::Q6_K] {
        let w = QuantizedWeight::new(ty, [d_out, d_in], random_blocks(ty, d_out, d_in, &mut rng))
            .unwrap();
        let a = random_values(d_in * rank, &mut rng);
        let b = random_values(rank * d_out, &mut rng);
        // 2 × 5 rows: the tiled forward; the backward always runs the column slices.
        let x = random_values(2 * 5 * d_in, &mut rng);
        let g = random_values(2 * 5 * d_out, &mut rng);
        let mut results = Vec::new();
        for quantized in [true, false] {
            let mut p = projection(&w, quantized, &device);
            p.weight = p.weight.set_require_grad(false);
            p.set_low_rank(Some(LowRank::new(
                Param::from_data(TensorData::new(a.clone(), [d_in, rank]), &device),
                Param::from_data(TensorData::new(b.clone(), [rank, d_out]), &device),
                0.5,
            )));
            let x = tensor3(x.clone(), [2, 5, d_in], &device).require_grad();
            let y = p.forward(x.clone());
            let loss = (y.clone() * tensor3(g.clone(), [2, 5, d_out], &device)).sum();
            let grads = loss.backward();
            let pair = p.low_rank.as_ref().unwrap();
            results.push((
                to_vec(y),
                to_vec(x.grad(&grads).unwrap()),
                to_vec(pair.a.val().grad(&grads).unwrap()),
                to_vec(pair.b.val().grad(&grads).unwrap()),
            ));
            if quantized {
                assert!(
                    !p.weight.is_initialized(),
                    "{ty}: the quantised path allocated the f32 weight"
                );
            }
        }
        let (q, f) = (&results[0], &results[1]);
        for (what, got, want) in [
            ("y", &q.0, &f.0),
            ("dx", &q.1, &f.1),
            ("dA", &q.2, &f.2),
            ("dB", &q.3, &f.3),
        ] {
            let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
            let diff = max_abs_diff(got, want);
            eprintln!("{ty} {what}: max |Δ| {diff:e} (max |value| {scale})");
            assert!(
                diff <= 1e-4 * scale.max(1.0),
                "{ty} {what}: {diff} vs scale {scale}"
            );
        }
    }
}

#[test]
fn merging_into_a_quantised_weight_switches_the_layer_to_the_merged_f32_weight() {
    let mut rng = Rng(11);
    let device = Device::flex();
    let w = QuantizedWeight::new(
        GgmlType::Q8_0,
        [32, 64],
        random_blocks(GgmlType::Q8_0, 32, 64, &mut rng),
    )
    .unwrap();
    let mut p = projection(&w, true, &device);
    let x = tensor3(random_values(3 * 64, &mut rng), [1, 3, 64], &device);
    let before = to_vec(p.forward(x.clone()));
    // What merge_lora does: W ← W + Δ. The forward must see the change.
    p.weight = p.weight.clone().map(|w| w.add_scalar(1.0));
    let after = to_vec(p.forward(x.clone()));
    let row_sums: Vec<f32> = to_vec(x.sum_dim(2));
    for (r, sum) in row_sums.iter().enumerate() {
        for o in 0..32 {
            let (b, a) = (before[r * 32 + o], after[r * 32 + o]);
            assert!(
                (a - b - sum).abs() < 1e-3,
                "row {r}, out {o}: {b} + {sum} ≠ {a}"
            );
        }
    }
}

/// SmolLM2 loaded twice: dequantised (`f32`) and kept quantised.
fn smollm2(quantized_tied_head: bool) -> Option<(Llama, Llama, lux_train::tokenizer::Tokenizer)> {
    let Some(path) = find_smollm2() else {
        eprintln!(
            "skipping: SmolLM2 GGUF not found (run `bash scripts/fetch-models.sh`, or set LUX_MODELS)"
        );
        return None;
    };
    let device = Device::flex();
    let (dense, tokenizer) = Llama::from_gguf(&path, &device).expect("load f32");
    let options = GgufLoadOptions {
        keep_quantized: true,
        quantized_tied_head,
    };
    let (quantized, _) = Llama::from_gguf_with(&path, &device, options).expect("load quantised");
    Some((dense, quantized, tokenizer))
}

fn ids(tokenizer: &lux_train::tokenizer::Tokenizer, text: &str) -> Tensor<2, Int> {
    let ids: Vec<i64> = tokenizer
        .encode(text, true)
        .unwrap()
        .into_iter()
        .map(i64::from)
        .collect();
    let n = ids.len();
    Tensor::from_data(TensorData::new(ids, [1, n]), &Device::flex())
}

#[test]
fn smollm2_quantised_logits_match_the_dequantised_model() {
    let Some((dense, quantized, tokenizer)) = smollm2(true) else {
        return;
    };
    let vocab = dense.config().vocab_size;
    let prompts = [
        "The capital of France is",
        "def fibonacci(n):\n    if n < 2:\n        return n",
        "Lëtzebuerg ass e klengt Land an der Mëtt vun Europa, mat ronn 670.000 Awunner.",
        "<|im_start|>user\nName three primary colours.<|im_end|>\n<|im_start|>assistant\n",
    ];
    let (mut positions, mut agree, mut worst) = (0, 0, 0f32);
    for prompt in prompts {
        let ids = ids(&tokenizer, prompt);
        let want = to_vec(dense.forward(ids.clone(), None));
        let got = to_vec(quantized.forward(ids, None));
        for (w, g) in want.chunks_exact(vocab).zip(got.chunks_exact(vocab)) {
            positions += 1;
            agree += usize::from(argmax(w) == argmax(g));
            worst = worst.max(max_abs_diff(w, g));
        }
    }
    eprintln!("SmolLM2 Q4_1: top-1 agreement {agree}/{positions}, max |Δlogit| {worst:e}");
    // Both models multiply with exactly the same decoded values; only the order of the f32
    // additions differs (and, through 30 layers, its rounding). Logits span ≈ ±30.
    assert_eq!(
        agree,
        positions,
        "top-1 disagrees at {} positions",
        positions - agree
    );
    assert!(worst < 2e-3, "max |Δlogit| {worst}");
}

fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in row.iter().enumerate() {
        if *v > row[best] {
            best = i;
        }
    }
    best
}

/// Bytes the model's weights hold in memory: `f32` parameters that exist (lazy ones not yet
/// read hold nothing) plus quantised blocks.
fn resident_bytes(model: &Llama) -> usize {
    let mut bytes = model.num_params() * 4;
    for (_, p) in model.projections() {
        if let Some(q) = &p.quantized
            && !p.weight.is_initialized()
        {
            let [d_out, d_in] = q.shape();
            bytes = bytes - d_out * d_in * 4 + q.bytes().len();
        }
    }
    bytes
}

#[test]
fn smollm2_quantised_weights_take_at_most_035_of_the_f32_model() {
    for tied_head in [false, true] {
        let Some((dense, quantized, tokenizer)) = smollm2(tied_head) else {
            return;
        };
        // A forward pass first: it must not allocate the f32 weights behind the blocks.
        let _ = quantized.forward(ids(&tokenizer, "Hello"), None);
        let (f32_bytes, q_bytes) = (resident_bytes(&dense), resident_bytes(&quantized));
        let kept = quantized
            .projections()
            .iter()
            .filter(|(_, p)| p.quantized.is_some() && !p.weight.is_initialized())
            .count();
        let ratio = q_bytes as f64 / f32_bytes as f64;
        eprintln!(
            "SmolLM2 Q4_1 (quantized_tied_head {tied_head}): f32 model {:.1} MB, quantised \
             {:.1} MB ({ratio:.3}×); {kept} layers kept in blocks",
            f32_bytes as f64 / 1e6,
            q_bytes as f64 / 1e6,
        );
        // 30 layers × 7 projections, plus the tied head multiplying with the Q8_0 embedding.
        assert_eq!(kept, 30 * 7 + usize::from(tied_head));
        if tied_head {
            // The f32 embedding table (113 MB, for the lookup) plus its Q8_0 blocks (30 MB).
            assert!(ratio <= 0.40, "{ratio}");
        } else {
            assert!(ratio <= 0.35, "{ratio}");
        }
    }
}

#[test]
fn lora_step_on_a_quantised_smollm2_trains_the_pair_and_leaves_the_base_in_blocks() {
    let Some(path) = find_smollm2() else {
        eprintln!("skipping: SmolLM2 GGUF not found");
        return;
    };
    let device = Device::flex().autodiff();
    let options = GgufLoadOptions {
        keep_quantized: true,
        quantized_tied_head: false,
    };
    let (model, tokenizer) = Llama::from_gguf_with(&path, &device, options).unwrap();
    let config = LoraConfig::new(4, 8.0, TargetModules::names(["q_proj", "v_proj"]));
    let (model, targets) = apply_lora(model, &config, 3).unwrap();
    assert_eq!(targets.len(), 60);
    let text = ids(&tokenizer, "Moien, wéi geet et? Mir geet et gutt, merci.");
    let text = Tensor::<2, Int>::from_data(text.into_data(), &device);
    let logits = model.forward(text, None);
    let loss = logits.clone().mean();
    let grads = loss.backward();
    let mut with_grad = 0;
    for (name, p) in model.projections() {
        assert!(!p.weight.is_initialized(), "{name}: f32 weight allocated");
        if let Some(pair) = &p.low_rank {
            let ga = pair.a.val().grad(&grads);
            let gb = pair.b.val().grad(&grads);
            // B starts at zero, so A's gradient is zero on the first step; B's is not.
            let gb = gb.expect("B has a gradient");
            assert!(to_vec(gb).iter().any(|v| *v != 0.0), "{name}: zero dB");
            assert!(ga.is_some(), "{name}: A has no gradient");
            with_grad += 1;
        }
    }
    assert_eq!(with_grad, 60);
}
