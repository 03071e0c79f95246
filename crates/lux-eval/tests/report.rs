//! Reports written to disk: Markdown, JSON and SVG files for CKA, MGSM, judge panels.

use lux_eval::cka::{LayerwiseCkaReport, LayerwiseCkaRow};
use lux_eval::mgsm::{MgsmScorer, bundled};
use lux_eval::report::{cka_report, mgsm_report};
use serde_json::Value;

fn cka(pairs: &[(&str, &str)], shift: f64) -> LayerwiseCkaReport {
    let mut rows = Vec::new();
    for (a, b) in pairs {
        for layer in 0..4 {
            rows.push(LayerwiseCkaRow {
                a: a.to_string(),
                b: b.to_string(),
                layer,
                cka: 0.5 + 0.1 * layer as f64 + shift,
            });
        }
    }
    LayerwiseCkaReport {
        estimator: "linear_cka".into(),
        rows,
    }
}

fn assert_svg(path: &std::path::Path) {
    let s = std::fs::read_to_string(path).unwrap();
    assert!(
        s.starts_with("<svg") && s.trim_end().ends_with("</svg>"),
        "{}",
        path.display()
    );
    assert_eq!(
        s.matches("<g class=\"series\"").count(),
        s.matches("</g>").count() - 1
    );
}

#[test]
fn cka_report_tables_and_charts_per_pair() {
    let pairs = [("en", "lb"), ("fr", "lb")];
    let before = cka(&pairs, 0.0);
    let after = cka(&pairs, 0.05);
    let report = cka_report(&before, Some(&after)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let files = report.write(dir.path(), "cka").unwrap();
    assert_eq!(files.charts.len(), 2);
    assert!(files.charts[0].ends_with("cka.cka-en-lb.svg"));
    for c in &files.charts {
        assert_svg(c);
        let svg = std::fs::read_to_string(c).unwrap();
        // Two lines (before, after), four points each.
        assert_eq!(svg.matches("class=\"point\"").count(), 8);
    }
    let md = std::fs::read_to_string(&files.markdown).unwrap();
    assert!(md.starts_with("# CKA per layer"));
    assert!(md.contains("| 3 | 0.8000 | 0.8500 | 0.0500 |"), "{md}");
    assert!(md.contains("| en–lb | 0.6500 | 0.7000 | 0.0500 |"), "{md}");
    assert!(md.contains("![CKA per layer, fr–lb](cka.cka-fr-lb.svg)"));
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&files.json).unwrap()).unwrap();
    assert_eq!(json["pairs"][1]["layers"][2]["after"], 0.75);

    // Without an "after" report, one line per chart and empty after cells.
    let r = cka_report(&before, None).unwrap();
    assert!(r.markdown.contains("| 0 | 0.5000 | – | – |"));
    assert!(r.write(dir.path(), "a/b").is_err());
}

#[test]
fn mgsm_report_compares_models_per_language() {
    let problems = bundled().unwrap();
    let scorer = MgsmScorer::default();
    let right: Vec<String> = problems
        .iter()
        .map(|p| format!("The answer is {}", p.answer))
        .collect();
    let half: Vec<String> = problems
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if i % 2 == 0 {
                format!("{}", p.answer)
            } else {
                "no idea".into()
            }
        })
        .collect();
    let a = scorer.score(problems.iter().zip(right.iter().map(String::as_str)));
    let b = scorer.score(problems.iter().zip(half.iter().map(String::as_str)));
    let report = mgsm_report(&[("tuned", &a), ("base", &b)]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let files = report.write(dir.path(), "mgsm").unwrap();
    assert_svg(&files.charts[0]);
    let svg = std::fs::read_to_string(&files.charts[0]).unwrap();
    let langs = a.languages.len();
    assert_eq!(svg.matches("class=\"bar\"").count(), 2 * langs);
    let md = std::fs::read_to_string(&files.markdown).unwrap();
    assert!(
        md.contains(&format!("| **all** | 100.0% ({0}/{0}) |", problems.len())),
        "{md}"
    );
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&files.json).unwrap()).unwrap();
    assert_eq!(json[0]["model"], "tuned");
    assert_eq!(json[1]["report"]["overall"]["correct"], b.overall.correct);
}
