//! The research pipeline's report format, in one place: `draft-report`
//! writes it ([`escape`], [`source_line`], the section names) and the
//! `reviewer` reads it back ([`parse`], [`citations`]), so the two cannot
//! drift apart.
//!
//! Layout: a title, `## Summary`, `## Findings` (one bullet per fact ending
//! in a citation `[n]`) and `## Sources` (`[n] path, line N`). Text from
//! documents is backslash-escaped, so it cannot forge a citation, a heading
//! or a link; reading is deliberately strict: a citation is `[n]` not
//! preceded by a backslash, and a source is `[n] path, line N`.

/// How every report begins: its title line, then the topic.
pub const TITLE_PREFIX: &str = "# Research report: ";

/// Whether `text` is a report this format produced (its first line is the
/// title): `search` skips them, so a run never cites an earlier run's report.
pub fn is_report(text: &str) -> bool {
    text.starts_with(TITLE_PREFIX)
}

/// The `## Summary` section's name.
pub const SUMMARY: &str = "Summary";
/// The `## Findings` section's name.
pub const FINDINGS: &str = "Findings";
/// The `## Sources` section's name.
pub const SOURCES: &str = "Sources";
/// Every section a report has, in order.
pub const SECTIONS: &[&str] = &[SUMMARY, FINDINGS, SOURCES];

/// Backslash-escape the characters that would change the meaning of plain
/// inline text: emphasis, code, links and citations, raw HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The `## Sources` entry for source `n`: `[n] path, line N`.
pub fn source_line(n: usize, path: &str, line: usize) -> String {
    format!("[{n}] {}, line {line}", escape(path))
}

/// A report as a reader sees it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// The `## ` headings, in order.
    pub sections: Vec<String>,
    /// The bullets under `## Findings`.
    pub findings: Vec<Bullet>,
    /// The entries under `## Sources`.
    pub sources: Vec<Source>,
    /// Lines under `## Sources` that look like entries but do not parse (1-based).
    pub malformed_sources: Vec<usize>,
}

/// One bullet under `## Findings`.
#[derive(Debug, PartialEq, Eq)]
pub struct Bullet {
    /// 1-based line in the report.
    pub line: usize,
    /// The citation numbers it carries.
    pub citations: Vec<usize>,
}

/// One `[n] path, line N` entry under `## Sources`.
#[derive(Debug, PartialEq, Eq)]
pub struct Source {
    pub number: usize,
    /// The cited file, unescaped.
    pub path: String,
    /// The cited line.
    pub line: usize,
}

/// Parse `text` as a report.
pub fn parse(text: &str) -> Report {
    let mut report = Report::default();
    let mut section = String::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if let Some(heading) = line.strip_prefix("## ") {
            section = heading.trim().to_string();
            report.sections.push(section.clone());
            continue;
        }
        let trimmed = line.trim();
        match section.as_str() {
            FINDINGS => {
                if let Some(item) = trimmed
                    .strip_prefix("- ")
                    .or_else(|| trimmed.strip_prefix("* "))
                {
                    report.findings.push(Bullet {
                        line: line_no,
                        citations: citations(item),
                    });
                }
            }
            SOURCES if trimmed.starts_with('[') => match source(trimmed) {
                Some(s) => report.sources.push(s),
                None => report.malformed_sources.push(line_no),
            },
            _ => {}
        }
    }
    report
}

/// The `[n]` citations in `text`, skipping `\[`-escaped brackets.
pub fn citations(text: &str) -> Vec<usize> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'[' => {
                let digits = bytes[i + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                let close = i + 1 + digits;
                if digits > 0 && bytes.get(close) == Some(&b']') {
                    if let Ok(n) = text[i + 1..close].parse() {
                        out.push(n);
                    }
                    i = close + 1;
                } else {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    out
}

/// Parse `[n] path, line N` (the inverse of [`source_line`]).
fn source(line: &str) -> Option<Source> {
    let rest = line.strip_prefix('[')?;
    let (number, rest) = rest.split_once(']')?;
    let (path, line_no) = rest.trim().rsplit_once(", line ")?;
    Some(Source {
        number: number.parse().ok()?,
        path: unescape(path.trim()),
        line: line_no.trim().parse().ok()?,
    })
}

/// Undo [`escape`].
pub fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sections_findings_and_sources() {
        let text = "# Research report: x\n\n## Summary\n\nText [9].\n\n## Findings\n\n\
                    - One \\[2\\] fact. [1]\n- Uncited fact.\n\n## Sources\n\n\
                    [1] notes/a\\_b.md, line 4\n[x] broken\n";
        let r = parse(text);
        assert_eq!(r.sections, ["Summary", "Findings", "Sources"]);
        assert_eq!(
            r.findings,
            [
                Bullet {
                    line: 9,
                    citations: vec![1]
                },
                Bullet {
                    line: 10,
                    citations: vec![]
                },
            ]
        );
        assert_eq!(
            r.sources,
            [Source {
                number: 1,
                path: "notes/a_b.md".into(),
                line: 4
            }]
        );
        assert_eq!(r.malformed_sources, [15]);
    }

    #[test]
    fn citations_skip_escaped_and_non_numeric_brackets() {
        assert_eq!(citations("a [1] b [12][3] \\[4\\] [x] [ 5] ["), [1, 12, 3]);
    }

    #[test]
    fn a_report_is_known_by_its_title() {
        assert!(is_report("# Research report: wasm\n\n## Summary\n"));
        assert!(!is_report("# Notes on wasm\n"));
        assert!(!is_report("intro\n# Research report: x\n"));
    }

    #[test]
    fn a_written_source_line_reads_back() {
        let line = source_line(3, "notes/a_[b].md", 7);
        assert_eq!(
            source(&line),
            Some(Source {
                number: 3,
                path: "notes/a_[b].md".into(),
                line: 7
            })
        );
        assert_eq!(unescape(&escape("a\\b*c")), "a\\b*c");
    }
}
