// A harness tool written in JavaScript: the titles of the workspace's Markdown files.
//
// It reads every `.md` file under the read-only `/workspace` mount (through
// wasi:filesystem, the only file API a component has), returns each file's
// title and size as JSON, and proposes one report, `reports/<name>.md`. It
// writes nothing itself: the host stages the report and writes it only after
// a person approves.
//
// With input `{"probe": true}` it also *tries* what its grants do not allow
// (creating a file in the read-only mount, an HTTP request) and reports what
// happened, so the sandbox can be seen at work. With input `{"crash": "<why>"}`
// it throws an Error that is not a plugin-error, so the host's summary of an
// uncaught throw can be seen.

import { getDirectories } from 'wasi:filesystem/preopens@0.2.12';
import { log } from 'harness:plugin/host@0.1.0';

const WORKSPACE = '/workspace';
// Files bigger than this are skipped: a title is on the first lines, and the
// plugin's memory limit stays small.
const MAX_FILE_BYTES = 1 << 20;
const MAX_DEPTH = 16;

const SCHEMA = {
  type: 'object',
  properties: {
    name: { type: 'string', description: 'Report name: the report is proposed as reports/<name>.md' },
    probe: {
      type: 'boolean',
      description: 'Also try a write into the read-only mount and an HTTP request, and report the outcome',
    },
    crash: { type: 'string', description: 'Throw an Error with this message (to see how the host reports it)' },
  },
};

// A WIT `result` error arrives as an exception whose `payload` is the error
// variant (for wasi:filesystem, an error-code such as `read-only`).
function why(e) {
  return e && e.payload !== undefined ? String(e.payload) : String(e);
}

// Only [a-z0-9-] reaches the report's path, so the input cannot steer where it goes.
function slug(name) {
  const s = String(name).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  return s.slice(0, 64) || 'titles';
}

function workspaceRoot() {
  const found = getDirectories().find(([, path]) => path === WORKSPACE);
  if (!found) {
    throw {
      tag: 'failed',
      val: `${WORKSPACE} is not mounted; grant it in plugin.toml ([[grants.mounts]] guest = "${WORKSPACE}")`,
    };
  }
  return found[0];
}

// Every `.md` file under `dir`, as [relative path, descriptor-less path parts], sorted.
function markdownFiles(dir, prefix, depth, out) {
  if (depth > MAX_DEPTH) return out;
  const entries = [];
  const stream = dir.readDirectory();
  for (let e = stream.readDirectoryEntry(); e; e = stream.readDirectoryEntry()) {
    entries.push(e);
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const { type, name } of entries) {
    const rel = prefix ? `${prefix}/${name}` : name;
    if (type === 'directory') {
      const sub = dir.openAt({}, name, { directory: true }, { read: true });
      markdownFiles(sub, rel, depth + 1, out);
    } else if (type === 'regular-file' && name.endsWith('.md')) {
      out.push(rel);
    }
  }
  return out;
}

function readText(root, rel) {
  const file = root.openAt({}, rel, {}, { read: true });
  const size = Number(file.stat().size);
  if (size > MAX_FILE_BYTES) return null;
  const chunks = [];
  let offset = 0n;
  for (;;) {
    const [bytes, end] = file.read(65536n, offset);
    chunks.push(bytes);
    offset += BigInt(bytes.length);
    if (end || bytes.length === 0) break;
  }
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return { text: new TextDecoder().decode(all), size };
}

async function probe(root) {
  const outcome = {};
  try {
    const f = root.openAt({}, 'x', { create: true }, { write: true });
    f.write(new TextEncoder().encode('written by the js tool'), 0n);
    outcome.write = 'allowed';
  } catch (e) {
    outcome.write = `denied: ${why(e)}`;
  }
  try {
    const response = await fetch('http://127.0.0.1:9/');
    outcome.network = `allowed: HTTP ${response.status}`;
  } catch (e) {
    outcome.network = `denied: ${why(e)}`;
  }
  return outcome;
}

function render(name, files) {
  const lines = [`# Titles: ${name}`, ''];
  for (const f of files) {
    lines.push(`- ${f.title.replace(/[\r\n]/g, ' ')} (${f.path}, ${f.bytes} bytes)`);
  }
  lines.push('', `${files.length} Markdown files.`, '');
  return lines.join('\n');
}

export const toolPlugin = {
  describe() {
    return {
      name: 'js-tool',
      summary: "Lists the titles of the workspace's Markdown files and proposes a report (JavaScript).",
      inputSchema: JSON.stringify(SCHEMA),
    };
  },

  async invoke(input) {
    let params;
    try {
      params = JSON.parse(input.input || '{}');
    } catch (e) {
      throw { tag: 'invalid-input', val: `input is not JSON: ${e}` };
    }
    if (params === null || typeof params !== 'object' || Array.isArray(params)) {
      throw { tag: 'invalid-input', val: 'input must be a JSON object' };
    }
    const name = slug(params.name ?? 'titles');
    if (params.crash !== undefined) {
      // Deliberately not a plugin-error: the host summarizes the failure by
      // this Error's own message.
      throw new Error(`crash requested: ${params.crash}`);
    }
    const root = workspaceRoot();

    const files = [];
    for (const rel of markdownFiles(root, '', 0, [])) {
      const read = readText(root, rel);
      if (!read) continue;
      const heading = read.text.split('\n').find((line) => line.startsWith('# '));
      files.push({ path: rel, title: heading ? heading.slice(2).trim() : rel, bytes: read.size });
    }
    log('info', `found ${files.length} Markdown files`);

    const report = `reports/${name}.md`;
    const output = { files, report };
    if (params.probe === true) {
      output.probe = await probe(root);
    }
    return {
      output: JSON.stringify(output),
      writes: [{ path: report, contents: new TextEncoder().encode(render(name, files)) }],
    };
  },
};
