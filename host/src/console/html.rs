//! The one way text reaches a console page: [`escape`] (and
//! [`escape_inert`], for text [`crate::render`] already made inert, such as
//! diff lines).
//!
//! Everything on a page that the host did not write itself (paths, diffs,
//! findings, logs, run ids, reasons) goes through [`escape`], which first
//! applies the terminal rules of [`crate::render`] (control, C1, bidi,
//! zero-width and separator characters become a visible `\u{..}`; newlines
//! are kept as line structure) and then HTML-escapes the result, so no
//! markup, attribute break-out or script can come from it. The same output
//! is safe in element text and in double- or single-quoted attributes.
//! Made-visible characters are wrapped in `<span class="esc">` so a person
//! notices them.

use std::fmt::Write as _;

use crate::render::is_dangerous;

/// `text` as inert HTML: dangerous characters visible (as [`crate::render::inert_lines`]
/// shows them, in a highlighted span), `& < > " '` as entities. Newlines and
/// tabs stay as they are (plain whitespace in HTML; line breaks inside `<pre>`).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        if let Some(entity) = entity(c) {
            out.push_str(entity);
            continue;
        }
        match c {
            '\n' | '\t' => out.push(c),
            c if is_dangerous(c) => {
                let _ = write!(out, "<span class=\"esc\">\\u{{{:04x}}}</span>", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Text that [`crate::render::inert`] (or `inert_line`, or a diff of
/// [`crate::render::diff`]) already made inert, as HTML: markup as entities,
/// and each `\u{..}` mark the terminal rules left highlighted like
/// [`escape`] highlights them. Those rules keep a backslash as it is (see
/// [`crate::render`]), so a literal `\u{..}` the text itself spelled is
/// highlighted too: a false alarm, never a hidden character.
pub fn escape_inert(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix("\\u{")
            && let Some(end) = after.find('}')
            && (1..=6).contains(&end)
            && after[..end].bytes().all(|b| b.is_ascii_hexdigit())
        {
            let _ = write!(out, "<span class=\"esc\">\\u{{{}}}</span>", &after[..end]);
            rest = &after[end + 1..];
            continue;
        }
        out.push_str(&escape(&rest[..c.len_utf8()]));
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The entity for a character markup gives meaning to (`& < > " '`).
fn entity(c: char) -> Option<&'static str> {
    Some(match c {
        '&' => "&amp;",
        '<' => "&lt;",
        '>' => "&gt;",
        '"' => "&quot;",
        '\'' => "&#39;",
        _ => return None,
    })
}

/// [`escape`] for an attribute value: the same, but without the highlight
/// span (markup is not allowed inside an attribute) and newlines visible.
pub fn attr(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if let Some(entity) = entity(c) {
            out.push_str(entity);
            continue;
        }
        match c {
            c if is_dangerous(c) => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// A form field's value, percent-encoded for a URL query or path segment.
pub fn url_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char);
            }
            b => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// A file's text for a `<textarea>` (whose content is entity-decoded but not
/// parsed as markup), or `None` when it holds characters that a textarea
/// would show raw (bidi, controls other than newline and tab): such a file
/// is edited with `host approve --edit` instead.
pub fn textarea(text: &str) -> Option<String> {
    if text
        .chars()
        .any(|c| c != '\n' && c != '\t' && is_dangerous(c))
    {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_entities_and_controls_are_visible() {
        let shown = escape("<script>alert('x')</script>\u{1b}[31m\u{202e}txt.exe\n&");
        assert_eq!(
            shown,
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;<span class=\"esc\">\\u{001b}</span>[31m<span class=\"esc\">\\u{202e}</span>txt.exe\n&amp;"
        );
        assert!(!shown.chars().any(|c| c != '\n' && is_dangerous(c)));
    }

    #[test]
    fn marks_of_inert_text_are_highlighted_and_backslashes_kept() {
        let inert = crate::render::inert_line("<b>\u{1b}[2J C:\\dir \u{202e}");
        assert_eq!(
            escape_inert(&inert),
            "&lt;b&gt;<span class=\"esc\">\\u{001b}</span>[2J C:\\dir <span class=\"esc\">\\u{202e}</span>"
        );
    }

    #[test]
    fn attributes_cannot_be_broken_out_of() {
        let shown = attr("\" onmouseover=\"x\n\u{2066}");
        assert_eq!(shown, "&quot; onmouseover=&quot;x\\u{000a}\\u{2066}");
    }

    #[test]
    fn url_components_are_percent_encoded() {
        assert_eq!(url_component("a b/<c>"), "a%20b%2F%3Cc%3E");
    }
}
