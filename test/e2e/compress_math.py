"""Independent numpy oracle for Model Lens's numeric compression methods.

Usage: compress_math.py DIR. DIR/manifest.json lists cases; each names raw little-endian arrays in DIR
(the inputs and Model Lens's outputs). Every case is recomputed here with numpy (float32 arithmetic where
onnxruntime uses float32, numpy's own float16 conversion, stable argsort for pruning, heapq Huffman) and
compared. Prints JSON {case: [disagreements]} on stdout; an empty list means agreement.
"""

import heapq
import json
import math
import os
import sys

import numpy as np

DIR = sys.argv[1]
F32 = np.float32


def load(spec):
    a = np.fromfile(os.path.join(DIR, spec["file"]), dtype=spec["dtype"])
    return a.reshape(spec["shape"]) if "shape" in spec else a


def move_last(a, axis):
    """View with `axis` moved last, so per-channel work is along the last axis."""
    return np.moveaxis(a, axis, -1)


def compare(errors, name, ours, ref, exact=True, rtol=0.0):
    ours = np.asarray(ours)
    ref = np.asarray(ref)
    if ours.shape != ref.shape:
        errors.append(f"{name}: shape {ours.shape} vs {ref.shape}")
        return
    if exact:
        if ours.dtype.kind == "f":
            same = (ours.view(np.uint32 if ours.itemsize == 4 else np.uint16) == ref.astype(ours.dtype).view(np.uint32 if ours.itemsize == 4 else np.uint16))
        else:
            same = ours.astype(np.int64) == ref.astype(np.int64)
    else:
        same = np.abs(ours.astype(np.float64) - ref.astype(np.float64)) <= rtol * np.maximum(1e-30, np.abs(ref.astype(np.float64)))
    bad = np.flatnonzero(~same.reshape(-1))
    if bad.size:
        i = bad[0]
        errors.append(f"{name}: {bad.size} of {same.size} differ, first at {i}: ours {ours.reshape(-1)[i]!r} numpy {ref.reshape(-1)[i]!r}")


def linear(case, errors):
    w = load(case["w"])
    p = case["params"]
    axis = p["axis"]
    if p["symmetric"]:
        qmax = 2 ** (p["bits"] - 1) - 1
        if axis is None:
            scale = np.array([np.max(np.abs(w)) / F32(qmax)], dtype=F32)
            q = np.clip(np.rint(w / scale[0]), -qmax, qmax).astype(np.int32)
            y = (q.astype(F32) * scale[0]).astype(F32)
        else:
            wt = move_last(w, axis)
            scale = (np.max(np.abs(wt), axis=tuple(range(wt.ndim - 1))) / F32(qmax)).astype(F32)
            scale[scale == 0] = 1
            q = np.moveaxis(np.clip(np.rint(wt / scale), -qmax, qmax).astype(np.int32), -1, axis)
            y = np.moveaxis((np.moveaxis(q, axis, -1).astype(F32) * scale).astype(F32), -1, axis)
        zp = None
    else:
        qmax = 2 ** p["bits"] - 1
        wt = w.reshape(-1, 1) if axis is None else move_last(w, axis)
        red = tuple(range(wt.ndim - 1))
        rmin = np.minimum(np.min(wt, axis=red), F32(0)).astype(F32)
        rmax = np.maximum(np.max(wt, axis=red), F32(0)).astype(F32)
        scale = ((rmax - rmin) / F32(qmax)).astype(F32)
        scale[scale == 0] = 1
        zp = np.clip(np.rint(-rmin / scale), 0, qmax).astype(np.int32)
        qt = np.clip(np.rint(wt / scale) + zp, 0, qmax).astype(np.int32)
        yt = ((qt - zp).astype(F32) * scale).astype(F32)
        q = qt.reshape(w.shape) if axis is None else np.moveaxis(qt, -1, axis)
        y = yt.reshape(w.shape) if axis is None else np.moveaxis(yt, -1, axis)
    compare(errors, "scale", load(case["scale"]), scale)
    compare(errors, "q", load(case["q"]).reshape(w.shape), q)
    if zp is not None:
        compare(errors, "zeroPoint", load(case["zeroPoint"]), zp)
    compare(errors, "dequantized", load(case["y"]).reshape(w.shape), y)


