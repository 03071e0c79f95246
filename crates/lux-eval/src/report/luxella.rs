//! The LUXELLA report: mean judge score per category, per difficulty and overall, models
//! side by side.

use std::fmt::Write as _;

use lux_core::Result;
use lux_core::svg::{BarChart, BarSeries};

use super::{Chart, Report, cell, fmt_opt};
use crate::luxella::{LuxellaReport, ScoreCell};

fn table(
    md: &mut String,
    heading: &str,
    key: &str,
    rows: &[String],
    report: &LuxellaReport,
    pick: impl Fn(&crate::luxella::ModelSummary, &str) -> Option<ScoreCell>,
) {
    let _ = write!(md, "\n## {heading}\n\n| {key} |");
    for m in &report.models {
        let _ = write!(md, " {} |", cell(&m.model));
    }
    md.push_str("\n|---|");
    md.push_str(&"---:|".repeat(report.models.len()));
    md.push('\n');
    for r in rows {
        let _ = write!(md, "| {} |", cell(r));
        for m in &report.models {
            md.push_str(&score_cell(pick(m, r)));
        }
        md.push('\n');
    }
}

fn score_cell(c: Option<ScoreCell>) -> String {
    match c {
        None => " – |".into(),
        Some(c) if c.failed > 0 => {
            format!(" {} (n={}, {} failed) |", fmt_opt(c.mean, 2), c.n, c.failed)
        }
        Some(c) => format!(" {} (n={}) |", fmt_opt(c.mean, 2), c.n),
    }
}

fn bars(
    title: &str,
    x_label: &str,
    rows: &[String],
    report: &LuxellaReport,
    by_category: bool,
) -> String {
    BarChart {
        title: title.into(),
        x_label: x_label.into(),
        y_label: "mean score (1–5)".into(),
        categories: rows.to_vec(),
        series: report
            .models
            .iter()
            .map(|m| BarSeries {
                name: m.model.clone(),
                values: rows
                    .iter()
                    .map(|r| {
                        let map = if by_category {
                            &m.by_category
                        } else {
                            &m.by_difficulty
                        };
                        map.get(r).and_then(|c| c.mean).unwrap_or(f64::NAN)
                    })
                    .collect(),
            })
            .collect(),
        y_range: Some((0.0, 5.0)),
    }
    .to_svg()
}

/// The benchmark as a report: overall scores, per-category and per-difficulty tables with
/// the models side by side (failed items counted in each cell), the failed items, and bar
/// charts per category and per difficulty.
pub fn luxella_report(report: &LuxellaReport) -> Result<Report> {
    let mut md = String::from(
        "Mean judge score (1–5) of each model's answers; `n` items scored, failures listed below.\n\n## Overall\n\n| model | score | scored | failed |\n|---|---:|---:|---:|\n",
    );
    for m in &report.models {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            cell(&m.model),
            fmt_opt(m.overall.mean, 2),
            m.overall.n,
            m.overall.failed
        );
    }
    table(
        &mut md,
        "By category",
        "category",
        &report.categories,
        report,
        |m, r| m.by_category.get(r).copied(),
    );
    table(
        &mut md,
        "By difficulty",
        "difficulty",
        &report.difficulties,
        report,
        |m, r| m.by_difficulty.get(r).copied(),
    );
    let failed: Vec<(&str, &str, &str)> = report
        .results
        .iter()
        .flat_map(|r| {
            r.items.iter().filter_map(move |i| {
                i.error
                    .as_deref()
                    .map(|e| (r.model.as_str(), i.id.as_str(), e))
            })
        })
        .collect();
    if !failed.is_empty() {
        md.push_str("\n## Failed items\n\n| model | item | error |\n|---|---|---|\n");
        for (m, id, e) in failed {
            let _ = writeln!(
                md,
                "| {} | {} | {} |",
                cell(m),
                cell(id),
                cell(&crate::text::excerpt(e, 160))
            );
        }
    }
    let charts = vec![
        Chart {
            name: "by-category".into(),
            caption: "mean score per category".into(),
            svg: bars(
                "LUXELLA score per category",
                "category",
                &report.categories,
                report,
                true,
            ),
        },
        Chart {
            name: "by-difficulty".into(),
            caption: "mean score per difficulty".into(),
            svg: bars(
                "LUXELLA score per difficulty",
                "difficulty",
                &report.difficulties,
                report,
                false,
            ),
        },
    ];
    Report::new("LUXELLA-style benchmark", md, report, charts)
}
