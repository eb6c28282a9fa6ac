"""Independent checks for `compress --method channels` (channels.test.mjs).

  zero TEACHER STUDENT OUT   Zero, in the teacher, the consumer inputs of every channel the student removed
                             (read from its lineage metadata, model_lens.structure): Conv axis 1, ConvTranspose
                             axis 0, Gemm axis transB?1:0, MatMul axis 0. The plain cut must compute the same.
  inputs DIR NAME SHAPE N SEED  N samples of one input as .npz (for --data) and .npy (text-like images, else normal).
  refit DIR                  The least-squares refit kernel (src/core/compress/methods/refit.ts) against numpy:
                             DIR/cases.json names raw float64 files; prints the worst relative differences.
"""
import json
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def zero(teacher, student, out):
    t = onnx.load(teacher)
    s = onnx.load(student)
    lin = json.loads({p.key: p.value for p in s.metadata_props}['model_lens.structure'])['tensors']
    inits = {i.name: i for i in t.graph.initializer}
    consts = {n.output[0]: n for n in t.graph.node if n.op_type == 'Constant'}

    def values(name):
        if name in inits:
            return numpy_helper.to_array(inits[name])
        return numpy_helper.to_array(consts[name].attribute[0].t)

    def store(name, arr):
        tp = numpy_helper.from_array(arr.astype(values(name).dtype), name)
        if name in inits:
            inits[name].CopyFrom(tp)
        else:
            consts[name].attribute[0].t.CopyFrom(tp)

    zeroed = 0
    for n in t.graph.node:
        if len(n.input) < 2 or n.input[1] not in lin:
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
        if n.op_type == 'Conv' and attrs.get('group', 1) == 1:
            axis = 1
        elif n.op_type == 'ConvTranspose' and attrs.get('group', 1) == 1:
            axis = 0
        elif n.op_type == 'Gemm':
            axis = 1 if attrs.get('transB', 0) else 0
        elif n.op_type == 'MatMul':
            axis = 0
        else:
            continue
        kept = lin[n.input[1]].get(str(axis))
        if kept is None:
            continue
        w = values(n.input[1]).copy()
        gone = sorted(set(range(w.shape[axis])) - set(kept))
        idx = [slice(None)] * w.ndim
        idx[axis] = gone
        w[tuple(idx)] = 0
        store(n.input[1], w)
        zeroed += 1
    onnx.save(t, out)
    print(json.dumps({'zeroed': zeroed}))


DAMP = 0.01


def ridge(x, y):
    """min ‖XW − Y‖² + λ‖W‖², λ = DAMP·mean(diag XᵀX) (a zero diagonal counts 1, as refit.ts does)."""
    h = x.T @ x
    d = np.diag(h).copy()
    d[d == 0] = 1
    a = h.copy()
    a[np.diag_indices_from(a)] = d + DAMP * d.mean()
    return np.linalg.solve(a, x.T @ y)


def rel_error(x, y, w):
    return float(np.sum((x @ w - y) ** 2) / np.sum(y ** 2))


def conv_rows(x, group, kernel, strides, pads, out):
    """im2col of x [N, C, H, W] per group: rows (image, position) in C-order over (h, w) outputs, columns (channel, kh, kw)."""
    n, c, hh, ww = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    cg = c // group
    rows = []
    for g in range(group):
        cols = []
        for ch in range(g * cg, (g + 1) * cg):
            for kh in range(kernel[0]):
                for kw in range(kernel[1]):
                    patch = xp[:, ch, kh:kh + strides[0] * out[0]:strides[0], kw:kw + strides[1] * out[1]:strides[1]]
                    cols.append(patch.reshape(n, -1))
        rows.append(np.stack(cols, -1).reshape(-1, cg * kernel[0] * kernel[1]))  # (image, position) rows
    return rows


def refit(folder):
    cases = json.load(open(f'{folder}/cases.json'))
    load = lambda f, shape: np.fromfile(f'{folder}/{f}', dtype=np.float64).reshape(shape)
    worst = {}
    for c in cases:
        x = load(c['x'], c['xDims'])
        y = load(c['y'], c['yDims'])
        keep = c['outChannels']
        if c['kind'] == 'conv':
            g = c['group']
            xs = conv_rows(x, g, c['kernel'], c['strides'], c['pads'], c['out'])
            # teacher output rows in the same (image, position) order, kept channels
            yk = y[:, keep].reshape(y.shape[0], len(keep), -1).transpose(0, 2, 1).reshape(-1, len(keep))
            m = len(keep) // g
            per = [(xs[k], yk[:, k * m:(k + 1) * m]) for k in range(g)]
        else:
            k = x.shape[-1]
            per = [(x.reshape(-1, k), y.reshape(-1, y.shape[-1])[:, keep])]
        for k, (xr, yr) in enumerate(per):
            if c['bias']:
                xr = np.concatenate([xr, np.ones((xr.shape[0], 1))], 1)
            w = ridge(xr, yr)
            ours = load(c['w'][k], w.shape)
            w0 = load(c['w0'][k], w.shape)
            name = f"{c['name']}[{k}]"
            worst[f'{name} weights'] = float(np.abs(ours - w).max() / np.abs(w).max())
            worst[f'{name} error after'] = abs(c['after'][k] - rel_error(xr, yr, w)) / max(rel_error(xr, yr, w), 1e-12)
            worst[f'{name} error before'] = abs(c['before'][k] - rel_error(xr, yr, w0)) / max(rel_error(xr, yr, w0), 1e-12)
    print(json.dumps(worst))


def inputs(folder, name, shape, count, seed):
    """COUNT samples for input NAME of SHAPE as FOLDER/npz/sample_NN.npz (for --data) and FOLDER/npy/sample_NN.npy: an NCHW
    3-channel image gets dark random strokes in lines on white, ImageNet-normalised (a text crop or page);
    anything else standard normal values."""
    import os
    os.makedirs(f'{folder}/npz', exist_ok=True)
    os.makedirs(f'{folder}/npy', exist_ok=True)
    rng = np.random.default_rng(int(seed))
    shape = json.loads(shape)
    for k in range(int(count)):
        if len(shape) == 4 and shape[1] == 3:
            _, _, h, w = shape
            img = np.full((h, w), 0.95)
            for top in range(int(rng.integers(0, 8)), h - 8, int(rng.integers(12, 24))):
                x = int(rng.integers(0, 12))
                while x < w - 4:
                    width = int(rng.integers(2, 9))
                    img[top:top + int(rng.integers(5, 10)), x:x + width] = rng.uniform(0.0, 0.3)
                    x += width + int(rng.integers(1, 6))
            img = np.clip(img + rng.normal(0, 0.03, img.shape), 0, 1)
            mean = np.array([0.485, 0.456, 0.406])[:, None, None]
            std = np.array([0.229, 0.224, 0.225])[:, None, None]
            a = ((img[None] - mean) / std)[None].astype(np.float32)
        else:
            a = rng.standard_normal(shape).astype(np.float32)
        np.savez(f'{folder}/npz/sample_{k:02d}.npz', **{name: a})
        np.save(f'{folder}/npy/sample_{k:02d}.npy', a)


if __name__ == '__main__':
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == 'zero':
        zero(*args)
    elif cmd == 'refit':
        refit(args[0])
    elif cmd == 'inputs':
        inputs(*args)
    else:
        sys.exit(f'unknown command {cmd}')
