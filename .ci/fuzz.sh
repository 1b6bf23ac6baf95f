#!/bin/sh
# Builds the libFuzzer targets with clang and runs each for FUZZ_SECONDS
# (default 15) on a copy of its seed corpus.  Fails when any target finds
# a crash, a leak or a broken property.  Nothing is written into the
# source tree but the build folder: corpora grow, and crash inputs land,
# in a temporary folder that is kept (and named) when something failed.
#
#   .ci/fuzz.sh                    every target
#   .ci/fuzz.sh fuzz_sa_url ...    only these
#   FUZZ_SECONDS=600 .ci/fuzz.sh fuzz_host
set -eu

cd "$(dirname "$0")/.."
src=$(pwd)
build=${FUZZ_BUILD:-build-fuzz}
seconds=${FUZZ_SECONDS:-15}
jobs=${FUZZ_JOBS:-2}

# With -Dfuzz=true the library is compiled with fuzzer-no-link so that
# libFuzzer sees its coverage; the targets add -fsanitize=fuzzer.
opts="-Dfuzz=true -Dtests=disabled -Db_sanitize=address,undefined
      -Db_lundef=false"
if [ -f "$build/build.ninja" ]; then
  # shellcheck disable=SC2086
  CC=clang meson setup --reconfigure "$build" $opts >/dev/null
else
  # shellcheck disable=SC2086
  CC=clang meson setup "$build" $opts
fi

# Only the targets and what they link: the fuzz run does not wait on
# parts of the tree it does not exercise.
if [ $# -gt 0 ]; then
  targets=$*
else
  targets=$(ninja -C "$build" -t targets all \
              | sed -n 's|^tests/fuzz/\(fuzz_[a-z0-9_]*\): .*|\1|p')
fi
[ -n "$targets" ] || { echo "fuzz: no targets in $build" >&2; exit 1; }
# shellcheck disable=SC2046
meson compile -C "$build" -j "$jobs" \
  $(for t in $targets; do echo "tests/fuzz/$t"; done)

work=$(mktemp -d "${TMPDIR:-/tmp}/pinwarden-fuzz.XXXXXX")
failed=""

# UBSan reports are fatal, as crashes are; leaks are found by LSan.
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

printf '%-20s %10s %8s %10s  %s\n' target runs seconds exec/s result
for t in $targets; do
  exe="$build/tests/fuzz/$t"
  seeds="$src/tests/fuzz/corpus/$t"
  if [ ! -x "$exe" ] || [ ! -d "$seeds" ]; then
    echo "fuzz: $t: missing target or seed corpus $seeds" >&2
    failed="$failed $t"
    continue
  fi

  mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
  cp -R "$seeds/." "$work/$t/corpus/"
  dict=""
  [ -f "$src/tests/fuzz/$t.dict" ] && dict="-dict=$src/tests/fuzz/$t.dict"

  result=ok
  # shellcheck disable=SC2086
  "$exe" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
         -artifact_prefix="$work/$t/artifacts/" $dict \
         ${FUZZ_ARGS:-} "$work/$t/corpus" >"$work/$t/log" 2>&1 \
    || result=FAILED

  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t/log")
  secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' \
           "$work/$t/log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/$t/log")
  printf '%-20s %10s %8s %10s  %s\n' "$t" "${runs:--}" "${secs:--}" \
         "${rate:--}" "$result"

  if [ "$result" != ok ]; then
    failed="$failed $t"
    tail -n 40 "$work/$t/log" >&2
  fi
done

if [ -n "$failed" ]; then
  echo "fuzz: failed:$failed; logs and crash inputs are in $work" >&2
  exit 1
fi
rm -rf "$work"
