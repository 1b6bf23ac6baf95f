#!/bin/sh
# The command line from outside: certificates made here with the openssl
# tool, then `pinwarden pin` and `pinwarden verify` run on them, each case
# checking the exit status and what was printed.
#
#   test_cli.sh PATH/TO/pinwarden

set -u
PW=${1:?usage: test_cli.sh PATH/TO/pinwarden}
T=$(mktemp -d "${TMPDIR:-/tmp}/pw-cli.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
pass=0
fail=0

ok()   { pass=$((pass + 1)); echo "ok   $1"; }
bad() {
  fail=$((fail + 1))
  echo "FAIL $1"
  [ -f "$T/out" ] && sed 's/^/     /' "$T/out"
}

# check NAME WANT_STATUS PATTERN -- COMMAND...
# Runs COMMAND; passes when its status is WANT_STATUS and its output
# (stdout and stderr) matches the extended regular expression PATTERN.
# checkf is the same with PATTERN a fixed string (pins hold "+" and "/").
check()  { GREP=-E; run_check "$@"; }
checkf() { GREP=-F; run_check "$@"; }
run_check() {
  name=$1 want=$2 pattern=$3
  shift 4
  "$@" >"$T/out" 2>&1
  got=$?
  if [ "$got" -ne "$want" ]; then
    bad "$name (exit $got, want $want)"
  elif ! grep $GREP -q -- "$pattern" "$T/out"; then
    bad "$name (output lacks /$pattern/)"
  else
    ok "$name"
  fi
}

# A root, an intermediate and two leaves, valid 2026-2027 only through
# their dates: tests pass --at so the clock does not matter.
mk() {
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
    -nodes -keyout "$T/root.key" -out "$T/root.pem" -subj "/CN=CLI Root" \
    -days 3650 -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null || return 1

  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/inter.key" -out "$T/inter.csr" -subj "/CN=CLI Inter" \
    2>/dev/null || return 1
  printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n' \
    >"$T/inter.ext"
  openssl x509 -req -in "$T/inter.csr" -CA "$T/root.pem" \
    -CAkey "$T/root.key" -CAcreateserial -days 3650 \
    -extfile "$T/inter.ext" -out "$T/inter.pem" 2>/dev/null || return 1

  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/leaf.key" -out "$T/leaf.csr" -subj "/CN=site.test" \
    2>/dev/null || return 1
  printf '%s\n' 'basicConstraints=critical,CA:FALSE' \
    'keyUsage=critical,digitalSignature' 'extendedKeyUsage=serverAuth' \
    'subjectAltName=DNS:site.test,DNS:www.site.test,IP:127.0.0.1' \
    >"$T/leaf.ext"
  openssl x509 -req -in "$T/leaf.csr" -CA "$T/inter.pem" \
    -CAkey "$T/inter.key" -CAcreateserial -days 30 \
    -extfile "$T/leaf.ext" -out "$T/leaf.pem" 2>/dev/null || return 1

  cat "$T/leaf.pem" "$T/inter.pem" >"$T/chain.pem"
  openssl x509 -in "$T/leaf.pem" -outform der -out "$T/leaf.der"
}
mk || { echo "cannot make certificates with openssl"; exit 1; }

pin_of() {
  openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform der |
    openssl dgst -sha256 -binary | openssl base64 -A
}
LEAF_PIN="sha256/$(pin_of "$T/leaf.pem")"
ROOT_PIN="sha256/$(pin_of "$T/root.pem")"
OTHER_PIN="sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ)
LATER=$(date -u -d '+60 days' +%Y-%m-%dT%H:%M:%SZ)
V="$PW verify --chain $T/chain.pem --roots $T/root.pem --at $NOW"

# --- help and version
check "--version prints the version" 0 '^pinwarden [0-9]+\.' -- "$PW" --version
check "--help lists the commands" 0 'verify' -- "$PW" --help
check "verify --help describes options" 0 '--roots' -- "$PW" verify --help
check "pin --help describes the command" 0 'SubjectPublicKeyInfo' -- \
  "$PW" pin --help
check "no command is bad usage" 2 'usage' -- "$PW"
check "an unknown command is bad usage" 2 'unknown command' -- "$PW" frobnicate

# --- pin
checkf "pin prints the leaf's pin and subject" 0 \
  "$LEAF_PIN /CN=site.test" -- "$PW" pin "$T/leaf.pem"
checkf "pin reads DER" 0 "$LEAF_PIN " -- "$PW" pin "$T/leaf.der"
check "pin prints every certificate of a chain file" 0 'CN=CLI Inter' -- \
  "$PW" pin "$T/chain.pem"
check "pin of a missing file fails" 2 'No such file' -- "$PW" pin "$T/none"
printf 'not a certificate\n' >"$T/junk.pem"
check "pin of a file with no certificate fails" 2 'no certificate' -- \
  "$PW" pin "$T/junk.pem"

# --- verify: chain checks
check "valid chain, no pins: allowed" 0 'reason: no_policy' -- \
  $V --host site.test
check "IP literal in the SAN: allowed" 0 'action: allow' -- \
  $V --host 127.0.0.1
check "wrong host: blocked" 1 'reason: hostname_mismatch' -- \
  $V --host other.test
check "after the leaf's expiry: blocked" 1 'reason: expired' -- \
  "$PW" verify --chain "$T/chain.pem" --roots "$T/root.pem" --at "$LATER" \
  --host site.test
check "unknown root (system store): blocked" 1 'reason: untrusted' -- \
  "$PW" verify --chain "$T/chain.pem" --host site.test --at "$NOW"
check "leaf alone, intermediate missing: blocked" 1 'reason: untrusted' -- \
  "$PW" verify --chain "$T/leaf.pem" --roots "$T/root.pem" --at "$NOW" \
  --host site.test

# --- verify: pins
check "pin on the leaf: allowed" 0 'reason: ok' -- \
  $V --host site.test --pin "$LEAF_PIN"
check "pin on the root: allowed" 0 '<- pinned' -- \
  $V --host site.test --pin "$ROOT_PIN"
check "curl's sha256// form is accepted" 0 'reason: ok' -- \
  $V --host site.test --pin "sha256//${LEAF_PIN#sha256/}"
checkf "pin mismatch: blocked, expected pins shown" 1 \
  "expected: $OTHER_PIN" -- \
  $V --host site.test --pin "$OTHER_PIN"
check "backup pin: allowed" 0 'reason: ok' -- \
  $V --host site.test --pin "$OTHER_PIN" --pin "$LEAF_PIN"
check "one pin warns about the missing backup" 0 'warning: .*backup' -- \
  $V --host site.test --pin "$LEAF_PIN"
check "--json prints the decision record" 1 '"reason": "pin_mismatch"' -- \
  $V --host site.test --pin "$OTHER_PIN" --json

# A digest whose base64 starts with "/" must not be read as curl's form.
SLASH_PIN="sha256//dRsZPQ2Zz60DCgIn8eeEKxsyRhHhVN9xqiY6UMkh3w="
checkf "a pin whose base64 starts with a slash parses" 1 \
  "expected: $SLASH_PIN" -- $V --host site.test --pin "$SLASH_PIN"

# --- verify: bad usage
check "a bad pin is bad usage" 2 'base64' -- \
  $V --host site.test --pin 'sha256/@@@'
check "an unknown hash is bad usage" 2 'only sha256' -- \
  $V --host site.test --pin 'sha1/AAAA'
check "a bad time is bad usage" 2 'RFC 3339' -- \
  "$PW" verify --chain "$T/chain.pem" --host site.test --at yesterday
check "a missing --host is bad usage" 2 'usage' -- \
  "$PW" verify --chain "$T/chain.pem"
check "an unreadable chain is bad usage" 2 'no certificate' -- \
  "$PW" verify --chain "$T/junk.pem" --host site.test
check "a bad port is bad usage" 2 'port' -- \
  $V --host site.test --port 70000
check "a bad host is bad usage" 2 'host' -- $V --host 'a..b'

# --- init
check "init creates the data folder and the store" 0 'schema [0-9]+' -- \
  "$PW" init --data-dir "$T/data"
mode() { stat -c %a "$1" 2>/dev/null; }
if [ "$(mode "$T/data")" = 700 ] && [ "$(mode "$T/data/pinwarden.db")" = 600 ]
then ok "the data folder is 0700 and the store 0600"
else bad "modes: folder $(mode "$T/data"), store $(mode "$T/data/pinwarden.db")"
fi
check "init again keeps the store" 0 'pinwarden.db' -- \
  "$PW" init --data-dir "$T/data"
check "init follows XDG_DATA_HOME" 0 "$T/xdg/pinwarden" -- \
  env XDG_DATA_HOME="$T/xdg" "$PW" init
printf 'not a database' >"$T/junk.db"
mkdir -p "$T/bad" && cp "$T/junk.db" "$T/bad/pinwarden.db"
check "init refuses a file that is not a store" 2 'init:' -- \
  "$PW" init --data-dir "$T/bad"
check "init with a stray argument is bad usage" 2 'usage' -- \
  "$PW" init extra

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
