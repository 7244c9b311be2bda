#!/usr/bin/env python3
"""End-to-end benchmark tables for docs/benchmarks.md.

Writes random-weight models of real shapes with ullm-synth (once, into a
cache directory), measures the memory-read baseline with the kernel bench,
runs ullm-bench on each model, and prints markdown rows: prompt and decode
tokens/s per thread count, and decode as a fraction of its roofline (the
memory-read baseline divided by the bytes one decode step reads: every
tensor except the token embeddings, which are read one row per token, unless
they double as the output head).

On a shared VM the baseline drifts by tens of percent within minutes, so
decode is measured in rounds, each bracketed by baseline measurements: a
round's fraction is its decode rate over the roofline of the mean of the
baselines just before and just after it. Rows give the medians over rounds
and the range of the fractions.

usage: scripts/bench_models.py [--build build] [--cache /tmp/ullm-models]
                               [--shapes tinyllama-1.1b,stories110M,stories15M]
                               [--types q4_0,q8_0,q4_k_m] [--threads 1,2]
                               [--rounds 3]
"""
import argparse
import json
import os
import re
import statistics
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
    ap.add_argument("--rounds", type=int, default=3, help="decode measurements, each between two baselines")
    args = ap.parse_args()
    os.makedirs(args.cache, exist_ok=True)
    print("| model | file MiB | threads | pp t/s | tg t/s | memory read GB/s | tg roofline t/s "
          "| tg fraction (range) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for shape in args.shapes.split(","):
        for wtype in args.types.split(","):
            path = f"{args.cache}/{shape}-{wtype}.gguf"
            if not os.path.exists(path):
                run([f"{args.build}/ullm-synth", "--like", shape, "--type", wtype, "-o", path])
            big = "1.1b" in shape
            bench = [f"{args.build}/ullm-bench", "-m", path, "-t", args.threads, "--json"]
            if args.kernels:
                bench += ["--kernels", args.kernels]
            prompt = json.loads(run(bench + ["-p", "64" if big else "128", "-n", "0", "-r", "3"]))
            baselines = [memory_read_gbs(args.build)]
            rounds = []
            for _ in range(args.rounds):
                rounds.append(json.loads(run(bench + ["-p", "0", "-n", "16" if big else "64", "-r", "2"])))
                baselines.append(memory_read_gbs(args.build))
            step_bytes = decode_bytes(args.build, path)
            mib = os.path.getsize(path) / 2**20
            for threads in sorted({t["n_threads"] for t in prompt}):
                pp = next(t for t in prompt if t["n_threads"] == threads)
                gbs, tgs, fractions = [], [], []
                for i, tests in enumerate(rounds):
                    tg = next(t for t in tests if t["n_threads"] == threads)["avg_ts"]
                    around = [b.get(threads, b[max(b)]) for b in baselines[i:i + 2]]
                    gbs.append(statistics.mean(around))
                    tgs.append(tg)
                    fractions.append(tg * step_bytes / (gbs[-1] * 1e9))
                baseline, tg = statistics.median(gbs), statistics.median(tgs)
                print(f"| {shape} {wtype.upper()} | {mib:.0f} | {threads} | {pp['avg_ts']:.1f} (pp{pp['n_prompt']}) "
                      f"| {tg:.1f} | {baseline:.1f} | {baseline * 1e9 / step_bytes:.1f} "
                      f"| {statistics.median(fractions):.2f} ({min(fractions):.2f}-{max(fractions):.2f}) |", flush=True)

if __name__ == "__main__":
    main()
