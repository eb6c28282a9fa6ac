import * as path from 'node:path';
import { convAttributes } from '../core/compress/hessianPlan';
import { convGeometry, DAMP } from '../core/compress/methods/obs';
import {
  accumulateConvFit,
  accumulateRowsFit,
  LeastSquares,
  relativeError,
  solveLeastSquares,
} from '../core/compress/methods/refit';
import type { ReconstructionReport } from '../core/compress/report';
import { readFloat64 } from '../core/compress/tensors';
import { CancelledError, invalid } from '../core/errors';
import { readModel } from '../core/formats';
import { readGraphNodes, type GraphNode } from '../core/formats/onnx/nodes';
import { encodeFloats } from '../core/formats/onnx/structure/remove';
import { writeOnnx, type TensorEdit } from '../core/formats/onnx/writer';
import { MemorySource } from '../core/io/source';
import type { Model, TensorRef } from '../core/model';
import { OutputComparison } from '../core/verify/metrics';
import { Rng } from '../core/verify/random';
import { realInputs } from '../core/verify/inputs';
import { isSupportedDtype, numericValues, type HostTensor } from '../core/verify/tensor';
import type { InputPlan, RuntimeSession } from '../core/verify/verify';
import type { ModelBytes } from './activations';
import { memorySink } from './inMemory';
import type { loadOrtWeb } from './verify/ortWeb';
import { openOrtWebSession } from './verify/ortWeb';

/** Activation rows per layer per calibration sample a fit takes at most (a seeded subset of positions). */
export const RECONSTRUCT_ROW_BUDGET = 4096;
/**
 * A layer is refit only with at least this many calibration rows per input (a squeeze-excitation layer sees one
 * row per sample): fewer, and least squares reproduces the calibration samples rather than the layer. With the
 * ridge pulling towards the cut weights, 1 did best on the zoo (embedding model held-out cosine 0.84 against 0.73
 * with 4; PP-OCR cls 0.738 against 0.747).
 */
export const MIN_ROWS_PER_INPUT = 1;
/** At most this many rounds of student runs: deeper graphs fit several levels of layers per round. */
export const RECONSTRUCT_MAX_STAGES = 64;

export interface ReconstructOptions {
  ort: ReturnType<typeof loadOrtWeb>['ort'];
  teacherLabel: string;
  teacher: ModelBytes;
  teacherModel: Model;
  /** The plain cut (no external data), and which teacher indices each of its sliced tensors kept. */
  student: Uint8Array;
  kept: Record<string, Record<number, number[]>>;
  /** The samples the layers are fit on, and those plain cut and reconstruction are compared on. */
  calibration: InputPlan;
  heldOut: InputPlan;
  evaluation: ReconstructionReport['evaluation'];
  inputs: ReconstructionReport['inputs'];
  measuredOn: string;
  seed: number;
  rowBudget?: number;
  minRowsPerInput?: number;
  maxStages?: number;
  cancelled?: () => boolean;
  progress?: (what: string) => void;
}

/** A layer of the student the reconstruction refits. */
interface Layer {
  id: number;
  node: GraphNode;
  op: 'Conv' | 'Gemm' | 'MatMul';
  weight: string;
  bias?: string;
  /**
   * A Conv without a bias whose only reader is a BatchNormalization: the fitted bias b goes into the norm's
   * running mean (mean − b), which is the same function.
   */
  normMean?: string;
  /** Teacher channel of each student output channel. */
  outChannels: number[];
  transB: boolean;
  stage: number;
  /** Set when it is left as cut. */
  skip?: string;
}

const range = (n: number) => [...Array(n).keys()];

