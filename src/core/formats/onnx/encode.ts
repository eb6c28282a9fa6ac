import { blockwiseScaleDims } from '../../compress/methods/linear';
import type { TensorRef } from '../../model';
import type { NewNode, NewTensor, TensorEdit } from './writer';

/**
 * ONNX encodings of compressed weights: each edit removes the original declaration and adds
 * stored tensors plus nodes that recompute a float tensor under the original name, so consumers
 * are untouched. Each picks ops the model's default-domain opset already has.
 */

export function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** A name for a derived tensor that is unique enough not to collide with the graph's own. */
export function derived(t: TensorRef, suffix: string): string {
  return `${t.name}::${suffix}`;
}

export interface LinearStorage {
  /** Stored integers: int8, uint8 or int16 elements (dtype code 3, 2 or 5). */
  q: Int8Array | Uint8Array | Int16Array;
  qDtype: 2 | 3 | 5;
  /** Per tensor (length 1) or per channel along `axis`. */
  scale: Float32Array;
  zeroPoint?: Int8Array | Uint8Array;
  axis: number | null;
}

/**
 * Linear dequantization x = (q - zp) * scale: DequantizeLinear where the opset has the needed
 * form (per-axis from opset 13, per-tensor from 10, 16-bit from 21), otherwise Cast, Sub and Mul
 * with the scale shaped to broadcast along the channel axis (any opset from 7).
 */
export function linearEdit(t: TensorRef, s: LinearStorage, opset: number): TensorEdit {
  const qName = derived(t, 'q');
  const scaleName = derived(t, 'scale');
  const zpName = derived(t, 'zero_point');
  const perAxis = s.axis !== null && s.scale.length > 1;
  const useDq =
    t.dtype === 1 && (s.qDtype === 5 ? opset >= 21 : perAxis ? opset >= 13 : opset >= 10);
  const initializers: NewTensor[] = [
    { name: qName, dtype: s.qDtype, dims: t.dims, data: bytesOf(s.q) },
  ];
  const nodes: NewNode[] = [];
  if (useDq) {
    const scaleDims = perAxis ? [s.scale.length] : [];
    initializers.push({ name: scaleName, dtype: 1, dims: scaleDims, data: bytesOf(s.scale) });
    const inputs = [qName, scaleName];
    if (s.zeroPoint) {
      initializers.push({
        name: zpName,
        dtype: s.qDtype,
        dims: scaleDims,
        data: bytesOf(s.zeroPoint),
      });
      inputs.push(zpName);
    }
    nodes.push({
      name: derived(t, 'dequantize'),
      op: 'DequantizeLinear',
      inputs,
      outputs: [t.name],
      attributes: perAxis ? [{ name: 'axis', i: s.axis! }] : [],
    });
    return { tensor: t, initializers, nodes };
  }
  // Broadcast shape: the channel count on its axis, 1 elsewhere.
  const bdims = perAxis ? t.dims.map((d, i) => (i === s.axis ? d : 1)) : [];
  initializers.push({ name: scaleName, dtype: 1, dims: bdims, data: bytesOf(s.scale) });
  const floatQ = derived(t, 'q_float');
  nodes.push({
    name: derived(t, 'cast'),
    op: 'Cast',
    inputs: [qName],
    outputs: [floatQ],
    attributes: [{ name: 'to', i: 1 }],
  });
  let centred = floatQ;
  if (s.zeroPoint) {
    const zpFloat = Float32Array.from(s.zeroPoint);
    initializers.push({ name: zpName, dtype: 1, dims: bdims, data: bytesOf(zpFloat) });
    centred = derived(t, 'q_centred');
    nodes.push({
      name: derived(t, 'sub_zero_point'),
      op: 'Sub',
      inputs: [floatQ, zpName],
      outputs: [centred],
    });
  }
  const product = t.dtype === 1 ? t.name : derived(t, 'dequantized');
  nodes.push({
    name: derived(t, 'mul_scale'),
    op: 'Mul',
    inputs: [centred, scaleName],
    outputs: [product],
  });
  if (product !== t.name)
    nodes.push({
      name: derived(t, 'cast_back'),
      op: 'Cast',
      inputs: [product],
      outputs: [t.name],
      attributes: [{ name: 'to', i: t.dtype }],
    });
  return { tensor: t, initializers, nodes };
}

/** Narrow float storage (float16 or bfloat16 bits) plus a Cast back to the original type. */
export function castEdit(t: TensorRef, bits: Uint16Array, dtype: 10 | 16): TensorEdit {
  const stored = derived(t, dtype === 10 ? 'fp16' : 'bf16');
  return {
    tensor: t,
    initializers: [{ name: stored, dtype, dims: t.dims, data: bytesOf(bits) }],
    nodes: [
      {
        name: derived(t, 'cast'),
        op: 'Cast',
        inputs: [stored],
        outputs: [t.name],
        attributes: [{ name: 'to', i: t.dtype }],
      },
    ],
  };
}

