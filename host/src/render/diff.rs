//! The diff of a proposed write against the current file, as a person reads
//! it before approving: every line rendered inert, and computed within a
//! budget.
//!
//! A line diff costs about (lines of both sides) × (lines that differ): a
//! plugin proposing a rewrite of a 2 MB file would otherwise stall `host
//! run`, `show` and `approve` for over a minute each, a cheap way to wear
//! down the person at the gate. Two limits stop that: an estimate of the work
//! from the lines the two sides cannot share (decided before diffing, so the
//! common case is deterministic), and a deadline on the diff itself for
//! inputs the estimate misjudges (the same lines, reordered). Past either,
//! the diff is summarized: both sizes, line counts and sha256s, and how to
//! see it in full.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::digest::sha256_hex;
use crate::render::{inert, inert_line};

/// Most bytes either side may have to be diffed at all.
pub const MAX_DIFF_BYTES: usize = 16 << 20;
/// Most estimated work (line comparisons) a diff may take; about a quarter of
/// a second in a release build.
pub const MAX_DIFF_WORK: u64 = 20_000_000;
/// Longest a diff may run before it is summarized instead.
pub const DIFF_TIMEOUT: Duration = Duration::from_secs(2);

/// A unified diff of a proposed write against the current file, with every
/// line rendered inert. `old` is `None` when the file does not exist yet.
pub fn diff(path: &str, old: Option<&[u8]>, new: &[u8]) -> String {
    diff_with_note(
        path,
        old,
        new,
        "compare the current file with the proposed bytes (the staged blob named by its sha256, in the run's blobs/ folder)",
    )
}

/// Like [`diff`]; `full` says how to see the whole diff when it is too large
/// to compute here (e.g. a `diff -u` command line). It is shown inert.
pub fn diff_with_note(path: &str, old: Option<&[u8]>, new: &[u8], full: &str) -> String {
    let shown_path = inert(path);
    let old_text = old.map(std::str::from_utf8);
    let new_text = std::str::from_utf8(new);
    let (old_text, new_text) = match (old_text, new_text) {
        (Some(Err(_)), _) | (_, Err(_)) => {
            return format!(
                "--- {shown_path}\n+++ {shown_path}\nbinary file: {} bytes -> {} bytes\n",
                old.map_or(0, <[u8]>::len),
                new.len()
            );
        }
        (Some(Ok(old)), Ok(new)) => (old, new),
        (None, Ok(new)) => ("", new),
    };
    let old_header = if old.is_some() {
        format!("a/{shown_path}")
    } else {
        "/dev/null".to_string()
    };
    let header = format!("--- {old_header}\n+++ b/{shown_path}\n");
    let summarized = |why: &str| header.clone() + &summary(why, old_text, new_text, full);

    if old_text.len() > MAX_DIFF_BYTES || new_text.len() > MAX_DIFF_BYTES {
        return summarized(&format!("a side is over {} MiB", MAX_DIFF_BYTES >> 20));
    }
    let work = estimated_work(old_text, new_text);
    if work > MAX_DIFF_WORK {
        return summarized(&format!(
            "too many lines differ to diff here (about {work} line comparisons, over {MAX_DIFF_WORK})"
        ));
    }
    let started = Instant::now();
    let text_diff = similar::TextDiff::configure()
        .timeout(DIFF_TIMEOUT)
        .diff_lines(old_text, new_text);
    if started.elapsed() >= DIFF_TIMEOUT {
        return summarized(&format!(
            "computing the diff took over {} s",
            DIFF_TIMEOUT.as_secs()
        ));
    }
    let mut out = header;
    for hunk in text_diff.unified_diff().context_radius(3).iter_hunks() {
        let _ = writeln!(out, "{}", hunk.header());
        for change in hunk.iter_changes() {
            let sign = match change.tag() {
                similar::ChangeTag::Delete => '-',
                similar::ChangeTag::Insert => '+',
                similar::ChangeTag::Equal => ' ',
            };
            let line = change.value();
            let line = line.strip_suffix('\n').unwrap_or(line);
            let _ = writeln!(out, "{sign}{}", inert_line(line));
            if change.missing_newline() {
                out.push_str("\\ No newline at end of file\n");
            }
        }
    }
    out
}

/// The fallback: what changed, in numbers, and how to see it.
fn summary(why: &str, old: &str, new: &str, full: &str) -> String {
    let side = |text: &str| {
        format!(
            "{} bytes, {} lines, sha256 {}",
            text.len(),
            text.lines().count(),
            sha256_hex(text.as_bytes())
        )
    };
    format!(
        "diff not shown: {why}\n  current:  {}\n  proposed: {}\n  full diff: {}\n",
        side(old),
        side(new),
        inert(full)
    )
}

