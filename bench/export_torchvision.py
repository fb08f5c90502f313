#!/usr/bin/env python3
"""Exports torchvision models with random weights to ONNX for bench/compare_ort.sh.

    /usr/bin/python3 bench/export_torchvision.py OUT_DIR resnet18 mobilenet_v2 ...

Each model is built with torch.manual_seed(0) (random, untrained weights: latency does not
depend on them, and no weights can be downloaded here), put in eval mode and exported
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
            model = getattr(torchvision.models, name)().eval()
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
