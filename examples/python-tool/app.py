"""A harness tool written in Python: a word count of the workspace's Markdown files.

It reads every `.md` file under the read-only `/workspace` mount, returns each
file's title and word count as JSON, and proposes one report,
`reports/<name>.md`. It writes nothing itself: the host stages the proposed
report and writes it only after a person approves.

With input `{"probe": true}` it also *tries* what its grants do not allow
(writing into the read-only mount, a TCP connection through wasi:sockets) and reports
what happened, so the sandbox can be seen at work. With input
`{"crash": "<key>"}` it looks the key up in an empty table and lets the
KeyError escape, so the host's summary of an uncaught exception can be seen.
"""

import json
import os
import re

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import host, instance_network, network, tcp_create_socket, types

WORKSPACE = "/workspace"
# Files bigger than this are skipped: a word count does not need them, and the
# plugin's memory limit stays small.
MAX_FILE_BYTES = 1 << 20

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {
            "type": "string",
            "description": "Report name: the report is proposed as reports/<name>.md",
        },
        "probe": {
            "type": "boolean",
            "description": "Also try a write into the read-only mount and a network connection, and report the outcome",
        },
        "crash": {
            "type": "string",
            "description": "Raise an uncaught KeyError for this key (to see how the host reports it)",
        },
    },
}


def slug(name: str) -> str:
    """Only [a-z0-9-] reaches the report's path, so the input cannot steer where it goes."""
    s = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return s[:64] or "word-count"


def markdown_files(root: str):
    """Every `.md` file under `root`, as paths relative to it, sorted."""
    found = []
    for directory, dirs, files in os.walk(root):
        dirs.sort()
        for f in sorted(files):
            if f.endswith(".md"):
                found.append(os.path.relpath(os.path.join(directory, f), root))
    return sorted(found)


def summarize(root: str, rel: str):
    path = os.path.join(root, rel)
    if os.path.getsize(path) > MAX_FILE_BYTES:
        return None
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    title = next(
        (line[2:].strip() for line in text.splitlines() if line.startswith("# ")),
        rel,
    )
    return {"path": rel, "title": title, "words": len(text.split())}


def probe() -> dict:
    """Try what the grants do not allow; say what happened."""
    outcome = {}
    try:
        with open(os.path.join(WORKSPACE, "x"), "w") as f:
            f.write("written by the python tool")
        outcome["write"] = "allowed"
    except OSError as e:
        outcome["write"] = f"denied: {type(e).__name__}: {e}"
    # Python's `socket` module does not exist here; the WASI socket
    # interfaces are what any network access would go through.
    try:
        sock = tcp_create_socket.create_tcp_socket(network.IpAddressFamily.IPV4)
        target = network.IpSocketAddress_Ipv4(network.Ipv4SocketAddress(port=9, address=(127, 0, 0, 1)))
        sock.start_connect(instance_network.instance_network(), target)
        sock.subscribe().block()
        sock.finish_connect()
        outcome["network"] = "allowed"
    except Err as e:
        outcome["network"] = f"denied: {e.value}"
    return outcome


def render(name: str, files: list) -> str:
    lines = [f"# Word count: {name}", "", "| File | Title | Words |", "| --- | --- | --- |"]
    for f in files:
        title = f["title"].replace("|", "\\|")
        lines.append(f"| {f['path']} | {title} | {f['words']} |")
    lines += ["", f"Total: {sum(f['words'] for f in files)} words in {len(files)} files.", ""]
    return "\n".join(lines)


class ToolPlugin(exports.ToolPlugin):
    def describe(self) -> types.Descriptor:
        return types.Descriptor(
            name="python-tool",
            summary="Counts the words of the workspace's Markdown files and proposes a report (Python).",
            input_schema=json.dumps(SCHEMA),
        )

    def invoke(self, input: types.StepInput) -> types.ToolOutput:
        try:
            params = json.loads(input.input or "{}")
        except ValueError as e:
            raise Err(types.PluginError_InvalidInput(f"input is not JSON: {e}"))
        if not isinstance(params, dict):
            raise Err(types.PluginError_InvalidInput("input must be a JSON object"))
        name = slug(str(params.get("name", "word-count")))
        if "crash" in params:
            # Deliberately uncaught: the host summarizes the failure by the
            # exception's own line (`KeyError: '<key>'`).
            _ = {}[str(params["crash"])]

        if not os.path.isdir(WORKSPACE):
            raise Err(
                types.PluginError_Failed(
                    f"{WORKSPACE} is not mounted; grant it in plugin.toml ([[grants.mounts]] guest = \"{WORKSPACE}\")"
                )
            )
        files = [s for s in (summarize(WORKSPACE, rel) for rel in markdown_files(WORKSPACE)) if s]
        host.log(host.Level.INFO, f"counted words in {len(files)} Markdown files")

        output = {
            "files": files,
            "total_words": sum(f["words"] for f in files),
            "report": f"reports/{name}.md",
        }
        if params.get("probe") is True:
            output["probe"] = probe()
        report = render(name, files).encode("utf-8")
        return types.ToolOutput(
            output=json.dumps(output),
            writes=[types.ProposedWrite(path=f"reports/{name}.md", contents=report)],
        )
