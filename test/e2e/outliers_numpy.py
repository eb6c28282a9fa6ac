"""Independent oracle for the inspector's clipped whole-model histogram: numpy counts of the values
of the named tensors below `lo` and at or above `hi`, read from the model with Debian's onnx.

Usage: outliers_numpy.py MODEL < {"lo": float, "hi": float, "names": [str, ...]}
Prints {"tensors": {name: [below, above, inside]}} summed over every tensor of that name (a name can
repeat across subgraphs); NaN and Inf are not values of the histogram and are left out.
"""
import json
import os
import sys

import numpy as np
import onnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from numpy_stats import collect, decode  # noqa: E402


def main(path):
    req = json.load(sys.stdin)
    lo, hi, names = req["lo"], req["hi"], set(req["names"])
    out = {}
    for name, _origin, _scope, t, via in collect(onnx.load(path)):
        # Model Lens names a tensor attribute of another op by its node and attribute ("node.value").
        name = name if name in names else via
        if name not in names:
            continue
        v = (t[0] if isinstance(t, tuple) else decode(t)).astype(np.float64).reshape(-1)
        v = v[np.isfinite(v)]
        below, above = int(np.count_nonzero(v < lo)), int(np.count_nonzero(v >= hi))
        prev = out.get(name, [0, 0, 0])
        out[name] = [prev[0] + below, prev[1] + above, prev[2] + int(v.size) - below - above]
    json.dump({"tensors": out}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
