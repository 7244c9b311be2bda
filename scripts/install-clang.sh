#!/bin/bash
# Installs clang and its sanitizer and libFuzzer runtimes (Debian 12:
# clang 14), for the sanitizer and fuzzing build. Run as root (or with
# sudo). Safe to run again.
set -euo pipefail
source "$(dirname "$0")/apt-missing.sh"
apt_install_missing clang libclang-rt-14-dev
echo "ullm clang dependencies: all installed"
