//! The admin's call policy: an ordered list of `allow` / `ask` / `deny`
//! rules on the plugin's name and its arguments' values, first match wins.
//! It lives apart from the plugins (default `<plugins>/policy.toml`, or
//! `--policy FILE`), is read once at start, and nothing an agent can call
//! changes it.
//!
//! ```toml
//! default = "allow"          # when no rule matches (allow, ask or deny)
//!
//! [[rule]]
//! name = "no-secrets"        # named in the journal and in a denial
//! plugin = "search"          # glob on the plugin name (default "*")
//! action = "deny"
//! when = { "/query" = "*password*" }   # glob on the value at a JSON pointer
//!
//! [[rule]]
//! plugin = "fetch"
//! action = "ask"
//! ```
//!
//! A `when` entry matches the value at its JSON pointer (RFC 6901) in the
//! call's arguments: a string as is, anything else as its JSON text; a
//! missing value never matches. Value globs are case-insensitive (`*`
//! any run of characters, `?` one character); all `when` entries of a rule
//! must match.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The policy file a plugins folder may hold.
pub const POLICY_FILE: &str = "policy.toml";

/// What a rule decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Action {
    /// The call runs.
    Allow,
    /// A person is asked first (MCP elicitation); the call runs if they accept.
    Ask,
    /// The call is refused.
    Deny,
}

impl Action {
    /// The action's name as written in the policy file and the journal.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    name: Option<String>,
    #[serde(default = "any")]
    plugin: String,
    action: Action,
    #[serde(default)]
    when: BTreeMap<String, String>,
}

fn any() -> String {
    "*".to_string()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default = "allow")]
    default: Action,
    #[serde(default)]
    rule: Vec<RuleFile>,
}

fn allow() -> Action {
    Action::Allow
}

/// One rule, as loaded.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Its `name`, else `#<n>` (1-based position in the file).
    pub name: String,
    /// Glob on the plugin name (`*` when the rule gives none).
    pub plugin: String,
    /// What the rule decides when it matches.
    pub action: Action,
    /// JSON pointer and value glob pairs, all of which must match.
    pub when: Vec<(String, String)>,
}

/// The loaded policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Where it was read from (`None`: no file, everything allowed).
    pub path: Option<PathBuf>,
    /// What applies when no rule matches.
    pub default: Action,
    /// The rules in file order; the first that matches decides.
    pub rules: Vec<Rule>,
}

/// The decision on one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// What was decided.
    pub action: Action,
    /// The rule that matched; `None` when the default applied.
    pub rule: Option<String>,
    /// One sentence for the journal and the agent.
    pub reason: String,
}

/// A policy file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot use the policy file `{}`: {reason}\nhint: see README \"Agents (MCP)\" for the format; a policy is an ordered list of [[rule]] tables with plugin, action (allow, ask, deny) and when = {{ \"/json/pointer\" = \"glob\" }}",
    crate::render::inert_path(.path)
)]
pub struct PolicyError {
    /// Path of the policy file.
    pub path: PathBuf,
    /// Why it cannot be used (unreadable, does not parse, a bad pointer...).
    pub reason: String,
}

impl Policy {
    /// Everything allowed (still bounded by each plugin's grants).
    pub fn allow_all() -> Policy {
        Policy {
            path: None,
            default: Action::Allow,
            rules: Vec::new(),
        }
    }

