"""Independent numpy simulation of bf16 weight storage, as an oracle for real models.

Usage: bf16_sim.py IN OUT < names.json. Writes OUT: IN with every float32 tensor named in the JSON
list (initializer or Constant node output) rounded to bfloat16 and widened back to float32.

Rounding as bfloat16 is defined (the top 16 bits of a float32) with round-to-nearest-even on the
dropped 16 bits, written here from that definition rather than taken from Model Lens's code.
"""

import json
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def to_bf16(w):
    bits = np.ascontiguousarray(w, dtype=np.float32).view(np.uint32).astype(np.uint64)
    # Nearest even: add half an ulp of bfloat16, minus one when the kept part is already even (ties stay).
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    return rounded.astype(np.uint32).view(np.float32).reshape(w.shape)


def main():
    src, dst = sys.argv[1], sys.argv[2]
    names = set(json.load(sys.stdin))
    model = onnx.load(src)
    holders = {t.name: t for t in model.graph.initializer}
    holders.update({n.output[0]: n.attribute[0].t for n in model.graph.node if n.op_type == "Constant" and n.attribute[0].name == "value"})
    missing = names - holders.keys()
    if missing:
        sys.exit(f"not in the main graph: {sorted(missing)[:5]}")
    for name in sorted(names):
        t = holders[name]
        if t.data_type != onnx.TensorProto.FLOAT:
            sys.exit(f"{name}: only float32 tensors are simulated here")
        w = numpy_helper.to_array(t)
        t.CopyFrom(numpy_helper.from_array(to_bf16(w), t.name))
    onnx.save(model, dst)


if __name__ == "__main__":
    main()
