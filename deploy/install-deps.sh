#!/usr/bin/env bash
# deploy/install-deps.sh: install, with apt-get, every Debian package needed to
# build Strata and run its tests.  Idempotent: packages already installed are
# left alone, and apt-get is not touched at all when nothing is missing.
# Works as root, or through sudo when run as another user.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake pkg-config clang libclang-rt-14-dev
  # libraries
  libevent-dev libhiredis-dev libleveldb-dev libyaml-dev libcmocka-dev
  liblua5.1-0-dev lua-cjson-dev lua-bitop-dev
  # TLS (common/tls.c) and the openssl CLI its tests make certificates with
  libssl-dev openssl
  # reference servers and clients used by tests and benchmarks
  redis-server redis-tools nutcracker python3-redis python3-pytest
  # a script-using client library (tests/e2e/test_client_libs.py)
  python3-limits
  # process and socket tools used by scripts and tests
  iproute2 procps
  # nemesis (tests/nemesis): ip netns, bridge, veth, blackhole routes; dd, mount (tmpfs)
  coreutils util-linux
)

installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

missing=()
for p in "${PACKAGES[@]}"; do
  installed "$p" || missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  echo "install-deps: missing packages (${missing[*]}) and neither root nor sudo" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"

# Debian's redis-server package starts a system-wide server on port 6379, the
# port Strata's proxy owns.  Tests start their own redis-server processes, so
# when we have just installed it, stop and disable the system service.
if printf '%s\n' "${missing[@]}" | grep -qx redis-server &&
   command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  "${SUDO[@]}" systemctl disable --now redis-server >/dev/null 2>&1 || true
fi

for p in "${PACKAGES[@]}"; do
  installed "$p" || { echo "install-deps: $p failed to install" >&2; exit 1; }
done
echo "install-deps: done"
