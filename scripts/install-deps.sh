#!/bin/bash
# Installs what ullm needs to build and test on Debian 12, from Debian's
# packages only. Run as root (or with sudo). Safe to run again.
set -euo pipefail
packages=(
  cmake ninja-build g++ pkg-config
  libfmt-dev libxsimd-dev xtl-dev      # formatting; SIMD abstraction (xsimd needs xtl)
  libgtest-dev libbenchmark-dev        # tests and benchmarks
  nlohmann-json3-dev python3           # reading reference outputs in tests
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "ullm dependencies: all installed"
