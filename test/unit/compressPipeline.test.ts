/**
 * The compression engine on real files: compressFile writes a variant, our reader re-opens it, and
 * onnxruntime-node (an independent native executor) runs original and variant on the same seeded inputs.
 *
 * Every variant is proved at two levels.
 * 1. Weights. Each compressed main-graph weight is made a graph output of a probe copy (a second `graph`
 *    field appended to the file, holding an Identity per weight and its output: protobuf merges repeated
 *    message fields) and onnxruntime computes it from the stored encoding. The values must meet the
 *    method's a-priori bound, computed here from the original weights alone (int8: |ŵ-w| ≤ s_c/2 with
 *    s_c = max|w_c|/127 per output channel c; int4: s/2 per block with s = max|w|/7; fixed: 2^-f/2; fp16 and
 *    bf16: exactly the round-to-nearest-even value; pruning: exactly the expected mask), and the report's
 *    maxAbs, SQNR and sparsity must be what onnxruntime's values give.
 * 2. Outputs. For y = xW with weight error E, ‖xE‖/‖xW‖ ≈ ‖E‖_F/‖W‖_F = ρ when E is uncorrelated with x
 *    (rounding noise is); ReLU, sigmoid and tanh have gain ≤ 1 on signal and error alike, so first-order
 *    errors of stacked layers add. Each output's relative L2 error must therefore stay below 2·Σρ over the
 *    compressed weights read upstream of it, with ρ from the a-priori bound of (1) where the method has one
 *    (sign, cluster, random pruning: the measured ρ that (1) verified), plus float summation-order noise. The factor 2 covers second-order
 *    terms and unlucky alignment; 'tolerances fail for broken encodings' shows wrong-axis scales and
 *    swapped nibbles overshoot it many times over.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { onnx } from 'onnx-proto';
import type * as Ort from 'onnxruntime-node';
import { int4Edit, linearEdit, packNibbles } from '../../src/core/formats/onnx/encode';
import { quantizeBlockwise, quantizeLinear } from '../../src/core/compress/methods';
import type { CompressSpec } from '../../src/core/compress/spec';
import { CancelledError } from '../../src/core/errors';
import { readModel } from '../../src/core/formats';
import { streamElements } from '../../src/core/stats/decode';
import { writeOnnx, type TensorEdit } from '../../src/core/formats/onnx/writer';
import type { Model, TensorRef } from '../../src/core/model';
import { compressFile } from '../../src/node/compress';
import { FileSource, FolderResolver } from '../../src/node/fileSource';
import {
  bf16Bits,
  DT,
  encodeModel,
  f16Bits,
  graph,
  mulberry32,
  node,
  tensor,
  valueInfo,
  weights,
} from '../fixtures/onnxBuilder';
import {
  METHOD_CASES,
  UNKNOWN_GRAPH_FIELD,
  UNKNOWN_MODEL_FIELD,
  ZOO,
  loadOrt,
  metaSpec,
  ortFeeds,
  writeZoo,
  type Feeds,
  type MethodCase,
  type ZooModel,
} from './compressZoo.test';
import { openModel } from './helpers';

const ort = loadOrt();
let root = '';

before(() => {
  root = mkdtempSync(join(tmpdir(), 'model-lens-compress-'));
  writeZoo(join(root, 'zoo'));
});
after(() => rmSync(root, { recursive: true, force: true }));

const zooPath = (rel: string) => join(root, 'zoo', rel);
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

// ---------------------------------------------------------------------------------------------
// Numbers

function norm(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}

/** ‖b - a‖ / ‖a‖ and the cosine of a and b, in float64. */
function compare(a: ArrayLike<number>, b: ArrayLike<number>): { relL2: number; cosine: number } {
  let d = 0;
  let aa = 0;
  let bb = 0;
  let ab = 0;
  for (let i = 0; i < a.length; i++) {
    d += (b[i] - a[i]) ** 2;
    aa += a[i] * a[i];
    bb += b[i] * b[i];
    ab += a[i] * b[i];
  }
  return {
    relL2: aa > 0 ? Math.sqrt(d / aa) : Math.sqrt(d),
    cosine: aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : aa === bb ? 1 : 0,
  };
}

