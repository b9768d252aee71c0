//! The reviewer's configuration: the workflow's `[review] input` table,
//! parsed strictly (an unknown key is `invalid-input` naming it) and checked
//! before anything is reviewed, so a typo fails the run saying what to fix
//! instead of silently loosening a rule.

use harness_sdk::PluginError;
use serde::Deserialize;

use crate::glob;

/// Default `max-file-bytes`: 1 MiB.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 1024 * 1024;
/// Default `max-total-bytes`: 16 MiB.
pub const DEFAULT_MAX_TOTAL_BYTES: u64 = 16 * 1024 * 1024;
/// Most patterns per list; a workflow needs a handful.
const MAX_PATTERNS: usize = 64;

/// `[review] input = { ... }` of a workflow using `generic-reviewer`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// A proposed file larger than this is an error.
    pub max_file_bytes: u64,
    /// All proposed files together larger than this is an error.
    pub max_total_bytes: u64,
    /// If not empty, every proposed path must match one of these globs.
    pub allow_paths: Vec<String>,
    /// A proposed path matching one of these globs is an error.
    pub deny_paths: Vec<String>,
    /// A proposed path matching one of these globs is a warning: the run
    /// still goes to the gate, with the finding shown.
    pub warn_paths: Vec<String>,
    /// A path with a component starting with `.` (`.env`, `.git/config`,
    /// `.ssh/authorized_keys`) is an error unless set to `false`.
    pub deny_dotfiles: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            max_total_bytes: DEFAULT_MAX_TOTAL_BYTES,
            allow_paths: Vec::new(),
            deny_paths: Vec::new(),
            warn_paths: Vec::new(),
            deny_dotfiles: true,
        }
    }
}

impl Config {
    /// Refuse limits of 0 and malformed or too many globs.
    pub fn validate(self) -> Result<Config, PluginError> {
        let refuse = |message: String| {
            PluginError::invalid_input(format!(
                "the workflow's [review] input does not fit generic-reviewer: {message}\nhint: fix `input` under [review] in the workflow file (keys: max-file-bytes, max-total-bytes, allow-paths, deny-paths, warn-paths, deny-dotfiles)"
            ))
        };
        if self.max_file_bytes == 0 {
            return Err(refuse("max-file-bytes = 0 would refuse every file".into()));
        }
        if self.max_total_bytes == 0 {
            return Err(refuse("max-total-bytes = 0 would refuse every file".into()));
        }
        for (key, list) in [
            ("allow-paths", &self.allow_paths),
            ("deny-paths", &self.deny_paths),
            ("warn-paths", &self.warn_paths),
        ] {
            if list.len() > MAX_PATTERNS {
                return Err(refuse(format!(
                    "{key} has {} patterns, more than {MAX_PATTERNS}",
                    list.len()
                )));
            }
            for pattern in list {
                glob::check(pattern).map_err(|e| refuse(format!("{key}: {e}")))?;
            }
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Config, String> {
        serde_json::from_str::<Config>(json)
            .map_err(|e| e.to_string())
            .and_then(|c| c.validate().map_err(|e| format!("{e:?}")))
    }

    #[test]
    fn defaults_apply_to_unset_keys() {
        let c = parse(r#"{"deny-paths":["*.sh"]}"#).expect("valid");
        assert_eq!(c.max_file_bytes, DEFAULT_MAX_FILE_BYTES);
        assert_eq!(c.deny_paths, ["*.sh"]);
        assert!(c.deny_dotfiles);
    }

    #[test]
    fn typos_zero_limits_and_bad_globs_are_refused() {
        for (json, needle) in [
            (r#"{"max-bytes":1}"#, "unknown field `max-bytes`"),
            (r#"{"max-file-bytes":0}"#, "max-file-bytes = 0"),
            (r#"{"deny-paths":["/etc/**"]}"#, "is absolute"),
            (r#"{"allow-paths":[""]}"#, "empty pattern"),
        ] {
            let e = parse(json).expect_err(json);
            assert!(e.contains(needle), "expected `{needle}` in {e}");
        }
    }
}