def blockwise(case, errors):
    w = load(case["w"])
    p = case["params"]
    axis, bs = p["axis"], p["blockSize"]
    qmax = 2 ** (p["bits"] - 1) - 1
    wt = np.moveaxis(w, axis, 0)
    n = wt.shape[0]
    nb = -(-n // bs)
    scale = np.empty((nb,) + wt.shape[1:], dtype=F32)
    q = np.empty(wt.shape)
    for b in range(nb):
        blk = wt[b * bs:(b + 1) * bs]
        s = (np.max(np.abs(blk), axis=0) / F32(qmax)).astype(F32)
        s[s == 0] = 1
        if p.get("halfScales"):  # the test's weights keep the largest scale a normal float16
            s = s.astype(np.float16)
            s[s == 0] = np.float16(2.0 ** -24)
            s = s.astype(F32)
        scale[b] = s
        q[b * bs:(b + 1) * bs] = np.clip(np.rint(blk / s), -qmax, qmax)
    compare(errors, "scale", load(case["scale"]), np.moveaxis(scale, 0, axis).reshape(-1))
    compare(errors, "q", load(case["q"]).reshape(w.shape), np.moveaxis(q, 0, axis))


def fp16(case, errors):
    w = load(case["w"])
    finite = np.isfinite(w)
    ref = np.clip(w, F32(-65504), F32(65504)).astype(np.float16)
    ours = load(case["bits"]).view(np.float16)
    compare(errors, "bits", ours[finite], ref[finite])
    clipped = int(np.sum(np.abs(w[finite]) > 65504))
    if clipped != case["clipped"]:
        errors.append(f"clipped: ours {case['clipped']} numpy {clipped}")
    flushed = int(np.sum((w != 0) & finite & (ref == 0)))
    if flushed != case["flushedToZero"]:
        errors.append(f"flushedToZero: ours {case['flushedToZero']} numpy {flushed}")


def fixed(case, errors):
    w = load(case["w"]).astype(np.float64)
    bits = case["params"]["bits"]
    qmax, qmin = 2 ** (bits - 1) - 1, -(2 ** (bits - 1))
    f = 126
    while f > -127 and not (np.rint(w.max() * 2.0 ** f) <= qmax and np.rint(w.min() * 2.0 ** f) >= qmin):
        f -= 1
    if f != case["fractionBits"]:
        errors.append(f"fractionBits: ours {case['fractionBits']} numpy {f}")
    compare(errors, "q", load(case["q"]), np.clip(np.rint(w * 2.0 ** f), qmin, qmax))


def ternary(case, errors):
    w = load(case["w"])
    axis, t = case["params"]["axis"], case["params"]["threshold"]
    wt = move_last(w, axis).astype(np.float64)
    red = tuple(range(wt.ndim - 1))
    delta = t * np.mean(np.abs(wt), axis=red)
    codes = np.where(np.abs(wt) > delta, np.sign(wt), 0)
    kept = np.sum(codes != 0, axis=red)
    scale = np.where(kept > 0, np.sum(np.abs(wt) * (codes != 0), axis=red) / np.maximum(kept, 1), 1).astype(F32)
    compare(errors, "q", load(case["q"]).reshape(w.shape), np.moveaxis(codes, -1, axis))
    compare(errors, "scale", load(case["scale"]), scale, exact=False, rtol=2e-7)


def prune_magnitude(case, errors):
    tensors = [load(s) for s in case["tensors"]]
    flat = np.concatenate([t.reshape(-1) for t in tensors])
    k = int(math.floor(case["params"]["sparsity"] * flat.size + 0.5))
    order = np.argsort(np.abs(flat), kind="stable")
    mask = np.ones(flat.size, dtype=np.uint8)
    mask[order[:k]] = 0
    ours = np.concatenate([load(s).reshape(-1) for s in case["masks"]])
    compare(errors, "mask", ours, mask)


def prune_nm(case, errors):
    w = load(case["w"])
    n, m, axis = case["params"]["n"], case["params"]["m"], case["params"]["axis"]
    wt = np.moveaxis(np.abs(w), axis, -1)
    size = wt.shape[-1]
    mask = np.zeros(wt.shape, dtype=np.uint8)
    for g in range(0, size, m):
        grp = wt[..., g:g + m]
        keep = n if grp.shape[-1] == m else -(-n * grp.shape[-1] // m)
        # Stable sort of -|w|: larger first, equal magnitudes in index order.
        top = np.argsort(-grp, axis=-1, kind="stable")[..., :keep]
        sub = np.zeros(grp.shape, dtype=np.uint8)
        np.put_along_axis(sub, top, 1, axis=-1)
        mask[..., g:g + m] = sub
    compare(errors, "mask", load(case["mask"]).reshape(w.shape), np.moveaxis(mask, -1, axis))


def kmeans(case, errors):
    w = load(case["w"])
    K = case["params"]["clusters"]
    x = np.sort(w.astype(np.float64))
    c = np.array([x[0] + ((x[-1] - x[0]) * j) / (K - 1) for j in range(K)], dtype=F32)
    c[-1] = F32(x[-1])
    fixed = -1
    if np.any(x == 0):
        fixed = int(np.argmin(np.abs(c)))
        c[fixed] = 0
    prev = None
    iters = 0
    while True:
        mid = (c[:-1].astype(np.float64) + c[1:]) / 2
        ends = np.searchsorted(x, mid, side="right")
        if prev is not None and np.array_equal(ends, prev):
            break
        prev = ends
        bounds = np.r_[0, ends, len(x)]
        for j in range(K):
            cnt = bounds[j + 1] - bounds[j]
            if j != fixed and cnt > 0:
                c[j] = F32(np.sum(x[bounds[j]:bounds[j + 1]]) / cnt)
        iters += 1
    compare(errors, "centroids", load(case["centroids"]), c, exact=False, rtol=1e-6)
    mid = (c[:-1].astype(np.float64) + c[1:]) / 2
    idx = np.searchsorted(mid, w.astype(np.float64), side="left")
    compare(errors, "indices", load(case["indices"]), idx)
    if iters != case["iterations"]:
        errors.append(f"iterations: ours {case['iterations']} numpy {iters}")


def metrics(case, errors):
    w = load(case["w"]).astype(np.float64)
    y = load(case["y"]).astype(np.float64)
    noise = np.sum((w - y) ** 2)
    ref = {
        "mse": noise / w.size,
        "sqnrDb": 10 * math.log10(np.sum(w * w) / noise),
        "maxAbs": np.max(np.abs(w - y)),
        "cosine": np.dot(w, y) / math.sqrt(np.dot(w, w) * np.dot(y, y)),
        "sparsity": np.mean(y == 0),
    }
    for key, value in ref.items():
        ours = case["metrics"][key]
        if abs(ours - value) > 1e-9 * max(1.0, abs(value)):
            errors.append(f"{key}: ours {ours} numpy {value}")


def entropy(case, errors):
    s = load(case["symbols"]).astype(np.int64) + case["offset"]
    freq = np.bincount(s, minlength=case["alphabet"])
    p = freq[freq > 0] / s.size
    h = float(-np.sum(p * np.log2(p)))
    if abs(h - case["bitsPerWeight"]) > 1e-9:
        errors.append(f"bitsPerWeight: ours {case['bitsPerWeight']} numpy {h}")
    # Huffman cost = sum of all merged weights (each merge adds one bit to every symbol below it).
    heap = [int(f) for f in freq if f > 0]
    heapq.heapify(heap)
    bits = 0
    while len(heap) > 1:
        a, b = heapq.heappop(heap), heapq.heappop(heap)
        bits += a + b
        heapq.heappush(heap, a + b)
    used = int(np.count_nonzero(freq))
    symbol_bytes = -(-max(1, int(np.ceil(np.log2(max(2, case["alphabet"]))))) // 8)
    total = -(-bits // 8) + min(case["alphabet"], used * (symbol_bytes + 1))
    if total != case["huffmanBytes"]:
        errors.append(f"huffmanBytes: ours {case['huffmanBytes']} numpy {total}")


def svd(case, errors):
    """Our thin SVD against numpy's: singular values, orthonormal factors, A = UΣVᵀ, and the rank-r truncation."""
    a = load(case["a"])
    s, u, vt = load(case["s"]), load(case["u"]), load(case["vt"])
    r = case["rank"]
    nu, ns, nvt = np.linalg.svd(a, full_matrices=False)
    scale = ns[0]
    # Through the Gram matrix, σ below √ε·σ₁ is only known to about √ε·σ₁ (they are never kept); the rest to 1e-9.
    tol = np.where(ns > 1e-6 * scale, 1e-9 * scale, 1e-7 * scale)
    if np.any(np.abs(s - ns) > tol):
        errors.append(f"singular values differ by {np.max(np.abs(s - ns)) / scale:.2e} of σ₁")
    live = ns > 1e-9 * scale
    for name, q in (("u", u[:, live]), ("v", vt[live].T)):
        dev = np.max(np.abs(q.T @ q - np.eye(q.shape[1])))
        if dev > 1e-8:
            errors.append(f"{name} not orthonormal: {dev:.2e}")
    rec = (u * s) @ vt
    if np.max(np.abs(rec - a)) > 1e-9 * scale:
        errors.append(f"UΣVᵀ differs from A by {np.max(np.abs(rec - a)) / scale:.2e} of σ₁")
    ref = (nu[:, :r] * ns[:r]) @ nvt[:r]
    ours = load(case["fu"]) @ load(case["fv"])
    # The truncation is unique up to σ_r = σ_{r+1} (none of these spectra have such ties).
    if np.max(np.abs(ours - ref)) > 1e-8 * scale:
        errors.append(f"rank-{r} truncation differs from numpy's by {np.max(np.abs(ours - ref)) / scale:.2e} of σ₁")


def svd_data(case, errors):
    """SVD-LLM: with SᵀS = XᵀX (+ the damping Model Lens adds), U·V is the rank-r minimiser of ‖X(W − UV)‖ over S."""
    x, w = load(case["x"]), load(case["w"])
    r = case["rank"]
    h = x.T @ x
    h = h + 0.01 * np.mean(np.diag(h)) * np.eye(h.shape[0])
    s_ = np.linalg.cholesky(h).T
    nu, ns, nvt = np.linalg.svd(s_ @ w, full_matrices=False)
    ref = np.linalg.solve(s_, (nu[:, :r] * ns[:r]) @ nvt[:r])
    ours = load(case["u"]) @ load(case["v"])
    err = np.max(np.abs(ours - ref)) / np.max(np.abs(ref))
    if err > 1e-8:
        errors.append(f"whitened rank-{r} factor differs from numpy's by {err:.2e}")
    # And it beats plain SVD on the layer's output error, which is what it is for.
    pu, ps, pvt = np.linalg.svd(w, full_matrices=False)
    plain = (pu[:, :r] * ps[:r]) @ pvt[:r]
    if not np.linalg.norm(x @ (w - ours)) < np.linalg.norm(x @ (w - plain)):
        errors.append("whitened truncation has no smaller output error than plain SVD")


CHECKS = {
    "svd": svd,
    "svd_data": svd_data,
    "linear": linear,
    "blockwise": blockwise,
    "fp16": fp16,
    "fixed": fixed,
    "ternary": ternary,
    "prune_magnitude": prune_magnitude,
    "prune_nm": prune_nm,
    "kmeans": kmeans,
    "metrics": metrics,
    "entropy": entropy,
}

with open(os.path.join(DIR, "manifest.json")) as f:
    cases = json.load(f)
out = {}
for case in cases:
    errors = []
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        CHECKS[case["kind"]](case, errors)
    out[case["name"]] = errors
json.dump(out, sys.stdout)
