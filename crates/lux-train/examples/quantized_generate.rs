//! Local generation speed and memory of SmolLM2 loaded with its weights dequantised to `f32`
//! and kept quantised (`GgufLoadOptions::keep_quantized`), side by side.
//!
//! ```text
//! cargo build --workspace --example quantized_generate
//! ~/.cache/lux/target/debug/examples/quantized_generate [--mode both|f32|quantized|all]
//!     [--tokens 64] [--rounds 5] [--batches 1,8] [--model PATH.gguf] [--f32-tied-head]
//!     [--bandwidth] [--tsv] [--prompt-ids]
//! ```
//! (build from the workspace root with `--workspace`, which keeps burn's features as the
//! workspace builds them; the dev profile is optimised like release).
//!
//! Per mode: the process's resident memory before and after loading (VmRSS) and the weight
//! bytes a decoding step streams, then for each batch size `rounds` greedy generations of
//! `tokens` new tokens per sequence (no early stop), reporting medians of: tokens/s over the
//! whole call (all sequences' new tokens over the wall time, prefill included), the prefill
//! time (prompt pass to first token) and the decode tokens/s (tokens of the steps after the
//! prompt pass over their time). Modes alternate round by round, so a noisy machine slows all
//! alike.
//!
//! - `--bandwidth`: first measures the memory read bandwidth (a sum over a 1 GiB buffer on 1
//!   and 2 threads) and prints, per mode, the batch-1 decode speed that bandwidth allows
//!   (bandwidth / weight bytes per step): the ceiling of a memory-bound step. It also times
//!   the `f32` decoder layers' matrix-vector products alone (gemm, `m = 1`) on 1 and 2
//!   threads, which is what the `f32` model spends a batch-1 token on.
//! - `--tsv`: also prints one `round` line per generation (tab-separated: mode, batch, round,
//!   new tokens, total s, prefill s, decode s, decode steps) and, in the first round, one
//!   `tokens` line per sequence (mode, batch, sequence, the generated ids), for
//!   `benches/scripts/bench-generate-vs-llamacpp.sh`.
//! - `--prompt-ids`: prints the prompts' token ids as a JSON array and exits (the comparison
//!   script sends these exact ids to llama.cpp, so both sides see the same prompts).

use std::time::Instant;

use burn::module::Module;
use burn::tensor::Device;
use lux_train::generate::{GenerationTimings, SamplingConfig, generate_ids_timed};
use lux_train::gguf::find_smollm2;
use lux_train::model::{GgufLoadOptions, Llama};
use rayon::prelude::*;

/// The process's resident set size in MB (Linux `/proc/self/status`), or `NaN` elsewhere.
fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

/// Bytes of weights a decoding step at batch 1 reads: every `f32` parameter that exists plus
/// the quantised blocks in place of the lazy `f32` weights they stand for, less the embedding
/// table when a separate head (`lm_head`, e.g. the `Q8_0` tied head) spares it the full read:
/// the lookup itself reads one row per token.
fn weight_bytes_per_step(model: &Llama) -> usize {
    let mut bytes = model.num_params() * 4;
    if model.lm_head.is_some() {
        bytes -= model.model.embed_tokens.weight.lazy_shape().num_elements() * 4;
    }
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

/// Memory read bandwidth in GB/s: the best of 3 sums over a 1 GiB buffer split across
/// `threads` threads. The sum keeps 16 independent lanes, so it vectorises and the loads,
/// not the additions, are the limit — as in a matrix-vector product over `f32` weights.
fn read_bandwidth_gb_s(buffer: &[f32], threads: usize) -> f64 {
    let chunk = buffer.len().div_ceil(threads);
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let start = Instant::now();
        let total: f32 = std::thread::scope(|scope| {
            let workers: Vec<_> = buffer
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        let mut lanes = [0f32; 16];
                        for block in part.chunks_exact(16) {
                            for (lane, v) in lanes.iter_mut().zip(block) {
                                *lane += v;
                            }
                        }
                        lanes.iter().sum::<f32>()
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap_or(0.0)).sum()
        });
        std::hint::black_box(total);
        best = best.min(start.elapsed().as_secs_f64());
    }
    std::mem::size_of_val(buffer) as f64 / best / 1e9
}

