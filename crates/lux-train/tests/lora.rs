//! LoRA: PEFT's initialisation, freezing, merge/unmerge, and PEFT's file format both ways —
//! adapters made by PEFT itself (tests/fixtures/peft/, see make_reference.py there) load into
//! lux and give PEFT's logits; adapters lux writes have PEFT's keys, shapes and config.

use std::path::{Path, PathBuf};

use burn::module::Param;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Device, Int, Tensor, TensorData};
use lux_train::lora::{
    LoraConfig, TargetModules, apply_lora, load_peft, lora_parameter_names, merge_lora, peft_key,
    save_peft, unmerge_lora,
};
use lux_train::model::Llama;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The tiny random Llama the PEFT fixtures were made on (2 layers, hidden 32, vocab 97).
fn base(device: &Device) -> Llama {
    Llama::from_pretrained(fixtures().join("llama/llama_untied"), device).unwrap()
}

fn ids(device: &Device) -> Tensor<2, Int> {
    let ids = vec![5i64, 17, 42, 3, 88, 61, 9, 1, 2, 3, 4, 5, 6, 7];
    Tensor::from_data(TensorData::new(ids, [2, 7]), device)
}

fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_into_vec::<f32>().unwrap()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn qkvo(r: usize, alpha: f64) -> LoraConfig {
    LoraConfig::new(
        r,
        alpha,
        TargetModules::names(["q_proj", "k_proj", "v_proj", "o_proj"]),
    )
}

/// Gives every B seeded non-zero values, as training would.
fn randomise_b(model: &mut Llama, device: &Device) {
    for (i, (_, p)) in model.projections_mut().into_iter().enumerate() {
        if let Some(pair) = &mut p.low_rank {
            let [r, out] = pair.b.val().dims();
            let values: Vec<f32> = (0..r * out)
                .map(|j| (((i * 31 + j * 17) % 23) as f32 - 11.0) * 0.02)
                .collect();
            pair.b = Param::from_data(TensorData::new(values, [r, out]), device);
        }
    }
}

#[test]
fn fresh_adapter_leaves_outputs_unchanged_and_is_initialised_as_peft() {
    let device = Device::flex();
    let model = base(&device);
    let before = host(model.forward(ids(&device), None));
    let (model, names) = apply_lora(model, &qkvo(4, 8.0), 7).unwrap();
    assert_eq!(names.len(), 8);
    assert_eq!(lora_parameter_names(&model).len(), 16);
    let after = host(model.forward(ids(&device), None));
    assert_eq!(before, after, "B = 0: the adapted model is the base model");

    let q = model.projection_mut_name("model.layers.1.self_attn.q_proj");
    let pair = q.low_rank.as_ref().unwrap();
    assert_eq!(pair.scale, 2.0);
    let a = host(pair.a.val());
    let bound = 1.0 / (32f32).sqrt();
    assert!(a.iter().all(|v| v.abs() <= bound));
    // Uniform on [−b, b]: the spread is there (variance b²/3), not a constant.
    let var = a.iter().map(|v| v * v).sum::<f32>() / a.len() as f32;
    assert!((var / (bound * bound / 3.0) - 1.0).abs() < 0.25, "{var}");
    assert!(host(pair.b.val()).iter().all(|&v| v == 0.0));

    // Deterministic per seed and module name.
    let (again, _) = apply_lora(base(&device), &qkvo(4, 8.0), 7).unwrap();
    let a2 = host(again.projections()[0].1.low_rank.as_ref().unwrap().a.val());
    let a1 = host(model.projections()[0].1.low_rank.as_ref().unwrap().a.val());
    assert_eq!(a1, a2);
}

/// `projection_mut` needs `&mut`; the test only reads.
trait ByName {
    fn projection_mut_name(&self, name: &str) -> &lux_train::model::Projection;
}

impl ByName for Llama {
    fn projection_mut_name(&self, name: &str) -> &lux_train::model::Projection {
        self.projections()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p)
            .unwrap()
    }
}

#[test]
fn targets_matching_nothing_list_the_module_names() {
    let device = Device::flex();
    let config = LoraConfig::new(4, 8.0, TargetModules::names(["query", "value"]));
    let err = apply_lora(base(&device), &config, 1)
        .unwrap_err()
        .to_string();
    assert!(err.contains("model.layers.0.self_attn.q_proj"), "{err}");
    assert!(err.contains("model.layers.0.mlp.down_proj"), "{err}");
}

