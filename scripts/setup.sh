#!/usr/bin/env bash
# Installs what ngrad needs on a fresh Debian machine: OpenBLAS headers for the native backend, clang and
# lld for the wasm backend's kernels, Fashion-MNIST, and Chromium for the lab's browser tests, from Debian's
# packages (when missing), then the npm dependencies, which builds the addon and the kernels.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for pkg in libopenblas-dev clang lld dataset-fashion-mnist chromium; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "setup: missing Debian packages ${missing[*]}; run as root: apt-get install ${missing[*]}" >&2
  fi
fi

npm ci --no-audit --no-fund
