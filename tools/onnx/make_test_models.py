#!/usr/bin/python3
"""Writes the torch.onnx.export models the ONNX import tests use (tests/data/onnx/).

Each model NAME gets NAME.onnx, NAME.input.npy (one fixed input) and NAME.output.npy
(torch's fp32 output for it). The models are the structures of torchvision's resnet18
and mobilenet_v2 at reduced width/depth (random weights, so the files stay small), plus a
model that exercises the rest of the importer's op set (Gemm, MatMul on rank-3 inputs,
Softmax, activations, Concat, Transpose, the Shape/Gather/Unsqueeze/Concat chain of
x.view(x.size(0), -1), BatchNormalization that cannot fold into a Conv, pads that are not
symmetric, ceil-mode pooling).

Run with Debian's python3-torch 1.13 / python3-torchvision:
    /usr/bin/python3 tools/onnx/make_test_models.py [OUT_DIR]
The tests never run python: re-run this only to change the models.
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision.models.resnet import BasicBlock
from torchvision.ops.misc import Conv2dNormActivation


class ResNetSmall(nn.Module):
    """resnet18's structure (7x7 stem, max pool, BasicBlocks with downsampling shortcuts,
    global average pool, fc) with widths 8-16-32 and one block per stage."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = BasicBlock(8, 8)
        down2 = nn.Sequential(nn.Conv2d(8, 16, 1, stride=2, bias=False), nn.BatchNorm2d(16))
        self.layer2 = BasicBlock(8, 16, stride=2, downsample=down2)
        down3 = nn.Sequential(nn.Conv2d(16, 32, 1, stride=2, bias=False), nn.BatchNorm2d(32))
        self.layer3 = BasicBlock(16, 32, stride=2, downsample=down3)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(32, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def mobilenet_v2_small():
    """torchvision's MobileNetV2 (inverted residuals, depthwise convs, ReLU6, residual
    adds, dropout + linear head) at width 0.25 with four stages and a 64-channel last conv."""
    setting = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 2, 2], [6, 64, 1, 2]]
    model = torchvision.models.mobilenet_v2(width_mult=0.25, num_classes=10,
                                            inverted_residual_setting=setting)
    last_in = model.features[-1][0].in_channels
    model.features[-1] = Conv2dNormActivation(last_in, 64, kernel_size=1,
                                              norm_layer=nn.BatchNorm2d,
                                              activation_layer=nn.ReLU6)
    model.classifier[-1] = nn.Linear(64, 10)
    return model


class OpsMix(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 3, padding=1, dilation=1, groups=2)
        self.conv_dil = nn.Conv2d(8, 8, 3, padding=2, dilation=2)
        self.bn = nn.BatchNorm2d(8)  # after a ReLU: torch cannot fold it into the conv
        self.token = nn.Linear(8, 6)  # on a rank-3 input: MatMul + Add
        self.fc = nn.Linear(6 * 25 + 8, 5)  # Gemm

    def forward(self, x):
        y = F.relu(self.conv(x))
        y = self.bn(y)
        y = F.leaky_relu(self.conv_dil(y), 0.2)
        y = F.pad(y, (0, 1, 1, 0))  # asymmetric
        y = F.max_pool2d(y, 3, stride=2, ceil_mode=True)
        y = F.hardswish(y) + torch.sigmoid(y) * 0.5 - F.hardsigmoid(y) / 3.0
        y = torch.tanh(y)
        pooled = F.avg_pool2d(y, 2, stride=1, padding=1, count_include_pad=True)
        tokens = pooled.flatten(2).transpose(1, 2)  # N, HW, C
        tokens = F.relu6(self.token(tokens))
        head = torch.cat([tokens.reshape(tokens.size(0), -1), F.adaptive_avg_pool2d(y, 1).flatten(1)], dim=1)
        return torch.softmax(self.fc(head), dim=1)


def export(model, name, shape, opset, out_dir, seed):
    torch.manual_seed(seed)
    for m in model.modules():  # random BN statistics, so BatchNormalization is not identity
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    model.eval()
    x = torch.rand(shape) * 2 - 1
    with torch.no_grad():
        y = model(x)
    path = os.path.join(out_dir, name + ".onnx")
    torch.onnx.export(model, x, path, opset_version=opset, input_names=["input"],
                      output_names=["output"])
    np.save(os.path.join(out_dir, name + ".input.npy"), x.numpy())
    np.save(os.path.join(out_dir, name + ".output.npy"), y.numpy())
    print(f"{name}: opset {opset}, {os.path.getsize(path)} bytes, output {tuple(y.shape)}")


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "..", "..", "tests", "data", "onnx")
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    export(ResNetSmall(), "resnet_small", (1, 3, 32, 32), 11, out_dir, 1)
    torch.manual_seed(0)
    export(mobilenet_v2_small(), "mobilenet_v2_small", (1, 3, 32, 32), 13, out_dir, 2)
    torch.manual_seed(0)
    export(OpsMix(), "ops_mix", (2, 4, 7, 7), 17, out_dir, 3)


if __name__ == "__main__":
    main()