#[test]
fn only_the_adapter_trains_and_frozen_weights_stay_bit_identical() {
    let device = Device::flex().autodiff();
    let model = base(&device);
    let frozen_before = host(model.model.layers[0].self_attn.q_proj.weight.val());
    let embed_before = host(model.model.embed_tokens.weight.val());
    let (mut model, _) = apply_lora(model, &qkvo(4, 8.0), 3).unwrap();
    let mut optim = AdamWConfig::new().init();
    let targets: Vec<i64> = vec![17, 42, 3, 88, 61, 9, 5, 2, 3, 4, 5, 6, 7, 1];
    let targets = Tensor::<1, Int>::from_data(TensorData::new(targets, [14]), &device);
    let loss_of = |m: &Llama| {
        let logits = m.forward(ids(&device), None).reshape([14, 97]);
        burn::tensor::activation::log_softmax(logits, 1)
            .gather(1, targets.clone().reshape([14, 1]))
            .mean()
            .neg()
    };
    let first = loss_of(&model).into_scalar::<f32>();
    for step in 0..30 {
        let loss = loss_of(&model);
        let grads = loss.backward();
        if step == 0 {
            let q = &model.model.layers[0].self_attn.q_proj;
            assert!(
                q.weight.val().grad(&grads).is_none(),
                "frozen W has no gradient"
            );
            assert!(q.low_rank.as_ref().unwrap().b.val().grad(&grads).is_some());
            assert!(model.model.norm.weight.val().grad(&grads).is_none());
        }
        let grads = GradientsParams::from_grads(grads, &model);
        model = optim.step(1e-2, model, grads);
    }
    let last = loss_of(&model).into_scalar::<f32>();
    assert!(last < first * 0.8, "loss {first} → {last}");
    assert_eq!(
        host(model.model.layers[0].self_attn.q_proj.weight.val()),
        frozen_before
    );
    assert_eq!(host(model.model.embed_tokens.weight.val()), embed_before);
}

#[test]
fn merge_and_unmerge_are_exact() {
    let device = Device::flex();
    let (mut model, _) = apply_lora(base(&device), &qkvo(4, 8.0), 11).unwrap();
    randomise_b(&mut model, &device);
    let w_before = host(model.model.layers[1].self_attn.v_proj.weight.val());
    let adapted = host(model.forward(ids(&device), None));
    let base_out = host(base(&device).forward(ids(&device), None));
    assert!(
        max_abs_diff(&adapted, &base_out) > 1e-2,
        "the adapter must matter"
    );

    let merged = merge_lora(&mut model);
    assert_eq!(merged.pairs.len(), 8);
    assert!(
        model
            .projections()
            .iter()
            .all(|(_, p)| p.low_rank.is_none())
    );
    let merged_out = host(model.forward(ids(&device), None));
    assert!(max_abs_diff(&adapted, &merged_out) < 1e-5);

    unmerge_lora(&mut model, merged).unwrap();
    let w_after = host(model.model.layers[1].self_attn.v_proj.weight.val());
    // One rounding each way: |W| ≈ 0.2, so differences stay at the f32 ulp scale.
    assert!(max_abs_diff(&w_before, &w_after) < 1e-6);
    let back = host(model.forward(ids(&device), None));
    assert!(max_abs_diff(&adapted, &back) < 1e-5);
}

fn expected_logits(dir: &Path) -> Vec<f32> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    v["logits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

#[test]
fn adapters_made_by_peft_load_and_match_peft_logits() {
    let device = Device::flex();
    for (variant, scale) in [
        ("qkvo_r4", 2.0),
        ("all_linear_rslora_r2", 4.0 / 2f64.sqrt()),
    ] {
        let dir = fixtures().join("peft").join(variant);
        let (model, config) = load_peft(base(&device), &dir).unwrap();
        assert_eq!(config.scale(), scale, "{variant}");
        let got = host(model.forward(ids(&device), None));
        let want = expected_logits(&dir);
        let base_out = host(base(&device).forward(ids(&device), None));
        assert!(
            max_abs_diff(&want, &base_out) > 1e-2,
            "{variant}: fixture adapter is not zero"
        );
        let err = max_abs_diff(&got, &want);
        assert!(err < 1e-4, "{variant}: max |lux − PEFT| = {err}");
    }
}

#[test]
fn adapters_written_by_lux_have_peft_keys_shapes_and_config() {
    let device = Device::flex();
    let peft_dir = fixtures().join("peft/qkvo_r4");
    let (model, config) = load_peft(base(&device), &peft_dir).unwrap();
    let out = tempfile::tempdir().unwrap();
    save_peft(&model, &config, out.path()).unwrap();

    let read = |dir: &Path| std::fs::read(dir.join("adapter_model.safetensors")).unwrap();
    let (ours, theirs) = (read(out.path()), read(&peft_dir));
    let ours = safetensors::SafeTensors::deserialize(&ours).unwrap();
    let theirs = safetensors::SafeTensors::deserialize(&theirs).unwrap();
    let mut a: Vec<&str> = ours.names();
    let mut b: Vec<&str> = theirs.names();
    a.sort();
    b.sort();
    assert_eq!(a, b, "same keys as PEFT");
    for key in b {
        let (x, y) = (ours.tensor(key).unwrap(), theirs.tensor(key).unwrap());
        assert_eq!(x.shape(), y.shape(), "{key}");
        assert_eq!(x.data(), y.data(), "{key}: values round-trip bit for bit");
    }
    assert!(a.contains(&peft_key("model.layers.0.self_attn.q_proj", "A").as_str()));

    let cfg: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("adapter_config.json")).unwrap(),
    )
    .unwrap();
    let theirs: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(peft_dir.join("adapter_config.json")).unwrap(),
    )
    .unwrap();
    for k in [
        "peft_type",
        "task_type",
        "r",
        "lora_alpha",
        "lora_dropout",
        "use_rslora",
        "bias",
    ] {
        assert_eq!(cfg[k], theirs[k], "{k}");
    }
    // And lux reads back what it wrote.
    let (again, back) = load_peft(base(&device), out.path()).unwrap();
    assert_eq!(back.r, 4);
    assert_eq!(
        host(again.forward(ids(&device), None)),
        host(model.forward(ids(&device), None))
    );
}

