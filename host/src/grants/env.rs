//! The `[grants.env]` kind: the environment a guest sees, exactly as
//! granted: values written in the manifest, or inherited from the host's
//! environment when the plugin is loaded (read once, never per call; an
//! unset variable is not passed). Values may be secrets: only the keys are
//! ever shown or journaled.

use super::ResolvedGrants;
use serde::Deserialize;

use super::capability::{Capability, JsonFields, KeyProblem};
use crate::manifest::{EnvGrant, Manifest};
use crate::render::inert;

/// How a variable name must be spelled, for hints.
const KEY_HINT: &str =
    "variable names are ASCII letters, digits and `_`, not starting with a digit";

/// Refuse `var` under `key` unless it is a variable name.
pub(crate) fn check_key(key: &str, var: &str) -> Result<(), KeyProblem> {
    let ok = !var.is_empty()
        && !var.starts_with(|c: char| c.is_ascii_digit())
        && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(KeyProblem::new(
            format!("key `{key}`: `{}` is not a valid variable name", inert(var)),
            KEY_HINT,
        ))
    }
}

/// A manifest's `[grants.env]`: `vars` written in it, `inherit` copied from
/// the host at load. Each name once.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEnv {
    #[serde(default)]
    vars: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    inherit: Vec<String>,
}

/// The grants of a manifest's `[grants.env]`, values first.
pub(crate) fn parse(raw: RawEnv) -> Result<Vec<EnvGrant>, KeyProblem> {
    let mut env = Vec::new();
    for (key, value) in raw.vars {
        check_key("grants.env.vars", &key)?;
        env.push(EnvGrant::Value { key, value });
    }
    for key in raw.inherit {
        check_key("grants.env.inherit", &key)?;
        if env.iter().any(|e| e.key() == key) {
            return Err(KeyProblem::new(
                format!(
                    "key `grants.env.inherit`: `{}` is also set in `grants.env.vars`",
                    inert(&key)
                ),
                "grant each variable once",
            ));
        }
        env.push(EnvGrant::Inherit { key });
    }
    Ok(env)
}

/// The guest's environment, resolved at load.
pub(super) fn resolve(manifest: &Manifest) -> Vec<(String, String)> {
    let mut env = Vec::with_capacity(manifest.grants.env.len());
    for grant in &manifest.grants.env {
        match grant {
            EnvGrant::Value { key, value } => env.push((key.clone(), value.clone())),
            EnvGrant::Inherit { key } => match std::env::var(key) {
                Ok(value) => env.push((key.clone(), value)),
                Err(std::env::VarError::NotPresent) => {
                    tracing::debug!(plugin = %manifest.name, key, "inherited variable is not set; not passed");
                }
                Err(std::env::VarError::NotUnicode(_)) => {
                    tracing::warn!(plugin = %manifest.name, key, "inherited variable is not valid UTF-8; not passed");
                }
            },
        }
    }
    env
}

/// The env kind, for `host plugins list|check|inspect`.
pub(crate) struct EnvKind;

impl Capability for EnvKind {
    fn key(&self) -> &'static str {
        "grants.env"
    }

    fn summary(&self, m: &Manifest, _resolved: Option<&ResolvedGrants>) -> Vec<String> {
        m.grants
            .env
            .iter()
            .map(|env| {
                let how = match env {
                    EnvGrant::Value { .. } => "set",
                    EnvGrant::Inherit { .. } => "inherited",
                };
                format!("env {} ({how})", env.key())
            })
            .collect()
    }

    fn json(&self, _m: &Manifest, resolved: &ResolvedGrants) -> JsonFields {
        vec![(
            "env",
            serde_json::json!(resolved.env_keys().collect::<Vec<_>>()),
        )]
    }
}
