//! [`System`]: what an evaluation compares — the base model, each trained adapter, and
//! (LinguaLIFT) each aligner with the adapters trained behind it.

use std::path::{Path, PathBuf};

use lux_core::stage::StageContext;
use lux_core::{Error, IoContext, Result};

use std::sync::Arc;

use super::aligned::{AlignedModel, load_encoder, read_aligner_ref, read_encoder_spec};
use super::{LoadedModel, base_model};
use crate::adapter::Adapter;
use crate::align::{ChatSlots, load_aligner};
use crate::model::Llama;

/// The file beside a saved adapter that says which [`Adapter`] wrote it (its recipe table as
/// JSON), so any stage can load it back.
pub const ADAPTER_SPEC_FILE: &str = "lux_adapter.json";

/// A model an evaluation scores: the base (`adapter = None`), the base with the adapter a
/// training stage left, or — LinguaLIFT — a model that reads its input through an encoder
/// and an aligner (`aligner = Some`): after stage 1 the base behind the aligner, after stage 2
/// the base with its adapter behind the aligner it was trained with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct System {
    /// `base`, or the training stage's name.
    pub name: String,
    /// The adapter directory.
    pub adapter: Option<PathBuf>,
    /// The aligner directory, for a system that reads through an encoder.
    pub aligner: Option<PathBuf>,
}

impl System {
    /// Whether the system reads its input as text (everything but LinguaLIFT's systems).
    pub fn reads_text(&self) -> bool {
        self.aligner.is_none()
    }
}

/// The systems that read text: `base`, then one per adapter in the run's inputs, in training
/// order — what evaluations that feed the LLM tokens (CKA, held-out loss, judged answers)
/// compare. Adapters trained behind an aligner are left out: their LLM never learned to read
/// the text's own tokens (see [`all_systems`]).
pub fn systems(ctx: &StageContext) -> Vec<System> {
    let mut all = vec![System {
        name: "base".into(),
        adapter: None,
        aligner: None,
    }];
    for (key, artifact) in ctx.inputs_of_kind("adapter") {
        if artifact
            .path
            .join(super::aligned::ALIGNER_REF_FILE)
            .is_file()
        {
            continue;
        }
        all.push(System {
            name: stage_of(key),
            adapter: Some(artifact.path.clone()),
            aligner: None,
        });
    }
    all
}

/// Every system: `base`, then in training order one per `aligner` artifact (the base behind
/// it: LinguaLIFT after stage 1) and one per `adapter` (behind the aligner it was trained with,
/// if any) — for evaluations that can feed a text through an encoder as well as as tokens.
pub fn all_systems(ctx: &StageContext) -> Result<Vec<System>> {
    let mut all = vec![System {
        name: "base".into(),
        adapter: None,
        aligner: None,
    }];
    for (key, artifact) in &ctx.inputs {
        let system = match artifact.kind.as_str() {
            "aligner" => System {
                name: stage_of(key),
                adapter: None,
                aligner: Some(artifact.path.clone()),
            },
            "adapter" => System {
                name: stage_of(key),
                adapter: Some(artifact.path.clone()),
                aligner: read_aligner_ref(&artifact.path)?,
            },
            _ => continue,
        };
        all.push(system);
    }
    Ok(all)
}

fn stage_of(key: &str) -> String {
    key.split('/').next().unwrap_or(key).to_string()
}

/// The system's model on the `[model]`'s device (the shared base, or a copy with the adapter
/// loaded and merged when it can be), and the shared base (for its tokenizer). A system that
/// reads through an aligner is refused: load it with [`load_aligned_system`].
pub fn load_system(ctx: &StageContext, system: &System) -> Result<(Llama, Arc<LoadedModel>)> {
    if let Some(aligner) = &system.aligner {
        return Err(Error::plugin(
            &ctx.name,
            format!(
                "system `{}` reads its input through the aligner {}, not as text                  (load it with load_aligned_system)",
                system.name,
                aligner.display()
            ),
        ));
    }
    let base = base_model(ctx)?;
    let Some(dir) = &system.adapter else {
        return Ok((base.model.clone(), base));
    };
    let adapter = read_adapter_spec(dir)?;
    let mut model = adapter.load(base.model.clone(), dir)?;
    adapter.merge(&mut model)?;
    Ok((model, base))
}

