// esbuild plugin: `import bytes from './x.wat'` gives the module assembled by wabt, as base64 text
// (a few kilobytes, inlined in the bundle so workers, the CLI and the extension load no extra file).
import { readFile } from 'node:fs/promises';
import initWabt from 'wabt';

let wabt;

export const watPlugin = {
  name: 'wat',
  setup(build) {
    build.onLoad({ filter: /\.wat$/ }, async (args) => {
      wabt ??= await initWabt();
      const module = wabt.parseWat(args.path, await readFile(args.path, 'utf8'), { simd: true });
      try {
        module.validate();
        const { buffer } = module.toBinary({});
        return {
          contents: `export default ${JSON.stringify(Buffer.from(buffer).toString('base64'))};`,
          loader: 'js',
        };
      } finally {
        module.destroy();
      }
    });
  },
};
