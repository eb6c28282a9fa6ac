"""Independent oracle: per-tensor statistics of ONNX models computed with onnx + numpy.

Usage (Debian's /usr/bin/python3, onnx 1.12, numpy):
  numpy_stats.py MODEL...            JSON {"models": {MODEL: {"tensors": [...]} | {"error": str}}}
  numpy_stats.py --select N ROOT     JSON list of N model.onnx paths under ROOT that hold weights
  numpy_stats.py --self-test         checks the hand-written decoders against the spec's landmarks

Tensors: initializers, sparse initializers (densified), Constant node tensors and other tensor
attributes, in the main graph, every subgraph and every model-local function. Statistics follow
the Model Lens contract: min/max/mean/std over finite values (values in float64, sums exactly
rounded, population std), zeros are exact zeros over all elements, nan/inf counted, np.histogram(finite, 256, range=(min, max)).
onnx 1.12 decodes data types up to BFLOAT16; newer ones (float8, 4- and 2-bit) are decoded here
from the formulas in ONNX's docs (technical/float8.md, float4.md, int4.md, int2.md, onnx.proto),
not from Model Lens code.
"""
import json
import math
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper

BINS = 256

NAMES = {
    1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64",
    8: "string", 9: "bool", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64",
    14: "complex64", 15: "complex128", 16: "bfloat16", 17: "float8e4m3fn", 18: "float8e4m3fnuz",
    19: "float8e5m2", 20: "float8e5m2fnuz", 21: "uint4", 22: "int4", 23: "float4e2m1",
    24: "float8e8m0", 25: "uint2", 26: "int2",
}


def _minifloat_table(exp_bits, man_bits, bias, kind):
    """float64 value of every code of a 1-sign-bit minifloat, per ONNX's float8/float4 docs.

    kind: 'fn' (E4M3FN: NaN is S.1111.111, no Inf), 'ieee' (E5M2: Inf S.11111.00, NaN
    S.11111.{01,10,11}), 'fnuz' (only NaN is 1.000..0, no Inf, no -0), 'finite' (E2M1).
    """
    size = 1 << (1 + exp_bits + man_bits)
    sign_bit = size >> 1
    table = np.empty(size, dtype=np.float64)
    for c in range(size):
        s = -1.0 if c & sign_bit else 1.0
        e = (c >> man_bits) & ((1 << exp_bits) - 1)
        m = c & ((1 << man_bits) - 1)
        if e == 0:
            v = s * 2.0 ** (1 - bias) * (m / (1 << man_bits))
        else:
            v = s * 2.0 ** (e - bias) * (1 + m / (1 << man_bits))
        low = c & (sign_bit - 1)
        if kind == "fn" and low == sign_bit - 1:
            v = math.nan
        elif kind == "ieee" and e == (1 << exp_bits) - 1:
            v = s * math.inf if m == 0 else math.nan
        elif kind == "fnuz" and c == sign_bit:
            v = math.nan
        table[c] = v
    return table


def _e8m0_table():
    """FLOAT8E8M0 (OCP MX scale): no sign, no mantissa, 2^(e-127); 0xFF is NaN."""
    t = np.array([2.0 ** (e - 127) for e in range(256)], dtype=np.float64)
    t[255] = math.nan
    return t


TABLES = {
    17: _minifloat_table(4, 3, 7, "fn"),
    18: _minifloat_table(4, 3, 8, "fnuz"),
    19: _minifloat_table(5, 2, 15, "ieee"),
    20: _minifloat_table(5, 2, 16, "fnuz"),
    23: _minifloat_table(2, 1, 1, "finite"),
    24: _e8m0_table(),
}
# 4- and 2-bit integers: element value of each code (two's complement for the signed ones).
TABLES[21] = np.arange(16, dtype=np.float64)
TABLES[22] = np.array([c - 16 if c >= 8 else c for c in range(16)], dtype=np.float64)
TABLES[25] = np.arange(4, dtype=np.float64)
TABLES[26] = np.array([c - 4 if c >= 2 else c for c in range(4)], dtype=np.float64)
SUB_BYTE_BITS = {21: 4, 22: 4, 23: 4, 25: 2, 26: 2}


def decode_new_dtype(t):
    """float64 values of a tensor whose type onnx 1.12 cannot decode (codes 17..26)."""
    count = int(np.prod(t.dims, dtype=np.int64))
    if t.HasField("raw_data"):
        data = np.frombuffer(t.raw_data, dtype=np.uint8)
    else:
        # int32_data: one element per entry for 8-bit types, one packed byte for sub-byte ones.
        data = (np.asarray(t.int32_data, dtype=np.int64) & 0xFF).astype(np.uint8)
    bits = SUB_BYTE_BITS.get(t.data_type, 8)
    if bits == 8:
        codes = data
    else:
        per = 8 // bits
        shifts = np.arange(per, dtype=np.uint8) * bits  # first element in the low bits
        codes = ((data[:, None] >> shifts) & ((1 << bits) - 1)).reshape(-1)
    if codes.size < count:
        raise ValueError(f"{t.name}: {codes.size} elements stored, {count} declared")
    return TABLES[t.data_type][codes[:count]].reshape(tuple(t.dims))


