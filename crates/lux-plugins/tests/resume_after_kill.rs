//! A run whose PROCESS is killed (SIGKILL) mid-way, then started again, completes the same
//! dataset as an uninterrupted run without repeating a completed call.
//!
//! The test re-executes its own binary with `LUX_PLUGINS_KILL_CHILD` set: the `child_run`
//! test then runs the pipeline (and is a no-op in an ordinary test run).

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lux_core::pipeline::{Pipeline, RunOptions};
use serde_json::{Value, json};
use support::*;

const CHILD_ENV: &str = "LUX_PLUGINS_KILL_CHILD";
const DOCS: usize = 40;

fn run_pipeline(url: &str, out: &Path, cache: &Path) -> (usize, usize) {
    let mut c = client_config(url);
    c.cache_dir = Some(cache.to_path_buf());
    c.concurrency = 4;
    let mut p = Pipeline::new(recipe(docs(DOCS), generator(c), 4)).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s = rt.block_on(p.run(out, &RunOptions::default())).unwrap();
    (s.seeds_generated_now, s.seeds_resumed)
}

/// The child process: runs the pipeline described by the environment variable.
#[test]
fn child_run() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let spec: Value = serde_json::from_str(&spec).unwrap();
    let (now, resumed) = run_pipeline(
        spec["url"].as_str().unwrap(),
        Path::new(spec["out"].as_str().unwrap()),
        Path::new(spec["cache"].as_str().unwrap()),
    );
    println!("\nCHILD-SUMMARY {now} {resumed}");
}

fn spawn_child(url: &str, out: &Path, cache: &Path) -> std::process::Child {
    let spec = json!({ "url": url, "out": out, "cache": cache }).to_string();
    Command::new(std::env::current_exe().unwrap())
        .args(["child_run", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, spec)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Titles of the documents whose answers are in the cache.
fn cached_titles(cache: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let Ok(shards) = std::fs::read_dir(cache) else {
        return out;
    };
    for shard in shards {
        for entry in std::fs::read_dir(shard.unwrap().path()).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "json") {
                let v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
                // A cache entry is a checksummed record: the entry is its `data`.
                let user = v["data"]["request"]["messages"][1]["content"]
                    .as_str()
                    .unwrap();
                let title = user
                    .lines()
                    .find_map(|l| l.strip_prefix("Title: "))
                    .unwrap();
                out.insert(title.to_string());
            }
        }
    }
    out
}

/// Seed keys of the complete lines of a journal (a torn last line is ignored).
fn journaled(out: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(out.join("journal.jsonl")).unwrap_or_default();
    text.split_inclusive('\n')
        .filter(|l| l.ends_with('\n'))
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["data"]["key"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

fn title_of_key(key: &str) -> String {
    // `0/test_docs/d017` → `doc-017`
    format!("doc-{}", &key[key.len() - 3..])
}

#[test]
fn a_killed_run_resumes_without_repeating_completed_calls() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let server =
        MockServer::start(|r| Reply::chat(&good_answer(r)).delay(Duration::from_millis(60)));
    let dir = tempfile::tempdir().unwrap();
    let out: PathBuf = dir.path().join("run");
    let cache: PathBuf = dir.path().join("cache");

    // Run 1: SIGKILL once the server has received 12 requests.
    let mut child = spawn_child(&server.url(), &out, &cache);
    let started = Instant::now();
    while server.requests() < 12 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the child never got going"
        );
        if let Some(status) = child.try_wait().unwrap() {
            let o = child.wait_with_output().unwrap();
            panic!(
                "child ended early ({status}): {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    let status = child.wait().unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9), "{status}");
    }
    let asked_in_run1 = server.requests();
    let cached = cached_titles(&cache);
    let journaled_keys = journaled(&out);
    assert!(
        !cached.is_empty() && cached.len() < DOCS,
        "killed mid-way: {} cached",
        cached.len()
    );
    // A journaled seed's answer was cached before the seed was journaled.
    for k in &journaled_keys {
        assert!(cached.contains(&title_of_key(k)), "{k}");
    }

    // Run 2: the same command, to completion.
    let o = spawn_child(&server.url(), &out, &cache)
        .wait_with_output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let summary = stdout
        .lines()
        .find_map(|l| l.strip_prefix("CHILD-SUMMARY "))
        .unwrap_or_else(|| panic!("no summary in: {stdout}"));
    assert_eq!(
        summary,
        format!("{} {}", DOCS - journaled_keys.len(), journaled_keys.len())
    );

    // No completed call was repeated: run 2 asked only for documents with no cached answer,
    // each once, and together the two runs asked every document.
    let run2: Vec<String> = server.log()[asked_in_run1..]
        .iter()
        .map(|r| r.title().unwrap())
        .collect();
    let run2_set: BTreeSet<String> = run2.iter().cloned().collect();
    assert_eq!(
        run2.len(),
        run2_set.len(),
        "a document asked twice in run 2"
    );
    for t in &run2 {
        assert!(
            !cached.contains(t),
            "{t} was answered and cached in run 1, yet asked again"
        );
    }
    let all: BTreeSet<String> = (0..DOCS).map(|i| format!("doc-{i:03}")).collect();
    assert_eq!(&run2_set | &cached, all);
    // Only calls cut short by the kill were sent twice: those in flight (at most the
    // client's concurrency, 4) and any answered but not yet stored.
    assert!(
        server.requests() - DOCS <= 8,
        "{} requests for {DOCS} documents",
        server.requests()
    );

    // The dataset is the one an uninterrupted run makes.
    let reference_server = MockServer::start(|r| Reply::chat(&good_answer(r)));
    let reference = dir.path().join("reference");
    run_pipeline(
        &reference_server.url(),
        &reference,
        &dir.path().join("reference-cache"),
    );
    let resumed = read_jsonl(&out.join("dataset.jsonl"));
    assert_eq!(resumed.len(), DOCS);
    assert_eq!(resumed, read_jsonl(&reference.join("dataset.jsonl")));
}
