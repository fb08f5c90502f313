#!/usr/bin/python3
"""PyTorch side of bench/compare_torch.sh: the operations of bench/affine_bench.cpp, timed in
torch single-threaded, with the same sizes, scales, zero points and layouts.

Prints one JSON object: {"<op>/<n>[/axis_last:<0|1>]": elements_per_second, ...}.
torch has no out= variants for these ops, so its timings include allocating the result.
Times are process CPU time, like Google Benchmark's default items_per_second, so both sides
are comparable on a shared machine.
"""
import json
import sys
import time

import torch

SCALE = 0.05
ZERO_POINT = 128
CHANNELS = 64
SIZES = [1 << 20, 1 << 24]
MIN_SECONDS = 0.5


def rate(fn, n):
    """Best elements/s over batches of calls lasting at least MIN_SECONDS in total."""
    fn()  # warm up (first-touch of buffers, lazy init)
    best = float("inf")
    total = 0.0
    while total < MIN_SECONDS:
        reps = 3
        t0 = time.process_time()
        for _ in range(reps):
            fn()
        dt = (time.process_time() - t0) / reps
        best = min(best, dt)
        total += dt * reps
    return n / best


def main():
    torch.set_num_threads(1)
    torch.manual_seed(42)
    results = {}
    for n in SIZES:
        x = torch.randn(n) * 3.0
        results[f"QuantizePerTensor/{n}"] = rate(
            lambda: torch.quantize_per_tensor(x, SCALE, ZERO_POINT, torch.quint8), n)
        qx = torch.quantize_per_tensor(x, SCALE, ZERO_POINT, torch.quint8)
        results[f"DequantizePerTensor/{n}"] = rate(lambda: qx.dequantize(), n)
        results[f"FakeQuantizePerTensor/{n}"] = rate(
            lambda: torch.fake_quantize_per_tensor_affine(x, SCALE, ZERO_POINT, 0, 255), n)

        scales = torch.tensor([0.02 + 0.001 * c for c in range(CHANNELS)], dtype=torch.float64)
        zps = torch.tensor([100 + c for c in range(CHANNELS)], dtype=torch.int64)
        for axis_last in (0, 1):
            shape = (n // CHANNELS, CHANNELS) if axis_last else (CHANNELS, n // CHANNELS)
            axis = 1 if axis_last else 0
            xc = x.reshape(shape)
            key = f"{n}/axis_last:{axis_last}"
            results[f"QuantizePerChannel/{key}"] = rate(
                lambda: torch.quantize_per_channel(xc, scales, zps, axis, torch.quint8), n)
            qc = torch.quantize_per_channel(xc, scales, zps, axis, torch.quint8)
            results[f"DequantizePerChannel/{key}"] = rate(lambda: qc.dequantize(), n)
            scales_f = scales.float()
            zps_i = zps.int()
            results[f"FakeQuantizePerChannel/{key}"] = rate(
                lambda: torch.fake_quantize_per_channel_affine(xc, scales_f, zps_i, axis, 0, 255),
                n)
    json.dump(results, sys.stdout)
    print()


if __name__ == "__main__":
    main()
