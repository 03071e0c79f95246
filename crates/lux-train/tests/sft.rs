//! SFT on a tiny random Llama: the loss goes down on held-out data, the run writes its metrics,
//! loss curve and a PEFT adapter, frozen weights stay bit-identical, and a non-finite loss
//! stops the run with the step named.

use std::path::PathBuf;

use burn::module::Param;
use burn::tensor::{Device, TensorData};
use lux_train::lora::{LoraConfig, TargetModules, apply_lora, load_peft};
use lux_train::model::Llama;
use lux_train::sft::{SftSample, SftTrainer};
use lux_train::training::{LrSchedule, TrainingArgs, Warmup};

fn base(device: &Device) -> Llama {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/llama/llama_untied");
    Llama::from_pretrained(dir, device).unwrap()
}

/// "Prompt" = 4 tokens, "answer" = the same tokens + 10: a rule the adapter can learn and
/// apply to held-out prompts.
fn samples(range: std::ops::Range<u32>) -> Vec<SftSample> {
    range
        .map(|i| {
            let prompt: Vec<u32> = (0..4).map(|j| 3 + (i * 7 + j * 5) % 40).collect();
            let mut ids = prompt.clone();
            ids.push(1);
            ids.extend(prompt.iter().map(|t| t + 10));
            SftSample { ids, prompt_len: 5 }
        })
        .collect()
}

fn lora() -> LoraConfig {
    LoraConfig::new(8, 16.0, TargetModules::all_linear())
}

#[test]
fn lora_sft_lowers_held_out_loss_and_writes_a_peft_adapter() {
    let device = Device::flex().autodiff();
    let model = base(&device);
    let frozen = model.model.layers[1].mlp.down_proj.weight.val().into_data();
    let (model, _) = apply_lora(model, &lora(), 1).unwrap();
    let out = tempfile::tempdir().unwrap();
    let mut config = TrainingArgs::new(3e-3);
    config.num_train_epochs = 6;
    config.per_device_train_batch_size = 4;
    config.gradient_accumulation_steps = 2;
    config.warmup = Warmup::Ratio(0.1);
    config.lr_scheduler = LrSchedule::CosineWithRestarts { num_cycles: 2 };
    config.eval_steps = Some(5);
    config.save_steps = Some(10);
    let trainer = SftTrainer::new(config, lora(), out.path()).unwrap();
    let train = samples(0..48);
    let validation = samples(100..116);
    assert_eq!(trainer.total_steps(train.len()), 36);
    let (model, report) = trainer.train(model, &train, &validation, 0).unwrap();

    let (first, last) = (
        report.initial_eval_loss.unwrap(),
        report.final_eval_loss.unwrap(),
    );
    assert!(last < first * 0.7, "validation loss {first} → {last}");
    assert_eq!(report.steps.len(), 36);
    assert!(
        report
            .steps
            .iter()
            .all(|m| m.loss.is_finite() && m.tokens_per_s > 0.0)
    );
    // Warmup: the first step runs at lr 0, the peak comes after 4 steps.
    assert_eq!(report.steps[0].lr, 0.0);
    assert!((report.steps[4].lr - 3e-3).abs() < 1e-9);

    let metrics = std::fs::read_to_string(out.path().join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 36);
    assert!(metrics.lines().filter(|l| l.contains("eval_loss")).count() >= 7);
    let svg = std::fs::read_to_string(out.path().join("loss.svg")).unwrap();
    assert!(svg.starts_with("<svg") || svg.starts_with("<?xml"));
    for dir in ["adapter", "checkpoint-10", "checkpoint-30"] {
        assert!(
            out.path()
                .join(dir)
                .join("adapter_model.safetensors")
                .is_file(),
            "{dir}"
        );
    }
    assert!(
        out.path()
            .join("checkpoint-10/trainer_state.json")
            .is_file()
    );

    // The frozen base did not move; the written adapter reproduces the trained model.
    assert_eq!(
        model.model.layers[1].mlp.down_proj.weight.val().into_data(),
        frozen
    );
    let (reloaded, _) = load_peft(base(&Device::flex()), &out.path().join("adapter")).unwrap();
    let ids = |device: &Device| {
        burn::tensor::Tensor::<2, burn::tensor::Int>::from_data(
            TensorData::new(vec![3i64, 8, 13, 18, 1], [1, 5]),
            device,
        )
    };
    let a = reloaded.forward(ids(&Device::flex()), None).into_data();
    let b = model.forward(ids(&device), None).into_data();
    a.assert_approx_eq::<f32>(&b, burn::tensor::Tolerance::absolute(1e-4));
}

#[test]
fn a_non_finite_loss_stops_training_and_names_the_step() {
    let device = Device::flex().autodiff();
    let (mut model, _) = apply_lora(base(&device), &lora(), 1).unwrap();
    let q = model
        .projection_mut("model.layers.0.self_attn.q_proj")
        .unwrap();
    let pair = q.low_rank.as_mut().unwrap();
    let [d, r] = pair.a.val().dims();
    pair.a = Param::from_data(TensorData::new(vec![f32::NAN; d * r], [d, r]), &device);
    pair.b = Param::from_data(TensorData::new(vec![1.0f32; r * 32], [r, 32]), &device);
    let out = tempfile::tempdir().unwrap();
    let trainer = SftTrainer::new(TrainingArgs::new(1e-3), lora(), out.path()).unwrap();
    let err = trainer
        .train(model, &samples(0..8), &[], 0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("step 1") && err.contains("NaN"), "{err}");
}
