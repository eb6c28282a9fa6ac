"""Independent oracle for safetensors: per-tensor statistics from struct + json + numpy.

Usage (Debian's /usr/bin/python3; no safetensors package exists in Debian):
  safetensors_stats.py MODEL...   JSON {"models": {MODEL: {"tensors": [...]} | {"error": str}}}

MODEL is a .safetensors file or a sharded model's *.safetensors.index.json. Each file is parsed
here from the format description (8-byte little-endian header length, JSON header, data buffer)
and decoded with numpy.frombuffer; bfloat16 as the high half of float32, float8/float4 from the
minifloat tables numpy_stats.py builds from ONNX's docs. Files whose __metadata__ sets
model_lens.quantization = int8-per-row report each int8 `<name>` with `<name>.scale` as
dequantized values q * scale[row] and do not list the scale tensor. Statistics are numpy_stats.py's.
"""
import json
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from numpy_stats import NAMES, TABLES, stats  # noqa: E402

# safetensors dtype -> (ONNX code, numpy dtype or table code, bits)
DTYPES = {
    "BOOL": (9, np.bool_, 8), "U8": (2, np.uint8, 8), "I8": (3, np.int8, 8),
    "I16": (5, "<i2", 16), "U16": (4, "<u2", 16), "I32": (6, "<i4", 32), "U32": (12, "<u4", 32),
    "I64": (7, "<i8", 64), "U64": (13, "<u8", 64), "F16": (10, "<f2", 16), "F32": (1, "<f4", 32),
    "F64": (11, "<f8", 64), "BF16": (16, "bf16", 16), "F8_E4M3": (17, "table", 8),
    "F8_E5M2": (19, "table", 8), "F8_E8M0": (24, "table", 8), "F8_E4M3FNUZ": (18, "table", 8),
    "F8_E5M2FNUZ": (20, "table", 8), "F4": (23, "nibbles", 4), "C64": (14, None, 64),
}


def read_header(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n).decode("utf-8"))
    return header, 8 + n


def decode(raw, dtype):
    code, kind, _ = DTYPES[dtype]
    if kind is None:
        raise TypeError(f"{NAMES[code]} has no numeric statistics")
    if kind == "bf16":
        return (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view("<f4").astype(np.float64)
    if kind == "table":
        return TABLES[code][np.frombuffer(raw, np.uint8)]
    if kind == "nibbles":
        b = np.frombuffer(raw, np.uint8)
        return TABLES[code][np.stack([b & 0xF, b >> 4], axis=1).reshape(-1)]
    return np.frombuffer(raw, kind).astype(np.float64)


def entries(path, shard=None):
    header, start = read_header(path)
    meta = header.pop("__metadata__", {}) or {}
    out = []
    with open(path, "rb") as f:
        for name, t in header.items():
            b, e = t["data_offsets"]
            f.seek(start + b)
            out.append({"name": name, "dtype": t["dtype"], "shape": list(t["shape"]), "raw": f.read(e - b), "begin": b, "shard": shard})
    return meta, out


def model_stats(path):
    if path.endswith(".safetensors.index.json"):
        with open(path) as f:
            index = json.load(f)
        folder = os.path.dirname(path)
        shards = sorted(set(index["weight_map"].values()))
        metas, tensors = [], []
        for s in shards:
            m, t = entries(os.path.join(folder, s), s)
            metas.append(m)
            tensors += t
    else:
        m, tensors = entries(path)
        metas = [m]
    quantized = any(m.get("model_lens.quantization") == "int8-per-row" for m in metas)
    by_name = {t["name"]: t for t in tensors}
    folded = set()
    out = []
    for t in tensors:
        code = DTYPES.get(t["dtype"], (0,))[0]
        rec = {"name": t["name"], "dtype": NAMES.get(code, f"type{code}"), "dtypeCode": code, "shape": t["shape"]}
        if t["shard"] is not None:
            rec["file"] = t["shard"]
        count = int(np.prod(t["shape"], dtype=np.int64))
        try:
            if t["dtype"] not in DTYPES:
                raise TypeError(f"{t['dtype']} is not decoded")
            values = decode(t["raw"], t["dtype"])
            scale = by_name.get(t["name"] + ".scale")
            if quantized and t["dtype"] == "I8" and scale and t["shape"] and scale["shape"] == t["shape"][:1]:
                rows = t["shape"][0]
                s = decode(scale["raw"], scale["dtype"])
                values = (values.reshape(rows, -1) * s[:, None]).reshape(-1)
                folded.add(scale["name"])
            if values.size != count:
                raise ValueError(f"{values.size} elements for shape {t['shape']}")
            rec.update(stats(values))
        except (TypeError, ValueError) as e:
            rec["count"] = count
            rec["error"] = str(e)
        out.append(rec)
    return {"tensors": [r for r in out if r["name"] not in folded]}


def main(argv):
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
