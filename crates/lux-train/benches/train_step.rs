//! LoRA training-step throughput of the Llama decoder at SmolLM2-135M's shape (random weights,
//! f32): forward, backward and one AdamW step — what [`Trainer`] does per optimizer step (same
//! loss code: logits only at target positions, [`cross_entropy_sum`]; same accumulation:
//! `Σ token losses / targets of the whole accumulated batch` per micro-batch, gradients summed
//! in a [`GradientsAccumulator`], one optimizer step).
//!
//! Three workloads:
//! - `lora_qkvo_8x128`: LoRA r = 16, α = 32 on `q_proj`/`k_proj`/`v_proj`/`o_proj`, one
//!   micro-batch of 8 × 128 tokens, loss on every next-token position (8 × 127 targets), as a
//!   causal-LM loss in PyTorch computes it;
//! - `lora_qkvo_8x128_completion64`: the same with the loss on the last 64 positions of each
//!   row only (the prompt is the first 64), where lux applies the output head to 8 × 64 rows
//!   and PyTorch still to all 8 × 128;
//! - `luxllama_r256_all7`: the LuxLlama preset of `recipes/luxllama.toml`
//!   ([`TrainingArgs::luxllama`]): LoRA r = 256, α = 256, no dropout on all seven projections
//!   (`q`/`k`/`v`/`o`/`gate`/`up`/`down_proj`), micro-batches of 4 × 128 tokens with gradient
//!   accumulation 8 (one optimizer step = 8 micro-batches, 4 096 tokens), full loss.
//!
//! AdamW as the trainer builds it (ε = 1e-8) with weight decay 0.01 (PyTorch's default and the
//! preset's). Tokens/s counts the input tokens of one optimizer step (1 024, or 8 × 512 for the
//! preset). The peak resident set (`VmHWM`) is read after the steps, so it includes the model
//! (≈ 0.5 GB of f32 weights).
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
//! `luxllama_r256_all7`, per micro-batch of 512 tokens: frozen projections 108.7 G forward and
//! again backward, head on 508 rows 28.8 G twice, attention 4.6 G + 9.1 G, and the adapters —
//! 256 · 10 176 = 2.6 M parameters a layer, 78 M in all, more than half the base — 80.0 G
//! forward and 160.0 G backward (input and weight gradients): ≈ 529 G, so ≈ 4.2 TFLOP an
//! optimizer step, ≈ 20 s at 210 GFLOP/s. The optimizer then updates 78 M parameters (three
//! 312 MB tensors each: value and two moments).
//!
//! # Measured
//!
//! `lora_qkvo_8x128` (2 threads, this project's AVX-512 machine, quiet, dev profile, which is
//! optimised like release): 3.76–4.16 s per step, 246–273 tokens/s, ≈ 1.4× the FLOP bound;
//! PyTorch with PEFT 3.70–3.82 s in the same run (0.92–0.98×; the completion-only workload
//! 0.96–1.09×). What is left beyond the matmuls is the per-op passes the fused kernels
//! (`model/fused_grad.rs`, `sft::cross_entropy_sum`) do not cover: residual adds, the
//! adapters' small products, gradient accumulation in the graph. By `perf record`, gemm's
//! kernels and packing take 77 % of a step's samples, burn-flex's element-wise ops 7 %, copies
//! and zero-fills 4 %, the fused kernels 3 %; AdamW is 7–24 ms of the step
//! (`LUX_BENCH_BREAKDOWN`). Folding the adapter's product into the frozen one (no full-width
//! add forward or backward) changed one thread's CPU time for three steps by under 1 %
//! (23.7–24.1 s against 23.9–24.0 s): the rest is spread thin.
//!
//! `luxllama_r256_all7` (quiet, dev profile): 27.6 s an optimizer step (148 tokens/s), 2.82 GB
//! peak; PyTorch with PEFT 28.6 s and 4.95 GB in the same run: 1.04× the tokens/s at 0.57× the
//! memory. (Under load, 52–75 s; forward 21.9 s, backward 30.1 s and AdamW over the 78 M
//! adapter parameters 0.22 s in a 52 s step.)
//!
//! Reproduce (the dev profile is the optimised build):
//! - criterion: `cargo bench --workspace --bench train_step --profile dev`
//! - plain (one JSON line per workload, `LUX_BENCH_REPS` timed optimizer steps after one
//!   warm-up, default 3, 1 for the preset; `LUX_BENCH_ONLY=full|completion|luxllama` picks
//!   one; `LUX_BENCH_BREAKDOWN=1` prints forward / backward / optimizer seconds per step):
//!   `LUX_BENCH_PLAIN=1 RAYON_NUM_THREADS=2 cargo bench --workspace --bench train_step --profile dev`
//! - side by side with PyTorch + PEFT, printing the ratio:
//!   `bash crates/lux-train/benches/scripts/bench-train-vs-peft.sh`
//!
//! [`Trainer`]: lux_train::training::Trainer
//! [`TrainingArgs::luxllama`]: lux_train::training::TrainingArgs::luxllama
//! [`GradientsAccumulator`]: burn::optim::GradientsAccumulator
//! [`cross_entropy_sum`]: lux_train::sft::cross_entropy_sum