/**
 * bfloat16 storage. Opset 13+: a bfloat16 initializer and a Cast. Older opsets have no bfloat16
 * type: the same bit patterns are stored as uint16 and decoded with ops every opset from 7 has
 * (Cast, Div, Floor, Ceil, Sub, Mul, Add, Pow). With v the pattern as a float, sign s, exponent e
 * and mantissa m: value = (−1)^s · 2^(max(e,1) − 127) · (min(e,1) + m/128), exact for every
 * finite pattern (zeros and subnormals included); onnxruntime folds it to float32 at load.
 */
export function bf16Edit(t: TensorRef, bits: Uint16Array, opset: number): TensorEdit {
  if (opset >= 13) return castEdit(t, bits, 16);
  const { initializers, nodes, n, v, node, scalar } = unpackGraph(t, 'bf16');
  initializers.push({ name: n('bits'), dtype: 4, dims: t.dims, data: bytesOf(bits) });
  for (const [name, value] of [
    ['minus1', -1],
    ['c2', 2],
    ['c126', 126],
    ['c128', 128],
    ['c256', 256],
  ] as const)
    scalar(name, value);
  node('Cast', [n('bits')], v('v'), [{ name: 'to', i: 1 }]);
  node('Div', [v('v'), n('c128')], v('t'));
  node('Floor', [v('t')], v('q'));
  node('Sub', [v('t'), v('q')], v('f')); // m/128
  node('Div', [v('q'), n('c256')], v('a'));
  node('Floor', [v('a')], v('s'));
  node('Sub', [v('a'), v('s')], v('r')); // e/256
  // min(e, 1) for an integer e in [0, 254]; Min and Max broadcast only from opset 8.
  node('Ceil', [v('r')], v('d'));
  node('Mul', [v('r'), n('c256')], v('e'));
  // max(e, 1) − 127 = e − min(e, 1) − 126
  node('Sub', [v('e'), v('d')], v('ed'));
  node('Sub', [v('ed'), n('c126')], v('k'));
  node('Pow', [n('c2'), v('k')], v('p'));
  node('Add', [v('f'), v('d')], v('g'));
  node('Mul', [v('g'), v('p')], v('mag'));
  node('Pow', [n('minus1'), v('s')], v('sign'));
  // A multiplication keeps the sign of zero: 0x8000 decodes to −0.
  const out = t.dtype === 1 ? t.name : v('x');
  node('Mul', [v('mag'), v('sign')], out);
  if (out !== t.name) node('Cast', [out], t.name, [{ name: 'to', i: t.dtype }]);
  return { tensor: t, initializers, nodes };
}

/** The same tensor with new values in its own dtype (pruned weights stored densely). */
export function denseEdit(t: TensorRef, data: Uint8Array): TensorEdit {
  return {
    tensor: t,
    initializers: [{ name: t.name, dtype: t.dtype, dims: t.dims, data }],
    nodes: [],
  };
}

/** Weight sharing: uint8 indices into a float codebook, recombined by Gather (any opset). */
export function codebookEdit(
  t: TensorRef,
  indices: Uint8Array,
  codebook: Float32Array,
): TensorEdit {
  const idx = derived(t, 'indices');
  const book = derived(t, 'codebook');
  const initializers: NewTensor[] = [
    { name: idx, dtype: 2, dims: t.dims, data: bytesOf(indices) },
    { name: book, dtype: 1, dims: [codebook.length], data: bytesOf(codebook) },
  ];
  // Gather needs int32/int64 indices; the uint8 ones are widened at run time.
  const wide = derived(t, 'indices_i32');
  const gathered = t.dtype === 1 ? t.name : derived(t, 'gathered');
  const nodes: NewNode[] = [
    {
      name: derived(t, 'cast_indices'),
      op: 'Cast',
      inputs: [idx],
      outputs: [wide],
      attributes: [{ name: 'to', i: 6 }],
    },
    {
      name: derived(t, 'gather'),
      op: 'Gather',
      inputs: [book, wide],
      outputs: [gathered],
      attributes: [{ name: 'axis', i: 0 }],
    },
  ];
  if (gathered !== t.name)
    nodes.push({
      name: derived(t, 'cast_back'),
      op: 'Cast',
      inputs: [gathered],
      outputs: [t.name],
      attributes: [{ name: 'to', i: t.dtype }],
    });
  return { tensor: t, initializers, nodes };
}

