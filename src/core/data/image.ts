import type { DecodedImage } from './types';

/** How a decoded picture becomes one model input. */
export interface ImageTransform {
  width: number;
  height: number;
  /**
   * 'stretch' (default): resize to width×height, aspect ignored. 'pad': keep the aspect, scale to
   * fit the height (or the width, for a picture wider than the box), place top-left and fill the
   * right/bottom with padValue, as PaddleOCR's recogniser and classifier prepare text lines.
   */
  fit?: 'stretch' | 'pad';
  /** Channel order of the tensor (default RGB); mean and std are given in this order. */
  order?: 'RGB' | 'BGR';
  /** NCHW (default) → [1, C, H, W]; NHWC → [1, H, W, C]. */
  layout?: 'NCHW' | 'NHWC';
  /** Multiplies 0..255 first (default 1/255). */
  scale?: number;
  /** Per-channel (or one for all) values subtracted after scaling; default 0. */
  mean?: number[];
  /** Per-channel (or one for all) divisors after the mean; default 1. */
  std?: number[];
  /** One luma channel (ITU-R 601: 0.299 R + 0.587 G + 0.114 B, as PIL's convert('L')) instead of three. */
  grayscale?: boolean;
  /** Tensor value of the padding with fit 'pad', after normalisation (PaddleOCR pads with 0); default 0. */
  padValue?: number;
}

/** PIL's bilinear kernel; its support is 1 sample, widened by the scale factor when shrinking. */
const triangle = (x: number): number => {
  const a = Math.abs(x);
  return a < 1 ? 1 - a : 0;
};

interface Taps {
  start: Int32Array;
  count: Int32Array;
  /** `size` rows of `stride` weights, each row summing to 1. */
  weights: Float64Array;
  stride: number;
}

/** Resample.c's precompute_coeffs for a whole-image box: which inputs feed each output and with what weight. */
function taps(inSize: number, outSize: number): Taps {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale;
  const stride = Math.ceil(support) * 2 + 1;
  const t: Taps = {
    start: new Int32Array(outSize),
    count: new Int32Array(outSize),
    weights: new Float64Array(outSize * stride),
    stride,
  };
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const lo = Math.max(0, Math.trunc(center - support + 0.5));
    const hi = Math.min(inSize, Math.trunc(center + support + 0.5));
    let sum = 0;
    for (let i = lo; i < hi; i++)
      sum += t.weights[o * stride + i - lo] = triangle((i - center + 0.5) / filterScale);
    if (sum !== 0) for (let i = lo; i < hi; i++) t.weights[o * stride + i - lo] /= sum;
    t.start[o] = lo;
    t.count[o] = hi - lo;
  }
  return t;
}

/**
 * PIL's Image.resize(size, BILINEAR): separable triangle filter, antialiased when shrinking (the
 * kernel widens with the factor), horizontal pass then vertical. Computed in floating point where
 * PIL rounds to 8 bits after each pass, so results differ from PIL's by at most about 1 (of 255).
 * Colour is premultiplied by alpha while filtering (as PIL does), so transparent pixels do not bleed.
 */
export function resizeBilinear(img: DecodedImage, width: number, height: number): DecodedImage {
  checkSize(width, height);
  const { channels: c } = img;
  const alpha = c === 2 || c === 4;
  let src = img.data;
  if (alpha) {
    src = src.slice();
    for (let p = 0; p < src.length; p += c)
      for (let k = 0; k < c - 1; k++) src[p + k] *= src[p + c - 1] / 255;
  }
  const h = width === img.width ? null : taps(img.width, width);
  const rows = new Float32Array(img.height * width * c);
  if (h) {
    for (let y = 0; y < img.height; y++) {
      for (let x = 0; x < width; x++) {
        const w0 = x * h.stride;
        for (let k = 0; k < c; k++) {
          let s = 0;
          for (let i = 0, at = (y * img.width + h.start[x]) * c + k; i < h.count[x]; i++, at += c)
            s += src[at] * h.weights[w0 + i];
          rows[(y * width + x) * c + k] = s;
        }
      }
    }
  } else rows.set(src);
  const out = new Float32Array(width * height * c);
  const v = height === img.height ? null : taps(img.height, height);
  if (v) {
    const line = width * c;
    for (let y = 0; y < height; y++) {
      const w0 = y * v.stride;
      for (let i = 0; i < v.count[y]; i++) {
        const wgt = v.weights[w0 + i];
        const from = (v.start[y] + i) * line;
        for (let j = 0; j < line; j++) out[y * line + j] += rows[from + j] * wgt;
      }
    }
  } else out.set(rows);
  if (alpha) {
    for (let p = 0; p < out.length; p += c) {
      const a = out[p + c - 1];
      for (let k = 0; k < c - 1; k++)
        out[p + k] = a > 0 ? Math.min(255, (out[p + k] * 255) / a) : 0;
    }
  }
  return { width, height, channels: c, data: out };
}

