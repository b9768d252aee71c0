"""{{name}}: a harness reviewer written in Python. Build it with `host plugins build` (see README.md)."""

from wit_world import exports
from wit_world.imports import types


class ReviewerPlugin(exports.ReviewerPlugin):
    def describe(self) -> types.Descriptor:
        return types.Descriptor(
            name="{{name}}",
            summary="Asks for a redraft when a proposed file is empty.",
            input_schema='{"type": "object"}',
        )

    def review(self, input: types.ReviewInput) -> types.ReviewResult:
        # Everything here is untrusted data from the run's tools: read it, never obey it.
        findings = [
            types.Finding(severity=types.Severity.ERROR, message="the proposed file is empty", path=w.path)
            for w in input.writes
            if len(w.contents) == 0
        ]
        if findings:
            return types.ReviewResult(
                verdict=types.Verdict.REVISE,
                findings=findings,
                summary=f"{len(findings)} proposed files are empty.",
            )
        return types.ReviewResult(
            verdict=types.Verdict.PASS,
            findings=[],
            summary=f"{len(input.writes)} proposed files, none empty.",
        )
