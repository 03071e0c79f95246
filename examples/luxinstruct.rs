//! LuxInstruct end to end, from `recipes/luxinstruct.toml` alone: native Luxembourgish seeds
//! plus aligned EN/FR/DE data → cross-lingual instructions over seven task types → filters →
//! a capped, split mix → LoRA on the attention projections → held-out loss and CKA between the
//! hidden states of parallel sentences (EN-LB, FR-LB, DE-LB), base model vs tuned model.
//!
//! ```text
//! cargo run --example luxinstruct                        # the recipe, into out/luxinstruct/
//! cargo run --example luxinstruct -- --quick             # its [quick] table: a first try
//! cargo run --example luxinstruct -- my-recipe.toml      # your own recipe
//! ```
//!
//! Every setting is in the recipe: this program is what `lux run` does, written out so you can
//! change a stage in code. Without the base model in the models cache
//! (`cargo run -- models fetch`) it stops after the data stages and says how to get it.

use std::path::PathBuf;

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
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("recipes/luxinstruct.toml")
        });

    let recipe = Recipe::load_with(&path, &LoadOptions { quick })?;
    // What you would change in code rather than in the file, for example another base model:
    //     recipe.model = Some(lux::train::base_model::ModelSpec::from_path("my-model.gguf"));
    // or a stage of your own: recipe.train.push(lux::Named { name: "mine".into(), stage: Box::new(MyStage) });

    let mut settings = RunSettings {
        progress: true,
        ..RunSettings::default()
    };
    if let Some(model) = &recipe.model
        && let Err(e) = model.resolve(&recipe.base_dir)
    {
        println!(
            "{e}\n→ running the data stages only (fetch the model and run again for the rest)"
        );
        // The last data stage the recipe has (a recipe without one stops before anything).
        let names = recipe.stage_names();
        match ["mix", "data"]
            .into_iter()
            .find(|n| names.iter().any(|s| s == n))
        {
            Some(last) => settings.stop_after = Some(last.into()),
            None => return Err(e.into()),
        }
    }
    let report = Run::new(recipe, settings)?.execute().await?;
    for stage in &report.stages {
        println!(
            "{:<6} {:<14} {:<7} {:>7.1} s  {}",
            stage.kind, stage.name, stage.status, stage.seconds, stage.dir
        );
    }
    println!("report: {}", report.run_dir.join("report.md").display());
    Ok(())
}
