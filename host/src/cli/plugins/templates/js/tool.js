// {{name}}: a harness tool written in JavaScript. Build it with `host plugins build` (see README.md).

import { getDirectories } from 'wasi:filesystem/preopens@0.2.12';
import { log } from 'harness:plugin/host@0.1.0';

// Where the plugin reads files from, with input `{ "file": "notes.md" }`.
// It sees nothing until plugin.toml asks for a mount there (and the folder's
// grants.toml, if it has one, grants it):
//
//   [[grants.mounts]]
//   host = "${workspace}"
//   guest = "/workspace"
//   mode = "read"
const MOUNT = '/workspace';
// Files bigger than this are refused: the plugin's memory is limited.
const MAX_FILE_BYTES = 1 << 20;

// The mount's directory descriptor.
function mountRoot() {
  const found = getDirectories().find(([, path]) => path === MOUNT);
  if (!found) {
    throw { tag: 'failed', val: `${MOUNT} is not mounted; ask for it in plugin.toml ([[grants.mounts]] guest = "${MOUNT}")` };
  }
  return found[0];
}

// The text of `path`, relative to the mount. A wasi:filesystem error arrives
// as an exception whose `payload` is its error-code (`no-entry`, `access`...).
function readText(path) {
  let file;
  try {
    file = mountRoot().openAt({}, path, {}, { read: true });
  } catch (e) {
    if (e && e.tag) throw e;
    throw { tag: 'invalid-input', val: `cannot open ${MOUNT}/${path}: ${e && e.payload !== undefined ? e.payload : e}` };
  }
  if (Number(file.stat().size) > MAX_FILE_BYTES) {
    throw { tag: 'invalid-input', val: `${MOUNT}/${path} is over ${MAX_FILE_BYTES} bytes` };
  }
  const chunks = [];
  let offset = 0n;
  for (;;) {
    const [bytes, end] = file.read(65536n, offset);
    chunks.push(bytes);
    offset += BigInt(bytes.length);
    if (end || bytes.length === 0) break;
  }
  const all = new Uint8Array(Number(offset));
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return { text: new TextDecoder().decode(all), bytes: all.length };
}

export const toolPlugin = {
  describe() {
    return {
      name: '{{name}}',
      summary: 'Greets someone by name, and reads a file of its mount if asked to.',
      inputSchema: JSON.stringify({
        type: 'object',
        properties: {
          name: { type: 'string' },
          file: { type: 'string', description: `A file to read, relative to ${MOUNT}` },
        },
      }),
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
      // (retried if the step has a retry policy). Any other throw is a trap,
      // summarized by its message (the whole error is in the step's logs).
      throw { tag: 'invalid-input', val: `input is not JSON: ${e}` };
    }
    const greeting = `Hello, ${params.name ?? 'world'}!`;
    log('info', greeting);
    const output = { greeting };
    if (typeof params.file === 'string') {
      const { text, bytes } = readText(params.file);
      output.file = { path: params.file, bytes, firstLine: text.split('\n')[0] };
    }
    // To propose a file, grant its prefix in plugin.toml (`[grants] writes`)
    // and return writes: [{ path: 'reports/hello.md', contents: new TextEncoder().encode('...') }].
    return { output: JSON.stringify(output), writes: [] };
  },
};
