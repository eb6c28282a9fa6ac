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
  histogram(
    ptr: number,
    n: number,
    first: number,
    last: number,
    norm: number,
    margin: number,
    top: number,
    c: number,
    stride: number,
    edges: number,
  ): void;
  maxAbs(ptr: number, n: number, size: number, c: number, table: number): void;
  quantizeSymmetric(
    ptr: number,
    n: number,
    size: number,
    c: number,
    table: number,
    qmax: number,
    out: number,
  ): void;
  dequantize(
    ptr: number,
    n: number,
    size: number,
    c: number,
    scale: number,
    zero: number,
    signed: number,
    out: number,
  ): void;
  finiteRange(ptr: number, n: number, acc: number): void;
  /** min, max and norm are float32 parameters: the call rounds them as Math.fround does. */
  compare(
    w: number,
    r: number,
    n: number,
    acc: number,
    ha: number,
    hb: number,
    stride: number,
    min: number,
    max: number,
    norm: number,
    top: number,
    finite: number,
  ): void;
  allFinite(ptr: number, n: number): number;
  countBytes(ptr: number, n: number, c: number): void;
}

/**
 * Float32 values for the kernels to stage: an array, or a reader that copies values
 * [from, from + into.length) into `into` (a weight read piece by piece from its file).
 */
export type Values =
  Float32Array | { readonly length: number; read(from: number, into: Float32Array): void };

/** Arrays shorter than this stay in JavaScript: staging them would cost more than the kernel saves. */
export const WASM_MIN = 1024;

/** Elements staged per kernel call (a multiple of 4, so lanes continue across calls). */
const STAGE = 1 << 16;
/** Byte offsets in the module's memory: two float32 staging areas and one of bytes, then a stack for tables. */
const STAGE_A = 0;
const STAGE_B = STAGE_A + STAGE * 4;
const STAGE_Q = STAGE_B + STAGE * 4;
const STACK = STAGE_Q + STAGE;

/** Moments.add's fast-pass accumulators (lane k holds elements k mod 4): float64 sums, float32 extremes, zero counts. */
export interface MomentLanes {
  sum: Float64Array;
  squares: Float64Array;
  min: Float32Array;
  max: Float32Array;
  zeros: Int32Array;
}

/**
 * compareReconstruction's state as the compare kernels fold into it: the histograms' range, the
 * running sums Σ(w-ŵ)², Σw², Σŵ², Σwŵ, max |w-ŵ|, zeros of ŵ, and both histograms' counters.
 */
export interface CompareState {
  min: number;
  max: number;
  sums: Float64Array;
  a: Uint32Array;
  b: Uint32Array;
}

export class WasmKernels {
  private f32!: Float32Array;
  private f64!: Float64Array;
  private u32!: Uint32Array;
  private u8!: Uint8Array;
  /** Top of the tables stack (bytes). */
  private top = STACK;

  constructor(private readonly exports: Exports) {
    this.views();
  }

  private views(): void {
    const buffer = this.exports.memory.buffer;
    this.f32 = new Float32Array(buffer);
    this.f64 = new Float64Array(buffer);
    this.u32 = new Uint32Array(buffer);
    this.u8 = new Uint8Array(buffer);
  }

  /**
   * `bytes` of zeroed table space (16-byte aligned) for the length of `body`; nested calls stack
   * (a walk's tables stay put while the visitor it feeds stages its own).
   */
  private withTable<T>(bytes: number, body: (at: number) => T): T {
    const at = this.top;
    const end = at + ((bytes + 15) & ~15);
    const memory = this.exports.memory;
    if (end > memory.buffer.byteLength) {
      memory.grow(Math.ceil((end - memory.buffer.byteLength) / 65536));
      this.views();
    }
    this.u8.fill(0, at, end);
    this.top = end;
    try {
      return body(at);
    } finally {
      this.top = at;
    }
  }

