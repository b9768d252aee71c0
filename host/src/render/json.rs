//! JSON that is inert on a terminal, for everything the `host` binary prints
//! as JSON (`--json`, `--format json`).
//!
//! serde_json escapes only what JSON requires (C0 controls, `"` and `\`), so a
//! plugin's text would reach the terminal with 8-bit C1 controls (U+009B is a
//! CSI to many terminals), DEL, bidi overrides, zero-width characters and
//! U+2028/U+2029 as raw bytes. [`InertFormatter`] writes every character that
//! [`is_dangerous`] as a `\uXXXX` escape (a surrogate pair outside the BMP),
//! so the output is still valid JSON that parses back to the very same
//! strings, and `host status --json` piped to a terminal is as inert as the
//! text views.

use std::io;

use serde::Serialize;
use serde_json::ser::{Formatter, PrettyFormatter};

use crate::render::is_dangerous;

/// `value` as pretty-printed JSON (two-space indent) with every dangerous
/// character escaped.
pub fn to_string_pretty<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    let mut out = Vec::with_capacity(256);
    let mut ser =
        serde_json::Serializer::with_formatter(&mut out, InertFormatter(PrettyFormatter::new()));
    value.serialize(&mut ser)?;
    Ok(into_string(out))
}

/// `value` as compact JSON with every dangerous character escaped.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    let mut out = Vec::with_capacity(128);
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        InertFormatter(serde_json::ser::CompactFormatter),
    );
    value.serialize(&mut ser)?;
    Ok(into_string(out))
}

fn into_string(bytes: Vec<u8>) -> String {
    // serde_json writes UTF-8 only and the formatter adds ASCII; a lossy
    // conversion can therefore never change anything.
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// A serde_json [`Formatter`] that lays JSON out like `F` and escapes every
/// dangerous character inside strings (and raw fragments) as `\uXXXX`.
#[derive(Debug, Clone)]
pub struct InertFormatter<F>(pub F);

/// Write `fragment`, escaping each dangerous character. Valid JSON can hold
/// such characters only inside strings, where `\uXXXX` means the same.
fn write_inert<W: ?Sized + io::Write>(writer: &mut W, fragment: &str) -> io::Result<()> {
    write_escaped(writer, fragment, is_dangerous)
}

/// Write `fragment`, each character `escape` picks as a `\uXXXX` escape.
fn write_escaped<W: ?Sized + io::Write>(
    writer: &mut W,
    fragment: &str,
    escape: impl Fn(char) -> bool,
) -> io::Result<()> {
    let mut start = 0;
    for (i, c) in fragment.char_indices() {
        if !escape(c) {
            continue;
        }
        writer.write_all(&fragment.as_bytes()[start..i])?;
        let mut units = [0u16; 2];
        for unit in c.encode_utf16(&mut units) {
            write!(writer, "\\u{unit:04x}")?;
        }
        start = i + c.len_utf8();
    }
    writer.write_all(&fragment.as_bytes()[start..])
}

/// [`InertFormatter`]'s escaping for JSON text another library serialized
/// (the MCP SDK's messages), fed as a stream cut anywhere: into writes,
/// into HTTP body chunks, inside a character. Valid JSON holds a character
/// other than ASCII only inside a string, where `\uXXXX` means the same,
/// and serde_json already escapes the C0 controls there; so every dangerous
/// character but the whitespace between tokens (`\n`, `\r`, `\t`, which
/// frame messages) is escaped, and the text still parses to the very same
/// values. Bytes that are not UTF-8 pass through unchanged.
#[derive(Debug, Default)]
pub struct InertStream {
    /// The start of a character cut off at the end of the last push.
    carry: Vec<u8>,
}

impl InertStream {
    /// Append `input`, escaped, to `out`; a character cut off at its end is
    /// held for the next push.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let joined;
        let mut rest: &[u8] = if self.carry.is_empty() {
            input
        } else {
            self.carry.extend_from_slice(input);
            joined = std::mem::take(&mut self.carry);
            &joined
        };
        let escape = |c: char| is_dangerous(c) && !matches!(c, '\n' | '\r' | '\t');
        loop {
            let (valid, after) = match std::str::from_utf8(rest) {
                Ok(text) => (text, None),
                Err(e) => {
                    let (valid, after) = rest.split_at(e.valid_up_to());
                    // The first `valid_up_to` bytes are UTF-8 by definition.
                    let text = std::str::from_utf8(valid).unwrap_or_default();
                    (text, Some((after, e.error_len())))
                }
            };
            // Writing into a Vec cannot fail.
            let _ = write_escaped(out, valid, escape);
            match after {
                None => return,
                Some((after, Some(bad))) => {
                    out.extend_from_slice(&after[..bad]);
                    rest = &after[bad..];
                }
                Some((after, None)) => {
                    self.carry = after.to_vec();
                    return;
                }
            }
        }
    }
}

