#!/usr/bin/python3
"""PyTorch side of bench/compare_torch_apot.sh: an APoT quantizer written the fast way in
torch (clamp, torch.searchsorted over the midpoints of the distinct levels, index the codes),
single thread, on the same 16M normal(0,1) float32 elements and alpha = 3 as
bench/apot_bench.cpp. (PyTorch's own quantize_APoT is a Python loop over every level for
every element: about 11.5 K elements/s, far too slow to time at this size.)

Prints one JSON object: {"b<b>_k<k>_<u|s>": elements_per_second (CPU time), ...}.
"""
import itertools
import json
import time

import numpy as np
import torch

N = 1 << 24
ALPHA = 3.0
SCHEMES = [(4, 2, False), (4, 2, True), (8, 2, False), (8, 2, True), (6, 3, False),
           (8, 4, False), (16, 4, False)]
MIN_SECONDS = 1.0


def levels_and_indices(b, k, signed, alpha):
    """APoTObserver.calculate_qparams restated (float32 running sums, then sort)."""
    n = b // k
    terms = []
    for i in range(n):
        p = [2.0 ** -(i + j * n) for j in range(2 ** k - 1)]
        t = [0.0] + p if not signed else sorted(p + [0.0] + [-v for v in p], reverse=True)
        terms.append(torch.tensor(t, dtype=torch.float32))
    gamma = torch.tensor(alpha, dtype=torch.float32) / (2.0 - 2.0 ** (1 - n))
    sums = torch.zeros(1, dtype=torch.float32)
    for t in terms:  # cartesian order, first term most significant, float32 adds
        sums = (sums[:, None] + t[None, :]).reshape(-1)
    return torch.sort(gamma * sums)


def make_quantizer(levels, indices, alpha):
    distinct = []
    for p in range(len(levels)):
        if p == 0 or levels[p] != levels[p - 1]:
            distinct.append(p)
    pos = torch.tensor(distinct)
    values = levels[pos]
    codes = indices[pos].to(torch.int32)
    mids = ((values[1:].double() + values[:-1].double()) / 2).float()

    def quantize(x):
        xc = torch.clamp(torch.nan_to_num(x, nan=0.0), -alpha, alpha)
        # right=False: an exact midpoint goes to the lower level, as PyTorch's scan does.
        return codes[torch.searchsorted(mids, xc)]

    return quantize


def check_against_scan(quantize, levels, indices, x):
    """The timed quantizer must give PyTorch's codes: compare it with apot_utils'
    float_to_apot scan (float32 |level - x|, first strict minimum) on a sample."""
    lv = levels.numpy()
    idx = indices.numpy()
    sample = x[:2000]
    got = quantize(sample).numpy()
    for i, v in enumerate(torch.clamp(sample, -ALPHA, ALPHA).numpy()):
        d = np.abs(lv - np.float32(v))  # float32 arithmetic
        want = idx[int(np.argmin(d))]   # argmin returns the first minimum
        if got[i] != want:
            raise SystemExit(f"searchsorted quantizer disagrees with the scan at x={v}")


def rate(fn, n):
    fn()
    best = float("inf")
    total = 0.0
    while total < MIN_SECONDS:
        t0 = time.process_time()
        fn()
        dt = time.process_time() - t0
        best = min(best, dt)
        total += dt
    return n / best


def main():
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(42)
    x = torch.randn(N, generator=gen, dtype=torch.float32)
    out = {}
    for b, k, signed in SCHEMES:
        levels, indices = levels_and_indices(b, k, signed, ALPHA)
        quantize = make_quantizer(levels, indices, ALPHA)
        if len(levels) <= 4096:
            check_against_scan(quantize, levels, indices, x)
        out[f"b{b}_k{k}_{'s' if signed else 'u'}"] = rate(lambda: quantize(x), N)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
