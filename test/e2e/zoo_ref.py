"""Independent references for the real-model zoo (zoo.test.mjs), on Debian's python3-onnx, numpy and PIL.

  recipes OUT                 input recipes a user of each model would use: rendered text for PaddleOCR,
                              espeak-ng speech at 16 kHz for silero VAD and openWakeWord's melspectrogram
  simulate MODEL OUTDIR SPEC… float models with each method's documented arithmetic applied to the
                              weights of compute ops; SPEC is name=method[:key=value,...]; prints JSON
  check FILE…                 onnx.checker per file, or why onnx 1.12 cannot judge it; prints JSON

None of this imports Model Lens: it is what the product's numbers are measured against.
"""
import json
import os
import subprocess
import sys
import tempfile
import wave

import numpy as np
import onnx
from onnx import numpy_helper

import compress_check  # beside this file: python puts the script's folder on sys.path

# ---------------------------------------------------------------- recipes

FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf'
FONT_BOLD = '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf'
LINES = [
    'Model Lens 2026', 'invoice total 48.90 EUR', 'Hello, world!', 'ONNX runtime check',
    'The quick brown fox', 'jumps over 13 lazy dogs', 'speed limit 50 km/h', 'Paddle OCR v4 test',
    'page 7 of 12', 'call +49 30 1234567', 'open 9:00-17:30', 'batch size: 8',
]
SPEECH = [
    'Hello, this is a test of the voice activity detector.',
    'Alexa, what is the weather like today in Berlin?',
    'Hey Jarvis, set a timer for five minutes please.',
    'The quick brown fox jumps over the lazy dog, twice.',
]


def save(folder, tensors):
    """One sample as one .npy per input, named by input name, as `model-lens verify --inputs` reads them."""
    os.makedirs(folder, exist_ok=True)
    for name, array in tensors.items():
        np.save(os.path.join(folder, name + '.npy'), array)


