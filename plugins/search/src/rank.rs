//! BM25 ranking of passages against a query.
//!
//! Okapi BM25 with k1 = 1.2 and b = 0.75, and the `ln(1 + (N - n + 0.5) / (n + 0.5))`
//! idf that never goes negative, so a word found in most passages still counts
//! a little instead of pushing passages down.

use serde::Serialize;

use crate::corpus::Passage;

const K1: f64 = 1.2;
const B: f64 = 0.75;

/// Snippets are cut to about this many bytes (at a word boundary).
pub const SNIPPET_BYTES: usize = 600;

/// One ranked passage, as it appears in the tool's output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    pub path: String,
    pub line: usize,
    pub score: f64,
    pub snippet: String,
}

/// Rank `passages` against the distinct `query` tokens and return the best
/// `limit` with a positive score, by score (descending), then path, then line.
pub fn bm25(passages: &[Passage], query: &[String], limit: usize) -> Vec<Hit> {
    if passages.is_empty() {
        return Vec::new();
    }
    let n = passages.len() as f64;
    // Each passage's length in tokens and count of each query token, in one
    // pass over its tokens (none of them copied).
    let mut lengths = Vec::with_capacity(passages.len());
    let counts: Vec<Vec<usize>> = passages
        .iter()
        .map(|passage| {
            let (mut counts, mut length) = (vec![0; query.len()], 0usize);
            harness_sdk::text::for_each_token(&passage.text, |token| {
                length += 1;
                if let Some(i) = query.iter().position(|q| q == token) {
                    counts[i] += 1;
                }
            });
            lengths.push(length);
            counts
        })
        .collect();
    let avgdl = lengths.iter().sum::<usize>() as f64 / n;
    let idf: Vec<f64> = (0..query.len())
        .map(|i| {
            let df = counts.iter().filter(|c| c[i] > 0).count() as f64;
            (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
        })
        .collect();

    let mut hits: Vec<Hit> = Vec::new();
    for ((passage, length), counts) in passages.iter().zip(&lengths).zip(&counts) {
        let dl = *length as f64;
        let mut score = 0.0;
        for (tf, idf) in counts.iter().zip(&idf) {
            let tf = *tf as f64;
            if tf > 0.0 {
                let norm = if avgdl > 0.0 { dl / avgdl } else { 1.0 };
                score += idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * norm));
            }
        }
        if score > 0.0 {
            hits.push(Hit {
                path: passage.path.clone(),
                line: passage.line,
                // Rounded so the JSON stays readable and stable across platforms.
                score: (score * 10_000.0).round() / 10_000.0,
                snippet: snippet(&passage.text),
            });
        }
    }
    hits.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.path.cmp(&b.path))
            .then_with(|| a.line.cmp(&b.line))
    });
    hits.truncate(limit);
    hits
}

/// `text` cut to about [`SNIPPET_BYTES`], at a char and preferably a word
/// boundary, with `…` marking the cut.
pub fn snippet(text: &str) -> String {
    if text.len() <= SNIPPET_BYTES {
        return text.to_string();
    }
    let mut end = SNIPPET_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let head = &text[..end];
    let head = match head.rfind(char::is_whitespace) {
        Some(space) if space > SNIPPET_BYTES / 2 => &head[..space],
        _ => head,
    };
    format!("{}…", head.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::split_passages;

    fn q(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_string()).collect()
    }

    #[test]
    fn ranks_relevant_passages_first_and_drops_zero_scores() {
        let mut passages = split_passages(
            "b.md",
            "Fuel counts instructions.\n\nEpoch interruption checks a counter.\n\nCooking pasta.",
        );
        passages.extend(split_passages("a.md", "Fuel and epoch interruption, both."));
        let hits = bm25(&passages, &q(&["epoch", "interruption"]), 10);
        let order: Vec<(&str, usize)> = hits.iter().map(|h| (h.path.as_str(), h.line)).collect();
        assert_eq!(order.len(), 2, "{hits:?}");
        assert!(hits[0].score >= hits[1].score);
        assert!(order.contains(&("a.md", 1)) && order.contains(&("b.md", 3)));
    }

    #[test]
    fn ties_break_by_path_then_line_and_limit_applies() {
        let mut passages = split_passages("b.md", "sandbox");
        passages.extend(split_passages("a.md", "sandbox\n\nsandbox"));
        let hits = bm25(&passages, &q(&["sandbox"]), 2);
        let order: Vec<(&str, usize)> = hits.iter().map(|h| (h.path.as_str(), h.line)).collect();
        assert_eq!(order, [("a.md", 1), ("a.md", 3)]);
    }

    #[test]
    fn snippets_are_capped_at_a_char_boundary() {
        let long = "é".repeat(400);
        let s = snippet(&long);
        assert!(s.len() <= SNIPPET_BYTES + '…'.len_utf8());
        assert!(s.ends_with('…'));
        assert_eq!(snippet("short"), "short");
    }

    #[test]
    fn the_sample_workspace_ranks_on_topic_documents_first() {
        let root = std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/workspace"
        ));
        let corpus = crate::corpus::load(root).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(corpus.files, 7);
        let hits = bm25(
            &corpus.passages,
            &q(&["webassembly", "component", "sandboxing"]),
            8,
        );
        assert_eq!(hits.len(), 8);
        assert!(
            hits.iter()
                .all(|h| !h.path.contains("sourdough") && !h.path.contains("bike")),
            "{hits:?}"
        );
        assert!(
            hits.iter()
                .any(|h| h.path == "notes/fuel-and-epoch-interruption.md"),
            "{hits:?}"
        );
    }

    #[test]
    fn a_missing_root_is_a_failure_naming_it() {
        let err = crate::corpus::load(std::path::Path::new("/definitely/not/here")).err();
        assert!(
            matches!(&err, Some(harness_sdk::PluginError::Failed(m)) if m.contains("`/definitely/not/here`")),
            "{err:?}"
        );
    }
}