/** The student's layers whose weights the cut changed, in graph order, with the round each is fit in. */
function layersOf(
  nodes: readonly GraphNode[],
  constants: ReadonlyMap<string, TensorRef>,
  kept: ReconstructOptions['kept'],
  inputs: readonly string[],
  outputs: ReadonlySet<string>,
  maxStages: number,
): Layer[] {
  const layers: Layer[] = [];
  const readers = new Map<string, GraphNode[]>();
  for (const n of nodes)
    for (const i of n.inputs) if (i) readers.set(i, [...(readers.get(i) ?? []), n]);
  const level = new Map<string, number>(inputs.map((i) => [i, 0]));
  for (const node of nodes) {
    const at = Math.max(0, ...node.inputs.map((i) => level.get(i) ?? 0));
    let out = at;
    const w = constants.get(node.inputs[1] ?? '');
    const isLayer =
      (node.op === 'Conv' || node.op === 'Gemm' || node.op === 'MatMul') &&
      w &&
      !constants.has(node.inputs[0]) &&
      kept[w.name];
    if (isLayer && w) {
      const op = node.op as Layer['op'];
      const transB = op === 'Gemm' && (node.ints.transB ?? 0) === 1;
      const outAxis = op === 'Conv' || transB ? 0 : w.dims.length - 1;
      const b = node.inputs[2] || undefined;
      const layer: Layer = {
        id: layers.length,
        node,
        op,
        weight: w.name,
        bias: b,
        outChannels: kept[w.name][outAxis] ?? range(w.dims[outAxis]),
        transB,
        stage: at,
      };
      if (op === 'Conv' && !b) {
        const r = readers.get(node.outputs[0]) ?? [];
        const mean =
          r.length === 1 && r[0].op === 'BatchNormalization' && r[0].inputs[0] === node.outputs[0]
            ? constants.get(r[0].inputs[3])
            : undefined;
        if (mean && mean.dtype === 1 && mean.count === w.dims[0] && !outputs.has(node.outputs[0]))
          layer.normMean = mean.name;
      }
      if (b && !constants.has(b)) layer.skip = 'its bias is not a constant';
      else if (
        op === 'Gemm' &&
        ((node.ints.transA ?? 0) !== 0 ||
          (node.floats?.alpha ?? 1) !== 1 ||
          (node.floats?.beta ?? 1) !== 1)
      )
        layer.skip = 'Gemm with transA, alpha or beta';
      else if (op === 'Gemm' && b && constants.get(b)!.count !== layer.outChannels.length)
        layer.skip = 'its bias is broadcast';
      else if (op === 'MatMul' && w.dims.length !== 2) layer.skip = 'a batched MatMul weight';
      else if (op === 'Conv' && w.dims.length < 3) layer.skip = 'a Conv weight of rank < 3';
      else if (w.dtype !== 1) layer.skip = 'weights that are not float32';
      layers.push(layer);
      if (!layer.skip) out = at + 1;
    }
    for (const o of node.outputs) if (o) level.set(o, out);
  }
  // Rounds: each level of layers is fit on inputs from every earlier level refit; beyond maxStages, levels share rounds.
  const levels = [...new Set(layers.filter((l) => !l.skip).map((l) => l.stage))].sort(
    (a, b) => a - b,
  );
  const per = Math.ceil(levels.length / maxStages) || 1;
  const round = new Map(levels.map((l, k) => [l, Math.floor(k / per)]));
  for (const l of layers) l.stage = round.get(l.stage) ?? -1;
  return layers;
}

/** The least-squares layout of a layer's current weights: per group, n×m row-major (input i, output j), the bias as the last row. */
function toRows(
  l: Layer,
  w: Float64Array,
  dims: readonly number[],
  bias: Float64Array | undefined,
): Float64Array[] {
  if (l.op === 'Conv') {
    const group = l.node.ints.group ?? 1;
    const m = dims[0] / group;
    const patch = w.length / dims[0];
    const n = patch + (bias ? 1 : 0);
    return range(group).map((g) => {
      const r = new Float64Array(n * m);
      for (let j = 0; j < m; j++) {
        const o = g * m + j;
        for (let i = 0; i < patch; i++) r[i * m + j] = w[o * patch + i];
        if (bias) r[patch * m + j] = bias[o];
      }
      return r;
    });
  }
  const [a, b] = dims;
  const [k, m] = l.transB ? [b, a] : [a, b];
  const r = new Float64Array((k + (bias ? 1 : 0)) * m);
  for (let i = 0; i < k; i++)
    for (let j = 0; j < m; j++) r[i * m + j] = l.transB ? w[j * k + i] : w[i * m + j];
  if (bias) for (let j = 0; j < m; j++) r[k * m + j] = bias[j];
  return [r];
}

