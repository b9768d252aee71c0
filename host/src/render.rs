//! Rendering untrusted text so that it is inert on a terminal.
//!
//! Paths, diffs, findings and log lines come from plugins (and, through them,
//! from documents anyone could have written). Printed raw, an ANSI escape could
//! rewrite the screen and a bidi override could make `evil.sh` look like
//! `hs.live`: exactly the text a person reads before approving. Everything a
//! plugin produced goes through [`inert`] or [`inert_line`] before it is shown.

use std::fmt::Write as _;

/// Escape every character that could change how the rest of the text displays:
/// control characters (including newlines and ESC), bidi controls, zero-width
/// and other invisible formatting characters. Each becomes a visible `\u{..}`
/// (or `\n`, `\t`, `\r`, `\\` for the common ones) so nothing is hidden.
pub fn inert(text: &str) -> String {
    escape(text, false)
}

/// Like [`inert`], but keeps tabs as they are: for one line of a file's content.
pub fn inert_line(text: &str) -> String {
    escape(text, true)
}

fn escape(text: &str, keep_tabs: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' if keep_tabs => out.push('\t'),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_dangerous(c) => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Whether `c` could change how surrounding text displays (controls, C1,
/// bidi, zero-width and invisible formatting characters, line and paragraph
/// separators). Such characters are escaped by [`inert`] and refused in paths
/// the host writes.
pub fn is_dangerous(c: char) -> bool {
    c.is_control()
        || matches!(c,
            // Bidi embeddings, overrides and isolates, and the marks.
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
            // Zero-width and invisible formatting characters.
            | '\u{200b}'..='\u{200d}' | '\u{2060}'..='\u{2064}' | '\u{feff}' | '\u{00ad}'
            // Line and paragraph separators.
            | '\u{2028}' | '\u{2029}'
            // Interlinear annotations and tag characters.
            | '\u{fff9}'..='\u{fffb}' | '\u{e0000}'..='\u{e007f}')
}

/// A unified diff of a proposed write against the current file, with every line
/// rendered inert. `old` is `None` when the file does not exist yet.
pub fn diff(path: &str, old: Option<&[u8]>, new: &[u8]) -> String {
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
    let mut out = format!("--- {old_header}\n+++ b/{shown_path}\n");
    let text_diff = similar::TextDiff::from_lines(old_text, new_text);
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

/// A deletion, shown as a diff removing every line of the file.
pub fn deletion(path: &str, old: Option<&[u8]>) -> String {
    let shown_path = inert(path);
    let Some(old) = old else {
        return format!("--- a/{shown_path}\n+++ /dev/null\n(already gone)\n");
    };
    let Ok(text) = std::str::from_utf8(old) else {
        return format!(
            "--- a/{shown_path}\n+++ /dev/null\nbinary file deleted: {} bytes\n",
            old.len()
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
    fn ansi_and_bidi_are_escaped() {
        let evil = "ok\u{1b}[2J\u{202e}hs.live\u{2066}";
        let shown = inert(evil);
        assert_eq!(shown, "ok\\u{001b}[2J\\u{202e}hs.live\\u{2066}");
        assert!(!shown.chars().any(is_dangerous));
    }

    #[test]
    fn newlines_in_paths_are_visible() {
        assert_eq!(inert("a\nb\\c"), "a\\nb\\\\c");
    }

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
}
