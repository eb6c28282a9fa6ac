/**
 * Float buffers one thread reuses from tensor to tensor. A fresh 64 MiB array costs tens of
 * milliseconds of page faults before the first value lands in it; a reused one costs nothing.
 */
export class FloatScratch {
  private readonly buffers: Float32Array[] = [];

  /** `n` floats in buffer `slot`, valid until the next call for that slot. */
  get(slot: number, n: number): Float32Array {
    if (!(this.buffers[slot]?.length >= n)) this.buffers[slot] = new Float32Array(n);
    return this.buffers[slot].subarray(0, n);
  }
}
