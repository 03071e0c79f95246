//! An adapter written outside lux-train, as a user's crate would, trained by the recipe's
//! `sft` stage: trainers take any `lux::train::Adapter`.

use std::path::Path;

use burn::tensor::Device;
use lux::core::Result;
use lux::train::Adapter;
use lux::train::lora::{LoraConfig, apply_lora, load_peft, save_peft};
use lux::train::model::Llama;
use lux::{Recipe, Run, RunSettings};
use serde::{Deserialize, Serialize};

use crate::support::tiny_recipe;

/// LoRA-FA (Zhang et al. 2023): LoRA whose down projection `A` stays frozen at its random
/// initialisation, so only `B` trains and the optimizer keeps half the state. Saved in PEFT's
/// format (PEFT reads it as plain LoRA).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LoraFa {
    lora: LoraConfig,
}

#[typetag::serde(name = "lora_fa")]
impl Adapter for LoraFa {
    fn attach(&self, model: Llama, seed: u64) -> Result<(Llama, Vec<String>)> {
        let (mut model, names) = apply_lora(model, &self.lora, seed)?;
        for (_, projection) in model.projections_mut() {
            if let Some(pair) = projection.low_rank.as_mut() {
                pair.a = pair.a.clone().set_require_grad(false);
            }
        }
        Ok((model, names))
    }

    fn save(&self, model: &Llama, dir: &Path) -> Result<()> {
        save_peft(model, &self.lora, dir)
    }

    fn load(&self, model: Llama, dir: &Path) -> Result<Llama> {
        load_peft(model, dir).map(|(model, _)| model)
    }
}

/// The values of every `A` and `B` of a model, by module.
fn pairs(model: &Llama) -> Vec<(String, Vec<f32>, Vec<f32>)> {
    model
        .projections()
        .into_iter()
        .filter_map(|(name, p)| {
            let pair = p.low_rank.as_ref()?;
            let values = |t: burn::tensor::Tensor<2>| t.into_data().try_to_vec::<f32>().unwrap();
            Some((name, values(pair.a.val()), values(pair.b.val())))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sft_stage_trains_an_adapter_defined_outside_lux_train() {
    let dir = tempfile::tempdir().unwrap();
    let model_dir = dir.path().join("tiny-llama");
    lux::train::testing::write_tiny_llama(&model_dir, 13).unwrap();
    let lora = r#"adapter = { type = "lora", r = 4, lora_alpha = 8.0, target_modules = ["q_proj", "v_proj"] }"#;
    let lora_fa = r#"adapter = { type = "lora_fa", lora = { r = 4, lora_alpha = 8.0, target_modules = ["q_proj", "v_proj"] } }"#;
    let recipe_text = tiny_recipe(&model_dir, 3);
    assert!(recipe_text.contains(lora));
    let recipe_path = dir.path().join("fa.toml");
    std::fs::write(&recipe_path, recipe_text.replace(lora, lora_fa)).unwrap();
    let run_dir = dir.path().join("run");
    let report = Run::new(
        Recipe::load(&recipe_path).unwrap(),
        RunSettings {
            out: Some(run_dir.clone()),
            stop_after: Some("sft".into()),
            ..RunSettings::default()
        },
    )
    .unwrap()
    .execute()
    .await
    .unwrap();
    assert_eq!(report.stages[2].output.summary["adapter"], "lora_fa");

    let device = Device::flex();
    let base = || Llama::from_pretrained(&model_dir, &device).unwrap();
    let (trained, _) = load_peft(base(), &run_dir.join("train/sft/adapter")).unwrap();
    let fa: LoraFa = serde_json::from_str(
        r#"{"lora": {"r": 4, "lora_alpha": 8.0, "target_modules": ["q_proj", "v_proj"]}}"#,
    )
    .unwrap();
    // TrainingArgs' default seed (1729) initialised the pairs.
    let (initial, names) = fa.attach(base(), 1729).unwrap();
    assert_eq!(names.len(), 4);
    let (before, after) = (pairs(&initial), pairs(&trained));
    assert_eq!(before.len(), after.len());
    for ((name, a0, b0), (_, a1, b1)) in before.iter().zip(&after) {
        assert_eq!(a0, a1, "{name}: A must stay frozen");
        assert!(b0.iter().all(|x| *x == 0.0));
        assert!(b1.iter().any(|x| *x != 0.0), "{name}: B must train");
    }
    // The stage left the adapter's recipe table beside it, so evaluations can load it.
    let spec = std::fs::read_to_string(run_dir.join("train/sft/adapter/lux_adapter.json")).unwrap();
    assert!(spec.contains("\"lora_fa\""), "{spec}");
}
