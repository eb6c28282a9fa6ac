"""Runs onnx.checker over compressed variants; used by test/e2e/compress.test.mjs.

Usage: /usr/bin/python3 test/e2e/compress_check.py < paths.json
Reads a JSON list of model paths and prints one JSON list of {"path", "status", "detail"} with
status "ok", "skip" (onnx 1.12 cannot judge it) or "fail" (the checker's message).

Debian's onnx 1.12 knows IR <= 8, opset <= 17 and data types <= 16 (bfloat16):
- IR > 8 or a default-domain opset > 17 are skipped, except models of only Identity and Cast over
  known types (dtypes.onnx variants), which check_fixtures.py's legacy_part lowers to IR 8 / opset 17
  first, and int4 variants whose only opset-21 feature is INT4 DequantizeLinear(block_size): numpy
  dequantizes each such weight into a float32 initializer here and the rest is checked as IR 8 /
  opset 17 (Model Lens raises a model to 21 only when its other ops mean the same there);
- models with sparse initializers get the structural check only: shape inference types a sparse
  initializer as a sparse tensor, which no standard op accepts (runtimes densify it).
Everything else gets the full check on the path (the path form also verifies external data), spelled
out rather than check_model(path, full_check=True): onnx 1.12's full check on a path writes the
shape-inferred model back over the file it checks.
"""
import json
import os
import sys
import tempfile

import numpy as np
import onnx
import onnx.checker
import onnx.shape_inference
from onnx import numpy_helper
from onnx.external_data_helper import load_external_data_for_tensor

# Importing check_fixtures must not leave a __pycache__ in the source tree.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_fixtures import NEWEST_KNOWN_DTYPE, legacy_part  # noqa: E402

NEWEST_OPSET = 17
NEWEST_IR = 8
LOWERABLE_OPS = {"Identity", "Cast"}
INT4 = 22  # onnx 1.12 predates TensorProto.INT4


def default_opset(model):
    return max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=1)


def fold_int4(graph, base_dir):
    """Replaces each INT4 DequantizeLinear(block_size) of an initializer, in `graph` and its subgraphs, by its float32 result; the count."""
    inits = {t.name: t for t in graph.initializer}
    producers = {n.output[0]: n for n in graph.node if n.op_type == "Cast" and n.input[0] in inits}
    folded = 0
    for node in list(graph.node):
        for a in node.attribute:
            for sub in [a.g] if a.HasField("g") else list(a.graphs):
                folded += fold_int4(sub, base_dir)
        q = inits.get(node.input[0]) if node.op_type == "DequantizeLinear" else None
        if q is None or q.data_type != INT4 or (len(node.input) > 2 and node.input[2]):
            continue
        if q.data_location == onnx.TensorProto.EXTERNAL:
            load_external_data_for_tensor(q, base_dir)
        attrs = {a.name: a.i for a in node.attribute}
        axis, bs = attrs.get("axis", 1), attrs.get("block_size", 0)
        dims = list(q.dims)
        count = int(np.prod(dims))
        packed = np.frombuffer(q.raw_data, dtype=np.uint8)
        nibbles = np.stack([packed & 0x0F, packed >> 4], axis=1).reshape(-1)[:count].astype(np.int8)
        codes = np.where(nibbles > 7, nibbles - 16, nibbles).reshape(dims).astype(np.float32)
        # float16 scales reach DequantizeLinear through a Cast to float32.
        widen = producers.get(node.input[1])
        scale_init = inits[widen.input[0]] if widen is not None else inits[node.input[1]]
        scale = numpy_helper.to_array(scale_init, base_dir).astype(np.float32)
        if bs:
            scale = np.repeat(scale, bs, axis=axis).take(range(dims[axis]), axis=axis)
        graph.node.remove(node)
        graph.initializer.remove(q)
        graph.initializer.remove(scale_init)
        if widen is not None:
            graph.node.remove(widen)
        graph.initializer.append(numpy_helper.from_array((codes * scale).astype(np.float32), node.output[0]))
        folded += 1
    return folded


def full_check_path(path):
    """check_model(path, full_check=True) without writing to `path`: shape inference goes to a temp file."""
    onnx.checker.check_model(path)
    fd, inferred = tempfile.mkstemp(suffix=".onnx")
    os.close(fd)
    try:
        onnx.shape_inference.infer_shapes_path(path, inferred, check_type=True, strict_mode=True)
    finally:
        os.unlink(inferred)


def check(path):
    model = onnx.load(path, load_external_data=False)
    opset = default_opset(model)
    if opset > NEWEST_OPSET or model.ir_version > NEWEST_IR:
        if {n.op_type for n in model.graph.node} <= LOWERABLE_OPS:
            model, dropped = legacy_part(model)
            onnx.checker.check_model(model, full_check=True)
            return "ok", f"lowered to IR 8 / opset 17 without its {dropped} tensors of types newer than {NEWEST_KNOWN_DTYPE}"
        folded = fold_int4(model.graph, os.path.dirname(os.path.abspath(path)))
        if folded and not any(t.data_type > NEWEST_KNOWN_DTYPE for t in model.graph.initializer):
            model.ir_version = NEWEST_IR
            for o in model.opset_import:
                if o.domain in ("", "ai.onnx"):
                    o.version = NEWEST_OPSET
            # Beside the variant, so its external data resolves as the variant's own does.
            fd, lowered = tempfile.mkstemp(suffix=".onnx", dir=os.path.dirname(os.path.abspath(path)))
            os.close(fd)
            try:
                onnx.save(model, lowered)
                full_check_path(lowered)
            finally:
                os.unlink(lowered)
            return "ok", f"{folded} INT4 DequantizeLinear folded to float32 by numpy, the rest checked as IR 8 / opset 17"
        return "skip", f"IR {model.ir_version}, opset {opset}: newer than onnx {onnx.__version__} knows"
    if model.graph.sparse_initializer:
        onnx.checker.check_model(path, full_check=False)
        return "ok", "structural check only: sparse initializers defeat shape inference"
    full_check_path(path)
    return "ok", ""


def main():
    results = []
    for path in json.load(sys.stdin):
        try:
            status, detail = check(path)
        except Exception as e:  # every model gets its verdict, not just the first failure
            status, detail = "fail", str(e).strip().splitlines()[0] if str(e).strip() else repr(e)
        results.append({"path": path, "status": status, "detail": detail})
    json.dump(results, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
