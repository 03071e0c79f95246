//! LuxLlama end to end, from `recipes/luxllama.toml` alone (after the aiplanet/LuxLlama model
//! card): categorised datasets, each with its own prompt template, mixed into one shuffled set
//! with a validation split → LoRA SFT of the base model with the card's settings → held-out
//! loss and the LUXELLA benchmark, the base model and the tuned one judged 1–5.
//!
//! ```text
//! cargo run --example luxllama                     # the recipe, into out/luxllama/
//! cargo run --example luxllama -- --quick          # its [quick] table: a first try
//! cargo run --example luxllama -- my-recipe.toml   # your own recipe
//! ```
//!
//! Every setting is in the recipe — the mix's components and templates, the card's SFT values
//! and the CPU caps, the question writer and the judges: this program is what
//! `lux run recipes/luxllama.toml` does, written out so you can change a stage in code. It
//! prints the headline figures of each stage from the run's report. Without the base model in
//! the models cache (`cargo run -- models fetch`) it stops after the data and mix stages and
//! says how to get it.

use std::path::PathBuf;

use lux::{LoadOptions, Recipe, Run, RunSettings};
// Link the plugin crates so that the recipe can name their plugins.
use lux::data as _;
use lux::eval as _;
#[cfg(feature = "plugins")]
use lux::plugins as _;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Reuse freed tensor buffers instead of page-faulting new ones (lux::train::allocator).
    lux::train::keep_freed_memory();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let path = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("recipes/luxllama.toml"));

    let recipe = Recipe::load_with(&path, &LoadOptions { quick })?;
    // What you would change in code rather than in the file, for example another judge model
    // for every judge of the run: insert a client into `run.resources()` before `execute`, or
    // another base model: recipe.model = Some(lux::train::base_model::ModelSpec::from_path("m.gguf")).

    let mut settings = RunSettings {
        progress: true,
        ..RunSettings::default()
    };
    if let Some(model) = &recipe.model
        && let Err(e) = model.resolve(&recipe.base_dir)
    {
        println!(
            "{e}\n→ running the data and mix stages only (fetch the model and run again for the rest)"
        );
        settings.stop_after = Some("mix".into());
    }
    let report = Run::new(recipe, settings)?.execute().await?;
    for stage in &report.stages {
        println!(
            "{:<6} {:<14} {:<7} {:>7.1} s  {}",
            stage.kind, stage.name, stage.status, stage.seconds, stage.dir
        );
        println!("       {}", headline(&stage.kind, &stage.output.summary));
    }
    println!("report: {}", report.run_dir.join("report.md").display());
    Ok(())
}

/// The figures worth a line from a stage's summary (the rest is in report.md).
fn headline(kind: &str, s: &Value) -> String {
    let num = |v: &Value| v.as_f64().map_or("–".to_string(), |x| format!("{x:.3}"));
    match kind {
        "data" => format!(
            "{} examples kept of {} generated",
            s["kept"], s["generated"]
        ),
        "mix" => {
            let total = |m: &Value| {
                m.as_object()
                    .map_or(0, |o| o.values().filter_map(Value::as_u64).sum::<u64>())
            };
            format!(
                "{} training / {} validation examples",
                total(&s["train"]),
                total(&s["validation"])
            )
        }
        "train" => format!(
            "{} steps; held-out loss {} → {}",
            s["steps"],
            num(&s["initial_eval_loss"]),
            num(&s["final_eval_loss"])
        ),
        _ if s.get("judges").is_some() => {
            let judges = s["judges"].as_array().into_iter().flatten();
            let means: Vec<String> = judges
                .map(|j| {
                    let systems = j["systems"].as_array().into_iter().flatten();
                    let per: Vec<String> = systems
                        .map(|m| {
                            format!(
                                "{} {} ({} failed)",
                                m["system"].as_str().unwrap_or("?"),
                                num(&m["mean"]),
                                m["failed"]
                            )
                        })
                        .collect();
                    format!("{}: {}", j["judge"].as_str().unwrap_or("?"), per.join(", "))
                })
                .collect();
            format!("{} questions; {}", s["questions"], means.join("; "))
        }
        _ => match s["systems"].as_array() {
            Some(systems) => systems
                .iter()
                .map(|m| {
                    format!(
                        "{} loss {}",
                        m["system"].as_str().unwrap_or("?"),
                        num(&m["loss"])
                    )
                })
                .collect::<Vec<_>>()
                .join(", "),
            None => String::new(),
        },
    }
}
