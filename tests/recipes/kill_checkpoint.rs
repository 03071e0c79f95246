//! `kill -9` while a training stage writes its checkpoints (issue 18): an SFT stage that saves
//! a checkpoint every step is killed at moments spread over its run — while the model loads,
//! mid-step, and while a `checkpoint-N` is being built in its temporary directory — and after
//! each kill every `checkpoint-*` present is complete and sound (its checksums hold, its
//! trainable parameters are the uninterrupted run's), no torn file has a final name, and the
//! newest one is what a rerun resumes from: a checkpoint once complete is never written again.
//! The last rerun finishes with exactly the uninterrupted run's checkpoints, losses and adapter.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use lux::train::training::{Trainer, TrainingArgs};

use crate::support::{lux, tiny_recipe};

/// Steps of the stage: a few seconds of training, a checkpoint after each.
const STEPS: usize = 80;

const ARGS: [&str; 7] = [
    "run",
    "tiny.toml",
    "--out",
    "killed",
    "--stage",
    "sft",
    "--quiet",
];

/// The `checkpoint-N` entries of `sft`, by `N`.
fn checkpoints(sft: &Path) -> BTreeMap<usize, PathBuf> {
    entries(sft)
        .into_iter()
        .filter_map(|name| {
            let n = name.strip_prefix("checkpoint-")?.parse().ok()?;
            Some((n, sft.join(&name)))
        })
        .collect()
}

/// The highest `N` of the `checkpoint-N` in `sft`, 0 without any.
fn newest(sft: &Path) -> usize {
    checkpoints(sft).into_keys().next_back().unwrap_or(0)
}

/// The checkpoints being built (`.checkpoint-N.tmp`) in `sft`.
fn building(sft: &Path) -> BTreeSet<String> {
    entries(sft)
        .into_iter()
        .filter(|n| n.starts_with(".checkpoint-") && n.ends_with(".tmp"))
        .collect()
}

/// Names in `dir` (none when it does not exist).
fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// `(loss, grad_norm)` of every line of a `metrics.jsonl`, as written.
fn losses(sft: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(sft.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let m: serde_json::Value = serde_json::from_str(l).unwrap();
            (m["loss"].to_string(), m["grad_norm"].to_string())
        })
        .collect()
}

/// A safetensors file's tensors — their names, shapes and bytes — without its metadata (which
/// in `trainable.safetensors` holds parameter ids, drawn afresh by every process).
fn tensors(path: &Path) -> (serde_json::Value, Vec<u8>) {
    let bytes = std::fs::read(path).unwrap();
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + len]).unwrap();
    header.as_object_mut().unwrap().remove("__metadata__");
    (header, bytes[8 + len..].to_vec())
}