def decode(t):
    """The tensor's values as float64 (ints and bools converted), or raises for strings/complex."""
    if t.data_type in (8, 14, 15):
        raise TypeError(f"{NAMES[t.data_type]} has no numeric statistics")
    if t.data_type > 16:
        return decode_new_dtype(t)
    return numpy_helper.to_array(t).astype(np.float64)


def densify(sp):
    """Dense float64 array of a SparseTensorProto (linear [NNZ] or coordinate [NNZ, rank] indices)."""
    dims = tuple(sp.dims)
    values = decode(sp.values).reshape(-1)
    idx = numpy_helper.to_array(sp.indices).astype(np.int64)
    dense = np.zeros(int(np.prod(dims, dtype=np.int64)), dtype=np.float64)
    if idx.ndim == 2:
        idx = np.ravel_multi_index(tuple(idx.T), dims)
    dense[idx.reshape(-1)] = values
    return dense.reshape(dims), sp.values.data_type


def stats(values):
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    finite = v[np.isfinite(v)]
    out = {
        "count": int(v.size),
        "zeros": int(np.count_nonzero(v == 0)),
        "nan": int(np.count_nonzero(np.isnan(v))),
        "inf": int(np.count_nonzero(np.isinf(v))),
    }
    if finite.size == 0:
        out.update(min=None, max=None, mean=None, std=None, histogram=None, edgeSlack=None)
        return out
    lo, hi = float(finite.min()), float(finite.max())
    counts, edges = np.histogram(finite, bins=BINS, range=(lo, hi))
    # A binner that computes floor((x - lo) / (hi - lo) * bins) in float64 can misplace a value
    # lying within a few ulps of an edge: |error| <= ~2 eps (hi - lo) + eps max(|x|, |lo|).
    # Count, per interior edge, the values within 4x that distance; only they may move one bin.
    tol = 4 * np.finfo(np.float64).eps * ((hi - lo) + max(abs(lo), abs(hi)))
    s = np.sort(finite)
    inner = edges[1:-1]
    slack = np.searchsorted(s, inner + tol, side="right") - np.searchsorted(s, inner - tol, side="left")
    # Mean and std from math.fsum (exactly rounded sums) rather than numpy's pairwise float64
    # sum, which drops small terms beside huge ones: for [-2^63, 2^63, 38 ints of about 1e6]
    # numpy's mean is off by 277/40, for [..., -FLT_MAX, FLT_MAX, 1.5, -2.25, 0.1] it says 0.0.
    mean = math.fsum(finite) / finite.size
    std = math.sqrt(math.fsum((finite - mean) ** 2) / finite.size)
    out.update(
        min=lo,
        max=hi,
        mean=mean,
        std=std,
        histogram={"min": float(edges[0]), "max": float(edges[-1]), "counts": [int(c) for c in counts]},
        edgeSlack=[int(x) for x in slack],
    )
    return out


def collect(model):
    """(name, origin, scope, TensorProto or (dense, dtype), extra) for every tensor in the model."""
    found = []

    def walk(graph, scope):
        # FunctionProto has nodes but no initializers.
        for t in getattr(graph, "initializer", []):
            found.append((t.name, "initializer", scope, t, None))
        for sp in getattr(graph, "sparse_initializer", []):
            found.append((sp.values.name, "sparse_initializer", scope, densify(sp), None))
        for i, n in enumerate(graph.node):
            label = n.name or f"{n.op_type}_{i}"
            for a in n.attribute:
                if n.op_type == "Constant" and n.domain in ("", "ai.onnx"):
                    if a.name == "value":
                        found.append((n.output[0], "Constant", scope, a.t, None))
                    elif a.name == "sparse_value":
                        found.append((n.output[0], "Constant", scope, densify(a.sparse_tensor), None))
                    elif a.name in ("value_float", "value_floats", "value_int", "value_ints"):
                        # Scalar/list forms: a tensor to ONNX, but optional for Model Lens to list.
                        arr, code = {
                            "value_float": (np.float32(a.f), 1),
                            "value_floats": (np.asarray(a.floats, dtype=np.float32), 1),
                            "value_int": (np.int64(a.i), 7),
                            "value_ints": (np.asarray(a.ints, dtype=np.int64), 7),
                        }[a.name]
                        found.append((n.output[0], "Constant", scope, (np.asarray(arr, dtype=np.float64), code), a.name))
                elif a.type == onnx.AttributeProto.TENSOR:
                    found.append((a.t.name, "attribute", scope, a.t, f"{label}.{a.name}"))
                if a.type == onnx.AttributeProto.GRAPH:
                    walk(a.g, f"{scope}/{label}/{a.name}".lstrip("/"))
                elif a.type == onnx.AttributeProto.GRAPHS:
                    for k, g in enumerate(a.graphs):
                        walk(g, f"{scope}/{label}/{a.name}[{k}]".lstrip("/"))

    walk(model.graph, "")
    for f in model.functions:
        walk(f, f"function {f.domain}:{f.name}")
    return found


