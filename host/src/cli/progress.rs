//! Progress lines on stderr for the slow parts of a cold start, shared by
//! every subcommand that loads plugins.

use crate::runtime::LARGE_COMPONENT_BYTES;

/// Say, before it starts, that a large component is about to be compiled:
/// a Python or JavaScript plugin takes seconds, and a silent terminal looks
/// hung. Small components compile too fast to be worth a line.
pub(crate) fn announce_compile(plugin: &str, size: u64) {
    if size >= LARGE_COMPONENT_BYTES {
        crate::cli::output::note(&format!(
            "compiling plugin `{}` ({:.1} MB, first use; this can take several seconds)...",
            crate::render::inert(plugin),
            size as f64 / 1_000_000.0
        ));
    }
}
