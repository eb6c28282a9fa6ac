"""Independent oracle: per-tensor statistics of PyTorch checkpoints from torch's own decoding.

Usage (Debian's /usr/bin/python3 with python3-torch and python3-numpy):
  pytorch_stats.py MANIFEST.json   JSON {"models": {PATH: {"tensors": [...], "refusedBy": str?} | {"error": str}}}

MANIFEST maps checkpoint paths to entries as test/fixtures/pytorch_fixtures.py documents them
(stateDict, load, expected). Values come from torch.load(weights_only=True) (torch's restricted
unpickler; its full one for our own files holding floats, which torch 1.13's restricted one
cannot read) and .numpy(); statistics are numpy_stats.stats, the contract every format shares.
Tensor names: dotted paths through dicts, lists and tuples, relative to the stateDict path when
under it, as Model Lens is meant to name them.
"""
import json
import os
import pickle
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from numpy_stats import stats  # noqa: E402

import numpy as np  # noqa: E402

DTYPES = {
    torch.float32: ("float32", 1), torch.float64: ("float64", 11), torch.float16: ("float16", 10),
    torch.bfloat16: ("bfloat16", 16), torch.uint8: ("uint8", 2), torch.int8: ("int8", 3),
    torch.int16: ("int16", 5), torch.int32: ("int32", 6), torch.int64: ("int64", 7), torch.bool: ("bool", 9),
}


def flatten(obj, path, out):
    if isinstance(obj, torch.Tensor):
        out.append((path, obj))
    elif isinstance(obj, dict):
        for k, v in obj.items():
            flatten(v, path + [str(k)], out)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            flatten(v, path + [str(i)], out)
    return out


def values(t):
    t = t.detach()
    # numpy has no bfloat16; widening to float32 is exact.
    return (t.float() if t.dtype == torch.bfloat16 else t).numpy().astype(np.float64)


def model_stats(path, entry):
    base = [p for p in entry.get("stateDict", "").split(".") if p]
    load = entry.get("load", "weights_only")
    result = {}
    if load == "module":
        obj = torch.load(path).state_dict()  # our own fixture: a full unpickle is safe here
    elif load == "hostile":
        try:
            torch.load(path, weights_only=True)
            raise AssertionError("torch's weights_only unpickler accepted the hostile pickle")
        except Exception as e:  # the restricted unpickler names the global it refused, last
            result["refusedBy"] = str(e)[-300:]
        obj = torch.load(os.path.join(os.path.dirname(path), entry["expected"]), weights_only=True)
    else:
        try:
            obj = torch.load(path, weights_only=True)
        except pickle.UnpicklingError as e:
            # torch 1.13's restricted unpickler lacks some opcodes (BINFLOAT for a float such as lr,
            # protocol 4's); these are our own fixtures, so torch's full unpickler is safe instead.
            if "Unsupported operand" not in str(e):
                raise
            obj = torch.load(path, weights_only=False)
            result["fullLoad"] = True
    tensors = []
    for p, t in flatten(obj, [], []):
        name = ".".join(p[len(base):] if p[: len(base)] == base else p)
        dtype, code = DTYPES[t.dtype]
        rec = {"name": name, "dtype": dtype, "dtypeCode": code, "shape": list(t.shape)}
        rec.update(stats(values(t)))
        tensors.append(rec)
    result["tensors"] = tensors
    return result


def main(argv):
    with open(argv[0]) as f:
        manifest = json.load(f)
    out = {}
    for path, entry in manifest.items():
        try:
            out[path] = model_stats(path, entry)
        except Exception as e:  # one broken checkpoint must not hide the others' results
            out[path] = {"error": f"{type(e).__name__}: {e}"}
    json.dump({"models": out}, sys.stdout, allow_nan=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
