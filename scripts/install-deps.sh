#!/bin/bash
# Installs what ullm needs to build and test on Debian 12, from Debian's
# packages only. Run as root (or with sudo). Safe to run again.
set -euo pipefail
source "$(dirname "$0")/apt-missing.sh"
apt_install_missing \
  cmake ninja-build g++ pkg-config \
  libfmt-dev libxsimd-dev xtl-dev \
  libgtest-dev libbenchmark-dev \
  nlohmann-json3-dev python3
# (formatting; SIMD abstraction, which needs xtl; tests and benchmarks;
# reading reference outputs in tests)
echo "ullm dependencies: all installed"
