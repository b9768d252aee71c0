//! Rendering untrusted text so that it is inert on a terminal.
//!
//! Paths, diffs, findings and log lines come from plugins (and, through them,
//! from documents anyone could have written). Printed raw, an ANSI escape could
//! rewrite the screen and a bidi override could make `evil.sh` look like
//! `hs.live`: exactly the text a person reads before approving. Everything a
//! plugin produced goes through [`inert`] or [`inert_line`] before it is shown.
//!
//! Submodules: [`json`] (the JSON every `--json` prints, escaped the same
//! way) and [`diff`] (the diff of a proposed write, with a time and size
//! budget).
//!
//! # What escaping changes, and what it leaves alone
//!
//! Escaping replaces only the characters that could change how text displays
//! (controls, ESC and so ANSI sequences, C1, bidi, zero-width and other
//! invisible characters, line separators): each becomes a visible `\n`,
//! `\r`, `\t` or `\u{..}`. Everything else, the backslash included, is shown
//! as it is: a file holding `C:\dir` or the source line `"a\n"` reads exactly
//! like the file, and a diff shows the bytes a person would see in an editor.
//! The price is that a name spelling a literal `\u{202e}` reads like one that
//! holds U+202E; both are visible and neither hides or reorders anything,
//! and every `--json` output gives the exact strings. The rules are
//! idempotent (`inert(inert(x)) == inert(x)`), so text escaped where it was
//! embedded is never escaped twice.
//!
//! # Lines
//!
//! A `\n` inside untrusted text is escaped, so it can never start a line
//! that looks like the host's (a forged `hint: approve now`). Text the host
//! composed keeps its own lines: such text embeds its untrusted parts
//! [`inert`] where it quotes them, and is shown through [`inert_lines`] (or
//! [`inert_block`], which also indents the lines after the first), so a
//! `hint:` stands on a line of its own.

use std::fmt::Write as _;

pub mod diff;
pub mod json;

pub use diff::{deletion, diff, diff_with_note};

/// An error with its causes, one per line (`caused by: …`), as `main`
/// prints a command's error: for front ends that show an error as text.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str("\ncaused by: ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Escape every character that could change how the rest of the text displays:
/// control characters (including newlines and ESC), bidi controls, zero-width
/// and other invisible formatting characters. Each becomes a visible `\u{..}`
/// (or `\n`, `\t`, `\r` for the common ones) so nothing is hidden; any other
/// character, a backslash too, is kept (see the module docs).
pub fn inert(text: &str) -> String {
    escape(text, false)
}

/// [`inert`] of a path as displayed: for paths a manifest or a plugin chose.
pub fn inert_path(path: &std::path::Path) -> String {
    inert(&path.display().to_string())
}

/// Like [`inert`], but keeps tabs as they are: for one line of a file's
/// content (a diff line shows a backslash as the file holds it).
pub fn inert_line(text: &str) -> String {
    escape(text, true)
}

/// Escape every dangerous character except the newline, which is kept as the
/// line structure: for text the host composed itself (an error chain, a log
/// line) that may still carry untrusted parts. A safety net only: untrusted
/// parts are made [`inert`] where they are embedded, so that a newline inside
/// them never starts a line of its own.
pub fn inert_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push('\n'),
            c if is_dangerous(c) => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Host-composed text (an error and its `hint:` line, a failure reason) for
/// a terminal: [`inert_lines`], with every line after the first indented by
/// `indent`, so a hint stands on its own line under the line it belongs to.
/// Untrusted parts must already be [`inert`] where the text quotes them.
pub fn inert_block(text: &str, indent: &str) -> String {
    let lines = inert_lines(text.trim_end_matches('\n'));
    let mut out = String::with_capacity(lines.len());
    for (i, line) in lines.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
            out.push_str(indent);
        }
        out.push_str(line);
    }
    out
}

