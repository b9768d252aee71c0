//! Spotting credentials in proposed writes.
//!
//! Hand-rolled matchers for the shapes that leak most often: AWS access key
//! ids, PEM private keys, GitHub personal tokens, `sk-` API keys and inline
//! passwords. Findings name the kind and the line, never the secret itself, so
//! the review does not leak what it caught.

/// A named matcher: what it finds, and whether a line has one.
type Check = (&'static str, fn(&str) -> bool);

/// Every matcher, in the order findings are reported.
const CHECKS: [Check; 5] = [
    ("an AWS access key id", aws_key_id),
    ("a private key", private_key),
    ("a GitHub token", github_token),
    ("an `sk-` API key", sk_key),
    ("an inline password", password),
];

/// One suspected secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suspect {
    /// 1-based line.
    pub line: usize,
    /// What it looks like, for people.
    pub kind: &'static str,
}

/// Every line of `text` that looks like it holds a secret (one report per kind
/// and line).
pub fn scan(text: &str) -> Vec<Suspect> {
    let mut found = Vec::new();
    for (i, line) in text.lines().enumerate() {
        for (kind, check) in CHECKS {
            if check(line) {
                found.push(Suspect { line: i + 1, kind });
            }
        }
    }
    found
}

/// Byte offsets just after each occurrence of `prefix` that starts a word.
fn word_starts<'a>(line: &'a str, prefix: &'a str) -> impl Iterator<Item = usize> + 'a {
    line.match_indices(prefix).filter_map(move |(at, _)| {
        let boundary = line[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_ascii_alphanumeric());
        boundary.then_some(at + prefix.len())
    })
}

/// `AKIA` followed by 16 uppercase letters or digits.
fn aws_key_id(line: &str) -> bool {
    word_starts(line, "AKIA").any(|end| {
        let rest = &line.as_bytes()[end..];
        rest.len() >= 16
            && rest[..16]
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    })
}

/// `-----BEGIN ... PRIVATE KEY-----`.
fn private_key(line: &str) -> bool {
    line.find("-----BEGIN ")
        .is_some_and(|at| line[at..].contains("PRIVATE KEY-----"))
}

/// `ghp_` followed by 36 letters or digits.
fn github_token(line: &str) -> bool {
    word_starts(line, "ghp_").any(|end| alnum_run(&line[end..], false) >= 36)
}

/// `sk-` followed by 20 or more letters or digits (dashes and underscores,
/// as in `sk-proj-...`, may separate them).
fn sk_key(line: &str) -> bool {
    word_starts(line, "sk-").any(|end| alnum_run(&line[end..], true) >= 20)
}

/// `password` followed by optional whitespace and `:` or `=`, any case.
fn password(line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    lower.match_indices("password").any(|(at, word)| {
        lower[at + word.len()..]
            .trim_start()
            .starts_with([':', '='])
    })
}

/// How many ASCII letters and digits start `s`, optionally skipping `-`/`_`.
fn alnum_run(s: &str, allow_separators: bool) -> usize {
    let mut count = 0;
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() {
            count += 1;
        } else if !(allow_separators && (b == b'-' || b == b'_')) {
            break;
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<&'static str> {
        scan(text).into_iter().map(|s| s.kind).collect()
    }

    #[test]
    fn finds_each_kind_of_secret() {
        assert_eq!(
            kinds("key AKIAIOSFODNN7EXAMPLE here"),
            ["an AWS access key id"]
        );
        assert_eq!(kinds("-----BEGIN RSA PRIVATE KEY-----"), ["a private key"]);
        assert_eq!(
            kinds("-----BEGIN OPENSSH PRIVATE KEY-----"),
            ["a private key"]
        );
        assert_eq!(
            kinds(&format!("token ghp_{}", "a1".repeat(18))),
            ["a GitHub token"]
        );
        assert_eq!(
            kinds("OPENAI=sk-abcdefghij0123456789xy"),
            ["an `sk-` API key"]
        );
        assert_eq!(kinds("sk-proj-abcdefghij0123456789"), ["an `sk-` API key"]);
        assert_eq!(kinds("Password = hunter2"), ["an inline password"]);
        assert_eq!(scan("ok\npassword: x")[0].line, 2);
    }

    #[test]
    fn ordinary_prose_is_not_a_secret() {
        let prose = "The task-runner (risk-free) asks for a password before it runs.\n\
                     AKIA is a prefix. -----BEGIN CERTIFICATE----- ghp_short sk-short\n\
                     A passwords list: none. The key of a sandbox is its capability set.";
        assert_eq!(kinds(prose), Vec::<&str>::new());
    }
}
