#!/bin/sh
# Installs the official Python MCP client (the `mcp` package, pinned in
# requirements.txt) the MCP tests drive `host mcp` with, on first use, into
# $HARNESS_TOOLCHAINS/mcp-client-<hash of requirements.txt> (default:
# <repo>/target/toolchains). Prints the venv's python on stdout.
#
# Needs python3 with the venv module. Safe to run concurrently: one installer
# at a time (a file lock), and a venv is used only once its marker exists.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
toolchains="${HARNESS_TOOLCHAINS:-$root/target/toolchains}"
pin=$(sha256sum "$here/requirements.txt" | cut -c1-12)
venv="$toolchains/mcp-client-$pin"

mkdir -p "$toolchains"
if command -v flock >/dev/null 2>&1; then
    exec 9>"$toolchains/.mcp-client.lock"
    flock 9
fi

# The marker holds the venv's path: a moved venv's scripts name a stale
# interpreter, so it is reinstalled.
if [ "$(cat "$venv/.installed" 2>/dev/null)" != "$venv" ]; then
    echo "installing the Python MCP client into $venv (first use)..." >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt" >&2
    printf '%s' "$venv" > "$venv/.installed"
fi
printf '%s\n' "$venv/bin/python"
