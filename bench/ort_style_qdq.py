#!/usr/bin/env python3
"""Rewrites a QDQ ONNX file the way ONNX Runtime's own quantizer lays it out, for
bench/compare_ort.sh ("ORT on a well-formed QDQ file"):

    /usr/bin/python3 bench/ort_style_qdq.py IN.onnx OUT.onnx

ONNX Runtime's quantize_static (QDQ format, defaults) quantizes activations to uint8 and
weights to int8; quantkit's int8-per-channel config (XNNPACK's) quantizes activations to int8,
which ORT's x86 kernels run on slower paths. (quantkit's exporter now writes this layout itself
— docs/onnx.md — so on its files this script rewrites nothing; it still shows what a file
exported with int8 activations or float biases would need.) Every activation QuantizeLinear /
DequantizeLinear pair is moved to uint8 with zero point + 128 (the same real values, the
same rounding). quantkit's export also keeps a Conv's / Gemm's bias float; ORT writes
it as int32 through a DequantizeLinear with scale x_scale * w_scale (per channel) and zero
point 0, which is what its QDQ selectors need to fuse DequantizeLinear -> Conv -> QuantizeLinear
into QLinearConv (and Gemm into QGemm). For every Conv / Gemm whose activation and weight come
from DequantizeLinear nodes with constant scales and whose bias is a float initializer, the
bias becomes round_half_even(bias / (x_scale * w_scale)) in int32 behind such a
DequantizeLinear. Nothing else changes. Needs Debian's python3-onnx and python3-numpy.
"""
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    model = onnx.load(sys.argv[1])
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    producer = {out: n for n in graph.node for out in n.output}

    def constant(name):
        return numpy_helper.to_array(inits[name]) if name in inits else None

    def dq_scale(name):
        node = producer.get(name)
        if node is None or node.op_type != "DequantizeLinear":
            return None
        return constant(node.input[1])

    # Activations to uint8: QuantizeLinear nodes and the DequantizeLinear nodes reading them.
    def to_uint8_zero_point(node):
        if len(node.input) < 3 or node.input[2] not in inits:
            return False
        zp = constant(node.input[2])
        if zp.dtype != np.int8:
            return False
        name = f"{node.input[2]}_u8"
        if name not in inits:
            t = numpy_helper.from_array((zp.astype(np.int16) + 128).astype(np.uint8), name)
            graph.initializer.append(t)
            inits[name] = t
        node.input[2] = name
        return True

    moved = 0
    for node in graph.node:
        if node.op_type == "QuantizeLinear":
            moved += to_uint8_zero_point(node)
        elif node.op_type == "DequantizeLinear":
            src = producer.get(node.input[0])
            if src is not None and src.op_type == "QuantizeLinear":
                to_uint8_zero_point(node)

    rewritten = 0
    new_nodes = []
    for node in graph.node:
        if node.op_type in ("Conv", "Gemm") and len(node.input) == 3 and node.input[2] in inits:
            bias = constant(node.input[2])
            x_scale, w_scale = dq_scale(node.input[0]), dq_scale(node.input[1])
            if bias is not None and bias.dtype == np.float32 and x_scale is not None \
                    and w_scale is not None and x_scale.size == 1:
                scale = (x_scale.astype(np.float64).reshape(()) *
                         np.broadcast_to(w_scale.astype(np.float64).ravel(), bias.shape))
                q = np.clip(np.rint(bias.astype(np.float64) / scale), -2**31, 2**31 - 1)
                base = node.name or node.output[0]
                names = [f"{base}_bias_i32", f"{base}_bias_scale", f"{base}_bias_zp"]
                graph.initializer.extend([
                    numpy_helper.from_array(q.astype(np.int32), names[0]),
                    numpy_helper.from_array(scale.astype(np.float32), names[1]),
                    numpy_helper.from_array(np.zeros(bias.shape, np.int32), names[2]),
                ])
                dq_out = f"{base}_bias_dequantized"
                new_nodes.append(helper.make_node("DequantizeLinear", names, [dq_out],
                                                  name=f"{base}_bias_dq", axis=0))
                node.input[2] = dq_out
                rewritten += 1
        new_nodes.append(node)
    del graph.node[:]
    graph.node.extend(new_nodes)
    used = {i for n in graph.node for i in n.input}
    keep = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)
    del graph.value_info[:]  # intermediate types changed (int8 -> uint8): let readers infer
    onnx.checker.check_model(model)
    onnx.save(model, sys.argv[2])
    print(f"ort_style_qdq: {moved} activation quantizations to uint8, {rewritten} biases as "
          "int32 DequantizeLinear", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
