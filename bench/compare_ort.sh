#!/usr/bin/env bash
# quantkit vs ONNX Runtime on the same ONNX files, batch 1, in one run.
#
#   bench/compare_ort.sh [--models "resnet18 mobilenet_v2"] [--fp32-models "vit_b_16"]
#                        [--threads "1 2"] [--iterations N] [--samples N] [--quantkit PATH]
#   bench/compare_ort.sh --files "a.onnx b.onnx ..." [--threads ...] [--iterations N]
#
# With --files, only step 2 runs, on those files (what ./scripts/run does for the main
# job's models).
#
# For each torchvision model (random weights, exported by bench/export_torchvision.py with
# Debian's python3-torchvision; cached in ${QUANTKIT_CACHE:-~/.cache/quantkit}/bench-models):
#   1. `quantkit quantize --config int8-per-channel` on 8 random calibration images, and an
#      ONNX Runtime-style version of that file (bench/ort_style_qdq.py: uint8 activations,
#      int32 bias through DequantizeLinear — the layout ORT's own quantize_static writes,
#      which ORT fuses into QLinearConv; ORT's Python quantizer itself cannot be installed
#      here). quantkit's export already has that layout (docs/onnx.md): the script reports
#      "0 activation quantizations to uint8, 0 biases", and the two rows should time alike;
#   2. times the fp32 and the two int8 files in quantkit (`quantkit bench`) and in ONNX Runtime
#      (tools/ort/bench_ort.mjs: onnxruntime-node from scripts/install-ort, CPU EP, graph
#      optimizations on) at each thread count, and prints quantkit ms, ORT ms and their
#      ratio quantkit / ORT (lower is better; < 1 means quantkit is faster);
#   3. runs both engines on --samples random inputs (default 8) and prints the mean relative
#      L2 distance of each int8 file's output from the fp32 model's (quantkit fp32 as the
#      reference);
#   4. counts the ops quantkit's runtime leaves to the interpreter's kernels in each int8
#      file (`quantkit bench --show-plan`: "(reference)"), which should be 0.
# --fp32-models (default vit_b_16: the transformers, whose int8 configs are still being
# written) run only in fp32: exported the same way, timed in both engines, and their outputs
# on one random input compared ("max |quantkit - ORT| / max |ORT|", ~1e-6 expected).
# --transformers (default fashion_mnist_vit: models/<name>/<name>.onnx, shipped) are quantized
# with the transformer configs — int8-dynamic, int8-dynamic-per-token and 8da4w (group 32) —
# and all four files timed in both engines. quantkit runs the per-token files as written
# (their per-row quantization is decomposed float ops in ONNX, docs/onnx.md), not with its
# fused kernel, which only the in-memory path (`quantkit evaluate`) uses.
# Latency is the median of --iterations runs (default 100) after 10 warm-up runs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
models="resnet18 mobilenet_v2"
fp32_models="vit_b_16"
transformers="fashion_mnist_vit"
files=""
threads="1 2"
iterations=100
samples=8
quantkit="$root/build/release/tools/quantkit/quantkit"
while (($# > 0)); do
  case $1 in
    --models) models=$2; shift 2 ;;
    --fp32-models) fp32_models=$2; shift 2 ;;
    --transformers) transformers=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --iterations) iterations=$2; shift 2 ;;
    --samples) samples=$2; shift 2 ;;
    --quantkit) quantkit=$2; shift 2 ;;
    --files) files=$2; shift 2 ;;
    *) echo "compare_ort: unknown argument '$1' (see the header of $0)" >&2; exit 2 ;;
  esac
done
[[ $iterations =~ ^[1-9][0-9]*$ ]] || { echo "compare_ort: --iterations must be a positive integer, got '$iterations'" >&2; exit 2; }
[[ $samples =~ ^[1-9][0-9]*$ ]] || { echo "compare_ort: --samples must be a positive integer, got '$samples'" >&2; exit 2; }

if [[ -z $files ]] && ! /usr/bin/python3 -c 'import torch, torchvision, numpy, onnx.numpy_helper' 2>/dev/null; then
  echo "== installing python3-torch python3-torchvision python3-onnx (Debian)" >&2
  "$root/scripts/install-deps" python3-torch python3-torchvision python3-numpy python3-onnx >&2
fi
if [[ ! -x $quantkit ]]; then
  echo "== building quantkit" >&2
  QUANTKIT_TARGET=quantkit_cli "$root/scripts/build" build/release -DQUANTKIT_BUILD_TOOLS=ON >&2
