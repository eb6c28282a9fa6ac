"""Baseline for `model-lens inspect --json` on safetensors: numpy over np.frombuffer of the file.

Maps the file, parses the JSON header, and per tensor computes min/max/mean/std/zeros and a
256-bin histogram over [min, max] (float32 and float16/bfloat16-free files, as the bench writes).
"""
import json
import mmap
import struct
import sys

import numpy as np

DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64}


def main(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    base = 8 + n
    count = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        a = np.frombuffer(buf, dtype=DTYPES[info["dtype"]], count=(end - begin) // np.dtype(DTYPES[info["dtype"]]).itemsize, offset=base + begin).astype(np.float64)
        lo, hi = float(a.min()), float(a.max())
        np.histogram(a, bins=256, range=(lo, hi) if lo < hi else (lo - 0.5, hi + 0.5))
        float(a.mean()), float(a.std()), int(np.count_nonzero(a == 0))
        count += 1
    print(json.dumps({"tensors": count}))


if __name__ == "__main__":
    main(sys.argv[1])
