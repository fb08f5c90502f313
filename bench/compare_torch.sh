#!/usr/bin/env bash
# Compares quantkit's affine quantization throughput with PyTorch's, single thread.
#
#   bench/compare_torch.sh [path/to/affine_bench]
#
# Installs Debian python3-torch if /usr/bin/python3 cannot import torch, builds the release
# affine_bench if the binary is missing, runs it and bench/torch_affine.py, and prints per
# operation: quantkit G elem/s, torch G elem/s, their ratio, and quantkit's fraction of the
# streaming-copy bound (a memcpy of the same float32 buffer, measured in the same binary).
# quantkit reuses its output buffers (the _into APIs); torch has no out= variants for these
# ops, so its figures include allocating the result. Both sides report CPU time (Google
# Benchmark's items_per_second; time.process_time in torch_affine.py), which stays meaningful
# when other processes share the machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bench=${1:-$root/build/release/bench/affine_bench}

source "$root/bench/bench_common.sh"
ensure_torch
ensure_bench_binary "$bench" affine_bench

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== quantkit: $bench" >&2
"$bench" --benchmark_format=json --benchmark_out="$tmp/quantkit.json" \
  --benchmark_out_format=json --benchmark_min_time=0.5 >/dev/null
echo "== torch: $(/usr/bin/python3 -c 'import torch; print(torch.__version__)')" >&2
/usr/bin/python3 "$root/bench/torch_affine.py" >"$tmp/torch.json"

/usr/bin/python3 - "$tmp/quantkit.json" "$tmp/torch.json" <<'EOF'
import json
import sys

quantkit = json.load(open(sys.argv[1]))
torch = json.load(open(sys.argv[2]))

rates = {}   # "Op/n[/axis_last:k]" -> items/s
isa = ""
for b in quantkit["benchmarks"]:
    if b.get("run_type") == "aggregate":
        continue
    name = b["name"].removeprefix("BM_").replace("n:", "")
    rates[name] = b["items_per_second"]
    isa = b.get("label", isa)

def copy_rate(key):
    n = key.split("/")[1]
    return rates[f"StreamingCopy/{n}"]

print(f"quantkit ISA: {isa}; G elem/s = 1e9 float32 elements per second; single thread")
print(f"{'operation':48s} {'quantkit':>9s} {'torch':>9s} {'ratio':>7s} {'of copy':>8s}")
for key, qk in rates.items():
    if key.startswith("StreamingCopy"):
        print(f"{key:48s} {qk / 1e9:9.3f} {'':>9s} {'':>7s} {1.0:8.0%}")
        continue
    t = torch.get(key)
    ratio = f"{qk / t:7.2f}" if t else f"{'-':>7s}"
    ts = f"{t / 1e9:9.3f}" if t else f"{'-':>9s}"
    print(f"{key:48s} {qk / 1e9:9.3f} {ts} {ratio} {qk / copy_rate(key):8.0%}")
EOF