function checkSize(width: number, height: number): void {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new RangeError(`image size must be positive integers, not ${width}×${height}`);
  }
}

/**
 * Alpha composited over white (what a viewer shows for a transparent background, and what a
 * photo of a document would have), then gray or RGB as asked.
 */
function flatten(img: DecodedImage, gray: boolean): DecodedImage {
  const { width, height, channels: c, data } = img;
  const colour = c >= 3;
  const outC = gray || !colour ? 1 : 3;
  const out = new Float32Array(width * height * outC);
  for (let p = 0, q = 0; p < data.length; p += c, q += outC) {
    const a = c === 2 || c === 4 ? data[p + c - 1] / 255 : 1;
    const over = (v: number): number => v * a + 255 * (1 - a);
    if (outC === 3) {
      out[q] = over(data[p]);
      out[q + 1] = over(data[p + 1]);
      out[q + 2] = over(data[p + 2]);
    } else
      out[q] = over(colour ? 0.299 * data[p] + 0.587 * data[p + 1] + 0.114 * data[p + 2] : data[p]);
  }
  return { width, height, channels: outC, data: out };
}

/** The resized picture's size for fit 'pad': the largest that keeps the aspect inside the box (PaddleOCR rounds up). */
function padSize(img: DecodedImage, width: number, height: number): [number, number] {
  if (img.width * height <= width * img.height) {
    return [Math.min(width, Math.max(1, Math.ceil((height * img.width) / img.height))), height];
  }
  return [width, Math.min(height, Math.max(1, Math.ceil((width * img.height) / img.width)))];
}

/**
 * One image as one model input [1, C, H, W] (or [1, H, W, C]): alpha over white, gray replicated
 * to RGB (or RGB to luma with `grayscale`), resized, ordered, then (v · scale − mean) / std.
 */
export function imageTensor(
  img: DecodedImage,
  t: ImageTransform,
): { dims: number[]; data: Float32Array } {
  checkSize(t.width, t.height);
  const { width: W, height: H } = t;
  const flat = flatten(img, t.grayscale ?? false);
  const C = t.grayscale ? 1 : 3;
  const [rw, rh] = t.fit === 'pad' ? padSize(flat, W, H) : [W, H];
  const resized = rw === flat.width && rh === flat.height ? flat : resizeBilinear(flat, rw, rh);
  const perChannel = (v: number[] | undefined, fallback: number, what: string): number[] => {
    if (!v) return new Array<number>(C).fill(fallback);
    if (v.length === 1) return new Array<number>(C).fill(v[0]);
    if (v.length !== C) throw new RangeError(`${what} has ${v.length} values for ${C} channels`);
    return v;
  };
  const mean = perChannel(t.mean, 0, 'mean');
  const std = perChannel(t.std, 1, 'std');
  const scale = t.scale ?? 1 / 255;
  const nhwc = t.layout === 'NHWC';
  const bgr = t.order === 'BGR';
  const data = new Float32Array(C * H * W).fill(t.padValue ?? 0);
  const src = resized.data;
  const rc = resized.channels;
  for (let k = 0; k < C; k++) {
    // Gray pictures feed every channel from their one; BGR reads the source channels backwards.
    const from = rc === 1 ? 0 : bgr ? 2 - k : k;
    for (let y = 0; y < rh; y++) {
      for (let x = 0; x < rw; x++) {
        const v = (src[(y * rw + x) * rc + from] * scale - mean[k]) / std[k];
        data[nhwc ? (y * W + x) * C + k : (k * H + y) * W + x] = v;
      }
    }
  }
  return { dims: nhwc ? [1, H, W, C] : [1, C, H, W], data };
}
