"""Independent oracle for GGUF: parses the file with struct and dequantizes every decoded ggml
type with numpy, from the reference formulas of ggml-quants.c `dequantize_row_*` (float32 at
every step), then computes statistics with numpy_stats.stats (the Model Lens contract).

Usage (Debian's /usr/bin/python3 with numpy):
  gguf_dequant.py FILE...                JSON {"models": {FILE: {"tensors": [...], "kvs": {...}}}}
  gguf_dequant.py --quantized ORIG VAR   JSON {"problems": [...], "checked": N}: every tensor of
                                         VAR is ORIG's bytes, or ORIG's values quantized to Q8_0 /
                                         Q4_0 by quantize_row_q8_0_ref / q4_0_ref, byte for byte
When the `gguf` package (llama.cpp's gguf-py) is importable, each tensor also records whether
gguf.quants.dequantize gives the same float32 bits ("ggufPy"), else null.
"""
import json
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from numpy_stats import stats  # noqa: E402

try:
    from gguf.quants import dequantize as gguf_py_dequantize
    from gguf.constants import GGMLQuantizationType
    from gguf.gguf_reader import GGUFReader
except ImportError:  # gguf-py is optional: the numpy formulas below are the oracle
    gguf_py_dequantize = None

F32 = np.float32
QK_K = 256

# name, block size, type size (ggml-common.h)
TYPES = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20), 6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 36), 10: ("Q2_K", 256, 84),
    11: ("Q3_K", 256, 110), 12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210),
    15: ("Q8_K", 256, 292), 16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74), 18: ("IQ3_XXS", 256, 98),
    19: ("IQ1_S", 256, 50), 20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110), 22: ("IQ2_S", 256, 82),
    23: ("IQ4_XS", 256, 136), 24: ("I8", 1, 1), 25: ("I16", 1, 2), 26: ("I32", 1, 4), 27: ("I64", 1, 8),
    28: ("F64", 1, 8), 29: ("IQ1_M", 256, 56), 30: ("BF16", 1, 2), 34: ("TQ1_0", 256, 54),
    35: ("TQ2_0", 256, 66), 39: ("MXFP4", 32, 17), 40: ("NVFP4", 64, 36), 41: ("Q1_0", 128, 18),
}
# Plain element types and the ONNX dtype name Model Lens reports for them.
PLAIN = {0: ("<f4", "float32", 1), 1: ("<f2", "float16", 10), 24: ("<i1", "int8", 3), 25: ("<i2", "int16", 5),
         26: ("<i4", "int32", 6), 27: ("<i8", "int64", 7), 28: ("<f8", "float64", 11)}


class Reader:
    def __init__(self, data):
        self.d = data
        self.p = 0

    def take(self, fmt):
        v = struct.unpack_from("<" + fmt, self.d, self.p)
        self.p += struct.calcsize("<" + fmt)
        return v[0]

    def string(self):
        n = self.take("Q")
        s = self.d[self.p:self.p + n]
        self.p += n
        return s.decode("utf-8", "replace")

    SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}

    def value(self, t):
        if t == 8:
            return self.string()
        if t == 9:
            et = self.take("I")
            n = self.take("Q")
            return {"array": et, "values": [self.value(et) for _ in range(n)]}
        return self.take(self.SCALARS[t])


def parse(path):
    with open(path, "rb") as fh:
        data = fh.read()
    r = Reader(data)
    assert data[:4] == b"GGUF", "magic"
    r.p = 4
    version = r.take("I")
    n_tensors = r.take("Q")
    n_kv = r.take("Q")
    kvs = {}
    for _ in range(n_kv):
        key = r.string()
        t = r.take("I")
        kvs[key] = (t, r.value(t))
    alignment = kvs.get("general.alignment", (4, 32))[1]
    infos = []
    for _ in range(n_tensors):
        name = r.string()
        nd = r.take("I")
        dims = [r.take("Q") for _ in range(nd)]
        t = r.take("I")
        off = r.take("Q")
        infos.append((name, dims, t, off))
    start = (r.p + alignment - 1) // alignment * alignment
    tensors = []
    for name, dims, t, off in infos:
        count = int(np.prod(dims, dtype=np.int64)) if dims else 1
        _, bs, ts = TYPES[t]
        nbytes = count // bs * ts
        tensors.append({"name": name, "dims": dims, "type": t, "raw": np.frombuffer(data, np.uint8, nbytes, start + off), "count": count})
    return {"version": version, "kvs": kvs, "tensors": tensors, "alignment": alignment}


