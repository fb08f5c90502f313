#!/usr/bin/env python3
"""Writes the transformer encoders quantkit's ONNX import is tested on (not committed: the
test runs this into its temp dir; tests/onnx/ort_transformer_test.cpp).

    /usr/bin/python3 tests/onnx/export_transformers.py OUT_DIR

Needs Debian's python3-torch 1.13 and python3-torchvision 0.14 (scripts/install-deps). With
random weights from a fixed seed it writes, each at opsets 13 and 17:

  vit_opset{13,17}.onnx      a reduced torchvision VisionTransformer (image 32, patch 8,
                             2 layers, 2 heads, hidden 32, MLP 64, 10 classes), input
                             vit_input.npy [1, 3, 32, 32]
  encoder_opset{13,17}.onnx  a BERT-like torch.nn.TransformerEncoder (d_model 32, 2 heads,
                             2 layers, feed-forward 64, GELU, batch_first, eval), input
                             encoder_input.npy [1, 16, 32]

and PyTorch's outputs as vit_torch.npy / encoder_torch.npy.
"""
import os
import sys
import warnings

import numpy as np
import torch
import torchvision


def reduced_vit():
    vit = torchvision.models.VisionTransformer(
        image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32, mlp_dim=64,
        num_classes=10)
    # torchvision zero-initialises the head and the class token: draw every parameter, so
    # the class-token path (Expand, Concat, Gather x[:, 0]) and the logits are not zero.
    with torch.no_grad():
        for p in vit.parameters():
            p.normal_(0.0, 0.2)
    return vit.eval()


def bert_like_encoder():
    layer = torch.nn.TransformerEncoderLayer(
        d_model=32, nhead=2, dim_feedforward=64, dropout=0.0, activation="gelu",
        batch_first=True)
    return torch.nn.TransformerEncoder(layer, num_layers=2).eval()


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: export_transformers.py OUT_DIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    models = [("vit", reduced_vit(), torch.randn(1, 3, 32, 32)),
              ("encoder", bert_like_encoder(), torch.randn(1, 16, 32))]
    for name, model, x in models:
        np.save(os.path.join(out, f"{name}_input.npy"), x.numpy())
        with torch.no_grad():
            np.save(os.path.join(out, f"{name}_torch.npy"), model(x).numpy())
        for opset in (13, 17):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch's tracer warnings on the asserts
                torch.onnx.export(model, x, os.path.join(out, f"{name}_opset{opset}.onnx"),
                                  opset_version=opset, input_names=["x"], output_names=["y"])


if __name__ == "__main__":
    main()
