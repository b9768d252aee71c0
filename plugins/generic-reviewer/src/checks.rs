//! The review: every rule, and how findings become a verdict.
//!
//! - A secret in a proposed file or a step output, a file over
//!   `max-file-bytes`, all files over `max-total-bytes`, a path outside
//!   `allow-paths`, in `deny-paths` or (by default) with a dotfile
//!   component: `error` findings, verdict `reject`, nothing is written.
//! - A path in `warn-paths`: a `warning`, verdict `pass`: the run goes to
//!   the gate with the finding shown, and a person decides.
//! - Otherwise `pass` with no findings.
//!
//! Nothing here reads the files' format: the checks fit any workflow.
//! Findings name the file, the line and the rule, never a secret's value.

use harness_sdk::{Finding, ProposedWrite, Review, ReviewInput, Severity, Verdict};

use crate::config::Config;
use crate::glob;

/// Review every proposed write and step output of `input` under `config`.
pub fn review(config: &Config, input: &ReviewInput) -> Review {
    let mut findings = Vec::new();
    for write in &input.writes {
        check_write(config, write, &mut findings);
    }
    let total: u64 = input.writes.iter().map(|w| w.contents.len() as u64).sum();
    if total > config.max_total_bytes {
        findings.push(Finding::new(
            Severity::Error,
            format!(
                "the {} proposed files hold {total} bytes together, over max-total-bytes = {}",
                input.writes.len(),
                config.max_total_bytes
            ),
        ));
    }
    for output in input.step_outputs() {
        for s in secret_scan::scan(&output.output) {
            findings.push(Finding::new(
                Severity::Error,
                format!(
                    "the output of step `{}` looks like it contains {} (line {} of its JSON)",
                    output.step, s.kind, s.line
                ),
            ));
        }
    }
    verdict(findings, input.writes.len())
}

/// The findings of one proposed file: its path, its size, its contents.
fn check_write(config: &Config, write: &ProposedWrite, findings: &mut Vec<Finding>) {
    let path = write.path.as_str();
    let error = |message: String| Finding::new(Severity::Error, message).at(path);
    if config.deny_dotfiles
        && let Some(dot) = path.split('/').find(|c| c.starts_with('.'))
    {
        findings.push(error(format!(
            "`{dot}` is a dotfile or dot-directory (deny-dotfiles is on; set `deny-dotfiles = false` in [review] input to allow)"
        )));
    }
    if let Some(pattern) = config.deny_paths.iter().find(|p| glob::matches(p, path)) {
        findings.push(error(format!("the path matches deny-paths `{pattern}`")));
    }
    if !config.allow_paths.is_empty() && !config.allow_paths.iter().any(|p| glob::matches(p, path))
    {
        findings.push(error(format!(
            "the path matches none of allow-paths ({})",
            config.allow_paths.join(", ")
        )));
    }
    if let Some(pattern) = config.warn_paths.iter().find(|p| glob::matches(p, path)) {
        findings.push(
            Finding::new(
                Severity::Warning,
                format!("the path matches warn-paths `{pattern}`: look at it before approving"),
            )
            .at(path),
        );
    }
    let size = write.contents.len() as u64;
    if size > config.max_file_bytes {
        findings.push(error(format!(
            "the file is {size} bytes, over max-file-bytes = {}",
            config.max_file_bytes
        )));
    }
    for s in secret_scan::scan(&write.text()) {
        findings.push(error(s.file_message()));
    }
}

