#!/bin/sh
# Builds the JavaScript tool into a WebAssembly component with componentize-js,
# through `jco componentize` (jco 1.34.0; 1.35.0's componentize is broken).
#
# The toolchain is installed on first use, from npm, with the exact versions
# of package-lock.json, into $HARNESS_TOOLCHAINS/jco-<hash of the lock file>
# (default: <repo>/target/toolchains), so every plugin pinning the same lock
# shares one install; later builds reuse it. The component is written to
# <repo>/target/js-tool/js-tool.wasm, where plugin.toml points. A build is
# skipped when the component is newer than every source.
#
# Needs node and npm. Run from anywhere; `host plugins build` runs it here.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
toolchains="${HARNESS_TOOLCHAINS:-$root/target/toolchains}"
out_dir="$root/target/js-tool"
out="$out_dir/js-tool.wasm"
wit="$out_dir/wit"

mkdir -p "$toolchains" "$out_dir"

# One build at a time: tests and `host plugins build` may run this
# concurrently, and two npm installs into one folder corrupt it.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$toolchains/.jco.lock"
    flock 9
fi

sources="$here/tool.js $here/wit $here/package.json $here/package-lock.json $here/build.sh $root/wit"
if [ -f "$out" ] && [ -z "$(find $sources -newer "$out" 2>/dev/null)" ]; then
    echo "$out is up to date" >&2
    exit 0
fi

# An install is usable only once its marker exists: one killed halfway leaves
# no marker and is redone from scratch. `npm install --no-save` installs what
# package-lock.json pins without rewriting it (`npm ci` would be the usual
# choice, but npm 11 refuses this lock file because some of jco's optional
# platform packages do not exist for every platform).
jco_home="$toolchains/jco-$(sha256sum "$here/package-lock.json" | cut -c1-12)"
if [ ! -f "$jco_home/.installed" ]; then
    echo "installing jco and componentize-js into $jco_home (first build only)..." >&2
    rm -rf "$jco_home"
    mkdir -p "$jco_home"
    cp "$here/package.json" "$here/package-lock.json" "$jco_home/"
    (cd "$jco_home" && npm install --no-save --no-audit --no-fund --loglevel=error)
    touch "$jco_home/.installed"
fi

# The WIT folder to build against: this tool's world, the harness contract
# and the WASI 0.2.12 packages it imports, both from the repository's wit/
# (wit/deps is the one copy of the WASI WIT every guest builds against).
rm -rf "$wit"
mkdir -p "$wit/deps/harness-plugin"
cp "$here/wit/world.wit" "$wit/"
cp "$root/wit/plugin.wit" "$wit/deps/harness-plugin/"
for package in filesystem io clocks; do
    cp "$root/wit/deps/$package.wit" "$wit/deps/"
done

# `fetch-event` (serving HTTP) is disabled: a tool never serves requests, and
# the host does not provide wasi:http/incoming-handler. Outgoing `fetch`
# stays: it goes through the host's checked wasi:http sender.
cd "$here"
"$jco_home/node_modules/.bin/jco" componentize "$here/tool.js" \
    --wit "$wit" --world-name js-tool --disable fetch-event -o "$out.tmp" >&2
mv "$out.tmp" "$out"
echo "built $out" >&2