/** Two 4-bit codes per byte, first element in the low nibble, as ONNX packs INT4. */
export function packNibbles(q: Int8Array, offset: number): Uint8Array {
  const out = new Uint8Array(Math.ceil(q.length / 2));
  for (let i = 0; i < q.length; i++) out[i >> 1] |= ((q[i] + offset) & 0xf) << ((i & 1) * 4);
  return out;
}

function int64Bytes(values: number[]): Uint8Array {
  return bytesOf(BigInt64Array.from(values.map((v) => BigInt(v))));
}

/**
 * The parts an edit that decodes its weight with ops is built from: stored tensors named after the
 * weight (`n`), and for the per-weight graph short value names (`v`, tagged by the method and the
 * declaration's offset) and unnamed nodes (names are optional in ONNX: a dozen or more per weight,
 * and their names would cost as much as the ops).
 */
function unpackGraph(t: TensorRef, tag: string) {
  const initializers: NewTensor[] = [];
  const nodes: NewNode[] = [];
  const n = (s: string) => derived(t, s);
  return {
    initializers,
    nodes,
    n,
    v: (s: string) => `${tag}@${t.span?.[0] ?? t.name}:${s}`,
    node: (op: string, inputs: string[], output: string, attributes?: NewNode['attributes']) =>
      nodes.push({
        name: '',
        op,
        inputs,
        outputs: [output],
        ...(attributes ? { attributes } : {}),
      }),
    shape: (name: string, values: readonly number[]) =>
      initializers.push({
        name: n(name),
        dtype: 7,
        dims: [values.length],
        data: int64Bytes([...values]),
      }),
    scalar: (name: string, value: number) =>
      initializers.push({
        name: n(name),
        dtype: 1,
        dims: [],
        data: bytesOf(Float32Array.of(value)),
      }),
  };
}

/**
 * Blockwise 4-bit storage of `codes` laid out as `dims` (the weight's own shape, or a flattened
 * view of it: Conv blocks run over Cin·kh·kw), blocks of `blockSize` along `axis`, the last one
 * possibly short; the scales float16 when `scaleHalf` is given (widened by one Cast), else float32.
 * Opset 21+ (float32): packed INT4 and DequantizeLinear(block_size). Older opsets
 * (7+): offset-binary nibbles in uint8, unpacked by Cast/Div/Mul/Sub/Concat (no Mod, which needs
 * opset 10), padded by Pad to whole blocks where a row has several, scaled per block by a broadcast
 * Mul and sliced back.
 */