/// `reject` on any error, else `pass` (with the warnings shown at the gate).
fn verdict(findings: Vec<Finding>, writes: usize) -> Review {
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let warnings = findings.len() - errors;
    let files = plural(writes, "proposed file");
    let summary = if errors > 0 {
        format!(
            "Rejected: {} in {files} (secrets, sizes or path rules).",
            plural(errors, "problem")
        )
    } else if warnings > 0 {
        format!(
            "Pass with {}: no secrets, sizes within limits, and no denied path in {files}.",
            plural(warnings, "warning")
        )
    } else {
        format!("Pass: no secrets, sizes within limits, and no denied path in {files}.")
    };
    let verdict = if errors > 0 {
        Verdict::Reject
    } else {
        Verdict::Pass
    };
    Review::new(verdict, findings, summary)
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use harness_sdk::StepOutput;

    use super::*;

    fn input(writes: Vec<ProposedWrite>) -> ReviewInput {
        ReviewInput {
            outputs: vec![StepOutput {
                step: "only".into(),
                output: r#"{"ok":true}"#.into(),
            }],
            writes,
        }
    }

    /// An AWS key id of the right shape, assembled so no scanner of this
    /// repository's sources trips over it.
    fn fake_aws_key() -> String {
        format!("AKIA{}", "FAKEFAKE0123TEST")
    }

    fn messages(r: &Review) -> Vec<String> {
        r.findings
            .iter()
            .map(|f| format!("{:?} {:?} {}", f.severity, f.path, f.message))
            .collect()
    }

    #[test]
    fn any_file_without_problems_passes_whatever_its_format() {
        let r = review(
            &Config::default(),
            &input(vec![
                ProposedWrite::new("notes/todo.txt", "buy flour"),
                ProposedWrite::new("data.json", "{}"),
            ]),
        );
        assert!(r.verdict == Verdict::Pass, "{:?}", messages(&r));
        assert!(r.findings.is_empty());
        assert!(r.summary.contains("2 proposed files"), "{}", r.summary);
    }

    #[test]
    fn a_secret_in_a_file_or_an_output_rejects_without_quoting_it() {
        let key = fake_aws_key();
        let r = review(
            &Config::default(),
            &input(vec![ProposedWrite::new(
                "a.txt",
                format!("ok\nkey {key}\n"),
            )]),
        );
        assert!(r.verdict == Verdict::Reject);
        assert_eq!(r.findings.len(), 1, "{:?}", messages(&r));
        assert_eq!(r.findings[0].path.as_deref(), Some("a.txt"));
        assert!(r.findings[0].message.contains("line 2"));
        assert!(!r.findings[0].message.contains(&key));

        let mut leaky = input(Vec::new());
        leaky.outputs[0].output = format!("{{\"key\":\"{key}\"}}");
        let r = review(&Config::default(), &leaky);
        assert!(r.verdict == Verdict::Reject);
        assert!(r.findings[0].message.contains("output of step `only`"));
        assert_eq!(r.findings[0].path, None);
    }

    #[test]
    fn sizes_over_the_limits_reject() {
        let config = Config {
            max_file_bytes: 4,
            max_total_bytes: 6,
            ..Config::default()
        };
        let r = review(
            &config,
            &input(vec![
                ProposedWrite::new("a.txt", "1234"),
                ProposedWrite::new("b.txt", "12345"),
            ]),
        );
        assert!(r.verdict == Verdict::Reject);
        let m = messages(&r);
        assert_eq!(m.len(), 2, "{m:?}");
        assert!(m[0].contains("\"b.txt\"") && m[0].contains("5 bytes, over max-file-bytes = 4"));
        assert!(m[1].contains("9 bytes together, over max-total-bytes = 6"));
    }

    #[test]
    fn path_rules_reject_or_warn() {
        let config = Config {
            allow_paths: vec!["out/**".into(), ".well-known/**".into()],
            deny_paths: vec!["*.sh".into()],
            warn_paths: vec!["**/*.json".into()],
            ..Config::default()
        };
        let r = review(
            &config,
            &input(vec![
                ProposedWrite::new("out/run.sh", "echo"),
                ProposedWrite::new("elsewhere.txt", "x"),
                ProposedWrite::new(".well-known/x", "x"),
            ]),
        );
        assert!(r.verdict == Verdict::Reject);
        let m = messages(&r);
        assert_eq!(m.len(), 3, "{m:?}");
        assert!(m[0].contains("out/run.sh") && m[0].contains("deny-paths `*.sh`"));
        assert!(m[1].contains("elsewhere.txt") && m[1].contains("none of allow-paths"));
        assert!(m[2].contains("`.well-known` is a dotfile"));

        let r = review(
            &config,
            &input(vec![ProposedWrite::new("out/a/b.json", "{}")]),
        );
        assert!(r.verdict == Verdict::Pass, "{:?}", messages(&r));
        assert!(r.findings[0].severity == Severity::Warning);
        assert!(
            r.summary.starts_with("Pass with 1 warning"),
            "{}",
            r.summary
        );

        let allow_dots = Config {
            deny_dotfiles: false,
            ..Config::default()
        };
        let r = review(
            &allow_dots,
            &input(vec![ProposedWrite::new(".env.example", "A=1")]),
        );
        assert!(r.verdict == Verdict::Pass, "{:?}", messages(&r));
    }

    #[test]
    fn markdown_without_research_sections_is_fine() {
        let r = review(
            &Config::default(),
            &input(vec![ProposedWrite::new(
                "README.md",
                "# Title\n\nNo summary here.\n",
            )]),
        );
        assert!(r.verdict == Verdict::Pass, "{:?}", messages(&r));
    }
}
