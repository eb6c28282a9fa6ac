/** Sign / ternary quantization (Ternary Weight Networks): w ≈ a_c · t with t ∈ {-1, 0, +1} per output channel c. */

import type { LinearQuantized, WeightLayout } from '../types';
import { splitAt } from './layout';

export interface TernaryOptions {
  /** Zero band as a fraction of the channel's mean |w|: |w| ≤ threshold·mean|w| codes 0 (default 0.7, TWN). 0 gives pure sign. */
  threshold?: number;
}

/**
 * Codes t = sign(w) where |w| > Δ_c, else 0, with Δ_c = threshold · mean|w| over channel c, and scale
 * a_c = mean |w| over the channel's nonzero-coded weights (the L2-optimal scale for fixed codes).
 * With threshold 0 every nonzero weight codes ±1 and exact zeros stay 0. A channel with no nonzero code
 * gets scale 1 (it dequantizes to zeros whatever the scale). Non-finite weights code 0 and are left out of the means.
 * The result is a per-axis LinearQuantized (int8 codes, bits 2), so dequantizeLinear and DequantizeLinear apply.
 */
export function quantizeTernary(
  values: Float32Array,
  layout: WeightLayout,
  options: TernaryOptions = {},
): LinearQuantized {
  const factor = options.threshold ?? 0.7;
  if (!(factor >= 0 && Number.isFinite(factor)))
    throw new RangeError(`threshold must be a finite number ≥ 0, got ${factor}`);
  const n = values.length;
  const { outer, size, inner } = splitAt(layout, layout.outputAxis, n);
  const sumAbs = new Float64Array(size);
  const finite = new Float64Array(size);
  let i = 0;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < size; c++) {
      let s = 0;
      let k = 0;
      for (let end = i + inner; i < end; i++) {
        const a = Math.abs(values[i]);
        if (a !== Infinity && a === a) {
          s += a;
          k++;
        }
      }
      sumAbs[c] += s;
      finite[c] += k;
    }
  }
  const delta = new Float64Array(size);
  for (let c = 0; c < size; c++) delta[c] = finite[c] > 0 ? (factor * sumAbs[c]) / finite[c] : 0;

  const q = new Int8Array(n);
  const keptSum = new Float64Array(size);
  const kept = new Float64Array(size);
  i = 0;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < size; c++) {
      const d = delta[c];
      let s = 0;
      let k = 0;
      for (let end = i + inner; i < end; i++) {
        const v = values[i];
        if (v > d) {
          if (v !== Infinity) {
            q[i] = 1;
            s += v;
            k++;
          }
        } else if (v < -d && v !== -Infinity) {
          q[i] = -1;
          s -= v;
          k++;
        }
      }
      keptSum[c] += s;
      kept[c] += k;
    }
  }
  const scale = new Float32Array(size);
  for (let c = 0; c < size; c++) scale[c] = kept[c] > 0 ? Math.fround(keptSum[c] / kept[c]) : 1;
  return { q, signed: true, bits: 2, scale, axis: layout.outputAxis };
}
