//! Forward and generation throughput of the Llama decoder at SmolLM2-135M's shape (random
//! weights): every layer's hidden states for a batch of 8 × 128 tokens (the CKA input), and
//! greedy generation of 64 tokens with the KV cache at batch 1 and 8.
//!
//! `cargo bench --workspace --bench forward --profile dev` runs it under criterion. With
//! `LUX_BENCH_PLAIN=1` it instead times each workload a few times (`LUX_BENCH_REPS`, default 3,
//! after one warm-up) and prints one JSON line per workload, which
//! `benches/scripts/bench-forward-vs-pytorch.sh` compares with the same workloads in PyTorch.
//! `LUX_BENCH_ONLY=forward|generate` restricts either mode to one family.

use std::hint::black_box;
use std::time::{Duration, Instant};

use burn::tensor::{Device, Int, Tensor, TensorData};
use criterion::{Criterion, Throughput};
use lux_core::rng::SplitMix64;
use lux_train::generate::{SamplingConfig, generate_ids};
use lux_train::model::{Llama, LlamaConfig};

const VOCAB: usize = 49_152;
const FORWARD_BATCH: usize = 8;
const FORWARD_SEQ: usize = 128;
const PROMPT_LEN: usize = 16;
const NEW_TOKENS: usize = 64;

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

fn model() -> Llama {
    let device = Device::flex();
    device.seed(0);
    smollm2_shape().init(&device).expect("init")
}

fn random_ids(rng: &mut SplitMix64, n: usize) -> Vec<u32> {
    (0..n).map(|_| rng.below(VOCAB) as u32).collect()
}

/// The 8 × 128 input of the hidden-state workload.
fn forward_input() -> Tensor<2, Int> {
    let mut rng = SplitMix64::new(1);
    let ids: Vec<i64> = random_ids(&mut rng, FORWARD_BATCH * FORWARD_SEQ)
        .into_iter()
        .map(i64::from)
        .collect();
    Tensor::from_data(
        TensorData::new(ids, [FORWARD_BATCH, FORWARD_SEQ]),
        &Device::flex(),
    )
}

/// Every layer's hidden states; returns a value read from the last one so nothing is skipped.
fn run_forward(model: &Llama, ids: &Tensor<2, Int>) -> f32 {
    let states = model.forward_hidden_states(ids.clone(), None);
    let last = states.last().expect("states").clone();
    last.slice([0..1, 0..1, 0..1]).into_scalar()
}

fn prompts(batch: usize) -> Vec<Vec<u32>> {
    let mut rng = SplitMix64::new(2);
    (0..batch)
        .map(|_| random_ids(&mut rng, PROMPT_LEN))
        .collect()
}

/// Greedy generation of exactly `NEW_TOKENS` tokens per sequence (no end-of-sequence token).
fn run_generate(model: &Llama, prompts: &[Vec<u32>]) -> usize {
    let out =
        generate_ids(model, prompts, &SamplingConfig::greedy(NEW_TOKENS), None).expect("generate");
    out.iter().map(|g| g.tokens.len()).sum()
}

fn wanted(family: &str) -> bool {
    std::env::var("LUX_BENCH_ONLY").map_or(true, |only| only == family)
}

fn criterion_benches(c: &mut Criterion) {
    let model = model();
    if wanted("forward") {
        let ids = forward_input();
        let mut group = c.benchmark_group("forward");
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(30));
        group.throughput(Throughput::Elements((FORWARD_BATCH * FORWARD_SEQ) as u64));
        group.bench_function("hidden_states_8x128", |b| {
            b.iter(|| black_box(run_forward(&model, &ids)))
        });
        group.finish();
    }
    if wanted("generate") {
        let mut group = c.benchmark_group("generate");
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(30));
        for batch in [1, 8] {
            let prompts = prompts(batch);
            group.throughput(Throughput::Elements((batch * NEW_TOKENS) as u64));
            group.bench_function(format!("greedy_b{batch}_64"), |b| {
                b.iter(|| black_box(run_generate(&model, &prompts)))
            });
        }
        group.finish();
    }
}

/// Median seconds of `reps` timed runs after one warm-up.
fn time(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut secs: Vec<f64> = (0..reps)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .collect();
    secs.sort_by(f64::total_cmp);
    secs[secs.len() / 2]
}

fn plain() {
    let reps: usize = std::env::var("LUX_BENCH_REPS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3)
        .max(1);
    let model = model();
    let report = |workload: &str, tokens: usize, secs: f64| {
        println!(
            "{{\"impl\": \"lux\", \"workload\": \"{workload}\", \"tokens\": {tokens}, \
             \"secs\": {secs:.4}, \"tokens_per_s\": {:.1}, \"threads\": {}}}",
            tokens as f64 / secs,
            rayon::current_num_threads()
        );
    };
    if wanted("forward") {
        let ids = forward_input();
        let secs = time(reps, || {
            black_box(run_forward(&model, &ids));
        });
        report("hidden_states_8x128", FORWARD_BATCH * FORWARD_SEQ, secs);
    }
    if wanted("generate") {
        for batch in [1, 8] {
            let prompts = prompts(batch);
            let secs = time(reps, || {
                black_box(run_generate(&model, &prompts));
            });
            report(&format!("greedy_b{batch}_64"), batch * NEW_TOKENS, secs);
        }
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