  /** Moments.add's fast pass over the first n values of v, continuing `lanes` (see kernels.wat `moments`). */
  moments(v: Float32Array, n: number, nearZero: number, lanes: MomentLanes): void {
    this.withTable(112, (acc) => {
      this.f64.set(lanes.sum, acc / 8);
      this.f64.set(lanes.squares, acc / 8 + 4);
      this.f32.set(lanes.min, acc / 4 + 16);
      this.f32.set(lanes.max, acc / 4 + 20);
      this.u32.set(lanes.zeros, acc / 4 + 24);
      const thr = float32AtMost(nearZero);
      this.pieces(v, 0, n, (_, k) => this.exports.moments(STAGE_A, k, thr, acc));
      lanes.sum.set(this.f64.subarray(acc / 8, acc / 8 + 4));
      lanes.squares.set(this.f64.subarray(acc / 8 + 4, acc / 8 + 8));
      lanes.min.set(this.f32.subarray(acc / 4 + 16, acc / 4 + 20));
      lanes.max.set(this.f32.subarray(acc / 4 + 20, acc / 4 + 24));
      lanes.zeros.set(this.u32.subarray(acc / 4 + 24, acc / 4 + 28));
    });
  }

  /** Stages v[from, to) into area A piece by piece, calling `kernel(offset of the piece from `from`, length)` for each. */
  private pieces(
    v: Values,
    from: number,
    to: number,
    kernel: (at: number, k: number) => void,
  ): void {
    for (let at = from; at < to; at += STAGE) {
      const k = Math.min(STAGE, to - at);
      this.stage(v, at, k);
      kernel(at - from, k);
    }
  }

  /** Copies v[at, at + k) into area A. */
  private stage(v: Values, at: number, k: number): void {
    if (v instanceof Float32Array) this.f32.set(v.subarray(at, at + k), STAGE_A / 4);
    else v.read(at, this.f32.subarray(STAGE_A / 4, STAGE_A / 4 + k));
  }

  /**
   * HistogramBuilder.add over the first n values of v: adds each value's count to `counts`
   * (bins + 1 counters, the last for values outside [first, last]). `edges` is binEdges(first, last, bins).
   */
  histogram(
    v: Float32Array,
    n: number,
    first: number,
    last: number,
    norm: number,
    margin: number,
    edges: Float64Array,
    counts: Uint32Array,
  ): void {
    const lane = counts.length;
    const stride = lane * 4;
    this.withTable(4 * stride + edges.length * 8, (c) => {
      const edgesAt = c + 4 * stride;
      this.f64.set(edges, edgesAt / 8);
      this.pieces(v, 0, n, (_, k) =>
        this.exports.histogram(STAGE_A, k, first, last, norm, margin, lane - 2, c, stride, edgesAt),
      );
      addLanes(this.u32, c / 4, lane, lane, counts);
    });
  }

  /**
   * Runs `walk` with float32 tables staged (their offsets passed in order), then copies each back.
   * A walk calls the per-channel kernels below with these offsets.
   */
  withTables(tables: Float32Array[], walk: (at: number[]) => void): void {
    const bytes = tables.map((t) => (t.length * 4 + 15) & ~15);
    this.withTable(
      bytes.reduce((a, b) => a + b, 0),
      (base) => {
        const at: number[] = [];
        let next = base;
        tables.forEach((t, i) => {
          at.push(next);
          this.f32.set(t, next / 4);
          next += bytes[i];
        });
        walk(at);
        tables.forEach((t, i) => t.set(this.f32.subarray(at[i] / 4, at[i] / 4 + t.length)));
      },
    );
  }

  /** Raises table[c] (staged) to the largest finite |w| of channel c over values[from, to), whose first is channel 0 of `size`. */
  maxAbs(values: Values, from: number, to: number, size: number, table: number): void {
    this.pieces(values, from, to, (at, k) =>
      this.exports.maxAbs(STAGE_A, k, size, at % size, table),
    );
  }

  /** Symmetric codes of values[from, to) into q at the same positions (channel 0 of `size` first; scales staged at `table`). */
  quantizeSymmetric(
    values: Float32Array,
    from: number,
    to: number,
    size: number,
    table: number,
    qmax: number,
    q: Int8Array,
  ): void {
    this.pieces(values, from, to, (at, k) => {
      this.exports.quantizeSymmetric(STAGE_A, k, size, at % size, table, qmax, STAGE_Q);
      q.set(new Int8Array(this.u8.buffer, STAGE_Q, k), from + at);
    });
  }

  /** y = float32((q - zero[c]) · scale[c]) for q[from, to) (channel 0 of `size` first), written at out[i - shift]. */
  dequantize(
    q: Int8Array | Uint8Array,
    from: number,
    to: number,
    size: number,
    scale: number,
    zero: number,
    out: Float32Array,
    shift: number,
  ): void {
    const signed = q instanceof Int8Array ? 1 : 0;
    const bytes = new Uint8Array(q.buffer, q.byteOffset, q.length);
    for (let at = from; at < to; at += STAGE) {
      const k = Math.min(STAGE, to - at);
      this.u8.set(bytes.subarray(at, at + k), STAGE_Q);
      this.exports.dequantize(STAGE_Q, k, size, (at - from) % size, scale, zero, signed, STAGE_B);
      out.set(this.f32.subarray(STAGE_B / 4, STAGE_B / 4 + k), at - shift);
    }
  }

