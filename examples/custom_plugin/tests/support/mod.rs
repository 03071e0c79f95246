//! Helpers of the crate's tests: paths, the recipe on a tiny model, the `lux-custom` binary.

use std::path::{Path, PathBuf};
use std::process::Command;

/// This crate's directory.
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The lux checkout this crate depends on (`lux = { path = "../.." }`).
pub fn lux_dir() -> PathBuf {
    crate_dir().join("../..").canonicalize().unwrap()
}

/// The crate's `recipe.toml`, made to run from `dir` on the tiny random model `dir/tiny-llama`:
/// its two references to SmolLM2 (the base model and the judge's) name the tiny model instead,
/// and its paths into the lux checkout (`../../data`, `../../prompts`) become absolute. Every
/// other setting is the file's own, so the test runs what a reader runs.
pub fn tiny_recipe(dir: &Path) -> String {
    let text = std::fs::read_to_string(crate_dir().join("recipe.toml")).unwrap();
    let tiny = format!("path = \"{}\"", dir.join("tiny-llama").display());
    let checkout = format!("\"{}/", lux_dir().display());
    for (from, count) in [
        ("name = \"smollm2\"", 1),
        ("model = \"smollm2\"", 1),
        ("\"../../", 3),
    ] {
        assert_eq!(text.matches(from).count(), count, "{from} in recipe.toml");
    }
    text.replace("name = \"smollm2\"", &tiny)
        .replace("model = \"smollm2\"", &tiny)
        .replace("\"../../", &checkout)
}

/// Runs `lux-custom` with `args` in `cwd`: (exit code, stdout, stderr).
pub fn lux_custom(args: &[&str], cwd: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lux-custom"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run lux-custom");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The JSON values of a JSON Lines file.
pub fn read_jsonl(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}
