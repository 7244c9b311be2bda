#!/bin/bash
# The command-line contracts of ullm-run, ullm-tokenize and ullm-inspect:
# stdout carries only results, stderr diagnostics, exit 2 for usage errors,
# exit 1 (never a signal) for bad input.
# usage: cli_test.sh BIN_DIR SHARED_DIR [EMULATOR]
# (EMULATOR, e.g. qemu-aarch64, runs cross-compiled tools.)
set -u
bin=$1
shared=$2
model=$shared/models/stories260K-f32.gguf
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [[ -n "${3:-}" ]]; then  # wrap each tool so the checks below call it as usual
  mkdir "$tmp/bin"
  for tool in "$bin"/ullm-*; do
    [[ -x "$tool" && -f "$tool" ]] || continue
    printf '#!/bin/sh\nexec %s %s "$@"\n' "$3" "$tool" >"$tmp/bin/${tool##*/}"
    chmod +x "$tmp/bin/${tool##*/}"
  done
  bin=$tmp/bin
fi
passed=0
failed=0

check() {  # check NAME COMMAND...: the command must succeed
  local name=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL: $name"
  fi
}

# expect_exit CODE PATTERN CMD...: exit code CODE and PATTERN on stderr.
expect_exit() {
  local code=$1 pattern=$2
  shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  if [[ $got -ne $code ]]; then
    echo "  exit $got, expected $code: $*"
    cat "$tmp/err"
    return 1
  fi
  grep -q -- "$pattern" "$tmp/err" || { echo "  stderr lacks '$pattern': $(cat "$tmp/err")"; return 1; }
}

for tool in ullm-run ullm-chat ullm-tokenize ullm-inspect ullm-bench ullm-synth; do
  check "$tool --help" bash -c "'$bin/$tool' --help | grep -q usage"
  check "$tool bad flag" expect_exit 2 "unknown option" "$bin/$tool" --no-such-flag
done
# Repacked weights (the default) and the mapped file give the same text.
same_with_and_without_repacking() {
  local q4=$shared/models/stories260K-q4_0.gguf
  "$bin/ullm-run" -m "$q4" -p "Once upon a time" -n 24 --temp 0 -q >"$tmp/repacked" &&
    "$bin/ullm-run" -m "$q4" -p "Once upon a time" -n 24 --temp 0 -q --no-repack >"$tmp/mapped" &&
    cmp -s "$tmp/repacked" "$tmp/mapped" && [[ -s "$tmp/repacked" ]]
}
check "--no-repack same text" same_with_and_without_repacking
check "missing value" expect_exit 2 "needs a value" "$bin/ullm-run" -m
check "bad number" expect_exit 2 "not a valid number" "$bin/ullm-run" -n ten
check "bad kv type" expect_exit 2 "kv-type" "$bin/ullm-run" --kv-type q3
check "bad top-p" expect_exit 2 "top-p" "$bin/ullm-run" --top-p 0
check "bad -n" expect_exit 2 "\-n must be" "$bin/ullm-run" -n -7
check "bad -t" expect_exit 2 "\-t must be" "$bin/ullm-run" -t -2
check "bad repetitions" expect_exit 2 "repetitions" "$bin/ullm-bench" -r 0
check "inspect needs a file" expect_exit 2 "missing argument" "$bin/ullm-inspect"

# Greedy ids equal llama.cpp's for the first reference prompt.
expected=$(python3 -c "import json,sys; print('\n'.join(map(str, json.load(open(sys.argv[1]))[0]['generated_ids'][:40])))" \
  "$shared/reference/greedy/stories260K-f32.json")
check "greedy ids" bash -c "[[ \"\$('$bin/ullm-run' -m '$model' -p 'Once upon a time' -n 40 --temp 0 --ids 2>/dev/null)\" == \"$expected\" ]]"
# stdout holds only the generated text; diagnostics go to stderr.
"$bin/ullm-run" -m "$model" -p "Once upon a time" -n 12 --temp 0 >"$tmp/text" 2>"$tmp/diag"
check "text on stdout" grep -q "^, there was a little girl" "$tmp/text"
check "diagnostics on stderr" grep -q "tok/s" "$tmp/diag"
check "no diagnostics on stdout" bash -c "! grep -q 'tok/s\|model:' '$tmp/text'"
check "ULLM_MODEL" bash -c "ULLM_MODEL='$model' '$bin/ullm-run' -p Hi -n 2 --temp 0 -q >/dev/null"
check "seeded sampling repeats" bash -c "[[ \"\$('$bin/ullm-run' -m '$model' -n 20 --seed 7 -q)\" == \"\$('$bin/ullm-run' -m '$model' -n 20 --seed 7 -q)\" ]]"