  /** Folds the finite min and max of v[from, to) into range = [lo, hi] (float32 values or ±Infinity). */
  finiteRange(v: Float32Array, from: number, to: number, range: number[]): void {
    this.withTable(32, (acc) => {
      this.f32.fill(range[0], acc / 4, acc / 4 + 4);
      this.f32.fill(range[1], acc / 4 + 4, acc / 4 + 8);
      this.pieces(v, from, to, (_, k) => this.exports.finiteRange(STAGE_A, k, acc));
      const f = this.f32;
      const i = acc / 4;
      range[0] = Math.min(f[i], f[i + 1], f[i + 2], f[i + 3]);
      range[1] = Math.max(f[i + 4], f[i + 5], f[i + 6], f[i + 7]);
    });
  }

  /**
   * compareChunk's sums and histograms of the pairs `feed` adds (w[from + k] against r[k] for
   * k < n, n a multiple of 4), folded into the state's sums, a and b when it returns (sums: what
   * they held, the tail the caller added, plus the pieces'). The histograms have a.length - 1 bins
   * and a counter for outside, over [min, max], binned in float32. [min, max] must be the finite
   * range of every w fed, as compareReconstruction takes it: the kernel's all-finite loop does not
   * test w against it.
   */
  compare(
    state: CompareState,
    feed: (add: (w: Float32Array, from: number, r: Float32Array, n: number) => void) => void,
  ): void {
    this.comparing(state, (addStaged) =>
      feed((w, from, r, n) => {
        for (let at = 0; at < n; at += STAGE) {
          const k = Math.min(STAGE, n - at);
          this.f32.set(w.subarray(from + at, from + at + k), STAGE_A / 4);
          this.f32.set(r.subarray(at, at + k), STAGE_B / 4);
          addStaged(k, this.exports.allFinite(STAGE_A, k) & this.exports.allFinite(STAGE_B, k));
        }
      }),
    );
  }

  /**
   * compare's tables for the length of `body`, which calls addStaged(k, finite) for each piece
   * staged in A (values) and B (reconstruction): k a multiple of 4, finite 1 when both are known
   * to hold only finite values.
   */
  private comparing(
    state: CompareState,
    body: (addStaged: (k: number, finite: number) => void) => void,
  ): void {
    const { min, max, sums, a, b } = state;
    const bins = a.length - 1;
    const lane = bins + 2; // bins, outside, and the counter of pairs left out
    const stride = lane * 4;
    const norm = bins / (max - min);
    this.withTable(176 + 8 * stride, (acc) => {
      const ha = acc + 176;
      const hb = ha + 4 * stride;
      const f = this.f64;
      const i = acc / 8;
      // Each piece's four sums start from zero in the lanes and are added to `total` after it: two
      // levels of summation, so rounding error grows with the pieces, not with every value.
      const total = new Float64Array(4);
      body((k, finite) => {
        f.fill(0, i, i + 16);
        this.exports.compare(
          STAGE_A,
          STAGE_B,
          k,
          acc,
          ha,
          hb,
          stride,
          min,
          max,
          norm,
          bins - 1,
          finite,
        );
        // Lane k of sum s sits at f[i + 4s + k].
        for (let s = 0; s < 4; s++)
          total[s] += f[i + 4 * s] + f[i + 4 * s + 1] + (f[i + 4 * s + 2] + f[i + 4 * s + 3]);
      });
      for (let s = 0; s < 4; s++) sums[s] += total[s];
      for (let k = 0; k < 4; k++) {
        const d = f[i + 16 + k];
        if (d > sums[4] || d !== d) sums[4] = d;
      }
      const z = (acc + 160) / 4;
      sums[5] += this.u32[z] + this.u32[z + 1] + this.u32[z + 2] + this.u32[z + 3];
      addLanes(this.u32, ha / 4, lane, bins + 1, a);
      addLanes(this.u32, hb / 4, lane, bins + 1, b);
    });
  }

