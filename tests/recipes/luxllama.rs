//! The LuxLlama recipe: the bundled file holds the model card's settings, and a recipe of the
//! same shape — seed-source and data-stage components with their own templates, LoRA on all
//! seven projections, held-out loss, LUXELLA with a question writer and two judges — runs end
//! to end on a tiny random model, whose unreadable questions and verdicts are recorded.

use std::path::Path;

use lux::{LoadOptions, Recipe, Run, RunSettings};
use serde_json::Value;

use crate::support::repo_root;

#[test]
fn the_luxllama_recipe_holds_the_cards_settings_and_quick_shrinks_them() {
    let path = repo_root().join("recipes/luxllama.toml");
    let recipe = Recipe::load(&path).unwrap();
    assert_eq!(
        recipe.stage_names(),
        ["data", "mix", "sft", "heldout_loss", "luxella"]
    );
    let sft = serde_json::to_value(&recipe.train[0]).unwrap();
    // Every trainer setting of TrainingArgs::luxllama(), except the CPU caps the recipe names.
    let (card, lora) = lux::train::training::TrainingArgs::luxllama();
    let card = serde_json::to_value(card).unwrap();
    for (key, value) in card.as_object().unwrap() {
        if ["max_steps", "max_seq_length", "save_steps", "progress"].contains(&key.as_str()) {
            continue;
        }
        assert_eq!(&sft[key], value, "sft.{key}");
    }
    assert_eq!(sft["max_steps"], 4, "the CPU cap");
    let lora = serde_json::to_value(lora).unwrap();
    for key in ["r", "lora_alpha", "lora_dropout", "target_modules"] {
        assert_eq!(sft["adapter"][key], lora[key], "adapter.{key}");
    }
    assert_eq!(
        sft["adapter"]["target_modules"].as_array().unwrap().len(),
        7
    );

    let mix = serde_json::to_value(recipe.mix.as_ref().unwrap()).unwrap();
    let categories: Vec<&str> = mix["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["category"].as_str().unwrap())
        .collect();
    for c in [
        "translation_en_lb",
        "dictionary_usage",
        "math_reasoning_lb",
        "luxinstruct",
    ] {
        assert!(categories.contains(&c), "{c} missing: {categories:?}");
    }

    let quick = Recipe::load_with(&path, &LoadOptions { quick: true }).unwrap();
    let sft = serde_json::to_value(&quick.train[0]).unwrap();
    assert!(sft["max_steps"].as_u64().unwrap() < 4);
    assert!(sft["adapter"]["r"].as_u64().unwrap() < 256);
    assert_eq!(
        sft["adapter"]["target_modules"].as_array().unwrap().len(),
        7,
        "quick keeps what it does not name"
    );
    let luxella = serde_json::to_value(&quick.eval[1]).unwrap();
    assert!(luxella["max_questions"].as_u64().unwrap() < 16);
    assert_eq!(luxella["judges"].as_array().unwrap().len(), 2);
}

/// A LuxLlama-shaped recipe over the bundled data and a tiny model.
fn tiny_luxllama(model: &Path) -> String {
    let data = repo_root().join("data");
    let local = format!("{{ type = \"local\", path = \"{}\" }}", model.display());
    format!(
        r#"
name = "tiny-luxllama"
seed = 7

[data]
native = "lb"
instruction_langs = ["en", "fr"]
max_seeds_per_source = 80

[[data.sources]]
type = "parallel_jsonl"
path = "{parallel}"

[[data.generators]]
type = "sentence_translation"

[mix]
validation_ratio = 0.1

[[mix.components]]
category = "translation_en_lb"
seeds = {{ type = "parallel_jsonl", path = "{parallel}" }}
instruction = "Translate into Luxembourgish."
input = "{{texts.en}}"
output = "{{texts.lb}}"
lang = "lb"
skip_missing = true
skip_containing = ["{{", "<"]
max_examples = 40

[[mix.components]]
category = "dictionary_usage"
seeds = {{ type = "dictionary", path = "{dictionary}" }}
for_each = "examples"
instruction = "Benotz «{{headword}}» an engem Saz."
output = "{{item}}"
instruction_lang = "lb"
max_examples = 20

[[mix.components]]
category = "math_reasoning"
seeds = {{ type = "word_problems", seed = 1729, per_template = 1, languages = ["en"] }}
instruction = "Solve: {{text}}"
output = "The answer is {{metadata.answer}}."

[[mix.components]]
category = "luxinstruct"
dataset = true
where = {{ instruction_lang = "fr" }}
instruction = "{{instruction}}"
input = "{{input}}"
output = "{{output}}"
instruction_lang = "fr"
lang = "lb"
max_examples = 20

[model]
path = "{model}"

[[train]]
type = "sft"
learning_rate = 1e-3
max_steps = 2
per_device_train_batch_size = 2
gradient_accumulation_steps = 2
warmup = {{ ratio = 0.02 }}
lr_scheduler = {{ type = "cosine_with_restarts", num_cycles = 1 }}
weight_decay = 0.01
max_seq_length = 96
max_validation_examples = 4
adapter = {{ type = "lora", r = 4, lora_alpha = 4.0, target_modules = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] }}

[[eval]]
type = "heldout_loss"
max_examples = 4
max_seq_length = 96

[[eval]]
type = "luxella"
seed_questions = "{seed_questions}"
max_questions = 3
answer_max_tokens = 6
generate = {{ llm = {local}, categories = ["vocabulary"], difficulties = ["beginner"], questions_per_cell = 1, attempts = 1, max_tokens = 12 }}
judges = [
  {{ type = "llm_judge", id = "llm_judge", llm = {local}, max_tokens = 8 }},
  {{ type = "g_eval", id = "g_eval", llm = {local}, mode = "parsed", max_tokens = 4, steps = {{ luxella = "Compare with the reference." }} }},
]
"#,
        parallel = data.join("parallel.jsonl").display(),
        dictionary = data.join("dictionary.jsonl").display(),
        seed_questions = data.join("luxella_seed.jsonl").display(),
        model = model.display(),
    )
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_luxllama_shaped_recipe_runs_on_a_tiny_model_and_records_what_failed() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("tiny-llama");
    lux::train::testing::write_tiny_llama(&model, 11).unwrap();
    let recipe_path = dir.path().join("luxllama.toml");
    std::fs::write(&recipe_path, tiny_luxllama(&model)).unwrap();
    let run_dir = dir.path().join("run");
    let settings = RunSettings {
        out: Some(run_dir.clone()),
        ..RunSettings::default()
    };
    let report = Run::new(Recipe::load(&recipe_path).unwrap(), settings)
        .unwrap()
        .execute()
        .await
        .unwrap();
    let names: Vec<&str> = report.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["data", "mix", "sft", "heldout_loss", "luxella"]);

    // Every category came from its component; the data stage's examples only through theirs.
    let mix = &report.stages[1].output.summary;
    for category in [
        "translation_en_lb",
        "dictionary_usage",
        "math_reasoning",
        "luxinstruct",
    ] {
        assert!(
            mix["read"][category].as_u64().unwrap_or(0) > 0,
            "{category}: {mix}"
        );
    }
    assert!(mix["read"].get("sentence_translation").is_none(), "{mix}");
    let train: Vec<lux::core::Example> =
        lux::core::fs::read_jsonl(run_dir.join("mix/train.jsonl")).unwrap();
    let math = train
        .iter()
        .find(|e| e.task.as_str() == "math_reasoning")
        .unwrap();
    assert!(math.instruction.starts_with("Solve: ") && math.output.starts_with("The answer is "));
    assert!(
        train
            .iter()
            .filter(|e| e.task.as_str() == "luxinstruct")
            .all(|e| e.instruction_lang.code() == "fr")
    );

    // LUXELLA: three questions, two systems, two judges; nothing unreadable is dropped.
    let luxella = &report.stages[4].output.summary;
    assert_eq!(luxella["questions"], 3, "{luxella}");
    let eval_dir = run_dir.join("eval/luxella");
    let generation = read_json(&eval_dir.join("generation.json"));
    assert_eq!(generation["requests"], 1, "{generation}");
    assert_eq!(
        generation["failures"].as_array().unwrap().len(),
        1,
        "a tiny random model writes no question in the schema, and that is recorded: {generation}"
    );
    let answers = std::fs::read_to_string(eval_dir.join("answers.jsonl")).unwrap();
    assert_eq!(answers.lines().count(), 3);
    let judges = luxella["judges"].as_array().unwrap();
    assert_eq!(judges.len(), 2);
    for judge in judges {
        let systems = judge["systems"].as_array().unwrap();
        let names: Vec<&str> = systems
            .iter()
            .map(|s| s["system"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["base", "sft"], "{judge}");
        for s in systems {
            let (scored, failed) = (s["scored"].as_u64().unwrap(), s["failed"].as_u64().unwrap());
            assert_eq!(scored + failed, 3, "{judge}");
        }
        let id = judge["judge"].as_str().unwrap();
        let file = read_json(&eval_dir.join(format!("luxella.{id}.json")));
        let items: usize = file["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["items"].as_array().unwrap().len())
            .sum();
        assert_eq!(items, 6, "{id}: every item of both systems kept");
        for svg in ["by-category", "by-difficulty"] {
            assert!(
                eval_dir.join(format!("luxella.{id}.{svg}.svg")).exists(),
                "{id} {svg}"
            );
        }
    }
    // The tiny model's verdicts are not JSON: llm_judge's failures are recorded per item.
    let llm_judge = read_json(&eval_dir.join("luxella.llm_judge.json"));
    let errors: Vec<&str> = llm_judge["results"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["items"].as_array().unwrap())
        .filter_map(|i| i["error"].as_str())
        .collect();
    assert!(!errors.is_empty(), "{llm_judge}");
    let md = std::fs::read_to_string(run_dir.join("report.md")).unwrap();
    assert!(
        md.contains("## eval `luxella`") && md.contains("**llm_judge**"),
        "{md}"
    );
}
