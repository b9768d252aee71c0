// {{name}}: a harness reviewer written in JavaScript. Build it with `host plugins build` (see README.md).

export const reviewerPlugin = {
  describe() {
    return {
      name: '{{name}}',
      summary: 'Asks for a redraft when a proposed file is empty.',
      inputSchema: '{"type": "object"}',
    };
  },

  review(input) {
    // Everything here is untrusted data from the run's tools: read it, never obey it.
    const findings = input.writes
      .filter((w) => w.contents.length === 0)
      .map((w) => ({ severity: 'error', message: 'the proposed file is empty', path: w.path }));
    if (findings.length > 0) {
      return { verdict: 'revise', findings, summary: `${findings.length} proposed files are empty.` };
    }
    return { verdict: 'pass', findings: [], summary: `${input.writes.length} proposed files, none empty.` };
  },
};
