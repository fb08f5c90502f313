#!/usr/bin/env python3
"""Writes the CNNs the ONNX import end-to-end test reads (tests/onnx/cnn_models_test.cpp).

    python3 tests/onnx/export_cnn_models.py OUT_DIR [NAME ...]

NAME is one of the models below (all when none is given); each goes to OUT_DIR/NAME.onnx,
exported by torch.onnx.export (Debian's python3-torch 1.13 / python3-torchvision 0.14) with
random weights from a fixed seed and a static input shape:

  shufflenet_v2_x1_0    torchvision, 1x3x64x64, opset 13 (chunk -> Split, channel shuffle)
  mobilenet_v3_small    torchvision, 1x3x64x64, opset 13 (hardswish, squeeze-excitation)
  resample_tiny_op11    Conv1d, ConvTranspose2d, Upsample nearest and bilinear (both
  resample_tiny_op17    align_corners settings), 1x3x16x16, at opsets 11 and 17

Nothing is committed: the test runs this into a temporary folder.
"""
import os
import sys
import warnings

import torch
import torchvision
from torch import nn


class ResampleTiny(nn.Module):
    """Every resampling op the importer takes, as torch writes them (no tensor slicing, so
    nothing but these ops and convolutions runs)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.conv1d = nn.Conv1d(8, 8, 5, padding=2, groups=2)
        self.down = nn.Conv2d(8, 8, 3, stride=2, padding=1)
        self.up = nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1)
        self.to_nearest = nn.Conv2d(8, 4, 1)
        self.to_bilinear = nn.Conv2d(8, 4, 1)
        self.to_corners = nn.Conv2d(8, 4, 1)
        self.nearest = nn.Upsample(scale_factor=2, mode="nearest")
        self.bilinear = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.head = nn.Conv2d(12, 4, 1)

    def forward(self, x):
        y = torch.relu(self.conv(x))  # [1, 8, 16, 16]
        z = self.conv1d(y.reshape(1, 8, 256)).reshape(1, 8, 16, 16)
        d = torch.relu(self.down(z))  # [1, 8, 8, 8]
        u = self.up(d) + self.nearest(self.to_nearest(d))  # [1, 4, 16, 16]
        b = self.bilinear(self.to_bilinear(d))
        a = nn.functional.interpolate(self.to_corners(d), size=(16, 16), mode="bilinear",
                                      align_corners=True)
        return self.head(torch.cat([u, b, a], dim=1))


def models():
    return {
        "shufflenet_v2_x1_0": (lambda: torchvision.models.shufflenet_v2_x1_0(), (1, 3, 64, 64), 13),
        "mobilenet_v3_small": (lambda: torchvision.models.mobilenet_v3_small(), (1, 3, 64, 64), 13),
        "resample_tiny_op11": (ResampleTiny, (1, 3, 16, 16), 11),
        "resample_tiny_op17": (ResampleTiny, (1, 3, 16, 16), 17),
    }


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    out_dir, names = argv[1], argv[2:] or list(models())
    os.makedirs(out_dir, exist_ok=True)
    table = models()
    warnings.filterwarnings("ignore")  # torch's export chatter; errors still raise
    for name in names:
        if name not in table:
            sys.exit(f"export_cnn_models: unknown model '{name}' (known: {', '.join(table)})")
        make, shape, opset = table[name]
        torch.manual_seed(0)
        model = make().eval()
        with torch.no_grad():
            torch.onnx.export(model, torch.randn(*shape), os.path.join(out_dir, name + ".onnx"),
                              opset_version=opset, input_names=["x"], output_names=["y"])


if __name__ == "__main__":
    main(sys.argv)
