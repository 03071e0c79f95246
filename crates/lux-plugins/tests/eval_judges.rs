//! lux-eval's judges and LUXELLA benchmark against the loopback chat-completions server:
//! a three-judge G-Eval panel (log-probs, a server without log-probs, parsed answers), and
//! a LUXELLA mini-run (2 categories × 2 difficulties, two models), with reports written.

mod support;

use lux_core::{Criteria, Judge, JudgeRequest, LlmClient, ScoreMethod, ScoreScale};
use lux_eval::judge::{
    Aggregation, GEval, GEvalConfig, GEvalMode, LlmJudge, LlmJudgeConfig, Panel, PanelConfig,
};
use lux_eval::luxella::{
    Luxella, LuxellaConfig, LuxellaReport, QuestionGenerator, QuestionGeneratorConfig,
    read_benchmark,
};
use lux_eval::report::{luxella_report, panel_report};
use lux_plugins::llm::OpenAiCompatible;
use serde_json::json;
use support::*;

/// The quality the panel's scripted judges see in response `Antwort <i>`: 1 + i mod 5.
fn quality(text: &str) -> Option<u32> {
    let at = text.find("Antwort ")? + "Antwort ".len();
    let i: u32 = text[at..].split_whitespace().next()?.parse().ok()?;
    Some(1 + i % 5)
}

fn client(server: &MockServer, model: &str) -> Box<dyn LlmClient> {
    let mut c = client_config(&server.url());
    c.model = model.to_string();
    Box::new(OpenAiCompatible::new(c).unwrap())
}

fn field(text: &str, name: &str) -> String {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(&format!("- {name}: ")))
        .map(|s| s.split(" (").next().unwrap().trim().to_string())
        .unwrap_or_default()
}

/// Every model of both tests, told apart by the request's `model`.
fn script(r: &Incoming) -> Reply {
    let model = r.body["model"].as_str().unwrap_or_default().to_string();
    let user = r.user_text();
    if user.contains("Write the evaluation steps") {
        return Reply::chat(
            "1. Read the response.\n2. Compare it with the instruction.\n3. Score.",
        );
    }
    match model.as_str() {
        // Returns log-probs: 70 % on the quality, 30 % on the next score up (or down at 5).
        "judge-logprobs" => {
            let q = quality(&user).unwrap();
            let other = if q == 5 { 4 } else { q + 1 };
            assert_eq!(r.body["logprobs"], true);
            let (a, b) = (q.to_string(), format!(" {other}"));
            chat_with_logprobs(&a, &[(&a, 0.7f32.ln()), (&b, 0.3f32.ln()), ("The", -6.0)])
        }
        // Ignores `logprobs`: the judge must fall back, and say so.
        "judge-plain" => Reply::chat(&format!("{}", quality(&user).unwrap())),
        // Parsed mode; disagrees on item 3 and fails on item 4.
        "judge-parsed" => match quality(&user).unwrap() {
            5 => Reply::chat("I cannot rate this."),
            4 => Reply::chat("Fluency: 1"),
            q => Reply::chat(&format!("Fluency: {q}")),
        },
        "writer" => {
            let (cat, diff) = (field(&user, "category"), field(&user, "difficulty"));
            let topic = field(&user, "topic");
            Reply::chat(
                &json!({"questions": [{
                    "question": format!("Wéi seet een 'house' op Lëtzebuergesch? [{cat}/{diff}]"),
                    "reference_answer": "Haus",
                    "category": cat, "difficulty": diff, "topic": topic
                }]})
                .to_string(),
            )
        }
        "student-good" => Reply::chat("Haus"),
        "student-bad" if user.contains("grammar/advanced") => Reply::error(400, "context too long"),
        "student-bad" => Reply::chat("House"),
        "luxjudge" => {
            let answer = user
                .split("The assistant's answer:")
                .nth(1)
                .unwrap_or_default();
            let (score, reason) = if answer.contains("Haus") {
                (5, "matches the reference")
            } else {
                (2, "English, not Luxembourgish")
            };
            Reply::chat(&json!({"score": score, "reason": reason}).to_string())
        }
        other => Reply::error(404, &format!("unknown model {other}")),
    }
}

