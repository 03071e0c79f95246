//! The LuxInstruct recipe: native Luxembourgish seeds plus aligned EN/FR/DE data →
//! cross-lingual instructions → filters → dataset.
//!
//! ```text
//! cargo run --example luxinstruct                      # embedded default data, offline
//! cargo run --example luxinstruct -- my-recipe.toml    # your own recipe
//! ```
//!
//! The data stage reads `recipes/luxinstruct.toml`: the embedded corpus in `data/` (aligned
//! localisation strings and a dictionary mined from them), the offline generators of the
//! seven task types, and the filters. It writes `out/luxinstruct/data/` (dataset.jsonl,
//! dropped.jsonl, stats.md…) and resumes if interrupted.
//!
//! With an LLM endpoint (`LUX_LLM_BASE_URL` + `LUX_LLM_MODEL`, or an `[llm]` table in the
//! recipe), LuxInstruct's reverse instructions replace the offline open generation for
//! native documents (add a Wikipedia dump or news JSONL source to the recipe), and the run
//! goes to `out/luxinstruct/data-llm/`.

use std::path::PathBuf;

use lux::{DataRunOptions, Recipe};
// Link the plugin crates so that recipe files can name their plugins.
use lux::data as _;
#[cfg(feature = "plugins")]
use lux::plugins as _;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let recipe_path = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("recipes/luxinstruct.toml"));
    let recipe = Recipe::load(&recipe_path)?;
    let stage = if recipe.uses_llm() {
        "data-llm"
    } else {
        "data"
    };
    let out = root.join("out").join(&recipe.name).join(stage);
    println!(
        "LuxInstruct data stage: {} → {}",
        recipe_path.display(),
        out.display()
    );

    let started = std::time::Instant::now();
    let summary = recipe
        .run_data(
            &out,
            &DataRunOptions {
                progress: true,
                ..Default::default()
            },
        )
        .await?;
    let s = &summary.stats;
    println!(
        "\n{} seeds ({} resumed from an earlier run) → {} examples, {} kept, {} dropped ({:.1}s)",
        s.seeds_done,
        summary.seeds_resumed,
        s.generated,
        s.kept,
        s.dropped,
        started.elapsed().as_secs_f64()
    );
    println!("\nkept per task:");
    for (task, c) in &s.per_task {
        println!("  {task:<22} {:>6}", c.kept);
    }
    println!("kept per instruction language:");
    for (lang, c) in &s.per_instruction_lang {
        println!("  {lang:<22} {:>6}", c.kept);
    }
    println!(
        "\ndataset: {}\nreport:  {}",
        out.join("dataset.jsonl").display(),
        out.join("stats.md").display()
    );
    Ok(())
}