def f16(b):
    """Little-endian fp16 from a (..., 2) uint8 array, as float32 of shape (..., 1)."""
    return np.ascontiguousarray(b).view("<f2").astype(F32)


def dq_q4_0(b):
    d = f16(b[:, 0:2])
    qs = b[:, 2:18]
    q = np.concatenate([(qs & 0xF).astype(np.int32) - 8, (qs >> 4).astype(np.int32) - 8], axis=1)
    return q.astype(F32) * d


def dq_q4_1(b):
    d, m = f16(b[:, 0:2]), f16(b[:, 2:4])
    qs = b[:, 4:20]
    q = np.concatenate([qs & 0xF, qs >> 4], axis=1)
    return q.astype(F32) * d + m


def five_bit(qs, qh):
    """Q5_0/Q5_1 codes: nibbles plus bit j (element j) or j + 16 (element j + 16) of qh."""
    j = np.arange(16, dtype=np.uint32)
    h0 = ((qh >> j) << 4) & 0x10
    h1 = (qh >> (j + 12)) & 0x10
    return np.concatenate([(qs & 0xF) | h0, (qs >> 4) | h1], axis=1).astype(np.int32)


def dq_q5_0(b):
    d = f16(b[:, 0:2])
    qh = np.ascontiguousarray(b[:, 2:6]).view("<u4").astype(np.uint32)
    return (five_bit(b[:, 6:22].astype(np.uint32), qh) - 16).astype(F32) * d


def dq_q5_1(b):
    d, m = f16(b[:, 0:2]), f16(b[:, 2:4])
    qh = np.ascontiguousarray(b[:, 4:8]).view("<u4").astype(np.uint32)
    return five_bit(b[:, 8:24].astype(np.uint32), qh).astype(F32) * d + m


def dq_q8_0(b):
    return b[:, 2:34].view(np.int8).astype(F32) * f16(b[:, 0:2])


E = np.arange(QK_K)


