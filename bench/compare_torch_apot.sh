#!/usr/bin/env bash
# Compares quantkit's APoT quantizer with a torch.searchsorted-based APoT quantizer, single
# thread, 16M float32 elements, CPU time on both sides.
#
#   bench/compare_torch_apot.sh [path/to/apot_bench]
#
# Installs Debian python3-torch if /usr/bin/python3 cannot import torch, builds the release
# apot_bench if the binary is missing, runs it (best ISA per scheme) and bench/torch_apot.py,
# and prints per scheme: quantkit M elem/s, torch M elem/s and their ratio.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bench=${1:-$root/build/release/bench/apot_bench}

source "$root/bench/bench_common.sh"
ensure_torch
ensure_bench_binary "$bench" apot_bench

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== quantkit: $bench" >&2
"$bench" --benchmark_filter='^BM_ApotQuantize/' --benchmark_out="$tmp/quantkit.json" \
  --benchmark_out_format=json --benchmark_min_time=0.5 >/dev/null
echo "== torch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)'): searchsorted" >&2
/usr/bin/python3 "$root/bench/torch_apot.py" >"$tmp/torch.json"

/usr/bin/python3 - "$tmp/quantkit.json" "$tmp/torch.json" <<'PY'
import json
import re
import sys

quantkit = json.load(open(sys.argv[1]))
torch = json.load(open(sys.argv[2]))
best = {}  # scheme -> (rate, isa)
for b in quantkit["benchmarks"]:
    if "error_occurred" in b and b["error_occurred"]:
        continue
    m = re.match(r"BM_ApotQuantize/b:(\d+)/k:(\d+)/signed:(\d)/isa:\d", b["name"])
    if not m:
        continue
    key = f"b{m[1]}_k{m[2]}_{'s' if m[3] == '1' else 'u'}"
    rate = b["items_per_second"]
    if key not in best or rate > best[key][0]:
        best[key] = (rate, b.get("label", ""))
print(f"{'scheme':<12} {'quantkit M/s':>13} {'isa':>8} {'torch M/s':>11} {'ratio':>8}")
for key, t in torch.items():
    if key not in best:
        continue
    q, isa = best[key]
    print(f"{key:<12} {q / 1e6:13.1f} {isa:>8} {t / 1e6:11.1f} {q / t:7.1f}x")
PY
