#!/bin/bash
# Installs what cross-building ullm for 64-bit ARM (the NEON target) and
# running its tests under qemu needs, on Debian 12 x86-64, from Debian's
# packages only. Run as root (or with sudo). Safe to run again.
set -euo pipefail
dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
packages=(g++-aarch64-linux-gnu qemu-user libfmt-dev:arm64 libgtest-dev:arm64)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "ullm arm64 cross dependencies: all installed"
