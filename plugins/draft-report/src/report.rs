//! Rendering the report (in the layout of [`research_report`], shared with
//! the reviewer that reads it) and naming its file. Sources are numbered by
//! distinct `path:line`, in order of first citation. Fact text is untrusted
//! document prose, so it is escaped and cannot forge a citation, a heading
//! or a link.

use research_report::{FINDINGS, SOURCES, SUMMARY, TITLE_PREFIX, escape, source_line};
use serde::Deserialize;

/// The part of the extract-facts output this plugin reads.
#[derive(Debug, Deserialize)]
pub struct FactsOutput {
    pub facts: Vec<Fact>,
}

/// One fact.
#[derive(Debug, Clone, Deserialize)]
pub struct Fact {
    pub text: String,
    pub path: String,
    pub line: usize,
}

/// A rendered report.
#[derive(Debug)]
pub struct Draft {
    pub markdown: String,
    /// Number of entries under `## Sources`.
    pub sources: usize,
}

/// The longest slug, in bytes.
const MAX_SLUG: usize = 60;

/// Render the report for `topic` from `facts`.
pub fn render(topic: &str, facts: &[Fact]) -> Draft {
    let mut sources: Vec<(&str, usize)> = Vec::new();
    let mut bullets = Vec::new();
    for fact in facts {
        let key = (fact.path.as_str(), fact.line);
        let n = match sources.iter().position(|s| *s == key) {
            Some(i) => i + 1,
            None => {
                sources.push(key);
                sources.len()
            }
        };
        bullets.push(format!("- {} [{n}]", escape(&one_line(&fact.text))));
    }
    let files = {
        let mut paths: Vec<&str> = sources.iter().map(|(p, _)| *p).collect();
        paths.sort_unstable();
        paths.dedup();
        paths.len()
    };

    let topic_text = escape(&one_line(topic));
    let mut md = format!("{TITLE_PREFIX}{topic_text}\n\n## {SUMMARY}\n\n");
    md.push_str(&summary(facts.len(), sources.len(), files));
    md.push_str(&format!("\n\n## {FINDINGS}\n\n"));
    if bullets.is_empty() {
        md.push_str("No facts about this topic were found in the workspace.\n");
    } else {
        for b in &bullets {
            md.push_str(b);
            md.push('\n');
        }
    }
    md.push_str(&format!("\n## {SOURCES}\n\n"));
    if sources.is_empty() {
        md.push_str("None.\n");
    } else {
        for (i, (path, line)) in sources.iter().enumerate() {
            md.push_str(&source_line(i + 1, path, *line));
            md.push('\n');
        }
    }
    Draft {
        markdown: md,
        sources: sources.len(),
    }
}

fn summary(facts: usize, sources: usize, files: usize) -> String {
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    format!(
        "This report collects {} from {} in {}.",
        plural(facts, "fact", "facts"),
        plural(sources, "cited passage", "cited passages"),
        plural(files, "document", "documents"),
    )
}

/// Collapse all whitespace (including newlines) into single spaces.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The file stem for `topic`: lowercase, runs of anything not ASCII
/// alphanumeric turned into one `-`, trimmed, at most [`MAX_SLUG`] bytes.
pub fn slug(topic: &str) -> String {
    let mut slug = String::new();
    for c in topic.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_matches('-');
    let slug = slug[..slug.len().min(MAX_SLUG)].trim_end_matches('-');
    if slug.is_empty() {
        "report".to_string()
    } else {
        slug.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fact(text: &str, path: &str, line: usize) -> Fact {
        Fact {
            text: text.into(),
            path: path.into(),
            line,
        }
    }

    #[test]
    fn slugs_are_safe_file_stems() {
        assert_eq!(
            slug("WebAssembly component sandboxing"),
            "webassembly-component-sandboxing"
        );
        assert_eq!(slug("  ../../etc/passwd "), "etc-passwd");
        assert_eq!(slug("???"), "report");
        assert_eq!(slug(&"a".repeat(100)).len(), MAX_SLUG);
        assert_eq!(slug(&format!("{}-b", "a".repeat(59))), "a".repeat(59));
    }

    #[test]
    fn report_cites_every_fact_and_numbers_sources_by_path_and_line() {
        let facts = [
            fact("Preopens grant\ndirectories.", "a.md", 3),
            fact("Fuel *counts* [1] work.", "b.md", 7),
            fact("Same passage again.", "a.md", 3),
        ];
        let d = render("Wasm sandboxing", &facts);
        assert_eq!(d.sources, 2);
        assert_eq!(
            d.markdown,
            "# Research report: Wasm sandboxing\n\n## Summary\n\n\
             This report collects 3 facts from 2 cited passages in 2 documents.\n\n\
             ## Findings\n\n\
             - Preopens grant directories. [1]\n\
             - Fuel \\*counts\\* \\[1\\] work. [2]\n\
             - Same passage again. [1]\n\n\
             ## Sources\n\n[1] a.md, line 3\n[2] b.md, line 7\n"
        );
    }

    #[test]
    fn an_empty_report_still_has_every_section() {
        let d = render("x", &[]);
        assert!(d.markdown.contains("## Findings\n\nNo facts"));
        assert!(d.markdown.contains("## Sources\n\nNone."));
        assert!(
            d.markdown
                .contains("0 facts from 0 cited passages in 0 documents")
        );
    }
}