/// A system that reads through an aligner: the LLM (with its adapter merged, if any), the
/// aligner, the encoder (loaded once per run), and the shared base (for its tokenizer).
pub fn load_aligned_system(
    ctx: &StageContext,
    system: &System,
) -> Result<(AlignedModel, Arc<LoadedModel>)> {
    let Some(aligner_dir) = &system.aligner else {
        return Err(Error::plugin(
            &ctx.name,
            format!("system `{}` reads text: it has no aligner", system.name),
        ));
    };
    let text = System {
        aligner: None,
        ..system.clone()
    };
    let (mut llm, base) = load_system(ctx, &text)?;
    let device = super::model_spec(ctx)?.device()?;
    let aligner = load_aligner(aligner_dir, &device)?;
    let encoder = load_encoder(ctx, &read_encoder_spec(aligner_dir)?)?;
    let slots = ChatSlots::new(&base.tokenizer, aligner.mode)?;
    llm.aligner = Some(aligner);
    Ok((
        AlignedModel {
            llm,
            encoder,
            slots,
        },
        base,
    ))
}

/// Writes the adapter's recipe table beside its files (see [`ADAPTER_SPEC_FILE`]).
pub fn write_adapter_spec(adapter: &dyn Adapter, dir: &Path) -> Result<()> {
    lux_core::fs::write_json_atomic(dir.join(ADAPTER_SPEC_FILE), adapter)
}

/// Reads the [`Adapter`] that wrote `dir`.
pub fn read_adapter_spec(dir: &Path) -> Result<Box<dyn Adapter>> {
    let path = dir.join(ADAPTER_SPEC_FILE);
    let text = std::fs::read_to_string(&path).with_path(&path)?;
    serde_json::from_str(&text).map_err(|e| Error::parse_source(&path, None, e))
}

#[cfg(test)]
mod tests {
    use lux_core::stage::Artifact;

    use super::super::aligned::write_aligner_ref;
    use super::*;

    #[test]
    fn adapters_trained_behind_an_aligner_are_not_text_systems() {
        let dir = tempfile::tempdir().unwrap();
        let (plain, aligned, aligner) = (
            dir.path().join("train/sft/adapter"),
            dir.path().join("train/instruct/adapter"),
            dir.path().join("train/align/aligner"),
        );
        for d in [&plain, &aligned, &aligner] {
            std::fs::create_dir_all(d).unwrap();
        }
        write_aligner_ref(&aligned, &aligner).unwrap();
        let mut ctx = StageContext::standalone("eval", dir.path().join("eval"));
        ctx.inputs = vec![
            (
                "mix/train".into(),
                Artifact::new("dataset", dir.path().join("t.jsonl")),
            ),
            ("sft/adapter".into(), Artifact::new("adapter", &plain)),
            ("align/aligner".into(), Artifact::new("aligner", &aligner)),
            (
                "instruct/adapter".into(),
                Artifact::new("adapter", &aligned),
            ),
        ];
        let text: Vec<(String, bool)> = systems(&ctx)
            .into_iter()
            .map(|s| (s.name, s.adapter.is_some()))
            .collect();
        assert_eq!(
            text,
            [("base".to_string(), false), ("sft".to_string(), true)]
        );
        let all = all_systems(&ctx).unwrap();
        let names: Vec<(&str, bool)> = all
            .iter()
            .map(|s| (s.name.as_str(), s.reads_text()))
            .collect();
        assert_eq!(
            names,
            [
                ("base", true),
                ("sft", true),
                ("align", false),
                ("instruct", false)
            ]
        );
        assert_eq!(all[2].adapter, None);
        let instruct_aligner = all[3].aligner.as_ref().unwrap();
        assert_eq!(
            std::fs::canonicalize(instruct_aligner).unwrap(),
            std::fs::canonicalize(&aligner).unwrap()
        );
        // A text evaluation refuses an aligned system instead of feeding its LLM tokens.
        let e = load_system(&ctx, &all[3]).unwrap_err().to_string();
        assert!(e.contains("instruct") && e.contains("aligner"), "{e}");
    }
}
