#!/bin/bash
# Installs what cross-building ullm for 64-bit ARM (the NEON target) and
# running its tests under qemu needs, on Debian 12 x86-64, from Debian's
# packages only. Run as root (or with sudo). Safe to run again.
set -euo pipefail
source "$(dirname "$0")/apt-missing.sh"
dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
apt_install_missing g++-aarch64-linux-gnu qemu-user libfmt-dev:arm64 libgtest-dev:arm64
echo "ullm arm64 cross dependencies: all installed"
