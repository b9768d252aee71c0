//! Generated bindings of `wit/plugin.wit` and conversions to and from the
//! host's plain types in [`crate::contract`].
//!
//! The two worlds share the `types` and `host` interfaces; the reviewer
//! bindings reuse the tool's through `with`, so one Rust type exists per WIT
//! type. Nothing outside the runtime sees bindgen output.

use crate::contract;

/// A synthetic world that uses every type of the contract, so `types` is
/// generated once and completely (bindgen only emits the types a world
/// reaches); the real worlds map `types` and `host` onto it.
pub(crate) mod all {
    wasmtime::component::bindgen!({
        path: "../wit",
        inline: "
            package harness:host-bindings;

            world all {
                import harness:plugin/host@0.1.0;
                export harness:plugin/tool-plugin@0.1.0;
                export harness:plugin/reviewer-plugin@0.1.0;
            }
        ",
        exports: { default: async },
    });
}

pub(crate) mod tool {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "harness:plugin/tool",
        exports: { default: async },
        with: {
            "harness:plugin/types": super::all::harness::plugin::types,
            "harness:plugin/host": super::all::harness::plugin::host,
        },
    });
}

pub(crate) mod reviewer {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "harness:plugin/reviewer",
        exports: { default: async },
        with: {
            "harness:plugin/types": super::all::harness::plugin::types,
            "harness:plugin/host": super::all::harness::plugin::host,
        },
    });
}

pub(crate) use self::all::harness::plugin::host as wit_host;
pub(crate) use self::all::harness::plugin::types as wit;

impl From<wit::Descriptor> for contract::Descriptor {
    fn from(d: wit::Descriptor) -> Self {
        Self {
            name: d.name,
            summary: d.summary,
            input_schema: d.input_schema,
        }
    }
}

fn step_output(s: &contract::StepOutput) -> wit::StepOutput {
    wit::StepOutput {
        step: s.step.clone(),
        output: s.output.clone(),
    }
}

fn proposed_write_in(w: &contract::ProposedWrite) -> wit::ProposedWrite {
    wit::ProposedWrite {
        path: w.path.clone(),
        contents: w.contents.clone(),
    }
}

pub(crate) fn step_input(input: &contract::StepInput) -> wit::StepInput {
    wit::StepInput {
        input: input.input.clone(),
        needs: input.needs.iter().map(step_output).collect(),
    }
}

pub(crate) fn review_input(input: &contract::ReviewInput) -> wit::ReviewInput {
    wit::ReviewInput {
        outputs: input.outputs.iter().map(step_output).collect(),
        writes: input.writes.iter().map(proposed_write_in).collect(),
    }
}

impl From<wit::ToolOutput> for contract::ToolOutput {
    fn from(o: wit::ToolOutput) -> Self {
        Self {
            output: o.output,
            writes: o
                .writes
                .into_iter()
                .map(|w| contract::ProposedWrite {
                    path: w.path,
                    contents: w.contents,
                })
                .collect(),
        }
    }
}

impl From<wit::PluginError> for contract::PluginError {
    fn from(e: wit::PluginError) -> Self {
        let (kind, message) = match e {
            wit::PluginError::InvalidInput(m) => (contract::PluginErrorKind::InvalidInput, m),
            wit::PluginError::Failed(m) => (contract::PluginErrorKind::Failed, m),
            wit::PluginError::Transient(m) => (contract::PluginErrorKind::Transient, m),
        };
        Self { kind, message }
    }
}

impl From<wit::Verdict> for contract::Verdict {
    fn from(v: wit::Verdict) -> Self {
        match v {
            wit::Verdict::Pass => Self::Pass,
            wit::Verdict::Revise => Self::Revise,
            wit::Verdict::Reject => Self::Reject,
        }
    }
}

impl From<wit::Severity> for contract::Severity {
    fn from(s: wit::Severity) -> Self {
        match s {
            wit::Severity::Info => Self::Info,
            wit::Severity::Warning => Self::Warning,
            wit::Severity::Error => Self::Error,
        }
    }
}

impl From<wit::ReviewResult> for contract::Review {
    fn from(r: wit::ReviewResult) -> Self {
        Self {
            verdict: r.verdict.into(),
            findings: r
                .findings
                .into_iter()
                .map(|f| contract::Finding {
                    severity: f.severity.into(),
                    message: f.message,
                    path: f.path,
                })
                .collect(),
            summary: r.summary,
        }
    }
}

impl From<wit_host::Level> for contract::LogLevel {
    fn from(l: wit_host::Level) -> Self {
        match l {
            wit_host::Level::Trace => Self::Trace,
            wit_host::Level::Debug => Self::Debug,
            wit_host::Level::Info => Self::Info,
            wit_host::Level::Warn => Self::Warn,
            wit_host::Level::Error => Self::Error,
        }
    }
}

/// Convert a guest's tool result.
pub(crate) fn tool_result(
    r: Result<wit::ToolOutput, wit::PluginError>,
) -> Result<contract::ToolOutput, contract::PluginError> {
    r.map(Into::into).map_err(Into::into)
}

/// Convert a guest's review result.
pub(crate) fn review_result(
    r: Result<wit::ReviewResult, wit::PluginError>,
) -> Result<contract::Review, contract::PluginError> {
    r.map(Into::into).map_err(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_errors_convert_by_kind() {
        let e: contract::PluginError = wit::PluginError::Transient("busy".into()).into();
        assert_eq!(e.kind, contract::PluginErrorKind::Transient);
        assert_eq!(e.message, "busy");
    }

    #[test]
    fn review_converts() {
        let r = review_result(Ok(wit::ReviewResult {
            verdict: wit::Verdict::Revise,
            findings: vec![wit::Finding {
                severity: wit::Severity::Warning,
                message: "m".into(),
                path: Some("reports/x.md".into()),
            }],
            summary: "s".into(),
        }))
        .expect("ok");
        assert_eq!(r.verdict, contract::Verdict::Revise);
        assert_eq!(r.findings[0].severity, contract::Severity::Warning);
        assert_eq!(r.findings[0].path.as_deref(), Some("reports/x.md"));
    }

    #[test]
    fn inputs_convert() {
        let i = step_input(&contract::StepInput {
            input: "{}".into(),
            needs: vec![contract::StepOutput {
                step: "search".into(),
                output: "[]".into(),
            }],
        });
        assert_eq!(i.needs[0].step, "search");
    }
}