export function int4Edit(
  t: TensorRef,
  codes: Int8Array,
  scale: Float32Array,
  dims: readonly number[],
  axis: number,
  blockSize: number,
  opset: number,
  scaleHalf?: Uint16Array,
): TensorEdit {
  const { initializers, nodes, n, v, node, shape } = unpackGraph(t, 'int4');
  const scaleDims = blockwiseScaleDims(dims, axis, blockSize);
  /** The block scales: stored float16 (`scaleHalf`) and widened by a Cast, so they multiply in float32; else stored float32. */
  const scales = (stored: readonly number[]): string => {
    if (!scaleHalf) {
      initializers.push({ name: n('scale'), dtype: 1, dims: [...stored], data: bytesOf(scale) });
      return n('scale');
    }
    initializers.push({
      name: n('scale16'),
      dtype: 10,
      dims: [...stored],
      data: bytesOf(scaleHalf),
    });
    node('Cast', [n('scale16')], v('scale'), [{ name: 'to', i: 1 }]);
    return v('scale');
  };
  const size = dims[axis];
  const nb = Math.ceil(size / blockSize);
  const outer = dims.slice(0, axis).reduce((a, d) => a * d, 1);
  const inner = dims.slice(axis + 1).reduce((a, d) => a * d, 1);
  if (opset >= 21 && t.dtype === 1) {
    const reshaped = dims.length !== t.dims.length || dims.some((d, i) => d !== t.dims[i]);
    const dequantized = reshaped ? n('dequantized') : t.name;
    initializers.push({ name: n('q4'), dtype: 22, dims: [...dims], data: packNibbles(codes, 0) });
    const s = scales(scaleDims);
    nodes.push({
      name: n('dequantize'),
      op: 'DequantizeLinear',
      inputs: [n('q4'), s],
      outputs: [dequantized],
      attributes: [
        { name: 'axis', i: axis },
        { name: 'block_size', i: blockSize },
      ],
    });
    if (reshaped) {
      shape('shape', t.dims);
      nodes.push({
        name: n('to_shape'),
        op: 'Reshape',
        inputs: [dequantized, n('shape')],
        outputs: [t.name],
      });
    }
    return { tensor: t, initializers, nodes };
  }
  // Stored unpadded, planar (byte j holds code j low and code j + half high, so one Concat unpacks them);
  // the graph pads a short last block with zeros.
  const count = codes.length;
  const half = Math.ceil(count / 2);
  const padded = nb * blockSize;
  const planar = new Int8Array(2 * half);
  for (let j = 0; j < half; j++) {
    planar[2 * j] = codes[j];
    planar[2 * j + 1] = j + half < count ? codes[j + half] : 0;
  }
  initializers.push(
    { name: n('q4_packed'), dtype: 2, dims: [half], data: packNibbles(planar, 8) },
    { name: n('sixteen'), dtype: 6, dims: [], data: bytesOf(Int32Array.of(16)) },
    { name: n('eight'), dtype: 1, dims: [], data: bytesOf(Float32Array.of(8)) },
  );
  const blockScales = scales([outer, nb, 1, inner]);
  node('Cast', [n('q4_packed')], v('b'), [{ name: 'to', i: 6 }]);
  node('Div', [v('b'), n('sixteen')], v('hi'));
  node('Mul', [v('hi'), n('sixteen')], v('hi16'));
  node('Sub', [v('b'), v('hi16')], v('lo'));
  node('Concat', [v('lo'), v('hi')], v('c'), [{ name: 'axis', i: 0 }]);
  let at = v('c');
  if (count !== 2 * half) {
    slice(at, v('c1'), 0, count);
    at = v('c1');
  }
  // A single block per row needs no padding: its scale broadcasts over the whole row.
  const whole = padded === size || nb === 1;
  shape('rows_shape', whole ? [outer, nb, size / nb, inner] : [outer, size, inner]);
  node('Reshape', [at, n('rows_shape')], v('r'));
  node('Cast', [v('r')], v('f'), [{ name: 'to', i: 1 }]);
  node('Sub', [v('f'), n('eight')], v('s'));
  at = v('s');
  if (!whole) {
    const pads = [0, 0, 0, 0, padded - size, 0];
    if (opset < 11) node('Pad', [at], v('p'), [{ name: 'pads', ints: pads }]);
    else {
      shape('pads', pads);
      node('Pad', [at, n('pads')], v('p'));
    }
    shape('blocks_shape', [outer, nb, blockSize, inner]);
    node('Reshape', [v('p'), n('blocks_shape')], v('k'));
    at = v('k');
  }
  node('Mul', [at, blockScales], v('m'));
  at = v('m');
  if (!whole) {
    shape('padded_shape', [outer, padded, inner]);
    node('Reshape', [at, n('padded_shape')], v('pr'));
    slice(v('pr'), v('u'), 1, size);
    at = v('u');
  }
  const out = t.dtype === 1 ? t.name : v('d');
  shape('shape', t.dims);
  node('Reshape', [at, n('shape')], out);
  if (out !== t.name) node('Cast', [out], t.name, [{ name: 'to', i: t.dtype }]);
  return { tensor: t, initializers, nodes };

  /** Elements [0, end) along `at`: Slice's attributes before opset 10, its inputs from 10. */
  function slice(input: string, output: string, at: number, end: number): void {
    const tag = output.slice(output.lastIndexOf(':') + 1);
    if (opset < 10) {
      node('Slice', [input], output, [
        { name: 'starts', ints: [0] },
        { name: 'ends', ints: [end] },
        { name: 'axes', ints: [at] },
      ]);
      return;
    }
    for (const [k, value] of [
      ['starts', 0],
      ['ends', end],
      ['axes', at],
    ] as const)
      shape(`${tag}_${k}`, [value]);
    node('Slice', [input, n(`${tag}_starts`), n(`${tag}_ends`), n(`${tag}_axes`)], output);
  }
}

/** Pruned weights as a sparse initializer (values + int64 linear indices) under the original name. */
export function sparseEdit(t: TensorRef, values: Float32Array): TensorEdit {
  const at: number[] = [];
  for (let i = 0; i < values.length; i++) if (values[i] !== 0) at.push(i);
  const nz = Float32Array.from(at, (i) => values[i]);
  return {
    tensor: t,
    initializers: [],
    sparseInitializers: [
      {
        name: t.name,
        dtype: 1,
        dims: t.dims,
        nnz: at.length,
        values: bytesOf(nz),
        indices: int64Bytes(at),
      },
    ],
    nodes: [],
  };
}

/** Bytes a sparse initializer of `nnz` float32 values takes (values + int64 indices). */
export function sparseBytes(nnz: number): number {
  return nnz * 12;
}
