//! The `[limits]` kind: memory, time, output size and fuel. Parsed and
//! bounded here ([`parse`], [`check_ceiling`]: the largest values a host allows), enforced
//! per call by the runtime (`runtime::invoke`: a store limiter, an epoch
//! deadline plus a wall-clock timeout, bounded pipes, fuel metering); this
//! module is how they read to a person.

use serde::Deserialize;

use super::ResolvedGrants;
use super::capability::{Capability, JsonFields, KeyProblem};
use crate::manifest::{Limits, Manifest};

/// A manifest's `[limits]` as written, in its units.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawLimits {
    memory_mib: Option<u64>,
    timeout_ms: Option<u64>,
    max_output_kib: Option<u64>,
    fuel: Option<u64>,
    rw_copy_mib: Option<u64>,
    rw_copy_files: Option<u64>,
}

/// Each limit key: its largest value and what to say when a value is out
/// of range (the smallest is 1).
const RANGES: &[(&str, u64, &str)] = &[
    ("memory-mib", 4096, "64 is plenty for most tools"),
    (
        "timeout-ms",
        3_600_000,
        "the default is 10000 (ten seconds)",
    ),
    ("max-output-kib", 1_048_576, "the default is 4096 (4 MiB)"),
    (
        "fuel",
        u64::MAX,
        "fuel counts wasm instructions; a small tool needs millions (e.g. 100000000), or remove the key for no fuel limit",
    ),
    (
        "rw-copy-mib",
        65_536,
        "the default is 256; a read-write mount is copied for every call, so keep it small",
    ),
    ("rw-copy-files", 1_000_000, "the default is 10000"),
];

/// `value` of limit `name` (`memory-mib`), under `key` (`limits.memory-mib`),
/// if it is in range.
fn in_range(
    key: &str,
    name: &str,
    value: Option<u64>,
    hint: Option<&str>,
) -> Result<Option<u64>, KeyProblem> {
    let Some(v) = value else {
        return Ok(None);
    };
    let (max, default_hint) = RANGES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map_or((u64::MAX, ""), |(_, max, hint)| (*max, *hint));
    if (1..=max).contains(&v) {
        return Ok(Some(v));
    }
    let range = if max == u64::MAX {
        "at least 1".to_string()
    } else {
        format!("between 1 and {max}")
    };
    Err(KeyProblem::new(
        format!("key `{key}` must be {range}"),
        hint.unwrap_or(default_hint),
    ))
}

/// A manifest's `[limits]`, in range, with the host's defaults for what it
/// leaves out.
pub(crate) fn parse(raw: &RawLimits) -> Result<Limits, KeyProblem> {
    let get = |name: &str, value| in_range(&format!("limits.{name}"), name, value, None);
    let defaults = Limits::default();
    Ok(Limits {
        memory_bytes: get("memory-mib", raw.memory_mib)?.map_or(defaults.memory_bytes, |m| m << 20),
        timeout: get("timeout-ms", raw.timeout_ms)?
            .map_or(defaults.timeout, std::time::Duration::from_millis),
        max_output_bytes: get("max-output-kib", raw.max_output_kib)?
            .map_or(defaults.max_output_bytes, |k| k << 10),
        fuel: get("fuel", raw.fuel)?,
        rw_copy_bytes: get("rw-copy-mib", raw.rw_copy_mib)?
            .map_or(defaults.rw_copy_bytes, |m| m << 20),
        rw_copy_files: get("rw-copy-files", raw.rw_copy_files)?.unwrap_or(defaults.rw_copy_files),
    })
}

/// An admin's ceiling `value` for limit `name` of `plugin`, in range (the
/// manifest's units and range).
pub(crate) fn check_ceiling(
    plugin: &str,
    name: &str,
    value: Option<u64>,
) -> Result<(), KeyProblem> {
    in_range(
        &format!("{plugin}.limits.{name}"),
        name,
        value,
        Some("a ceiling uses the manifest's units and range; remove it for the host's default"),
    )
    .map(|_| ())
}

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

    fn json(&self, m: &Manifest, _resolved: &ResolvedGrants) -> JsonFields {
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