fn g_eval(server: &MockServer, model: &str, mode: GEvalMode) -> Box<dyn Judge> {
    let mut c = GEvalConfig::new(client(server, model));
    c.mode = mode;
    c.id = Some(model.to_string());
    Box::new(GEval::new(c).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_judge_panel_with_logprobs_fallbacks_and_agreement() {
    let server = MockServer::start(script);
    let judges = vec![
        g_eval(&server, "judge-logprobs", GEvalMode::ProbabilityWeighted),
        g_eval(&server, "judge-plain", GEvalMode::ProbabilityWeighted),
        g_eval(&server, "judge-parsed", GEvalMode::Parsed),
    ];
    let mut cfg = PanelConfig::new(judges);
    cfg.aggregation = Aggregation::Median;
    let panel = Panel::new(cfg).unwrap();
    let requests: Vec<JudgeRequest> = (0..10)
        .map(|i| JudgeRequest {
            instruction: "Beschreif däin Duerf.".into(),
            response: format!("Antwort {i} iwwer d'Duerf."),
            reference: None,
            criteria: Criteria {
                name: "fluency".into(),
                description: "Is it fluent Luxembourgish?".into(),
                scale: ScoreScale::ONE_TO_FIVE,
            },
        })
        .collect();
    let run = panel.run(&requests).await;

    for (i, item) in run.items.iter().enumerate() {
        let q = f64::from(1 + i as u32 % 5);
        let [a, b, c] = &item.outcomes[..] else {
            panic!()
        };
        // Probability-weighted: 0.7·q + 0.3·(q ± 1).
        let ja = a.judgement.as_ref().unwrap();
        let want = if q == 5.0 {
            0.7 * 5.0 + 0.3 * 4.0
        } else {
            q + 0.3
        };
        assert!(
            (ja.score - want).abs() < 1e-5,
            "item {i}: {} vs {want}",
            ja.score
        );
        assert_eq!(ja.method, ScoreMethod::ProbabilityWeighted);
        // No log-probs: parsed, and the fallback recorded.
        let jb = b.judgement.as_ref().unwrap();
        assert_eq!((jb.score, &jb.method), (q, &ScoreMethod::Parsed));
        assert!(jb.reason.as_deref().unwrap().contains("no log-probs"));
        match q as u32 {
            5 => assert!(c.error.as_deref().unwrap().contains("no score")),
            4 => assert_eq!(c.score(), Some(1.0)),
            _ => assert_eq!(c.score(), Some(q)),
        }
    }
    assert_eq!(run.failures(), vec![0, 0, 2]);
    // Median of three, or of two where the third failed.
    assert!((run.items[0].score.unwrap() - 1.0).abs() < 1e-9);
    assert!((run.items[4].score.unwrap() - (4.7 + 5.0) / 2.0).abs() < 1e-5);
    let ag = &run.agreement;
    assert_eq!(ag.pairable_items, 10);
    let alpha = ag.alpha_interval.unwrap();
    assert!(alpha > 0.5 && alpha < 1.0, "{alpha}");
    // judge-logprobs and judge-plain rank the items identically.
    assert!((ag.spearman[0].rho.unwrap() - 1.0).abs() < 1e-12);
    // Steps were generated once per judge, not once per item.
    let steps = server
        .log()
        .iter()
        .filter(|r| r.user_text().contains("Write the evaluation steps"))
        .count();
    assert_eq!(steps, 3);

    let dir = tempfile::tempdir().unwrap();
    let files = panel_report(&run)
        .unwrap()
        .write(dir.path(), "panel")
        .unwrap();
    assert_eq!(files.charts.len(), 4);
    let md = std::fs::read_to_string(&files.markdown).unwrap();
    assert!(md.contains("| judge-plain | 10 | 0 |"), "{md}");
    assert!(md.contains("| judge-parsed | 8 | 2 |"), "{md}");
    assert!(md.contains("Krippendorff's α (interval)"));
    assert!(md.contains("## Failed judgements"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&files.json).unwrap()).unwrap();
    assert_eq!(json["judges"][1]["fallbacks"], 10);
    assert_eq!(json["judges"][0]["methods"]["probability_weighted"], 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn luxella_mini_run_generates_answers_judges_and_reports() {
    let server = MockServer::start(script);
    let dir = tempfile::tempdir().unwrap();
    let bench = dir.path().join("luxella.jsonl");
    let mut gc = QuestionGeneratorConfig::new(client(&server, "writer"));
    gc.categories = vec!["vocabulary".into(), "grammar".into()];
    gc.difficulties = vec!["beginner".into(), "advanced".into()];
    gc.questions_per_cell = 1;
    let generator = QuestionGenerator::new(gc).unwrap();
    let summary = generator.generate(&bench).await.unwrap();
    assert_eq!((summary.generated, summary.requests), (4, 4));
    assert!(summary.failures.is_empty());
    let items = read_benchmark(&bench).unwrap();
    assert_eq!(items.len(), 4);
    // Resumable: nothing left to ask.
    let again = generator.generate(&bench).await.unwrap();
    assert_eq!((again.requests, again.skipped_cells), (0, 4));
    // The request carried the schema.
    let first = &server.log()[0];
    assert_eq!(
        first.body["response_format"]["type"], "json_schema",
        "{}",
        first.body
    );

    let judge = LlmJudge::new(LlmJudgeConfig::new(client(&server, "luxjudge"))).unwrap();
    let lux = Luxella::new(LuxellaConfig::new(Box::new(judge))).unwrap();
    let good_llm = client(&server, "student-good");
    let bad_llm = client(&server, "student-bad");
    let good = lux
        .run_model("student-good", good_llm.as_ref(), &items)
        .await;
    let bad = lux.run_model("student-bad", bad_llm.as_ref(), &items).await;
    assert!(good.items.iter().all(|i| i.score == Some(5.0)));
    assert_eq!(
        good.items[0].reason.as_deref(),
        Some("matches the reference")
    );
    let failed: Vec<_> = bad.items.iter().filter(|i| i.error.is_some()).collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(
        (failed[0].category.as_str(), failed[0].difficulty.as_str()),
        ("grammar", "advanced")
    );

    let report = LuxellaReport::new(vec![good, bad]);
    assert_eq!(report.models[0].overall.mean, Some(5.0));
    assert_eq!(report.models[1].overall.mean, Some(2.0));
    assert_eq!(report.models[1].by_category["grammar"].failed, 1);
    let files = luxella_report(&report)
        .unwrap()
        .write(dir.path(), "luxella")
        .unwrap();
    let md = std::fs::read_to_string(&files.markdown).unwrap();
    assert!(md.contains("| student-good | 5.00 | 4 | 0 |"), "{md}");
    assert!(
        md.contains("| grammar | 5.00 (n=2) | 2.00 (n=1, 1 failed) |"),
        "{md}"
    );
    assert!(md.contains("context too long"));
    assert_eq!(files.charts.len(), 2);
    for c in &files.charts {
        let svg = std::fs::read_to_string(c).unwrap();
        assert!(svg.contains("student-bad"));
        assert!(svg.trim_end().ends_with("</svg>"));
    }
}