def dq_q2_k(b):
    scales, qs = b[:, 0:16], b[:, 16:80]
    d, dmin = f16(b[:, 80:82]), f16(b[:, 82:84])
    n, r = E // 128, E % 128
    code = (qs[:, n * 32 + r % 32] >> (2 * (r // 32))) & 3
    sc = scales[:, E // 16]
    dl = d * (sc & 0xF).astype(F32)
    ml = dmin * (sc >> 4).astype(F32)
    return dl * code.astype(F32) - ml


def q3_k_scales(raw):
    """The reference's kmask shuffle of the 12 scale bytes into sixteen 6-bit values."""
    aux = np.ascontiguousarray(raw).view("<u4").astype(np.uint32)  # (nb, 3)
    kmask1, kmask2 = np.uint32(0x03030303), np.uint32(0x0F0F0F0F)
    tmp = aux[:, 2]
    a0 = (aux[:, 0] & kmask2) | (((tmp >> 0) & kmask1) << 4)
    a1 = (aux[:, 1] & kmask2) | (((tmp >> 2) & kmask1) << 4)
    a2 = ((aux[:, 0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4)
    a3 = ((aux[:, 1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4)
    return np.stack([a0, a1, a2, a3], axis=1).astype("<u4").view(np.int8).astype(np.int32)  # (nb, 16)


def dq_q3_k(b):
    hmask, qs, d = b[:, 0:32], b[:, 32:96], f16(b[:, 108:110])
    sc = q3_k_scales(b[:, 96:108])
    n, r = E // 128, E % 128
    s, k = r // 32, r % 32
    low = (qs[:, n * 32 + k] >> (2 * s)) & 3
    high = (hmask[:, k] >> (n * 4 + s)) & 1
    q = low.astype(np.int32) - np.where(high == 1, 0, 4)
    dl = d * (sc[:, E // 16] - 32).astype(F32)
    return dl * q.astype(F32)


def scale_min_k4(s):
    """get_scale_min_k4 for j = 0..7 over (nb, 12) bytes: (scales, mins), each (nb, 8)."""
    s = s.astype(np.int32)
    sc = np.empty((s.shape[0], 8), np.int32)
    mn = np.empty((s.shape[0], 8), np.int32)
    for j in range(8):
        if j < 4:
            sc[:, j], mn[:, j] = s[:, j] & 63, s[:, j + 4] & 63
        else:
            sc[:, j] = (s[:, j + 4] & 0xF) | ((s[:, j - 4] >> 6) << 4)
            mn[:, j] = (s[:, j + 4] >> 4) | ((s[:, j] >> 6) << 4)
    return sc, mn


def dq_q4_k(b):
    d, dmin = f16(b[:, 0:2]), f16(b[:, 2:4])
    sc, mn = scale_min_k4(b[:, 4:16])
    qs = b[:, 16:144]
    j, r = E // 64, E % 64
    byte = qs[:, j * 32 + r % 32]
    q = np.where(r // 32 == 0, byte & 0xF, byte >> 4)
    return (d * sc[:, E // 32].astype(F32)) * q.astype(F32) - dmin * mn[:, E // 32].astype(F32)


def dq_q5_k(b):
    d, dmin = f16(b[:, 0:2]), f16(b[:, 2:4])
    sc, mn = scale_min_k4(b[:, 4:16])
    qh, qs = b[:, 16:48], b[:, 48:176]
    j, r = E // 64, E % 64
    nib, l = r // 32, r % 32
    byte = qs[:, j * 32 + l]
    low = np.where(nib == 0, byte & 0xF, byte >> 4).astype(np.int32)
    high = (qh[:, l] >> (2 * j + nib)) & 1
    q = low + 16 * high.astype(np.int32)
    return (d * sc[:, E // 32].astype(F32)) * q.astype(F32) - dmin * mn[:, E // 32].astype(F32)


def dq_q6_k(b):
    ql, qh = b[:, 0:128], b[:, 128:192]
    sc = b[:, 192:208].view(np.int8).astype(F32)
    d = f16(b[:, 208:210])
    n, r = E // 128, E % 128
    g, l = r // 32, r % 32
    byte = ql[:, n * 64 + l + 32 * (g % 2)]
    low = np.where(g < 2, byte & 0xF, byte >> 4).astype(np.int32)
    high = ((qh[:, n * 32 + l] >> (2 * g)) & 3).astype(np.int32)
    q = (low | (high << 4)) - 32
    return (d * sc[:, E // 16]) * q.astype(F32)


def dq_q8_k(b):
    d = np.ascontiguousarray(b[:, 0:4]).view("<f4")
    return d * b[:, 4:260].view(np.int8).astype(F32)


DEQUANT = {2: dq_q4_0, 3: dq_q4_1, 6: dq_q5_0, 7: dq_q5_1, 8: dq_q8_0, 10: dq_q2_k, 11: dq_q3_k,
           12: dq_q4_k, 13: dq_q5_k, 14: dq_q6_k, 15: dq_q8_k}


def decode(t):
    """(values, dtype name, dtype code) or (None, reason, None) for undecoded types."""
    typ = t["type"]
    if typ in PLAIN:
        fmt, name, code = PLAIN[typ]
        return np.frombuffer(t["raw"].tobytes(), fmt), name, code
    if typ == 30:
        bits = np.frombuffer(t["raw"].tobytes(), "<u2").astype(np.uint32) << 16
        return bits.view(np.float32), "bfloat16", 16
    if typ in DEQUANT:
        name, bs, ts = TYPES[typ]
        return DEQUANT[typ](t["raw"].reshape(-1, ts)).reshape(-1), "float32", 1
    return None, TYPES.get(typ, ("type %d" % typ,))[0] + " is not decoded", None


def gguf_py_agrees(t, values):
    if gguf_py_dequantize is None or t["type"] not in DEQUANT:
        return None
    try:
        theirs = np.asarray(gguf_py_dequantize(t["raw"].copy(), GGMLQuantizationType(t["type"])), dtype=np.float32).reshape(-1)
    except NotImplementedError:  # gguf-py has no Q8_K dequantizer
        return None
    return bool(np.array_equal(theirs.view(np.uint32), values.astype(np.float32).view(np.uint32)))


def model_stats(path):
    g = parse(path)
    out = []
    for t in g["tensors"]:
        values, dtype, code = decode(t)
        row = {"name": t["name"], "shape": t["dims"], "count": t["count"], "ggmlType": TYPES[t["type"]][0]}
        if values is None:
            row.update(error=dtype)
        else:
            row.update(dtype=dtype, dtypeCode=code, ggufPy=gguf_py_agrees(t, values), **stats(values))
        out.append(row)
    kvs = {k: (len(v[1]["values"]) if v[0] == 9 else v[1]) for k, v in g["kvs"].items()}
    return {"version": g["version"], "tensors": out, "kvs": kvs}


def ref_q8_0(x):
    """quantize_row_q8_0_ref in float32; roundf rounds halves away from zero."""
    x = x.reshape(-1, 32).astype(F32)
    amax = np.abs(x).max(axis=1, keepdims=True)
    d = (amax / F32(127)).astype(F32)
    with np.errstate(divide="ignore"):
        idv = np.where(d != 0, F32(1) / d, F32(0)).astype(F32)
    v = (x * idv).astype(F32).astype(np.float64)
    q = (np.sign(v) * np.floor(np.abs(v) + 0.5)).astype(np.int8)
    return np.concatenate([d.astype("<f2").view(np.uint8), q.view(np.uint8)], axis=1).reshape(-1)


def ref_q4_0(x):
    """quantize_row_q4_0_ref: d = max / -8 (max: the first value of largest magnitude)."""
    x = x.reshape(-1, 32).astype(F32)
    mx = x[np.arange(x.shape[0]), np.argmax(np.abs(x), axis=1)][:, None]
    d = (mx / F32(-8)).astype(F32)
    with np.errstate(divide="ignore"):
        idv = np.where(d != 0, F32(1) / d, F32(0)).astype(F32)
    q = np.minimum(15, np.trunc((x * idv).astype(F32) + F32(8.5)).astype(np.int32)).astype(np.uint8)
    packed = q[:, :16] | (q[:, 16:] << 4)
    return np.concatenate([d.astype("<f2").view(np.uint8), packed], axis=1).reshape(-1)


def check_quantized(orig_path, var_path):
    a, b = parse(orig_path), parse(var_path)
    problems = []
    for k, v in a["kvs"].items():
        if k not in b["kvs"]:
            problems.append("metadata key %s dropped" % k)
        elif k != "general.file_type" and v != b["kvs"][k]:
            problems.append("metadata key %s changed" % k)
    by_name = {t["name"]: t for t in a["tensors"]}
    if [t["name"] for t in b["tensors"]] != [t["name"] for t in a["tensors"]]:
        problems.append("tensor list or order changed")
    for t in b["tensors"]:
        o = by_name.get(t["name"])
        if o is None or o["dims"] != t["dims"]:
            problems.append("%s: missing or reshaped" % t["name"])
            continue
        if t["type"] == o["type"]:
            if not np.array_equal(t["raw"], o["raw"]):
                problems.append("%s: kept tensor's bytes differ" % t["name"])
            continue
        values, _, _ = decode(o)
        ref = {8: ref_q8_0, 2: ref_q4_0}.get(t["type"])
        if ref is None:
            problems.append("%s: unexpected type %s" % (t["name"], TYPES[t["type"]][0]))
        elif not np.array_equal(ref(np.asarray(values, F32)), t["raw"]):
            problems.append("%s: %s bytes differ from the reference quantizer" % (t["name"], TYPES[t["type"]][0]))
    gguf_py_read = None
    if gguf_py_dequantize is not None:
        # llama.cpp's own reader must accept the variant and see the same tensor types.
        theirs = {t.name: int(t.tensor_type) for t in GGUFReader(var_path).tensors}
        gguf_py_read = theirs == {t["name"]: t["type"] for t in b["tensors"]}
        if not gguf_py_read:
            problems.append("gguf-py's GGUFReader sees other tensor types: %s" % theirs)
    return {"problems": problems, "checked": len(b["tensors"]), "ggufPyRead": gguf_py_read}


def main(argv):
    if argv[:1] == ["--quantized"]:
        print(json.dumps(check_quantized(argv[1], argv[2])))
        return 0
    models = {}
    for path in argv:
        try:
            models[path] = model_stats(path)
        except Exception as e:  # report per file, keep going
            models[path] = {"error": "%s: %s" % (type(e).__name__, e)}
    print(json.dumps({"models": models, "ggufPy": gguf_py_dequantize is not None}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
