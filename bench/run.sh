#!/bin/sh
# Builds the benchmarks and prints their tables.
#
#   bench/run.sh [BUILDDIR] [--seconds N]
#
# BUILDDIR (default: build) is set up as a release build without the
# unit tests when it does not exist; one that exists keeps its settings,
# with a warning when they do not optimise.  --seconds goes to every
# benchmark (per row or cell).  bench_ipc starts and stops its own
# `pinwarden serve` on a temporary data folder.
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
if [ $# -gt 0 ]; then
  shift
fi

if [ ! -d "$build" ]; then
  meson setup "$build" "$src" --buildtype=release -Dtests=disabled
fi

# Debug builds time the debug code, not the product.
opt=$(meson configure "$build" | awk '$1 == "optimization" { print $2 }')
case "$opt" in
  2|3) ;;
  *) echo "run.sh: $build is built at optimization '$opt';" \
          "the numbers will be slow: meson configure $build" \
          "--buildtype=release" >&2 ;;
esac

# bench_ipc starts the daemon it measures, $build/pinwarden; gateway.mjs
# starts it and $build/bench/relay.
meson compile -C "$build" bench_verify bench_lookup bench_ipc relay \
  pinwarden:executable >/dev/null

"$build/bench/bench_verify" "$@"
echo
"$build/bench/bench_verify" --rsa "$@"
echo
"$build/bench/bench_lookup" "$@"
echo
"$build/bench/bench_ipc" "$@"

# The gateway's and the launcher's benchmarks are Node scripts that
# drive nginx, curl, tinyproxy and Chromium through the daemon built
# above.
echo
if command -v node >/dev/null 2>&1; then
  node "$src/bench/gateway.mjs" --pinwarden "$build/pinwarden" "$@"
  echo
  node "$src/bench/launch.mjs" --pinwarden "$build/pinwarden" "$@"
else
  echo "run.sh: node not found: skipping bench/gateway.mjs and" \
       "bench/launch.mjs" >&2
fi
