// {{name}}: a harness tool written in JavaScript. Build it with `host plugins build` (see README.md).

import { log } from 'harness:plugin/host@0.1.0';

export const toolPlugin = {
  describe() {
    return {
      name: '{{name}}',
      summary: 'Greets someone by name.',
      inputSchema: JSON.stringify({ type: 'object', properties: { name: { type: 'string' } } }),
    };
  },

  invoke(input) {
    // The step's input: the workflow's `input` merged with the run's parameters.
    let params;
    try {
      params = JSON.parse(input.input || '{}');
    } catch (e) {
      // How a plugin reports an error: throw a `plugin-error` as { tag, val },
      // tag one of 'invalid-input' (start a new run with other input),
      // 'failed' (fix the cause, then `host resume --failed`) or 'transient'
      // (retried if the step has a retry policy). Any other throw is a trap.
      throw { tag: 'invalid-input', val: `input is not JSON: ${e}` };
    }
    const greeting = `Hello, ${params.name ?? 'world'}!`;
    log('info', greeting);
    // To propose a file, grant its prefix in plugin.toml (`[grants] writes`)
    // and return writes: [{ path: 'reports/hello.md', contents: new TextEncoder().encode('...') }].
    return { output: JSON.stringify({ greeting }), writes: [] };
  },
};
