"""Runs onnx.checker over compressed variants; used by test/e2e/compress.test.mjs.

Usage: /usr/bin/python3 test/e2e/compress_check.py < paths.json
Reads a JSON list of model paths and prints one JSON list of {"path", "status", "detail"} with
status "ok", "skip" (onnx 1.12 cannot judge it) or "fail" (the checker's message).

Debian's onnx 1.12 knows IR <= 8, opset <= 17 and data types <= 16 (bfloat16):
- IR > 8 or a default-domain opset > 17 (the opset-21 variants: INT4 DequantizeLinear with
  block_size) are skipped, except models of only Identity and Cast over known types (dtypes.onnx
  variants), which check_fixtures.py's legacy_part lowers to IR 8 / opset 17 first;
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

import onnx
import onnx.checker
import onnx.shape_inference

# Importing check_fixtures must not leave a __pycache__ in the source tree.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_fixtures import NEWEST_KNOWN_DTYPE, legacy_part  # noqa: E402

NEWEST_OPSET = 17
NEWEST_IR = 8
LOWERABLE_OPS = {"Identity", "Cast"}


def default_opset(model):
    return max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=1)


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
