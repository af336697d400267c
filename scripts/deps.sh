#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what Loom needs to build, test, demo and benchmark on Debian 12.
# Idempotent: installs only missing packages; safe to run on every `make`.
# Usage: scripts/deps.sh [build|test|bench]   (default: test)
set -eu
what=${1:-test}

build_pkgs="build-essential pkg-config libuv1-dev libhttp-parser-dev libssl-dev libzstd-dev
  libjansson-dev zlib1g-dev libsodium-dev libsqlite3-dev libxxhash-dev libwslay-dev
  libprotobuf-c-dev protobuf-c-compiler nodejs"
test_pkgs="libcmocka-dev jq python3 python3-pytest python3-requests python3-websocket influxdb-client clang
  libclang-rt-14-dev mosquitto mosquitto-clients python3-paho-mqtt libpaho-mqtt-dev chromium
  fonts-noto-cjk"
bench_pkgs="influxdb victoria-metrics"

case "$what" in
  build) want="$build_pkgs" ;;
  test) want="$build_pkgs $test_pkgs" ;;
  bench) want="$build_pkgs $test_pkgs $bench_pkgs" ;;
  *) echo "usage: $0 [build|test|bench]" >&2; exit 2 ;;
esac

# npm: part of some nodejs builds (NodeSource), a separate package in Debian's. Every
# mode needs it: the build fetches the web console's npm dependencies (npm ci in web/).
# The test set adds chromium and CJK fonts for the console's browser tests.
command -v npm >/dev/null 2>&1 || want="$want npm"
missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "deps: missing packages:$missing (run as root, or install them)" >&2
  exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# Debian's influxdb package starts a service on install; policy-rc.d keeps it from doing so.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq || apt-get update
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
