//! The `[limits]` kind: memory, time, output size and fuel. Parsed and
//! bounded in [`crate::manifest`] (the largest values a host allows), enforced
//! per call by the runtime (`runtime::invoke`: a store limiter, an epoch
//! deadline plus a wall-clock timeout, bounded pipes, fuel metering); this
//! module is how they read to a person.

use super::ResolvedGrants;
use super::capability::Capability;
use crate::manifest::Manifest;

/// The limits kind, for `host plugins list|check|inspect`.
pub(crate) struct LimitsKind;

impl Capability for LimitsKind {
    fn key(&self) -> &'static str {
        "limits"
    }

    fn granted(&self, _m: &Manifest) -> bool {
        true
    }

    fn summary(&self, m: &Manifest, _resolved: Option<&ResolvedGrants>) -> Vec<String> {
        let fuel = match m.limits.fuel {
            Some(f) => format!("fuel {f}"),
            None => "no fuel limit".to_string(),
        };
        vec![format!(
            "memory {} MiB, timeout {} ms, output {} KiB, {fuel}",
            m.limits.memory_bytes / (1024 * 1024),
            m.limits.timeout.as_millis(),
            m.limits.max_output_bytes / 1024,
        )]
    }

    fn json(
        &self,
        m: &Manifest,
        _resolved: &ResolvedGrants,
    ) -> Vec<(&'static str, serde_json::Value)> {
        let limits = &m.limits;
        vec![
            ("memory_bytes", serde_json::json!(limits.memory_bytes)),
            (
                "timeout_ms",
                serde_json::json!(u64::try_from(limits.timeout.as_millis()).unwrap_or(u64::MAX)),
            ),
            (
                "max_output_bytes",
                serde_json::json!(limits.max_output_bytes),
            ),
            ("fuel", serde_json::json!(limits.fuel)),
        ]
    }

    fn is_limits(&self) -> bool {
        true
    }
}
