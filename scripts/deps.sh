#!/bin/sh
# Installs the Debian 12 packages pinwarden needs, only when one is
# missing, so a second run costs nothing.  Runs apt-get as root, or
# through sudo.
#
#   scripts/deps.sh run     what building and running the engine needs
#   scripts/deps.sh test    that, plus what every test needs

set -eu

RUN="build-essential pkg-config meson ninja-build ca-certificates openssl
  libssl-dev libsqlite3-dev libuv1-dev libwebsockets-dev
  libwebsockets-evlib-uv libjansson-dev libidn2-dev libpsl-dev publicsuffix
  libcurl4-openssl-dev libhttp-parser-dev libbrotli-dev zlib1g-dev
  chromium libnss3-tools"
# publicsuffix: the system's public suffix list, which libpsl reads when
# it is newer than the one built into the library.
# chromium and certutil (libnss3-tools): the engine runs the browser for
# its users, each profile with an NSS database of its own.
# nodejs runs tests/integration (node:test); Debian 12 gives Node 18,
# which the tests support through their own WebSocket client.
TEST="libcriterion-dev clang libclang-rt-14-dev nodejs tinyproxy microsocks
  nginx libnginx-mod-stream curl"

case "${1:-run}" in
  run)  want=$RUN ;;
  test) want="$RUN $TEST" ;;
  *)    echo "usage: scripts/deps.sh run|test" >&2; exit 2 ;;
esac

missing=
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
    missing="$missing $p"
done
# npm installs playwright-core for the browser tests (npm ci).  Debian
# packages it apart from nodejs; a Node.js that brings its own npm
# (NodeSource's) must not get Debian's, which conflicts with it.
if [ "${1:-run}" = test ] && ! command -v npm >/dev/null 2>&1; then
  missing="$missing npm"
fi
[ -z "$missing" ] && exit 0

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "installing:$missing"
$SUDO apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
  --no-install-recommends $missing
