//! Sentence splitting, filtering and ranking.
//!
//! A sentence ends at `.`, `!` or `?` followed by whitespace, or at the end of
//! the snippet. Markdown headings are dropped and list markers stripped, and a
//! heading or list item always starts a new sentence. Each sentence keeps the
//! line it starts on: the hit's line plus the newlines before it in the snippet.

use serde::{Deserialize, Serialize};

/// The part of the search output this plugin reads.
#[derive(Debug, Deserialize)]
pub struct SearchOutput {
    pub hits: Vec<Hit>,
}

/// One search hit.
#[derive(Debug, Clone, Deserialize)]
pub struct Hit {
    pub path: String,
    pub line: usize,
    #[serde(default)]
    pub score: f64,
    pub snippet: String,
}

/// One extracted fact, as it appears in the output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fact {
    pub id: String,
    pub text: String,
    pub path: String,
    pub line: usize,
}

/// Sentences shorter than this (in bytes, after cleanup) are fragments, not facts.
const MIN_SENTENCE_BYTES: usize = 20;

/// A sentence with the line it starts on, relative to the snippet (0-based).
#[derive(Debug, PartialEq)]
struct Sentence {
    text: String,
    line_offset: usize,
}

/// Extract up to `max` facts mentioning any of the `topic` tokens.
///
/// Ranked by the number of distinct topic tokens (descending), then the hit's
/// score (descending), then path and line; duplicates (case-insensitive) keep
/// their best-ranked copy.
pub fn extract(hits: &[Hit], topic: &[String], max: usize) -> Vec<Fact> {
    struct Candidate<'a> {
        text: String,
        matched: usize,
        hit: &'a Hit,
        line: usize,
    }
    let mut candidates: Vec<Candidate<'_>> = Vec::new();
    for hit in hits {
        for sentence in sentences(&hit.snippet) {
            let mut found = vec![false; topic.len()];
            harness_sdk::text::for_each_token(&sentence.text, |token| {
                for (found, t) in found.iter_mut().zip(topic) {
                    *found |= t == token;
                }
            });
            let matched = found.iter().filter(|f| **f).count();
            if matched > 0 {
                candidates.push(Candidate {
                    text: sentence.text,
                    matched,
                    hit,
                    line: hit.line + sentence.line_offset,
                });
            }
        }
    }
    candidates.sort_by(|a, b| {
        b.matched
            .cmp(&a.matched)
            .then_with(|| b.hit.score.total_cmp(&a.hit.score))
            .then_with(|| a.hit.path.cmp(&b.hit.path))
            .then_with(|| a.line.cmp(&b.line))
    });

    let mut seen: Vec<String> = Vec::new();
    let mut facts = Vec::new();
    for c in candidates {
        let key = c.text.to_lowercase();
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        facts.push(Fact {
            id: format!("F{}", facts.len() + 1),
            text: c.text,
            path: c.hit.path.clone(),
            line: c.line,
        });
        if facts.len() == max {
            break;
        }
    }
    facts
}

/// Split a snippet into cleaned-up sentences.
fn sentences(snippet: &str) -> Vec<Sentence> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut start_line = 0;
    for (line_no, line) in snippet.split('\n').enumerate() {
        let trimmed = line.trim();
        let (body, starts_block) = if trimmed.starts_with('#') {
            flush(&mut current, start_line, &mut out);
            continue;
        } else if let Some(item) = strip_list_marker(trimmed) {
            (item, true)
        } else {
            (trimmed, false)
        };
        if starts_block {
            flush(&mut current, start_line, &mut out);
        }
        let mut chars = body.char_indices().peekable();
        while let Some((_, c)) = chars.next() {
            if current.is_empty() {
                if c.is_whitespace() {
                    continue;
                }
                start_line = line_no;
            }
            current.push(c);
            let at_end = chars.peek().is_none_or(|(_, next)| next.is_whitespace());
            if matches!(c, '.' | '!' | '?') && at_end {
                flush(&mut current, start_line, &mut out);
            }
        }
        if !current.is_empty() {
            current.push(' ');
        }
    }
    flush(&mut current, start_line, &mut out);
    out
}

/// End the sentence being built, keeping it if it is long enough.
fn flush(current: &mut String, line_offset: usize, out: &mut Vec<Sentence>) {
    let text = current.split_whitespace().collect::<Vec<_>>().join(" ");
    current.clear();
    // A trailing `…` marks a snippet cut mid-sentence: not a whole fact.
    if text.len() >= MIN_SENTENCE_BYTES && !text.ends_with('…') {
        out.push(Sentence { text, line_offset });
    }
}

/// The item text if `line` is a Markdown list item (`-`, `*`, `+`, `1.`).
fn strip_list_marker(line: &str) -> Option<&str> {
    for marker in ["- ", "* ", "+ "] {
        if let Some(rest) = line.strip_prefix(marker) {
            return Some(rest);
        }
    }
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    if digits > 0 {
        return line[digits..].strip_prefix(". ");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(path: &str, line: usize, score: f64, snippet: &str) -> Hit {
        Hit {
            path: path.into(),
            line,
            score,
            snippet: snippet.into(),
        }
    }

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    fn sentences_keep_their_line_offsets() {
        let s = sentences(
            "First sentence is here. Second one\nspans two lines! Third?\n# Heading line\n- A list item sentence",
        );
        let got: Vec<(&str, usize)> = s.iter().map(|s| (s.text.as_str(), s.line_offset)).collect();
        assert_eq!(
            got,
            [
                ("First sentence is here.", 0),
                ("Second one spans two lines!", 0),
                ("A list item sentence", 3),
            ]
        );
    }

    #[test]
    fn a_sentence_starting_on_a_later_line_gets_that_line() {
        let s = sentences("Short intro text goes here.\nThe next sentence starts on line two.");
        assert_eq!(s[1].line_offset, 1);
        let facts = extract(
            &[hit(
                "a.md",
                10,
                1.0,
                "Short intro text goes here.\nThe sandbox starts on line two.",
            )],
            &words(&["sandbox"]),
            5,
        );
        assert_eq!(facts.len(), 1);
        assert_eq!((facts[0].line, facts[0].id.as_str()), (11, "F1"));
    }

    #[test]
    fn ranks_by_matched_tokens_then_score_and_dedups() {
        let hits = [
            hit("a.md", 1, 1.0, "The sandbox denies access by default."),
            hit(
                "b.md",
                5,
                9.0,
                "The sandbox uses WASI preopens for files. The sandbox denies access by default.",
            ),
        ];
        let facts = extract(&hits, &words(&["sandbox", "preopens"]), 10);
        let got: Vec<(&str, &str, usize)> = facts
            .iter()
            .map(|f| (f.text.as_str(), f.path.as_str(), f.line))
            .collect();
        assert_eq!(
            got,
            [
                ("The sandbox uses WASI preopens for files.", "b.md", 5),
                ("The sandbox denies access by default.", "b.md", 5),
            ]
        );
        assert_eq!(extract(&hits, &words(&["sandbox"]), 1).len(), 1);
        assert!(extract(&[], &words(&["sandbox"]), 5).is_empty());
    }
}
