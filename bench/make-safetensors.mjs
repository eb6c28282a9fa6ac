// Writes a deterministic float32 safetensors file of about MB megabytes for the benchmark:
// node bench/make-safetensors.mjs OUT MB. Streams the data, so any size fits in memory.
import { closeSync, openSync, writeSync } from 'node:fs';

const [out, mbText] = process.argv.slice(2);
const rows = 2048;
const cols = 2048;
const perTensor = rows * cols * 4;
const count = Math.max(1, Math.round((Number(mbText) * 2 ** 20) / perTensor));
const header = {};
for (let i = 0; i < count; i++)
  header[`model.layers.${i}.mlp.weight`] = {
    dtype: 'F32',
    shape: [rows, cols],
    data_offsets: [i * perTensor, (i + 1) * perTensor],
  };
header.__metadata__ = { format: 'pt', source: 'model-lens bench' };
let text = JSON.stringify(header);
text += ' '.repeat((8 - (text.length % 8)) % 8);
const fd = openSync(out, 'w');
const len = Buffer.alloc(8);
len.writeBigUInt64LE(BigInt(Buffer.byteLength(text)));
writeSync(fd, len);
writeSync(fd, text);
// xorshift noise shaped roughly like trained weights (sum of uniforms), some exact zeros.
let s = 0x9e3779b9;
const next = () => ((s ^= s << 13), (s ^= s >>> 17), (s ^= s << 5), (s >>> 0) / 2 ** 32);
const chunk = new Float32Array(1 << 20);
for (let t = 0; t < count; t++) {
  for (let done = 0; done < rows * cols; done += chunk.length) {
    for (let i = 0; i < chunk.length; i++)
      chunk[i] = next() < 0.02 ? 0 : (next() + next() + next() - 1.5) * 0.05;
    writeSync(fd, new Uint8Array(chunk.buffer));
  }
}
closeSync(fd);
