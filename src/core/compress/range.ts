import { dtypeInfo } from '../dtypes';
import type { RandomAccessSource } from '../io/source';
import type { TensorRef } from '../model';
import { streamElements, type SourceOpener } from '../stats/decode';
import type { MethodName } from './types';

/**
 * The range rule: no method clips. A tensor whose values the type it would be stored in cannot
 * hold keeps its own type (and the report says why) unless the user asked for clipping.
 */

/** Largest finite |value| of a tensor, read piece by piece (the range rule checks it before anything is stored). */
function peakAbs(source: RandomAccessSource, ref: TensorRef, openFile: SourceOpener): number {
  let peak = 0;
  streamElements(source, ref, openFile, (v, n) => {
    for (let i = 0; i < n; i++) {
      const a = Math.abs(v[i]);
      if (a > peak && a !== Infinity) peak = a;
    }
  });
  return peak;
}

/** Magnitudes from which a value overflows the stored type (round-to-nearest-even's threshold), and its range as said. */
const STORED_RANGE = {
  fp16: { overflow: 65520, range: "fp16's ±65504" },
  bf16: { overflow: 3.39617752923046e38, range: "bf16's ±3.39e38" },
  float32: { overflow: 2 ** 128 - 2 ** 103, range: "float32's ±3.4e38" },
};

/**
 * The range rule: why a tensor must stay as it is because the type it would be stored in (or
 * float32, which every method computes in) cannot hold its values, or undefined when it can.
 */
export function rangeObstacle(
  source: RandomAccessSource,
  t: TensorRef,
  storage: MethodName | undefined,
  openFile: SourceOpener,
): string | undefined {
  const limits = [
    ...(t.dtype === 11 ? [STORED_RANGE.float32] : []),
    ...(storage === 'fp16' || storage === 'bf16' ? [STORED_RANGE[storage]] : []),
  ];
  if (!limits.length) return undefined;
  const peak = peakAbs(source, t, openFile);
  const over = limits.find((l) => peak >= l.overflow);
  return (
    over &&
    `values up to ${peak.toPrecision(3)} exceed ${over.range}; kept ${dtypeInfo(t.dtype).name} (--allow-clip to clip)`
  );
}
