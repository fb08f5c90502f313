#!/usr/bin/python3
"""PyTorch's own post-training quantization of fashion_mnist_dwsep.onnx: the figure quantkit's
int8 configs are held to (issue 11, item 6).

Reproduce: /usr/bin/python3 models/fashion_mnist_dwsep/torch_ptq.py   (Debian python3-torch 1.13
and python3-onnx; one thread, about a minute).

The fp32 network is rebuilt from the ONNX file's own initializers (batch norm is already folded
into the convolutions there), so torch and quantkit quantize the very same weights. FX graph
mode, the only PTQ flow this torch build has (no PT2E, no FBGEMM), with:
  * onednn:  get_default_qconfig_mapping("onednn") — HistogramObserver activations (quint8),
             per-channel symmetric qint8 weights — on the qnnpack backend config, run by oneDNN;
  * qnnpack: get_default_qconfig_mapping("qnnpack") — HistogramObserver activations (quint8),
             per-tensor weights — run by QNNPACK. Not a usable reference on this build: 7.83%
             top-1, QNNPACK's quantized ReLU6 returns wrong values (the first ReLU6's output
             error is as large as its whole range), so it is not run by default.
One backend per process: a second prepare_fx/convert_fx in the same process gave a
different, much worse onednn model here (torch 1.13 keeps state between the two).
Calibration: the first 1,000 training images, as `quantkit evaluate --calib-samples 1000`
(scripts/run); evaluation: top-1 (argmax, first index on ties) on the 10,000 test images.
"""
import argparse
import pathlib
import sys

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn as nn
from torch.ao.quantization import get_default_qconfig_mapping
from torch.ao.quantization.backend_config import get_qnnpack_backend_config
from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from train import load_split  # noqa: E402  (same IDX reader as training)


def conv_from_onnx(node, weights) -> nn.Conv2d:
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    w = torch.from_numpy(weights[node.input[1]].copy())
    pads = list(attrs.get("pads", [0, 0, 0, 0]))
    if pads[:2] != pads[2:]:
        raise ValueError(f"{node.name}: asymmetric pads {pads}")
    groups = int(attrs.get("group", 1))
    conv = nn.Conv2d(w.shape[1] * groups, w.shape[0], tuple(w.shape[2:]),
                     stride=tuple(attrs.get("strides", [1, 1])), padding=tuple(pads[:2]),
                     groups=groups, bias=len(node.input) > 2)
    conv.weight.data.copy_(w)
    if conv.bias is not None:
        conv.bias.data.copy_(torch.from_numpy(weights[node.input[2]].copy()))
    return conv


def model_from_onnx(path: pathlib.Path) -> nn.Module:
    """Conv -> Clip(0, 6) ... -> GlobalAveragePool -> Flatten -> Gemm -> Softmax, the graph
    train.py exports; anything else is refused rather than guessed."""
    model = onnx.load(str(path))
    weights = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    layers = []
    ops = [n.op_type for n in model.graph.node if n.op_type != "Constant"]
    nodes = [n for n in model.graph.node if n.op_type != "Constant"]
    expected_tail = ["GlobalAveragePool", "Flatten", "Gemm", "Softmax"]
    if ops[-4:] != expected_tail or any(op not in ("Conv", "Clip") for op in ops[:-4]):
        raise ValueError(f"{path}: unexpected graph {ops}")
    for node in nodes[:-4]:
        layers.append(conv_from_onnx(node, weights) if node.op_type == "Conv" else nn.ReLU6())
    gemm = nodes[-2]
    w = torch.from_numpy(weights[gemm.input[1]].copy())
    trans_b = any(a.name == "transB" and a.i == 1 for a in gemm.attribute)
    if not trans_b:
        w = w.t()
    fc = nn.Linear(w.shape[1], w.shape[0])
    fc.weight.data.copy_(w)
    fc.bias.data.copy_(torch.from_numpy(weights[gemm.input[2]].copy()))
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(1), fc, nn.Softmax(dim=1)]
    return nn.Sequential(*layers).eval()


@torch.no_grad()
def top1(model, x, y) -> float:
    correct = 0
    for i in range(0, len(x), 500):
        correct += int((model(x[i:i + 500]).argmax(1) == y[i:i + 500]).sum())
    return 100.0 * correct / len(x)


@torch.no_grad()
def quantize(path: pathlib.Path, backend: str, calib: torch.Tensor) -> nn.Module:
    torch.backends.quantized.engine = backend
    model = model_from_onnx(path)  # a fresh copy: prepare_fx rewrites its argument
    prepared = prepare_fx(model, get_default_qconfig_mapping(backend), (calib[:1],),
                          backend_config=get_qnnpack_backend_config())
    for i in range(0, len(calib), 100):
        prepared(calib[i:i + 100])
    return convert_fx(prepared, backend_config=get_qnnpack_backend_config())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=pathlib.Path, default=HERE / "fashion_mnist_dwsep.onnx")
    parser.add_argument("--calib-samples", type=int, default=1000)
    parser.add_argument("--backend", choices=["onednn", "qnnpack"], default="onednn")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)

    train_x, _ = load_split("train")
    test_x, test_y = load_split("t10k")
    calib = train_x[:args.calib_samples]

    print(f"fp32: {top1(model_from_onnx(args.model), test_x, test_y):.2f}%")
    q = quantize(args.model, args.backend, calib)
    print(f"torch FX PTQ ({args.backend}): {top1(q, test_x, test_y):.2f}%", flush=True)


if __name__ == "__main__":
    main()
