//! LinguaLIFT's alignment layer on tiny random models (the Llama and BERT fixtures): stage 1
//! lowers the loss with the LLM bit-identical, stage 2 moves only the LoRA weights with the
//! aligner bit-identical, and generation through an identity aligner equals plain generation.

use std::path::PathBuf;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Int, Tensor, TensorData};
use lux_train::Adapter;
use lux_train::align::{
    ALIGNER_WEIGHTS_FILE, AlignMode, AlignedObjective, AlignedSample, AlignerAdapter,
    AlignerConfig, generate_aligned_ids, load_aligner, save_aligner, token_states,
};
use lux_train::encoder::Encoder;
use lux_train::generate::{SamplingConfig, generate_ids};
use lux_train::lora::{LoraConfig, TargetModules, apply_lora};
use lux_train::model::Llama;
use lux_train::training::{LrSchedule, TrainReport, Trainer, TrainingArgs};

/// burn-flex's random numbers come from one process-wide generator: tests that seed it and
/// draw from it (initial weights, dropout masks) take this lock so that tests running on other
/// threads do not draw in between.
static RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn rng_lock() -> std::sync::MutexGuard<'static, ()> {
    RNG.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `steps` steps of 8 samples at a constant `lr`, checkpoints every `save_steps` into `dir`.
fn trainer(lr: f64, steps: usize, save_steps: Option<usize>, dir: &std::path::Path) -> Trainer {
    let mut args = TrainingArgs::new(lr);
    args.max_steps = Some(steps);
    args.per_device_train_batch_size = 8;
    args.lr_scheduler = LrSchedule::Constant;
    args.save_steps = save_steps;
    Trainer::new(args, dir).unwrap()
}

fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

/// Every float parameter of a module, in visiting order, with its path.
#[derive(Default)]
struct Snapshot {
    path: Vec<String>,
    params: Vec<(String, Vec<f32>)>,
}

impl ModuleVisitor for Snapshot {
    fn enter_module(&mut self, name: &str, _container: &str) {
        self.path.push(name.to_owned());
    }
    fn exit_module(&mut self, _name: &str, _container: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let values = param
            .val()
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .unwrap();
        self.params.push((self.path.join("."), values));
    }
}

fn snapshot<M: Module>(module: &M) -> Vec<(String, Vec<f32>)> {
    let mut s = Snapshot::default();
    module.visit(&mut s);
    s.params
}

/// Encoder ids `e` (4 to 7 tokens below 50); the LLM must answer `3 + (7·e mod 90)` for each.
fn task(range: std::ops::Range<u64>) -> Vec<(Vec<u32>, Vec<u32>)> {
    range
        .map(|i| {
            let n = 4 + (i % 4) as u32;
            let ids: Vec<u32> = (0..n).map(|j| 2 + ((i as u32) * 13 + j * 7) % 45).collect();
            let target = ids.iter().map(|&t| 3 + (7 * t) % 90).collect();
            (ids, target)
        })
        .collect()
}

fn samples(encoder: &Encoder, data: &[(Vec<u32>, Vec<u32>)]) -> Vec<AlignedSample> {
    let ids: Vec<Vec<u32>> = data.iter().map(|(e, _)| e.clone()).collect();
    let states = token_states(encoder, &ids, 4).unwrap();
    data.iter()
        .zip(states)
        .map(|((_, target), encoded)| {
            let mut suffix = vec![1];
            suffix.extend(target);
            AlignedSample {
                prefix: vec![1, 2],
                encoded,
                targets: target.len(),
                suffix,
            }
        })
        .collect()
}

