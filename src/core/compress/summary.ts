import { entropyEstimate } from './metrics';
import type { CompressReport, SymbolEstimate, TensorResult } from './report';

/**
 * Estimate for a tensor stored as `symbols` plus `otherBytes` of side data. Huffman never pays
 * more than the raw symbols: an encoder would store them uncoded. `byteCounts` as entropyEstimate takes them.
 */
export function symbolEstimate(
  symbols: Uint8Array | Int8Array | Uint16Array,
  alphabet: number,
  count: number,
  otherBytes: number,
  byteCounts?: Float64Array,
): SymbolEstimate {
  const e = entropyEstimate(symbols, alphabet, byteCounts);
  return {
    bits: e.bitsPerWeight * count,
    bytes: Math.min(e.huffmanBytes, symbols.byteLength) + otherBytes,
    count,
  };
}

/** Totals and the entropy estimate of a report, the same arithmetic for every format's writer. */
export function summarise(
  fileBytesBefore: number,
  fileBytesAfter: number,
  tensors: readonly TensorResult[],
  estimates: readonly SymbolEstimate[],
  parameters: number,
): Pick<CompressReport, 'totals' | 'entropy'> {
  const weightBytesBefore = tensors.reduce((a, t) => a + t.bytesBefore, 0);
  const weightBytesAfter = tensors.reduce((a, t) => a + t.bytesAfter, 0);
  const symbolCount = estimates.reduce((a, e) => a + e.count, 0);
  const huffmanBytes = estimates.reduce((a, e) => a + e.bytes, 0);
  const codedBytesAfter = estimates.length ? weightBytesAfter : 0;
  return {
    totals: {
      fileBytesBefore,
      fileBytesAfter,
      ratio: fileBytesBefore / fileBytesAfter,
      weightBytesBefore,
      weightBytesAfter,
      parameters,
    },
    entropy: {
      bitsPerWeight: symbolCount ? estimates.reduce((a, e) => a + e.bits, 0) / symbolCount : 0,
      huffmanBytes,
      huffmanFileBytes: fileBytesAfter - codedBytesAfter + huffmanBytes,
    },
  };
}
