#!/usr/bin/env bash
# APoT vs uniform weights at equal storage bits, after PTQ and after QAT (issue #12): the
# main job's Fashion-MNIST CNN, W4 / W3 / W2 with int8 activations and W4A4, Fashion-MNIST
# test top-1 of the written Q/DQ file run by quantkit's runtime. PTQ: `quantkit evaluate`
# (1,000 calibration images); QAT: `quantkit qat` from the fp32 model, the same epochs,
# learning rate, samples and seeds for every scheme. Prints one table (mean and each seed).
#   bench/qat_apot.sh [--epochs N] [--train-samples N] [--lr F] [--seeds "1 2 3"]
#                     [--configs "uniform-w4 apot-w4 ..."] [--out DIR] [--quantkit PATH]
# Not a CI test: one QAT run of 1 epoch on 60,000 images takes about a minute here.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
epochs=1
train_samples=60000
lr=0.0001
seeds="1 2 3"
configs="uniform-w4 apot-w4 uniform-w3 apot-w3 uniform-w2 apot-w2 uniform-w4a4 apot-w4a4"
out=out/qat_apot
quantkit="$root/build/release/tools/quantkit/quantkit"
while (($# > 0)); do
  case $1 in
    --epochs) epochs=$2; shift 2 ;;
    --train-samples) train_samples=$2; shift 2 ;;
    --lr) lr=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --configs) configs=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --quantkit) quantkit=$2; shift 2 ;;
    *) echo "usage: $0 [--epochs N] [--train-samples N] [--lr F] [--seeds \"S ...\"] [--configs \"C ...\"] [--out DIR] [--quantkit PATH]" >&2; exit 2 ;;
  esac
done
if [[ ! -x $quantkit ]]; then
  "$root/scripts/install-deps"
  QUANTKIT_TARGET=quantkit_cli "$root/scripts/build" build/release -DQUANTKIT_WITH_TORCH=ON
fi
data=/usr/share/datasets/fashion-mnist
model="$root/models/fashion_mnist/fashion_mnist_cnn.onnx"
mkdir -p "$out"
common=(--test-images "$data/t10k-images-idx3-ubyte.gz" --test-labels "$data/t10k-labels-idx1-ubyte.gz")

echo "== PTQ (quantkit evaluate, 1000 calibration images)" >&2
"$quantkit" evaluate "$model" --calib "$data/train-images-idx3-ubyte.gz" --calib-samples 1000 \
  "${common[@]}" --configs "$(echo $configs | tr ' ' ',')" --latency-iterations 1 \
  --out "$out/ptq" >&2

for config in $configs; do
  for seed in $seeds; do
    echo "== QAT $config seed $seed" >&2
    "$quantkit" qat "$model" -o "$out/$config.seed$seed.onnx" --config "$config" \
      --train-images "$data/train-images-idx3-ubyte.gz" --train-labels "$data/train-labels-idx1-ubyte.gz" \
      --train-samples "$train_samples" --epochs "$epochs" --lr "$lr" --seed "$seed" \
      "${common[@]}" --report "$out/$config.seed$seed.json" >/dev/null
  done
done

python3 - "$out" "$epochs" "$train_samples" "$lr" "$seeds" $configs <<'PY'
import json, statistics, sys
out, epochs, samples, lr, seeds = sys.argv[1:6]
configs = sys.argv[6:]
seeds = seeds.split()
ptq = {r["scheme"]: r["top1"] for r in json.load(open(f"{out}/ptq/report.json"))["results"]}
print(f"QAT: {epochs} epoch(s) on {samples} images, Adam lr {lr}, seeds {' '.join(seeds)}; "
      f"fp32 top-1 {ptq.get('fp32', float('nan')):.2f}%")
print(f"{'config':<14} {'PTQ top-1':>10} {'QAT top-1 (mean)':>17}  per seed")
for c in configs:
    qat = [json.load(open(f"{out}/{c}.seed{s}.json"))["test_top1_quantized_model"] for s in seeds]
    spread = f" ± {statistics.stdev(qat):.2f}" if len(qat) > 1 else ""
    print(f"{c:<14} {ptq[c]:>9.2f}% {statistics.mean(qat):>10.2f}%{spread:<7}  "
          + " ".join(f"{q:.2f}" for q in qat))
PY
