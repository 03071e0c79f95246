//! What LinguaLIFT's stages and the evaluations of aligned systems share: the files that tie an
//! aligner to its encoder and an adapter to its aligner, the encoder loaded once per run,
//! examples as aligned samples, and [`AlignedModel`] (answers and losses through the encoder).

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use burn::module::Module;
use lux_core::stage::StageContext;
use lux_core::{Error, Example, IoContext, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::align::{
    AlignedSample, Aligner, ChatSlots, aligned_loss, generate_aligned, save_aligner,
};
use crate::encoder::{EncoderSpec, TextEncoder};
use crate::model::Llama;
use crate::sft::user_turn;
use crate::tokenizer::Tokenizer;
use crate::training::{TrainReport, Trainer, TrainingArgs};

/// In an aligner directory (beside `save_aligner`'s files): the encoder it reads, as an
/// [`EncoderSpec`] with an absolute path.
pub const ENCODER_SPEC_FILE: &str = "lux_encoder.json";

/// In an adapter directory: the aligner the adapter was trained behind
/// (`{"aligner": "<dir>"}`, relative to the adapter directory when both lie in one run), so an
/// evaluation runs it with that aligner and never as a plain text model.
pub const ALIGNER_REF_FILE: &str = "lux_aligner.json";

/// Writes `aligner` and the encoder it reads into `dir`.
pub fn write_aligner_dir(aligner: &Aligner, encoder: &EncoderSpec, dir: &Path) -> Result<()> {
    save_aligner(aligner, dir)?;
    lux_core::fs::write_json_atomic(dir.join(ENCODER_SPEC_FILE), encoder)
}

/// The encoder an aligner directory was trained with.
pub fn read_encoder_spec(aligner_dir: &Path) -> Result<EncoderSpec> {
    let path = aligner_dir.join(ENCODER_SPEC_FILE);
    let text = std::fs::read_to_string(&path).with_path(&path)?;
    serde_json::from_str(&text).map_err(|e| Error::parse_source(&path, None, e))
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlignerRef {
    aligner: PathBuf,
}

/// Records in `adapter_dir` that the adapter reads its input through `aligner_dir`.
pub fn write_aligner_ref(adapter_dir: &Path, aligner_dir: &Path) -> Result<()> {
    let aligner = relative(adapter_dir, aligner_dir)
        .map_or_else(|| std::path::absolute(aligner_dir), Ok)
        .map_err(|e| Error::io(aligner_dir, e))?;
    lux_core::fs::write_json_atomic(adapter_dir.join(ALIGNER_REF_FILE), &AlignerRef { aligner })
}

/// The aligner an adapter was trained behind, or `None` for an adapter that reads text.
pub fn read_aligner_ref(adapter_dir: &Path) -> Result<Option<PathBuf>> {
    let path = adapter_dir.join(ALIGNER_REF_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).with_path(&path)?;
    let r: AlignerRef =
        serde_json::from_str(&text).map_err(|e| Error::parse_source(&path, None, e))?;
    Ok(Some(adapter_dir.join(r.aligner)))
}

/// `to` relative to the directory `from` when both are plain paths (no `..`) under a common
/// root, so that a run directory can move.
fn relative(from: &Path, to: &Path) -> Option<PathBuf> {
    let plain = |p: &Path| p.components().all(|c| !matches!(c, Component::ParentDir));
    if !plain(from) || !plain(to) || from.is_absolute() != to.is_absolute() {
        return None;
    }
    let a: Vec<Component> = from
        .components()
        .filter(|c| *c != Component::CurDir)
        .collect();
    let b: Vec<Component> = to
        .components()
        .filter(|c| *c != Component::CurDir)
        .collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if common == 0 {
        return None;
    }
    let mut out = PathBuf::new();
    for _ in common..a.len() {
        out.push("..");
    }
    for c in &b[common..] {
        out.push(c.as_os_str());
    }
    Some(out)
}

/// The encoder of `spec` on the `[model]`'s device (no autodiff: it is frozen), loaded once
/// per run and shared by every stage that names it.
pub fn load_encoder(ctx: &StageContext, spec: &EncoderSpec) -> Result<Arc<TextEncoder>> {
    let path = spec.resolve(&ctx.base_dir)?;
    let device = super::model_spec(ctx)?.device()?;
    ctx.resources
        .get_or_try_insert(&format!("encoder:{}", path.display()), || {
            TextEncoder::load(&path, &device)
        })
}

/// Each `(text, answer)` as an aligned sample: the encoder reads the text, the answer (when
/// given) is the target.
pub(crate) fn aligned_samples(
    encoder: &TextEncoder,
    tokenizer: &Tokenizer,
    slots: &ChatSlots,
    pairs: &[(String, Option<String>)],
    batch_size: usize,
) -> Result<Vec<AlignedSample>> {
    let texts: Vec<&str> = pairs.iter().map(|(t, _)| t.as_str()).collect();
    let states = encoder.states(&texts, batch_size)?;
    pairs
        .iter()
        .zip(states)
        .map(|((text, answer), s)| slots.sample(tokenizer, text, s, answer.as_deref()))
        .collect()
}

/// A stage's training and validation examples as aligned samples: the encoder reads each
/// example's user turn (as SFT formats it), its output is the target.
pub(crate) fn example_samples(
    encoder: &TextEncoder,
    tokenizer: &Tokenizer,
    slots: &ChatSlots,
    (train, validation): (&[Example], &[Example]),
    batch_size: usize,
) -> Result<(Vec<AlignedSample>, Vec<AlignedSample>)> {
    let samples = |examples: &[Example]| {
        let pairs: Vec<(String, Option<String>)> = examples
            .iter()
            .map(|e| (user_turn(e), Some(e.output.clone())))
            .collect();
        aligned_samples(encoder, tokenizer, slots, &pairs, batch_size)
    };
    Ok((samples(train)?, samples(validation)?))
}

/// A [`Trainer`] of a stage's settings writing into the stage's directory, with a progress bar
/// when the run shows them.
pub(crate) fn stage_trainer(args: &TrainingArgs, ctx: &StageContext) -> Result<Trainer> {
    let mut args = args.clone();
    args.progress = ctx.progress;
    Trainer::new(args, &ctx.dir)
}

/// The figures of a finished LinguaLIFT stage, for its summary and report section.
pub(crate) fn stage_summary(
    report: &TrainReport,
    args: &TrainingArgs,
    train: usize,
    validation: usize,
    seconds: f64,
) -> serde_json::Value {
    let first = report.steps.first().map(|s| s.loss);
    let last = report.steps.last().map(|s| s.loss);
    let positions_per_s =
        report.steps.iter().map(|s| s.tokens_per_s).sum::<f64>() / report.steps.len().max(1) as f64;
    json!({
        "train_examples": train,
        "validation_examples": validation,
        "steps": report.steps.len(),
        "batch_size": args.per_device_train_batch_size,
        "first_train_loss": first,
        "last_train_loss": last,
        "initial_eval_loss": report.initial_eval_loss,
        "final_eval_loss": report.final_eval_loss,
        "positions_per_s": positions_per_s,
        "seconds": seconds,
    })
}

/// A loss for Markdown (`–` when there is none).
pub(crate) fn loss_cell(l: Option<f64>) -> String {
    l.map_or("–".to_string(), |l| format!("{l:.4}"))
}

/// A model that reads its input through an encoder and an aligner (LinguaLIFT after stage 1,
/// or stage 1 + 2), on the `[model]`'s device.
#[derive(Debug)]
pub struct AlignedModel {
    /// The LLM (the base, or the base with its adapter merged) with the alignment layer
    /// attached ([`Llama::aligner`]).
    pub llm: Llama,
    /// The frozen encoder.
    pub encoder: Arc<TextEncoder>,
    /// The chat template cut around the user's text.
    pub slots: ChatSlots,
}

impl AlignedModel {
    /// Greedy answers to each text, read through the encoder, cut at `max_new_tokens` and
    /// trimmed, in batches of `batch_size`.
    pub fn answer(
        &self,
        tokenizer: &Tokenizer,
        texts: &[String],
        max_new_tokens: usize,
        batch_size: usize,
    ) -> Result<Vec<String>> {
        let config = super::answers::greedy_turn(tokenizer, max_new_tokens);
        let llm = self.llm.valid();
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(batch_size.max(1)) {
            let pairs: Vec<(String, Option<String>)> =
                chunk.iter().map(|t| (t.clone(), None)).collect();
            let samples =
                aligned_samples(&self.encoder, tokenizer, &self.slots, &pairs, batch_size)?;
            for g in generate_aligned(&llm, tokenizer, &samples, &config)? {
                out.push(g.text.trim().to_string());
            }
        }
        Ok(out)
    }

    /// Mean token loss (nats) of each `(text, answer)`'s answer, the text read through the
    /// encoder.
    pub fn loss(
        &self,
        tokenizer: &Tokenizer,
        pairs: &[(String, String)],
        batch_size: usize,
    ) -> Result<f64> {
        let pairs: Vec<(String, Option<String>)> = pairs
            .iter()
            .map(|(t, a)| (t.clone(), Some(a.clone())))
            .collect();
        let samples = aligned_samples(&self.encoder, tokenizer, &self.slots, &pairs, batch_size)?;
        aligned_loss(&self.llm.valid(), &samples, batch_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligner_references_are_relative_inside_a_run() {
        assert_eq!(
            relative(
                Path::new("out/run/train/b/adapter"),
                Path::new("out/run/train/a/aligner")
            ),
            Some(PathBuf::from("../../a/aligner"))
        );
        assert_eq!(relative(Path::new("/x/a"), Path::new("y/b")), None);
        assert_eq!(relative(Path::new("a/../b"), Path::new("a/c")), None);
        let dir = tempfile::tempdir().unwrap();
        let adapter = dir.path().join("train/b/adapter");
        std::fs::create_dir_all(&adapter).unwrap();
        assert_eq!(read_aligner_ref(&adapter).unwrap(), None);
        write_aligner_ref(&adapter, &dir.path().join("train/a/aligner")).unwrap();
        let back = read_aligner_ref(&adapter).unwrap().unwrap();
        assert_eq!(
            std::fs::canonicalize(back.parent().unwrap().parent().unwrap()).unwrap(),
            std::fs::canonicalize(dir.path().join("train")).unwrap()
        );
        assert!(back.ends_with("a/aligner"));
    }
}