/// When to kill a run.
#[derive(Debug, Clone, Copy)]
enum Moment {
    /// Once the stage has started (the model loads, the initial evaluation runs).
    StageStarted,
    /// `ms` milliseconds after `checkpoint-N` with `N ≥ step` is complete: mid-step.
    After { step: usize, ms: u64 },
    /// While a checkpoint this run began is being built, once its temporary directory holds
    /// `file` (`None`: as soon as the directory appears).
    Building(Option<&'static str>),
}

struct Killer {
    dir: PathBuf,
    sft: PathBuf,
    reference: PathBuf,
    /// When each complete checkpoint seen so far was written (its state file's mtime).
    seen: BTreeMap<usize, SystemTime>,
}

impl Killer {
    fn spawn(&self) -> Child {
        Command::new(env!("CARGO_BIN_EXE_lux"))
            .args(ARGS)
            .current_dir(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    /// Runs the stage and kills it (SIGKILL) at `moment`; whether a checkpoint it began was
    /// being built at the kill. Panics when the run ended on its own first.
    fn kill_at(&self, moment: Moment) -> bool {
        let stale = building(&self.sft);
        let first = newest(&self.sft);
        let mut child = self.spawn();
        let deadline = Instant::now() + Duration::from_secs(120);
        let reached = || match moment {
            Moment::StageStarted => self.sft.join("stage.json").exists(),
            Moment::After { step, .. } => newest(&self.sft) >= step,
            // A file whose moment is too short to be seen on a loaded machine: after a few
            // steps, any checkpoint being built will do.
            Moment::Building(file) => {
                let patient = newest(&self.sft) < first + 4;
                building(&self.sft).iter().any(|name| {
                    !stale.contains(name)
                        && file.is_none_or(|f| !patient || self.sft.join(name).join(f).exists())
                })
            }
        };
        while !reached() {
            assert!(
                child.try_wait().unwrap().is_none(),
                "the run ended before {moment:?}"
            );
            assert!(Instant::now() < deadline, "{moment:?} never came");
            std::thread::sleep(Duration::from_micros(100));
        }
        if let Moment::After { ms, .. } = moment {
            std::thread::sleep(Duration::from_millis(ms));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        !building(&self.sft).is_empty() && building(&self.sft) != stale
    }

    /// What must hold whenever the run stopped: every `checkpoint-N` complete, sound and the
    /// uninterrupted run's; the newest one is what a rerun resumes from; the complete ones seen
    /// before were not written again; nothing torn under a final name.
    fn check(&mut self, when: &str) {
        let all = checkpoints(&self.sft);
        for (&n, path) in &all {
            Trainer::verify(path)
                .unwrap_or_else(|e| panic!("{when}: checkpoint-{n} is not sound: {e}"));
            // Exactly the files its checksums list: no temporary or half-written extra.
            let listed: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
                &std::fs::read_to_string(path.join("checksums.json")).unwrap(),
            )
            .unwrap();
            let mut files: BTreeSet<String> = entries(path).into_iter().collect();
            assert!(files.remove("checksums.json"), "{when}: checkpoint-{n}");
            assert_eq!(
                files,
                listed.keys().cloned().collect::<BTreeSet<_>>(),
                "{when}: checkpoint-{n} holds files its checksums do not list"
            );
            let state: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(path.join("trainer_state.json")).unwrap(),
            )
            .unwrap();
            assert_eq!(state["global_step"], n, "{when}: checkpoint-{n}");
            for file in ["trainable.safetensors", "adapter_model.safetensors"] {
                let reference = self.reference.join(format!("checkpoint-{n}/{file}"));
                assert!(
                    tensors(&path.join(file)) == tensors(&reference),
                    "{when}: checkpoint-{n}/{file} differs from the uninterrupted run's"
                );
            }
            let written = std::fs::metadata(path.join("trainer_state.json"))
                .and_then(|m| m.modified())
                .unwrap();
            let before = *self.seen.entry(n).or_insert(written);
            assert_eq!(
                before, written,
                "{when}: checkpoint-{n} was written again (the rerun did not resume from the \
                 newest checkpoint)"
            );
        }
        for n in self.seen.keys() {
            assert!(all.contains_key(n), "{when}: checkpoint-{n} disappeared");
        }
        for name in building(&self.sft) {
            let n = &name[".checkpoint-".len()..name.len() - ".tmp".len()];
            assert!(
                !self.sft.join(format!("checkpoint-{n}")).exists(),
                "{when}: checkpoint-{n} beside its temporary directory"
            );
        }
        let trainer = Trainer::new(TrainingArgs::new(1e-3), &self.sft).unwrap();
        assert_eq!(
            trainer.latest_checkpoint(),
            all.values().next_back().cloned(),
            "{when}: the newest sound checkpoint is the newest one"
        );
        // The final adapter, written after the last step: whole or absent.
        for file in ["adapter_model.safetensors", "adapter_config.json"] {
            if let Ok(bytes) = std::fs::read(self.sft.join("adapter").join(file)) {
                assert!(
                    bytes == std::fs::read(self.reference.join("adapter").join(file)).unwrap(),
                    "{when}: adapter/{file} torn"
                );
            }
        }
        for file in ["train_report.json", "stage.json"] {
            if let Ok(text) = std::fs::read_to_string(self.sft.join(file)) {
                serde_json::from_str::<serde_json::Value>(&text)
                    .unwrap_or_else(|e| panic!("{when}: {file} torn: {e}"));
            }
        }
    }
}

#[test]
fn kill_9_while_checkpointing_leaves_only_sound_checkpoints_and_a_rerun_finishes_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    lux::train::testing::write_tiny_llama(&d.join("tiny-llama"), 11).unwrap();
    std::fs::write(
        d.join("tiny.toml"),
        tiny_recipe(&d.join("tiny-llama"), STEPS),
    )
    .unwrap();
    let started = Instant::now();
    let (code, _, stderr) = lux(
        &[
            "run",
            "tiny.toml",
            "--out",
            "reference",
            "--stage",
            "sft",
            "--quiet",
        ],
        d,
    );
    assert_eq!(code, 0, "{stderr}");
    eprintln!(
        "uninterrupted run: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let mut killer = Killer {
        dir: d.to_path_buf(),
        sft: d.join("killed/train/sft"),
        reference: d.join("reference/train/sft"),
        seen: BTreeMap::new(),
    };

