"""Runs onnx.checker (with full shape inference) over every fixture model in OUTDIR.

Usage: /usr/bin/python3 test/e2e/check_fixtures.py OUTDIR
Debian's onnx 1.12 knows IR <= 8, opset <= 17 and data types <= 16 (BFLOAT16). dtypes.onnx also
holds newer types (float8, 4- and 2-bit), so it is checked as a copy without those tensors and
their Identity nodes, lowered to IR 8 / opset 17; the newer tensors are validated instead by
numpy_stats.py decoding them byte for byte. Exits non-zero when any model fails.
"""
import os
import tempfile
import sys

import onnx
import onnx.checker

NEWEST_KNOWN_DTYPE = 16


def legacy_part(model):
    """The model without tensors of data types newer than onnx 1.12, as IR 8 / opset 17."""
    g = model.graph
    new = {t.name for t in g.initializer if t.data_type > NEWEST_KNOWN_DTYPE}
    keep_init = [t for t in g.initializer if t.name not in new]
    keep_nodes = [n for n in g.node if not set(n.input) & new]
    outs = {o for n in keep_nodes for o in n.output}
    keep_out = [o for o in g.output if o.name in outs]
    del g.initializer[:]
    g.initializer.extend(keep_init)
    del g.node[:]
    g.node.extend(keep_nodes)
    del g.output[:]
    g.output.extend(keep_out)
    model.ir_version = 8
    for op in model.opset_import:
        if op.domain in ("", "ai.onnx"):
            op.version = 17
    return model, len(new)


def main(outdir):
    failed = 0
    models = sorted(
        os.path.join(root, f)
        for root, _, files in os.walk(outdir)
        for f in files
        if f.endswith(".onnx")
    )
    if not models:
        print(f"check_fixtures: no .onnx files under {outdir}", file=sys.stderr)
        return 1
    for path in models:
        try:
            if os.path.getsize(path) >= 2**31:
                # protobuf refuses messages of 2 GiB or more, so the checker cannot read it.
                print(f"SKIP {path}: {os.path.getsize(path)} bytes is over protobuf's 2 GiB limit")
                continue
            model = onnx.load(path, load_external_data=False)
            note = ""
            if any(t.data_type > NEWEST_KNOWN_DTYPE for t in model.graph.initializer):
                model, dropped = legacy_part(model)
                note = f" (without its {dropped} tensors of types newer than onnx {onnx.__version__})"
                onnx.checker.check_model(model, full_check=True)
            else:
                # Shape inference types sparse initializers as sparse tensors, which no standard
                # op accepts (runtimes densify them), so those models get the structural check only.
                full = not model.graph.sparse_initializer
                if not full:
                    note = " (structural check: sparse initializers defeat shape inference)"
                # The path form lets the checker verify external data locations too; onnx 1.12's
                # full check on a path writes the inferred model back over it, so shape inference
                # goes to a temp file instead.
                onnx.checker.check_model(path)
                if full:
                    fd, inferred = tempfile.mkstemp(suffix=".onnx")
                    os.close(fd)
                    try:
                        onnx.shape_inference.infer_shapes_path(path, inferred, check_type=True, strict_mode=True)
                    finally:
                        os.unlink(inferred)
            print(f"OK   {path}{note}")
        except Exception as e:  # report every model, not just the first failure
            failed += 1
            print(f"FAIL {path}: {e}")
    print(f"{len(models) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: check_fixtures.py OUTDIR")
    sys.exit(main(sys.argv[1]))
