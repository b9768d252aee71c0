#!/bin/sh
# Builds the Python tool into a WebAssembly component with componentize-py.
#
# The toolchain is installed on first use, from PyPI, into a virtualenv
# $HARNESS_TOOLCHAINS/componentize-py-<hash of requirements.txt> (default:
# <repo>/target/toolchains), so every plugin pinning the same version shares
# one install, and a new pin gets a new venv; later builds reuse it. The component is written to
# <repo>/target/python-tool/python-tool.wasm, where plugin.toml points. A
# build is skipped when the component is newer than every source.
#
# Needs python3 with the venv module. Run from anywhere; `host plugins build`
# runs it in this folder.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
toolchains="${HARNESS_TOOLCHAINS:-$root/target/toolchains}"
pin=$(sha256sum "$here/requirements.txt" | cut -c1-12)
venv="$toolchains/componentize-py-$pin"
out_dir="$root/target/python-tool"
out="$out_dir/python-tool.wasm"

mkdir -p "$toolchains" "$out_dir"

# One installer at a time: tests and `host plugins build` may run this
# concurrently, and two pip installs into one venv corrupt it.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$toolchains/.componentize-py.lock"
    flock 9
fi

sources="$here/app.py $here/wit $here/requirements.txt $here/build.sh $root/wit"
if [ -f "$out" ] && [ -z "$(find $sources -newer "$out" 2>/dev/null)" ]; then
    echo "$out is up to date" >&2
    exit 0
fi

# A venv is usable only once its marker exists: an install killed halfway
# leaves no marker and is redone from scratch. The marker holds the venv's
# path: a venv's scripts name their interpreter by absolute path, so one that
# was moved (a checkout or target/ moved elsewhere) is reinstalled too.
if [ "$(cat "$venv/.installed" 2>/dev/null)" != "$venv" ]; then
    echo "installing componentize-py into $venv (first build, or the venv moved)..." >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
    printf '%s' "$venv" > "$venv/.installed"
fi

# Build to a temporary file and rename, so the host never loads half a component.
cd "$here"
export PYTHONDONTWRITEBYTECODE=1
"$venv/bin/componentize-py" --quiet \
    -d "$root/wit" -d "$here/wit" -w local:python-tool/python-tool \
    componentize app -o "$out.tmp"
mv "$out.tmp" "$out"
echo "built $out" >&2