def model_stats(path):
    model = onnx.load(path)  # loads external data relative to the model's folder
    tensors = []
    for name, origin, scope, src, extra in collect(model):
        if isinstance(src, tuple):
            values, code = src
            dims = list(values.shape)
        else:
            code, dims = src.data_type, list(src.dims)
            values = None
        rec = {"name": name, "origin": origin, "scope": scope, "dtype": NAMES.get(code, f"type{code}"),
               "dtypeCode": code, "shape": [int(d) for d in dims]}
        if extra:
            rec["via"] = extra
        try:
            if values is None:
                values = decode(src)
            if list(values.shape) != rec["shape"]:
                raise ValueError(f"decoded shape {list(values.shape)} != dims {rec['shape']}")
            rec.update(stats(values))
        except (TypeError, ValueError, KeyError) as e:
            rec["count"] = int(np.prod(dims, dtype=np.int64))
            rec["error"] = str(e)
        tensors.append(rec)
    return {"tensors": tensors}


def select(n, root):
    """n model.onnx paths under root, evenly spaced in sorted order: four fifths from those with
    initializers, the rest from those whose weights are only Constant nodes."""
    with_init, const_only = [], []
    for d, _, files in os.walk(root):
        if "model.onnx" in files:
            p = os.path.join(d, "model.onnx")
            g = onnx.load(p, load_external_data=False).graph
            if len(g.initializer):
                with_init.append(p)
            elif any(x.op_type == "Constant" for x in g.node):
                const_only.append(p)

    def spread(paths, k):
        paths.sort()
        return paths if len(paths) <= k else [paths[(i * len(paths)) // k] for i in range(k)]

    k = (4 * n) // 5
    return spread(with_init, k) + spread(const_only, n - k)


def self_test():
    """Landmarks stated in ONNX's docs: max, min subnormal, NaN/Inf codes, the E2M1 table."""
    t = TABLES
    checks = [
        (t[17][0x7E], 448.0), (t[17][0x01], 2.0 ** -9), (t[17][0xFE], -448.0), (t[17][0x38], 1.0),
        (t[18][0x7F], 240.0), (t[18][0x01], 2.0 ** -10), (t[18][0x40], 1.0),
        (t[19][0x7B], 57344.0), (t[19][0x01], 2.0 ** -16), (t[19][0x7C], math.inf), (t[19][0xFC], -math.inf),
        (t[19][0x3C], 1.0), (t[20][0x7F], 57344.0), (t[20][0x01], 2.0 ** -17), (t[20][0x40], 1.0),
        (t[24][127], 1.0), (t[24][0], 2.0 ** -127), (t[24][254], 2.0 ** 127),
        (t[22][0x8], -8.0), (t[22][0xF], -1.0), (t[26][2], -2.0), (t[26][3], -1.0),
    ]
    for got, want in checks:
        assert got == want, (got, want)
    nan_codes = {k: [int(c) for c in np.flatnonzero(np.isnan(t[k]))] for k in (17, 18, 19, 20, 24)}
    assert nan_codes == {17: [0x7F, 0xFF], 18: [0x80], 19: [0x7D, 0x7E, 0x7F, 0xFD, 0xFE, 0xFF], 20: [0x80], 24: [0xFF]}, nan_codes
    assert list(t[23][:8]) == [0, 0.5, 1, 1.5, 2, 3, 4, 6] and list(t[23][8:]) == [-0.0, -0.5, -1, -1.5, -2, -3, -4, -6]
    assert math.copysign(1, t[17][0x80]) == -1 and math.copysign(1, t[19][0x80]) == -1
    # onnx's own test: E5M2FNUZ round-trips [0, 0.5, 1, 49152, 10].
    assert all(v in set(t[20]) for v in (0, 0.5, 1, 49152, 10))
    print("self-test ok")


def main(argv):
    if argv[:1] == ["--self-test"]:
        self_test()
        return 0
    if argv[:1] == ["--select"]:
        json.dump(select(int(argv[1]), argv[2]), sys.stdout)
        return 0
    out = {}
    for path in argv:
        try:
            out[path] = model_stats(path)
        except Exception as e:  # one broken model must not hide the others' results
            out[path] = {"error": f"{type(e).__name__}: {e}"}
    json.dump({"models": out}, sys.stdout, allow_nan=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
