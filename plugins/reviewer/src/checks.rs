//! The review itself: every check and how findings become a verdict.
//!
//! - Any write that looks like it holds a secret → `reject`.
//! - A Markdown write missing a required section, a finding without a
//!   citation, a citation without a source, a source that no search hit
//!   covers, or a report with no findings → `revise`.
//! - Otherwise → `pass`.

use harness_sdk::{Finding, ProposedWrite, Review, Severity, Verdict};
use serde::Deserialize;

use secret_scan as secrets;

/// The part of the search output the reviewer reads.
#[derive(Debug, Deserialize)]
pub struct SearchOutput {
    pub hits: Vec<Hit>,
}

/// One search hit: the passage of `path` starting at `line`.
#[derive(Debug, Deserialize)]
pub struct Hit {
    pub path: String,
    pub line: usize,
    pub snippet: String,
}

impl Hit {
    /// Whether this hit's passage covers `line` of `path`.
    fn covers(&self, path: &str, line: usize) -> bool {
        let lines = self.snippet.split('\n').count();
        self.path == path && self.line <= line && line < self.line + lines
    }
}

/// Review `writes` against the search hits (`None` if no step produced any).
pub fn review(writes: &[ProposedWrite], search: Option<&SearchOutput>) -> Review {
    let mut findings = Vec::new();
    let mut secret_writes = 0;
    let mut reports = 0;
    let mut revise = 0;

    for write in writes {
        let text = write.text();
        let suspects = secrets::scan(&text);
        if !suspects.is_empty() {
            secret_writes += 1;
        }
        for s in suspects {
            findings.push(Finding::new(Severity::Error, s.file_message()).at(&write.path));
        }
        if write.path.ends_with(".md") {
            reports += 1;
            let problems = check_report(&text, search);
            revise += problems.len();
            findings.extend(
                problems
                    .into_iter()
                    .map(|m| Finding::new(Severity::Warning, m).at(&write.path)),
            );
        }
    }

    let (verdict, summary) = if secret_writes > 0 {
        (
            Verdict::Reject,
            format!(
                "Rejected: {secret_writes} of {} proposed writes look like they contain secrets.",
                writes.len()
            ),
        )
    } else if revise > 0 {
        (
            Verdict::Revise,
            format!(
                "Revise: {revise} problem{} with the structure or citations of {reports} report{}.",
                if revise == 1 { "" } else { "s" },
                if reports == 1 { "" } else { "s" }
            ),
        )
    } else {
        (
            Verdict::Pass,
            format!(
                "Pass: {reports} report{} with every finding cited to a search hit, and no secrets in {} proposed write{}.",
                if reports == 1 { "" } else { "s" },
                writes.len(),
                if writes.len() == 1 { "" } else { "s" }
            ),
        )
    };
    Review::new(verdict, findings, summary)
}

/// The problems of one Markdown report, as messages.
fn check_report(text: &str, search: Option<&SearchOutput>) -> Vec<String> {
    let report = research_report::parse(text);
    let mut problems = Vec::new();
    for section in research_report::SECTIONS {
        if !report.sections.iter().any(|s| s == section) {
            problems.push(format!("the `## {section}` section is missing"));
        }
    }
    if report.sections.iter().any(|s| s == "Findings") && report.findings.is_empty() {
        problems.push("the report has no findings".to_string());
    }
    for bullet in &report.findings {
        if bullet.citations.is_empty() {
            problems.push(format!(
                "the finding on line {} has no citation like `[1]`",
                bullet.line
            ));
        }
        for n in &bullet.citations {
            if !report.sources.iter().any(|s| s.number == *n) {
                problems.push(format!(
                    "the finding on line {} cites [{n}], which is not listed under `## Sources`",
                    bullet.line
                ));
            }
        }
    }
    for line in &report.malformed_sources {
        problems.push(format!(
            "line {line} under `## Sources` is not of the form `[n] path, line N`"
        ));
    }
    for source in &report.sources {
        let backed =
            search.is_some_and(|s| s.hits.iter().any(|h| h.covers(&source.path, source.line)));
        if !backed {
            problems.push(format!(
                "source [{}] ({}, line {}) does not match any search hit",
                source.number, source.path, source.line
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search() -> SearchOutput {
        SearchOutput {
            hits: vec![Hit {
                path: "a.md".into(),
                line: 3,
                snippet: "first line\nsecond line".into(),
            }],
        }
    }

    const GOOD: &str = "# Research report: t\n\n## Summary\n\nOne fact.\n\n## Findings\n\n- A fact. [1]\n\n## Sources\n\n[1] a.md, line 4\n";

    #[test]
    fn a_cited_report_passes() {
        let r = review(&[ProposedWrite::new("reports/t.md", GOOD)], Some(&search()));
        assert!(r.verdict == Verdict::Pass, "{r:?}");
        assert!(r.findings.is_empty());
    }

    #[test]
    fn a_source_outside_every_hit_asks_for_revision() {
        let text = GOOD.replace("line 4", "line 5");
        let r = review(&[ProposedWrite::new("reports/t.md", text)], Some(&search()));
        assert!(r.verdict == Verdict::Revise, "{r:?}");
        assert_eq!(r.findings[0].path.as_deref(), Some("reports/t.md"));
        assert!(
            r.findings[0]
                .message
                .contains("does not match any search hit")
        );
        let r = review(&[ProposedWrite::new("reports/t.md", GOOD)], None);
        assert!(r.verdict == Verdict::Revise, "{r:?}");
    }

    #[test]
    fn missing_sections_uncited_and_dangling_findings_ask_for_revision() {
        let text = "## Summary\n\n## Findings\n\n- Uncited.\n- Dangling. [2]\n";
        let r = review(&[ProposedWrite::new("r.md", text)], Some(&search()));
        assert!(r.verdict == Verdict::Revise);
        let messages: Vec<&str> = r.findings.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(messages.len(), 3, "{messages:?}");
        assert!(messages[0].contains("`## Sources` section is missing"));
        assert!(messages[1].contains("has no citation"));
        assert!(messages[2].contains("cites [2]"));
    }

    #[test]
    fn an_empty_report_asks_for_revision() {
        let text = "## Summary\n\n## Findings\n\nNo facts.\n\n## Sources\n\nNone.\n";
        let r = review(&[ProposedWrite::new("r.md", text)], Some(&search()));
        assert!(r.verdict == Verdict::Revise);
        assert!(r.findings[0].message.contains("no findings"));
    }

    #[test]
    fn a_secret_in_any_write_rejects() {
        let r = review(
            &[
                ProposedWrite::new("reports/t.md", GOOD),
                ProposedWrite::new("notes.txt", "aws AKIAIOSFODNN7EXAMPLE"),
            ],
            Some(&search()),
        );
        assert!(r.verdict == Verdict::Reject);
        assert!(r.findings[0].severity == Severity::Error);
        assert_eq!(r.findings[0].path.as_deref(), Some("notes.txt"));
        assert!(!r.findings[0].message.contains("AKIAIOSFODNN7EXAMPLE"));
    }
}