# Bad input: one-line error, exit 1, never a signal.
: >"$tmp/empty.gguf"
head -c 3000 "$model" >"$tmp/cut.gguf"
check "missing model" expect_exit 1 "cannot open" "$bin/ullm-run" -m "$tmp/nope.gguf"
check "empty model" expect_exit 1 "empty file" "$bin/ullm-run" -m "$tmp/empty.gguf"
check "truncated model" expect_exit 1 "truncated\|past the end" "$bin/ullm-run" -m "$tmp/cut.gguf"
check "prompt too long" expect_exit 1 "context" "$bin/ullm-run" -m "$model" -c 4 -p "Once upon a time there was"
check "context too big" expect_exit 1 "context length" "$bin/ullm-run" -m "$model" -c 100000
check "inspect empty" expect_exit 1 "empty file" "$bin/ullm-inspect" "$tmp/empty.gguf"

# ullm-tokenize: ids one per line, BOS per metadata unless --no-bos.
check "tokenize" bash -c "[[ \"\$('$bin/ullm-tokenize' -m '$model' -p 'Once upon a time' | tr '\n' ' ')\" == '1 403 407 261 378 ' ]]"
check "tokenize --no-bos" bash -c "[[ \"\$('$bin/ullm-tokenize' -m '$model' -p 'Once upon a time' --no-bos | tr '\n' ' ')\" == '403 407 261 378 ' ]]"
check "inspect" bash -c "'$bin/ullm-inspect' '$model' | grep -q 'token_embd.weight'"

# ullm-synth writes a model that loads and runs; ullm-bench measures it.
vocab=$shared/reference/tokenizer/ggml-vocab-llama-spm.gguf
check "synth" "$bin/ullm-synth" --dim 64 --ffn 128 --layers 2 --heads 4 --kv-heads 2 --ctx 64 --type q4_0 \
  --tokenizer "$vocab" -o "$tmp/synth.gguf"
check "synth runs" bash -c "'$bin/ullm-run' -m '$tmp/synth.gguf' -p 'Hello world' -n 4 --temp 0 --ids 2>/dev/null | wc -l | grep -q '^4$'"
check "synth has its shape" bash -c "'$bin/ullm-inspect' '$tmp/synth.gguf' | grep -q 'blk.1.ffn_down.weight.*Q4_0.*\[128, 64\]'"
check "synth: output head of 64-wide rows in Q8_0, as llama-quantize" bash -c "'$bin/ullm-inspect' '$tmp/synth.gguf' | grep -q 'output.weight *Q8_0'"
check "synth --pure" "$bin/ullm-synth" --dim 256 --ffn 256 --layers 1 --heads 4 --ctx 64 --type q4_0 --pure \
  --tokenizer "$vocab" -o "$tmp/pure.gguf"
check "synth --pure: output head in the --type" bash -c "'$bin/ullm-inspect' '$tmp/pure.gguf' | grep -q 'output.weight *Q4_0'"
check "synth bad shape" expect_exit 1 "multiple of heads" "$bin/ullm-synth" --dim 60 --ffn 128 --layers 1 --heads 8 \
  --tokenizer "$vocab" -o "$tmp/bad.gguf"
check "synth k-quant mix" "$bin/ullm-synth" --dim 256 --ffn 512 --layers 8 --heads 4 --ctx 64 --type q4_k_m \
  --tokenizer "$vocab" -o "$tmp/synth-k.gguf"
