//! The `[grants.env]` kind: the environment a guest sees, exactly as
//! granted: values written in the manifest, or inherited from the host's
//! environment when the plugin is loaded (read once, never per call; an
//! unset variable is not passed). Values may be secrets: only the keys are
//! ever shown or journaled.

use super::ResolvedGrants;
use super::capability::Capability;
use crate::manifest::{EnvGrant, Manifest};

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

    fn granted(&self, m: &Manifest) -> bool {
        !m.grants.env.is_empty()
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

    fn json(
        &self,
        _m: &Manifest,
        resolved: &ResolvedGrants,
    ) -> Vec<(&'static str, serde_json::Value)> {
        vec![(
            "env",
            serde_json::json!(resolved.env_keys().collect::<Vec<_>>()),
        )]
    }
}
