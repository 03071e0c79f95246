//! LinguaLIFT as a recipe: the bundled `recipes/lingualift.toml` holds every stage, and the
//! same pipeline — code-switched and word-problem data, stage 1 (aligner), stage 2 (LoRA behind
//! it), the ablation without stage 1, MGSM per language for every system — runs end to end on
//! a tiny random Llama and a tiny random BERT encoder; an interrupted stage 1 resumes from its
//! checkpoint and ends where the uninterrupted run ended.

use std::path::Path;

use lux::{LoadOptions, Recipe, Run, RunSettings};

use crate::support::repo_root;

#[test]
fn the_lingualift_recipe_holds_every_stage_and_its_settings() {
    let path = repo_root().join("recipes/lingualift.toml");
    let recipe = Recipe::load(&path).unwrap();
    assert_eq!(
        recipe.stage_names(),
        [
            "data",
            "mix",
            "lingualift_align",
            "lingualift_instruct",
            "no_stage1",
            "mgsm"
        ]
    );
    let align = serde_json::to_value(&recipe.train[0]).unwrap();
    assert_eq!(align["type"], "lingualift_align");
    assert_eq!(align["encoder"]["name"], "multilingual-e5-small");
    assert_eq!(
        (
            align["aligner"]["hidden"].as_u64(),
            align["max_steps"].as_u64()
        ),
        (Some(1024), Some(40))
    );
    let instruct = serde_json::to_value(&recipe.train[1]).unwrap();
    assert_eq!(instruct["adapter"]["r"], 16);
    assert_eq!(instruct["tasks"][0], "math_word_problem");
    let ablation = serde_json::to_value(&recipe.train[2]).unwrap();
    assert_eq!(
        ablation["untrained_aligner"]["encoder"]["name"],
        "multilingual-e5-small"
    );
    let quick = Recipe::load_with(&path, &LoadOptions { quick: true }).unwrap();
    let align = serde_json::to_value(&quick.train[0]).unwrap();
    assert_eq!(align["max_steps"], 6);
    assert_eq!(
        align["learning_rate"], 1e-3,
        "quick keeps what it does not name"
    );
}

#[test]
fn a_stage_table_with_a_typo_or_two_aligners_is_an_error_naming_it() {
    let head = "name = \"t\"\n[model]\npath = \"m.gguf\"\n";
    let parse = |text: String| {
        Recipe::from_toml(&text, Path::new("ll.toml"), ".".into())
            .unwrap_err()
            .to_string()
    };
    let e = parse(format!(
        "{head}[[train]]\ntype = \"lingualift_align\"\nencoder = {{ name = \"multilingual-e5-small\" }}\nlearning_rate = 1e-3\nstep = 4\n"
    ));
    assert!(
        e.contains("`step`") && e.contains("max_steps") && e.contains("line 4"),
        "{e}"
    );
    let e = parse(format!(
        "{head}[[train]]\ntype = \"lingualift_instruct\"\nlearning_rate = 1e-3\nmax_steps = 2\naligner = \"a/aligner\"\nuntrained_aligner = {{ encoder = {{ path = \"e\" }} }}\nadapter = {{ type = \"lora\", r = 2, lora_alpha = 4.0, target_modules = [\"q_proj\"] }}\n"
    ));
    assert!(e.contains("not both"), "{e}");
    let e = parse(format!(
        "{head}[[train]]\ntype = \"lingualift_align\"\nencoder = {{ name = \"labse\" }}\nlearning_rate = 1e-3\nmax_steps = 4\n"
    ));
    assert!(
        e.contains("labse") && e.contains("multilingual-e5-small"),
        "{e}"
    );
}