use std::hint::black_box;
use std::time::{Duration, Instant};

use burn::optim::{AdamWConfig, GradientsAccumulator, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Int, Tensor, TensorData};
use criterion::{Criterion, Throughput};
use lux_core::rng::SplitMix64;
use lux_train::lora::{LoraConfig, TargetModules, apply_lora};
use lux_train::model::{Llama, LlamaConfig};
use lux_train::sft::cross_entropy_sum;

const VOCAB: usize = 49_152;
const LAYERS: usize = 30;
const SEQ: usize = 128;
const LEARNING_RATE: f64 = 1e-4;
const WEIGHT_DECAY: f32 = 0.01;
const ATTENTION: [&str; 4] = ["q_proj", "k_proj", "v_proj", "o_proj"];
const ALL_SEVEN: [&str; 7] = [
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
];

/// One benchmarked training configuration.
struct Workload {
    name: &'static str,
    /// What `LUX_BENCH_ONLY` matches.
    family: &'static str,
    rank: usize,
    alpha: f64,
    modules: &'static [&'static str],
    /// Rows of one micro-batch.
    batch: usize,
    /// Micro-batches per optimizer step.
    accumulation: usize,
    /// First scored position of each row: 0 for the full loss, the prompt length minus one
    /// for the completion-only loss (the last prompt token predicts the first answer token).
    first_target: usize,
    /// Timed optimizer steps when `LUX_BENCH_REPS` is not set: the preset's step is 4× the
    /// tokens at 16× the adapter, so fewer of them keep a run within minutes.
    default_reps: usize,
}

impl Workload {
    fn tokens_per_step(&self) -> usize {
        self.batch * SEQ * self.accumulation
    }
}

const WORKLOADS: [Workload; 3] = [
    Workload {
        name: "lora_qkvo_8x128",
        family: "full",
        rank: 16,
        alpha: 32.0,
        modules: &ATTENTION,
        batch: 8,
        accumulation: 1,
        first_target: 0,
        default_reps: 3,
    },
    Workload {
        name: "lora_qkvo_8x128_completion64",
        family: "completion",
        rank: 16,
        alpha: 32.0,
        modules: &ATTENTION,
        batch: 8,
        accumulation: 1,
        first_target: 63,
        default_reps: 3,
    },
    Workload {
        name: "luxllama_r256_all7",
        family: "luxllama",
        rank: 256,
        alpha: 256.0,
        modules: &ALL_SEVEN,
        batch: 4,
        accumulation: 8,
        first_target: 0,
        default_reps: 1,
    },
];

/// SmolLM2-135M's config (30 layers, hidden 576, 9 query / 3 key-value heads, tied embeddings).
fn smollm2_shape() -> LlamaConfig {
    LlamaConfig::from_json_str(&format!(
        r#"{{"hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": {LAYERS},
        "num_attention_heads": 9, "num_key_value_heads": 3, "vocab_size": {VOCAB},
        "rms_norm_eps": 1e-5, "rope_theta": 100000.0, "max_position_embeddings": 8192,
        "tie_word_embeddings": true}}"#
    ))
    .expect("SmolLM2 config")
}

/// The model on an autodiff device with the workload's LoRA adapters, base frozen.
fn adapted_model(w: &Workload) -> Llama {
    let device = Device::flex().autodiff();
    device.seed(0);
    let model = smollm2_shape().init(&device).expect("init");
    let lora = LoraConfig::new(
        w.rank,
        w.alpha,
        TargetModules::names(w.modules.iter().copied()),
    );
    let (model, _) = apply_lora(model, &lora, 0).expect("apply_lora");
    model
}