check "synth mix: output and extra-bits layers in Q6_K" bash -c "'$bin/ullm-inspect' '$tmp/synth-k.gguf' | grep -E '^ *(output|blk.0.ffn_down|blk.3.attn_v).weight +Q6_K' | wc -l | grep -q '^3$'"
check "synth mix: the rest in Q4_K" bash -c "'$bin/ullm-inspect' '$tmp/synth-k.gguf' | grep -q 'blk.1.ffn_down.weight *Q4_K'"
check "synth k-quant runs" bash -c "'$bin/ullm-run' -m '$tmp/synth-k.gguf' -p 'Hello' -n 3 --temp 0 --ids 2>/dev/null | wc -l | grep -q '^3$'"
# Every architecture, with its own tensors (q width 256 != dim 128 where head-dim is set).
for arch_tensor in llama:blk.0.ffn_gate qwen2:blk.0.attn_q.bias qwen3:blk.0.attn_q_norm phi3:blk.0.attn_qkv \
  gemma3:blk.0.post_ffw_norm; do
  arch=${arch_tensor%%:*} tensor=${arch_tensor#*:}
  check "synth $arch" "$bin/ullm-synth" --arch "$arch" --dim 128 --ffn 256 --layers 2 --heads 4 --kv-heads 2 \
    --head-dim 64 --ctx 64 --type q8_0 --tokenizer "$vocab" -o "$tmp/$arch.gguf"
  check "synth $arch has $tensor" bash -c "'$bin/ullm-inspect' '$tmp/$arch.gguf' | grep -q '$tensor'"
  check "synth $arch runs" bash -c "'$bin/ullm-run' -m '$tmp/$arch.gguf' -p 'Hello' -n 3 --temp 0 --ids 2>/dev/null | wc -l | grep -q '^3$'"
done
check "synth bad arch" expect_exit 2 "unknown --arch" "$bin/ullm-synth" --arch gpt9 --dim 64 --ffn 64 --layers 1 \
  --heads 2 -o "$tmp/x.gguf"
# ullm-chat: turns from stdin, replies on stdout (one line each), prompts and notes on stderr.
check "chat" bash -c "printf 'Hello\n/reset\nOnce upon a time\n' | '$bin/ullm-chat' -m '$model' --chat-template chatml -n 4 --temp 0 2>/dev/null | wc -l | grep -q '^2$'"
check "chat needs a template" expect_exit 1 "no chat template" "$bin/ullm-chat" -m "$model"
check "chat bad template" expect_exit 2 "unknown chat template" "$bin/ullm-chat" -m "$model" --chat-template vicuna
check "synth bad type" expect_exit 2 "unknown --type" "$bin/ullm-synth" --like stories15M --type q3_k -o "$tmp/x.gguf"
check "synth needs -o" expect_exit 1 "-o PATH" "$bin/ullm-synth" --like stories15M
check "bench table" bash -c "'$bin/ullm-bench' -m '$tmp/synth.gguf' -p 16 -n 8 -t 1,2 -r 1 | grep -c '| tg8 |' | grep -q '^2$'"
check "bench json" bash -c "'$bin/ullm-bench' -m '$tmp/synth.gguf' -p 16 -n 0 -t 1 -r 2 --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[0][\"n_prompt\"]==16 and len(d[0][\"samples_ts\"])==2 and d[0][\"avg_ts\"]>0'"
check "bench depth" bash -c "'$bin/ullm-bench' -m '$tmp/synth.gguf' -p 8 -n 4 -d 0,16 -t 1 -r 1 | grep -c '| tg4 @ d16 \\|| pp8 @ d16 ' | grep -q '^2$'"
check "bench depth json" bash -c "'$bin/ullm-bench' -m '$tmp/synth.gguf' -p 0 -n 4 -d 16 -t 1 -r 1 --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[0][\"n_depth\"]==16 and d[0][\"n_gen\"]==4'"
check "bench depth past memory" expect_exit 1 "KV cache for 2147483775 positions" "$bin/ullm-bench" -m "$tmp/synth.gguf" -p 0 -n 128 -d 2147483647
check "bench jsonl" bash -c "'$bin/ullm-bench' -m '$tmp/synth.gguf' -p 8 -n 4 -t 1 -r 1 -o jsonl | python3 -c 'import json,sys; d=[json.loads(l) for l in sys.stdin]; assert len(d)==2 and d[0][\"n_prompt\"]==8 and d[1][\"n_gen\"]==4'"
check "bench bad output" expect_exit 2 "output must be md, json or jsonl" "$bin/ullm-bench" -m "$tmp/synth.gguf" -o csv
check "bench prompt and generation" bash -c "'$bin/ullm-bench' -m '$tmp/synth.gguf' -p 0 -n 0 -pg 8,4 -t 1 -r 1 | grep -q '| pp8+tg4 |'"
check "bench bad -pg" expect_exit 1 "two positive counts" "$bin/ullm-bench" -m "$tmp/synth.gguf" -pg 8
check "bench kv type" bash -c "'$bin/ullm-bench' -m '$tmp/synth.gguf' -p 16 -n 0 -t 1 -r 1 -ctk f32 --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[0][\"type_k\"]==\"f32\" and d[0][\"type_v\"]==\"f32\"'"
check "bench kv type columns" bash -c "'$bin/ullm-bench' -m '$tmp/synth.gguf' -p 16 -n 0 -t 1 -r 1 -ctk f32 | grep -q '| type_k | type_v |'"
check "bench bad kv type" expect_exit 2 "kv-type must be f16 or f32" "$bin/ullm-bench" -m "$tmp/synth.gguf" -ctk q4_0
check "bench past the context" bash -c "o=\$('$bin/ullm-bench' -m '$tmp/synth.gguf' -p 100 -n 0 -t 1 -r 1 2>&1) &&
  grep -q 'past the model.s trained context of 64' <<<\"\$o\" && grep -q '| pp100 |' <<<\"\$o\""
check "bench nothing to measure" expect_exit 1 "nothing to measure" "$bin/ullm-bench" -m "$tmp/synth.gguf" -p 0 -n 0
check "bench default threads" bash -c "'$bin/ullm-bench' -m '$tmp/synth.gguf' -p 8 -n 0 -t 0 -r 1 | grep -q '| [1-9][0-9]* | pp8 |'"
check "bench bad list" expect_exit 1 "non-negative integer list" "$bin/ullm-bench" -m "$tmp/synth.gguf" -t 1,x
check "forced kernels" bash -c "ULLM_ARCH=scalar '$bin/ullm-run' -m '$model' -n 2 --temp 0 2>&1 >/dev/null | grep -q 'scalar kernels'"
check "unknown kernels" expect_exit 1 "unknown kernel target" env ULLM_ARCH=mmx "$bin/ullm-run" -m "$model" -n 2

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
