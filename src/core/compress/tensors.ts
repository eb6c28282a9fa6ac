/** Reading a weight's values for compression, and the pruning every format's compressor shares. */

import type { RandomAccessSource } from '../io/source';
import type { TensorRef } from '../model';
import { readRawFloat32, streamElements, type SourceOpener } from '../stats/decode';
import {
  applyMask,
  pruneGlobalMagnitude,
  pruneGlobalRandom,
  pruneMagnitude,
  pruneMean,
  pruneNM,
  pruneRandom,
  pruneThreshold,
} from './methods';
import type { CompressSpec } from './spec';
import type { WeightCandidate } from './weights';

const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * Reads a tensor's values as float32, the precision every method works in. float64 values past
 * float32's range are clipped to ±max (and counted) rather than silently becoming ±Inf.
 */
export function readWeights(
  source: RandomAccessSource,
  ref: TensorRef,
  openFile: SourceOpener,
  into?: Float32Array,
): { values: Float32Array; clipped: number } {
  const out = into ?? new Float32Array(ref.count);
  if (readRawFloat32(source, ref, openFile, out)) return { values: out, clipped: 0 };
  let at = 0;
  let clipped = 0;
  streamElements(source, ref, openFile, (v, n) => {
    if (v instanceof Float32Array) {
      // Already float32: nothing to clip, and a block copy instead of a loop.
      out.set(v.subarray(0, n), at);
      at += n;
      return;
    }
    for (let i = 0; i < n; i++) {
      const x = v[i];
      if (x > FLOAT32_MAX && x !== Infinity) {
        out[at + i] = FLOAT32_MAX;
        clipped++;
      } else if (x < -FLOAT32_MAX && x !== -Infinity) {
        out[at + i] = -FLOAT32_MAX;
        clipped++;
      } else out[at + i] = x;
    }
    at += n;
  });
  return { values: out, clipped };
}

/** A tensor's values as float32 (see readWeights). */
export function readFloat32(
  source: RandomAccessSource,
  ref: TensorRef,
  openFile: SourceOpener,
): Float32Array {
  return readWeights(source, ref, openFile).values;
}

/** A tensor's values in float64 (exact for every float dtype: the prune-only path keeps float64 weights as they are). */
export function readFloat64(
  source: RandomAccessSource,
  ref: TensorRef,
  openFile: SourceOpener,
): Float64Array {
  const out = new Float64Array(ref.count);
  let at = 0;
  streamElements(source, ref, openFile, (v, n) => {
    out.set(v.subarray(0, n), at);
    at += n;
  });
  return out;
}

/** Global pruning ranks all tensors together, so it needs every tensor's values at once. */
export function isGlobalPrune(spec: CompressSpec): boolean {
  return (
    spec.methods[0] === 'prune' &&
    spec.options.sparsity !== undefined &&
    spec.options.scope === 'global'
  );
}

export function pruneGlobal(values: Float32Array[], spec: CompressSpec): Float32Array[] {
  const o = spec.options;
  const masks = o.random
    ? pruneGlobalRandom(values, o.sparsity!, o.seed ?? 0)
    : pruneGlobalMagnitude(values, o.sparsity!);
  return values.map((v, i) => applyMask(v, masks[i]));
}

/** Per-tensor pruning (every criterion but global ranking); `i` varies the seed per tensor. */
export function pruneOne(
  v: Float32Array,
  c: WeightCandidate,
  spec: CompressSpec,
  i: number,
): Float32Array {
  const o = spec.options;
  let mask: Uint8Array;
  if (o.pattern) mask = pruneNM(v, c.layout, o.pattern);
  else if (o.threshold === 'mean') mask = pruneMean(v);
  else if (typeof o.threshold === 'number') mask = pruneThreshold(v, o.threshold);
  else if (o.random) mask = pruneRandom(v, o.sparsity ?? 0.5, (o.seed ?? 0) + i);
  else mask = pruneMagnitude(v, o.sparsity ?? 0.5);
  return applyMask(v, mask);
}
