//! `checkpoint-N/` directories, shared by the SFT trainer and LinguaLIFT's stages: written
//! whole into a temporary directory that is renamed into place (an interrupted write leaves the
//! previous checkpoints and no half-written one), and found again by the highest `N` whose
//! state file exists.

use std::path::{Path, PathBuf};

use lux_core::{IoContext, Result};

/// The newest complete `checkpoint-N/` under `dir` (highest `N` holding `state_file`), if any.
pub(crate) fn newest(dir: &Path, state_file: &str) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let step: usize = entry
                .file_name()
                .to_str()?
                .strip_prefix("checkpoint-")?
                .parse()
                .ok()?;
            entry
                .path()
                .join(state_file)
                .is_file()
                .then(|| (step, entry.path()))
        })
        .max_by_key(|(step, _)| *step)
        .map(|(_, path)| path)
}

/// Writes `dir/checkpoint-{step}/`: `fill` writes the files into a temporary directory, which
/// then replaces any checkpoint of that step.
pub(crate) fn write(dir: &Path, step: usize, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let target = dir.join(format!("checkpoint-{step}"));
    let tmp = dir.join(format!(".checkpoint-{step}.tmp"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).with_path(&tmp)?;
    }
    std::fs::create_dir_all(&tmp).with_path(&tmp)?;
    fill(&tmp)?;
    if target.exists() {
        std::fs::remove_dir_all(&target).with_path(&target)?;
    }
    std::fs::rename(&tmp, &target).with_path(&target)
}
