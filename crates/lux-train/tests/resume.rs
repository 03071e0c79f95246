//! SFT checkpoints and resume, and gradient accumulation, on a tiny random Llama:
//! - resuming from a mid-run checkpoint gives the same later losses and the same adapter as the
//!   uninterrupted run (with LoRA dropout on, so the RNG must be restored too);
//! - a broken checkpoint is an error naming the file or field;
//! - batch 4 × accumulation 1 and batch 1 × accumulation 4 over the same samples take the same
//!   step (same loss, same gradient norm, same weights), i.e. accumulation is normalised by the
//!   target tokens of the whole accumulated batch.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::Device;
use lux_train::lora::{LoraConfig, TargetModules, apply_lora};
use lux_train::model::Llama;
use lux_train::sft::{SftSample, SftTrainer};
use lux_train::training::{LrSchedule, TrainReport, TrainingArgs, Warmup};

fn base(device: &Device) -> Llama {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/llama/llama_untied");
    Llama::from_pretrained(dir, device).unwrap()
}

/// Prompts of 3 to 6 tokens, answers of 1 to 5: target counts differ between samples, so a
/// per-micro-batch mean would weigh them differently from a per-token mean.
fn samples(range: std::ops::Range<u32>) -> Vec<SftSample> {
    range
        .map(|i| {
            let n = 3 + (i % 4) as usize;
            let prompt: Vec<u32> = (0..n as u32).map(|j| 3 + (i * 7 + j * 5) % 40).collect();
            let mut ids = prompt.clone();
            ids.push(1);
            ids.extend(prompt.iter().take(1 + (i % 5) as usize).map(|t| t + 10));
            SftSample {
                ids,
                prompt_len: n + 1,
            }
        })
        .collect()
}

/// burn-flex's random numbers come from one process-wide generator: the tests here seed it and
/// draw from it (adapter init, dropout masks), so each holds this lock to keep the other tests'
/// threads from drawing in between.
static RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn rng_lock() -> std::sync::MutexGuard<'static, ()> {
    RNG.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn lora(dropout: f64) -> LoraConfig {
    let mut l = LoraConfig::new(4, 8.0, TargetModules::all_linear());
    l.lora_dropout = dropout;
    l
}

fn config() -> TrainingArgs {
    let mut c = TrainingArgs::new(3e-3);
    c.max_steps = Some(6);
    c.per_device_train_batch_size = 4;
    c.gradient_accumulation_steps = 2;
    c.warmup = Warmup::Steps(1);
    c.lr_scheduler = LrSchedule::Cosine;
    c.weight_decay = 0.01;
    c.save_steps = Some(3);
    c
}

/// Logits of a fixed input (what the adapter weights do, in one vector).
fn logits(model: &Llama, device: &Device) -> Vec<f32> {
    let ids = burn::tensor::Tensor::<2, burn::tensor::Int>::from_data(
        burn::tensor::TensorData::new(vec![3i64, 8, 13, 18, 1], [1, 5]),
        device,
    );
    model
        .valid()
        .forward(ids.to_device(&device.clone().inner()), None)
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max)
}

#[test]
fn resuming_from_a_checkpoint_continues_the_run_exactly() {
    let _rng = rng_lock();
    let device = Device::flex().autodiff();
    let train = samples(0..40);
    let validation = samples(100..108);
    let full_dir = tempfile::tempdir().unwrap();
    let trainer = SftTrainer::new(config(), lora(0.1), full_dir.path()).unwrap();
    let (model, _) = apply_lora(base(&device), &lora(0.1), 3).unwrap();
    let (full_model, full) = trainer.train(model, &train, &validation, 0).unwrap();
    assert_eq!(full.steps.len(), 6);
    let checkpoint = full_dir.path().join("checkpoint-3");
    for file in [
        "adapter_model.safetensors",
        "optimizer.bpk",
        "trainable.safetensors",
        "trainer_state.json",
    ] {
        assert!(checkpoint.join(file).is_file(), "{file}");
    }
    assert!(!full_dir.path().join(".checkpoint-3.tmp").exists());

    let resumed_dir = tempfile::tempdir().unwrap();
    let trainer = SftTrainer::new(config(), lora(0.1), resumed_dir.path()).unwrap();
    let (resumed_model, resumed): (_, TrainReport) = trainer
        .resume(base(&device), &checkpoint, &train, &validation, 0)
        .unwrap();
    assert_eq!(resumed.steps.len(), 6);
    for (a, b) in full.steps.iter().zip(&resumed.steps) {
        assert_eq!(a.step, b.step);
        assert!(
            (a.loss - b.loss).abs() < 1e-6,
            "step {}: {} uninterrupted vs {} resumed",
            a.step,
            a.loss,
            b.loss
        );
        assert_eq!(a.lr, b.lr);
    }
    assert!((full.final_eval_loss.unwrap() - resumed.final_eval_loss.unwrap()).abs() < 1e-6);
    let worst = max_diff(
        &logits(&full_model, &device),
        &logits(&resumed_model, &device),
    );
    assert!(worst < 1e-5, "the resumed model's logits differ by {worst}");
    let metrics = std::fs::read_to_string(resumed_dir.path().join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 6);
}

