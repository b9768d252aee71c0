//! Progress lines on stderr for the slow parts of loading, shared by every
//! subcommand that loads plugins: the CLI's printer of
//! [`crate::folder::Note`]s.

use crate::cli::output;
use crate::folder::Note;
use crate::render::{inert, inert_lines};
use crate::runtime::LARGE_COMPONENT_BYTES;

/// Print a load note on stderr. A compile is announced before it starts only
/// for a large component (a Python or JavaScript plugin takes seconds, and a
/// silent terminal looks hung); small ones compile too fast to be worth a
/// line.
pub(crate) fn print(note: Note<'_>) {
    match note {
        Note::LegacyGrants(warning) => output::note(warning),
        Note::Build(line) => output::note(&inert_lines(line)),
        Note::Compiling { plugin, size } => {
            if size >= LARGE_COMPONENT_BYTES {
                output::note(&format!(
                    "compiling plugin `{}` ({:.1} MB, first use; this can take several seconds)...",
                    inert(plugin),
                    size as f64 / 1_000_000.0
                ));
            }
        }
        Note::Compiled { plugin, ms } => output::note(&format!(
            "compiled plugin `{}` in {ms} ms (cached for next time)",
            inert(plugin)
        )),
        Note::Stale { plugin, source } => output::note(&format!(
            "warning: the component of plugin `{0}` is older than its source `{1}`\nhint: rebuild it: pass --build, or run `host plugins build {0}`",
            inert(plugin),
            crate::render::inert_path(source)
        )),
    }
}