/** The inverse of toRows: the weight (and bias) tensors' values. */
function fromRows(
  l: Layer,
  rows: Float64Array[],
  dims: readonly number[],
  hasBias: boolean,
): { w: Float64Array; b?: Float64Array } {
  const count = dims.reduce((a, b) => a * b, 1);
  const w = new Float64Array(count);
  if (l.op === 'Conv') {
    const group = rows.length;
    const m = dims[0] / group;
    const patch = count / dims[0];
    const b = hasBias ? new Float64Array(dims[0]) : undefined;
    rows.forEach((r, g) => {
      for (let j = 0; j < m; j++) {
        const o = g * m + j;
        for (let i = 0; i < patch; i++) w[o * patch + i] = r[i * m + j];
        if (b) b[o] = r[patch * m + j];
      }
    });
    return { w, b };
  }
  const [a, bb] = dims;
  const [k, m] = l.transB ? [bb, a] : [a, bb];
  const r = rows[0];
  for (let i = 0; i < k; i++)
    for (let j = 0; j < m; j++) w[l.transB ? j * k + i : i * m + j] = r[i * m + j];
  const b = hasBias ? Float64Array.from({ length: m }, (_, j) => r[k * m + j]) : undefined;
  return { w, b };
}

function constantsOf(model: Model): Map<string, TensorRef> {
  return new Map(
    model.tensors
      .filter((t) => t.scope === '' && (t.origin === 'initializer' || t.origin === 'Constant'))
      .map((t) => [t.name, t]),
  );
}

/** `bytes` with `names` added as graph outputs (untyped: onnxruntime gives them their own type). */
function tapped(bytes: Uint8Array, label: string, names: readonly string[]): Uint8Array {
  const sink = memorySink();
  writeOnnx(
    new MemorySource(bytes, label),
    { edits: [], outputs: names.map((name) => ({ name, dtype: 0 })) },
    sink,
  );
  return sink.bytes();
}

/**
 * Layer-wise reconstruction of a channel cut (He et al. 2017; ThiNet): in graph order, round by round, runs the
 * teacher and the student on the calibration samples, fits every changed layer of the round to the teacher's
 * outputs of that layer (on the channels it kept) from the student's own inputs, and writes the refit weights
 * before the next round, so later layers correct what earlier ones could not. A refit that does not lower the
 * layer's error on the calibration rows is not applied. Then compares plain cut and reconstruction on held-out samples.
 */
