//! Reading the workspace into passages.
//!
//! Only `.md` and `.txt` files count. Reports the research pipeline wrote
//! earlier ([`research_report::is_report`]) are skipped, so a run never
//! cites an earlier run's report as a source. Hidden files and folders, files over
//! [`MAX_FILE_BYTES`] and files that are not UTF-8 are skipped, and symlinks are
//! not followed, so a large or binary file cannot blow the memory limit and a
//! link loop cannot hang the walk. Entries are visited in name order so the
//! output is the same on every run.

use std::path::Path;

use harness_sdk::PluginError;

/// Files larger than this are skipped.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Folders deeper than this below the root are not entered.
const MAX_DEPTH: usize = 16;

/// A paragraph of a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Passage {
    /// Path relative to the root, `/`-separated.
    pub path: String,
    /// 1-based line of the paragraph's first line.
    pub line: usize,
    /// The paragraph's lines, joined with `\n`.
    pub text: String,
}

/// The passages of every readable text file under a root.
#[derive(Debug, Default)]
pub struct Corpus {
    pub passages: Vec<Passage>,
    /// Text files read.
    pub files: usize,
    /// Text files skipped (too large or not UTF-8).
    pub skipped: usize,
    /// Reports of earlier runs, skipped.
    pub reports: usize,
}

/// Walk `root` and split every readable text file into passages.
pub fn load(root: &Path) -> Result<Corpus, PluginError> {
    if !root.is_dir() {
        return Err(PluginError::failed(format!(
            "the workspace directory `{}` is not available to this plugin\nhint: grant it in plugin.toml with a [[grants.mounts]] entry whose guest path is `{}`",
            root.display(),
            root.display()
        )));
    }
    let mut corpus = Corpus::default();
    walk(root, "", 0, &mut corpus)?;
    Ok(corpus)
}

fn walk(dir: &Path, rel: &str, depth: usize, corpus: &mut Corpus) -> Result<(), PluginError> {
    let read_err =
        |e: std::io::Error| PluginError::failed(format!("cannot list `{}`: {e}", dir.display()));
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        let entry = entry.map_err(read_err)?;
        // Names that are not UTF-8 cannot be reported as `/`-separated paths.
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        entries.push((name, entry));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));

    for (name, entry) in entries {
        let rel_path = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        if file_type.is_dir() {
            if depth < MAX_DEPTH {
                walk(&entry.path(), &rel_path, depth + 1, corpus)?;
            }
        } else if file_type.is_file() && is_text_file(&name) {
            match read_text(&entry.path()) {
                Some(text) if research_report::is_report(&text) => corpus.reports += 1,
                Some(text) => {
                    corpus.files += 1;
                    corpus.passages.extend(split_passages(&rel_path, &text));
                }
                None => corpus.skipped += 1,
            }
        }
    }
    Ok(())
}

fn is_text_file(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".md") || lower.ends_with(".txt")
}

/// The file's text, or `None` if it is too large, unreadable or not UTF-8.
fn read_text(path: &Path) -> Option<String> {
    let size = std::fs::metadata(path).ok()?.len();
    if size > MAX_FILE_BYTES {
        return None;
    }
    let bytes = std::fs::read(path).ok()?;
    // The size is checked again: the file may have grown since `metadata`.
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return None;
    }
    String::from_utf8(bytes).ok()
}

/// Split `text` into paragraphs separated by blank lines.
pub fn split_passages(path: &str, text: &str) -> Vec<Passage> {
    let mut passages = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut start = 0;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                passages.push(Passage {
                    path: path.to_string(),
                    line: start,
                    text: current.join("\n"),
                });
                current.clear();
            }
        } else {
            if current.is_empty() {
                start = i + 1;
            }
            current.push(line.trim_end());
        }
    }
    if !current.is_empty() {
        passages.push(Passage {
            path: path.to_string(),
            line: start,
            text: current.join("\n"),
        });
    }
    passages
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_keep_their_first_line() {
        let text = "# Title\n\nFirst para\ncontinues.\n\n\n  \nSecond.\r\n";
        let p = split_passages("a.md", text);
        let got: Vec<(usize, &str)> = p.iter().map(|p| (p.line, p.text.as_str())).collect();
        assert_eq!(
            got,
            [
                (1, "# Title"),
                (3, "First para\ncontinues."),
                (8, "Second.")
            ]
        );
    }

    #[test]
    fn only_markdown_and_text_files_count() {
        assert!(is_text_file("a.md") && is_text_file("B.TXT"));
        assert!(!is_text_file("a.rs") && !is_text_file("md"));
    }
}
