/**
 * The WebAssembly SIMD kernels of kernels.wat, for float32 data. Values are staged chunk by chunk
 * into the module's memory; callers keep their JavaScript loops for everything else (float64
 * data, rare branches) and for engines without WebAssembly SIMD, where wasmKernels() is undefined.
 */
import base64 from './kernels.wat';

/** The parts of the WebAssembly API used here (this project's TypeScript libraries do not declare it). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}

interface Exports {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  moments(ptr: number, n: number, thr: number, acc: number): void;
  histogram(ptr: number, n: number, first: number, last: number, norm: number, margin: number, top: number, c: number, stride: number, edges: number): void;
}

/** Elements staged per kernel call (a multiple of 4, so lanes continue across calls). */
export const STAGE = 1 << 16;
/** Byte offsets in the module's memory: accumulators, then one staging area, then tables. */
const ACC = 0;
const STAGE_A = 256;
const TABLES = STAGE_A + STAGE * 4;

/** Moments.add's fast-pass accumulators (lane k holds elements k mod 4): float64 sums, float32 extremes, zero counts. */
export interface MomentLanes {
  sum: Float64Array;
  squares: Float64Array;
  min: Float32Array;
  max: Float32Array;
  zeros: Int32Array;
}

export class WasmKernels {
  private f32!: Float32Array;
  private f64!: Float64Array;
  private u32!: Uint32Array;

  constructor(private readonly exports: Exports) {
    this.views();
  }

  private views(): void {
    const buffer = this.exports.memory.buffer;
    this.f32 = new Float32Array(buffer);
    this.f64 = new Float64Array(buffer);
    this.u32 = new Uint32Array(buffer);
  }

  /** Makes the tables area at least `bytes` long. */
  private tables(bytes: number): number {
    const memory = this.exports.memory;
    const need = TABLES + bytes - memory.buffer.byteLength;
    if (need > 0) {
      memory.grow(Math.ceil(need / 65536));
      this.views();
    }
    return TABLES;
  }

  /** Moments.add's fast pass over the first n values of v, continuing `lanes` (see kernels.wat `moments`). */
  moments(v: Float32Array, n: number, nearZero: number, lanes: MomentLanes): void {
    const f64 = this.f64;
    const f32 = this.f32;
    const base = ACC / 8;
    f64.set(lanes.sum, base);
    f64.set(lanes.squares, base + 4);
    f32.set(lanes.min, ACC / 4 + 16);
    f32.set(lanes.max, ACC / 4 + 20);
    this.u32.set(lanes.zeros, ACC / 4 + 24);
    const thr = float32AtMost(nearZero);
    for (let at = 0; at < n; at += STAGE) {
      const k = Math.min(STAGE, n - at);
      f32.set(v.subarray(at, at + k), STAGE_A / 4);
      this.exports.moments(STAGE_A, k, thr, ACC);
    }
    lanes.sum.set(f64.subarray(base, base + 4));
    lanes.squares.set(f64.subarray(base + 4, base + 8));
    lanes.min.set(f32.subarray(ACC / 4 + 16, ACC / 4 + 20));
    lanes.max.set(f32.subarray(ACC / 4 + 20, ACC / 4 + 24));
    lanes.zeros.set(this.u32.subarray(ACC / 4 + 24, ACC / 4 + 28));
  }

  /**
   * HistogramBuilder.add over the first n values of v: adds each value's count to `counts`
   * (bins + 1 counters, the last for values outside [first, last]). `edges` is binEdges(first, last, bins).
   */
  histogram(v: Float32Array, n: number, first: number, last: number, norm: number, margin: number, edges: Float64Array, counts: Uint32Array): void {
    const lane = counts.length;
    const stride = lane * 4;
    const at0 = this.tables(4 * stride + edges.length * 8);
    const edgesAt = at0 + 4 * stride;
    const u32 = this.u32;
    u32.fill(0, at0 / 4, at0 / 4 + 4 * lane);
    this.f64.set(edges, edgesAt / 8);
    for (let at = 0; at < n; at += STAGE) {
      const k = Math.min(STAGE, n - at);
      this.f32.set(v.subarray(at, at + k), STAGE_A / 4);
      this.exports.histogram(STAGE_A, k, first, last, norm, margin, lane - 2, at0, stride, edgesAt);
    }
    const c = at0 / 4;
    for (let b = 0; b < lane; b++) counts[b] += u32[c + b] + u32[c + lane + b] + u32[c + 2 * lane + b] + u32[c + 3 * lane + b];
  }
}

/** The largest float32 not above t (t ≥ 0): for a float32 x, |x| <= t exactly when |x| <= this. */
export function float32AtMost(t: number): number {
  const f = Math.fround(t);
  if (f <= t) return f;
  // fround rounded up: step one float32 down (f > 0 here, so its bits decrease by one).
  const bits = new Float32Array([f]);
  new Uint32Array(bits.buffer)[0]--;
  return bits[0];
}

let instance: WasmKernels | null | undefined;
let enabled = true;

/** The kernels, or undefined where WebAssembly SIMD is unavailable (or turned off for a comparison). */
export function wasmKernels(): WasmKernels | undefined {
  if (!enabled) return undefined;
  if (instance === undefined) {
    try {
      const bytes = Uint8Array.from(atob(base64), (ch) => ch.charCodeAt(0));
      const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly!;
      instance = new WasmKernels(new api.Instance(new api.Module(bytes), {}).exports as Exports);
    } catch {
      instance = null;
    }
  }
  return instance ?? undefined;
}

/** Turns the WebAssembly kernels off or back on in this thread: tests and the benchmark compare both paths. */
export function setWasmKernels(on: boolean): void {
  enabled = on;
}