export async function reconstruct(
  o: ReconstructOptions,
): Promise<{ bytes: Uint8Array; report: ReconstructionReport }> {
  const started = performance.now();
  const budget = o.rowBudget ?? RECONSTRUCT_ROW_BUDGET;
  const check = () => {
    if (o.cancelled?.()) throw new CancelledError();
  };
  const label = path.basename(o.teacherLabel);
  const studentModel = readModel(new MemorySource(o.student, label), label);
  const nodes = readGraphNodes(new MemorySource(o.student, label));
  const modelInputs = realInputs(studentModel).map((i) => i.name);
  const layers = layersOf(
    nodes,
    constantsOf(studentModel),
    o.kept,
    modelInputs,
    new Set(studentModel.outputs.map((x) => x.name)),
    o.maxStages ?? RECONSTRUCT_MAX_STAGES,
  );
  const active = layers.filter((l) => !l.skip);
  const stages = active.reduce((n, l) => Math.max(n, l.stage + 1), 0);
  const known = new Set([
    ...studentModel.inputs.map((i) => i.name),
    ...studentModel.outputs.map((x) => x.name),
  ]);
  const teacherTaps = [...new Set(active.map((l) => l.node.outputs[0]))].filter(
    (n) => !known.has(n),
  );
  const studentTaps = [...new Set(active.map((l) => l.node.inputs[0]))].filter(
    (n) => !known.has(n),
  );
  const errors = new Map<
    number,
    { before: number; after: number; refit: boolean; note?: string }
  >();

  let student = o.student;
  const teacher = await openOrtWebSession(
    o.ort,
    o.teacherLabel,
    tapped(o.teacher.bytes, label, teacherTaps),
    o.teacher.externalData,
  );
  try {
    for (let stage = 0; stage < stages; stage++) {
      check();
      const round = active.filter((l) => l.stage === stage);
      const model = readModel(new MemorySource(student, label), label);
      const constants = constantsOf(model);
      const source = new MemorySource(student, label);
      const read = (name: string) =>
        readFloat64(source, constants.get(name)!, () =>
          invalid('the variant has no external data'),
        );
      const fits = new Map<number, LeastSquares[]>();
      const session = await openOrtWebSession(
        o.ort,
        `${label} (student)`,
        tapped(student, label, studentTaps),
        [],
      );
      try {
        for (let i = 0; i < o.calibration.samples; i++) {
          check();
          o.progress?.(
            `reconstruction round ${stage + 1}/${stages}, sample ${i + 1}/${o.calibration.samples}`,
          );
          const yOut = await teacher.run(o.calibration.feeds(i, teacher.inputNames), [
            ...new Set(round.map((l) => l.node.outputs[0])),
          ]);
          const fed = o.calibration.feeds(i, session.inputNames);
          const xFetch = [
            ...new Set(round.map((l) => l.node.inputs[0]).filter((n) => !fed.has(n))),
          ];
          const xOut = xFetch.length
            ? await session.run(fed, xFetch)
            : new Map<string, HostTensor>();
          for (const l of round) {
            if (l.skip) continue;
            const xt = xOut.get(l.node.inputs[0]) ?? fed.get(l.node.inputs[0])!;
            const yt = yOut.get(l.node.outputs[0])!;
            const rows = {
              budget,
              rng: new Rng(
                o.seed,
                (Math.imul(i + 1, 0x9e3779b1) ^ Math.imul(l.id + 1, 0x85ebca77)) >>> 0,
              ),
            };
            const w = constants.get(l.weight)!;
            const bias = l.bias !== undefined || l.normMean !== undefined;
            try {
              if (l.op === 'Conv') {
                const geo = convGeometry(convAttributes(l.node), xt.dims, w.dims);
                const n =
                  geo.groupChannels * geo.kernel.reduce((a, b) => a * b, 1) + (bias ? 1 : 0);
                let f = fits.get(l.id);
                if (!f)
                  fits.set(
                    l.id,
                    (f = range(geo.group).map(() => new LeastSquares(n, w.dims[0] / geo.group))),
                  );
                accumulateConvFit(
                  f,
                  numericValues(xt),
                  xt.dims,
                  geo,
                  numericValues(yt),
                  yt.dims,
                  l.outChannels,
                  bias,
                  rows,
                );
              } else {
                const k = l.transB ? w.dims[1] : w.dims[0];
                let f = fits.get(l.id);
                if (!f)
                  fits.set(
                    l.id,
                    (f = [new LeastSquares(k + (bias ? 1 : 0), l.outChannels.length)]),
                  );
                accumulateRowsFit(
                  f[0],
                  numericValues(xt),
                  xt.dims,
                  numericValues(yt),
                  yt.dims,
                  l.outChannels,
                  bias,
                  rows,
                );
              }
            } catch (err) {
              if (!(err instanceof RangeError)) throw err;
              l.skip = err.message;
              fits.delete(l.id);
            }
          }
        }
      } finally {
        await session.release();
      }
      const edits: TensorEdit[] = [];
      for (const l of round) {
        const f = fits.get(l.id);
        if (!f) continue;
        const w = constants.get(l.weight)!;
        const b = l.bias ? constants.get(l.bias) : undefined;
        const current = toRows(
          l,
          read(l.weight),
          w.dims,
          b ? read(b.name) : l.normMean ? new Float64Array(w.dims[0]) : undefined,
        );
        const rowsSeen = f[0].rows;
        const minRows = o.minRowsPerInput ?? MIN_ROWS_PER_INPUT;
        if (rowsSeen < minRows * f[0].n) {
          l.skip = `fewer calibration rows than inputs: a fit would memorise them`;
          continue;
        }
        const solved = f.map((fit, g) => solveLeastSquares(fit, DAMP, current[g]));
        const rss = (ws: Float64Array[]) =>
          f.reduce((s, fit, g) => s + relativeError(fit, ws[g]) * fit.yy, 0);
        const yy = f.reduce((s, fit) => s + fit.yy, 0);
        const before = yy > 0 ? rss(current) / yy : 0;
        if (solved.some((s) => !s)) {
          errors.set(l.id, {
            before,
            after: before,
            refit: false,
            note: 'the least-squares system is not finite',
          });
          continue;
        }
        const after = yy > 0 ? rss(solved as Float64Array[]) / yy : 0;
        const refit = after < before;
        errors.set(l.id, {
          before,
          after: refit ? after : before,
          refit,
          ...(refit ? {} : { note: 'the refit did not lower the error: kept as cut' }),
        });
        if (!refit) continue;
        const values = fromRows(l, solved as Float64Array[], w.dims, !!b || !!l.normMean);
        if (l.normMean && values.b) {
          const mean = constants.get(l.normMean)!;
          const shifted = read(mean.name).map((v, c) => v - values.b![c]);
          edits.push({
            tensor: mean,
            initializers: [
              {
                name: mean.name,
                dtype: mean.dtype,
                dims: [...mean.dims],
                data: encodeFloats(shifted, mean.dtype),
              },
            ],
            nodes: [],
          });
        }
        edits.push({
          tensor: w,
          initializers: [
            {
              name: w.name,
              dtype: w.dtype,
              dims: [...w.dims],
              data: encodeFloats(values.w, w.dtype),
            },
          ],
          nodes: [],
        });
        if (b && values.b)
          edits.push({
            tensor: b,
            initializers: [
              {
                name: b.name,
                dtype: b.dtype,
                dims: [...b.dims],
                data: encodeFloats(values.b, b.dtype),
              },
            ],
            nodes: [],
          });
      }
      if (edits.length) {
        const sink = memorySink();
        writeOnnx(new MemorySource(student, label), { edits }, sink);
        student = sink.bytes();
      }
    }

    // Held-out comparison: the teacher against the plain cut and against the reconstruction.
    const fetch = studentModel.outputs.filter((x) => isSupportedDtype(x.dtype)).map((x) => x.name);
    const plain = fetch.map((n) => new OutputComparison(n));
    const rebuilt = fetch.map((n) => new OutputComparison(n));
    const sessions: RuntimeSession[] = [];
    try {
      sessions.push(await openOrtWebSession(o.ort, `${label} (cut)`, o.student, []));
      sessions.push(await openOrtWebSession(o.ort, `${label} (reconstructed)`, student, []));
      for (let s = 0; s < o.heldOut.samples; s++) {
        check();
        o.progress?.(`held-out sample ${s + 1}/${o.heldOut.samples}`);
        const ref = await teacher.run(o.heldOut.feeds(s, teacher.inputNames), fetch);
        const a = await sessions[0].run(o.heldOut.feeds(s, sessions[0].inputNames), fetch);
        const b = await sessions[1].run(o.heldOut.feeds(s, sessions[1].inputNames), fetch);
        fetch.forEach((n, k) => {
          plain[k].add(ref.get(n)!, a.get(n)!);
          rebuilt[k].add(ref.get(n)!, b.get(n)!);
        });
      }
    } finally {
      for (const x of sessions) await x.release();
    }
    const report: ReconstructionReport = {
      samples: o.calibration.samples,
      heldOut: o.heldOut.samples,
      evaluation: o.evaluation,
      inputs: o.inputs,
      measuredOn: o.measuredOn,
      rowBudget: budget,
      stages,
      layers: layers.map((l) => {
        const e = errors.get(l.id);
        return {
          name: l.node.name || l.node.outputs[0],
          op: l.op,
          ...(e ? { before: e.before, after: e.after } : {}),
          refit: e?.refit ?? false,
          ...(l.skip || e?.note ? { note: l.skip ? `kept as cut: ${l.skip}` : e!.note } : {}),
        };
      }),
      outputs: fetch.map((name, k) => ({
        name,
        plainCosine: plain[k].report().cosine,
        cosine: rebuilt[k].report().cosine,
      })),
      elapsedMs: performance.now() - started,
    };
    return { bytes: student, report };
  } finally {
    await teacher.release();
  }
}
