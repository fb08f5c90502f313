#!/usr/bin/python3
"""Train the small Vision Transformer on Fashion-MNIST that quantkit's transformer configs
(int8-dynamic, int8-dynamic-per-token, 8da4w) are measured on, and export it to ONNX.

Reproduce: /usr/bin/python3 models/fashion_mnist_vit/train.py   (Debian python3-torch 1.13
and dataset-fashion-mnist; a few minutes on 2 CPU cores). Writes fashion_mnist_vit.onnx next
to this script and prints the fp32 test top-1 of the exported network.

The model is a pre-norm ViT (Dosovitskiy et al. 2020) written with plain modules, so the
ONNX graph is what a transformer export is made of — MatMul with constant weights (the
linears), batched MatMul of activations (attention), Softmax, LayerNormalization, Erf
(exact GELU), Reshape / Transpose for the heads, a class token (Expand + Concat) read back
with a Gather (x[:, 0]) — with no control flow. Input: float32 [N, 1, 28, 28], RAW pixel
values in [0, 255] (the IDX bytes as float, like models/fashion_mnist); the 1/255 scaling
is folded into the patch embedding before export.
"""
import gzip
import math
import pathlib
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA_DIR = pathlib.Path("/usr/share/datasets/fashion-mnist")
HERE = pathlib.Path(__file__).resolve().parent
SEED = 20261205
PATCH, DIM, HEADS, LAYERS, MLP = 7, 64, 4, 2, 128
EPOCHS, BATCH, MAX_LR = 4, 128, 2e-3


def read_idx(path):
    raw = gzip.open(path, "rb").read()
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_split(prefix):
    x = torch.from_numpy(read_idx(DATA_DIR / f"{prefix}-images-idx3-ubyte.gz").astype(np.float32))
    y = torch.from_numpy(read_idx(DATA_DIR / f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64))
    return x.unsqueeze(1), y


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(DIM, 3 * DIM)
        self.proj = nn.Linear(DIM, DIM)

    def forward(self, x):
        n, t, _ = x.shape
        qkv = self.qkv(x).reshape(n, t, 3, HEADS, DIM // HEADS).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        a = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(DIM // HEADS))
        y = a.softmax(dim=-1) @ v
        return self.proj(y.transpose(1, 2).reshape(n, t, DIM))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm1 = nn.LayerNorm(DIM)
        self.attn = Attention()
        self.norm2 = nn.LayerNorm(DIM)
        self.fc1 = nn.Linear(DIM, MLP)
        self.fc2 = nn.Linear(MLP, DIM)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class ViT(nn.Module):
    def __init__(self):
        super().__init__()
        self.patch = nn.Conv2d(1, DIM, PATCH, stride=PATCH)
        tokens = (28 // PATCH) ** 2
        self.cls = nn.Parameter(torch.zeros(1, 1, DIM))
        self.pos = nn.Parameter(torch.randn(1, tokens + 1, DIM) * 0.02)
        self.blocks = nn.Sequential(*[Block() for _ in range(LAYERS)])
        self.norm = nn.LayerNorm(DIM)
        self.head = nn.Linear(DIM, 10)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)  # [N, tokens, DIM]
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0])


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(x[i:i + 1000]).argmax(1) for i in range(0, len(x), 1000)])
    return 100.0 * (pred == y).float().mean().item()


def main():
    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    xtr, ytr = load_split("train")
    xte, yte = load_split("t10k")
    model = ViT()
    opt = torch.optim.AdamW(model.parameters(), lr=MAX_LR, weight_decay=0.05)
    steps = EPOCHS * (len(xtr) // BATCH)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, MAX_LR, total_steps=steps)
    for epoch in range(EPOCHS):
        model.train()
        start = time.time()
        order = torch.randperm(len(xtr))
        for i in range(len(xtr) // BATCH):
            idx = order[i * BATCH:(i + 1) * BATCH]
            loss = F.cross_entropy(model(xtr[idx] / 255.0), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        print(f"epoch {epoch + 1}: loss {loss.item():.3f}, test top-1 "
              f"{accuracy(model, xte / 255.0, yte):.2f}% ({time.time() - start:.0f} s)", flush=True)
    # Raw pixels in: fold 1/255 into the patch embedding (linear, no padding).
    with torch.no_grad():
        model.patch.weight.mul_(1.0 / 255.0)
    model.eval()
    out = HERE / "fashion_mnist_vit.onnx"
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), str(out), opset_version=17,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    print(f"exported {out} ({out.stat().st_size} bytes); fp32 test top-1 of the raw-pixel "
          f"network: {accuracy(model, xte, yte):.2f}%")


if __name__ == "__main__":
    main()