#[test]
fn stage_one_trains_only_the_aligner_and_stage_two_only_lora() {
    let _rng = rng_lock();
    let device = Device::flex().autodiff();
    let plain = Device::flex();
    let llm = Llama::from_pretrained(fixture("llama/llama_untied"), &device).unwrap();
    let encoder = Encoder::from_pretrained(fixture("encoder/bert"), &plain).unwrap();
    let train = samples(&encoder, &task(0..64));
    let validation = samples(&encoder, &task(100..116));

    // Stage 1: the aligner attached (from the seed), the LLM frozen.
    let aligner = AlignerAdapter {
        d_encoder: 16,
        hidden: 64,
        mode: AlignMode::Replace,
    };
    let llm_before = snapshot(&llm);
    let (model, trains) = aligner.attach(llm.clone(), 1729).unwrap();
    assert_eq!(trains, ["aligner"]);
    let out = tempfile::tempdir().unwrap();
    let stage1 = trainer(1e-2, 60, None, &out.path().join("stage1"));
    let objective = AlignedObjective::new(&aligner, "align");
    let (model, report) = stage1
        .train(&objective, model, &train, &validation)
        .unwrap();
    let (first, last) = (
        report.initial_eval_loss.unwrap(),
        report.final_eval_loss.unwrap(),
    );
    assert_eq!(report.steps.len(), 60);
    eprintln!("stage 1 held-out loss {first:.3} → {last:.3}");
    assert!(
        last < first - 0.5,
        "stage 1 held-out loss {first:.3} → {last:.3}"
    );
    let (aligner_params, llm_after): (Vec<_>, Vec<_>) = snapshot(&model)
        .into_iter()
        .partition(|(name, _)| name.starts_with("aligner."));
    assert!(!aligner_params.is_empty());
    assert!(llm_after == llm_before, "stage 1 changed the frozen LLM");
    // Saved and loaded as an adapter, it is the same aligner.
    aligner.save(&model, &out.path().join("aligner")).unwrap();
    let reloaded = aligner
        .load(llm.clone(), &out.path().join("aligner"))
        .unwrap();
    assert!(snapshot(&reloaded) == snapshot(&model));

    // Stage 2: LoRA on the LLM, which freezes the aligner with the rest.
    let lora = LoraConfig::new(4, 8.0, TargetModules::all_linear());
    let (tuned, _) = apply_lora(model, &lora, 7).unwrap();
    let tuned_before = snapshot(&tuned);
    let stage2 = trainer(5e-3, 20, None, &out.path().join("stage2"));
    let objective = AlignedObjective::new(&lora, "instruct");
    let (tuned, report) = stage2
        .train(&objective, tuned, &train, &validation)
        .unwrap();
    assert!(report.final_eval_loss.unwrap() < report.initial_eval_loss.unwrap());
    let after = snapshot(&tuned);
    assert_eq!(after.len(), tuned_before.len());
    let mut moved = 0;
    for ((name, a), (_, b)) in after.iter().zip(&tuned_before) {
        // Adapters live under `low_rank` (`…q_proj.low_rank.a`); the aligner under `aligner`.
        if name.contains(".low_rank.") {
            moved += usize::from(a != b);
        } else {
            assert!(a == b, "stage 2 changed the frozen weight {name}");
        }
    }
    assert!(moved > 0, "no LoRA weight moved in stage 2");
}

#[test]
fn an_identity_aligner_generates_what_the_plain_model_generates() {
    let _rng = rng_lock();
    let device = Device::flex();
    let mut llm = Llama::from_pretrained(fixture("llama/llama_untied"), &device).unwrap();
    let mut aligner = AlignerConfig::new(32, 32)
        .with_hidden(0)
        .init(&device)
        .unwrap();
    let eye: Vec<f32> = (0..32 * 32)
        .map(|i| if i / 32 == i % 32 { 1.0 } else { 0.0 })
        .collect();
    aligner.first.weight =
        Param::from_tensor(Tensor::from_data(TensorData::new(eye, [32, 32]), &device));
    aligner.first.bias = Some(Param::from_tensor(Tensor::zeros([32], &device)));

    // The "encoder" is the LLM's own embedding of the middle tokens.
    let parts: [(&[u32], &[u32], &[u32]); 2] = [
        (&[1, 5], &[20, 21, 22, 23], &[9, 10]),
        (&[1], &[40, 41], &[11]),
    ];
    let config = SamplingConfig::greedy(8);
    let samples: Vec<AlignedSample> = parts
        .iter()
        .map(|(prefix, middle, suffix)| {
            let ids: Vec<i64> = middle.iter().map(|&t| i64::from(t)).collect();
            let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [1, middle.len()]), &device);
            AlignedSample {
                prefix: prefix.to_vec(),
                encoded: llm.embed(ids).squeeze_dim::<2>(0),
                suffix: suffix.to_vec(),
                targets: 0,
            }
        })
        .collect();
    let plain_llm = llm.clone();
    llm.aligner = Some(aligner);
    let aligned = generate_aligned_ids(&llm, &samples, &config, None).unwrap();
    let llm = plain_llm;
    for (i, (prefix, middle, suffix)) in parts.iter().enumerate() {
        let prompt = [*prefix, *middle, *suffix].concat();
        let plain = generate_ids(&llm, std::slice::from_ref(&prompt), &config, None).unwrap();
        assert_eq!(aligned[i].tokens, plain[0].tokens, "sample {i}");
        assert_eq!(aligned[i].prompt_tokens, prompt.len());
    }
}

