//! LoRA training-step throughput of the Llama decoder at SmolLM2-135M's shape (random weights,
//! f32): LoRA r = 16, α = 32 on `q_proj`/`k_proj`/`v_proj`/`o_proj`, a batch of 8 × 128 tokens,
//! one forward, backward and AdamW step — what [`SftTrainer`] does per optimizer step with no
//! gradient accumulation (same loss code: logits only at target positions,
//! [`cross_entropy_sum`]).
//!
//! Two workloads:
//! - `lora_qkvo_8x128`: loss on every next-token position (8 × 127 targets), as a causal-LM
//!   loss in PyTorch computes it;
//! - `lora_qkvo_8x128_completion64`: loss on the last 64 positions of each row only (the
//!   prompt is the first 64), where lux applies the output head to 8 × 64 rows and PyTorch
//!   still to all 8 × 128.
//!
//! Tokens/s counts the 1 024 input tokens of a step. The peak resident set (`VmHWM`) is read
//! after the steps, so it includes the model (≈ 0.5 GB of f32 weights).
//!
//! # FLOP bound
//!
//! Matmul FLOPs of one step of `lora_qkvo_8x128` (2 per multiply-add):
//! - forward: frozen projections 2 · 3 538 944 params · 30 layers · 1 024 tokens = 217.4 G;
//!   tied output head on the 1 016 scored rows 2 · 1 016 · 576 · 49 152 = 57.5 G; attention
//!   `Q·Kᵀ` and `P·V` (dense, masked entries included) 9.1 G; LoRA pairs 3.8 G: ≈ 288 G;
//! - backward: the frozen weights get no gradient, so only the input gradients of the frozen
//!   matmuls (274.9 G, the forward's again), attention's four products (18.1 G) and the
//!   adapters' (7.6 G): ≈ 301 G — about the forward's, not twice it;
//! - total ≈ 588 GFLOP, i.e. 2.8 s at the ≈ 210 GFLOP/s that `gemm`'s AVX-512 kernels reach on
//!   these shapes with 2 threads (2.45 s at OpenBLAS's 240).
//!
//! Measured (2 threads, this project's AVX-512 machine): 3.87 s per step, 264 tokens/s, 1.39×
//! that bound; PyTorch + PEFT 4.40–4.52 s in the same run. What is left beyond the matmuls is
//! the per-op passes the fused kernels (`model/fused_grad.rs`, `sft::cross_entropy_sum`) do
//! not cover: residual adds, the adapters' small products, gradient accumulation in the graph.
//!
//! Reproduce:
//! - criterion: `cargo bench -p lux-train --bench train_step`
//! - plain (one JSON line per workload, `LUX_BENCH_REPS` timed steps after one warm-up,
//!   default 3; `LUX_BENCH_ONLY=full|completion` picks one):
//!   `LUX_BENCH_PLAIN=1 RAYON_NUM_THREADS=2 cargo bench -p lux-train --bench train_step`
//! - side by side with PyTorch + PEFT, printing the ratio:
//!   `bash crates/lux-train/benches/scripts/bench-train-vs-peft.sh`
//!
//! [`SftTrainer`]: lux_train::sft::SftTrainer
//! [`cross_entropy_sum`]: lux_train::sft::cross_entropy_sum

use std::hint::black_box;
use std::time::{Duration, Instant};

use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Int, Tensor, TensorData};
use criterion::{Criterion, Throughput};
use lux_core::rng::SplitMix64;
use lux_train::lora::{LoraConfig, TargetModules, apply_lora};
use lux_train::model::{Llama, LlamaConfig};
use lux_train::sft::cross_entropy_sum;

const VOCAB: usize = 49_152;
const BATCH: usize = 8;
const SEQ: usize = 128;
/// Prompt length of the completion-only workload: the loss covers positions `PROMPT..SEQ`.
const PROMPT: usize = 64;
const LEARNING_RATE: f64 = 1e-4;

/// SmolLM2-135M's config (30 layers, hidden 576, 9 query / 3 key-value heads, tied embeddings).
fn smollm2_shape() -> LlamaConfig {
    LlamaConfig::from_json_str(&format!(
        r#"{{"hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30,
        "num_attention_heads": 9, "num_key_value_heads": 3, "vocab_size": {VOCAB},
        "rms_norm_eps": 1e-5, "rope_theta": 100000.0, "max_position_embeddings": 8192,
        "tie_word_embeddings": true}}"#
    ))
    .expect("SmolLM2 config")
}

/// The model on an autodiff device with LoRA on the attention projections, base frozen.
fn adapted_model() -> Llama {
    let device = Device::flex().autodiff();
    device.seed(0);
    let model = smollm2_shape().init(&device).expect("init");
    let lora = LoraConfig::new(
        16,
        32.0,
        TargetModules::names(["q_proj", "k_proj", "v_proj", "o_proj"]),
    );
    let (model, _) = apply_lora(model, &lora, 0).expect("apply_lora");
    model
}

/// One micro-batch: ids, an all-ones attention mask (the trainer always passes one), the flat
/// positions whose logits are scored and their labels (the next token).
struct Batch {
    ids: Tensor<2, Int>,
    mask: Tensor<2, Int>,
    positions: Tensor<1, Int>,
    labels: Tensor<1, Int>,
    targets: usize,
}