def text_image(text, width, height, font_size, angle=0):
    from PIL import Image, ImageDraw, ImageFont
    font = ImageFont.truetype(FONT, font_size)
    img = Image.new('RGB', (width, height), (255, 255, 255))
    ImageDraw.Draw(img).text((4, (height - font_size) // 2 - 2), text, fill=(20, 20, 20), font=font)
    return img.rotate(angle) if angle else img


def paddle_rec_norm(img):
    """PaddleOCR rec/cls preprocessing: RGB→CHW, x/255, (x-0.5)/0.5."""
    x = np.asarray(img, dtype=np.float32).transpose(2, 0, 1) / 255.0
    return ((x - 0.5) / 0.5)[None].astype(np.float32)


def paddle_det_norm(img):
    """PaddleOCR det preprocessing (NormalizeImage): x/255, ImageNet mean and std, CHW."""
    x = np.asarray(img, dtype=np.float32) / 255.0
    x = (x - np.array([0.485, 0.456, 0.406], np.float32)) / np.array([0.229, 0.224, 0.225], np.float32)
    return x.transpose(2, 0, 1)[None].astype(np.float32)


def page_image(seed, size=320):
    from PIL import Image, ImageDraw, ImageFont
    rng = np.random.default_rng(seed)
    img = Image.new('RGB', (size, size), (250, 250, 245))
    draw = ImageDraw.Draw(img)
    y = 8
    while y < size - 30:
        fs = int(rng.integers(14, 26))
        font = ImageFont.truetype(FONT_BOLD if rng.random() < 0.3 else FONT, fs)
        draw.text((int(rng.integers(4, 40)), y), LINES[int(rng.integers(len(LINES)))], fill=(10, 10, 10), font=font)
        y += fs + int(rng.integers(6, 20))
    return img


def speech_16k(work):
    """espeak-ng (22.05 kHz) → sox → 16 kHz mono int16 (no dither: the same samples every run), in int16 units."""
    wav22 = os.path.join(work, 'speech22.wav')
    wav16 = os.path.join(work, 'speech16.wav')
    subprocess.run(['espeak-ng', '-s', '150', '-w', wav22, ' '.join(SPEECH)], check=True, capture_output=True)
    subprocess.run(['sox', '-D', wav22, '-r', '16000', '-c', '1', '-b', '16', wav16], check=True, capture_output=True)
    with wave.open(wav16) as w:
        assert w.getframerate() == 16000 and w.getsampwidth() == 2
        return np.frombuffer(w.readframes(w.getnframes()), dtype='<i2').astype(np.float32)


def recipes(out, samples=8):
    """Writes OUT/<model>/sample_NN/<input>.npy and OUT/speech16k.npy (for the wake-word features)."""
    for k in range(samples):
        save(f'{out}/ch_PP-OCRv4_det_infer/sample_{k:02d}', {'x': paddle_det_norm(page_image(k))})
        line = LINES[k % len(LINES)]
        save(f'{out}/ch_PP-OCRv4_rec_infer/sample_{k:02d}', {'x': paddle_rec_norm(text_image(line, 320, 48, 28))})
        # The classifier decides 0° vs 180°: half the crops are upside down.
        save(f'{out}/ch_ppocr_mobile_v2.0_cls_infer/sample_{k:02d}', {'x': paddle_rec_norm(text_image(line[:14], 192, 48, 24, 180 * (k % 2)))})
    with tempfile.TemporaryDirectory() as work:
        audio = speech_16k(work)
    np.save(f'{out}/speech16k.npy', audio)
    # Chunks spread over the clip, speech and pauses alike.
    starts = np.linspace(0, len(audio) - 16000, samples).astype(int)
    for k, s in enumerate(starts):
        chunk = (audio[s:s + 512] / 32768.0)[None].astype(np.float32)
        sr = np.array(16000, dtype=np.int64)
        for v in ('silero_vad_v5', 'silero_vad_v6'):
            save(f'{out}/{v}/sample_{k:02d}', {'input': chunk, 'state': np.zeros((2, 1, 128), np.float32), 'sr': sr})
        zeros = np.zeros((2, 1, 64), np.float32)
        save(f'{out}/silero_vad_legacy/sample_{k:02d}', {'input': chunk, 'sr': sr, 'h': zeros, 'c': zeros})
        # openWakeWord feeds int16-scaled audio to its melspectrogram, one second here.
        save(f'{out}/melspectrogram/sample_{k:02d}', {'input': audio[s:s + 16000][None].astype(np.float32)})

# ---------------------------------------------------------------- simulation

# Weight input slots of compute ops, as README's Compress section lists them, and the bias slots fp16/bf16 also take.
WEIGHT_SLOTS = {'Conv': [1], 'ConvTranspose': [1], 'Gemm': [1], 'MatMul': [1], 'LSTM': [1, 2], 'GRU': [1, 2], 'RNN': [1, 2], 'Gather': [0]}
BIAS_SLOTS = {'Conv': [2], 'ConvTranspose': [2], 'Gemm': [2], 'LSTM': [3], 'GRU': [3], 'RNN': [3]}
FP16_MAX = 65504.0
# README: tensors too small to pay off are skipped (the report's reasons give these sizes).
MIN_ELEMENTS = {'fp16': 16, 'bf16': 16}
MIN_WEIGHT_ELEMENTS = 256


def graphs(g):
    yield g
    for n in g.node:
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                yield from graphs(a.g)
            for sub in a.graphs:
                yield from graphs(sub)


# README: a weight may reach its op through these, each keeping every axis whole (or adding/dropping one of size 1).
PASS_THROUGH = {'Identity', 'Slice', 'Concat', 'Unsqueeze', 'Squeeze', 'Transpose'}


def consumer_axes(op, node, slot, rank):
    """(output axis, input axis) of the value a compute op reads at a weight slot, as the ONNX operators define them."""
    if op == 'Conv':
        return 0, 1
    if op == 'ConvTranspose':
        return 1, 0
    if op == 'Gemm':
        return (0, 1) if any(a.name == 'transB' and a.i for a in node.attribute) else (1, 0)
    if op == 'MatMul':
        return rank - 1, rank - 2
    if op == 'Gather':
        return (0, 1) if rank == 2 else None
    return 1, 2  # LSTM/GRU/RNN: [directions, gates·hidden, inputs]


def routed(model):
    """Float constants reaching a compute op only through PASS_THROUGH ops (PyTorch's LSTM gates: Slice, Concat,
    Unsqueeze): {name: (op, node, output axis, input axis)} for weights and {name: op} for biases, the axes mapped
    back to the constant's own. A path to anything else, out of its graph, or through an axis these ops insert
    leaves the constant out."""
    declared, values, readers = {}, {}, {}

    def scoped(g, chain):
        chain = chain + [g]
        yield g, chain
        for n in g.node:
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    yield from scoped(a.g, chain)
                for sub in a.graphs:
                    yield from scoped(sub, chain)

    everything = list(scoped(model.graph, []))
    for g, _ in everything:
        names = declared.setdefault(id(g), set())
        names.update(i.name for i in g.input)
        for t in g.initializer:
            names.add(t.name)
            values[(id(g), t.name)] = t
        for n in g.node:
            names.update(n.output)
            if n.op_type == 'Constant' and n.attribute and n.attribute[0].name == 'value':
                values[(id(g), n.output[0])] = n.attribute[0].t

    def owner(name, chain):
        return next(((id(g), name) for g in reversed(chain) if name in declared[id(g)]), None)

    for g, chain in everything:
        for n in g.node:
            for slot, name in enumerate(n.input):
                if name:
                    readers.setdefault(owner(name, chain), []).append((n, slot, chain))

    def pass_on(node, slot, amap, chain):
        """The constant's axis at each axis of the node's output (-1: inserted), or None where the node is not followed."""
        op = node.op_type
        if op in ('Identity', 'Slice'):
            return amap if slot == 0 else None
        if op == 'Concat':
            return amap
        attrs = {a.name: list(a.ints) for a in node.attribute}
        if op == 'Transpose':
            perm = attrs.get('perm') or list(reversed(range(len(amap))))
            return [amap[p] for p in perm] if slot == 0 and sorted(perm) == list(range(len(amap))) else None
        axes = attrs.get('axes')
        if axes is None and len(node.input) > 1 and owner(node.input[1], chain) in values:
            axes = [int(a) for a in numpy_helper.to_array(values[owner(node.input[1], chain)]).ravel()]
        if slot != 0 or not axes:
            return None
        rank = len(amap) + len(axes) if op == 'Unsqueeze' else len(amap)
        at = {a % rank for a in axes if -rank <= a < rank}
        if len(at) != len(axes):
            return None
        if op == 'Squeeze':
            return [v for k, v in enumerate(amap) if k not in at]
        rest = iter(amap)
        return [-1 if k in at else next(rest) for k in range(rank)]

    weights, biases = {}, {}
    for (gid, name), t in values.items():
        if t.data_type != 1:
            continue
        for first in readers.get((gid, name), []):
            if first[0].op_type not in PASS_THROUGH:
                continue
            ends, todo, steps = [], [(first, list(range(len(t.dims))))], 0
            while todo and ends is not None and steps < 1000:
                (node, slot, chain), amap = todo.pop()
                steps += 1
                if node.domain not in ('', 'ai.onnx'):
                    ends = None
                elif node.op_type not in PASS_THROUGH:
                    ends.append((node, slot, amap))
                else:
                    nxt = pass_on(node, slot, amap, chain)
                    after = readers.get(owner(node.output[0], chain), []) if nxt is not None else []
                    if not after:
                        ends = None  # a graph output, or an input this does not follow
                    todo += [(r, nxt) for r in after]
            if ends is None or todo:
                continue
            found_w, found_b = [], []
            for node, slot, amap in ends:
                op = node.op_type
                axes = consumer_axes(op, node, slot, len(amap)) if slot in WEIGHT_SLOTS.get(op, []) else None
                if axes and amap[axes[0]] >= 0 and amap[axes[1]] >= 0:
                    found_w.append((op, node, amap[axes[0]], amap[axes[1]]))
                elif slot in BIAS_SLOTS.get(op, []):
                    found_b.append(op)
                else:
                    found_w = found_b = None
                    break
            if found_w:
                weights.setdefault(name, found_w[0])
            elif found_b:
                biases.setdefault(name, found_b[0])
    return weights, biases


def routed_rows(w, out, inp, method):
    """A routed weight as rows its scales run along (README): int8 one scale per output channel (axis `out`), int4
    blocks along the input axis, a Conv-like [O, I, k…] taken as [O, I·k…]; and the inverse."""
    if method == 'int8':
        t = np.moveaxis(w, out, 0)
        return t.reshape(t.shape[0], -1), lambda r: np.moveaxis(r.reshape(t.shape), 0, out)
    if w.ndim > 2 and (out, inp) == (0, 1):
        return w.reshape(w.shape[0], -1), lambda r: r.reshape(w.shape)
    t = np.moveaxis(w, inp, -1)
    return t.reshape(-1, t.shape[-1]), lambda r: np.moveaxis(r.reshape(t.shape), -1, inp)


def constants(model):
    """Every initializer and Constant-node tensor, by the name nodes use for it (subgraphs included)."""
    found = {}
    for g in graphs(model.graph):
        for t in g.initializer:
            found[t.name] = t
        for n in g.node:
            if n.op_type == 'Constant' and n.attribute and n.attribute[0].name == 'value':
                found[n.output[0]] = n.attribute[0].t
    return found


def as_rows(w, op, node):
    """The weight as [output channels, inputs] (the input dimension flattened last), and the inverse."""
    if op in ('Conv',) or (op == 'Gemm' and any(a.name == 'transB' and a.i for a in node.attribute)) or op == 'Gather':
        return w.reshape(w.shape[0], -1), lambda r: r.reshape(w.shape)
    if op == 'ConvTranspose':
        t = np.moveaxis(w, 1, 0)
        return t.reshape(t.shape[0], -1), lambda r: np.moveaxis(r.reshape(t.shape), 0, 1)
    if op in ('Gemm', 'MatMul'):
        t = np.swapaxes(w, -1, -2)
        return t.reshape(-1, t.shape[-1]), lambda r: np.swapaxes(r.reshape(t.shape), -1, -2)
    return w.reshape(-1, w.shape[-1]), lambda r: r.reshape(w.shape)  # LSTM/GRU/RNN [dirs, gates·hidden, inputs]


def int8_sym(rows):
    scale = np.abs(rows).max(axis=1, keepdims=True) / 127.0
    scale[scale == 0] = 1.0
    return np.clip(np.round(rows / scale), -127, 127) * scale


def int8_asym(rows):
    lo = np.minimum(rows.min(axis=1, keepdims=True), 0.0)
    hi = np.maximum(rows.max(axis=1, keepdims=True), 0.0)
    scale = (hi - lo) / 255.0
    scale[scale == 0] = 1.0
    zero = np.clip(np.round(-lo / scale), 0, 255)
    return (np.clip(np.round(rows / scale) + zero, 0, 255) - zero) * scale


def int4_block(rows, block):
    n, k = rows.shape
    padded = np.zeros((n, -(-k // block) * block), np.float64)
    padded[:, :k] = rows
    b = padded.reshape(n, -1, block)
    scale = (np.abs(b).max(axis=2, keepdims=True) / 7.0).astype(np.float32)
    scale[scale == 0] = 1.0
    # The method stores the scales as float16 (a subnormal one too; one that rounds to 0 as 2^-24)
    # when the largest is a normal float16.
    if 2.0 ** -14 <= scale.max() <= 65504:
        scale = scale.astype(np.float16)
        scale[scale == 0] = np.float16(2.0 ** -24)
    scale = scale.astype(np.float64)
    return (np.clip(np.round(b / scale), -8, 7) * scale).reshape(n, -1)[:, :k]


def fixed_point(w, bits):
    top = 2 ** (bits - 1) - 1
    amax = np.abs(w).max()
    f = int(np.floor(np.log2(top / amax))) if amax > 0 else 0
    return np.clip(np.round(w * 2.0 ** f), -top - 1, top) / 2.0 ** f


def to_bf16(w):
    u = w.astype(np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000  # round to nearest even
    return u.astype(np.uint32).view(np.float32)


def kmeans_1d(values, k):
    """Lloyd's k-means on a 1-D tensor, linear initialisation over [min, max], until assignments settle.
    As the README says, a tensor with exact zeros keeps one centroid at exactly 0 (the initial one
    nearest 0), so zeros stay zeros."""
    v = np.sort(values.ravel().astype(np.float64))
    centers = np.linspace(v[0], v[-1], k)
    fixed = int(np.argmin(np.abs(centers))) if np.any(v == 0) else None
    if fixed is not None:
        centers[fixed] = 0.0
    csum = np.concatenate([[0.0], np.cumsum(v)])
    prev = None
    for _ in range(10000):
        cuts = np.searchsorted(v, (centers[1:] + centers[:-1]) / 2)
        edges = np.concatenate([[0], cuts, [len(v)]])
        if prev is not None and np.array_equal(edges, prev):
            break
        prev = edges
        counts = np.diff(edges)
        sums = csum[edges[1:]] - csum[edges[:-1]]
        centers = np.where(counts > 0, sums / np.maximum(counts, 1), centers)
        if fixed is not None:
            centers[fixed] = 0.0
    mids = (centers[1:] + centers[:-1]) / 2
    return centers[np.searchsorted(mids, values)]


def prune_mask_count(w, sparsity):
    flat = np.abs(w).ravel()
    out = w.copy().ravel()
    out[np.argsort(flat, kind='stable')[:int(np.floor(sparsity * flat.size))]] = 0
    return out.reshape(w.shape)


def simulate(model_path, outdir, specs):
    """For each spec, a float copy of the model with its compute-op weights run through the method."""
    report = {}
    for spec in specs:
        name, _, rest = spec.partition('=')
        method, _, opts = rest.partition(':')
        opt = dict(kv.split('=') for kv in opts.split(',') if kv)
        model = onnx.load(model_path)
        table = constants(model)
        weights, biases = {}, {}
        for g in graphs(model.graph):
            for node in g.node:
                for slot in WEIGHT_SLOTS.get(node.op_type, []):
                    if slot < len(node.input) and node.input[slot] in table and table[node.input[slot]].data_type == 1:
                        weights.setdefault(node.input[slot], (node.op_type, node))
                for slot in BIAS_SLOTS.get(node.op_type, []):
                    if slot < len(node.input) and node.input[slot] in table and table[node.input[slot]].data_type == 1:
                        biases.setdefault(node.input[slot], node.op_type)
        # Embedding Gather only: a 2-D float table indexed by ids (Gather of shapes and scalars is not a weight).
        weights = {k: v for k, v in weights.items() if v[0] != 'Gather' or len(table[k].dims) == 2}
        via_weights, via_biases = routed(model)
        for k, v in via_weights.items():
            weights.setdefault(k, v)
        for k, v in via_biases.items():
            biases.setdefault(k, v)
        touched, kept, float_bytes, cosines = 0, [], 0, {}
        if method == 'prune' and opt.get('scope') == 'global':
            allw = np.concatenate([np.abs(numpy_helper.to_array(table[k])).ravel() for k in weights if np.prod(table[k].dims) >= MIN_WEIGHT_ELEMENTS])
            cut = np.sort(allw)[int(np.floor(float(opt.get('sparsity', 0.5)) * allw.size)) - 1]
        targets = list(weights) + ([b for b in biases if b not in weights] if method in ('fp16', 'bf16') else [])
        for key in targets:
            t = table[key]
            w = numpy_helper.to_array(t).astype(np.float64)
            if w.size < MIN_ELEMENTS.get(method, MIN_WEIGHT_ELEMENTS):
                continue
            if method in ('fp16', 'bf16'):
                if method == 'fp16' and np.abs(w).max() > FP16_MAX:
                    kept.append(f'{key}: max |w| {np.abs(w).max():.3g} beyond float16')
                    continue
                new = w.astype(np.float16) if method == 'fp16' else to_bf16(w)
            elif method == 'fixed':
                new = fixed_point(w, int(opt.get('bits', 8)))
            elif method == 'prune':
                new = np.where(np.abs(w) <= cut, 0, w) if opt.get('scope') == 'global' else prune_mask_count(w, float(opt.get('sparsity', 0.5)))
            elif method == 'cluster':
                new = kmeans_1d(w, int(opt.get('clusters', 16)))
            else:
                op, node, *axes = weights[key]
                rows, back = routed_rows(w, *axes, method) if axes else as_rows(w, op, node)
                if method == 'int8':
                    rows = int8_asym(rows) if opt.get('asymmetric') else int8_sym(rows)
                elif method == 'int4':
                    rows = int4_block(rows, int(opt.get('block', 32)))
                else:
                    raise SystemExit(f'unknown method {method}')
                new = back(rows)
            new = np.asarray(new, np.float32)
            a, b = w.ravel(), new.astype(np.float64).ravel()
            cosines[key] = float(a @ b / np.sqrt((a @ a) * (b @ b)))
            t.CopyFrom(numpy_helper.from_array(new, t.name))
            touched += 1
            float_bytes += w.size * 4
        path = os.path.join(outdir, f'{name}.onnx')
        onnx.save(model, path)
        opset = max([o.version for o in model.opset_import if o.domain in ('', 'ai.onnx')] or [0])
        report[name] = {'path': path, 'tensors': touched, 'floatBytes': float_bytes, 'kept': kept, 'opset': opset, 'cosines': cosines}
    return report

# ---------------------------------------------------------------- checker


def check(files):
    """onnx.checker through compress_check.py, the one place that knows what Debian's onnx 1.12 can judge."""
    out = {}
    for f in files:
        try:
            status, detail = compress_check.check(f)
            out[f] = 'ok' if status == 'ok' else f'n/a ({detail})'
        except Exception as e:  # the checker's verdict is the result, whatever it raises
            out[f] = 'fail: ' + str(e).strip().split('\n')[0][:300]
    return out


if __name__ == '__main__':
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == 'recipes':
        recipes(args[0])
    elif cmd == 'simulate':
        print(json.dumps(simulate(args[0], args[1], args[2:])))
    elif cmd == 'check':
        print(json.dumps(check(args)))
    else:
        raise SystemExit(__doc__)
