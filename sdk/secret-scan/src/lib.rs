//! Spotting credentials in text, for the shipped reviewers (`reviewer`,
//! `generic-reviewer`): one copy of the matchers, so the two cannot drift.
//!
//! Hand-rolled matchers for the shapes that leak most often: AWS access key
//! ids, PEM private keys, GitHub personal tokens, `sk-` API keys, inline
//! passwords, and high-entropy values assigned to `api_key`, `token`,
//! `secret` and the like. Findings name the kind and the line, never the
//! secret itself, so the review does not leak what it caught.

/// A named matcher: what it finds, and whether a line has one.
type Check = (&'static str, fn(&str) -> bool);

/// Every matcher, in the order findings are reported.
const CHECKS: [Check; 6] = [
    ("an AWS access key id", aws_key_id),
    ("a private key", private_key),
    ("a GitHub token", github_token),
    ("an `sk-` API key", sk_key),
    ("an inline password", password),
    (
        "a high-entropy value assigned to a key or token name",
        keyed_secret,
    ),
];

/// Names that, followed by `=` or `:`, usually hold a credential.
const SECRET_NAMES: [&str; 6] = [
    "api_key",
    "api-key",
    "apikey",
    "token",
    "secret",
    "access_key",
];

/// A value shorter than this is not taken for a credential.
const MIN_SECRET_CHARS: usize = 20;

/// Shannon entropy (bits per character) above which a value looks random:
/// prose and identifiers stay well below, base64 and hex keys above.
const MIN_SECRET_ENTROPY: f64 = 3.5;

/// One suspected secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suspect {
    /// 1-based line.
    pub line: usize,
    /// What it looks like, for people.
    pub kind: &'static str,
}

impl Suspect {
    /// The reviewers' finding for this suspect in a proposed file: its line
    /// and kind, never the value, and what to do about it.
    pub fn file_message(&self) -> String {
        format!(
            "line {} looks like it contains {}; remove it before this file is written",
            self.line, self.kind
        )
    }
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

/// One of [`SECRET_NAMES`] (any case, as the end of a longer name such as
/// `GITHUB_TOKEN` or `client_secret` too), then optional quotes and
/// whitespace, `=` or `:`, optional quotes, and a value of at least
/// [`MIN_SECRET_CHARS`] key-like characters (letters, digits, `+/=_-.`) that
/// mixes letters and digits with an entropy of at least [`MIN_SECRET_ENTROPY`].
fn keyed_secret(line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    SECRET_NAMES.iter().any(|name| {
        lower.match_indices(name).any(|(at, word)| {
            let mut rest = lower[at + word.len()..].trim_start_matches(['"', '\'']);
            rest = rest.trim_start();
            let Some(value) = rest.strip_prefix(['=', ':']) else {
                return false;
            };
            let value_start = line.len() - value.len();
            let value = line[value_start..]
                .trim_start()
                .trim_start_matches(['"', '\'']);
            let token: String = value
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "+/=_-.".contains(*c))
                .collect();
            token.len() >= MIN_SECRET_CHARS
                && token.chars().any(|c| c.is_ascii_alphabetic())
                && token.chars().any(|c| c.is_ascii_digit())
                && entropy(&token) >= MIN_SECRET_ENTROPY
        })
    })
}

/// Shannon entropy of `s` in bits per character.
fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        counts[usize::from(b)] += 1;
    }
    let len = s.len() as f64;
    counts
        .iter()
        .filter(|&&n| n > 0)
        .map(|&n| {
            let p = f64::from(n) / len;
            -p * p.log2()
        })
        .sum()
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
    fn a_files_finding_names_line_and_kind_but_not_the_secret() {
        let found = scan("ok\npassword = hunter2-not-quoted\n");
        assert_eq!(found.len(), 1, "{found:?}");
        let message = found[0].file_message();
        assert_eq!(
            message,
            "line 2 looks like it contains an inline password; remove it before this file is written"
        );
        assert!(!message.contains("hunter2"));
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
        let keyed = "a high-entropy value assigned to a key or token name";
        assert_eq!(kinds("api_key=Zx81kQ2mWv7rT4pLs9Yb3nC6"), [keyed]);
        assert_eq!(kinds("GITHUB_TOKEN: \"q8Wm2Rk5Tz7Lp0Vx3Nb6Hc9J\""), [keyed]);
        assert_eq!(kinds("client_secret = 'Tq3v9KmZ2xW8pR5nL7bY4cH1'"), [keyed]);
        assert_eq!(scan("ok\npassword: x")[0].line, 2);
    }

    #[test]
    fn ordinary_prose_is_not_a_secret() {
        let prose = "The task-runner (risk-free) asks for a password before it runs.\n\
                     AKIA is a prefix. -----BEGIN CERTIFICATE----- ghp_short sk-short\n\
                     A passwords list: none. The key of a sandbox is its capability set.\n\
                     token = the_name_of_a_configuration_setting\n\
                     api_key: aaaaaaaaaaaaaaaaaaaaaaaa1\n\
                     secret: 12345678901234567890";
        assert_eq!(kinds(prose), Vec::<&str>::new());
    }
}
