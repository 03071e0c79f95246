//! The CKA report: per language pair, CKA per layer before and after tuning.

use std::fmt::Write as _;

use lux_core::Result;
use lux_core::svg::{LineChart, Series};
use serde::Serialize;

use super::{Chart, Report, cell, fmt_opt, slug};
use crate::cka::LayerwiseCkaReport;

#[derive(Serialize)]
struct LayerRow {
    layer: usize,
    before: Option<f64>,
    after: Option<f64>,
    delta: Option<f64>,
}

#[derive(Serialize)]
struct PairRows {
    a: String,
    b: String,
    mean_before: Option<f64>,
    mean_after: Option<f64>,
    layers: Vec<LayerRow>,
}

#[derive(Serialize)]
struct CkaJson<'a> {
    estimator: &'a str,
    pairs: Vec<PairRows>,
}

fn mean(v: impl Iterator<Item = f64>) -> Option<f64> {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    (n > 0).then(|| s / n as f64)
}

/// CKA per layer for every language pair of `before` (e.g. the base model) and, when given,
/// `after` (the tuned model): a summary table (mean over layers), a table per pair with the
/// change per layer, and one line chart per pair (before and after as two lines).
pub fn cka_report(
    before: &LayerwiseCkaReport,
    after: Option<&LayerwiseCkaReport>,
) -> Result<Report> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for r in before.rows.iter().chain(after.iter().flat_map(|a| &a.rows)) {
        let p = (r.a.clone(), r.b.clone());
        if !pairs.contains(&p) {
            pairs.push(p);
        }
    }
    let value = |rep: &LayerwiseCkaReport, a: &str, b: &str, l: usize| {
        rep.rows
            .iter()
            .find(|r| r.a == a && r.b == b && r.layer == l)
            .map(|r| r.cka)
    };
    let mut rows = Vec::new();
    for (a, b) in &pairs {
        let layers = before
            .rows
            .iter()
            .chain(after.iter().flat_map(|x| &x.rows))
            .filter(|r| r.a == *a && r.b == *b)
            .map(|r| r.layer + 1)
            .max()
            .unwrap_or(0);
        let layer_rows: Vec<LayerRow> = (0..layers)
            .map(|l| {
                let bf = value(before, a, b, l);
                let af = after.and_then(|x| value(x, a, b, l));
                LayerRow {
                    layer: l,
                    before: bf,
                    after: af,
                    delta: bf.zip(af).map(|(x, y)| y - x),
                }
            })
            .collect();
        rows.push(PairRows {
            a: a.clone(),
            b: b.clone(),
            mean_before: mean(layer_rows.iter().filter_map(|r| r.before)),
            mean_after: mean(layer_rows.iter().filter_map(|r| r.after)),
            layers: layer_rows,
        });
    }

    let mut md = String::new();
    let _ = writeln!(
        md,
        "Estimator: `{}`. CKA between the hidden states of the same sentences in two languages, per layer (0 = first layer given); 1 = the same representation up to rotation and scale.\n",
        before.estimator
    );
    md.push_str("## Mean over layers\n\n| pair | before | after | Δ |\n|---|---:|---:|---:|\n");
    for p in &rows {
        let _ = writeln!(
            md,
            "| {}–{} | {} | {} | {} |",
            cell(&p.a),
            cell(&p.b),
            fmt_opt(p.mean_before, 4),
            fmt_opt(p.mean_after, 4),
            fmt_opt(p.mean_before.zip(p.mean_after).map(|(x, y)| y - x), 4)
        );
    }
    let mut charts = Vec::new();
    for p in &rows {
        let _ = write!(
            md,
            "\n## {}–{}\n\n| layer | before | after | Δ |\n|---:|---:|---:|---:|\n",
            cell(&p.a),
            cell(&p.b)
        );
        for r in &p.layers {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} |",
                r.layer,
                fmt_opt(r.before, 4),
                fmt_opt(r.after, 4),
                fmt_opt(r.delta, 4)
            );
        }
        let line = |name: &str, pick: fn(&LayerRow) -> Option<f64>| Series {
            name: name.to_string(),
            points: p
                .layers
                .iter()
                .map(|r| (r.layer as f64, pick(r).unwrap_or(f64::NAN)))
                .collect(),
        };
        let mut series = vec![line("before", |r| r.before)];
        if after.is_some() {
            series.push(line("after", |r| r.after));
        }
        let chart = LineChart {
            title: format!("{} CKA per layer: {}–{}", before.estimator, p.a, p.b),
            x_label: "layer".into(),
            y_label: "CKA".into(),
            series,
        };
        charts.push(Chart {
            name: format!("cka-{}-{}", slug(&p.a), slug(&p.b)),
            caption: format!("CKA per layer, {}–{}", p.a, p.b),
            svg: chart.to_svg(),
        });
    }
    Report::new(
        "CKA per layer",
        md,
        &CkaJson {
            estimator: &before.estimator,
            pairs: rows,
        },
        charts,
    )
}
