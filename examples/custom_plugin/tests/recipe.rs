//! The crate's recipe end to end through `lux-custom` (the lux CLI with this crate linked) on
//! a tiny random model — each of the crate's plugins did its job inside lux's stages — and the
//! error a recipe gets for a plugin that is not linked.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use burn::tensor::{Device, Tensor};
use lux::train::Adapter;
use lux::train::lora::load_peft;
use lux::train::model::Llama;
use lux_custom_plugin::repetition::repetition;
use lux_custom_plugin::token_f1::Overlap;
use serde_json::Value;
use support::{lux_custom, read_jsonl, tiny_recipe};

/// Aligned groups whose Luxembourgish side loops, as a stuck generator or a scraped page would:
/// their sentence_translation examples must be dropped by `ngram_repetition`.
const LOOPING: &str = r#"{"id":"loop/1","texts":{"lb":"Klickt op OK fir weiderzemaachen, klickt op OK fir weiderzemaachen, klickt op OK fir weiderzemaachen.","en":"Click OK to continue.","fr":"Cliquez sur OK pour continuer.","de":"Klicken Sie auf OK, um fortzufahren."},"provenance":{"source":"loops","license":"CC0-1.0","origin":"test"}}
{"id":"loop/2","texts":{"lb":"Datei gespäichert. Datei gespäichert. Datei gespäichert. Datei gespäichert.","en":"File saved.","fr":"Fichier enregistré.","de":"Datei gespeichert."},"provenance":{"source":"loops","license":"CC0-1.0","origin":"test"}}
"#;