#[test]
fn a_saved_aligner_loads_back_identical_and_bad_files_name_the_key() {
    let _rng = rng_lock();
    let device = Device::flex();
    let aligner = AlignerConfig::new(16, 32)
        .with_hidden(24)
        .init(&device)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    save_aligner(&aligner, dir.path()).unwrap();
    let loaded = load_aligner(dir.path(), &device).unwrap();
    assert!(snapshot(&loaded) == snapshot(&aligner));
    let x = Tensor::<2>::from_data(
        TensorData::new(
            (0..48).map(|i| i as f32 / 10.0).collect::<Vec<_>>(),
            [3, 16],
        ),
        &device,
    );
    let (a, b) = (
        aligner.forward(x.clone()).into_data(),
        loaded.forward(x).into_data(),
    );
    assert_eq!(a, b);

    // A weight file from a linear aligner does not fit a config with a hidden layer.
    let other = tempfile::tempdir().unwrap();
    let linear = AlignerConfig::new(16, 32)
        .with_hidden(0)
        .init(&device)
        .unwrap();
    save_aligner(&linear, other.path()).unwrap();
    std::fs::copy(
        other.path().join(ALIGNER_WEIGHTS_FILE),
        dir.path().join(ALIGNER_WEIGHTS_FILE),
    )
    .unwrap();
    let err = load_aligner(dir.path(), &device).unwrap_err().to_string();
    assert!(
        err.contains("aligner.safetensors") && err.contains("0.weight"),
        "{err}"
    );
    std::fs::write(
        dir.path().join("aligner_config.json"),
        "{\"d_encoder\": 16}",
    )
    .unwrap();
    let err = load_aligner(dir.path(), &device).unwrap_err().to_string();
    assert!(err.contains("aligner_config.json"), "{err}");
}