#[test]
fn broken_checkpoints_are_errors_naming_the_file_or_field() {
    let _rng = rng_lock();
    let device = Device::flex().autodiff();
    let train = samples(0..16);
    let out = tempfile::tempdir().unwrap();
    let mut c = config();
    c.max_steps = Some(3);
    let trainer = SftTrainer::new(c.clone(), lora(0.0), out.path()).unwrap();
    let (model, _) = apply_lora(base(&device), &lora(0.0), 3).unwrap();
    trainer.train(model, &train, &[], 0).unwrap();
    let checkpoint = out.path().join("checkpoint-3");

    let resume = |config: TrainingArgs, dir: &Path| {
        let other = tempfile::tempdir().unwrap();
        SftTrainer::new(config, lora(0.0), other.path())
            .unwrap()
            .resume(base(&device), dir, &train, &[], 0)
            .unwrap_err()
            .to_string()
    };
    let mut other_seed = c.clone();
    other_seed.seed += 1;
    let err = resume(other_seed, &checkpoint);
    assert!(
        err.contains("seed") && err.contains("trainer_state.json"),
        "{err}"
    );

    let broken = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&checkpoint).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), broken.path().join(entry.file_name())).unwrap();
    }
    std::fs::remove_file(broken.path().join("optimizer.bpk")).unwrap();
    let err = resume(c.clone(), broken.path());
    assert!(err.contains("optimizer.bpk"), "{err}");

    std::fs::copy(
        checkpoint.join("optimizer.bpk"),
        broken.path().join("optimizer.bpk"),
    )
    .unwrap();
    std::fs::write(
        broken.path().join("trainer_state.json"),
        "{\"global_step\": ",
    )
    .unwrap();
    let err = resume(c.clone(), broken.path());
    assert!(err.contains("trainer_state.json"), "{err}");
}

#[test]
fn accumulated_micro_batches_take_the_same_step_as_one_batch() {
    let _rng = rng_lock();
    let device = Device::flex().autodiff();
    let train = samples(0..4);
    let run = |batch: usize, accumulation: usize| {
        let mut c = TrainingArgs::new(1e-2);
        c.max_steps = Some(1);
        c.per_device_train_batch_size = batch;
        c.gradient_accumulation_steps = accumulation;
        c.lr_scheduler = LrSchedule::Constant;
        // Large enough never to clip, so the logged norm is the raw gradient's.
        c.max_grad_norm = Some(1e9);
        let out = tempfile::tempdir().unwrap();
        let trainer = SftTrainer::new(c, lora(0.0), out.path()).unwrap();
        let (model, _) = apply_lora(base(&device), &lora(0.0), 5).unwrap();
        let (model, report) = trainer.train(model, &train, &[], 0).unwrap();
        (report, logits(&model, &device))
    };
    let (one, logits_one) = run(4, 1);
    let (four, logits_four) = run(1, 4);
    let (a, b) = (&one.steps[0], &four.steps[0]);
    assert_eq!(a.target_tokens, b.target_tokens);
    assert!((a.loss - b.loss).abs() < 1e-5, "{} vs {}", a.loss, b.loss);
    let (na, nb) = (a.grad_norm.unwrap(), b.grad_norm.unwrap());
    assert!(
        (na - nb).abs() < 1e-4 * na,
        "gradient norm {na} (4 × 1) vs {nb} (1 × 4)"
    );
    let worst = max_diff(&logits_one, &logits_four);
    assert!(worst < 1e-4, "logits after the step differ by {worst}");
}

/// A checkpoint file damaged after it was written is refused, naming the file, and the run
/// resumes from the newest checkpoint whose checksums hold.
#[test]
fn a_corrupted_checkpoint_is_refused_and_the_newest_sound_one_is_resumed() {
    let _rng = rng_lock();
    let device = Device::flex().autodiff();
    let train = samples(0..16);
    let out = tempfile::tempdir().unwrap();
    let mut c = config();
    c.max_steps = Some(4);
    c.save_steps = Some(2);
    let trainer = SftTrainer::new(c, lora(0.0), out.path()).unwrap();
    let (model, _) = apply_lora(base(&device), &lora(0.0), 3).unwrap();
    trainer.train(model, &train, &[], 0).unwrap();
    let newest = out.path().join("checkpoint-4");
    assert_eq!(trainer.latest_checkpoint().unwrap(), newest);
    assert!(newest.join("checksums.json").is_file());

    for file in ["adapter_model.safetensors", "optimizer.bpk"] {
        let path = newest.join(file);
        let mut bytes = std::fs::read(&path).unwrap();
        let i = bytes.len() - 3;
        bytes[i] ^= 0x40;
        std::fs::write(&path, &bytes).unwrap();
        let err = trainer
            .resume(base(&device), &newest, &train, &[], 0)
            .unwrap_err()
            .to_string();
        assert!(err.contains(file) && err.contains("SHA-256"), "{err}");
        bytes[i] ^= 0x40;
        std::fs::write(&path, &bytes).unwrap();
    }
    // Damaged: skipped; the checkpoint before it is what a rerun continues.
    let path = newest.join("trainable.safetensors");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.truncate(bytes.len() - 1);
    std::fs::write(&path, &bytes).unwrap();
    assert_eq!(
        trainer.latest_checkpoint().unwrap(),
        out.path().join("checkpoint-2")
    );
    // The rerun writes step 4 again over the damaged one, which is moved aside and then
    // removed: a sound checkpoint-4 and nothing else left behind.
    let resumed = out.path().join("checkpoint-2");
    trainer
        .resume(base(&device), &resumed, &train, &[], 0)
        .unwrap();
    assert_eq!(trainer.latest_checkpoint().unwrap(), newest);
    assert_eq!(std::fs::read(&path).unwrap().len(), bytes.len() + 1);
    let mut left: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    left.sort();
    assert!(left.is_empty(), "left behind: {left:?}");
}