fn tensor_values(t: Tensor<2>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

#[test]
fn the_recipe_runs_every_stage_with_the_crates_plugins() {
    let dir = tempfile::tempdir().unwrap();
    let model_dir = dir.path().join("tiny-llama");
    lux::train::testing::write_tiny_llama(&model_dir, 5).unwrap();
    std::fs::write(dir.path().join("loops.jsonl"), LOOPING).unwrap();
    let recipe = tiny_recipe(dir.path())
        + "\n[[data.sources]]\ntype = \"parallel_jsonl\"\npath = \"loops.jsonl\"\n";
    std::fs::write(dir.path().join("custom.toml"), recipe).unwrap();
    let (code, stdout, stderr) = lux_custom(
        &["run", "custom.toml", "--quick", "--quiet", "--out", "run"],
        dir.path(),
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let run = dir.path().join("run");
    let read_json = |p: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(run.join(p)).unwrap()).unwrap()
    };
    let report = read_json("report.json");
    let stages: BTreeMap<&str, &Value> = report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), &s["output"]["summary"]))
        .collect();
    assert_eq!(
        stages.keys().copied().collect::<Vec<_>>(),
        ["chrf", "data", "heldout_loss", "judge_panel", "mix", "sft"]
    );

    // Filter: the looping groups' examples dropped with the filter's reason, nothing kept
    // above the threshold, and the built-in filters around it still ran.
    let dropped = read_jsonl(&run.join("data/dropped.jsonl"));
    let ours: Vec<&Value> = dropped
        .iter()
        .filter(|d| d["filter"] == "ngram_repetition")
        .collect();
    assert!(!ours.is_empty(), "nothing dropped by ngram_repetition");
    for d in &ours {
        let output = d["example"]["output"].as_str().unwrap();
        assert_eq!(d["example"]["source"], "loops", "{d}");
        let reason = d["reason"].as_str().unwrap();
        let expected = format!(
            "output: {:.2} of its characters",
            repetition(output, 3).fraction
        );
        assert!(
            reason.starts_with(&expected) && reason.contains("repeated 3-grams (max 0.30)"),
            "{reason}"
        );
    }
    let dataset = read_jsonl(&run.join("data/dataset.jsonl"));
    assert!(dataset.len() > 100);
    for e in &dataset {
        for field in ["input", "output"] {
            let text = e[field].as_str().unwrap_or("");
            assert!(repetition(text, 3).fraction <= 0.3, "kept: {e}");
        }
        assert_ne!(e["source"], "loops", "kept: {e}");
    }
    let stats = std::fs::read_to_string(run.join("data/stats.md")).unwrap();
    assert!(stats.contains("ngram_repetition"), "{stats}");

    // Adapter: the built-in sft stage trained asym_lora, saved as PEFT LoRA; in the trained
    // adapter every A is still the orthonormal matrix attach drew (frozen), every B moved.
    let sft = stages["sft"];
    assert_eq!(sft["adapter"], "asym_lora", "{sft}");
    let resolved = read_json("recipe.json");
    let seed = resolved["train"][0]["seed"].as_u64().unwrap();
    let adapter: Box<dyn Adapter> =
        serde_json::from_value(resolved["train"][0]["adapter"].clone()).unwrap();
    assert_eq!(adapter.name(), "asym_lora");
    let device = Device::flex();
    let base = || Llama::from_pretrained(&model_dir, &device).unwrap();
    let (initial, names) = adapter.attach(base(), seed).unwrap();
    assert_eq!(names.len(), 8, "q/k/v/o of two layers: {names:?}");
    let adapter_dir = run.join("train/sft/adapter");
    let (trained, saved) = load_peft(base(), &adapter_dir).unwrap();
    assert_eq!(saved.r, 16);
    let pairs = |m: &Llama| -> Vec<(String, Vec<f32>, Vec<f32>)> {
        m.projections()
            .into_iter()
            .filter_map(|(n, p)| {
                let pair = p.low_rank.as_ref()?;
                Some((n, tensor_values(pair.a.val()), tensor_values(pair.b.val())))
            })
            .collect()
    };
    let (before, after) = (pairs(&initial), pairs(&trained));
    assert_eq!(before.len(), 8);
    assert_eq!(after.len(), 8);
    for ((name, a0, b0), (name1, a1, b1)) in before.iter().zip(&after) {
        assert_eq!(name, name1);
        assert_eq!(a0, a1, "{name}: A must stay frozen");
        assert!(b0.iter().all(|x| *x == 0.0), "{name}");
        assert!(b1.iter().any(|x| *x != 0.0), "{name}: B must train");
    }

    // Judge: token_f1 scored every answer of both systems, 1 + 4·F1 against the reference.
    let panel = stages["judge_panel"];
    assert_eq!(panel["judges"], serde_json::json!(["g_eval", "token_f1"]));
    let answers = read_jsonl(&run.join("eval/judge_panel/answers.jsonl"));
    let judged = read_jsonl(&run.join("eval/judge_panel/judgements.correctness.jsonl"));
    assert_eq!(judged.len(), answers.len());
    assert_eq!(answers.len(), 8, "4 examples × 2 systems");
    for (item, answer) in judged.iter().zip(&answers) {
        assert_eq!(item["example"], answer["example"]);
        let outcome = &item["outcomes"][1];
        assert_eq!(outcome["judge"], "token_f1");
        let score = outcome["judgement"]["score"]
            .as_f64()
            .expect("always scored");
        let f1 = Overlap::of(
            answer["answer"].as_str().unwrap(),
            answer["reference"].as_str().unwrap(),
            true,
        )
        .f1();
        assert!((score - (1.0 + 4.0 * f1)).abs() < 1e-12, "{item}");
    }

    // Metric: wer and cer of each system's answers, as the metric computes them here.
    let rows = read_jsonl(&run.join("eval/chrf/answers.jsonl"));
    let chrf = stages["chrf"];
    assert_eq!(chrf["metrics"], serde_json::json!(["wer", "cer"]));
    for system in chrf["systems"].as_array().unwrap() {
        let mine: Vec<&Value> = rows
            .iter()
            .filter(|r| r["system"] == system["system"])
            .collect();
        assert_eq!(mine.len(), 4);
        let column = |k: &str| -> Vec<String> {
            mine.iter()
                .map(|r| r[k].as_str().unwrap().to_string())
                .collect()
        };
        let (predictions, references) = (column("answer"), column("reference"));
        for (name, table) in [("wer", ""), ("cer", "unit = \"char\"")] {
            let metric: Box<dyn lux::core::Metric> =
                toml::from_str(&format!("type = \"wer\"\n{table}")).unwrap();
            let expect = metric
                .compute(&lux::core::MetricInput::Predictions {
                    predictions: &predictions,
                    references: &references,
                })
                .unwrap();
            let got = system["overall"]["metrics"][name].as_f64().unwrap();
            assert!((got - expect).abs() < 1e-12, "{name}: {got} vs {expect}");
        }
    }
}

