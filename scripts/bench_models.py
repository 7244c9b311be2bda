#!/usr/bin/env python3
"""End-to-end benchmark tables for docs/benchmarks.md.

Writes random-weight models of real shapes with ullm-synth (once, into a
cache directory), measures the memory-read baseline with the kernel bench,
runs ullm-bench on each model, and prints markdown rows: prompt and decode
tokens/s per thread count, and decode as a fraction of its roofline (the
memory-read baseline divided by the bytes one decode step reads: every
tensor except the token embeddings, which are read one row per token, unless
they double as the output head). The baseline is measured again right
before each model: on a shared VM it drifts by tens of percent in minutes.

usage: scripts/bench_models.py [--build build] [--cache /tmp/ullm-models]
                               [--shapes tinyllama-1.1b,stories110M,stories15M]
                               [--types q4_0,q8_0,q4_k_m] [--threads 1,2]
"""
import argparse
import json
import os
import re
import subprocess


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def memory_read_gbs(build):
    out = run([f"{build}/bench/ullm_kernel_bench", "--benchmark_filter=BM_MemoryRead",
               "--benchmark_repetitions=3", "--benchmark_report_aggregates_only=true",
               "--benchmark_format=json"])
    result = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("aggregate_name") == "median":
            threads = int(re.search(r"threads:(\d+)", b["name"]).group(1))
            result[threads] = b["bytes_per_second"] / 1e9
    return result


def decode_bytes(build, path):
    total, embd, tied = 0, 0, True
    for line in run([f"{build}/ullm-inspect", path]).splitlines():
        m = re.match(r"\s+(\S+)\s+\S+\s+\[.*\]\s+(\d+) bytes", line)
        if not m:
            continue
        name, size = m.group(1), int(m.group(2))
        total += size
        if name == "token_embd.weight":
            embd = size
        if name == "output.weight":
            tied = False
    return total - (0 if tied else embd)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--cache", default="/tmp/ullm-models")
    ap.add_argument("--shapes", default="tinyllama-1.1b,stories110M,stories15M")
    ap.add_argument("--types", default="q4_0,q8_0,q4_k_m")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--kernels", default="")
    args = ap.parse_args()
    os.makedirs(args.cache, exist_ok=True)
    print("| model | file MiB | threads | pp t/s | tg t/s | memory read GB/s | tg roofline t/s | tg fraction |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for shape in args.shapes.split(","):
        for wtype in args.types.split(","):
            path = f"{args.cache}/{shape}-{wtype}.gguf"
            if not os.path.exists(path):
                run([f"{args.build}/ullm-synth", "--like", shape, "--type", wtype, "-o", path])
            big = "1.1b" in shape
            bench = [f"{args.build}/ullm-bench", "-m", path, "-t", args.threads, "--json",
                     "-p", "64" if big else "128", "-n", "16" if big else "64", "-r", "3"]
            if args.kernels:
                bench += ["--kernels", args.kernels]
            baseline = memory_read_gbs(args.build)
            tests = json.loads(run(bench))
            step_bytes = decode_bytes(args.build, path)
            mib = os.path.getsize(path) / 2**20
            for threads in sorted({t["n_threads"] for t in tests}):
                pp = next(t for t in tests if t["n_threads"] == threads and t["n_prompt"] > 0)
                tg = next(t for t in tests if t["n_threads"] == threads and t["n_gen"] > 0)
                gbs = baseline.get(threads, baseline[max(baseline)])
                roof = gbs * 1e9 / step_bytes
                print(f"| {shape} {wtype.upper()} | {mib:.0f} | {threads} | {pp['avg_ts']:.1f} (pp{pp['n_prompt']}) "
                      f"| {tg['avg_ts']:.1f} | {gbs:.1f} | {roof:.1f} | {tg['avg_ts'] / roof:.2f} |", flush=True)


if __name__ == "__main__":
    main()
