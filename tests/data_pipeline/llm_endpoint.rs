//! A recipe's `[[llm_generators]]`: ignored offline, swapped in for the offline generators
//! they replace when an LLM endpoint is configured, answered from the response cache on a
//! second run. The endpoint is a real HTTP server on 127.0.0.1 (the lux-plugins test server).

use std::path::Path;

use lux::Recipe;
use lux::core::Example;

use crate::read_dataset;
use crate::support::repo_root;

#[path = "../../crates/lux-plugins/tests/support.rs"]
pub(crate) mod server;

use server::{MockServer, Reply, docs, good_answer};

/// A recipe over three Luxembourgish documents: offline open generation, or reverse
/// instructions when an endpoint is set.
fn write_recipe(dir: &Path) -> std::path::PathBuf {
    let lines: String = docs(3)
        .iter()
        .map(|d| {
            serde_json::json!({ "id": d.id, "title": d.title, "text": d.text }).to_string() + "\n"
        })
        .collect();
    std::fs::write(dir.join("docs.jsonl"), lines).unwrap();
    let corpus = repo_root().join("data/parallel.jsonl");
    let recipe = format!(
        r#"
name = "llm-switch"

[data]
seed = 3
native = "lb"
instruction_langs = ["en", "fr", "de"]

[[data.sources]]
type = "jsonl"
path = "docs.jsonl"
lang = "lb"
source = "wikipedia"

[[data.generators]]
type = "open_generation"

[[llm_generators]]
type = "reverse_instruction"
replaces = ["open_generation"]
language_check = {{ type = "langid", model = {{ training_file = "{}" }} }}
"#,
        corpus.display()
    );
    let path = dir.join("recipe.toml");
    std::fs::write(&path, recipe).unwrap();
    path
}

fn generators(examples: &[Example]) -> Vec<&str> {
    let mut g: Vec<&str> = examples.iter().map(|e| e.generator.as_str()).collect();
    g.dedup();
    g
}

#[tokio::test]
async fn llm_generators_replace_offline_ones_only_with_an_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let recipe_path = write_recipe(dir.path());
    let server = MockServer::start(|req| Reply::chat(&good_answer(req)));

    // Offline: the reverse-instruction generator is not even built.
    let offline = Recipe::load(&recipe_path).unwrap();
    assert!(!offline.uses_llm());
    let out = dir.path().join("offline");
    offline.run_data(&out, &Default::default()).await.unwrap();
    let examples = read_dataset(&out);
    assert_eq!(generators(&examples), ["open_generation"]);
    assert_eq!(server.requests(), 0);

    // With an endpoint: one request per document, reverse instructions only.
    let mut endpoint = toml::Table::new();
    endpoint.insert("type".into(), "openai".into());
    endpoint.insert("base_url".into(), server.url().into());
    endpoint.insert("model".into(), "test-model".into());
    let online = || {
        Recipe::load(&recipe_path)
            .unwrap()
            .with_llm_endpoint(endpoint.clone())
    };
    assert!(online().uses_llm());
    let out = dir.path().join("online");
    let summary = online().run_data(&out, &Default::default()).await.unwrap();
    let examples = read_dataset(&out);
    assert_eq!(generators(&examples), ["reverse_instruction"]);
    assert_eq!(examples.len(), 3, "{:?}", summary.stats);
    assert_eq!(server.requests(), 3);
    assert!(out.join("llm-cache").is_dir());

    // A fresh rerun regenerates every seed, but from the cache: no request reaches the server.
    let rerun = lux::DataRunOptions {
        fresh: true,
        ..Default::default()
    };
    online().run_data(&out, &rerun).await.unwrap();
    assert_eq!(read_dataset(&out), examples);
    assert_eq!(server.requests(), 3);
}

#[tokio::test]
async fn a_malformed_llm_generator_names_its_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("recipe.toml");
    std::fs::write(
        &path,
        r#"
name = "bad"
[data]
native = "lb"
instruction_langs = ["en"]
[[data.sources]]
type = "jsonl"
path = "docs.jsonl"
lang = "lb"
[[data.generators]]
type = "open_generation"
[[llm_generators]]
type = "reverse_instruction"
replaces = "open_generation"
"#,
    )
    .unwrap();
    let mut endpoint = toml::Table::new();
    endpoint.insert("type".into(), "openai".into());
    endpoint.insert("base_url".into(), "http://127.0.0.1:9/v1".into());
    endpoint.insert("model".into(), "m".into());
    let err = Recipe::load(&path)
        .unwrap()
        .with_llm_endpoint(endpoint)
        .run_data(dir.path().join("out"), &Default::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("llm_generators[0].replaces"), "{err}");
}
