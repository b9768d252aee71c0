//! Building what a plugin returns: descriptors, tool outputs with proposed
//! writes, and reviews.

use serde::Serialize;

use crate::{
    Descriptor, Finding, PluginError, ProposedWrite, Review, Severity, ToolOutput, Verdict,
};

impl Descriptor {
    /// A descriptor whose input schema accepts any JSON object. Refine the
    /// schema with [`Descriptor::input_schema`].
    pub fn new(name: impl Into<String>, summary: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            summary: summary.into(),
            input_schema: r#"{"type":"object"}"#.to_string(),
        }
    }

    /// Set the JSON Schema of the input, given as a JSON value.
    ///
    /// ```
    /// use harness_sdk::Descriptor;
    ///
    /// let d = Descriptor::new("search", "Finds paragraphs about a topic.").input_schema(
    ///     serde_json::json!({
    ///         "type": "object",
    ///         "required": ["topic"],
    ///         "properties": { "topic": { "type": "string" } }
    ///     }),
    /// );
    /// assert_eq!(d.name, "search");
    /// assert!(d.input_schema.contains("\"required\":[\"topic\"]"));
    /// ```
    pub fn input_schema(mut self, schema: serde_json::Value) -> Self {
        self.input_schema = schema.to_string();
        self
    }
}

impl ToolOutput {
    /// An output whose JSON text is `value` serialized, with no proposed writes.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<Self, PluginError> {
        let output = serde_json::to_string(value)
            .map_err(|e| PluginError::failed(format!("cannot serialize the tool output: {e}")))?;
        Ok(Self {
            output,
            writes: Vec::new(),
        })
    }

    /// Propose writing `contents` to `path` (relative, `/`-separated, under
    /// the run's output directory). Nothing is written unless a person
    /// approves; the host refuses paths outside the plugin's `writes` grant.
    ///
    /// ```
    /// use harness_sdk::{PluginError, ToolOutput};
    ///
    /// let out = ToolOutput::json(&serde_json::json!({ "title": "Report" }))?
    ///     .propose_write("reports/report.md", "# Report\n");
    /// assert_eq!(out.output, r#"{"title":"Report"}"#);
    /// assert_eq!(out.writes[0].path, "reports/report.md");
    /// assert_eq!(out.writes[0].contents, b"# Report\n");
    /// # Ok::<(), PluginError>(())
    /// ```
    pub fn propose_write(mut self, path: impl Into<String>, contents: impl Into<Vec<u8>>) -> Self {
        self.writes.push(ProposedWrite::new(path, contents));
        self
    }
}

impl ProposedWrite {
    /// A proposal to write `contents` to `path` (see
    /// [`ToolOutput::propose_write`]); reviewers' tests build their input
    /// with it.
    ///
    /// ```
    /// use harness_sdk::ProposedWrite;
    ///
    /// let write = ProposedWrite::new("notes/a.txt", "text");
    /// assert_eq!(write.path, "notes/a.txt");
    /// assert_eq!(write.text(), "text");
    /// ```
    pub fn new(path: impl Into<String>, contents: impl Into<Vec<u8>>) -> Self {
        Self {
            path: path.into(),
            contents: contents.into(),
        }
    }

    /// The contents as text, with invalid UTF-8 replaced, for inspection.
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.contents)
    }
}

impl Finding {
    /// A finding not tied to a file.
    pub fn new(severity: Severity, message: impl Into<String>) -> Self {
        Self {
            severity,
            message: message.into(),
            path: None,
        }
    }

    /// Tie the finding to the proposed file at `path`.
    pub fn at(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }
}

impl Review {
    /// A review with `verdict`, `findings` and a short human `summary`.
    ///
    /// ```
    /// use harness_sdk::{Finding, Review, Severity, Verdict};
    ///
    /// let review = Review::new(
    ///     Verdict::Revise,
    ///     vec![Finding::new(Severity::Warning, "no sources section").at("reports/r.md")],
    ///     "Revise: one section missing.",
    /// );
    /// assert_eq!(review.verdict, Verdict::Revise);
    /// assert_eq!(review.findings[0].path.as_deref(), Some("reports/r.md"));
    /// ```
    pub fn new(verdict: Verdict, findings: Vec<Finding>, summary: impl Into<String>) -> Self {
        Self {
            verdict,
            findings,
            summary: summary.into(),
        }
    }
}
