#!/bin/bash
# A short, seeded fuzzing run for CI: FUZZER starts from the files in
# ../shared that suit it and tries RUNS mutations of them. A crash, a
# sanitizer report, a hang or a runaway allocation fails it and leaves the
# input as crash-*/timeout-*/oom-* in the working directory.
# Usage: smoke.sh gguf|model|tokenizer FUZZER SHARED_DIR RUNS (ULLM_SHARED_DIR,
# if set, replaces SHARED_DIR as it does for the tests).
set -euo pipefail
kind=$1 fuzzer=$2 shared=${ULLM_SHARED_DIR:-$3} runs=$4
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
case $kind in
  gguf | model)
    cp "$shared"/models/stories260K-q4_0.gguf "$shared"/models/stories260K-q8_0.gguf \
      "$shared"/models/synth/*-q4_0.gguf "$corpus"/
    max_len=500000 ;;
  tokenizer)
    cp "$shared"/reference/tokenizer/*.inp "$corpus"/
    export ULLM_FUZZ_VOCABS="$shared/reference/tokenizer"
    max_len=4096 ;;
  *) echo "smoke.sh: unknown fuzzer kind '$kind'" >&2; exit 2 ;;
esac
"$fuzzer" "$corpus" -runs="$runs" -seed=1 -max_len="$max_len" -timeout=60 -rss_limit_mb=3000 -print_final_stats=1
