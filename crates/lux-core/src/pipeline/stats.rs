//! Counts of a pipeline run, written as `stats.json` and `stats.md`.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::{Deserialize, Serialize};

use crate::Example;

/// Generated and kept counts for one group (a task, a language pair, a source).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Examples the generators produced.
    pub generated: usize,
    /// Examples that passed every filter.
    pub kept: usize,
}

/// The statistics of one run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunStats {
    /// Seeds with a journal entry (every generator that accepted them ran).
    pub seeds_done: usize,
    /// Seeds on which at least one generator failed.
    pub seeds_failed: usize,
    /// Examples generated.
    pub generated: usize,
    /// Examples kept.
    pub kept: usize,
    /// Examples dropped by a filter.
    pub dropped: usize,
    /// Candidates rejected by generators.
    pub rejected: usize,
    /// Per task.
    pub per_task: BTreeMap<String, Counts>,
    /// Per `instruction_lang→output_lang`.
    pub per_lang_pair: BTreeMap<String, Counts>,
    /// Per instruction language.
    pub per_instruction_lang: BTreeMap<String, Counts>,
    /// Per source.
    pub per_source: BTreeMap<String, Counts>,
    /// Drops per filter, then per reason (the part of the reason before its first `:`).
    pub drops: BTreeMap<String, BTreeMap<String, usize>>,
    /// Generator rejections and failures per generator, then per reason head.
    pub rejections: BTreeMap<String, BTreeMap<String, usize>>,
}

/// The head of a reason: `output too short: 3 < 20` → `output too short`.
pub(crate) fn reason_head(reason: &str) -> String {
    reason
        .split(':')
        .next()
        .unwrap_or(reason)
        .trim()
        .to_string()
}

impl RunStats {
    /// Counts a seed's journal entry: the seed, its failure, its generators' rejections.
    pub(crate) fn count_seed(&mut self, entry: &super::JournalEntry) {
        self.seeds_done += 1;
        if !entry.failures.is_empty() {
            self.seeds_failed += 1;
        }
        for r in entry.rejected.iter().chain(&entry.failures) {
            self.rejected += 1;
            *self
                .rejections
                .entry(r.generator.clone())
                .or_default()
                .entry(reason_head(&r.reason))
                .or_default() += 1;
        }
    }

    /// Counts a generated example before any filter (a shard's counts).
    pub(crate) fn count_generated(&mut self, ex: &Example) {
        self.count_groups(ex, false);
        self.generated += 1;
    }

    /// Counts an example that went through the filters.
    pub(crate) fn count(&mut self, ex: &Example, kept: bool) {
        self.count_groups(ex, kept);
        self.generated += 1;
        if kept {
            self.kept += 1;
        } else {
            self.dropped += 1;
        }
    }

    fn count_groups(&mut self, ex: &Example, kept: bool) {
        bump(self.per_task.entry(ex.task.to_string()).or_default(), kept);
        bump(
            self.per_lang_pair
                .entry(format!("{}→{}", ex.instruction_lang, ex.output_lang))
                .or_default(),
            kept,
        );
        bump(
            self.per_instruction_lang
                .entry(ex.instruction_lang.to_string())
                .or_default(),
            kept,
        );
        bump(self.per_source.entry(ex.source.clone()).or_default(), kept);
    }

    /// The statistics as a Markdown report.
    pub fn to_markdown(&self, title: &str) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "# {title}\n");
        let _ = writeln!(
            md,
            "{} seeds processed ({} with a generator failure); {} examples generated, \
             **{} kept**, {} dropped by filters, {} candidates rejected by generators.\n",
            self.seeds_done,
            self.seeds_failed,
            self.generated,
            self.kept,
            self.dropped,
            self.rejected
        );
        for (heading, table) in [
            ("Per task", &self.per_task),
            (
                "Per language pair (instruction → output)",
                &self.per_lang_pair,
            ),
            ("Per instruction language", &self.per_instruction_lang),
            ("Per source", &self.per_source),
        ] {
            let _ = writeln!(
                md,
                "## {heading}\n\n| | generated | kept |\n|---|---:|---:|"
            );
            for (k, c) in table {
                let _ = writeln!(md, "| {k} | {} | {} |", c.generated, c.kept);
            }
            md.push('\n');
        }
        for (heading, table) in [
            ("Drops per filter and reason", &self.drops),
            ("Generator rejections", &self.rejections),
        ] {
            let _ = writeln!(md, "## {heading}\n");
            if table.is_empty() {
                md.push_str("none\n\n");
                continue;
            }
            let _ = writeln!(md, "| who | reason | count |\n|---|---|---:|");
            for (who, reasons) in table {
                for (reason, n) in reasons {
                    let _ = writeln!(md, "| {who} | {reason} | {n} |");
                }
            }
            md.push('\n');
        }
        md
    }
}

fn bump(c: &mut Counts, kept: bool) {
    c.generated += 1;
    if kept {
        c.kept += 1;
    }
}