/// A plugin name the binary does not know, in each plugin table the crate's recipe uses.
#[test]
fn a_plugin_that_is_not_linked_exits_2_listing_the_linked_ones() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = tiny_recipe(dir.path());
    for (ours, missing, builtin) in [
        ("type = \"ngram_repetition\"", "perplexity", "`length`"),
        ("type = \"asym_lora\"", "ia3", "`lora`"),
        ("type = \"token_f1\"", "bleurt", "`g_eval`"),
        ("type = \"wer\" }, {", "bertscore", "`chrf`"),
    ] {
        assert_eq!(recipe.matches(ours).count(), 1, "{ours}");
        let name = ours.split('"').nth(1).unwrap();
        let changed = recipe.replace(ours, &ours.replace(name, missing));
        let path = dir.path().join(format!("{missing}.toml"));
        std::fs::write(&path, changed).unwrap();
        let (code, _, stderr) = lux_custom(&["run", &format!("{missing}.toml")], dir.path());
        assert_eq!(code, 2, "{stderr}");
        let line = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .position(|l| l.contains(&format!("\"{missing}\"")))
            .unwrap()
            + 1;
        assert!(
            stderr.contains(&format!("{missing}.toml"))
                && stderr.contains(&format!("`{missing}`"))
                && stderr.contains(&format!("line {line}"))
                && stderr.contains(&format!("`{name}`"))
                && stderr.contains(builtin),
            "{missing}: {stderr}"
        );
        assert!(!Path::new(&dir.path().join("out")).exists(), "nothing ran");
    }
}

/// The adapter's `load` freezes `A` again: a run of the `sft` stage interrupted after its
/// first checkpoint and resumed by `lux-custom` has the losses of an uninterrupted one.
#[test]
fn an_interrupted_asym_lora_stage_resumes_with_the_same_losses() {
    let dir = tempfile::tempdir().unwrap();
    lux::train::testing::write_tiny_llama(&dir.path().join("tiny-llama"), 7).unwrap();
    std::fs::write(dir.path().join("custom.toml"), tiny_recipe(dir.path())).unwrap();
    let args = [
        "run",
        "custom.toml",
        "--quick",
        "--quiet",
        "--out",
        "run",
        "--stage",
        "sft",
    ];
    let (code, _, stderr) = lux_custom(&args, dir.path());
    assert_eq!(code, 0, "{stderr}");
    let sft = dir.path().join("run/train/sft");
    let losses = || -> Vec<f64> {
        read_jsonl(&sft.join("metrics.jsonl"))
            .iter()
            .filter_map(|m| m["loss"].as_f64())
            .collect()
    };
    let uninterrupted = losses();
    assert_eq!(uninterrupted.len(), 3, "quick: 3 steps");

    // As if killed after step 1: unfinished, later checkpoints and the adapter gone.
    let record_path = sft.join("stage.json");
    let mut record: Value =
        serde_json::from_str(&std::fs::read_to_string(&record_path).unwrap()).unwrap();
    record["finished"] = false.into();
    std::fs::write(&record_path, record.to_string()).unwrap();
    for gone in ["checkpoint-2", "checkpoint-3", "adapter"] {
        std::fs::remove_dir_all(sft.join(gone)).unwrap();
    }
    let (code, _, stderr) = lux_custom(&args, dir.path());
    assert_eq!(code, 0, "{stderr}");
    assert!(sft.join("adapter/adapter_model.safetensors").exists());
    let resumed = losses();
    assert_eq!(resumed.len(), 3);
    for (a, b) in uninterrupted.iter().zip(&resumed) {
        assert!(
            (a - b).abs() <= 1e-5 * a.abs().max(1.0),
            "{uninterrupted:?} vs {resumed:?}"
        );
    }
}
