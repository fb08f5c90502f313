#!/usr/bin/python3
"""Train the depthwise-separable Fashion-MNIST CNN with a Softmax head, and export it to ONNX.

Reproduce: /usr/bin/python3 models/fashion_mnist_dwsep/train.py   (Debian python3-torch 1.13
and dataset-fashion-mnist; 1 thread, a few minutes). Writes fashion_mnist_dwsep.onnx next to
this script and prints the fp32 test top-1 of the exported network.

The model is the MobileNet-v1 pattern at Fashion-MNIST scale: a 3x3 stem, then blocks of
depthwise 3x3 + BN + ReLU6 -> pointwise 1x1 + BN + ReLU6, global average pool, linear and a
Softmax head, so the exported graph has what the int8 paths must get right on such nets:
depthwise convolutions, Clip(0, 6), GlobalAveragePool and a probability output.
Like models/fashion_mnist, it takes RAW pixels (float32 [1, 1, 28, 28] in [0, 255]): the 1/255
of training is folded into the stem's weight before export, BatchNorm is folded into the
convolutions by the exporter.
"""
import argparse
import gzip
import pathlib
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA_DIR = pathlib.Path("/usr/share/datasets/fashion-mnist")
HERE = pathlib.Path(__file__).resolve().parent
SEED = 20261204


def read_idx(path: pathlib.Path) -> np.ndarray:
    """IDX (MNIST format): big-endian magic (0, 0, dtype code, ndim), ndim big-endian u32 dims,
    then the data. Only unsigned bytes (code 0x08) occur in Fashion-MNIST."""
    raw = gzip.open(path, "rb").read()
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: {data.size} bytes of data for dims {dims}")
    return data.reshape(dims)


def load_split(prefix: str):
    images = read_idx(DATA_DIR / f"{prefix}-images-idx3-ubyte.gz")
    labels = read_idx(DATA_DIR / f"{prefix}-labels-idx1-ubyte.gz")
    x = torch.from_numpy(images.astype(np.float32)).unsqueeze(1)  # raw [0, 255]
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


def conv_bn_relu6(cin: int, cout: int, kernel: int, stride: int, groups: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, groups=groups,
                  bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU6())


class DepthwiseSeparableCNN(nn.Module):
    """stem 3x3 s2 (1->16, 14x14), then depthwise-separable blocks 16->32 (14x14), 32->64 s2
    (7x7), 64->96 (7x7); global average pool, linear 96->10, softmax: 11,146 parameters."""

    def __init__(self):
        super().__init__()
        layers = [conv_bn_relu6(1, 16, 3, 2, 1)]
        for cin, cout, stride in [(16, 32, 1), (32, 64, 2), (64, 96, 1)]:
            layers.append(conv_bn_relu6(cin, cin, 3, stride, cin))  # depthwise
            layers.append(conv_bn_relu6(cin, cout, 1, 1, 1))  # pointwise
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(96, 10)
        self.softmax = nn.Softmax(dim=1)

    def logits(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))

    def forward(self, x):
        return self.softmax(self.logits(x))


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, input_scale: float) -> float:
    model.eval()
    correct = 0
    for i in range(0, len(x), 1000):
        probabilities = model(x[i:i + 1000] * input_scale)
        correct += int((probabilities.argmax(1) == y[i:i + 1000]).sum())
    return correct / len(x)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--output", type=pathlib.Path, default=HERE / "fashion_mnist_dwsep.onnx")
    args = parser.parse_args()

    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.set_num_threads(1)  # the machine is shared
    torch.use_deterministic_algorithms(True)

    train_x, train_y = load_split("train")
    test_x, test_y = load_split("t10k")
    train_x = train_x / 255.0

    model = DepthwiseSeparableCNN()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    steps_per_epoch = (len(train_x) + args.batch_size - 1) // args.batch_size
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=1e-2, epochs=args.epochs, steps_per_epoch=steps_per_epoch)
    generator = torch.Generator().manual_seed(SEED)
    for epoch in range(args.epochs):
        start = time.time()
        model.train()
        order = torch.randperm(len(train_x), generator=generator)
        total_loss = 0.0
        for i in range(0, len(order), args.batch_size):
            idx = order[i:i + args.batch_size]
            loss = F.cross_entropy(model.logits(train_x[idx]), train_y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            total_loss += float(loss) * len(idx)
        acc = accuracy(model, test_x, test_y, 1 / 255.0)
        print(f"epoch {epoch + 1}/{args.epochs}: loss {total_loss / len(train_x):.4f}, "
              f"test top-1 {100 * acc:.2f}% ({time.time() - start:.0f} s)", flush=True)

    # Fold the input scaling into the stem so the model consumes raw pixels.
    model.eval()
    with torch.no_grad():
        model.features[0][0].weight.mul_(1 / 255.0)
    raw_acc = accuracy(model, test_x, test_y, 1.0)
    print(f"fp32 test top-1 on raw [0, 255] input: {100 * raw_acc:.2f}%")

    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), str(args.output), opset_version=13,
                      input_names=["input"], output_names=["probabilities"],
                      do_constant_folding=True)
    print(f"wrote {args.output} ({args.output.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
