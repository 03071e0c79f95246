//! Reports of every evaluation as plain files: Markdown for people, JSON for programs, SVG
//! charts for both (drawn by [`lux_core::svg`]).
//!
//! A [`Report`] is built from an evaluation's result ([`cka_report`], [`mgsm_report`],
//! [`panel_report`], [`luxella_report`]) and written with [`Report::write`]: `<stem>.md`
//! (which embeds the charts), `<stem>.json` and `<stem>.<chart>.svg`, each written
//! atomically, so a crash never leaves half a report.

mod cka;
mod judges;
mod luxella;
mod mgsm;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use lux_core::{Error, Result};
use serde::Serialize;

pub use cka::cka_report;
pub use judges::{judge_histogram, panel_report};
pub use luxella::luxella_report;
pub use mgsm::mgsm_report;

/// One chart of a report.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// File-name part (`cka-en-lb`): the chart is written to `<stem>.<name>.svg`.
    pub name: String,
    /// Caption in the Markdown.
    pub caption: String,
    /// The SVG document.
    pub svg: String,
}

/// A report ready to write: its Markdown body, its JSON value and its charts.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Title (the Markdown's first heading).
    pub title: String,
    /// Markdown sections, without the title and without the chart images.
    pub markdown: String,
    /// The machine-readable result.
    pub json: serde_json::Value,
    /// The charts, embedded at the end of the Markdown in this order.
    pub charts: Vec<Chart>,
}

/// The files a [`Report::write`] produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportFiles {
    /// The Markdown file.
    pub markdown: PathBuf,
    /// The JSON file.
    pub json: PathBuf,
    /// The SVG files, in chart order.
    pub charts: Vec<PathBuf>,
}

impl Report {
    /// A report of `value` serialised as its JSON.
    pub fn new(
        title: impl Into<String>,
        markdown: String,
        value: &impl Serialize,
        charts: Vec<Chart>,
    ) -> Result<Report> {
        let title = title.into();
        let json = serde_json::to_value(value)
            .map_err(|e| Error::other(format!("serialising report {title}"), e))?;
        Ok(Report {
            title,
            markdown,
            json,
            charts,
        })
    }

    /// The whole Markdown document for files named with `stem`: title, body, then each
    /// chart as an image linking its SVG file.
    pub fn to_markdown(&self, stem: &str) -> String {
        let mut out = format!("# {}\n\n{}", self.title, self.markdown.trim_end());
        out.push('\n');
        for c in &self.charts {
            let _ = write!(out, "\n![{}]({stem}.{}.svg)\n", c.caption, c.name);
        }
        out
    }

    /// Writes `<dir>/<stem>.md`, `<stem>.json` and one `<stem>.<chart>.svg` per chart.
    pub fn write(&self, dir: impl AsRef<Path>, stem: &str) -> Result<ReportFiles> {
        let dir = dir.as_ref();
        if stem.is_empty() || stem.contains(['/', '\\']) {
            return Err(Error::invalid(
                "report stem",
                format!("\"{stem}\" is not a plain file-name stem"),
            ));
        }
        let markdown = dir.join(format!("{stem}.md"));
        let json = dir.join(format!("{stem}.json"));
        let mut charts = Vec::new();
        for c in &self.charts {
            let p = dir.join(format!("{stem}.{}.svg", c.name));
            lux_core::fs::write_atomic(&p, c.svg.as_bytes())?;
            charts.push(p);
        }
        lux_core::fs::write_json_atomic(&json, &self.json)?;
        lux_core::fs::write_atomic(&markdown, self.to_markdown(stem).as_bytes())?;
        Ok(ReportFiles {
            markdown,
            json,
            charts,
        })
    }
}

/// A file-name-safe form of `text`: ASCII letters, digits, `-` and `_`, others as `-`.
pub(crate) fn slug(text: &str) -> String {
    let s: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_matches('-').to_string();
    if s.is_empty() { "x".into() } else { s }
}

/// A Markdown table cell: pipes and line breaks escaped.
pub(crate) fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// `x` to `decimals` places, or `–` for none.
pub(crate) fn fmt_opt(x: Option<f64>, decimals: usize) -> String {
    match x {
        Some(v) if v.is_finite() => format!("{v:.decimals$}"),
        _ => "–".into(),
    }
}
