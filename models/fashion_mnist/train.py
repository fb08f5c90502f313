#!/usr/bin/python3
"""Train the Fashion-MNIST CNN that quantkit's main job quantizes, and export it to ONNX.

Reproduce: /usr/bin/python3 models/fashion_mnist/train.py   (Debian python3-torch 1.13 and
dataset-fashion-mnist; 4 epochs, 20 to 60 minutes on 2 CPU cores depending on load). Writes fashion_mnist_cnn.onnx next to
this script and prints the fp32 test top-1 of the exported network.

The exported model takes RAW pixel values: float32 [1, 1, 28, 28] in [0, 255] — exactly the
bytes of an IDX image file converted to float, with no normalization step for the caller to
get wrong. Training runs on x / 255; the 1/255 is folded into conv1's weight before export
(exact: conv is linear and its zero padding is 0 in both scalings), so the exported graph is
only Conv/Relu/MaxPool/Flatten/Gemm (BatchNorm folded into the convolutions by the
exporter). Per-channel mean/std normalization is unnecessary: BatchNorm follows conv1.
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
SEED = 20261123


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


class FashionCNN(nn.Module):
    """conv-bn-relu-pool ×2, then two fully connected layers: ops every int8 path handles
    (quantized conv/linear with fused relu, max pool on quantized values)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(64)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        return self.fc2(x)


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, input_scale: float) -> float:
    model.eval()
    correct = 0
    for i in range(0, len(x), 1000):
        logits = model(x[i:i + 1000] * input_scale)
        correct += int((logits.argmax(1) == y[i:i + 1000]).sum())
    return correct / len(x)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--output", type=pathlib.Path, default=HERE / "fashion_mnist_cnn.onnx")
    args = parser.parse_args()

    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)

    train_x, train_y = load_split("train")
    test_x, test_y = load_split("t10k")
    train_x = train_x / 255.0

    model = FashionCNN()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    steps_per_epoch = (len(train_x) + args.batch_size - 1) // args.batch_size
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=3e-3, epochs=args.epochs, steps_per_epoch=steps_per_epoch)
    generator = torch.Generator().manual_seed(SEED)
    for epoch in range(args.epochs):
        start = time.time()
        model.train()
        order = torch.randperm(len(train_x), generator=generator)
        total_loss = 0.0
        for step, i in enumerate(range(0, len(order), args.batch_size)):
            idx = order[i:i + args.batch_size]
            loss = F.cross_entropy(model(train_x[idx]), train_y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            total_loss += float(loss) * len(idx)
            if step % 100 == 0:
                print(f"  epoch {epoch + 1} step {step}/{steps_per_epoch}: loss {float(loss):.4f} "
                      f"({time.time() - start:.0f} s)", flush=True)
        acc = accuracy(model, test_x, test_y, 1 / 255.0)
        print(f"epoch {epoch + 1}/{args.epochs}: loss {total_loss / len(train_x):.4f}, "
              f"test top-1 {100 * acc:.2f}% ({time.time() - start:.0f} s)", flush=True)

    # Fold the input scaling into conv1 so the model consumes raw pixels.
    model.eval()
    with torch.no_grad():
        model.conv1.weight.mul_(1 / 255.0)
    raw_acc = accuracy(model, test_x, test_y, 1.0)
    print(f"fp32 test top-1 on raw [0, 255] input: {100 * raw_acc:.2f}%")

    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), str(args.output), opset_version=13,
                      input_names=["input"], output_names=["logits"],
                      do_constant_folding=True)
    print(f"wrote {args.output} ({args.output.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
