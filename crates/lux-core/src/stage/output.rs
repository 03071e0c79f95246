//! [`StageOutput`]: what a finished stage reports and leaves behind.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Artifact;

/// What a stage returns: files for later stages, headline figures for `report.json`, and its
/// section of `report.md`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StageOutput {
    /// Files for later stages, by short name (`adapter`, `train`): the run makes them
    /// `"<stage>/<name>"` in [`super::StageContext::inputs`].
    #[serde(default)]
    pub artifacts: BTreeMap<String, Artifact>,
    /// The stage's figures (losses, scores per language…), as JSON.
    #[serde(default)]
    pub summary: serde_json::Value,
    /// The stage's section of the run's `report.md` (Markdown, without a heading; links
    /// relative to the run directory).
    #[serde(default)]
    pub markdown: String,
}

impl StageOutput {
    /// Adds an artifact.
    pub fn with_artifact(mut self, name: impl Into<String>, artifact: Artifact) -> StageOutput {
        self.artifacts.insert(name.into(), artifact);
        self
    }
}
