//! The real pipeline drives `reverse_instruction` against a server that fails in every way
//! it can: every document ends with examples, rejections or a recorded failure, once.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use lux_core::InstructionGenerator;
use lux_core::pipeline::{Pipeline, RunOptions};
use serde_json::json;
use support::*;

/// What the server does to document `i`, on attempt `attempt` of its request.
fn faulty(req: &Incoming) -> Reply {
    let Some(i) = req.doc_index() else {
        return Reply::error(400, "no document");
    };
    let a = req.attempt;
    match i % 10 {
        0 if a == 1 => Reply::error(429, "rate limited").header("retry-after", "0"),
        1 if a == 1 => Reply::error(500, "boom"),
        2 if a == 1 => Reply::chat(&good_answer(req)).delay(Duration::from_secs(3)),
        3 if a == 1 => Reply::chat(&good_answer(req)).truncated(),
        4 => Reply::raw(200, "{\"choices\": [ this is not json"),
        5 if i % 20 == 5 => Reply::chat(&json!({"span": first_paragraph(i)}).to_string()),
        5 => Reply::chat("Sure! Here is an instruction you could use: tell me about it."),
        6 => Reply::chat(
            &json!({"instruction": instruction_in(&req.instruction_lang().unwrap()),
                    "span": "D'Stad Paräis ass d'Haaptstad vu Frankräich a läit un der Seine, \
                             wou all Joer Millioune Touristen hikommen."})
            .to_string(),
        ),
        7 => {
            let asked = req.instruction_lang().unwrap();
            let other = if asked == "en" { "fr" } else { "en" };
            Reply::chat(
                &json!({"instruction": instruction_in(other), "span": first_paragraph(i)})
                    .to_string(),
            )
        }
        8 if a <= 2 => Reply::error(503, "overloaded"),
        _ => Reply::chat(&good_answer(req)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_document_ends_once_with_examples_rejections_or_a_failure() {
    let server = MockServer::start(faulty);
    let dir = tempfile::tempdir().unwrap();
    let n = 40;
    // The generator comes from a recipe table, as a user would write it.
    let table = format!(
        r#"
        type = "reverse_instruction"
        [llm]
        type = "openai"
        base_url = "{}"
        model = "test-model"
        concurrency = 6
        timeout_secs = 0.5
        cache_dir = "{}"
        retry = {{ max_retries = 4, base_delay_ms = 5, max_delay_ms = 50 }}
        prices = {{ "test-model" = {{ prompt_per_million = 1.0, completion_per_million = 2.0 }} }}
        "#,
        server.url(),
        dir.path().join("cache").display()
    );
    let generator: Box<dyn InstructionGenerator> = toml::from_str(&table).unwrap();
    let mut pipeline = Pipeline::new(recipe(docs(n), generator, 8)).unwrap();
    let out = dir.path().join("run");
    let summary = pipeline.run(&out, &RunOptions::default()).await.unwrap();
    assert_eq!(summary.seeds_generated_now, n);

    // Exactly one journal entry per document, none empty.
    // Journal lines are checksummed records: the entry is their `data`.
    let journal: Vec<_> = read_jsonl(&out.join("journal.jsonl"))
        .into_iter()
        .map(|record| record["data"].clone())
        .collect();
    let mut per_doc: BTreeMap<String, usize> = BTreeMap::new();
    for e in &journal {
        *per_doc
            .entry(e["key"].as_str().unwrap().to_string())
            .or_default() += 1;
        let outcomes = e["examples"].as_array().unwrap().len()
            + e.get("rejected")
                .and_then(|r| r.as_array())
                .map_or(0, Vec::len)
            + e.get("failures")
                .and_then(|r| r.as_array())
                .map_or(0, Vec::len);
        assert_eq!(outcomes, 1, "{e}");
    }
    assert_eq!(per_doc.len(), n);
    assert!(per_doc.values().all(|&c| c == 1));

    // The outcome of each document is the one its faults call for.
    let outcome = |i: usize| {
        let e = journal
            .iter()
            .find(|e| e["key"].as_str().unwrap().ends_with(&format!("/d{i:03}")))
            .unwrap();
        if let Some(ex) = e["examples"].as_array().unwrap().first() {
            assert_eq!(
                ex["output"].as_str().unwrap(),
                first_paragraph(i),
                "verbatim span of doc {i}"
            );
            return "example".to_string();
        }
        if let Some(r) = e.get("rejected").and_then(|r| r[0]["reason"].as_str()) {
            return r.to_string();
        }
        format!("failure: {}", e["failures"][0]["reason"].as_str().unwrap())
    };
    for i in 0..n {
        let got = outcome(i);
        match i % 10 {
            0 | 1 | 2 | 3 | 8 | 9 => assert_eq!(got, "example", "doc {i}"),
            4 => assert!(
                got.starts_with("failure: LLM request failed: unreadable answer from"),
                "doc {i}: {got}"
            ),
            5 if i % 20 == 5 => assert_eq!(got, "schema: missing field instruction", "doc {i}"),
            5 => assert!(got.starts_with("invalid JSON: "), "doc {i}: {got}"),
            6 => assert!(
                got.starts_with("span not in source: \"D'Stad Paräis"),
                "doc {i}: {got}"
            ),
            7 => assert!(
                got.starts_with("wrong language: expected "),
                "doc {i}: {got}"
            ),
            _ => unreachable!(),
        }
    }

    // The dataset: 24 examples, unique ids, native outputs, instructions in the run's languages.
    let dataset = read_jsonl(&out.join("dataset.jsonl"));
    assert_eq!(dataset.len(), 24);
    let mut ids: Vec<&str> = dataset.iter().map(|e| e["id"].as_str().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 24);
    for ex in &dataset {
        assert_eq!(ex["output_lang"], "lb");
        assert_eq!(ex["task"], "open_generation");
        assert_eq!(ex["generator"], "reverse_instruction");
        assert!(["en", "fr", "de"].contains(&ex["instruction_lang"].as_str().unwrap()));
    }
    let stats: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("stats.json")).unwrap()).unwrap();
    assert_eq!(stats["seeds_failed"], 4);

    // Nothing was asked twice but what had to be retried: 40 requests + 1 retry each for
    // docs 0, 1, 2, 3 (429, 500, timeout, truncated body) + 2 for doc 8 (503 twice).
    assert_eq!(server.requests(), n + 4 * (1 + 1 + 1 + 1 + 2));
    let per_title = server.requests_per_title();
    for i in 0..n {
        let expected = match i % 10 {
            0..=3 => 2,
            8 => 3,
            _ => 1,
        };
        assert_eq!(per_title[&format!("doc-{i:03}")], expected, "doc {i}");
    }
    // The 429 carried Retry-After: 0, so its retry came at once.
    let log = server.log();
    let r429: Vec<_> = log.iter().filter(|r| r.doc_index() == Some(0)).collect();
    assert!(r429[1].at - r429[0].at < Duration::from_millis(500));

    // A resumed run in the same directory asks nothing.
    let before = server.requests();
    let table_again: Box<dyn InstructionGenerator> = toml::from_str(&table).unwrap();
    let mut again = Pipeline::new(recipe(docs(n), table_again, 8)).unwrap();
    let s = again.run(&out, &RunOptions::default()).await.unwrap();
    assert_eq!((s.seeds_generated_now, s.seeds_resumed), (0, n));
    assert_eq!(server.requests(), before);
    assert_eq!(read_jsonl(&out.join("dataset.jsonl")), dataset);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_is_served_from_the_cache() {
    // Transient faults and bad answers, but every request ends in an answer.
    let server = MockServer::start(|req| {
        let i = req.doc_index().unwrap_or(0);
        match i % 5 {
            0 if req.attempt == 1 => Reply::error(429, "slow down").header("retry-after", "0"),
            1 if req.attempt == 1 => Reply::error(502, "bad gateway"),
            2 => Reply::chat(&json!({"instruction": "Tell me.", "span": "not in the text at all, not even close to it, no"}).to_string()),
            3 => Reply::chat("{\"instruction\": \"Tell me about"),
            _ => Reply::chat(&good_answer(req)),
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let n = 30;
    let run = |name: &str| {
        let mut c = client_config(&server.url());
        c.cache_dir = Some(cache.clone());
        let mut p = Pipeline::new(recipe(docs(n), generator(c), 8)).unwrap();
        let out = dir.path().join(name);
        async move {
            p.run(&out, &RunOptions::default()).await.unwrap();
            out
        }
    };
    let first = run("first").await;
    let asked = server.requests();
    assert_eq!(asked, n + 6 + 6);

    // A fresh run (new output directory, no journal): every answer comes from the cache.
    let second = run("second").await;
    assert_eq!(
        server.requests(),
        asked,
        "the server must receive zero requests"
    );
    for file in ["dataset.jsonl", "rejected.jsonl", "stats.json"] {
        assert_eq!(
            std::fs::read_to_string(first.join(file)).unwrap(),
            std::fs::read_to_string(second.join(file)).unwrap(),
            "{file}"
        );
    }
    assert_eq!(read_jsonl(&second.join("dataset.jsonl")).len(), 18);
    // One cache file per distinct request.
    let entries: usize = std::fs::read_dir(&cache)
        .unwrap()
        .map(|d| std::fs::read_dir(d.unwrap().path()).unwrap().count())
        .sum();
    assert_eq!(entries, n);
}
