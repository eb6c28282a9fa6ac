"""Baseline for `model-lens inspect --json`: what a Python user would write with onnx + numpy.

Loads the model with onnx.load and computes, per initializer, min/max/mean/std/zeros and a
256-bin histogram over [min, max], then prints one JSON line (so the work cannot be skipped).
"""
import json
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def main(path):
    model = onnx.load(path)
    out = []
    for t in model.graph.initializer:
        a = numpy_helper.to_array(t)
        if a.dtype.kind not in "fiub" or a.size == 0:
            continue
        a = a.astype(np.float64, copy=False)
        lo, hi = float(a.min()), float(a.max())
        counts, _ = np.histogram(a, bins=256, range=(lo, hi) if lo < hi else (lo - 0.5, hi + 0.5))
        out.append({
            "name": t.name,
            "min": lo,
            "max": hi,
            "mean": float(a.mean()),
            "std": float(a.std()),
            "zeros": int(np.count_nonzero(a == 0)),
            "histogram": counts.tolist(),
        })
    print(json.dumps({"tensors": len(out)}))


if __name__ == "__main__":
    main(sys.argv[1])