/// The LinguaLIFT recipe, shrunk: the first groups of the catalogue, a few steps, tiny models.
fn tiny_lingualift(llama: &Path, encoder: &Path, align_steps: usize) -> String {
    let data = repo_root().join("data");
    format!(
        r#"
name = "tiny-lingualift"
seed = 7

[data]
native = "lb"
instruction_langs = ["en"]
max_seeds_per_source = 400

[[data.sources]]
type = "word_problems"
seed = 11
per_template = 2

[[data.sources]]
type = "parallel_jsonl"
path = "{parallel}"

[[data.generators]]
type = "code_switch"
languages = ["lb", "de", "fr"]
dictionary = "{dictionary}"
parallel = "{parallel}"

[[data.generators]]
type = "word_problem"

[mix]
validation_ratio = 0.2
max_per_task = {{ code_switch = 40 }}

[model]
path = "{llama}"

[[train]]
type = "lingualift_align"
encoder = {{ path = "{encoder}" }}
aligner = {{ hidden = 24 }}
learning_rate = 1e-2
max_steps = {align_steps}
per_device_train_batch_size = 4
save_steps = 1
max_validation_examples = 6

[[train]]
type = "lingualift_instruct"
learning_rate = 1e-2
max_steps = 2
per_device_train_batch_size = 4
save_steps = 1
max_validation_examples = 6
adapter = {{ type = "lora", r = 2, lora_alpha = 4.0, target_modules = ["q_proj", "v_proj"] }}

[[train]]
type = "lingualift_instruct"
name = "no_stage1"
untrained_aligner = {{ encoder = {{ path = "{encoder}" }}, hidden = 0 }}
learning_rate = 1e-2
max_steps = 1
per_device_train_batch_size = 4
max_validation_examples = 6
adapter = {{ type = "lora", r = 2, lora_alpha = 4.0, target_modules = ["q_proj", "v_proj"] }}

[[eval]]
type = "mgsm"
languages = ["en", "lb"]
problems_per_language = 2
max_new_tokens = 3
"#,
        parallel = data.join("parallel.jsonl").display(),
        dictionary = data.join("dictionary.jsonl").display(),
        llama = llama.display(),
        encoder = encoder.display(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lingualift_runs_end_to_end_on_tiny_models_and_stage_1_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let (llama, encoder) = (dir.path().join("llama"), dir.path().join("encoder"));
    lux::train::testing::write_tiny_llama(&llama, 3).unwrap();
    lux::train::testing::write_tiny_encoder(&encoder, 4).unwrap();
    let recipe_path = dir.path().join("ll.toml");
    std::fs::write(&recipe_path, tiny_lingualift(&llama, &encoder, 3)).unwrap();
    let run_dir = dir.path().join("run");
    let settings = RunSettings {
        out: Some(run_dir.clone()),
        ..RunSettings::default()
    };
    let run = || async {
        Run::new(Recipe::load(&recipe_path).unwrap(), settings.clone())
            .unwrap()
            .execute()
            .await
            .unwrap()
    };

    let report = run().await;
    let names: Vec<&str> = report.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "data",
            "mix",
            "lingualift_align",
            "lingualift_instruct",
            "no_stage1",
            "mgsm"
        ]
    );
    // Both kinds of data flowed through [data] and [mix].
    let per_task = &report.stages[0].output.summary["per_task"];
    assert!(per_task["code_switch"].as_u64().unwrap() > 0, "{per_task}");
    assert_eq!(per_task["math_word_problem"], 26, "{per_task}");
    let train: Vec<lux::core::Example> =
        lux::core::fs::read_jsonl(run_dir.join("mix/train.jsonl")).unwrap();
    let switched = train
        .iter()
        .find(|e| e.task.as_str() == "code_switch")
        .unwrap();
    assert_ne!(switched.instruction, switched.output);
    assert_eq!(switched.output_lang.code(), "en");

    // Stage 1 left an aligner, stage 2 an adapter pointing at it.
    for file in [
        "train/lingualift_align/aligner/aligner.safetensors",
        "train/lingualift_align/aligner/lux_encoder.json",
        "train/lingualift_align/checkpoint-3",
        "train/lingualift_instruct/adapter/adapter_model.safetensors",
        "train/lingualift_instruct/adapter/lux_aligner.json",
        "train/no_stage1/aligner/aligner.safetensors",
        "eval/mgsm/mgsm.md",
        "eval/mgsm/answers.jsonl",
    ] {
        assert!(run_dir.join(file).exists(), "{file} missing");
    }
    let aligner =
        lux::train::stages::read_aligner_ref(&run_dir.join("train/lingualift_instruct/adapter"))
            .unwrap()
            .unwrap();
    assert_eq!(
        std::fs::canonicalize(aligner).unwrap(),
        std::fs::canonicalize(run_dir.join("train/lingualift_align/aligner")).unwrap()
    );
    let align = &report.stages[2].output;
    assert_eq!(align.artifacts["aligner"].kind, "aligner");
    assert_eq!(align.summary["steps"], 3);
    assert!(
        align.summary["final_eval_loss"]
            .as_f64()
            .unwrap()
            .is_finite()
    );
    assert_eq!(report.stages[3].output.artifacts["adapter"].kind, "adapter");

    // Every system, with a loss per language; the adapters trained behind an aligner are not
    // text systems.
    let mgsm = &report.stages[5].output.summary;
    let systems = mgsm["systems"].as_array().unwrap();
    let names: Vec<(&str, &str)> = systems
        .iter()
        .map(|s| (s["system"].as_str().unwrap(), s["reads"].as_str().unwrap()))
        .collect();
    assert_eq!(
        names,
        [
            ("base", "text"),
            ("lingualift_align", "encoder"),
            ("lingualift_instruct", "encoder"),
            ("no_stage1", "encoder")
        ]
    );
    for s in systems {
        for lang in ["en", "lb"] {
            let loss = s["gold_answer_loss"][lang].as_f64().unwrap();
            assert!(loss.is_finite() && loss > 0.0, "{s}");
            assert_eq!(s["accuracy"][lang]["total"], 2, "{s}");
        }
    }
    let answers: Vec<serde_json::Value> =
        lux::core::fs::read_jsonl(run_dir.join("eval/mgsm/answers.jsonl")).unwrap();
    assert_eq!(answers.len(), 4);
    assert!(answers[0]["no_stage1"]["response"].is_string());

    // Stage 1 interrupted after its second step: the run finds it unfinished, resumes from
    // checkpoint-2, and its third step gives the aligner the uninterrupted run gave.
    let weights = run_dir.join("train/lingualift_align/aligner/aligner.safetensors");
    let uninterrupted = std::fs::read(&weights).unwrap();
    let stage_json = run_dir.join("train/lingualift_align/stage.json");
    let mut record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stage_json).unwrap()).unwrap();
    record["finished"] = false.into();
    std::fs::write(&stage_json, record.to_string()).unwrap();
    std::fs::remove_dir_all(run_dir.join("train/lingualift_align/checkpoint-3")).unwrap();
    std::fs::remove_dir_all(run_dir.join("train/lingualift_align/aligner")).unwrap();
    let resumed = run().await;
    let status: Vec<&str> = resumed.stages.iter().map(|s| s.status.as_str()).collect();
    assert_eq!(
        status,
        ["reused", "reused", "ran", "reused", "reused", "reused"]
    );
    assert_eq!(std::fs::read(&weights).unwrap(), uninterrupted);
    assert_eq!(resumed.stages[2].output.summary["steps"], 3);
    assert_eq!(
        resumed.stages[2].output.summary["final_eval_loss"],
        report.stages[2].output.summary["final_eval_loss"]
    );
}
