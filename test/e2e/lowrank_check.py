"""Independent numpy check of a low-rank variant (model-lens compress --method lowrank --criterion svd).

Usage: lowrank_check.py ORIGINAL VARIANT. Reads the variant's model_lens.structure lineage (which teacher
weight each U/V came from, and the rank), rebuilds each factored layer's W as [K, N] (MatMul as is, Gemm
transposed when transB, Conv [O, C, k...] flattened and transposed) from the original and U·V from the
variant, and compares U·V with numpy's rank-r truncated SVD of W. Also counts the parameters of the
factored weights before and after from the files. Prints JSON on stdout.
"""

import json
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def constants(graph):
    out = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for n in graph.node:
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value":
                    out[n.output[0]] = numpy_helper.to_array(a.t)
    return out


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def as_kn(node, w):
    """W in the X·W convention, [K, N]."""
    if node.op_type == "Conv":
        return w.reshape(w.shape[0], -1).T
    if node.op_type == "Gemm" and attrs(node).get("transB", 0):
        return w.T
    return w


def main(original, variant):
    teacher = onnx.load(original)
    student = onnx.load(variant)
    lineage = json.loads(next(p.value for p in student.metadata_props if p.key == "model_lens.structure"))
    tc, sc = constants(teacher.graph), constants(student.graph)
    readers = {}
    for n in teacher.graph.node:
        for i in n.input[1:2]:
            readers[i] = n
    by_weight = {}
    for name, t in lineage["tensors"].items():
        by_weight.setdefault(t["from"], {})[t["factor"]] = (name, t["rank"])
    layers = []
    for weight, f in by_weight.items():
        node = readers[weight]
        w = as_kn(node, tc[weight].astype(np.float64))
        (un, r), (vn, _) = f["u"], f["v"]
        u, v = sc[un].astype(np.float64), sc[vn].astype(np.float64)
        # Back to U [K, r] and V [r, N] from how the variant stores them.
        if node.op_type == "Conv":
            u, v = u.reshape(r, -1).T, v.reshape(v.shape[0], r).T
        elif node.op_type == "Gemm" and attrs(node).get("transB", 0):
            v = v.T
        if node.op_type == "Gemm":
            u = u / attrs(node).get("alpha", 1.0)
        uu, s, vt = np.linalg.svd(w, full_matrices=False)
        ref = (uu[:, :r] * s[:r]) @ vt[:r]
        ours = u @ v
        layers.append({
            "weight": weight,
            "op": node.op_type,
            "rank": r,
            "shape": list(w.shape),
            "maxRelErr": float(np.max(np.abs(ours - ref)) / s[0]),
            "truncationRelErr": float(np.linalg.norm(w - ref) / np.linalg.norm(w)),
            "before": int(w.size),
            "after": int(sc[un].size + sc[vn].size),
        })
    print(json.dumps({"layers": layers, "criterion": lineage["criterion"]}))


main(sys.argv[1], sys.argv[2])
