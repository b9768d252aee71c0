#!/bin/sh
# Builds {{name}} into a WebAssembly component with componentize-js, through
# `jco componentize` (jco 1.34.0; 1.35.0's componentize is broken).
#
# The toolchain is installed on first use, from npm, with the exact versions
# of package-lock.json, into $HARNESS_TOOLCHAINS/jco-<hash of the lock file>
# (default: ./target/toolchains); later builds reuse it. The component is
# written to ./target/{{name}}.wasm, where plugin.toml points. A build is
# skipped when the component is newer than every source.
#
# Needs node and npm. Run from anywhere; `host plugins build` runs it here.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
toolchains="${HARNESS_TOOLCHAINS:-$here/target/toolchains}"
out="$here/target/{{name}}.wasm"

mkdir -p "$toolchains" "$here/target"

# One installer at a time: two npm installs into one folder corrupt it.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$toolchains/.jco.lock"
    flock 9
fi

sources="$here/plugin.js $here/wit $here/package.json $here/package-lock.json $here/build.sh"
if [ -f "$out" ] && [ -z "$(find $sources -newer "$out" 2>/dev/null)" ]; then
    echo "$out is up to date" >&2
    exit 0
fi

# An install is usable only once its marker exists: one killed halfway leaves
# no marker and is redone. `npm install --no-save` installs exactly what
# package-lock.json pins without rewriting it (npm 11's `npm ci` refuses this
# lock file: some of jco's optional platform packages do not exist everywhere).
jco_home="$toolchains/jco-$(sha256sum "$here/package-lock.json" | cut -c1-12)"
if [ ! -f "$jco_home/.installed" ]; then
    echo "installing jco and componentize-js into $jco_home (first build only)..." >&2
    rm -rf "$jco_home"
    mkdir -p "$jco_home"
    cp "$here/package.json" "$here/package-lock.json" "$jco_home/"
    (cd "$jco_home" && npm install --no-save --no-audit --no-fund --loglevel=error)
    touch "$jco_home/.installed"
fi

# Without a network grant the plugin cannot use `fetch` anyway, so the engine
# is built without it (`http`), and without serving HTTP (`fetch-event`): the
# component then imports no wasi:http at all. If you grant network access,
# remove `http` from --disable.
cd "$here"
"$jco_home/node_modules/.bin/jco" componentize "$here/plugin.js" \
    --wit "$here/wit" --world-name plugin --disable http fetch-event -o "$out.tmp" >&2
mv "$out.tmp" "$out"
echo "built $out" >&2