#[test]
fn malformed_adapters_name_the_file_and_tensor() {
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let peft_dir = fixtures().join("peft/qkvo_r4");
    for f in ["adapter_config.json", "adapter_model.safetensors"] {
        std::fs::copy(peft_dir.join(f), dir.path().join(f)).unwrap();
    }
    // A rank that does not fit the stored matrices.
    let cfg = std::fs::read_to_string(dir.path().join("adapter_config.json")).unwrap();
    std::fs::write(
        dir.path().join("adapter_config.json"),
        cfg.replace("\"r\": 4", "\"r\": 3"),
    )
    .unwrap();
    let err = load_peft(base(&device), dir.path())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("adapter_model.safetensors") && err.contains("lora_A.weight"),
        "{err}"
    );

    std::fs::write(
        dir.path().join("adapter_config.json"),
        r#"{"peft_type": "IA3"}"#,
    )
    .unwrap();
    let err = load_peft(base(&device), dir.path())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("adapter_config.json") && err.contains("peft_type"),
        "{err}"
    );

    std::fs::write(dir.path().join("adapter_config.json"), cfg).unwrap();
    let bytes = std::fs::read(dir.path().join("adapter_model.safetensors")).unwrap();
    std::fs::write(
        dir.path().join("adapter_model.safetensors"),
        &bytes[..bytes.len() / 2],
    )
    .unwrap();
    let err = load_peft(base(&device), dir.path())
        .unwrap_err()
        .to_string();
    assert!(err.contains("adapter_model.safetensors"), "{err}");
}

/// A config that disagrees with its tensors or with the model is an error naming both, as
/// PEFT's is, never a partly applied adapter.
#[test]
fn a_config_that_disagrees_with_its_tensors_or_the_model_is_refused() {
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let peft_dir = fixtures().join("peft/qkvo_r4");
    for f in ["adapter_config.json", "adapter_model.safetensors"] {
        std::fs::copy(peft_dir.join(f), dir.path().join(f)).unwrap();
    }
    let cfg: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("adapter_config.json")).unwrap(),
    )
    .unwrap();
    let with_targets = |targets: serde_json::Value| {
        let mut c = cfg.clone();
        c["target_modules"] = targets;
        std::fs::write(dir.path().join("adapter_config.json"), c.to_string()).unwrap();
        load_peft(base(&device), dir.path())
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    // No module of the model matches.
    let err = with_targets(serde_json::json!(["qkv_proj"]));
    assert!(
        err.contains("adapter_config.json")
            && err.contains("target_modules")
            && err.contains("q_proj"),
        "{err}"
    );
    // Tensors for modules the config does not select.
    let err = with_targets(serde_json::json!(["q_proj"]));
    assert!(
        err.contains("adapter_model.safetensors")
            && err.contains("adapter_config.json")
            && err.contains("does not select"),
        "{err}"
    );
    // A selected module without tensors.
    let err = with_targets(serde_json::json!([
        "q_proj", "k_proj", "v_proj", "o_proj", "up_proj"
    ]));
    assert!(
        err.contains("up_proj")
            && err.contains("adapter_model.safetensors")
            && err.contains("no lora_A/lora_B"),
        "{err}"
    );
    // The config's own targets load.
    std::fs::write(dir.path().join("adapter_config.json"), cfg.to_string()).unwrap();
    load_peft(base(&device), dir.path()).unwrap();
}
