import { dataError, type DecodedAudio } from './types';

const PCM = 1;
const FLOAT = 3;
const EXTENSIBLE = 0xfffe;
/** Formats people meet in the wild that are not linear PCM, to say which one a file is. */
const OTHER_FORMATS: Record<number, string> = {
  2: 'ADPCM',
  6: 'A-law',
  7: 'µ-law',
  0x11: 'IMA ADPCM',
  0x55: 'MP3',
};

const ascii = (b: Uint8Array, at: number): string =>
  String.fromCharCode(b[at], b[at + 1], b[at + 2], b[at + 3]);

/**
 * Decodes a RIFF/WAVE file: integer PCM of 8 (unsigned), 16, 24 and 32 bits scaled to [-1, 1) by
 * 2^(bits−1), and 32/64-bit float kept as stored, in format 1, 3 or WAVE_FORMAT_EXTENSIBLE.
 * A data chunk that claims more bytes than the file holds (a recorder stopped before writing the
 * header) is read as far as it goes.
 */
export function decodeWav(bytes: Uint8Array, file: string): DecodedAudio {
  if (bytes.length < 12 || ascii(bytes, 8) !== 'WAVE' || ascii(bytes, 0) !== 'RIFF') {
    dataError(
      file,
      bytes.length >= 4 && ascii(bytes, 0) === 'RF64'
        ? 'RF64 WAV is not supported'
        : 'not a WAV (RIFF/WAVE) file',
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let fmt: { format: number; channels: number; rate: number; bits: number } | undefined;
  let data: { start: number; size: number } | undefined;
  for (let at = 12; at + 8 <= bytes.length;) {
    const id = ascii(bytes, at);
    const size = view.getUint32(at + 4, true);
    const start = at + 8;
    if (id === 'fmt ') {
      if (size < 16 || start + size > bytes.length)
        dataError(file, 'corrupt WAV (short fmt chunk)');
      let format = view.getUint16(start, true);
      if (format === EXTENSIBLE) {
        if (size < 40) dataError(file, 'corrupt WAV (short WAVE_FORMAT_EXTENSIBLE fmt chunk)');
        // The sub-format GUID starts with the format code (KSDATAFORMAT_SUBTYPE_PCM / _IEEE_FLOAT).
        format = view.getUint16(start + 24, true);
      }
      fmt = {
        format,
        channels: view.getUint16(start + 2, true),
        rate: view.getUint32(start + 4, true),
        bits: view.getUint16(start + 14, true),
      };
    } else if (id === 'data' && !data) data = { start, size: Math.min(size, bytes.length - start) };
    at = start + size + (size & 1);
  }
  if (!fmt) dataError(file, 'corrupt WAV (no fmt chunk)');
  if (!data) dataError(file, 'corrupt WAV (no data chunk)');
  const { format, channels, rate, bits } = fmt;
  if (format !== PCM && format !== FLOAT) {
    dataError(
      file,
      `${OTHER_FORMATS[format] ?? `format 0x${format.toString(16).padStart(4, '0')}`} WAV is not supported; convert it to PCM`,
    );
  }
  if (format === PCM && ![8, 16, 24, 32].includes(bits))
    dataError(file, `${bits}-bit PCM is not supported`);
  if (format === FLOAT && bits !== 32 && bits !== 64)
    dataError(file, `${bits}-bit float WAV is not supported`);
  if (channels === 0) dataError(file, 'corrupt WAV (0 channels)');
  if (rate === 0) dataError(file, 'corrupt WAV (sample rate 0)');

  const width = bits / 8;
  const frames = Math.floor(data.size / (width * channels));
  if (frames === 0) dataError(file, 'no audio samples (empty data chunk)');
  const out = Array.from({ length: channels }, () => new Float32Array(frames));
  const read = sampleReader(view, format, bits);
  for (let c = 0; c < channels; c++) {
    const ch = out[c];
    for (let i = 0, at = data.start + c * width; i < frames; i++, at += width * channels)
      ch[i] = read(at);
  }
  if (format === FLOAT) {
    for (const ch of out)
      if (!ch.every(Number.isFinite)) dataError(file, 'float WAV holds NaN or infinite samples');
  }
  return { rate, channels: out };
}

function sampleReader(v: DataView, format: number, bits: number): (at: number) => number {
  if (format === FLOAT)
    return bits === 32 ? (at) => v.getFloat32(at, true) : (at) => v.getFloat64(at, true);
  switch (bits) {
    case 8:
      return (at) => (v.getUint8(at) - 128) / 128;
    case 16:
      return (at) => v.getInt16(at, true) / 32768;
    case 24:
      return (at) =>
        (((v.getUint8(at + 2) << 24) | (v.getUint8(at + 1) << 16) | (v.getUint8(at) << 8)) >> 8) /
        8388608;
    default:
      return (at) => v.getInt32(at, true) / 2147483648;
  }
}
