//! Regenerates the bundled MGSM-style set:
//!
//! ```sh
//! cargo run -p lux-eval --example write_mgsm_mini [-- OUT.jsonl]
//! ```
//!
//! Without an argument it rewrites `crates/lux-eval/data/mgsm_mini.jsonl`.

use lux_eval::mgsm::{MgsmMiniConfig, generate, write_jsonl};

fn main() -> lux_core::Result<()> {
    let path = std::env::args().nth(1).unwrap_or_else(|| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/data/mgsm_mini.jsonl").to_string()
    });
    let problems = generate(&MgsmMiniConfig::default())?;
    write_jsonl(&problems, &path)?;
    println!("wrote {} problems to {path}", problems.len());
    Ok(())
}
