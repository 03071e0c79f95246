//! A whole recipe run with an API key set: the key reaches the endpoint (as a bearer token) and
//! nothing the run writes — dataset, caches, checkpoints, adapters, reports, the resolved
//! recipe, stdout and stderr at debug level — contains it.

use std::path::Path;
use std::process::Command;

use crate::support::repo_root;

#[path = "../../crates/lux-plugins/tests/support.rs"]
mod server;

use server::{MockServer, Reply, docs, good_answer};

/// The variable the recipe names and the key it holds: unlike anything else in a run.
const KEY_ENV: &str = "LUX_TEST_SECRET_API_KEY";
const KEY: &str = "sk-lux-test-7f3a9c1e5b2d4f60a8e1c9b7d3f5a2e4";

fn recipe(dir: &Path, model: &Path, url: &str) -> String {
    let lines: String = docs(3)
        .iter()
        .map(|d| {
            serde_json::json!({ "id": d.id, "title": d.title, "text": d.text }).to_string() + "\n"
        })
        .collect();
    std::fs::write(dir.join("docs.jsonl"), lines).unwrap();
    let parallel = repo_root().join("data/parallel.jsonl");
    format!(
        r#"
name = "secrets"
seed = 5

[data]
native = "lb"
instruction_langs = ["en", "fr"]
max_seeds_per_source = 40

[[data.sources]]
type = "jsonl"
path = "docs.jsonl"
lang = "lb"
source = "wikipedia"

[[data.sources]]
type = "parallel_jsonl"
path = "{parallel}"

[[data.generators]]
type = "sentence_translation"

[[data.generators]]
type = "open_generation"

[[llm_generators]]
type = "reverse_instruction"
replaces = ["open_generation"]

[mix]
validation_ratio = 0.2

[model]
path = "{model}"

[[train]]
type = "sft"
learning_rate = 1e-3
max_steps = 2
per_device_train_batch_size = 2
max_seq_length = 256
save_steps = 1
max_validation_examples = 2
adapter = {{ type = "lora", r = 2, lora_alpha = 4.0, target_modules = ["q_proj"] }}

[[eval]]
type = "judge_panel"
max_examples = 2
max_new_tokens = 4
batch_size = 2
criteria = [
  {{ name = "correctness", description = "Is it correct?", scale = {{ min = 1, max = 5 }} }},
]
judges = [
  {{ type = "llm_judge", id = "remote", max_tokens = 16, llm = {{ type = "openai", base_url = "{url}", model = "judge-model", api_key_env = "{KEY_ENV}" }} }},
]
"#,
        parallel = parallel.display(),
        model = model.display(),
    )
}

/// Every file under `dir`, recursively.
fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn an_api_key_reaches_the_endpoint_and_nothing_the_run_writes() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("tiny-llama");
    lux::train::testing::write_tiny_llama(&model, 17).unwrap();
    // Requests without the key are refused, so a run that did not send it cannot pass.
    let server = MockServer::start(|req| {
        if req.header("authorization") != Some(&format!("Bearer {KEY}")) {
            return Reply::error(401, "missing or wrong API key");
        }
        if req.system_text().contains("judge") || req.user_text().contains("Score") {
            Reply::chat(r#"{"score": 3, "reason": "plausible"}"#)
        } else {
            Reply::chat(&good_answer(req))
        }
    });
    let recipe_path = dir.path().join("recipe.toml");
    std::fs::write(&recipe_path, recipe(dir.path(), &model, &server.url())).unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_lux"))
        .args(["run", "recipe.toml", "--out", "out"])
        .current_dir(dir.path())
        .env(KEY_ENV, KEY)
        // The data stage's LLM generators read their endpoint from the environment.
        .env("LUX_LLM_BASE_URL", server.url())
        .env("LUX_LLM_MODEL", "test-model")
        .env("LUX_LLM_API_KEY_ENV", KEY_ENV)
        .env("RUST_LOG", "debug")
        .output()
        .expect("run lux");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");

    // The key was used: generator and judge requests reached the server with it.
    let log = server.log();
    assert!(log.len() >= 2, "{} requests", log.len());
    assert!(
        log.iter()
            .all(|r| r.header("authorization") == Some(&format!("Bearer {KEY}"))),
        "a request without the key"
    );
    let run_dir = dir.path().join("out");
    let report = std::fs::read_to_string(run_dir.join("report.md")).unwrap();
    assert!(report.contains("judge-model"), "{report}");

    // And it is nowhere in what the run wrote or printed.
    let mut written = Vec::new();
    files(&run_dir, &mut written);
    assert!(written.len() > 20, "{} files", written.len());
    for path in &written {
        let bytes = std::fs::read(path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(KEY), "the key is in {}", path.display());
        assert!(
            !text.contains(&KEY[3..]),
            "part of the key is in {}",
            path.display()
        );
    }
    for (name, text) in [("stdout", &stdout), ("stderr", &stderr)] {
        assert!(!text.contains(&KEY[3..]), "the key is in {name}");
    }
}