fi
QUANTKIT_ORT_DIR="$("$root/scripts/install-ort")"
export QUANTKIT_ORT_DIR
cache="${QUANTKIT_CACHE:-$HOME/.cache/quantkit}/bench-models"
mkdir -p "$cache"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# p50 in ms of one file at one thread count, in each engine; "-" when the engine cannot run
# the file (its error goes to stderr).
p50_of() {
  /usr/bin/python3 -c 'import json,sys
try:
    d = json.load(sys.stdin)
    print(d["runs"][0]["p50_ms"] if "runs" in d else d["p50_ms"])
except Exception:
    print("-")'
}
quantkit_ms() {
  { "$quantkit" bench "$1" --threads "$2" --iterations "$iterations" --warmup 10 --json || true; } | p50_of
}
ort_ms() {
  { node "$root/tools/ort/bench_ort.mjs" --threads "$2" --iterations "$iterations" --warmup 10 "$1" || true; } | p50_of
}
ms() { if [[ $1 == - ]]; then echo "-"; else printf '%.3f' "$1"; fi; }
# quantkit ms / ORT ms, or "-".
ratio() {
  if [[ $1 == - || $2 == - ]]; then echo "-"; else /usr/bin/python3 -c "print(f'{$1 / $2:.2f}')"; fi
}

rows="$tmp/rows.txt"
: >"$rows"
: >"$tmp/accuracy.txt"
: >"$tmp/fallbacks.txt"
print_latency() {
  echo
  echo "Latency, batch 1, p50 of $iterations runs; ratio = quantkit ms / ORT ms (lower is better)"
  printf '%-34s %-18s %7s %12s %10s %8s\n' model file threads "quantkit ms" "ORT ms" ratio
  while read -r model kind t qk ort; do
    printf '%-34s %-18s %7s %12s %10s %8s\n' "$model" "$kind" "$t" "$(ms "$qk")" "$(ms "$ort")" \
      "$(ratio "$qk" "$ort")"
  done <"$rows"
}
if [[ -n $files ]]; then
  for file in $files; do
    [[ -f $file ]] || { echo "compare_ort: --files: '$file' does not exist" >&2; exit 2; }
    for t in $threads; do
      echo "$(basename "$file" .onnx) - $t $(quantkit_ms "$file" "$t") $(ort_ms "$file" "$t")" >>"$rows"
    done
  done
  print_latency
  exit 0
fi
for model in $models; do
  echo "== $model: export, quantize" >&2
  /usr/bin/python3 "$root/bench/export_torchvision.py" "$cache" "$model" >/dev/null
  fp32="$cache/$model.onnx"
  int8="$cache/$model.int8-per-channel.onnx"
  ort_style="$cache/$model.int8-ort-style.onnx"
  if [[ ! -f $int8 || $int8 -ot $quantkit ]]; then
    "$quantkit" quantize "$fp32" -o "$int8" --calib "$cache/${model}_calib.npy" \
      --config int8-per-channel >&2
  fi
  /usr/bin/python3 "$root/bench/ort_style_qdq.py" "$int8" "$ort_style"
  for file in "$fp32" "$int8" "$ort_style"; do
    kind=fp32
    if [[ $file == "$int8" ]]; then kind=int8-per-channel; fi
    if [[ $file == "$ort_style" ]]; then kind=int8-ort-style; fi
    for t in $threads; do
      echo "== $model $kind, $t thread(s)" >&2
      echo "$model $kind $t $(quantkit_ms "$file" "$t") $(ort_ms "$file" "$t")" >>"$rows"
    done
  done
  # Accuracy: $samples random inputs through fp32 (quantkit), int8 (quantkit) and int8 (ORT);
  # one input's figure moves by ~0.1 point with the input, their mean much less.
  for ((i = 0; i < samples; ++i)); do
    /usr/bin/python3 -c "import numpy as np; np.save('$tmp/x$i.npy', np.clip(np.random.default_rng(7 + $i).standard_normal((1, 3, 224, 224)), -2.5, 2.5).astype(np.float32))"
    "$quantkit" run "$fp32" --input "$tmp/x$i.npy" --output "$tmp/fp32_$i.npy" >/dev/null
  done
  for file in "$int8" "$ort_style"; do
    kind=int8-per-channel
    if [[ $file == "$ort_style" ]]; then kind=int8-ort-style; fi
    fallbacks=$("$quantkit" bench "$file" --show-plan --iterations 1 --warmup 0 2>&1 >/dev/null |
      grep -c '(reference)' || true)
    printf '%-18s %-18s %10s\n' "$model" "$kind" "$fallbacks" >>"$tmp/fallbacks.txt"
    for ((i = 0; i < samples; ++i)); do
      "$quantkit" run "$file" --input "$tmp/x$i.npy" --output "$tmp/qk_$i.npy" >/dev/null
      node "$root/tools/ort/run_ort.mjs" "$file" "$tmp/ort$i" "$tmp/x$i.npy" >/dev/null
    done
    /usr/bin/python3 - "$tmp" "$model" "$kind" "$samples" >>"$tmp/accuracy.txt" <<'PY'