/// AdamW as [`Trainer`](lux_train::training::Trainer) builds it.
fn optimizer() -> ModuleOptimizer {
    AdamWConfig::new()
        .with_epsilon(1e-8)
        .with_weight_decay(WEIGHT_DECAY)
        .init()
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

/// Micro-batch `index` of a workload: random tokens from a seed of its own, so the
/// accumulated micro-batches differ as a real step's do.
fn batch(w: &Workload, index: usize, device: &Device) -> Batch {
    let mut rng = SplitMix64::new(1 + index as u64);
    let rows = w.batch;
    let ids: Vec<i64> = (0..rows * SEQ).map(|_| rng.below(VOCAB) as i64).collect();
    let mut positions = Vec::new();
    let mut labels = Vec::new();
    for b in 0..rows {
        for t in w.first_target..SEQ - 1 {
            positions.push((b * SEQ + t) as i64);
            labels.push(ids[b * SEQ + t + 1]);
        }
    }
    let targets = positions.len();
    Batch {
        ids: Tensor::from_data(TensorData::new(ids, [rows, SEQ]), device),
        mask: Tensor::ones([rows, SEQ], device),
        positions: Tensor::from_data(TensorData::new(positions, [targets]), device),
        labels: Tensor::from_data(TensorData::new(labels, [targets]), device),
        targets,
    }
}

/// One optimizer step over `micro` micro-batches: for each, forward, the loss divided by the
/// targets of the whole step, backward, gradients added to the accumulator (the trainer's
/// loop); then one AdamW step. Returns the step's loss (Σ of the micro-batches' parts, read
/// before the update, as the trainer reports it).
///
/// With `LUX_BENCH_BREAKDOWN` set, prints the seconds of the forward passes (to the loss
/// values), the backward passes (with accumulation) and the optimizer step to stderr.
fn step(
    model: Llama,
    optim: &mut ModuleOptimizer,
    micro: &[Batch],
    expected_grads: usize,
) -> (Llama, f32) {
    let targets: usize = micro.iter().map(|b| b.targets).sum();
    let (mut forward, mut backward) = (0.0, 0.0);
    let mut accumulator = GradientsAccumulator::<Llama>::new();
    let mut loss_sum = 0.0;
    for batch in micro {
        let start = Instant::now();
        let logits = model.forward_selected(
            batch.ids.clone(),
            Some(batch.mask.clone()),
            batch.positions.clone(),
        );
        let loss = cross_entropy_sum(logits, batch.labels.clone()).div_scalar(targets as f64);
        loss_sum += loss.clone().into_scalar::<f32>();
        let mid = Instant::now();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        // Only the adapters train: A and B of each adapted projection in each layer. A
        // gradient for a frozen weight would be a full weight-shaped product per layer, wasted.
        assert_eq!(grads.len(), expected_grads, "parameters with a gradient");
        accumulator.accumulate(&model, grads);
        forward += (mid - start).as_secs_f64();
        backward += mid.elapsed().as_secs_f64();
    }
    let start = Instant::now();
    let model = optim.step(LEARNING_RATE, model, accumulator.grads());
    if std::env::var_os("LUX_BENCH_BREAKDOWN").is_some() {
        let optimizer = start.elapsed().as_secs_f64();
        eprintln!("forward {forward:.3} s, backward {backward:.3} s, optimizer {optimizer:.3} s");
    }
    (model, loss_sum)
}

/// The workloads `LUX_BENCH_ONLY` selects (all when unset).
fn workloads() -> Vec<&'static Workload> {
    let only = std::env::var("LUX_BENCH_ONLY").ok();
    WORKLOADS
        .iter()
        .filter(|w| only.as_deref().is_none_or(|o| o == w.family))
        .collect()
}

/// Everything one workload's steps need.
fn setup(w: &Workload, device: &Device) -> (Llama, ModuleOptimizer, Vec<Batch>, usize) {
    let micro: Vec<Batch> = (0..w.accumulation).map(|k| batch(w, k, device)).collect();
    (
        adapted_model(w),
        optimizer(),
        micro,
        2 * w.modules.len() * LAYERS,
    )
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
    for w in workloads() {
        group.throughput(Throughput::Elements(w.tokens_per_step() as u64));
        let (model, mut optim, micro, expected_grads) = setup(w, &device);
        let mut model = Some(model);
        group.bench_function(w.name, |b| {
            b.iter(|| {
                let (next, loss) = step(
                    model.take().expect("model"),
                    &mut optim,
                    &micro,
                    expected_grads,
                );
                model = Some(next);
                black_box(loss)
            })
        });
    }
    group.finish();
}

fn plain() {
    let reps_override: Option<usize> = std::env::var("LUX_BENCH_REPS")
        .ok()
        .and_then(|r| r.parse().ok());
    let device = Device::flex().autodiff();
    for w in workloads() {
        let reps = reps_override.unwrap_or(w.default_reps).max(1);
        let (mut model, mut optim, micro, expected_grads) = setup(w, &device);
        let mut secs = Vec::with_capacity(reps);
        let mut losses = Vec::with_capacity(reps + 1);
        for rep in 0..=reps {
            let start = Instant::now();
            let (next, loss) = step(model, &mut optim, &micro, expected_grads);
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
        let tokens = w.tokens_per_step();
        println!(
            "{{\"impl\": \"lux\", \"workload\": \"{}\", \"tokens\": {tokens}, \"targets\": {}, \
             \"micro_batches\": {}, \"reps\": {reps}, \"secs\": {median:.4}, \
             \"tokens_per_s\": {:.1}, \"peak_rss_bytes\": {}, \"first_loss\": {:.4}, \
             \"last_loss\": {:.4}, \"threads\": {}}}",
            w.name,
            micro.iter().map(|b| b.targets).sum::<usize>(),
            w.accumulation,
            tokens as f64 / median,
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
