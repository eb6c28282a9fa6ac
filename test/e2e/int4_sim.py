"""Independent numpy simulation of blockwise int4 weight quantization, as an oracle for real models.

Usage: int4_sim.py IN OUT [BLOCK]. Writes OUT: IN with the weight of every Conv, ConvTranspose, Gemm
and MatMul (initializer or Constant, >= 256 elements) replaced by its int4 reconstruction in float32,
and prints JSON {tensor: cosine of reconstruction vs original} on stdout.

The geometry, stated here from the README rather than taken from Model Lens's code: symmetric codes
round_half_even(w / s) clamped to -7..7 with s = max|w| / 7 per block (an all-zero block gets s = 1);
blocks of BLOCK (default 32) consecutive weights along the input dimension, the last one shorter.
A Conv weight [O, I, kh, kw] is read as O rows of I*kh*kw, each row its own blocks. MatMul
[K, N] and ConvTranspose [I, O, k...] blocks run down the input axis 0, one column at a time.
"""

import json
import sys

import numpy as np
import onnx
from onnx import numpy_helper

F32 = np.float32
MIN_ELEMENTS = 256


def blockwise_rows(m, bs):
    """int4 reconstruction of a 2-D float32 array, blocks of bs along axis 1."""
    out = np.empty_like(m)
    for b in range(0, m.shape[1], bs):
        blk = m[:, b:b + bs]
        s = (np.max(np.abs(blk), axis=1, keepdims=True) / F32(7)).astype(F32)
        s[s == 0] = 1
        q = np.clip(np.rint((blk / s).astype(F32)), -7, 7)
        out[:, b:b + bs] = (q * s).astype(F32)
    return out


def simulate(w, op, attrs, bs):
    if op == "Conv":
        m = w.reshape(w.shape[0], -1)
        return blockwise_rows(m, bs).reshape(w.shape)
    if op == "Gemm" and attrs.get("transB", 0) == 1:
        return blockwise_rows(w, bs).reshape(w.shape)
    # Input axis 0 (MatMul [K, N], Gemm without transB, ConvTranspose [I, O, k...]): columns of the rest.
    cols = w.reshape(w.shape[0], -1).T
    return blockwise_rows(np.ascontiguousarray(cols), bs).T.reshape(w.shape)


def main():
    src, dst = sys.argv[1], sys.argv[2]
    bs = int(sys.argv[3]) if len(sys.argv) > 3 else 32
    model = onnx.load(src)
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    constants = {n.output[0]: n for n in g.node if n.op_type == "Constant"}
    report = {}
    for node in g.node:
        if node.op_type not in ("Conv", "ConvTranspose", "Gemm", "MatMul") or len(node.input) < 2:
            continue
        name = node.input[1]
        attrs = {a.name: a.i for a in node.attribute if a.type == onnx.AttributeProto.INT}
        holder = inits.get(name) or (constants[name].attribute[0].t if name in constants else None)
        if holder is None or name in report:
            continue
        w = numpy_helper.to_array(holder).astype(F32)
        if w.size < MIN_ELEMENTS or w.ndim < 2:
            continue
        y = simulate(w, node.op_type, attrs, bs)
        holder.CopyFrom(numpy_helper.from_array(y, holder.name))
        a, b = w.astype(np.float64).ravel(), y.astype(np.float64).ravel()
        report[name] = float(a @ b / np.sqrt((a @ a) * (b @ b)))
    onnx.save(model, dst)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