    /// Read `explicit`, else `<plugins_dir>/policy.toml` if it exists, else
    /// [`Policy::allow_all`]. An explicit file must exist.
    pub fn load(plugins_dir: &Path, explicit: Option<&Path>) -> Result<Policy, PolicyError> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => {
                let p = plugins_dir.join(POLICY_FILE);
                if std::fs::symlink_metadata(&p).is_err() {
                    return Ok(Policy::allow_all());
                }
                p
            }
        };
        let err = |reason: String| PolicyError {
            path: path.clone(),
            reason,
        };
        let text = crate::bounded_read::read_text(
            &path,
            1 << 20,
            "policy file",
            crate::bounded_read::Symlinks::Follow,
        )
        .map_err(|e| err(format!("{e:#}")))?;
        Self::parse(&text)
            .map(|mut p| {
                p.path = Some(path.clone());
                p
            })
            .map_err(err)
    }

    /// Parse a policy's TOML text.
    pub fn parse(text: &str) -> Result<Policy, String> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| e.message().to_string())?;
        let mut rules = Vec::with_capacity(file.rule.len());
        for (i, r) in file.rule.into_iter().enumerate() {
            let name = r.name.unwrap_or_else(|| format!("#{}", i + 1));
            for pointer in r.when.keys() {
                if !(pointer.is_empty() || pointer.starts_with('/')) {
                    return Err(format!(
                        "rule `{}`: `{}` is not a JSON pointer (it must start with `/`, e.g. \"/query\")",
                        crate::render::inert(&name),
                        crate::render::inert(pointer)
                    ));
                }
            }
            rules.push(Rule {
                name,
                plugin: r.plugin,
                action: r.action,
                when: r.when.into_iter().collect(),
            });
        }
        Ok(Policy {
            path: None,
            default: file.default,
            rules,
        })
    }

    /// Decide on a call of `plugin` with `arguments`: the first rule that
    /// matches, else the default.
    pub fn decide(&self, plugin: &str, arguments: &serde_json::Value) -> Decision {
        for rule in &self.rules {
            if !glob(&rule.plugin, plugin, false) {
                continue;
            }
            let all = rule.when.iter().all(|(pointer, pattern)| {
                arguments
                    .pointer(pointer)
                    .is_some_and(|v| glob(pattern, &value_text(v), true))
            });
            if all {
                let mut reason = format!(
                    "policy rule `{}` ({}) {}s calls of `{}`",
                    rule.name,
                    self.origin(),
                    rule.action.as_str(),
                    rule.plugin
                );
                for (pointer, pattern) in &rule.when {
                    reason.push_str(&format!(" where `{pointer}` matches `{pattern}`"));
                }
                return Decision {
                    action: rule.action,
                    rule: Some(rule.name.clone()),
                    reason: crate::render::inert(&reason),
                };
            }
        }
        Decision {
            action: self.default,
            rule: None,
            reason: format!(
                "no policy rule matched; the default ({}) is {}",
                self.origin(),
                self.default.as_str()
            ),
        }
    }

    fn origin(&self) -> String {
        match &self.path {
            Some(p) => crate::render::inert_path(p),
            None => "no policy file".to_string(),
        }
    }
}

fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Whether `text` matches `pattern` (`*` any run, `?` one character).
pub fn glob(pattern: &str, text: &str, case_insensitive: bool) -> bool {
    let fold = |s: &str| -> Vec<char> {
        if case_insensitive {
            s.chars().flat_map(char::to_lowercase).collect()
        } else {
            s.chars().collect()
        }
    };
    let (p, t) = (fold(pattern), fold(text));
    // Iterative wildcard matching with one backtrack point: linear in
    // practice, never exponential on a hostile argument.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::{Action, Policy, glob};

    #[test]
    fn globs_match_runs_and_single_characters() {
        assert!(glob("*password*", "my PassWord here", true));
        assert!(!glob("*password*", "my pass word", true));
        assert!(glob("se?rch", "search", false));
        assert!(glob("*", "", false));
        assert!(!glob("search", "Search", false));
        assert!(glob("a*b*c", "aXXbYYc", false));
    }

    #[test]
    fn first_matching_rule_wins_and_the_default_applies_otherwise() {
        let policy = Policy::parse(
            r#"
default = "ask"
[[rule]]
name = "no-secrets"
plugin = "search"
action = "deny"
when = { "/query" = "*password*" }
[[rule]]
plugin = "search"
action = "allow"
"#,
        )
        .expect("parses");
        let deny = policy.decide("search", &serde_json::json!({"query": "root PASSWORD"}));
        assert_eq!(deny.action, Action::Deny);
        assert_eq!(deny.rule.as_deref(), Some("no-secrets"));
        assert!(deny.reason.contains("no-secrets"), "{}", deny.reason);
        let allow = policy.decide("search", &serde_json::json!({"query": "wasm"}));
        assert_eq!(
            (allow.action, allow.rule.as_deref()),
            (Action::Allow, Some("#2"))
        );
        let missing = policy.decide("search", &serde_json::json!({}));
        assert_eq!(missing.action, Action::Allow);
        let other = policy.decide("fetch", &serde_json::json!({}));
        assert_eq!((other.action, other.rule), (Action::Ask, None));
    }

    #[test]
    fn bad_pointers_and_unknown_fields_are_refused() {
        let e = Policy::parse("[[rule]]\naction = \"deny\"\nwhen = { \"query\" = \"x\" }")
            .expect_err("pointer");
        assert!(e.contains("JSON pointer"), "{e}");
        assert!(Policy::parse("[[rule]]\naction = \"deny\"\nplugins = \"x\"").is_err());
        assert!(Policy::parse("[[rule]]\naction = \"maybe\"").is_err());
    }
}
