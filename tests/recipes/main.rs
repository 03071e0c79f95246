//! Recipes as programs: every bundled recipe parses; unknown plugins, fields and types are
//! errors naming the file, the line and the plugins that exist; `[quick]` is merged; a whole
//! recipe runs end to end on a tiny model, and a rerun reuses what did not change.

mod adapters;
mod devices;
mod evaluations;
mod kill_checkpoint;
mod lingualift;
mod luxllama;
mod port_language;
mod secrets;
mod support;

use std::path::Path;

use lux::{LoadOptions, Recipe, Run, RunSettings};
use support::{lux, repo_root, tiny_recipe};
// Link the plugin crates, as the `lux` binary does.
use lux::data as _;
use lux::eval as _;
use lux::plugins as _;

fn parse(text: &str) -> lux::core::Result<Recipe> {
    Recipe::from_toml(text, Path::new("my-recipe.toml"), ".".into())
}

fn error(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn every_bundled_recipe_parses_with_and_without_quick() {
    let mut seen = 0;
    for entry in std::fs::read_dir(repo_root().join("recipes")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        for quick in [false, true] {
            let recipe = Recipe::load_with(&path, &LoadOptions { quick })
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(!recipe.stage_names().is_empty(), "{}", path.display());
        }
        seen += 1;
    }
    assert!(seen >= 1);
}

#[test]
fn the_luxinstruct_recipe_holds_every_stage_and_its_settings() {
    let recipe = Recipe::load(repo_root().join("recipes/luxinstruct.toml")).unwrap();
    assert_eq!(
        recipe.stage_names(),
        [
            "data",
            "mix",
            "sft",
            "heldout_loss",
            "cka",
            "judge_panel",
            "chrf"
        ]
    );
    let sft = serde_json::to_value(&recipe.train[0]).unwrap();
    assert_eq!(sft["type"], "sft");
    assert_eq!(sft["adapter"]["type"], "lora");
    assert_eq!(sft["adapter"]["r"], 16);
    assert_eq!(sft["max_steps"], 40);
    let quick = Recipe::load_with(
        repo_root().join("recipes/luxinstruct.toml"),
        &LoadOptions { quick: true },
    )
    .unwrap();
    let sft = serde_json::to_value(&quick.train[0]).unwrap();
    assert_eq!(sft["max_steps"], 4);
    assert_eq!(sft["adapter"]["r"], 16, "quick keeps what it does not name");
    assert_eq!(quick.data.unwrap().max_seeds_per_source, Some(400));
}

const HEAD: &str = "name = \"t\"\n[model]\npath = \"m.gguf\"\n";

#[test]
fn unknown_stage_types_name_the_file_the_line_and_the_known_types() {
    let e = error(&format!(
        "{HEAD}\n[[train]]\ntype = \"sfft\"\nlearning_rate = 1e-4\n"
    ));
    assert!(
        e.contains("my-recipe.toml")
            && e.contains("line 6")
            && e.contains("sfft")
            && e.contains("`sft`"),
        "{e}"
    );
    let e = error(&format!("{HEAD}\n[[eval]]\ntype = \"ckaa\"\n"));
    assert!(
        e.contains("line 6") && e.contains("`cka`") && e.contains("`heldout_loss`"),
        "{e}"
    );
}

#[test]
fn unknown_adapters_missing_fields_and_wrong_types_are_named() {
    let e = error(&format!(
        "{HEAD}\n[[train]]\ntype = \"sft\"\nlearning_rate = 1e-4\nadapter = {{ type = \"lorra\", r = 4 }}\n"
    ));
    assert!(
        e.contains("line 5") && e.contains("lorra") && e.contains("`lora`"),
        "{e}"
    );
    let e = error(&format!(
        "{HEAD}\n[[train]]\ntype = \"sft\"\nadapter = {{ type = \"lora\", r = 4, lora_alpha = 8.0, target_modules = [\"q_proj\"] }}\n"
    ));
    assert!(e.contains("learning_rate"), "{e}");
    let e = error(&format!(
        "{HEAD}\n[[train]]\ntype = \"sft\"\nlearning_rate = 1e-4\nmax_steps = \"ten\"\nadapter = {{ type = \"lora\", r = 4, lora_alpha = 8.0, target_modules = [\"q_proj\"] }}\n"
    ));
    assert!(e.contains("max_steps") && e.contains("line 5"), "{e}");
    let e = error(&format!(
        "{HEAD}\n[[eval]]\ntype = \"cka\"\nparallel = \"p.jsonl\"\nsentence = 3\n"
    ));
    assert!(e.contains("sentence") && e.contains("sentences"), "{e}");
    let e = error("name = \"t\"\n[model]\nname = \"gpt9\"\n");
    assert!(e.contains("gpt9") && e.contains("smollm2"), "{e}");
}

#[test]
fn stage_names_are_unique_and_quick_names_existing_tables() {
    let two =
        format!("{HEAD}\n[[eval]]\ntype = \"heldout_loss\"\n[[eval]]\ntype = \"heldout_loss\"\n");
    assert!(error(&two).contains("two stages are named `heldout_loss`"));
    let renamed = format!(
        "{HEAD}\n[[eval]]\ntype = \"heldout_loss\"\n[[eval]]\ntype = \"heldout_loss\"\nname = \"loss_long\"\nmax_seq_length = 512\n"
    );
    assert_eq!(
        parse(&renamed).unwrap().stage_names(),
        ["heldout_loss", "loss_long"]
    );
    let bad_quick = format!(
        "{HEAD}\n[[eval]]\ntype = \"heldout_loss\"\n[quick]\nheldout = {{ max_examples = 2 }}\n"
    );
    let e = Recipe::parse(
        &bad_quick,
        Path::new("q.toml"),
        ".".into(),
        &LoadOptions { quick: true },
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("quick.heldout") && e.contains("heldout_loss") && e.contains("line 8"),
        "{e}"
    );
}

#[test]
fn the_cli_exits_2_on_an_invalid_recipe_or_stage_and_teaches_in_help() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        format!("{HEAD}\n[[eval]]\ntype = \"nope\"\n"),
    )
    .unwrap();
    let (code, _, stderr) = lux(&["run", "bad.toml"], dir.path());
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("bad.toml") && stderr.contains("nope"),
        "{stderr}"
    );
    let (code, _, stderr) = lux(
        &[
            "run",
            &repo_root()
                .join("recipes/luxinstruct.toml")
                .display()
                .to_string(),
            "--stage",
            "sftt",
        ],
        dir.path(),
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("sftt") && stderr.contains("heldout_loss"),
        "{stderr}"
    );
    let (code, stdout, _) = lux(&["--help"], dir.path());
    assert_eq!(code, 0);
    assert!(
        stdout.contains("lux run") && stdout.contains("Exit codes"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_recipe_runs_on_a_tiny_model_and_a_rerun_reuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("tiny-llama");
    lux::train::testing::write_tiny_llama(&model, 3).unwrap();
    let recipe_path = dir.path().join("tiny.toml");
    std::fs::write(&recipe_path, tiny_recipe(&model, 2)).unwrap();
    let run_dir = dir.path().join("run");
    let settings = RunSettings {
        out: Some(run_dir.clone()),
        ..RunSettings::default()
    };

    let report = Run::new(Recipe::load(&recipe_path).unwrap(), settings.clone())
        .unwrap()
        .execute()
        .await
        .unwrap();
    let names: Vec<&str> = report.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["data", "mix", "sft", "heldout_loss", "cka"]);
    assert!(report.stages.iter().all(|s| s.status == "ran"));
    for file in [
        "recipe.json",
        "report.md",
        "report.json",
        "data/dataset.jsonl",
        "mix/train.jsonl",
        "mix/validation.jsonl",
        "train/sft/adapter/adapter_config.json",
        "train/sft/adapter/adapter_model.safetensors",
        "train/sft/adapter/lux_adapter.json",
        "train/sft/metrics.jsonl",
        "eval/heldout_loss/heldout_loss.json",
        "eval/cka/cka.sft.md",
    ] {
        assert!(run_dir.join(file).exists(), "{file} missing");
    }
    let md = std::fs::read_to_string(run_dir.join("report.md")).unwrap();
    for section in [
        "## data `data`",
        "## mix `mix`",
        "## train `sft`",
        "## eval `heldout_loss`",
        "## eval `cka`",
        "## LLM usage",
    ] {
        assert!(md.contains(section), "{section} missing in\n{md}");
    }
    // The mix capped word_translation at 60.
    let mix = &report.stages[1].output.summary;
    let words = mix["train"]["word_translation"].as_u64().unwrap_or(0)
        + mix["validation"]["word_translation"].as_u64().unwrap_or(0);
    assert_eq!(words, 60, "{mix}");
    // Base and tuned model both evaluated, with finite losses.
    let systems = report.stages[3].output.summary["systems"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(systems.len(), 2);
    assert!(
        systems
            .iter()
            .all(|s| s["loss"].as_f64().unwrap().is_finite())
    );

    // Nothing changed: every stage is reused.
    let again = Run::new(Recipe::load(&recipe_path).unwrap(), settings.clone())
        .unwrap()
        .execute()
        .await
        .unwrap();
    assert!(
        again.stages.iter().all(|s| s.status == "reused"),
        "{:?}",
        again.stages
    );
    assert_eq!(again.stages[3].output, report.stages[3].output);

    // Another SFT setting: data and mix are reused, training and evaluation run again.
    std::fs::write(&recipe_path, tiny_recipe(&model, 3)).unwrap();
    let changed = Run::new(Recipe::load(&recipe_path).unwrap(), settings)
        .unwrap()
        .execute()
        .await
        .unwrap();
    let status: Vec<&str> = changed.stages.iter().map(|s| s.status.as_str()).collect();
    assert_eq!(status, ["reused", "reused", "ran", "ran", "ran"]);
    assert_eq!(changed.stages[2].output.summary["steps"], 3);
}

#[test]
fn lux_run_quick_runs_every_stage_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("tiny-llama");
    lux::train::testing::write_tiny_llama(&model, 5).unwrap();
    std::fs::write(dir.path().join("tiny.toml"), tiny_recipe(&model, 2)).unwrap();
    let (code, stdout, stderr) = lux(
        &["run", "tiny.toml", "--quick", "--quiet", "--out", "run"],
        dir.path(),
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("report:"), "{stdout}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("run/report.json")).unwrap())
            .unwrap();
    assert_eq!(
        report["stages"][2]["output"]["summary"]["steps"], 1,
        "quick's max_steps"
    );
    let resolved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("run/recipe.json")).unwrap())
            .unwrap();
    assert_eq!(resolved["quick"], true);
    assert_eq!(resolved["eval"][1]["sentences"], 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_training_stage_resumes_from_its_newest_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("tiny-llama");
    lux::train::testing::write_tiny_llama(&model, 11).unwrap();
    let recipe_path = dir.path().join("tiny.toml");
    std::fs::write(&recipe_path, tiny_recipe(&model, 4)).unwrap();
    let run_dir = dir.path().join("run");
    let settings = RunSettings {
        out: Some(run_dir.clone()),
        stop_after: Some("sft".into()),
        ..RunSettings::default()
    };
    let losses = |run_dir: &Path| -> Vec<f64> {
        std::fs::read_to_string(run_dir.join("train/sft/metrics.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["loss"]
                    .as_f64()
                    .unwrap()
            })
            .collect()
    };
    let first = Run::new(Recipe::load(&recipe_path).unwrap(), settings.clone())
        .unwrap()
        .execute()
        .await
        .unwrap();
    assert_eq!(first.stages.len(), 3, "stops after sft");
    let uninterrupted = losses(&run_dir);
    assert_eq!(uninterrupted.len(), 4);

    // As if killed after step 2: the record says unfinished, later checkpoints and the final
    // adapter are gone.
    let sft = run_dir.join("train/sft");
    let record_path = sft.join("stage.json");
    let mut record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&record_path).unwrap()).unwrap();
    record["finished"] = false.into();
    std::fs::write(&record_path, record.to_string()).unwrap();
    for gone in ["checkpoint-3", "checkpoint-4", "adapter"] {
        std::fs::remove_dir_all(sft.join(gone)).unwrap();
    }
    let written = |n: usize| {
        std::fs::metadata(sft.join(format!("checkpoint-{n}/trainer_state.json")))
            .and_then(|m| m.modified())
            .unwrap()
    };
    let kept = (written(1), written(2));
    let resumed = Run::new(Recipe::load(&recipe_path).unwrap(), settings)
        .unwrap()
        .execute()
        .await
        .unwrap();
    let status: Vec<&str> = resumed.stages.iter().map(|s| s.status.as_str()).collect();
    assert_eq!(status, ["reused", "reused", "ran"]);
    assert!(sft.join("adapter/adapter_model.safetensors").exists());
    assert_eq!(
        (written(1), written(2)),
        kept,
        "resumed: steps 1-2 not trained again"
    );
    assert!(sft.join("checkpoint-4").exists());
    let after = losses(&run_dir);
    assert_eq!(after.len(), 4);
    for (a, b) in uninterrupted.iter().zip(&after) {
        assert!(
            (a - b).abs() <= 1e-5 * a.abs().max(1.0),
            "{uninterrupted:?} vs {after:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sft_stage_per_instruction_language_trains_on_its_examples_and_is_evaluated() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("tiny-llama");
    lux::train::testing::write_tiny_llama(&model, 17).unwrap();
    let recipe = tiny_recipe(&model, 1)
        + r#"
[[train]]
name = "sft_fr"
type = "sft"
instruction_langs = ["fr"]
learning_rate = 1e-3
max_steps = 1
max_seq_length = 320
adapter = { type = "lora", r = 2, lora_alpha = 4.0, target_modules = ["q_proj"] }
"#;
    let recipe_path = dir.path().join("per-lang.toml");
    std::fs::write(&recipe_path, recipe).unwrap();
    let run_dir = dir.path().join("run");
    let report = Run::new(
        Recipe::load(&recipe_path).unwrap(),
        RunSettings {
            out: Some(run_dir.clone()),
            ..RunSettings::default()
        },
    )
    .unwrap()
    .execute()
    .await
    .unwrap();
    let train: Vec<lux::core::Example> =
        lux::core::fs::read_jsonl(run_dir.join("mix/train.jsonl")).unwrap();
    let french = train
        .iter()
        .filter(|e| e.instruction_lang.code() == "fr")
        .count();
    assert!(french > 0 && french < train.len());
    let stage = report.stages.iter().find(|s| s.name == "sft_fr").unwrap();
    assert_eq!(stage.output.summary["train_examples"], french);
    // Every evaluation compares base, sft and sft_fr.
    let cka = report.stages.iter().find(|s| s.name == "cka").unwrap();
    let systems: Vec<&str> = cka.output.summary["systems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["system"].as_str().unwrap())
        .collect();
    assert_eq!(systems, ["base", "sft", "sft_fr"]);
}
