//! Path globs for `allow-paths`, `deny-paths` and `warn-paths`.
//!
//! Matched against the relative, `/`-separated path a tool proposed:
//! - `*` matches any run of characters inside one path component, `?` one
//!   character; everything else (brackets included) is literal;
//! - `**` as a whole component matches any number of components (none too):
//!   `.git/**` is everything under `.git/`, `reports/**/draft.md` any depth;
//! - a pattern without `/` matches any single component, as in a
//!   `.gitignore`: `*.sh` matches `run.sh` and `tools/run.sh`.

/// Why a glob is refused.
pub fn check(pattern: &str) -> Result<(), String> {
    if pattern.is_empty() {
        return Err("an empty pattern".into());
    }
    if pattern.starts_with('/') {
        return Err(format!(
            "`{pattern}` is absolute; patterns match paths relative to the output directory"
        ));
    }
    if pattern.split('/').any(|c| c.is_empty() || c == "..") {
        return Err(format!(
            "`{pattern}` has an empty or `..` component; write e.g. `dir/**` or `*.sh`"
        ));
    }
    Ok(())
}

/// Whether `path` matches `pattern` (see the module docs).
pub fn matches(pattern: &str, path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    if !pattern.contains('/') {
        return parts
            .iter()
            .any(|c| component(pattern.as_bytes(), c.as_bytes()));
    }
    let pattern: Vec<&str> = pattern.split('/').collect();
    components(&pattern, &parts)
}

/// Component-wise match, `**` spanning any number of components.
fn components(pattern: &[&str], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|skip| components(rest, &path[skip..])),
        Some((first, rest)) => match path.split_first() {
            Some((head, tail)) => {
                component(first.as_bytes(), head.as_bytes()) && components(rest, tail)
            }
            None => false,
        },
    }
}

/// `*` and `?` inside one component.
fn component(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|skip| component(rest, &text[skip..])),
        Some((b'?', rest)) => !text.is_empty() && component(rest, &text[1..]),
        Some((c, rest)) => text.first() == Some(c) && component(rest, &text[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_without_a_slash_match_any_component() {
        assert!(matches("*.sh", "run.sh"));
        assert!(matches("*.sh", "tools/deep/run.sh"));
        assert!(!matches("*.sh", "run.shx"));
        assert!(matches("node_modules", "a/node_modules/x.js"));
        assert!(matches("?.txt", "a/b.txt"));
        assert!(!matches("?.txt", "ab.txt"));
    }

    #[test]
    fn double_star_spans_components() {
        assert!(matches(".git/**", ".git/config"));
        assert!(matches(".git/**", ".git/hooks/pre-commit"));
        assert!(!matches(".git/**", "src/.git/config"));
        assert!(matches("**/.git/**", "src/.git/config"));
        assert!(matches("reports/**/*.md", "reports/a.md"));
        assert!(matches("reports/**/*.md", "reports/2026/a.md"));
        assert!(!matches("reports/*.md", "reports/2026/a.md"));
        assert!(!matches("reports/*.md", "other/a.md"));
    }

    #[test]
    fn bad_patterns_are_refused() {
        for bad in ["", "/etc/**", "a//b", "../x", "a/../b"] {
            assert!(check(bad).is_err(), "{bad}");
        }
        assert!(check("reports/**").is_ok());
    }
}