impl<F: Formatter> Formatter for InertFormatter<F> {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        write_inert(writer, fragment)
    }

    fn write_raw_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        write_inert(writer, fragment)
    }

    // Layout: whatever `F` does.
    fn begin_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_array(writer)
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_array(writer)
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(writer, first)
    }

    fn end_array_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_array_value(writer)
    }

    fn begin_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_object(writer)
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_object(writer)
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(writer, first)
    }

    fn end_object_key<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_object_key(writer)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_object_value(writer)
    }

    fn end_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_object_value(writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// JSON serialized by plain serde_json, pushed in two pieces cut at every
    /// byte, comes out the same each time: inert, and parsing back to the
    /// very same value, newline framing kept.
    #[test]
    fn a_stream_cut_anywhere_is_escaped_as_a_whole_and_parses_back() {
        let value = serde_json::json!({ hostile(): [hostile(), "\u{1f600} ok"] });
        let text = format!(
            "{}\n{}\n",
            serde_json::to_string(&value).expect("json"),
            "{}"
        );
        let bytes = text.as_bytes();
        let mut whole = Vec::new();
        InertStream::default().push(bytes, &mut whole);
        let shown = String::from_utf8(whole.clone()).expect("utf-8");
        assert!(
            !shown.chars().any(|c| c != '\n' && is_dangerous(c)),
            "{shown:?}"
        );
        let mut lines = shown.lines();
        let back: serde_json::Value =
            serde_json::from_str(lines.next().expect("line")).expect("parses");
        assert_eq!(back, value);
        assert_eq!(lines.next(), Some("{}"));
        for cut in 0..=bytes.len() {
            let mut stream = InertStream::default();
            let mut out = Vec::new();
            stream.push(&bytes[..cut], &mut out);
            stream.push(&bytes[cut..], &mut out);
            assert_eq!(out, whole, "cut at {cut}");
        }
        let mut out = Vec::new();
        InertStream::default().push(b"a\xffb", &mut out);
        assert_eq!(out, b"a\xffb", "bytes that are not UTF-8 pass through");
    }

    /// Every kind of character `is_dangerous` names, and the ones JSON
    /// itself escapes, in keys and values.
    fn hostile() -> String {
        [
            "plain",
            "\u{1b}[2J",
            "\u{9b}31m",
            "\u{85}",
            "\u{7f}",
            "\u{202e}evil\u{202c}",
            "\u{2066}iso\u{2069}",
            "\u{200e}\u{200f}\u{061c}",
            "zero\u{200b}width\u{200d}\u{feff}\u{2060}",
            "\u{2028}\u{2029}",
            "\u{e0041}\u{e007f}",
            "\u{fff9}",
            "quote\" back\\ nl\n tab\t",
            "ok: é 中 🦀",
        ]
        .concat()
    }

    #[test]
    fn no_dangerous_character_survives_and_the_strings_come_back() {
        let text = hostile();
        let value = serde_json::json!({ text.clone(): [text.clone(), { "k": text.clone() }] });
        for json in [
            to_string_pretty(&value).expect("pretty"),
            to_string(&value).expect("compact"),
        ] {
            // The pretty layout's own newlines are the only control characters.
            assert!(
                !json.chars().any(|c| c != '\n' && is_dangerous(c)),
                "{json:?}"
            );
            let back: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
            assert_eq!(back, value);
        }
    }

    #[test]
    fn escapes_are_exact_and_astral_characters_become_surrogate_pairs() {
        let json = to_string(&"\u{9b}\u{7f}\u{202e}\u{2028}\u{e0041}").expect("json");
        assert_eq!(json, r#""\u009b\u007f\u202e\u2028\udb40\udc41""#);
    }

    #[test]
    fn pretty_layout_is_serde_json_s() {
        let value = serde_json::json!({ "a": [1, { "b": "c" }], "d": {} });
        assert_eq!(
            to_string_pretty(&value).expect("json"),
            serde_json::to_string_pretty(&value).expect("json")
        );
    }
}