fn batch(first_target: usize, device: &Device) -> Batch {
    let mut rng = SplitMix64::new(1);
    let ids: Vec<i64> = (0..BATCH * SEQ).map(|_| rng.below(VOCAB) as i64).collect();
    let mut positions = Vec::new();
    let mut labels = Vec::new();
    for b in 0..BATCH {
        for t in first_target..SEQ - 1 {
            positions.push((b * SEQ + t) as i64);
            labels.push(ids[b * SEQ + t + 1]);
        }
    }
    let targets = positions.len();
    Batch {
        ids: Tensor::from_data(TensorData::new(ids, [BATCH, SEQ]), device),
        mask: Tensor::ones([BATCH, SEQ], device),
        positions: Tensor::from_data(TensorData::new(positions, [targets]), device),
        labels: Tensor::from_data(TensorData::new(labels, [targets]), device),
        targets,
    }
}

/// Forward, backward and one AdamW step; returns the loss (read before the step, as the
/// trainer does for its metrics).
///
/// With `LUX_BENCH_BREAKDOWN` set, prints the seconds of the forward pass (to the loss value),
/// the backward pass and the optimizer step to stderr.
fn step(model: Llama, optim: &mut ModuleOptimizer, batch: &Batch) -> (Llama, f32) {
    let start = Instant::now();
    let logits = model.forward_selected(
        batch.ids.clone(),
        Some(batch.mask.clone()),
        batch.positions.clone(),
    );
    let loss = cross_entropy_sum(logits, batch.labels.clone()).div_scalar(batch.targets as f64);
    let value = loss.clone().into_scalar::<f32>();
    let forward = start.elapsed().as_secs_f64();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    // Only the adapters train: A and B of 4 projections in each of the 30 layers. A gradient
    // for a frozen weight would be a full weight-shaped product per layer, wasted.
    assert_eq!(grads.len(), 2 * 4 * 30, "parameters with a gradient");
    let backward = start.elapsed().as_secs_f64() - forward;
    let model = optim.step(LEARNING_RATE, model, grads);
    if std::env::var_os("LUX_BENCH_BREAKDOWN").is_some() {
        let optimizer = start.elapsed().as_secs_f64() - forward - backward;
        eprintln!("forward {forward:.3} s, backward {backward:.3} s, optimizer {optimizer:.3} s");
    }
    (model, value)
}

/// The workloads: name and first scored position.
fn workloads() -> Vec<(&'static str, usize)> {
    let only = std::env::var("LUX_BENCH_ONLY").ok();
    [
        ("lora_qkvo_8x128", 0, "full"),
        ("lora_qkvo_8x128_completion64", PROMPT - 1, "completion"),
    ]
    .into_iter()
    .filter(|(_, _, family)| only.as_deref().is_none_or(|o| o == *family))
    .map(|(name, first, _)| (name, first))
    .collect()
}

/// Peak resident set size of this process in bytes (Linux `VmHWM`), if readable.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn criterion_benches(c: &mut Criterion) {
    let device = Device::flex().autodiff();
    let mut group = c.benchmark_group("train_step");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(60));
    group.throughput(Throughput::Elements((BATCH * SEQ) as u64));
    for (name, first) in workloads() {
        let batch = batch(first, &device);
        let mut model = Some(adapted_model());
        let mut optim = AdamWConfig::new().with_epsilon(1e-8).init();
        group.bench_function(name, |b| {
            b.iter(|| {
                let (next, loss) = step(model.take().expect("model"), &mut optim, &batch);
                model = Some(next);
                black_box(loss)
            })
        });
    }
    group.finish();
}

fn plain() {
    let reps: usize = std::env::var("LUX_BENCH_REPS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3)
        .max(1);
    let device = Device::flex().autodiff();
    for (name, first) in workloads() {
        let batch = batch(first, &device);
        let mut model = adapted_model();
        let mut optim = AdamWConfig::new().with_epsilon(1e-8).init();
        let mut secs = Vec::with_capacity(reps);
        let mut losses = Vec::with_capacity(reps + 1);
        for rep in 0..=reps {
            let start = Instant::now();
            let (next, loss) = step(model, &mut optim, &batch);
            model = next;
            losses.push(loss);
            if rep > 0 {
                secs.push(start.elapsed().as_secs_f64());
            }
        }
        assert!(
            losses.iter().all(|l| l.is_finite()) && losses.last() < losses.first(),
            "training on one repeated batch must lower its loss: {losses:?}"
        );
        secs.sort_by(f64::total_cmp);
        let median = secs[secs.len() / 2];
        println!(
            "{{\"impl\": \"lux\", \"workload\": \"{name}\", \"tokens\": {}, \"targets\": {}, \
             \"secs\": {median:.4}, \"tokens_per_s\": {:.1}, \"peak_rss_bytes\": {}, \
             \"first_loss\": {:.4}, \"last_loss\": {:.4}, \"threads\": {}}}",
            BATCH * SEQ,
            batch.targets,
            (BATCH * SEQ) as f64 / median,
            peak_rss().unwrap_or(0),
            losses[0],
            losses[losses.len() - 1],
            rayon::current_num_threads()
        );
    }
}

fn main() {
    lux_train::keep_freed_memory();
    if std::env::var_os("LUX_BENCH_PLAIN").is_some() {
        plain();
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    criterion_benches(&mut c);
    c.final_summary();
}
