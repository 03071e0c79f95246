//! LinguaLIFT end to end (arXiv 2412.12499), from `recipes/lingualift.toml` alone: English
//! texts code-switched into lb/de/fr with lexicons from the bundled dictionary → stage 1, the
//! language-alignment layer trained between a frozen multilingual encoder (multilingual-e5-small)
//! and a frozen LLM (SmolLM2-135M-Instruct) → stage 2, LoRA on the LLM behind the frozen aligner,
//! trained on English-only word problems → MGSM-style exact match and gold-answer loss per
//! language for the LLM reading text, after stage 1, after stage 2 and without stage 1.
//!
//! ```text
//! cargo run --example lingualift                      # the recipe, into out/lingualift/
//! cargo run --example lingualift -- --quick           # its [quick] table: a few minutes
//! cargo run --example lingualift -- my-recipe.toml    # your own recipe
//! ```
//!
//! Every setting is in the recipe: this program is what `lux run` does, written out so you can
//! change a stage in code. Without the models in the models cache (`cargo run -- models fetch`)
//! it stops after the data stages and says how to get them. A finished stage is reused by a
//! rerun with the same settings; a stage interrupted halfway resumes from its checkpoints.

use std::path::PathBuf;

use lux::train::encoder::EncoderSpec;
use lux::{LoadOptions, Recipe, Run, RunSettings};
// Link the plugin crates so that the recipe can name their plugins.
use lux::data as _;
use lux::eval as _;
#[cfg(feature = "plugins")]
use lux::plugins as _;

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
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("recipes/lingualift.toml")
        });

    let recipe = Recipe::load_with(&path, &LoadOptions { quick })?;
    // What you would change in code rather than in the file, for example another LLM:
    //     recipe.model = Some(lux::train::base_model::ModelSpec::from_path("my-model.gguf"));
    // or a stage of your own after stage 2:
    //     recipe.train.push(lux::Named { name: "mine".into(), stage: Box::new(MyStage) });

    let mut settings = RunSettings {
        progress: true,
        ..RunSettings::default()
    };
    if let Some(missing) = missing_model(&recipe) {
        println!(
            "{missing}\n→ running the data stages only (fetch the models and run again for the rest)"
        );
        settings.stop_after = Some("mix".into());
    }
    let report = Run::new(recipe, settings)?.execute().await?;
    for stage in &report.stages {
        println!(
            "{:<6} {:<20} {:<7} {:>7.1} s  {}",
            stage.kind, stage.name, stage.status, stage.seconds, stage.dir
        );
    }
    println!("report: {}", report.run_dir.join("report.md").display());
    Ok(())
}

/// Why the training stages cannot run here: the `[model]` or an `encoder` a stage names is
/// not on this machine.
fn missing_model(recipe: &Recipe) -> Option<String> {
    if let Some(Err(e)) = recipe.model.as_ref().map(|m| m.resolve(&recipe.base_dir)) {
        return Some(e.to_string());
    }
    for stage in &recipe.train {
        let table = serde_json::to_value(stage).ok()?;
        let encoders = [&table["encoder"], &table["untrained_aligner"]["encoder"]];
        for spec in encoders
            .into_iter()
            .filter_map(|v| serde_json::from_value::<EncoderSpec>(v.clone()).ok())
        {
            if let Err(e) = spec.resolve(&recipe.base_dir) {
                return Some(format!("stage `{}`: {e}", stage.name));
            }
        }
    }
    None
}