/// Seconds per token of the decoder layers' matrix-vector products alone (batch 1, `f32`,
/// weights `[in, out]` as the `f32` model holds them, every layer its own buffers so nothing
/// stays in cache): on one thread, which is how the model runs them (below its parallel
/// threshold, and gemm's one-row path is serial anyway), and with each product's output
/// columns split over `threads` tasks on rayon's pool: how much bandwidth one thread leaves
/// unused at batch 1. Best of 5 passes.
fn layer_matvec_seconds(config: &lux_train::model::LlamaConfig, threads: usize) -> [f64; 2] {
    let (d, ff) = (config.hidden_size, config.intermediate_size);
    let q = config.num_attention_heads * config.head_dim;
    let kv = config.num_key_value_heads * config.head_dim;
    // q, k, v, o, gate, up, down.
    let shapes = [(d, q), (d, kv), (d, kv), (q, d), (d, ff), (d, ff), (ff, d)];
    let weights: Vec<Vec<Vec<f32>>> = (0..config.num_hidden_layers)
        .map(|_| shapes.iter().map(|&(i, o)| vec![0.5f32; i * o]).collect())
        .collect();
    let input = vec![1f32; d.max(ff)];
    let width = d.max(ff).max(q);
    // `output[..n] = input[..k] · w` for the columns `columns` of a row-major `[k, n]` `w`.
    let product =
        |w: &[f32], k: usize, n: usize, columns: std::ops::Range<usize>, output: &mut [f32]| {
            assert!(w.len() == k * n && output.len() >= columns.len() && input.len() >= k);
            // SAFETY: the reads stay inside `input` (k values) and `w` (rows of n values, columns
            // below n), the writes inside `output` (asserted above); the three do not overlap.
            unsafe {
                gemm::gemm(
                    1,
                    columns.len(),
                    k,
                    output.as_mut_ptr(),
                    1,
                    columns.len() as isize,
                    false,
                    input.as_ptr(),
                    1,
                    k as isize,
                    w.as_ptr().add(columns.start),
                    1,
                    n as isize,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
            }
        };
    let mut best = [f64::INFINITY; 2];
    let mut outputs = vec![vec![0f32; width]; threads];
    for _ in 0..5 {
        let start = Instant::now();
        for layer in &weights {
            for (w, &(k, n)) in layer.iter().zip(&shapes) {
                product(w, k, n, 0..n, &mut outputs[0]);
            }
        }
        best[0] = best[0].min(start.elapsed().as_secs_f64());
        let start = Instant::now();
        for layer in &weights {
            for (w, &(k, n)) in layer.iter().zip(&shapes) {
                let part = n.div_ceil(threads);
                // rayon's pool: its threads are already running, as the model's would be.
                outputs.par_iter_mut().enumerate().for_each(|(t, output)| {
                    let columns = (t * part).min(n)..((t + 1) * part).min(n);
                    product(w, k, n, columns, output)
                });
            }
        }
        best[1] = best[1].min(start.elapsed().as_secs_f64());
        std::hint::black_box(&outputs);
    }
    best
}

/// One generation's figures.
#[derive(Clone, Copy)]
struct Round {
    new_tokens: usize,
    total_s: f64,
    timings: GenerationTimings,
    batch: usize,
}

impl Round {
    fn tokens_per_s(&self) -> f64 {
        self.new_tokens as f64 / self.total_s
    }
    fn decode_tokens_per_s(&self) -> f64 {
        (self.batch * self.timings.decode_steps) as f64 / self.timings.decode.as_secs_f64()
    }
}

const PROMPTS: [&str; 8] = [
    "<|im_start|>user\nWrite a short poem about the sea.<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>user\nExplain what a hash map is.<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>user\nGive me three tips for learning a language.<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>user\nWhat is the capital of Luxembourg?<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>user\nSummarise the plot of Hamlet.<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>user\nHow do vaccines work?<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>user\nWrite a haiku about autumn.<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>user\nWhy is the sky blue?<|im_end|>\n<|im_start|>assistant\n",
];

fn main() -> lux_core::Result<()> {
    let mut mode = "both".to_owned();
    let (mut tokens, mut rounds) = (64usize, 5usize);
    let mut batches = vec![1usize, 8];
    let mut model_path = None;
    let mut tied_head = true;
    let (mut bandwidth, mut tsv, mut prompt_ids) = (false, false, false);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| lux_core::Error::invalid(arg.clone(), "needs a value"))
        };
        match arg.as_str() {
            "--mode" => mode = value()?,
            "--tokens" => {
                tokens = value()?
                    .parse()
                    .map_err(|e| lux_core::Error::invalid("--tokens", format!("{e}")))?
            }
            "--rounds" => {
                rounds = value()?
                    .parse()
                    .map_err(|e| lux_core::Error::invalid("--rounds", format!("{e}")))?
            }
            "--batches" => {
                batches = value()?
                    .split(',')
                    .map(|b| b.trim().parse())
                    .collect::<Result<_, _>>()
                    .map_err(|e| lux_core::Error::invalid("--batches", format!("{e}")))?
            }
            "--f32-tied-head" => tied_head = false,
            "--bandwidth" => bandwidth = true,
            "--tsv" => tsv = true,
            "--prompt-ids" => prompt_ids = true,
            "--model" => model_path = Some(std::path::PathBuf::from(value()?)),
            other => {
                return Err(lux_core::Error::invalid(
                    other,
                    "unknown argument (--mode, --tokens, --rounds, --batches, --model, \
                     --f32-tied-head, --bandwidth, --tsv, --prompt-ids)",
                ));
            }
        }
    }
    let path = model_path.or_else(find_smollm2).ok_or_else(|| {
        lux_core::Error::invalid("--model", "SmolLM2 GGUF not found; pass --model PATH.gguf")
    })?;
    let quantized = |tied: bool| GgufLoadOptions {
        keep_quantized: true,
        quantized_tied_head: tied,
    };
    let f32_label = ("f32", GgufLoadOptions::default());
    let modes: Vec<(&str, GgufLoadOptions)> = match mode.as_str() {
        "both" => vec![f32_label, ("quantized", quantized(tied_head))],
        "f32" => vec![f32_label],
        "quantized" => vec![("quantized", quantized(tied_head))],
        // The quantised model with its tied head on the f32 embedding, and on the blocks.
        "all" => vec![
            f32_label,
            ("q+f32head", quantized(false)),
            ("quantized", quantized(true)),
        ],
        other => {
            return Err(lux_core::Error::invalid(
                "--mode",
                format!("`{other}`: both, f32, quantized or all"),
            ));
        }
    };
    let device = Device::flex();
    if prompt_ids {
        let (_, tokenizer) = Llama::from_gguf_with(&path, &device, quantized(false))?;
        let ids: Vec<Vec<u32>> = PROMPTS
            .iter()
            .map(|p| tokenizer.encode(p, true))
            .collect::<lux_core::Result<_>>()?;
        println!(
            "{}",
            serde_json::to_string(&ids)
                .map_err(|e| lux_core::Error::invalid("prompts", e.to_string()))?
        );
        return Ok(());
    }
    let bandwidth = if bandwidth {
        // 1 GiB, written once so that every page is mapped before it is timed.
        let buffer = vec![1f32; 1 << 28];
        let one = read_bandwidth_gb_s(&buffer, 1);
        let two = read_bandwidth_gb_s(&buffer, 2);
        println!("memory read bandwidth: {one:.1} GB/s on 1 thread, {two:.1} GB/s on 2 threads");
        drop(buffer);
        // The layer shapes only: the quantised load is the quick one.
        let (shapes_from, _) = Llama::from_gguf_with(&path, &device, quantized(false))?;
        let config = shapes_from.config().clone();
        drop(shapes_from);
        let [one_thread, split] = layer_matvec_seconds(&config, 2);
        let layer_mb = (config.num_hidden_layers
            * config.hidden_size
            * (2 * config.num_attention_heads * config.head_dim
                + 2 * config.num_key_value_heads * config.head_dim
                + 3 * config.intermediate_size)) as f64
            * 4e-6;
        println!(
            "f32 layer matrix-vector products ({layer_mb:.0} MB a token): {:.1} ms on 1 thread \
             ({:.1} GB/s), {:.1} ms on 2 ({:.1} GB/s)",
            one_thread * 1e3,
            layer_mb / one_thread / 1e3,
            split * 1e3,
            layer_mb / split / 1e3
        );
        Some(one.max(two))
    } else {
        None
    };
    let mut models = Vec::new();
    let mut tokenizer = None;
    for (label, options) in modes {
        let before = rss_mb();
        let (model, tok) = Llama::from_gguf_with(&path, &device, options)?;
        let after = rss_mb();
        let step_mb = weight_bytes_per_step(&model) as f64 / 1e6;
        println!(
            "{label:<9} load: RSS {before:.0} → {after:.0} MB (+{:.0} MB); a decoding step \
             reads ≈ {step_mb:.1} MB of weights",
            after - before
        );
        if let Some(gb_s) = bandwidth {
            println!(
                "{label:<9} bandwidth bound at batch 1: {:.1} tokens/s ({gb_s:.1} GB/s / \
                 {step_mb:.1} MB)",
                gb_s * 1e3 / step_mb
            );
        }
        models.push((label, model));
        tokenizer = Some(tok);
    }
    let tokenizer = tokenizer.expect("at least one mode");
    let prompts: Vec<Vec<u32>> = PROMPTS
        .iter()
        .map(|p| tokenizer.encode(p, true))
        .collect::<lux_core::Result<_>>()?;
    let config = SamplingConfig::greedy(tokens);
    if tsv {
        println!(
            "# round\tmode\tbatch\tround\tnew_tokens\ttotal_s\tprefill_s\tdecode_s\tdecode_steps"
        );
    }
    for &batch in &batches {
        let batch_prompts: Vec<Vec<u32>> = prompts.iter().cycle().take(batch).cloned().collect();
        // Warm-up: first-call allocations and thread-pool start are not the steady state.
        for (_, model) in &models {
            generate_ids_timed(model, &batch_prompts[..1], &SamplingConfig::greedy(4), None)?;
        }
        let mut rounds_of: Vec<Vec<Round>> = vec![Vec::new(); models.len()];
        for round in 0..rounds {
            for (m, (label, model)) in models.iter().enumerate() {
                let start = Instant::now();
                let (out, timings) = generate_ids_timed(model, &batch_prompts, &config, None)?;
                let total_s = start.elapsed().as_secs_f64();
                let new_tokens: usize = out.iter().map(|g| g.tokens.len()).sum();
                if tsv && round == 0 {
                    for (i, g) in out.iter().enumerate() {
                        let ids: Vec<String> = g.tokens.iter().map(u32::to_string).collect();
                        println!("tokens\t{label}\t{batch}\t{i}\t{}", ids.join(","));
                    }
                }
                if tsv {
                    println!(
                        "round\t{label}\t{batch}\t{round}\t{new_tokens}\t{total_s:.6}\t{:.6}\t{:.6}\t{}",
                        timings.prefill.as_secs_f64(),
                        timings.decode.as_secs_f64(),
                        timings.decode_steps
                    );
                }
                rounds_of[m].push(Round {
                    new_tokens,
                    total_s,
                    timings,
                    batch,
                });
            }
        }
        let mut medians = Vec::new();
        for ((label, _), rounds) in models.iter().zip(&rounds_of) {
            let total: Vec<f64> = rounds.iter().map(Round::tokens_per_s).collect();
            let decode: Vec<f64> = rounds.iter().map(Round::decode_tokens_per_s).collect();
            let prefill: Vec<f64> = rounds
                .iter()
                .map(|r| r.timings.prefill.as_secs_f64() * 1e3)
                .collect();
            let listed: Vec<String> = total.iter().map(|r| format!("{r:.1}")).collect();
            let m = median(&total);
            medians.push((m, median(&decode)));
            println!(
                "{label:<9} batch {batch}: {m:.1} tokens/s median, prefill included ({tokens} new \
                 tokens per sequence; rounds {}); prefill {:.0} ms, decode {:.1} tokens/s",
                listed.join(", "),
                median(&prefill),
                median(&decode),
            );
        }
        for ((label, _), (m, d)) in models.iter().zip(&medians).skip(1) {
            println!(
                "batch {batch}: {label} / {} = {:.2}× (decode {:.2}×)",
                models[0].0,
                m / medians[0].0,
                d / medians[0].1
            );
        }
    }
    println!("RSS at exit: {:.0} MB", rss_mb());
    Ok(())
}
