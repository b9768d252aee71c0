//! `host workflow`: show the workflow a run would execute, as a graph.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::cli::{Context, output, progress};
use crate::folder;
use crate::workflow_export::Graph;

/// Show the workflow a run executes, as text, JSON or a Mermaid diagram.
///
/// Its steps, their order and policies, the review and the approval gate, and
/// every transition a run can take between them.
///
/// The manifests and the workflow are loaded and validated exactly as `host
/// run` loads them, and the picture is derived from that same definition, so
/// it cannot drift from what runs. Nothing is compiled or executed.
///
/// Formats: `text` (a listing), `json` (`{name, description, digest, nodes,
/// edges}`, each edge `{from, to, label}`; step nodes are `step:<id>`) and
/// `mermaid` (a `flowchart TD` to paste into Markdown; every label is
/// escaped, so workflow text cannot inject Mermaid syntax or HTML).
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  host workflow                                   the default plugins/workflow.toml, as text\n  host workflow --format mermaid > workflow.mmd   a diagram for a README or a review\n  host workflow --plugins my-plugins --workflow nightly.toml --format json"
)]
pub struct Args {
    /// Folder of plugins: one subfolder per plugin with its plugin.toml, and
    /// the workflow file [default: `plugins` in harness.toml, else plugins].
    #[arg(long, value_name = "DIR")]
    plugins: Option<PathBuf>,

    /// Workflow file [default: <plugins>/workflow.toml].
    #[arg(long)]
    workflow: Option<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// How `host workflow` prints the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// A readable listing.
    Text,
    /// Nodes and edges as JSON.
    Json,
    /// A Mermaid flowchart.
    Mermaid,
}

pub fn execute(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let plugins = ctx.plugins_dir(args.plugins.as_deref())?;
    let workflow =
        folder::load_workflow(&plugins, args.workflow.as_deref(), &progress::print)?.workflow;
    let graph = Graph::of(&workflow);
    match args.format {
        Format::Text => output::print(&graph.to_text(&workflow))?,
        // The same fields as `Graph::to_json`, escaped like every JSON the
        // host prints.
        Format::Json => output::json(&graph)?,
        Format::Mermaid => output::print(&graph.to_mermaid())?,
    }
    Ok(ExitCode::SUCCESS)
}