/// A lower bound on the Myers diff's work: (lines of both sides) × (the
/// edit distance), where the edit distance is at least the number of lines
/// one side has and the other cannot match.
fn estimated_work(old: &str, new: &str) -> u64 {
    let mut counts: HashMap<&str, i64> = HashMap::new();
    let (mut old_lines, mut new_lines) = (0u64, 0u64);
    for line in old.split_inclusive('\n') {
        *counts.entry(line).or_default() += 1;
        old_lines += 1;
    }
    for line in new.split_inclusive('\n') {
        *counts.entry(line).or_default() -= 1;
        new_lines += 1;
    }
    let unmatched: u64 = counts.values().map(|c| c.unsigned_abs()).sum();
    (old_lines + new_lines).saturating_mul(unmatched)
}

/// A deletion, shown as a diff removing every line of the file (summarized
/// like a write when it is binary or too large).
pub fn deletion(path: &str, old: Option<&[u8]>) -> String {
    let shown_path = inert(path);
    let Some(old) = old else {
        return format!("--- a/{shown_path}\n+++ /dev/null\n(already gone)\n");
    };
    let text = std::str::from_utf8(old)
        .ok()
        .filter(|_| old.len() <= MAX_DIFF_BYTES);
    let Some(text) = text else {
        return format!(
            "--- a/{shown_path}\n+++ /dev/null\nfile deleted: {} bytes, sha256 {}\n",
            old.len(),
            sha256_hex(old)
        );
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut out = format!(
        "--- a/{shown_path}\n+++ /dev/null\n@@ -1,{} +0,0 @@\n",
        lines.len()
    );
    for line in lines {
        let _ = writeln!(out, "-{}", inert_line(line));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_of_a_new_file_shows_every_line_added() {
        let d = diff("reports/x.md", None, b"# Title\nbody\n");
        assert_eq!(
            d,
            "--- /dev/null\n+++ b/reports/x.md\n@@ -0,0 +1,2 @@\n+# Title\n+body\n"
        );
    }

    #[test]
    fn diff_escapes_hostile_lines() {
        let d = diff("x", Some(b"a\n"), b"a\n\x1b]0;owned\x07\n");
        assert!(d.contains("+\\u{001b}]0;owned\\u{0007}"), "{d}");
        assert!(!d.contains('\u{1b}'));
    }

    #[test]
    fn binary_content_is_summarized() {
        let d = diff("x.bin", Some(&[0xff, 0xfe]), b"text");
        assert!(d.contains("binary file: 2 bytes -> 4 bytes"), "{d}");
    }

    /// `lines` distinct lines, each tagged with `tag`.
    fn numbered(tag: &str, lines: usize) -> String {
        (0..lines).map(|i| format!("{tag} line {i}\n")).collect()
    }

    #[test]
    fn a_large_rewrite_is_summarized_quickly() {
        let old = numbered("old", 40_000);
        let new = numbered("new", 40_000);
        let started = Instant::now();
        let d = diff_with_note(
            "big.txt",
            Some(old.as_bytes()),
            new.as_bytes(),
            "diff -u a b",
        );
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(
            d.starts_with("--- a/big.txt\n+++ b/big.txt\ndiff not shown: "),
            "{d}"
        );
        assert!(d.contains(&sha256_hex(old.as_bytes())), "{d}");
        assert!(d.contains(&sha256_hex(new.as_bytes())), "{d}");
        assert!(
            d.contains(&format!("current:  {} bytes, 40000 lines", old.len())),
            "{d}"
        );
        assert!(d.contains("full diff: diff -u a b"), "{d}");
    }

    #[test]
    fn a_small_edit_of_a_large_file_is_still_diffed() {
        let old = numbered("same", 50_000);
        let new = old.replace("same line 25000\n", "changed line\n");
        let d = diff("big.txt", Some(old.as_bytes()), new.as_bytes());
        assert!(d.contains("-same line 25000\n+changed line\n"), "{d}");
        assert!(!d.contains("diff not shown"));
    }

    #[test]
    fn a_reordering_the_estimate_cannot_see_stays_within_the_deadline() {
        // The same lines in another order: nothing unmatched, so only the
        // deadline bounds the work.
        let old = numbered("x", 30_000);
        let new: String = old.lines().rev().map(|l| format!("{l}\n")).collect();
        let started = Instant::now();
        let d = diff("perm.txt", Some(old.as_bytes()), new.as_bytes());
        assert!(started.elapsed() < DIFF_TIMEOUT + Duration::from_secs(10));
        assert!(d.starts_with("--- a/perm.txt\n+++ b/perm.txt\n"), "{d}");
    }

    #[test]
    fn the_note_is_inert() {
        let old = numbered("old", 40_000);
        let new = numbered("new", 40_000);
        let d = diff_with_note(
            "x",
            Some(old.as_bytes()),
            new.as_bytes(),
            "a\n\u{1b}[2Jhint: b",
        );
        assert!(d.contains("full diff: a\\n\\u{001b}[2Jhint: b"), "{d}");
    }
}
