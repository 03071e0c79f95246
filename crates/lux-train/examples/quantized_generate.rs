//! Local generation speed and memory of SmolLM2 loaded with its weights dequantised to `f32`
//! and kept quantised (`GgufLoadOptions::keep_quantized`), side by side.
//!
//! ```text
//! cargo run --release -p lux-train --example quantized_generate -- [--mode both|f32|quantized|all]
//!     [--tokens 64] [--rounds 5] [--batches 1,8] [--model PATH.gguf] [--f32-tied-head]
//! ```
//! (from the workspace root, `cargo run --release --workspace --example quantized_generate`
//! keeps burn's features as the workspace builds them).
//!
//! Per mode: the process's resident memory before and after loading (VmRSS), then for each
//! batch size `rounds` greedy generations of `tokens` new tokens per sequence (no early stop),
//! reporting the median tokens/s (all sequences' new tokens over the wall time, prefill
//! included) and every round. Modes alternate round by round, so a noisy machine slows both
//! alike.

use std::time::Instant;

use burn::tensor::Device;
use lux_train::generate::{SamplingConfig, generate_ids};
use lux_train::gguf::find_smollm2;
use lux_train::model::{GgufLoadOptions, Llama};

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

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
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
            "--model" => model_path = Some(std::path::PathBuf::from(value()?)),
            other => {
                return Err(lux_core::Error::invalid(
                    other,
                    "unknown argument (--mode, --tokens, --rounds, --batches, --model, --f32-tied-head)",
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
    let mut models = Vec::new();
    let mut tokenizer = None;
    for (label, options) in modes {
        let before = rss_mb();
        let (model, tok) = Llama::from_gguf_with(&path, &device, options)?;
        let after = rss_mb();
        println!(
            "{label:<9} load: RSS {before:.0} → {after:.0} MB (+{:.0} MB)",
            after - before
        );
        models.push((label, model));
        tokenizer = Some(tok);
    }
    let tokenizer = tokenizer.expect("at least one mode");
    let prompts: Vec<Vec<u32>> = PROMPTS
        .iter()
        .map(|p| tokenizer.encode(p, true))
        .collect::<lux_core::Result<_>>()?;
    let config = SamplingConfig::greedy(tokens);
    for &batch in &batches {
        let batch_prompts: Vec<Vec<u32>> = prompts.iter().cycle().take(batch).cloned().collect();
        // Warm-up: first-call allocations and thread-pool start are not the steady state.
        for (_, model) in &models {
            generate_ids(model, &batch_prompts[..1], &SamplingConfig::greedy(4), None)?;
        }
        let mut rates = vec![Vec::new(); models.len()];
        for _ in 0..rounds {
            for (m, (_, model)) in models.iter().enumerate() {
                let start = Instant::now();
                let out = generate_ids(model, &batch_prompts, &config, None)?;
                let seconds = start.elapsed().as_secs_f64();
                let generated: usize = out.iter().map(|g| g.tokens.len()).sum();
                rates[m].push(generated as f64 / seconds);
            }
        }
        let mut medians = Vec::new();
        for ((label, _), rates) in models.iter().zip(&mut rates) {
            let rounds: Vec<String> = rates.iter().map(|r| format!("{r:.1}")).collect();
            let m = median(rates);
            medians.push(m);
            println!(
                "{label:<9} batch {batch}: {m:.1} tokens/s median ({tokens} new tokens per \
                 sequence; rounds {})",
                rounds.join(", ")
            );
        }
        for ((label, _), m) in models.iter().zip(&medians).skip(1) {
            println!(
                "batch {batch}: {label} / {} = {:.2}×",
                models[0].0,
                m / medians[0]
            );
        }
    }
    println!("RSS at exit: {:.0} MB", rss_mb());
    Ok(())
}