/** IEEE half → number. */
function halfToNumber(h: number): number {
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  const s = h & 0x8000 ? -1 : 1;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

const bf16ToNumber = (b: number) => new Float32Array(Uint32Array.of(b << 16).buffer)[0];

function toNumbers(t: Ort.Tensor): Float64Array {
  if (t.type === 'float16') return Float64Array.from(t.data as Uint16Array, halfToNumber);
  return Float64Array.from(t.data as Float32Array);
}

/** Element i's index along `axis` of a row-major tensor. */
function indexAlong(dims: number[], axis: number): (i: number) => number {
  let inner = 1;
  for (let a = axis + 1; a < dims.length; a++) inner *= dims[a];
  return (i) => Math.floor(i / inner) % dims[axis];
}

/** Group of element i when every `block` consecutive entries along `axis` share one group (per position of the other axes). */
function blockOf(
  dims: number[],
  axis: number,
  block: number,
): { of: (i: number) => number; count: number } {
  let inner = 1;
  for (let a = axis + 1; a < dims.length; a++) inner *= dims[a];
  const size = dims[axis];
  const nb = Math.ceil(size / block);
  const outer = dims.reduce((x, y) => x * y, 1) / (size * inner);
  return {
    of: (i) => {
      const r = i % inner;
      const c = Math.floor(i / inner) % size;
      const o = Math.floor(i / (inner * size));
      return (o * nb + Math.floor(c / block)) * inner + r;
    },
    count: outer * nb * inner,
  };
}

/** Per-group maximum of f(w_i). */
function groupMax(
  values: Float64Array,
  group: (i: number) => number,
  groups: number,
  f: (v: number) => number,
): Float64Array {
  const out = new Float64Array(groups);
  for (let i = 0; i < values.length; i++) out[group(i)] = Math.max(out[group(i)], f(values[i]));
  return out;
}

/** Keep-mask of magnitude pruning that zeroes the k smallest |w| (lower index first among equals). */
function smallestMask(values: Float64Array[], k: number): Uint8Array[] {
  const all: [number, number, number][] = [];
  values.forEach((v, t) => v.forEach((x, i) => all.push([Math.abs(Math.fround(x)), t, i])));
  all.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
  const masks = values.map((v) => new Uint8Array(v.length).fill(1));
  for (let j = 0; j < k; j++) masks[all[j][1]][all[j][2]] = 0;
  return masks;
}

// ---------------------------------------------------------------------------------------------
// What each method must produce, from the original weights alone

interface Weight {
  name: string;
  dims: number[];
  dtype: number;
  /** [outputAxis, inputAxis] from the consuming op. */
  layout: [number, number];
  orig: Float64Array;
  nested: boolean;
}

interface Expectation {
  /** Exact values the variant must hold. */
  exact?: Float64Array;
  /** Per-weight bound on |ŵ - w|. */
  bound?: Float64Array;
  /** Further checks on onnxruntime's values of the weight; returns problems. */
  check?: (got: Float64Array) => string[];
  /** Zeros the variant must hold exactly (where the method fixes the count). */
  zeros?: number;
  /** A-priori bound on ρ = ‖ŵ - w‖/‖w‖; undefined where the method has none. */
  rho?: number;
  bytesAfter: number;
  /** Clipped values the report must mention. */
  clipped?: number;
}

/** Extra rounding when the result is stored back in the weight's own type, or read as float32 first. */
function storeSlack(dtype: number, v: number): number {
  if (dtype === DT.FLOAT16) return Math.abs(v) * 2 ** -11 + 2 ** -25;
  if (dtype === DT.DOUBLE) return Math.abs(v) * 2 ** -24;
  return 0;
}

/** float32 division and product rounding inside (de)quantization: a few ulps of |w|. */
const ULPS = 2 ** -21;

/** num/den, where an all-zero original (den 0) is exact only if the error is 0 too. */
function relative(num: number, den: number): number {
  return den > 0 ? num / den : num > 0 ? Infinity : 0;
}

function rhoOf(bound: Float64Array, orig: Float64Array): number {
  return relative(norm(bound), norm(orig));
}

function linearBound(
  w: Weight,
  group: (i: number) => number,
  step: (g: number) => number,
): Float64Array {
  return Float64Array.from(
    w.orig,
    (v, i) => (step(group(i)) / 2) * (1 + 2 ** -20) + Math.abs(v) * ULPS + storeSlack(w.dtype, v),
  );
}

function zeroCheck(
  w: Weight,
  got: Float64Array,
  where: (i: number) => boolean,
  what: string,
): string[] {
  const bad: number[] = [];
  for (let i = 0; i < got.length; i++) if (where(i) && got[i] !== 0) bad.push(i);
  return bad.length
    ? [`${w.name}: ${bad.length} ${what} are not exact zeros (first at ${bad[0]}: ${got[bad[0]]})`]
    : [];
}

function int8Expect(
  w: Weight,
  perChannel: boolean,
  asymmetric: boolean,
  opset: number,
  values = w.orig,
): Expectation {
  const n = values.length;
  const ch = perChannel ? indexAlong(w.dims, w.layout[0]) : () => 0;
  const groups = perChannel ? w.dims[w.layout[0]] : 1;
  const hi = groupMax(values, ch, groups, (v) => Math.max(v, 0));
  const lo = groupMax(values, ch, groups, (v) => Math.max(-v, 0));
  const step = (g: number) => (asymmetric ? (hi[g] + lo[g]) / 255 : Math.max(hi[g], lo[g]) / 127);
  const bound = linearBound(w, ch, step);
  return {
    bound,
    rho: rhoOf(bound, w.orig),
    check: (got) => zeroCheck(w, got, (i) => values[i] === 0, 'zero weights'),
    // Zero points are uint8 for DequantizeLinear (per axis from opset 13, per tensor from 10, float32 input only);
    // the Cast/Sub/Mul encoding other cases take subtracts them as float32.
    bytesAfter:
      n +
      groups * 4 +
      (asymmetric ? groups * (w.dtype === DT.FLOAT && opset >= (groups > 1 ? 13 : 10) ? 1 : 4) : 0),
  };
}

/**
 * int4 blocks, written out independently of the engine: a Conv-like weight [O, I, k…] is read as
 * rows of I·k…, each row its own blocks (a short row is one block). Codes take half a byte each, scales 4 bytes.
 */
function int4Expect(w: Weight, blockSize: number): Expectation {
  const n = w.orig.length;
  let dims = w.dims;
  const axis = w.layout[1];
  if (dims.length > 2 && w.layout[0] === 0 && axis === 1) dims = [dims[0], n / dims[0]];
  const g = blockOf(dims, axis, blockSize);
  const peak = groupMax(w.orig, g.of, g.count, Math.abs);
  // float16 scales when the largest is a normal float16: a scale rounds up by at most 2⁻¹¹ of itself
  // (half a step grows as much), or, subnormal, moves a decoded weight by at most 7·2⁻²⁵.
  const half = Math.max(...Array.from(peak, (p) => (p > 0 ? Math.fround(p / 7) : 1))) >= 2 ** -14; // an all-zero block has scale 1
  const bound = half
    ? linearBound(w, g.of, (j) => (peak[j] / 7) * (1 + 2 ** -10) + 2 * 7 * 2 ** -25)
    : linearBound(w, g.of, (j) => peak[j] / 7);
  return {
    bound,
    rho: rhoOf(bound, w.orig),
    bytesAfter: Math.ceil(n / 2) + (half ? 2 : 4) * g.count,
  };
}

function fixedExpect(w: Weight, bits: number): Expectation {
  const qmax = 2 ** (bits - 1) - 1;
  let lo = 0;
  let hi = 0;
  for (const v of w.orig) {
    lo = Math.min(lo, Math.fround(v));
    hi = Math.max(hi, Math.fround(v));
  }
  // The largest fraction length whose codes still fit the word (round half even never exceeds round half up here).
  let f = 60;
  while (f > -127 && (Math.round(hi * 2 ** f) > qmax || -Math.round(-lo * 2 ** f) < -qmax - 1)) f--;
  const bound = Float64Array.from(
    w.orig,
    (v) => 2 ** (-f - 1) * (1 + 2 ** -30) + storeSlack(w.dtype, v),
  );
  return {
    bound,
    rho: rhoOf(bound, w.orig),
    check: (got) => {
      if (w.dtype !== DT.FLOAT) return [];
      const off = got.findIndex(
        (v) => !Number.isInteger(v * 2 ** f) || v * 2 ** f > qmax || v * 2 ** f < -qmax - 1,
      );
      return off >= 0 ? [`${w.name}: ${got[off]} is not a ${bits}-bit multiple of 2^-${f}`] : [];
    },
    bytesAfter: w.orig.length * (bits <= 8 ? 1 : 2) + 4,
  };
}

function halfExpect(w: Weight, kind: 'fp16' | 'bf16'): Expectation {
  const max = kind === 'fp16' ? 65504 : 3.3895313892515355e38;
  let clipped = 0;
  const exact = Float64Array.from(w.orig, (v) => {
    if (Number.isFinite(v) && Math.abs(v) > max) {
      clipped++;
      return Math.sign(v) * max;
    }
    return kind === 'fp16' ? halfToNumber(f16Bits(v)) : bf16ToNumber(bf16Bits(v));
  });
  // float64 weights: the value goes through float32 first; double rounding may differ from direct rounding by an ulp.
  if (w.dtype === DT.DOUBLE) {
    const rel = kind === 'fp16' ? 2 ** -11 : 2 ** -8;
    const bound = Float64Array.from(
      w.orig,
      (v, i) => Math.abs(v - exact[i]) + Math.abs(v) * rel + 2 ** -24,
    );
    return { bound, rho: rhoOf(bound, w.orig), bytesAfter: 2 * w.orig.length, clipped };
  }
  const diff = Float64Array.from(w.orig, (v, i) => v - exact[i]);
  return { exact, rho: rhoOf(diff, w.orig), bytesAfter: 2 * w.orig.length, clipped };
}

function signExpect(w: Weight): Expectation {
  const ch = indexAlong(w.dims, w.layout[0]);
  const C = w.dims[w.layout[0]];
  const sum = new Float64Array(C);
  const cnt = new Float64Array(C);
  const vals = Float64Array.from(w.orig, Math.fround);
  vals.forEach((v, i) => {
    sum[ch(i)] += Math.abs(v);
    cnt[ch(i)]++;
  });
  const delta = Float64Array.from(sum, (s, c) => (0.7 * s) / cnt[c]);
  const ks = new Float64Array(C);
  const kc = new Float64Array(C);
  vals.forEach((v, i) => {
    if (Math.abs(v) > delta[ch(i)]) {
      ks[ch(i)] += Math.abs(v);
      kc[ch(i)]++;
    }
  });
  const a = Float64Array.from(ks, (s, c) => (kc[c] ? Math.fround(s / kc[c]) : 1));
  const exactish = Float64Array.from(vals, (v, i) =>
    Math.abs(v) > delta[ch(i)] ? Math.sign(v) * a[ch(i)] : 0,
  );
  return {
    // Ternary Weight Networks: codes sign(w) where |w| > 0.7·mean|w_c|, scale a_c = mean of the coded |w|.
    bound: Float64Array.from(
      exactish,
      (v, i) => Math.abs(w.orig[i] - v) + Math.abs(v) * 2 ** -20 + storeSlack(w.dtype, v),
    ),
    check: (got) =>
      zeroCheck(w, got, (i) => exactish[i] === 0, 'weights inside the ternary dead zone'),
    bytesAfter: w.orig.length + 4 * C,
  };
}

function clusterProblems(w: Weight, got: Float64Array, k: number, keep?: Uint8Array): string[] {
  const problems: string[] = [];
  const used = [...new Set(got)].sort((x, y) => x - y);
  if (used.length > k) problems.push(`${w.name}: ${used.length} distinct values for K=${k}`);
  const peak = w.orig.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const slack = peak * 2 ** -20 + storeSlack(w.dtype, peak);
  const sums = new Map<number, [number, number]>();
  for (let i = 0; i < got.length; i++) {
    const v = keep && !keep[i] ? 0 : Math.fround(w.orig[i]);
    const d = Math.abs(v - got[i]);
    // Nearest-centroid assignment: no used centroid is closer to the value than its own.
    for (const c of used)
      if (Math.abs(v - c) < d - slack) {
        problems.push(`${w.name}[${i}] = ${v} coded ${got[i]} but ${c} is nearer`);
        break;
      }
    const s = sums.get(got[i]) ?? [0, 0];
    sums.set(got[i], [s[0] + v, s[1] + 1]);
  }
  // Lloyd converged: every centroid but the pinned 0 is the mean of its members.
  for (const [c, [s, n]] of sums)
    if (c !== 0 && Math.abs(s / n - c) > slack + Math.abs(c) * 2 ** -22)
      problems.push(`${w.name}: centroid ${c} is not the mean ${s / n} of its ${n} members`);
  if (w.orig.some((v) => v === 0))
    problems.push(...zeroCheck(w, got, (i) => w.orig[i] === 0, 'zero weights'));
  return problems.slice(0, 5);
}

function pruneMasks(c: MethodCase, weights: Weight[]): (Uint8Array | undefined)[] {
  const o = c.spec.options;
  if (o.random) return weights.map(() => undefined);
  if (o.sparsity !== undefined && o.scope === 'global') {
    const total = weights.reduce((a, w) => a + w.orig.length, 0);
    return smallestMask(
      weights.map((w) => w.orig),
      Math.round(o.sparsity * total),
    );
  }
  return weights.map((w) => {
    const f = Float64Array.from(w.orig, Math.fround);
    if (o.pattern) return nmMask(w, f, o.pattern.n, o.pattern.m);
    if (o.threshold !== undefined) {
      let t = o.threshold;
      if (t === 'mean') t = f.reduce((a, v) => a + Math.abs(v), 0) / f.length;
      const limit = t;
      return Uint8Array.from(f, (v) => (Math.abs(v) < limit ? 0 : 1));
    }
    return smallestMask([f], Math.round((o.sparsity ?? 0.5) * f.length))[0];
  });
}

/** N:M: in every m consecutive weights along the input axis keep the n largest |w| (lower index first among equals). */
function nmMask(w: Weight, f: Float64Array, n: number, m: number): Uint8Array {
  const axis = w.layout[1];
  let inner = 1;
  for (let a = axis + 1; a < w.dims.length; a++) inner *= w.dims[a];
  const size = w.dims[axis];
  const outer = f.length / (size * inner);
  const mask = new Uint8Array(f.length);
  for (let o = 0; o < outer; o++)
    for (let g = 0; g < size; g += m)
      for (let r = 0; r < inner; r++) {
        const len = Math.min(m, size - g);
        const idx = Array.from({ length: len }, (_, j) => (o * size + g + j) * inner + r);
        idx.sort((x, y) => Math.abs(f[y]) - Math.abs(f[x]) || x - y);
        idx.slice(0, Math.ceil((n * len) / m)).forEach((i) => (mask[i] = 1));
      }
  return mask;
}

function expectations(c: MethodCase, weights: Weight[], opset: number): Expectation[] {
  const o = c.spec.options;
  const storage = c.spec.methods.find((m) => m !== 'prune');
  const masks =
    c.spec.methods[0] === 'prune' ? pruneMasks(c, weights) : weights.map(() => undefined);
  return weights.map((w, t) => {
    const mask = masks[t];
    const pruned = mask ? Float64Array.from(w.orig, (v, i) => (mask[i] ? v : 0)) : w.orig;
    switch (storage) {
      case 'int8': {
        const e = int8Expect(w, o.granularity !== 'tensor', Boolean(o.asymmetric), opset, pruned);
        if (!mask) return e;
        // Deep Compression order: pruned zeros stay exact zeros through quantization.
        const pb = Float64Array.from(w.orig, (v, i) => (mask[i] ? e.bound![i] : Math.abs(v)));
        return {
          ...e,
          bound: pb,
          rho: rhoOf(pb, w.orig),
          check: (got) => zeroCheck(w, got, (i) => !mask[i], 'pruned weights'),
        };
      }
      case 'int4':
        return int4Expect(w, o.blockSize ?? 32);
      case 'fp16':
      case 'bf16':
        return halfExpect(w, storage);
      case 'fixed':
        return fixedExpect(w, o.bits ?? 8);
      case 'sign':
        return signExpect(w);
      case 'cluster': {
        const k = o.clusters ?? 16;
        return {
          check: (got) => clusterProblems(w, got, k, mask),
          bytesAfter: w.orig.length + 4 * k,
        };
      }
      default: {
        const n = w.orig.length;
        const dtypeBytes = w.dtype === DT.FLOAT16 ? 2 : w.dtype === DT.DOUBLE ? 8 : 4;
        if (!mask) {
          // Random pruning: no positions to predict, but exactly round(s·n) zeros (zeros already there count first) and kept weights untouched.
          const zeros = Math.max(
            Math.round((o.sparsity ?? 0) * n),
            w.orig.filter((v) => v === 0).length,
          );
          return {
            zeros,
            check: (got) => {
              const moved = got.findIndex((v, i) => v !== 0 && v !== w.orig[i]);
              return moved >= 0
                ? [`${w.name}[${moved}]: kept weight ${w.orig[moved]} became ${got[moved]}`]
                : [];
            },
            bytesAfter: n * dtypeBytes,
          };
        }
        const zeros = pruned.filter((v) => v === 0).length;
        const sparse = o.store === 'sparse' && w.dtype === DT.FLOAT && 12 * (n - zeros) < 4 * n;
        const diff = Float64Array.from(w.orig, (v, i) => v - pruned[i]);
        return {
          exact: pruned,
          zeros,
          rho: rhoOf(diff, w.orig),
          bytesAfter: sparse ? 12 * (n - zeros) : n * dtypeBytes,
        };
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------
// onnxruntime

const probeName = (name: string) => `${name}::probe`;

/**
 * A copy of the model whose graph also outputs `names`, each through an Identity (so sparse initializers
 * come out dense): protobuf merges a repeated `graph` field into the first, appending nodes and outputs.
 */
function probeBytes(model: Uint8Array, names: string[]): Buffer {
  const extra = {
    node: names.map((name) => ({
      opType: 'Identity',
      input: [name],
      output: [probeName(name)],
      name: probeName(name),
    })),
    output: names.map((name) => ({ name: probeName(name) })),
  };
  return Buffer.concat([model, onnx.ModelProto.encode({ graph: extra }).finish()]);
}

/**
 * By default onnxruntime's CPU provider fuses DequantizeLinear + MatMul into MatMulNBits at accuracy
 * level 4, which quantizes the activations to int8 too: a weight-only variant then carries activation
 * error the engine never introduced (edge.onnx's repeated-value weight: 1.5% instead of 0.4%). Level 1
 * keeps the fused kernel but computes in float32, so outputs show the stored weights' error alone.
 */
const FAITHFUL: Ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: 1,
  extra: { session: { qdq_matmulnbits_accuracy_level: '1' } },
};

async function runModel(
  file: string,
  feeds: Feeds,
  extraOutputs: string[] = [],
): Promise<Record<string, Float64Array>> {
  let target = file;
  if (extraOutputs.length) {
    // Written beside the model so its external data resolves.
    target = join(dirname(file), `.probe-${basename(file)}`);
    writeFileSync(target, probeBytes(readFileSync(file), extraOutputs));
  }
  try {
    const session = await ort.InferenceSession.create(target, FAITHFUL);
    try {
      const out = await session.run(ortFeeds(ort, feeds));
      return Object.fromEntries(
        Object.entries(out).map(([k, t]) => [
          k.endsWith('::probe') ? k.slice(0, -7) : k,
          toNumbers(t),
        ]),
      );
    } finally {
      await session.release();
    }
  } finally {
    if (target !== file) rmSync(target, { force: true });
  }
}

/** Every name a node reads: its inputs and, for If/Loop/Scan, whatever the nodes of its subgraphs read. */
function reads(n: onnx.INodeProto): string[] {
  const names = [...(n.input ?? [])];
  for (const a of n.attribute ?? [])
    for (const g of [a.g, ...(a.graphs ?? [])])
      for (const m of g?.node ?? []) names.push(...reads(m));
  return names;
}

/**
 * For each graph output, the weight reads upstream of it, one per reading node: the first-order output
 * error is the sum of the relative errors of the weights on its path, a weight read twice counting twice.
 */
function upstreamReads(file: string): Map<string, string[]> {
  const g = onnx.ModelProto.decode(readFileSync(file)).graph!;
  const producer = new Map<string, onnx.INodeProto>();
  for (const n of g.node ?? []) for (const o of n.output ?? []) producer.set(o, n);
  const result = new Map<string, string[]>();
  for (const out of g.output ?? []) {
    const seen = new Set<onnx.INodeProto>();
    const uses: string[] = [];
    const stack = [out.name!];
    while (stack.length) {
      const n = producer.get(stack.pop()!);
      if (!n || seen.has(n)) continue;
      seen.add(n);
      const names = reads(n);
      uses.push(...names);
      stack.push(...names);
    }
    result.set(out.name!, uses);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Reading through our own reader

/** Opens `file` with our reader; `read` gives a tensor's elements in float64 (exact for every float type). */
function withModel<T>(
  file: string,
  f: (model: Model, read: (ref: TensorRef) => Float64Array) => T,
): T {
  const source = new FileSource(file);
  const resolver = new FolderResolver(file);
  const read = (ref: TensorRef) => {
    const out = new Float64Array(ref.count);
    let at = 0;
    streamElements(
      source,
      ref,
      (name) => resolver.open(name),
      (v, n) => {
        out.set(v.subarray(0, n), at);
        at += n;
      },
    );
    // Sparse storage streams only its values: this reads dense tensors, and says so if handed another.
    assert.equal(at, ref.count, `${ref.name}: read ${at} of ${ref.count} elements`);
    return out;
  };
  try {
    const model = readModel(source, basename(file), resolver);
    return f(model, read);
  } finally {
    source.close();
    resolver.close();
  }
}

// ---------------------------------------------------------------------------------------------
// The matrix: every method on every model

interface Outcome {
  model: string;
  method: string;
  worstRatio: number;
  worstCosine: number;
  sizeRatio: number;
}
const outcomes: Outcome[] = [];
const fileOverheads: number[] = [];

function expectedNames(m: ZooModel, c: MethodCase): string[] {
  const storage = c.spec.methods.find((x) => x !== 'prune');
  const beyond = [
    ...(m.beyond?.float32 ?? []),
    ...(storage === 'fp16' ? (m.beyond?.fp16 ?? []) : []),
  ];
  if (storage !== 'fp16' && storage !== 'bf16')
    return Object.keys(m.weights)
      .filter((n) => !beyond.includes(n))
      .sort();
  const left = c.spec.options.include?.includes('all') ? [] : (m.leftByScope ?? []);
  return m.floats.filter((n) => !left.includes(n) && !beyond.includes(n)).sort();
}

function safeName(id: string): string {
  return id.replace(/[^\w.-]/g, '_');
}

async function checkVariant(m: ZooModel, c: MethodCase): Promise<Outcome> {
  const input = zooPath(m.file);
  const output = join(dirname(input), `${basename(input, '.onnx')}.${safeName(c.id)}.onnx`);
  const dataFile = join(dirname(input), 'model.onnx.data');
  const hashes = () => [sha256(input), m.file.startsWith('external/') ? sha256(dataFile) : ''];
  const before = hashes();
  const result = compressFile(input, c.spec, { output, force: true });
  assert.deepEqual(
    hashes(),
    before,
    'the original (and its external data) must stay byte-identical',
  );
  const report = result.report;
  const problems: string[] = [];

  // Which tensors, and the file sizes the report claims.
  const names = report.tensors.map((t) => t.name).sort();
  assert.deepEqual(names, expectedNames(m, c), 'compressed tensors');
  for (const s of report.skipped)
    assert.ok(s.reason.length > 0 && !names.includes(s.name), `skipped ${s.name} without a reason`);
  // A model with external data is the model file plus its data file, before and after.
  const withData = (file: string, data: string) =>
    statSync(file).size + (existsSync(data) ? statSync(data).size : 0);
  assert.equal(
    report.totals.fileBytesAfter,
    withData(output, `${output}.data`),
    'fileBytesAfter is the real size',
  );
  assert.equal(
    report.totals.fileBytesBefore,
    withData(input, `${input}.data`),
    'fileBytesBefore is the real size',
  );
  assert.ok(
    Math.abs(report.totals.ratio - report.totals.fileBytesBefore / report.totals.fileBytesAfter) <
      1e-12,
  );
  assert.equal(
    report.totals.weightBytesBefore,
    report.tensors.reduce((a, t) => a + t.bytesBefore, 0),
  );
  assert.equal(
    report.totals.weightBytesAfter,
    report.tensors.reduce((a, t) => a + t.bytesAfter, 0),
  );
  // The file changes by what the tensors' storage changed, plus names and nodes: a few hundred bytes per tensor,
  // about 1.3 KB for the eleven nodes that unpack int4 nibbles below opset 21. An original data file may hold
  // padding its tensors do not use (the variant's own data file packs them at 64-byte alignment): not a saving.
  const saved = report.tensors.reduce((a, t) => a + t.bytesBefore - t.bytesAfter, 0);
  const slack = m.file.startsWith('external/')
    ? statSync(dataFile).size -
      withModel(input, (model) =>
        model.tensors.reduce(
          (a, t) => a + (t.storage.kind === 'external' ? t.storage.length : 0),
          0,
        ),
      )
    : 0;
  const overhead = saved - (report.totals.fileBytesBefore - slack - report.totals.fileBytesAfter);
  fileOverheads.push(overhead / Math.max(1, names.length));
  // With external data each stored tensor also pays its location/offset/length entries (~90 B) and up
  // to 63 B of alignment in the data file; the int4 unpack stores seven, bf16's decoding below opset 13 six.
  const bf16Decode = c.spec.methods.includes('bf16') && m.opset < 13;
  const perTensor =
    (c.spec.methods.includes('int4') || bf16Decode ? 1600 : 400) +
    (m.file.startsWith('external/') ? 7 * 160 : 0);
  assert.ok(
    overhead >= -64 * names.length && overhead <= perTensor * names.length,
    `the file changed by ${report.totals.fileBytesBefore - report.totals.fileBytesAfter} B, its tensors by ${saved} B`,
  );
  if (!names.length) {
    assert.ok(
      readFileSync(output).equals(readFileSync(input)),
      'nothing to compress: the variant is the original byte for byte',
    );
    assert.deepEqual(report.warnings, ['no weights to compress were found']);
    return {
      model: m.file,
      method: c.id,
      worstRatio: 0,
      worstCosine: 1,
      sizeRatio: report.totals.ratio,
    };
  }

  // The original weights through our reader, in float64 (exact for float16, float32 and float64 alike).
  const byName = new Map(report.tensors.map((t) => [t.name, t]));
  const ws: Weight[] = withModel(input, (model, read) =>
    names.map((name) => {
      const ref = model.tensors.find((t) => t.name === name)!;
      const storage = c.spec.methods.find((x) => x !== 'prune');
      const layout =
        m.weights[name] ??
        (storage === 'fp16' || storage === 'bf16' ? [0, 0] : assert.fail(`${name} has no layout`));
      return {
        name,
        dims: ref.dims,
        dtype: ref.dtype,
        layout,
        orig: read(ref),
        nested: m.nested.includes(name),
      };
    }),
  );
  const probed = ws.filter((w) => !w.nested);
  if (m.runnable && probed.length) {
    const orig = await runModel(
      input,
      m.feeds[0],
      probed.map((w) => w.name),
    );
    for (const w of probed)
      assert.deepEqual(
        Array.from(orig[w.name]),
        Array.from(w.orig),
        `${w.name}: our reader and onnxruntime read the original alike`,
      );
  }
  const expect = expectations(c, ws, m.opset);

  // The report's sizes: the method's storage formula, and what the variant file really holds.
  withModel(output, (variant, read) => {
    ws.forEach((w, t) => {
      const r = byName.get(w.name)!;
      assert.equal(
        r.bytesBefore,
        w.orig.length * (w.dtype === DT.FLOAT16 ? 2 : w.dtype === DT.DOUBLE ? 8 : 4),
        `${w.name} bytesBefore`,
      );
      const stored = variant.tensors.filter(
        (x) => x.name === w.name || x.name.startsWith(`${w.name}::`),
      );
      assert.ok(stored.length > 0, `${w.name}: nothing stored for it in the variant`);
      const sparse = stored.find((x) => x.storage.kind === 'sparse');
      if (sparse) {
        assert.equal(sparse.origin, 'sparse_initializer');
        assert.equal(
          r.bytesAfter,
          12 * (sparse.storage.kind === 'sparse' ? sparse.storage.valueCount : -1),
          `${w.name}: sparse bytes`,
        );
      } else {
        const total = stored.reduce((a, x) => a + x.bytes, 0);
        assert.equal(
          r.bytesAfter,
          total,
          `${w.name}: the variant stores ${total} bytes for it, the report says ${r.bytesAfter}`,
        );
        // Beyond codes and scales, only the decoding constants: int64 shapes, to unpack int4 nibbles an int32 16 and a float 8, bf16's five float scalars.
        const constants = stored
          .filter(
            (x) =>
              x.dtype === DT.INT64 ||
              x.dtype === DT.INT32 ||
              x.name === `${w.name}::eight` ||
              (bf16Decode && x.dims.length === 0),
          )
          .reduce((a, x) => a + x.bytes, 0);
        assert.equal(
          r.bytesAfter,
          expect[t].bytesAfter + constants,
          `${w.name}: bytesAfter against the method's storage (${r.method})`,
        );
      }
      // Pruned weights kept dense: count their zeros through our own reader, subgraphs included.
      const dense = stored.find((x) => x.name === w.name && x.storage.kind !== 'sparse');
      if (dense && expect[t].zeros !== undefined) {
        const zeros = read(dense).filter((v) => v === 0).length;
        assert.equal(zeros, expect[t].zeros, `${w.name}: zeros in the variant (our reader)`);
      }
      // Half-precision storage read back by our reader: the exact rounded values (covers models onnxruntime cannot run).
      const half = stored.find((x) => x.dtype === DT.FLOAT16 || x.dtype === DT.BFLOAT16);
      if (half && (c.id === 'fp16' || c.id === 'bf16')) {
        const got = read(half);
        const { exact, bound } = expect[t];
        const bad = Array.from(got).findIndex((v, i) =>
          exact ? !Object.is(v, exact[i]) : !(Math.abs(v - w.orig[i]) <= bound![i]),
        );
        if (bad >= 0)
          problems.push(
            `${w.name}[${bad}]: stored ${got[bad]}, expected ${exact ? exact[bad] : `within ${bound![bad]} of`} ${w.orig[bad]}`,
          );
      }
    });
  });

  // The report's error figures against the a-priori bounds.
  ws.forEach((w, t) => {
    const r = byName.get(w.name)!;
    const rho = r.sqnrDb === Infinity ? 0 : 10 ** (-r.sqnrDb / 20);
    const e = expect[t];
    if (e.rho !== undefined && !(rho <= e.rho * (1 + 1e-6) + 1e-9))
      problems.push(
        `${w.name}: report SQNR ${r.sqnrDb} dB (ρ ${rho}) breaks the bound ρ ≤ ${e.rho}`,
      );
    if (e.clipped && !/clipped/.test(r.note ?? ''))
      problems.push(
        `${w.name}: ${e.clipped} values beyond the range but the report notes '${r.note ?? ''}'`,
      );
  });

  let worstRatio = 0;
  let worstCosine = 1;
  if (m.runnable) {
    // Level 1: onnxruntime's reading of every stored main-graph weight.
    const got = await runModel(
      output,
      m.feeds[0],
      probed.map((w) => w.name),
    );
    ws.forEach((w, t) => {
      if (w.nested) return;
      const g = got[w.name];
      const e = expect[t];
      const r = byName.get(w.name)!;
      if (e.exact) {
        const bad = g.findIndex(
          (v, i) => !Object.is(v, e.exact![i]) && !(v === 0 && e.exact![i] === 0),
        );
        if (bad >= 0)
          problems.push(
            `${w.name}[${bad}]: onnxruntime reads ${g[bad]}, expected exactly ${e.exact[bad]} (original ${w.orig[bad]})`,
          );
      }
      if (e.bound) {
        const bad = g.findIndex((v, i) => !(Math.abs(v - w.orig[i]) <= e.bound![i]));
        if (bad >= 0)
          problems.push(`${w.name}[${bad}]: |${g[bad]} - ${w.orig[bad]}| > bound ${e.bound[bad]}`);
      }
      if (e.check) problems.push(...e.check(g));
      const zeros = g.filter((v) => v === 0).length;
      if (e.zeros !== undefined && zeros !== e.zeros)
        problems.push(`${w.name}: ${zeros} zeros, expected ${e.zeros}`);
      // The report must describe these same values.
      const peak = w.orig.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
      const slack = peak * 2 ** -22 + storeSlack(w.dtype, peak);
      const maxAbs = g.reduce((a, v, i) => Math.max(a, Math.abs(v - w.orig[i])), 0);
      if (Math.abs(maxAbs - r.maxAbs) > slack)
        problems.push(`${w.name}: report maxAbs ${r.maxAbs}, onnxruntime's values give ${maxAbs}`);
      const rho = compare(w.orig, g).relL2;
      const reported = r.sqnrDb === Infinity ? 0 : 10 ** (-r.sqnrDb / 20);
      if (
        Math.abs(rho - reported) >
        1e-3 * rho + relative(slack, norm(w.orig) / Math.sqrt(w.orig.length))
      )
        problems.push(`${w.name}: report ρ ${reported}, onnxruntime's values give ${rho}`);
      if (w.dtype === DT.FLOAT && zeros !== Math.round(r.sparsity * g.length))
        problems.push(
          `${w.name}: report sparsity ${r.sparsity}, onnxruntime's values have ${zeros}/${g.length} zeros`,
        );
      // The measured ρ stands in where the method has no a-priori bound (sign, cluster, random pruning).
      if (e.rho === undefined) e.rho = rho;
    });
    ws.forEach((w, t) => {
      if (expect[t].rho === undefined) {
        const r = byName.get(w.name)!;
        expect[t].rho = r.sqnrDb === Infinity ? 0 : 10 ** (-r.sqnrDb / 20);
      }
    });

    // Level 2: the model's outputs.
    const rhoOfName = new Map(ws.map((w, t) => [w.name, expect[t].rho ?? 0]));
    const upstream = upstreamReads(input);
    for (const feeds of m.feeds) {
      const a = await runModel(input, feeds);
      const b = await runModel(output, feeds);
      for (const [name, ref] of Object.entries(a)) {
        // float16 arithmetic (halfweights) rounds each output to 2^-11 relative, whichever weights it used.
        const noise = m.file === 'halfweights.onnx' && name === 'half_out' ? 2e-3 : 1e-5;
        const tol =
          2 * upstream.get(name)!.reduce((acc, x) => acc + (rhoOfName.get(x) ?? 0), 0) + noise;
        const { relL2, cosine } = compare(ref, b[name]);
        worstRatio = Math.max(worstRatio, relL2 / tol);
        // Cosines of edge.onnx's degenerate weights (all zeros, one value) say nothing about a method.
        if (m.file !== 'edge.onnx') worstCosine = Math.min(worstCosine, cosine);
        if (!(relL2 <= tol))
          problems.push(
            `output ${name}: relative L2 ${relL2.toExponential(3)} > tolerance ${tol.toExponential(3)} (cosine ${cosine})`,
          );
      }
    }
  }
  assert.deepEqual(problems, [], `${m.file} ${c.id}:\n  ${problems.join('\n  ')}`);
  return { model: m.file, method: c.id, worstRatio, worstCosine, sizeRatio: report.totals.ratio };
}

describe('compression pipeline: every method on every model', () => {
  for (const m of ZOO) {
    describe(m.file, () => {
      for (const c of METHOD_CASES) {
        it(c.id, async () => {
          outcomes.push(await checkVariant(m, c));
        });
      }
    });
  }

  after(() => {
    // Margins for the report: how close each method came to its output tolerance.
    const byMethod = new Map<string, Outcome[]>();
    for (const o of outcomes) byMethod.set(o.method, [...(byMethod.get(o.method) ?? []), o]);
    for (const [method, os] of byMethod) {
      const worst = os.reduce((a, o) => (o.worstRatio > a.worstRatio ? o : a));
      const cos = Math.min(...os.map((o) => o.worstCosine));
      const mlp = os.find((o) => o.model === 'mlp.onnx');
      console.log(
        `# ${method.padEnd(15)} mlp.onnx ${mlp ? mlp.sizeRatio.toFixed(2) : '-'}x smaller; ${os.length} variants; worst output error ${(100 * worst.worstRatio).toFixed(1)}% of tolerance (${worst.model}); worst cosine ${cos.toFixed(6)}`,
      );
    }
    console.log(
      `# file bytes beyond the tensors' own: ${Math.min(...fileOverheads).toFixed(0)} to ${Math.max(...fileOverheads).toFixed(0)} per compressed tensor`,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// The tolerances can fail

/** One MatMul x[8, 64] · W[64, 64] whose output channels (columns) span a 64-fold range of magnitudes. */
function squareModel(dir: string): string {
  const rng = mulberry32(301);
  const dims = [64, 64];
  const values = weights(rng, 64 * 64, 0.1);
  for (let i = 0; i < values.length; i++) values[i] *= 2 ** (((i % 64) % 7) - 3);
  const file = join(dir, 'square.onnx');
  writeFileSync(
    file,
    encodeModel({
      irVersion: 8,
      opsets: { '': 13 },
      graph: graph({
        name: 'square',
        nodes: [node('MatMul', ['x', 'W'], ['y'], {}, { name: 'mm' })],
        inputs: [valueInfo('x', DT.FLOAT, [8, 64])],
        outputs: [valueInfo('y', DT.FLOAT, [8, 64])],
        initializers: [tensor('W', DT.FLOAT, dims, values)],
      }),
    }),
  );
  return file;
}

/** Writes `file` with W replaced by `edit(W)` through the engine's own writer: a stand-in for a broken engine. */
function mutate(
  file: string,
  out: string,
  edit: (t: TensorRef, values: Float32Array) => TensorEdit,
): void {
  withModel(file, (model, read) => {
    const t = model.tensors.find((x) => x.name === 'W')!;
    const source = new FileSource(file);
    const chunks: Uint8Array[] = [];
    try {
      writeOnnx(
        source,
        { edits: [edit(t, Float32Array.from(read(t)))] },
        { write: (b) => chunks.push(b.slice()) },
      );
    } finally {
      source.close();
    }
    writeFileSync(out, Buffer.concat(chunks));
  });
}

describe('tolerances fail for broken encodings', () => {
  const x: Feeds = {
    x: { type: 'float32', dims: [8, 64], data: weights(mulberry32(302), 8 * 64, 1, 0) },
  };
  const layout = { dims: [64, 64], outputAxis: 1, inputAxis: 0 };

  /** The output error of `variant`, and how many of its weights break the int8 (or int4) per-weight bound. */
  async function measure(
    original: string,
    variant: string,
    method: 'int8' | 'int4' = 'int8',
  ): Promise<{ relL2: number; weightViolations: number; bound: Expectation }> {
    const orig = (await runModel(original, x, ['W'])).W;
    const w: Weight = {
      name: 'W',
      dims: [64, 64],
      dtype: DT.FLOAT,
      layout: [1, 0],
      orig,
      nested: false,
    };
    const bound = method === 'int8' ? int8Expect(w, true, false, 13) : int4Expect(w, 32);
    const a = await runModel(original, x);
    const b = await runModel(variant, x, ['W']);
    const weightViolations = b.W.filter(
      (v, i) => !(Math.abs(v - orig[i]) <= bound.bound![i]),
    ).length;
    return { relL2: compare(a.y, b.y).relL2, weightViolations, bound };
  }

  it('int8 with the per-channel scales applied along the wrong axis', async () => {
    const dir = join(root, 'mutation-int8');
    mkdirSync(dir, { recursive: true });
    const file = squareModel(dir);
    const good = compressFile(file, { methods: ['int8'], options: {} }).output;
    const right = await measure(file, good);
    const tol = 2 * right.bound.rho! + 1e-5;
    assert.equal(right.weightViolations, 0);
    assert.ok(right.relL2 <= tol, `the engine's variant: ${right.relL2} > ${tol}`);
    // Codes and scales of the columns, but DequantizeLinear told the scales run along the rows.
    mutate(file, join(dir, 'wrong-axis.onnx'), (t, v) => {
      const q = quantizeLinear(v, layout);
      return linearEdit(t, { q: q.q, qDtype: 3, scale: q.scale, axis: 0 }, 13);
    });
    const wrong = await measure(file, join(dir, 'wrong-axis.onnx'));
    assert.ok(
      wrong.relL2 > 10 * tol,
      `wrong axis: ${wrong.relL2} should exceed 10× the tolerance ${tol}`,
    );
    assert.ok(
      wrong.weightViolations > 64 * 64 * 0.5,
      `wrong axis: only ${wrong.weightViolations} weights break the bound`,
    );
    console.log(
      `# int8 square: engine ${right.relL2.toExponential(2)}, tolerance ${tol.toExponential(2)}, wrong axis ${wrong.relL2.toExponential(2)}`,
    );
  });

  it('int4 with the two nibbles of each byte swapped', async () => {
    const dir = join(root, 'mutation-int4');
    mkdirSync(dir, { recursive: true });
    const file = squareModel(dir);
    const good = compressFile(file, { methods: ['int4'], options: {} }).output;
    const right = await measure(file, good, 'int4');
    const tol = 2 * right.bound.rho! + 1e-5;
    assert.equal(right.weightViolations, 0);
    assert.ok(right.relL2 <= tol, `the engine's variant: ${right.relL2} > ${tol}`);
    mutate(file, join(dir, 'swapped.onnx'), (t, v) => {
      const q = quantizeBlockwise(v, layout, { bits: 4, blockSize: 32 });
      const codes = Int8Array.from(q.q, (_, i) => q.q[i ^ 1]);
      return int4Edit(t, codes, q.scale, t.dims, 0, 32, 13);
    });
    const wrong = await measure(file, join(dir, 'swapped.onnx'), 'int4');
    assert.ok(
      wrong.relL2 > 3 * tol,
      `swapped nibbles: ${wrong.relL2} should exceed 3× the tolerance ${tol}`,
    );
    assert.ok(
      wrong.weightViolations > 64 * 64 * 0.3,
      `swapped nibbles: only ${wrong.weightViolations} weights break the bound`,
    );
    // And the packing itself: element 0 in the low nibble, as ONNX INT4 and the unpacking graph expect.
    assert.deepEqual(Array.from(packNibbles(Int8Array.of(-8, 7, 1), 8)), [0xf0, 0x09]);
    console.log(
      `# int4 square: engine ${right.relL2.toExponential(2)}, tolerance ${tol.toExponential(2)}, swapped nibbles ${wrong.relL2.toExponential(2)}`,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Writing safely

function listing(dir: string): string[] {
  return readdirSync(dir).sort();
}

describe('compressFile writes safely', () => {
  function fresh(name: string): string {
    const dir = join(root, name);
    writeZoo(dir);
    return dir;
  }

  it('refuses an existing output without force, replaces it with force, and never takes the original as output', async () => {
    const dir = fresh('force');
    const input = join(dir, 'mlp.onnx');
    const hash = sha256(input);
    const target = join(dir, 'mlp.int8.onnx');
    writeFileSync(target, 'occupied');
    const before = listing(dir);
    assert.throws(() => compressFile(input, { methods: ['int8'], options: {} }), /already exists/);
    assert.equal(readFileSync(target, 'utf8'), 'occupied');
    assert.deepEqual(listing(dir), before, 'no temp file left behind');
    const r = compressFile(input, { methods: ['int8'], options: {} }, { force: true });
    assert.equal(r.output, target);
    assert.equal(statSync(target).size, r.report.totals.fileBytesAfter);
    const out = await runModel(target, ZOO[0].feeds[0]);
    assert.deepEqual(Object.keys(out), ['logits']);
    for (const output of [input, join(dir, '.', 'mlp.onnx')]) {
      assert.throws(
        () => compressFile(input, { methods: ['int8'], options: {} }, { output, force: true }),
        /overwrite the original/,
      );
    }
    assert.equal(sha256(input), hash);
    assert.deepEqual(listing(dir), before);
  });

  it('replaces a hard link or symlink to the original as a name, leaving the original alone', () => {
    const dir = fresh('aliases');
    const input = join(dir, 'mlp.onnx');
    const hash = sha256(input);
    linkSync(input, join(dir, 'hard.onnx'));
    symlinkSync(input, join(dir, 'soft.onnx'));
    for (const alias of ['hard.onnx', 'soft.onnx']) {
      assert.throws(
        () => compressFile(input, { methods: ['fp16'], options: {} }, { output: join(dir, alias) }),
        /already exists/,
      );
      compressFile(
        input,
        { methods: ['fp16'], options: {} },
        { output: join(dir, alias), force: true },
      );
      assert.equal(sha256(input), hash, `writing over ${alias} changed the original`);
      assert.notEqual(sha256(join(dir, alias)), hash);
    }
  });

  it('writes a model with external data anywhere: the variant carries its own data file', () => {
    const dir = fresh('external-elsewhere');
    mkdirSync(join(dir, 'other'));
    const output = join(dir, 'other/model.int8.onnx');
    compressFile(join(dir, 'external/model.onnx'), { methods: ['int8'], options: {} }, { output });
    assert.deepEqual(listing(join(dir, 'other')), ['model.int8.onnx', 'model.int8.onnx.data']);
    withModel(output, (model, read) => {
      for (const t of model.tensors) {
        if (t.storage.kind === 'external')
          assert.equal(t.storage.file, 'model.int8.onnx.data', t.name);
        assert.equal(read(t).length, t.count, t.name);
      }
    });
  });

  for (const [file, methods] of [
    ['mlp.onnx', ['prune', 'int8']],
    ['external/model.onnx', ['int4']],
    ['branches.onnx', ['cluster']],
  ] as const) {
    it(`cancellation at every check leaves nothing behind (${file}, ${methods.join('+')})`, () => {
      const dir = fresh(`cancel-${safeName(file)}`);
      const input = join(dir, file);
      const folder = dirname(input);
      const spec = { methods: [...methods], options: {} };
      const hash = sha256(input);
      const before = listing(folder);
      let calls = 0;
      const progress: [number, number][] = [];
      const full = compressFile(input, spec, {
        output: join(folder, 'count.onnx'),
        cancelled: () => (calls++, false),
        progress: (d, t) => progress.push([d, t]),
      });
      rmSync(full.output);
      rmSync(`${full.output}.data`, { force: true });
      const total = calls;
      assert.ok(total >= 4, `only ${total} cancellation checks`);
      assert.ok(
        progress.length > 0 &&
          progress.every(
            ([d, t], i) => t === progress[0][1] && d < t && (i === 0 || d > progress[i - 1][0]),
          ),
        `progress ${JSON.stringify(progress)}`,
      );
      for (let k = 0; k < total; k++) {
        let n = 0;
        assert.throws(
          () => compressFile(input, spec, { cancelled: () => n++ >= k }),
          (e: unknown) => e instanceof CancelledError,
          `cancelled after ${k} of ${total} checks`,
        );
        assert.deepEqual(listing(folder), before, `after cancelling at check ${k}`);
      }
      assert.equal(sha256(input), hash);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Untouched bytes

describe('untouched parts of the model survive byte for byte', () => {
  it('doc strings, metadata, value_info, unedited nodes and unknown fields of meta.onnx', () => {
    const dir = join(root, 'meta');
    writeZoo(dir);
    const input = join(dir, 'meta.onnx');
    const spec = metaSpec();
    for (const methods of [
      ['int8'],
      ['prune'],
      ['fp16'],
      ['cluster'],
    ] as CompressSpec['methods'][]) {
      const out = compressFile(input, { methods, options: {} }, { force: true }).output;
      const bytes = readFileSync(out);
      const has = (part: Uint8Array, what: string) =>
        assert.ok(
          bytes.indexOf(Buffer.from(part)) >= 0,
          `${methods}: ${what} is not in the variant verbatim`,
        );
      has(UNKNOWN_MODEL_FIELD, 'the unknown ModelProto field');
      has(UNKNOWN_GRAPH_FIELD, 'the unknown GraphProto field');
      for (const n of spec.graph.node ?? [])
        has(onnx.NodeProto.encode(n).finish(), `node ${n.name}`);
      for (const v of spec.graph.valueInfo ?? [])
        has(onnx.ValueInfoProto.encode(v).finish(), `value_info ${v.name}`);
      for (const v of [...(spec.graph.input ?? []), ...(spec.graph.output ?? [])])
        has(onnx.ValueInfoProto.encode(v).finish(), `graph input/output ${v.name}`);
      for (const [key, value] of Object.entries(spec.properties ?? {}))
        has(onnx.StringStringEntryProto.encode({ key, value }).finish(), `metadata_props ${key}`);
      for (const text of ['model doc string', 'graph doc string', 'meta-producer'])
        has(Buffer.from(text), text);
      const a = openModel(input);
      const b = openModel(out);
      try {
        assert.deepEqual(b.model.metadata, a.model.metadata);
        assert.deepEqual(b.model.inputs, a.model.inputs);
        assert.deepEqual(b.model.outputs, a.model.outputs);
      } finally {
        a.close();
        b.close();
      }
    }
  });

  it('the generated MLP keeps its doc string and properties', () => {
    const dir = join(root, 'mlp-meta');
    writeZoo(dir);
    const out = compressFile(join(dir, 'mlp.onnx'), { methods: ['int4'], options: {} }).output;
    const a = openModel(join(dir, 'mlp.onnx'));
    const b = openModel(out);
    try {
      assert.equal(b.model.metadata.docString, 'MLP 64-128-64-10 with known weights');
      // int4 raises opset 13 to 21 (every op of the MLP means the same there) for INT4 DequantizeLinear, which needs IR 10.
      assert.deepEqual(b.model.metadata, {
        ...a.model.metadata,
        irVersion: 10,
        opsets: [{ domain: '', version: 21 }],
      });
    } finally {
      a.close();
      b.close();
    }
  });
});

describe('external data and the entropy estimate', () => {
  it('writes the compressed weights of an external-data model to <out>.data', () => {
    const dir = join(root, 'external-data');
    writeZoo(dir);
    const out = compressFile(join(dir, 'external/model.onnx'), {
      methods: ['int8'],
      options: {},
    }).output;
    withModel(out, (model) => {
      const stored = model.tensors.filter(
        (t) => t.name.startsWith('ext.fc1.weight::') || t.name.startsWith('ext.fc2.weight::'),
      );
      assert.ok(stored.length > 0);
      for (const t of stored)
        assert.deepEqual(
          [t.name, t.storage.kind, t.storage.kind === 'external' ? t.storage.file : ''],
          [t.name, 'external', 'model.int8.onnx.data'],
        );
    });
  });

  it('never estimates a Huffman-coded variant larger than the variant itself', () => {
    const dir = join(root, 'huffman');
    writeZoo(dir);
    for (const methods of [
      ['int8'],
      ['int4'],
      ['fp16'],
      ['bf16'],
      ['cluster'],
    ] as CompressSpec['methods'][]) {
      const { totals, entropy } = compressFile(join(dir, 'mlp.onnx'), {
        methods,
        options: {},
      }).report;
      assert.ok(
        entropy.huffmanFileBytes <= totals.fileBytesAfter,
        `${methods}: Huffman estimate ${entropy.huffmanFileBytes} B for a ${totals.fileBytesAfter} B variant`,
      );
    }
  });
});

describe('the report describes what it did', () => {
  it('names every skipped tensor with its reason', () => {
    const dir = join(root, 'skips');
    writeZoo(dir);
    const reasons = (file: string, methods: CompressSpec['methods']) =>
      Object.fromEntries(
        compressFile(join(dir, file), { methods, options: {} }, { force: true })
          .report.skipped.filter((s) => !s.left)
          .map((s) => [s.name, s.reason]),
      );
    assert.deepEqual(reasons('function.onnx', ['int8']), {
      'fn.w': 'inside a model-local function (no initializers there)',
    });
    assert.deepEqual(reasons('sparse.onnx', ['int8']), {
      'sparse.w1': 'declared as sparse_initializer',
      'sparse.w2': 'declared as sparse_initializer',
    });
    assert.match(
      reasons('cnn.onnx', ['int8'])['conv1.weight'],
      /too small to pay off \(216 elements\)/,
    );
  });

  it('says why a float16 weight is left alone by fp16 and bf16', () => {
    const dir = join(root, 'skips-half');
    writeZoo(dir);
    for (const methods of [['fp16'], ['bf16']] as CompressSpec['methods'][]) {
      const r = compressFile(join(dir, 'halfweights.onnx'), { methods, options: {} }).report;
      assert.deepEqual(
        r.skipped.map((x) => [x.name, x.reason]),
        [['h.w', 'already 16-bit (float16)']],
      );
    }
  });
});
