#!/usr/bin/env python3
"""Exports torchvision models with random weights to ONNX for bench/compare_ort.sh.

    /usr/bin/python3 bench/export_torchvision.py OUT_DIR resnet18 mobilenet_v2 ...

Each model is built with torch.manual_seed(0) (random, untrained weights: latency does not
depend on them, and no weights can be downloaded here). Random weights alone make some
networks degenerate (mobilenet_v2's logits come out ~1e-9: every int8 output is 0), so the
batch-norm running statistics are first estimated on 16 random images (train-mode forward
passes with a cumulative average, the usual "BN recalibration"): activations then have
about unit variance, as in a trained network (a VisionTransformer, whose head and class
token torchvision initialises to zero, gets them drawn at random instead). The model is then put in eval mode and exported
with a fixed 1x3x224x224 input at opset 13 as OUT_DIR/<name>.onnx, plus a calibration set
OUT_DIR/<name>_calib.npy of 8 random images (N(0, 1) clipped to [-2.5, 2.5], roughly the
range of normalized ImageNet pixels). Existing files are kept (the script is a cache).
Needs Debian's python3-torch and python3-torchvision.
"""
import os
import sys

import numpy as np
import torch
import torchvision


def recalibrate_batch_norm(model: torch.nn.Module) -> None:
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative moving average over the batches below
    model.train()
    generator = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for _ in range(4):
            model(torch.randn(4, 3, 224, 224, generator=generator))


def draw_zero_initialised_heads(model: torch.nn.Module) -> None:
    # torchvision's VisionTransformer starts its classifier head and class token at zero:
    # with random weights every logit would be 0 and a comparison with ORT says nothing.
    if isinstance(model, torchvision.models.VisionTransformer):
        generator = torch.Generator().manual_seed(3)
        with torch.no_grad():
            for p in list(model.heads.parameters()) + [model.class_token]:
                p.copy_(torch.randn(p.shape, generator=generator) * 0.02)


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    for name in sys.argv[2:]:
        if not hasattr(torchvision.models, name):
            print(f"export_torchvision: unknown torchvision model '{name}'", file=sys.stderr)
            return 2
        path = os.path.join(out_dir, f"{name}.onnx")
        calib = os.path.join(out_dir, f"{name}_calib.npy")
        if not os.path.exists(path):
            torch.manual_seed(0)
            model = getattr(torchvision.models, name)()
            recalibrate_batch_norm(model)
            draw_zero_initialised_heads(model)
            model.eval()
            x = torch.zeros(1, 3, 224, 224)
            torch.onnx.export(model, x, path + ".part", opset_version=13,
                              input_names=["input"], output_names=["logits"])
            os.replace(path + ".part", path)
        if not os.path.exists(calib):
            rng = np.random.default_rng(1)
            data = np.clip(rng.standard_normal((8, 3, 224, 224)), -2.5, 2.5).astype(np.float32)
            np.save(calib + ".part.npy", data)
            os.replace(calib + ".part.npy", calib)
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
