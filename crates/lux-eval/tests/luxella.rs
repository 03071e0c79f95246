//! The LUXELLA-style benchmark against in-process scripted models: schema checks, dedup,
//! resumable generation, recorded failures, tables per category and difficulty.

use std::sync::Mutex;

use async_trait::async_trait;
use futures::executor::block_on;
use lux_core::{
    ChatChoice, ChatRequest, ChatResponse, Error, Judge, JudgeRequest, Judgement, LlmClient,
    Result, ScoreMethod, Usage,
};
use lux_eval::luxella::{
    BenchmarkItem, DEFAULT_CATEGORIES, DEFAULT_DIFFICULTIES, Luxella, LuxellaConfig, LuxellaReport,
    QuestionGenerator, QuestionGeneratorConfig, normalize_question, read_benchmark,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

fn field(text: &str, name: &str) -> String {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(&format!("- {name}: ")))
        .map(|s| s.split(" (").next().unwrap().trim().to_string())
        .unwrap_or_default()
}

/// Writes questions per the prompt's cell; `grammar/beginner` always answers garbage,
/// `grammar/advanced` answers garbage on its first request.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Writer {
    #[serde(skip)]
    calls: Mutex<Vec<(String, String)>>,
}

#[typetag::serde(name = "luxella_test_writer")]
#[async_trait]
impl LlmClient for Writer {
    async fn chat(&self, r: &ChatRequest) -> Result<ChatResponse> {
        let text = &r.messages.last().unwrap().content;
        let (cat, diff, topic) = (
            field(text, "category"),
            field(text, "difficulty"),
            field(text, "topic"),
        );
        let earlier = {
            let mut c = self.calls.lock().unwrap();
            let n = c.iter().filter(|x| x.0 == cat && x.1 == diff).count();
            c.push((cat.clone(), diff.clone()));
            n
        };
        let q = |s: &str| {
            json!({"question": s, "reference_answer": "Haus", "category": cat,
                                 "difficulty": diff, "topic": topic})
        };
        let content = match (cat.as_str(), diff.as_str(), earlier) {
            ("grammar", "beginner", _) | ("grammar", "advanced", 0) => {
                "Sorry, I can't.".to_string()
            }
            _ => json!({"questions": [
                q(&format!("What is 'house' in Luxembourgish? ({cat}, {diff})")),
                // The same question up to case and punctuation: a duplicate.
                q(&format!("what is HOUSE in luxembourgish ({cat} {diff})")),
                // Wrong cell: rejected by the schema check.
                json!({"question": "Other?", "reference_answer": "x", "category": "idioms",
                       "difficulty": diff, "topic": topic}),
                q(&format!("Conjugate 'sinn' ({cat}, {diff}, {topic})")),
            ]})
            .to_string(),
        };
        assert!(r.json_schema.is_some());
        Ok(ChatResponse {
            choices: vec![ChatChoice {
                content,
                finish_reason: None,
                logprobs: None,
            }],
            usage: Usage::default(),
            model: "writer".into(),
        })
    }
    fn model(&self) -> String {
        "writer".into()
    }
}

fn generator(categories: &[&str], difficulties: &[&str]) -> QuestionGenerator {
    let mut c = QuestionGeneratorConfig::new(Box::new(Writer::default()));
    c.categories = categories.iter().map(|s| s.to_string()).collect();
    c.difficulties = difficulties.iter().map(|s| s.to_string()).collect();
    c.questions_per_cell = 2;
    c.seed = 3;
    QuestionGenerator::new(c).unwrap()
}

#[test]
fn defaults_follow_the_luxllama_card() {
    assert_eq!(
        DEFAULT_DIFFICULTIES,
        &["beginner", "intermediate", "advanced", "native"]
    );
    assert!(DEFAULT_CATEGORIES.contains(&"translation_to_english"));
    assert!(DEFAULT_CATEGORIES.contains(&"spelling_and_pronunciation"));
    assert_eq!(normalize_question("  What is 'Haus'?! "), "what is haus");
}

#[test]
fn generation_validates_dedups_records_failures_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("luxella.jsonl");
    let g = generator(&["vocabulary", "grammar"], &["beginner", "advanced"]);
    let s = block_on(g.generate(&path)).unwrap();
    // vocabulary × 2 in one request each; grammar/advanced after one failed request;
    // grammar/beginner fails all 3 attempts.
    assert_eq!(s.generated, 6);
    assert_eq!(s.total, 6);
    assert_eq!(s.requests, 1 + 1 + 3 + 2);
    assert_eq!(s.failures.len(), 1);
    let f = &s.failures[0];
    assert_eq!(
        (f.category.as_str(), f.difficulty.as_str(), f.got),
        ("grammar", "beginner", 0)
    );
    assert_eq!(f.errors.len(), 3);
    assert!(f.errors[0].contains("invalid JSON"), "{:?}", f.errors);
    assert_eq!(s.duplicates, 3);
    assert_eq!(s.invalid, 3);
    let items = read_benchmark(&path).unwrap();
    assert_eq!(items.len(), 6);
    let ids: std::collections::HashSet<&str> = items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids.len(), 6);
    assert!(items.iter().all(|i| i.category != "idioms"));

    // A second run asks only for the short cell and keeps the file as it was.
    let g2 = generator(&["vocabulary", "grammar"], &["beginner", "advanced"]);
    let s2 = block_on(g2.generate(&path)).unwrap();
    assert_eq!(s2.skipped_cells, 3);
    assert_eq!(s2.requests, 3);
    assert_eq!(s2.generated, 0);
    assert_eq!(read_benchmark(&path).unwrap(), items);

    // A broken line is an error naming file and line.
    std::fs::write(&path, "{\"id\": 1}\n").unwrap();
    let e = read_benchmark(&path).unwrap_err().to_string();
    assert!(e.contains("luxella.jsonl") && e.contains('1'), "{e}");
}