  /**
   * maxAbs over values[from, to) and, on the same staging, the finite range folded into the
   * lanes at `range` (finiteRange's lo[4] hi[4]): symmetric quantization's first pass with what
   * the report needs. False when some value is NaN or infinite.
   */
  maxAbsRange(
    values: Values,
    from: number,
    to: number,
    size: number,
    table: number,
    range: number,
  ): boolean {
    let finite = true;
    this.pieces(values, from, to, (at, k) => {
      this.exports.maxAbs(STAGE_A, k, size, at % size, table);
      this.exports.finiteRange(STAGE_A, k, range);
      const whole = k & ~3;
      if (!this.exports.allFinite(STAGE_A, whole)) finite = false;
      for (let j = whole; j < k; j++)
        if (!Number.isFinite(this.f32[STAGE_A / 4 + j])) finite = false;
    });
    return finite;
  }

  /**
   * Symmetric quantization's second pass with the report's measures, on one staging of each
   * piece: codes of values[from, to) into q (quantizeSymmetric), their byte frequencies added to
   * freq[0..255] (countBytes), and the values compared with their dequantization as compare()
   * compares them, into `state`. `runs` walks the tensor: run(from, to, size, offset) for each run,
   * with the channel kernels' size and the byte offset of its first channel's entry in `scale`
   * (spread over lanes). `finite`: the values and every code times its scale are known finite.
   * `tail(from, w, r)` gets each piece's last (k mod 4) values and their reconstruction.
   */
  quantizeMeasured(
    values: Values,
    runs: (run: (from: number, to: number, size: number, offset: number) => void) => void,
    scale: Float32Array,
    qmax: number,
    q: Int8Array,
    freq: Float64Array,
    state: CompareState,
    finite: boolean,
    tail: (from: number, w: Float32Array, r: Float32Array) => void,
  ): void {
    const x = this.exports;
    this.comparing(state, (addStaged) =>
      this.withTables([scale, new Float32Array(scale.length)], ([s, z]) =>
        this.withTable(4096, (counts) => {
          runs((from, to, size, offset) => {
            for (let at = from; at < to; at += STAGE) {
              const k = Math.min(STAGE, to - at);
              const c = (at - from) % size;
              this.stage(values, at, k);
              x.quantizeSymmetric(STAGE_A, k, size, c, s + offset, qmax, STAGE_Q);
              q.set(new Int8Array(this.u8.buffer, STAGE_Q, k), at);
              x.countBytes(STAGE_Q, k, counts);
              x.dequantize(STAGE_Q, k, size, c, s + offset, z + offset, 1, STAGE_B);
              const whole = k & ~3;
              addStaged(
                whole,
                finite ? 1 : x.allFinite(STAGE_A, whole) & x.allFinite(STAGE_B, whole),
              );
              if (whole < k)
                tail(
                  at + whole,
                  this.f32.slice(STAGE_A / 4 + whole, STAGE_A / 4 + k),
                  this.f32.slice(STAGE_B / 4 + whole, STAGE_B / 4 + k),
                );
            }
          });
          this.addCounts(counts, freq);
        }),
      ),
    );
  }

  /** Frequencies of the bytes of `symbols` (Uint8Array or Int8Array, by unsigned byte value), added to freq[0..255]. */
  countBytes(symbols: Uint8Array | Int8Array, freq: Float64Array): void {
    const bytes = new Uint8Array(symbols.buffer, symbols.byteOffset, symbols.length);
    this.withTable(4096, (c) => {
      for (let at = 0; at < bytes.length; at += STAGE) {
        const k = Math.min(STAGE, bytes.length - at);
        this.u8.set(bytes.subarray(at, at + k), STAGE_Q);
        this.exports.countBytes(STAGE_Q, k, c);
      }
      this.addCounts(c, freq);
    });
  }

  /** Adds countBytes' four lanes of counters at `counts` into freq[0..255]. */
  private addCounts(counts: number, freq: Float64Array): void {
    const u = this.u32;
    const c = counts / 4;
    for (let s = 0; s < 256; s++)
      freq[s] += u[c + s] + u[c + 256 + s] + u[c + 512 + s] + u[c + 768 + s];
  }
}

/** Adds four lanes of counters (lane k at u32[at + k·lane]) into counts[0, n). */
function addLanes(
  u32: Uint32Array,
  at: number,
  lane: number,
  n: number,
  counts: Uint32Array,
): void {
  for (let b = 0; b < n; b++)
    counts[b] += u32[at + b] + u32[at + lane + b] + u32[at + 2 * lane + b] + u32[at + 3 * lane + b];
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
