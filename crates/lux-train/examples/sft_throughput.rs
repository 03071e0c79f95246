//! One SFT run of SmolLM2-135M-Instruct with LoRA (r = 16, alpha 32, no dropout, q/k/v/o) over
//! the first `--examples` examples of a JSON Lines dataset (as the mix stage writes), one epoch,
//! padded or packed, and one JSON line with what it cost: examples/s, tokens/s (real tokens,
//! no padding), peak RSS and the loss of every step. The lux half of
//! `benches/scripts/bench-sft-vs-trl.sh`, which runs TRL's `SFTTrainer` on the same examples.
//!
//! ```sh
//! cargo build --workspace --example sft_throughput
//! $CARGO_TARGET_DIR/debug/examples/sft_throughput --data out/luxinstruct/mix/train.jsonl \
//!     --examples 160 --batch 8 --max-length 128 [--packing]
//! ```
//!
//! Settings follow `recipes/luxinstruct.toml` (lr 3e-4, cosine, warmup ratio 0.05,
//! completion-only loss), with LoRA dropout 0 so that the padded and packed runs draw no
//! random masks and their losses can be compared step by step.

use std::io::BufRead;
use std::path::PathBuf;
use std::time::Instant;

use burn::tensor::Device;
use lux_core::Example;
use lux_train::gguf::find_smollm2;
use lux_train::lora::{LoraConfig, TargetModules};
use lux_train::model::Llama;
use lux_train::sft::{BatchLayout, SftTrainer, tokenize_examples};
use lux_train::training::{LrSchedule, TrainingArgs, Warmup};

struct Options {
    data: PathBuf,
    examples: usize,
    batch: usize,
    max_length: usize,
    packing: bool,
    learning_rate: f64,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        data: PathBuf::new(),
        examples: 160,
        batch: 8,
        max_length: 128,
        packing: false,
        learning_rate: 3e-4,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        let number = |name: &str, v: String| -> Result<usize, String> {
            v.parse()
                .map_err(|_| format!("{name}: `{v}` is not a count"))
        };
        match arg.as_str() {
            "--data" => o.data = PathBuf::from(value("--data")?),
            "--examples" => o.examples = number("--examples", value("--examples")?)?,
            "--batch" => o.batch = number("--batch", value("--batch")?)?,
            "--max-length" => o.max_length = number("--max-length", value("--max-length")?)?,
            "--lr" => {
                let v = value("--lr")?;
                o.learning_rate = v
                    .parse()
                    .map_err(|_| format!("--lr: `{v}` is not a number"))?;
            }
            "--packing" => o.packing = true,
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if o.data.as_os_str().is_empty() {
        return Err("--data PATH (a JSON Lines file of examples) is required".into());
    }
    Ok(o)
}

/// The first `n` examples of a JSON Lines file; a bad line is an error naming file and line.
fn read_examples(path: &PathBuf, n: usize) -> Result<Vec<Example>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Vec::with_capacity(n);
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let example: Example = serde_json::from_str(&line)
            .map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))?;
        out.push(example);
        if out.len() == n {
            break;
        }
    }
    Ok(out)
}

/// The process's peak resident set (`VmHWM`), in bytes.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    lux_train::keep_freed_memory();
    let o = options()?;
    let path = find_smollm2()
        .ok_or("SmolLM2 GGUF not found: run `bash scripts/fetch-models.sh` or set LUX_MODELS")?;
    let device = Device::flex().autodiff();
    let (base, tokenizer) = Llama::from_gguf(&path, &device)?;
    let examples = read_examples(&o.data, o.examples)?;
    let (train, dropped) = tokenize_examples(&tokenizer, &examples, o.max_length, true)?;
    let tokens: usize = train.iter().map(|s| s.ids.len()).sum();

    let args = TrainingArgs {
        per_device_train_batch_size: o.batch,
        warmup: Warmup::Ratio(0.05),
        lr_scheduler: LrSchedule::Cosine,
        seed: 1729,
        ..TrainingArgs::new(o.learning_rate)
    };
    let lora = LoraConfig::new(
        16,
        32.0,
        TargetModules::names(["q_proj", "k_proj", "v_proj", "o_proj"]),
    );
    let layout = if o.packing {
        BatchLayout::packed(o.max_length)
    } else {
        BatchLayout::Padded
    };
    let out = tempfile::tempdir()?;
    let trainer = SftTrainer::new(args, lora, out.path())?.with_layout(layout);
    let pad = tokenizer.pad_id().unwrap_or(0);
    let started = Instant::now();
    let (_, report) = trainer.train_adapter(base, &train, &[], pad)?;
    let seconds = started.elapsed().as_secs_f64();
    let losses: Vec<f64> = report.steps.iter().map(|m| m.loss).collect();
    let row = serde_json::json!({
        "impl": "lux",
        "packing": o.packing,
        "examples": train.len(),
        "dropped": dropped,
        "tokens": tokens,
        "steps": report.steps.len(),
        "seconds": seconds,
        "examples_per_s": train.len() as f64 / seconds,
        "tokens_per_s": tokens as f64 / seconds,
        "peak_rss_bytes": peak_rss_bytes(),
        "threads": rayon::current_num_threads(),
        "model": path.display().to_string(),
        "losses": losses,
    });
    println!("{row}");
    Ok(())
}
