/** File types a dataset reads, without the dot: the extension's file picker offers these. */
export const DATA_FILE_TYPES = { image: ['png', 'jpg', 'jpeg'], audio: ['wav'] } as const;

/** A decoded picture before any model preprocessing. */
export interface DecodedImage {
  width: number;
  height: number;
  /** 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA. */
  channels: 1 | 2 | 3 | 4;
  /** Interleaved, row-major, 0..255 (16-bit PNG samples scaled by 255/65535, so not always integers). */
  data: Float32Array;
}

/** A decoded recording before resampling or chunking. */
export interface DecodedAudio {
  /** Samples per second per channel. */
  rate: number;
  /** One Float32Array per channel; integer PCM maps to [-1, 1), float PCM is kept as stored. */
  channels: Float32Array[];
}

/** A data file Model Lens cannot use, said in one line: "FILE: reason". */
export class DataError extends Error {
  override readonly name = 'DataError';
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file}: ${reason}`);
  }
}

export function dataError(file: string, reason: string): never {
  throw new DataError(file, reason);
}