import sys
import numpy as np
tmp, model, kind, samples = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def rel(path, i):
    ref = np.load(f"{tmp}/fp32_{i}.npy").astype(np.float64)
    y = np.load(path).astype(np.float64)
    return np.linalg.norm(y - ref) / np.linalg.norm(ref)
qk = np.mean([rel(f"{tmp}/qk_{i}.npy", i) for i in range(samples)])
ort = np.mean([rel(f"{tmp}/ort{i}/output_0.npy", i) for i in range(samples)])
print(f"{model:18s} {kind:18s} {qk:>12.2%} {ort:>12.2%}")
PY
  done
done

: >"$tmp/fp32_agreement.txt"
for model in $transformers; do
  fp32="$root/models/$model/$model.onnx"
  [[ -f $fp32 ]] || { echo "compare_ort: --transformers: '$fp32' does not exist" >&2; exit 2; }
  for config in int8-dynamic int8-dynamic-per-token 8da4w; do
    echo "== $model: quantize $config" >&2
    "$quantkit" quantize "$fp32" -o "$cache/$model.$config.onnx" --config "$config" \
      --group-size 32 >/dev/null
  done
  for kind in fp32 int8-dynamic int8-dynamic-per-token 8da4w; do
    file="$cache/$model.$kind.onnx"
    if [[ $kind == fp32 ]]; then file=$fp32; fi
    for t in $threads; do
      echo "== $model $kind, $t thread(s)" >&2
      echo "$model $kind $t $(quantkit_ms "$file" "$t") $(ort_ms "$file" "$t")" >>"$rows"
    done
  done
done
for model in $fp32_models; do
  echo "== $model: export (fp32 only)" >&2
  /usr/bin/python3 "$root/bench/export_torchvision.py" "$cache" "$model" >/dev/null
  fp32="$cache/$model.onnx"
  for t in $threads; do
    echo "== $model fp32, $t thread(s)" >&2
    echo "$model fp32 $t $(quantkit_ms "$fp32" "$t") $(ort_ms "$fp32" "$t")" >>"$rows"
  done
  /usr/bin/python3 -c "import numpy as np; np.save('$tmp/$model.x.npy', np.clip(np.random.default_rng(7).standard_normal((1, 3, 224, 224)), -2.5, 2.5).astype(np.float32))"
  "$quantkit" run "$fp32" --input "$tmp/$model.x.npy" --output "$tmp/$model.qk.npy" >/dev/null
  node "$root/tools/ort/run_ort.mjs" "$fp32" "$tmp/$model.ort" "$tmp/$model.x.npy" >/dev/null
  /usr/bin/python3 -c "import numpy as np
qk = np.load('$tmp/$model.qk.npy').astype(np.float64); ort = np.load('$tmp/$model.ort/output_0.npy').astype(np.float64)
print(f'{\"$model\":18s} {np.abs(qk - ort).max() / np.abs(ort).max():>12.2e}')" >>"$tmp/fp32_agreement.txt"
done

print_latency
if [[ -s $tmp/fp32_agreement.txt ]]; then
  echo
  echo "fp32 models: max |quantkit - ORT| / max |ORT| on one random input"
  cat "$tmp/fp32_agreement.txt"
fi
echo
echo "Accuracy: relative L2 distance of each int8 file's output from the fp32 model's (mean of $samples inputs)"
printf '%-18s %-18s %12s %12s\n' model file quantkit ORT
cat "$tmp/accuracy.txt"
echo
echo "Ops quantkit's runtime leaves to the interpreter's reference kernels (should be 0)"
printf '%-18s %-18s %10s\n' model file fallbacks
cat "$tmp/fallbacks.txt"