#[test]
fn inconsistent_samples_are_errors_naming_the_sample() {
    let _rng = rng_lock();
    let device = Device::flex();
    let mut llm = Llama::from_pretrained(fixture("llama/llama_untied"), &device).unwrap();
    let good = AlignedSample {
        prefix: vec![1],
        encoded: Tensor::zeros([2, 16], &device),
        suffix: vec![5, 6],
        targets: 1,
    };
    let too_many_targets = AlignedSample {
        targets: 3,
        ..good.clone()
    };
    let bad_token = AlignedSample {
        suffix: vec![5, 500],
        ..good.clone()
    };
    let wrong_width = AlignedSample {
        encoded: Tensor::zeros([2, 8], &device),
        ..good.clone()
    };
    let err = lux_train::align::AlignedBatch::new(&llm, &[&good], lux_train::align::Padding::Right)
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(err.contains("no aligner"), "{err}");
    llm.aligner = Some(AlignerConfig::new(16, 32).init(&device).unwrap());
    for (sample, expect) in [
        (too_many_targets, "samples[1].targets"),
        (bad_token, "token id 500"),
        (wrong_width, "samples[1].encoded"),
    ] {
        let err = match lux_train::align::AlignedBatch::new(
            &llm,
            &[&good, &sample],
            lux_train::align::Padding::Right,
        ) {
            Ok(_) => panic!("{expect}: accepted"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(expect), "{err}");
    }
}

/// A stage interrupted after a checkpoint resumes where it stopped: stage 1 from a freshly
/// initialised aligner and stage 2 from a freshly attached adapter reach the uninterrupted
/// run's losses and weights; a checkpoint from other settings is refused, naming the field.
#[test]
fn stages_resume_from_their_checkpoints() {
    let _rng = rng_lock();
    let device = Device::flex().autodiff();
    let plain = Device::flex();
    let llm = Llama::from_pretrained(fixture("llama/llama_untied"), &device).unwrap();
    let encoder = Encoder::from_pretrained(fixture("encoder/bert"), &plain).unwrap();
    // 20 samples in batches of 8: the resumed steps straddle an epoch boundary.
    let train = samples(&encoder, &task(0..20));
    let validation = samples(&encoder, &task(100..108));
    let dir = tempfile::tempdir().unwrap();
    let config = |sub: &str, lr: f64| trainer(lr, 6, Some(3), &dir.path().join(sub));
    let aligner = AlignerAdapter {
        d_encoder: 16,
        hidden: 64,
        mode: AlignMode::Replace,
    };
    let stage1 = AlignedObjective::new(&aligner, "lingualift_align");

    // Stage 1: the whole run, then a run that finds only checkpoint-3 (copied): the stage's
    // own path loads the aligner saved there; given a freshly attached aligner of other
    // initial weights instead, the checkpoint's trainable weights replace them.
    let full = config("full1", 1e-2);
    let (aligned, report) = full
        .train_adapter(&stage1, &aligner, llm.clone(), &train, &validation)
        .unwrap();
    for (sub, fresh_seed) in [("resumed1", None), ("resumed1b", Some(99))] {
        copy_dir(
            &dir.path().join("full1/checkpoint-3"),
            &dir.path().join(sub).join("checkpoint-3"),
        );
        let resumed = config(sub, 1e-2);
        let (aligned2, report2) = match fresh_seed {
            None => resumed.train_adapter(&stage1, &aligner, llm.clone(), &train, &validation),
            Some(seed) => resumed.resume(
                &stage1,
                aligner.attach(llm.clone(), seed).unwrap().0,
                &resumed.latest_checkpoint().unwrap(),
                &train,
                &validation,
            ),
        }
        .unwrap();
        assert_same_run(&report, &report2);
        assert!(
            snapshot(&aligned) == snapshot(&aligned2),
            "{sub}: stage 1 weights differ"
        );
    }

    // Stage 2 likewise, behind the trained aligner, the resumed run's adapter attached with
    // other initial weights, and LoRA dropout on: its masks must be the same after the resume.
    let mut lora = LoraConfig::new(4, 8.0, TargetModules::all_linear());
    lora.lora_dropout = 0.1;
    let stage2 = AlignedObjective::new(&lora, "lingualift_instruct");
    let full = config("full2", 5e-3);
    let (tuned, report) = full
        .train(
            &stage2,
            apply_lora(aligned.clone(), &lora, 7).unwrap().0,
            &train,
            &validation,
        )
        .unwrap();
    // Every checkpoint holds the adapter as PEFT reads it.
    assert!(
        dir.path()
            .join("full2/checkpoint-3/adapter_config.json")
            .is_file()
    );
    let resumed = config("resumed2", 5e-3);
    copy_dir(
        &dir.path().join("full2/checkpoint-3"),
        &dir.path().join("resumed2/checkpoint-3"),
    );
    let (tuned2, report2) = resumed
        .resume(
            &stage2,
            apply_lora(aligned.clone(), &lora, 8).unwrap().0,
            &dir.path().join("resumed2/checkpoint-3"),
            &train,
            &validation,
        )
        .unwrap();
    assert_same_run(&report, &report2);
    assert!(
        snapshot(&tuned) == snapshot(&tuned2),
        "stage 2 weights differ"
    );

    // Other settings: refused, naming the field.
    let mut args = config("resumed1", 1e-2).args().clone();
    args.seed = 7;
    let other = Trainer::new(args, dir.path().join("resumed1")).unwrap();
    let checkpoint = dir.path().join("resumed1/checkpoint-3");
    let err = other
        .resume(
            &stage1,
            aligner.attach(llm.clone(), 1).unwrap().0,
            &checkpoint,
            &train,
            &validation,
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("seed") && err.contains("trainer_state.json"),
        "{err}"
    );
    // A checkpoint of the other stage: refused, naming both.
    let err = config("resumed1", 1e-2)
        .resume(
            &stage2,
            apply_lora(aligned.clone(), &lora, 7).unwrap().0,
            &checkpoint,
            &train,
            &validation,
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("lingualift_align") && err.contains("lingualift_instruct"),
        "{err}"
    );
}

fn assert_same_run(a: &TrainReport, b: &TrainReport) {
    assert_eq!(a.steps.len(), b.steps.len());
    for (x, y) in a.steps.iter().zip(&b.steps) {
        assert!(
            (x.loss - y.loss).abs() < 1e-6,
            "step {}: {} vs {}",
            x.step,
            x.loss,
            y.loss
        );
    }
    let (x, y) = (a.final_eval_loss.unwrap(), b.final_eval_loss.unwrap());
    assert!((x - y).abs() < 1e-6, "final eval loss {x} vs {y}");
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}