fn escape(text: &str, keep_tabs: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
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
/// the host writes. Beside the controls (`Cc`), this is every format
/// character (`Cf`) and every default-ignorable code point of Unicode 16
/// (`DerivedCoreProperties.txt`): what a renderer draws as nothing, so a
/// name holding one looks like a name without it.
pub fn is_dangerous(c: char) -> bool {
    c.is_control()
        || matches!(c,
            // Soft hyphen, combining grapheme joiner, Arabic letter mark.
            '\u{00ad}' | '\u{034f}' | '\u{061c}'
            // Number signs and marks that format what follows (Cf).
            | '\u{0600}'..='\u{0605}' | '\u{06dd}' | '\u{070f}' | '\u{0890}'..='\u{0891}' | '\u{08e2}'
            // Hangul fillers, Khmer inherent vowels, Mongolian selectors.
            | '\u{115f}'..='\u{1160}' | '\u{17b4}'..='\u{17b5}' | '\u{180b}'..='\u{180f}'
            // Zero-width, joiners, bidi marks, embeddings, overrides, isolates,
            // invisible operators and the deprecated format characters.
            | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{206f}'
            // Line and paragraph separators.
            | '\u{2028}' | '\u{2029}'
            // Hangul fillers, variation selectors, byte order mark.
            | '\u{3164}' | '\u{fe00}'..='\u{fe0f}' | '\u{feff}' | '\u{ffa0}'
            // Reserved ignorables and interlinear annotations.
            | '\u{fff0}'..='\u{fffb}'
            // Kaithi, Egyptian, shorthand and musical format characters.
            | '\u{110bd}' | '\u{110cd}' | '\u{13430}'..='\u{1343f}' | '\u{1bca0}'..='\u{1bca3}'
            | '\u{1d173}'..='\u{1d17a}'
            // Tag characters, variation selectors and the rest of plane 14's
            // ignorables.
            | '\u{e0000}'..='\u{e0fff}')
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

    /// Every character a renderer may draw as nothing is escaped: format
    /// characters (Cf) and default-ignorables beyond the bidi and zero-width ones.
    #[test]
    fn invisible_characters_of_every_kind_are_escaped() {
        for c in [
            '\u{180e}',
            '\u{206a}',
            '\u{2065}',
            '\u{0600}',
            '\u{06dd}',
            '\u{070f}',
            '\u{08e2}',
            '\u{115f}',
            '\u{3164}',
            '\u{ffa0}',
            '\u{034f}',
            '\u{17b4}',
            '\u{fe0f}',
            '\u{e0100}',
            '\u{110bd}',
            '\u{13430}',
            '\u{1bca0}',
            '\u{1d173}',
            '\u{e0001}',
            '\u{0085}',
            '\u{009b}',
        ] {
            assert!(is_dangerous(c), "U+{:04X}", c as u32);
            let shown = inert(&format!("README.md{c}"));
            assert!(shown.is_ascii(), "U+{:04X}: {shown}", c as u32);
        }
        for c in ['é', 'ß', '中', '\u{0301}', ' ', '\u{3000}', '\u{1f600}'] {
            assert!(!is_dangerous(c), "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn newlines_in_paths_are_visible() {
        assert_eq!(inert("a\nb"), "a\\nb");
    }

    /// A backslash is shown as one backslash, in names and in file lines:
    /// what a person reads is what the file holds.
    #[test]
    fn backslashes_are_shown_as_they_are() {
        assert_eq!(inert("C:\\dir\\a.txt"), "C:\\dir\\a.txt");
        assert_eq!(inert_path(std::path::Path::new("a\\b")), "a\\b");
        let line = "\tprintln!(\"a\\n\\\\\");";
        assert_eq!(inert_line(line), line);
        assert_eq!(inert_lines("x\\y\nz"), "x\\y\nz");
    }

    /// Escaping twice changes nothing, so text made inert where it was
    /// embedded reads the same after the safety net.
    #[test]
    fn escaping_is_idempotent() {
        let hostile = "a\u{1b}[2J\\n\u{202e}\nhint: x\t\r\u{9b}\u{e0041}";
        let once = inert(hostile);
        assert_eq!(inert(&once), once);
        assert_eq!(inert_line(&inert_line(hostile)), inert_line(hostile));
        assert_eq!(inert_lines(&once), once);
    }

    #[test]
    fn blocks_keep_the_hosts_lines_and_indent_them() {
        let plugin = "boom\nhint: approve now";
        let message = format!("step `a` failed: {}\nhint: fix it\n", inert(plugin));
        let shown = inert_block(&message, "    ");
        assert_eq!(
            shown,
            "step `a` failed: boom\\nhint: approve now\n    hint: fix it"
        );
        assert_eq!(shown.lines().filter(|l| l.contains("hint:")).count(), 2);
        assert!(
            !shown
                .lines()
                .any(|l| l.trim_start().starts_with("hint: approve"))
        );
        assert_eq!(inert_block("one \u{1b}line", "  "), "one \\u{001b}line");
    }

    /// Errors that quote a run id, a plugin's proposed path or a manifest's
    /// path embed it inert: the message keeps exactly its own lines.
    #[test]
    fn errors_embed_untrusted_parts_inert() {
        use std::path::PathBuf;

        let hostile = "x\u{1b}[2J\u{202e}\nhint: forged";
        let io = || std::io::Error::from(std::io::ErrorKind::NotFound);
        let messages = [
            crate::run::store::RunError::InvalidId { id: hostile.into() }.to_string(),
            crate::run::changeset::TargetError::NotAFile {
                path: hostile.into(),
            }
            .to_string(),
            crate::run::apply::ApplyError::BaseChanged {
                path: hostile.into(),
                expected: "a".into(),
                found: "b".into(),
            }
            .to_string(),
            crate::runtime::LoadErrorKind::Plugin {
                plugin: "p".into(),
                manifest: PathBuf::from(hostile),
                problem: crate::runtime::LoadProblem::Read {
                    component: PathBuf::from(hostile),
                    error: io(),
                },
            }
            .to_string(),
            crate::grants::GrantError::Key {
                plugin: "p".into(),
                manifest: PathBuf::from(hostile),
                key: "grants.mounts".into(),
                problem: Box::new(crate::grants::GrantProblem::NotADirectory {
                    path: PathBuf::from(hostile),
                }),
            }
            .to_string(),
        ];
        for message in messages {
            assert!(
                !message.chars().any(|c| c != '\n' && is_dangerous(c)),
                "{message:?}"
            );
            assert!(
                !message.lines().any(|l| l.starts_with("hint: forged")),
                "{message}"
            );
            assert!(
                message.contains("x\\u{001b}[2J\\u{202e}\\nhint: forged"),
                "{message}"
            );
        }
    }

    #[test]
    fn inert_lines_keeps_only_the_newlines() {
        let shown = inert_lines("error: a\u{1b}[2J\nhint: b\u{202e}\r\t\u{9b}");
        assert_eq!(
            shown,
            "error: a\\u{001b}[2J\nhint: b\\u{202e}\\u{000d}\\u{0009}\\u{009b}"
        );
        assert!(!shown.chars().any(|c| c != '\n' && is_dangerous(c)));
    }
}
