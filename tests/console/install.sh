#!/bin/sh
# Installs playwright-core (pinned in package.json and package-lock.json),
# the driver of the console's browser test, on first use, into
# $HARNESS_TOOLCHAINS/console-playwright-<hash of the lock> (default:
# <repo>/target/toolchains). Prints the folder holding node_modules on stdout.
# The browser is Debian's chromium (/usr/bin/chromium), not a download.
#
# Needs node and npm. Safe to run concurrently: one installer at a time (a
# file lock), and a folder is used only once its marker exists.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
toolchains="${HARNESS_TOOLCHAINS:-$root/target/toolchains}"
pin=$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -c1-12)
dir="$toolchains/console-playwright-$pin"

mkdir -p "$toolchains"
if command -v flock >/dev/null 2>&1; then
    exec 9>"$toolchains/.console-playwright.lock"
    flock 9
fi

if [ "$(cat "$dir/.installed" 2>/dev/null)" != "$dir" ]; then
    echo "installing playwright-core into $dir (first use)..." >&2
    rm -rf "$dir"
    mkdir -p "$dir"
    cp "$here/package.json" "$here/package-lock.json" "$dir/"
    (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
    printf '%s' "$dir" > "$dir/.installed"
fi
printf '%s\n' "$dir"