    // Kills spread over the run: before the first checkpoint, then at different points of a
    // step (the forward pass, the backward pass, the save).
    for moment in [
        Moment::StageStarted,
        Moment::After { step: 6, ms: 0 },
        Moment::After { step: 12, ms: 9 },
        Moment::After { step: 18, ms: 21 },
        Moment::After { step: 24, ms: 33 },
    ] {
        killer.kill_at(moment);
        killer.check(&format!("after a kill at {moment:?}"));
    }
    // Kills aimed at a checkpoint being built, at each file it gets in turn.
    let mut caught = Vec::new();
    let aims = [
        None,
        Some("adapter_model.safetensors"),
        Some("trainable.safetensors"),
        Some("optimizer.bpk"),
        Some("trainer_state.json"),
        Some("checksums.json"),
    ];
    for (i, file) in aims.into_iter().chain([None; 3]).enumerate() {
        if i >= aims.len() && !caught.is_empty() {
            break;
        }
        let moment = Moment::Building(file);
        if killer.kill_at(moment) {
            caught.push(file);
        }
        killer.check(&format!("after a kill at {moment:?}"));
    }
    eprintln!(
        "kills that landed while a checkpoint was built (aimed at its file): {caught:?}; \
         newest checkpoint before the last rerun: {}",
        newest(&killer.sft)
    );
    assert!(
        !caught.is_empty(),
        "no kill landed while a checkpoint was being built"
    );

    let (code, _, stderr) = lux(&ARGS, d);
    assert_eq!(code, 0, "{stderr}");
    killer.check("after the last rerun");
    let sft = &killer.sft;
    assert_eq!(
        checkpoints(sft).into_keys().collect::<Vec<_>>(),
        (1..=STEPS).collect::<Vec<_>>()
    );
    assert_eq!(building(sft), BTreeSet::new(), "temporary checkpoints left");
    assert!(
        !entries(sft)
            .iter()
            .chain(&entries(&sft.join("adapter")))
            .any(|n| n.contains(".tmp")),
        "temporary files left: {:?}",
        entries(sft)
    );
    assert_eq!(losses(sft), losses(&killer.reference));
    for file in ["adapter_model.safetensors", "adapter_config.json"] {
        assert!(
            std::fs::read(sft.join("adapter").join(file)).unwrap()
                == std::fs::read(killer.reference.join("adapter").join(file)).unwrap(),
            "adapter/{file} differs from the uninterrupted run's"
        );
    }
    eprintln!("in all: {:.1} s", started.elapsed().as_secs_f64());
}
