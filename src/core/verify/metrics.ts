import { dtypeInfo } from '../dtypes';
import { formatShape, isFloatDtype, numericValues, verifyError, type HostTensor } from './tensor';

/** How one output pair differs in one sample. Only positions where both values are finite count. */
export interface SampleMetrics {
  /** a·b / (‖a‖‖b‖); 1 when both are all zeros, 0 when only one is. */
  cosine: number;
  /** ‖a − b‖ / ‖a‖; 0 when both are all zeros, Infinity when only a is. */
  relL2: number;
  maxAbs: number;
  /** Positions where the two disagree on a non-finite value (NaN vs number, +Inf vs −Inf, ...). */
  nonFinite: number;
}

export function sampleMetrics(a: ArrayLike<number>, b: ArrayLike<number>): SampleMetrics {
  let dot = 0;
  let aa = 0;
  let bb = 0;
  let dd = 0;
  let maxAbs = 0;
  let nonFinite = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (!Number.isFinite(x) || !Number.isFinite(y)) {
      if (!Object.is(x, y)) nonFinite++;
      continue;
    }
    const d = x - y;
    dot += x * y;
    aa += x * x;
    bb += y * y;
    dd += d * d;
    const ad = Math.abs(d);
    if (ad > maxAbs) maxAbs = ad;
  }
  // sqrt(aa * bb) rather than sqrt(aa) * sqrt(bb): identical outputs then give exactly 1.
  const cosine =
    aa === 0 && bb === 0
      ? 1
      : aa === 0 || bb === 0
        ? 0
        : Math.max(-1, Math.min(1, dot / Math.sqrt(aa * bb)));
  const relL2 = dd === 0 ? 0 : aa === 0 ? Infinity : Math.sqrt(dd / aa);
  return { cosine, relL2, maxAbs, nonFinite };
}

/** Index of the largest value of each row (first on ties, NaN ignored; -1 for an all-NaN row). */
export function rowArgmax(v: ArrayLike<number>, rows: number, cols: number): Int32Array {
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = -1;
    let bestValue = -Infinity;
    for (let c = 0; c < cols; c++) {
      const x = v[r * cols + c];
      if (x > bestValue || (best < 0 && x === -Infinity)) {
        best = c;
        bestValue = x;
      }
    }
    out[r] = best;
  }
  return out;
}

/** A classifier-shaped output: float [N, C] with C ≥ 2, where top-1 agreement means something. */
export function isClassifierShaped(t: HostTensor): boolean {
  return isFloatDtype(t.dtype) && t.dims.length === 2 && t.dims[1] >= 2;
}

/** One output's comparison over all samples. */
export interface OutputReport {
  name: string;
  dtype: string;
  /** Shape in the first sample. */
  shape: number[];
  /** Mean over samples of the per-sample cosine similarity. */
  cosine: number;
  /** Worst (lowest) per-sample cosine similarity. */
  cosineMin: number;
  /** Mean over samples of the per-sample relative L2 error ‖a − b‖ / ‖a‖ (a: original). */
  relL2: number;
  /** Worst (largest) per-sample relative L2 error. */
  relL2Max: number;
  /** Largest absolute element difference over all samples. */
  maxAbs: number;
  /** Fraction of rows, over all samples, whose argmax agrees (classifier-shaped outputs only). */
  top1?: number;
  /** Rows that top1 counts. */
  top1Rows?: number;
  /** Positions, over all samples, where the two disagree on a non-finite value (left out of the other metrics). */
  nonFinite: number;
}

/** Accumulates the per-sample comparisons of one output. */
export class OutputComparison {
  private samples = 0;
  private cosineSum = 0;
  private cosineMin = Infinity;
  private relSum = 0;
  private relMax = 0;
  private maxAbs = 0;
  private nonFinite = 0;
  private top1Agree = 0;
  private top1Rows = 0;
  private classifier = true;
  private dtype = 0;
  private shape: number[] = [];

  constructor(readonly name: string) {}

  add(a: HostTensor, b: HostTensor): void {
    if (a.dims.length !== b.dims.length || a.dims.some((d, k) => d !== b.dims[k])) {
      verifyError(
        `output '${this.name}' has shape ${formatShape(a.dims)} from the original but ${formatShape(b.dims)} from the variant`,
      );
    }
    if (this.samples === 0) {
      this.dtype = a.dtype;
      this.shape = [...a.dims];
    }
    const va = numericValues(a);
    const vb = numericValues(b);
    const m = sampleMetrics(va, vb);
    this.samples++;
    this.cosineSum += m.cosine;
    this.cosineMin = Math.min(this.cosineMin, m.cosine);
    this.relSum += m.relL2;
    this.relMax = Math.max(this.relMax, m.relL2);
    this.maxAbs = Math.max(this.maxAbs, m.maxAbs);
    this.nonFinite += m.nonFinite;
    this.classifier &&= isClassifierShaped(a) && isClassifierShaped(b);
    if (this.classifier) {
      const [rows, cols] = a.dims;
      const ta = rowArgmax(va, rows, cols);
      const tb = rowArgmax(vb, rows, cols);
      for (let r = 0; r < rows; r++) if (ta[r] === tb[r]) this.top1Agree++;
      this.top1Rows += rows;
    }
  }

  report(): OutputReport {
    const r: OutputReport = {
      name: this.name,
      dtype: dtypeInfo(this.dtype).name,
      shape: this.shape,
      cosine: this.samples ? this.cosineSum / this.samples : 1,
      cosineMin: this.samples ? this.cosineMin : 1,
      relL2: this.samples ? this.relSum / this.samples : 0,
      relL2Max: this.relMax,
      maxAbs: this.maxAbs,
      nonFinite: this.nonFinite,
    };
    if (this.classifier && this.top1Rows > 0) {
      r.top1 = this.top1Agree / this.top1Rows;
      r.top1Rows = this.top1Rows;
    }
    return r;
  }
}
