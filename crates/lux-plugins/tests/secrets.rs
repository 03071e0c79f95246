//! The API key is sent to the server and written nowhere: not in logs, `Debug` output,
//! errors, cache files, datasets, journals or reports.
//!
//! Alone in its test binary because it sets an environment variable.

mod support;

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use lux_core::InstructionGenerator;
use lux_core::pipeline::{Pipeline, RunOptions};
use support::*;

const VAR: &str = "LUX_PLUGINS_TEST_SECRET_KEY";
const KEY: &str = "sk-lux-test-7f3a9c1e5b2d4f60-SECRET";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn files_under(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn the_key_is_sent_and_written_nowhere() {
    // SAFETY: the only test in this binary; no other thread reads the environment yet.
    unsafe { std::env::set_var(VAR, KEY) };
    let logs = Captured::default();
    let sink = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .init();

    // Document 3's server echoes the key in an error, as a careless proxy might; document
    // 5's first attempt is rate limited (a logged retry).
    let server = MockServer::start(|r| {
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {KEY}").as_str())
        );
        match r.doc_index() {
            Some(3) => Reply::error(401, &format!("Incorrect API key provided: {KEY}")),
            Some(5) if r.attempt == 1 => {
                Reply::error(429, &format!("slow down, {KEY}")).header("retry-after", "0")
            }
            _ => Reply::chat(&good_answer(r)),
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let table = format!(
        "type = \"reverse_instruction\"\nllm = {{ type = \"openai\", base_url = \"{}\", model = \"m\", api_key_env = \"{VAR}\", cache_dir = \"{}\", retry = {{ base_delay_ms = 1 }} }}",
        server.url(),
        dir.path().join("cache").display()
    );
    let generator: Box<dyn InstructionGenerator> = toml::from_str(&table).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut pipeline = Pipeline::new(recipe(docs(8), generator, 4)).unwrap();
    let summary = rt
        .block_on(pipeline.run(dir.path().join("run"), &RunOptions::default()))
        .unwrap();
    assert_eq!(summary.stats.seeds_failed, 1);
    assert_eq!(server.requests(), 9);

    // Everything a user could see.
    let mut texts = vec![
        format!("{pipeline:?}"),
        format!("{:?}", pipeline.config()),
        format!("{summary:?}"),
        serde_json::to_string(&pipeline.config().generators).unwrap(),
        format!("{:?}", lux_plugins::llm::usage_reports()),
        serde_json::to_string(&lux_plugins::llm::usage_reports()).unwrap(),
        String::from_utf8(logs.0.lock().unwrap().clone()).unwrap(),
    ];
    let mut files = Vec::new();
    files_under(dir.path(), &mut files);
    assert!(files.len() > 8, "{files:?}");
    for f in &files {
        texts.push(String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned());
    }
    let failure = std::fs::read_to_string(dir.path().join("run/rejected.jsonl")).unwrap();
    assert!(
        failure.contains("Incorrect API key provided: [redacted]"),
        "{failure}"
    );
    let log_text = &texts[6];
    assert!(
        log_text.contains("retry 1 of"),
        "the retry was logged: {log_text}"
    );
    for (i, t) in texts.iter().enumerate() {
        assert!(!t.contains(KEY), "the key leaked into text {i}: {t}");
        assert!(
            !t.contains("7f3a9c1e5b2d4f60"),
            "part of the key leaked into text {i}"
        );
    }
    assert!(texts[0].contains(VAR), "the variable's NAME may appear");
}
