//! The MGSM report: exact-match accuracy per language, for one or more models.

use std::fmt::Write as _;

use lux_core::Result;
use lux_core::svg::{BarChart, BarSeries};
use serde::Serialize;

use super::{Chart, Report, cell};
use crate::mgsm::MgsmReport;

#[derive(Serialize)]
struct ModelJson<'a> {
    model: &'a str,
    report: &'a MgsmReport,
}

/// Accuracy per language for each `(model, report)`: a side-by-side table, each model's own
/// table (with how answers were found), and a grouped bar chart (languages × models).
pub fn mgsm_report(models: &[(&str, &MgsmReport)]) -> Result<Report> {
    let mut langs: Vec<String> = Vec::new();
    for (_, r) in models {
        for l in &r.languages {
            if !langs.contains(&l.lang) {
                langs.push(l.lang.clone());
            }
        }
    }
    let mut md = String::from(
        "Exact match of the extracted final number.\n\n## Accuracy per language\n\n| language |",
    );
    for (m, _) in models {
        let _ = write!(md, " {} |", cell(m));
    }
    md.push_str("\n|---|");
    md.push_str(&"---:|".repeat(models.len()));
    md.push('\n');
    for lang in langs
        .iter()
        .map(String::as_str)
        .chain(std::iter::once("all"))
    {
        let _ = write!(md, "| {} |", if lang == "all" { "**all**" } else { lang });
        for (_, r) in models {
            let row = if lang == "all" {
                Some(&r.overall)
            } else {
                r.language(lang)
            };
            match row {
                Some(row) => {
                    let _ = write!(
                        md,
                        " {:.1}% ({}/{}) |",
                        100.0 * row.accuracy,
                        row.correct,
                        row.total
                    );
                }
                None => md.push_str(" – |"),
            }
        }
        md.push('\n');
    }
    for (m, r) in models {
        let _ = write!(md, "\n## {}\n\n{}", cell(m), r.to_markdown());
    }
    let chart = BarChart {
        title: "MGSM accuracy per language".into(),
        x_label: "language".into(),
        y_label: "accuracy".into(),
        categories: langs.clone(),
        series: models
            .iter()
            .map(|(m, r)| BarSeries {
                name: m.to_string(),
                values: langs
                    .iter()
                    .map(|l| r.language(l).map_or(f64::NAN, |x| x.accuracy))
                    .collect(),
            })
            .collect(),
        y_range: Some((0.0, 1.0)),
    };
    let json: Vec<ModelJson<'_>> = models
        .iter()
        .map(|(m, r)| ModelJson {
            model: m,
            report: r,
        })
        .collect();
    Report::new(
        "MGSM accuracy",
        md,
        &json,
        vec![Chart {
            name: "accuracy".into(),
            caption: "accuracy per language".into(),
            svg: chart.to_svg(),
        }],
    )
}