/// Answers questions; fails on those mentioning "Conjugate" when `flaky`.
#[derive(Debug, Serialize, Deserialize)]
struct Student {
    flaky: bool,
}

#[typetag::serde(name = "luxella_test_student")]
#[async_trait]
impl LlmClient for Student {
    async fn chat(&self, r: &ChatRequest) -> Result<ChatResponse> {
        let q = &r.messages.last().unwrap().content;
        if self.flaky && q.contains("Conjugate") {
            return Err(Error::plugin("student", "HTTP 500"));
        }
        Ok(ChatResponse {
            choices: vec![ChatChoice {
                content: format!(
                    "Haus ({})",
                    if self.flaky { "short" } else { "long answer" }
                ),
                finish_reason: None,
                logprobs: None,
            }],
            usage: Usage::default(),
            model: "student".into(),
        })
    }
    fn model(&self) -> String {
        "student".into()
    }
}

/// Scores long answers 5 and short ones 3, minus 1 for advanced questions.
#[derive(Debug, Serialize, Deserialize)]
struct Marker;

#[typetag::serde(name = "luxella_test_marker")]
#[async_trait]
impl Judge for Marker {
    async fn judge(&self, r: &JudgeRequest) -> Result<Judgement> {
        assert_eq!(r.reference.as_deref(), Some("Haus"));
        assert!(r.criteria.description.contains("Luxembourgish"));
        let base = if r.response.contains("long") {
            5.0
        } else {
            3.0
        };
        let score = if r.instruction.contains("advanced") {
            base - 1.0
        } else {
            base
        };
        Ok(Judgement {
            judge: "marker".into(),
            score,
            scale: r.criteria.scale,
            reason: Some("compared with the reference".into()),
            method: ScoreMethod::Parsed,
        })
    }
}

fn item(i: usize, category: &str, difficulty: &str, question: &str) -> BenchmarkItem {
    BenchmarkItem {
        id: format!("q{i}"),
        category: category.into(),
        difficulty: difficulty.into(),
        topic: "family".into(),
        question: question.into(),
        reference_answer: "Haus".into(),
    }
}

#[test]
fn models_are_compared_and_failures_kept() {
    let items = vec![
        item(
            0,
            "vocabulary",
            "beginner",
            "Word for house? (vocabulary, beginner)",
        ),
        item(
            1,
            "vocabulary",
            "advanced",
            "Word for house? (vocabulary, advanced)",
        ),
        item(
            2,
            "grammar",
            "beginner",
            "Conjugate 'sinn' (grammar, beginner)",
        ),
        item(
            3,
            "grammar",
            "advanced",
            "Plural of Haus? (grammar, advanced)",
        ),
    ];
    let lux = Luxella::new(LuxellaConfig::new(Box::new(Marker))).unwrap();
    let good = block_on(lux.run_model("good", &Student { flaky: false }, &items));
    let flaky = block_on(lux.run_model("flaky", &Student { flaky: true }, &items));
    assert_eq!(flaky.items.len(), 4, "failed items are kept");
    let failed = &flaky.items[2];
    assert!(failed.score.is_none() && failed.error.as_deref().unwrap().starts_with("answer:"));
    let offline = block_on(lux.judge_answers(
        "offline",
        &items,
        &[Some("long".into()), None, Some("long".into())],
    ));
    assert_eq!(
        offline.items.iter().filter(|i| i.error.is_some()).count(),
        2
    );

    let report = LuxellaReport::new(vec![good, flaky, offline]);
    assert_eq!(report.categories, vec!["vocabulary", "grammar"]);
    assert_eq!(report.difficulties, vec!["beginner", "advanced"]);
    let good = &report.models[0];
    assert_eq!(good.overall.mean, Some(4.5));
    assert_eq!(good.by_difficulty["advanced"].mean, Some(4.0));
    let flaky = &report.models[1];
    assert_eq!(flaky.overall.n, 3);
    assert_eq!(flaky.overall.failed, 1);
    assert_eq!(flaky.by_category["grammar"].mean, Some(2.0));
    assert_eq!(flaky.by_category["grammar"].failed, 1);
    let md = lux_eval::report::luxella_report(&report)
        .unwrap()
        .to_markdown("lux");
    assert!(
        md.contains("| vocabulary | 4.50 (n=2) | 2.50 (n=2) |"),
        "{md}"
    );
    assert!(md.contains("## Failed items"));
    assert!(md.contains("HTTP 500"));
}
