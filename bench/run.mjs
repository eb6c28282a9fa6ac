// `npm run bench`: Model Lens against baselines measured in the same run, on this machine.
// Generates the models it needs into .cache/bench (deterministic, reused), runs each measure
// several times, prints medians of wall time and peak RSS and the ratios, and writes
// bench/results.json. Flags: --reps N (3), --mb N (size of the ONNX model, 500), --st-mb N (safetensors, 1000),
// --huge (also a 5 GB model with external data, inspected and compressed once; needs ~7 GB of disk,
// deleted afterwards unless --keep), --inspector (real VS Code timing).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const reps = Number(opt('reps', '3'));
const mb = Number(opt('mb', '500'));
const cache = join(root, '.cache/bench');
const python = process.env.MODEL_LENS_PYTHON ?? '/usr/bin/python3';
const cli = join(root, 'dist/cli.js');
mkdirSync(cache, { recursive: true });

/** Runs a command under GNU time; returns wall seconds and peak RSS in MiB. */
function measure(command, argv) {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', command, ...argv], {
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  });
  if (r.status !== 0)
    throw new Error(`${command} ${argv.join(' ')} failed: ${r.stderr.slice(-2000)}`);
  const [wall, rssKb] = r.stderr.trim().split('\n').at(-1).split(' ').map(Number);
  return { seconds: wall, rssMiB: rssKb / 1024 };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function repeat(label, command, argv, before, times = reps) {
  const runs = [];
  for (let i = 0; i < times; i++) {
    before?.();
    runs.push(measure(command, argv));
  }
  return summary(label, runs);
}

/** Medians of a measure's runs, printed. */
function summary(label, runs) {
  const result = {
    label,
    seconds: median(runs.map((r) => r.seconds)),
    rssMiB: median(runs.map((r) => r.rssMiB)),
    runs,
  };
  console.log(
    `  ${label.padEnd(44)} ${result.seconds.toFixed(2).padStart(7)} s  ${result.rssMiB.toFixed(0).padStart(6)} MiB`,
  );
  return result;
}

/**
 * Two measures run in turns (a, b, a, b, ...) rather than one after the other: on this VM the
 * speed of writing new pages drifts between runs by up to 3x, and taking turns gives both the same drift.
 */
function alternate(a, b, before) {
  const runs = [[], []];
  for (let i = 0; i < reps; i++) {
    [a, b].forEach(([, command, argv], k) => {
      before?.();
      runs[k].push(measure(command, argv));
    });
  }
  return [summary(a[0], runs[0]), summary(b[0], runs[1])];
}

/** The generated model of about sizeMb MiB in dir (made once); `external`: weights in big.onnx.data. */
function ensureModel(dir, sizeMb, external = false) {
  const file = join(dir, 'big.onnx');
  if (!existsSync(file) || (external && !existsSync(`${file}.data`))) {
    mkdirSync(dir, { recursive: true });
    const flags = ['--large', String(sizeMb), ...(external ? ['--external'] : [])];
    execFileSync(process.execPath, [join(root, 'dist/test/fixtures/generate.js'), dir, ...flags], {
      stdio: 'ignore',
    });
  }
  return file;
}

/** Bytes of a model and its external data file, if any. */
const modelBytes = (file) =>
  statSync(file).size + (existsSync(`${file}.data`) ? statSync(`${file}.data`).size : 0);

if (!existsSync(cli) || !existsSync(join(root, 'dist/test/fixtures/generate.js'))) {
  execFileSync(process.execPath, [join(root, 'scripts/build.mjs'), '--tests'], {
    stdio: 'inherit',
  });
}

const results = {
  machine: {
    cpus: cpus().length,
    cpu: cpus()[0]?.model,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  },
  date: new Date().toISOString(),
  reps,
  measures: {},
};

console.log(
  `Model Lens benchmark: ${results.machine.cpus} cores (${results.machine.cpu}), ${results.machine.memoryGiB} GiB, node ${process.version}, ${reps} reps, medians`,
);

const onnxModel = ensureModel(join(cache, `onnx-${mb}`), mb);
const onnxBytes = statSync(onnxModel).size;
console.log(`\ninspect --json, ONNX ${(onnxBytes / 2 ** 20).toFixed(0)} MiB:`);
const ours = repeat('model-lens inspect --json', process.execPath, [
  cli,
  'inspect',
  onnxModel,
  '--json',
]);
const baseline = repeat('python onnx.load + numpy (baseline)', python, [
  join(root, 'bench/baseline_inspect.py'),
  onnxModel,
]);
results.measures.inspectOnnx = {
  fileBytes: onnxBytes,
  ours,
  baseline,
  speedup: baseline.seconds / ours.seconds,
  memoryFraction: ours.rssMiB / baseline.rssMiB,
};

const stMb = Number(opt('st-mb', '1000'));
const stFile = join(cache, `weights-${stMb}.safetensors`);
if (!existsSync(stFile))
  execFileSync(process.execPath, [join(root, 'bench/make-safetensors.mjs'), stFile, String(stMb)]);
console.log(`\ninspect --json, safetensors ${(statSync(stFile).size / 2 ** 20).toFixed(0)} MiB:`);
const stOurs = repeat('model-lens inspect --json', process.execPath, [
  cli,
  'inspect',
  stFile,
  '--json',
]);
const stBase = repeat('numpy over np.frombuffer (baseline)', python, [
  join(root, 'bench/baseline_safetensors.py'),
  stFile,
]);
results.measures.inspectSafetensors = {
  fileBytes: statSync(stFile).size,
  ours: stOurs,
  baseline: stBase,
  speedup: stBase.seconds / stOurs.seconds,
  memoryFraction: stOurs.rssMiB / stBase.rssMiB,
};

console.log(`\nstructure only (inspect --no-stats), same model:`);
results.measures.structureOnnx = {
  ours: repeat('model-lens inspect --no-stats', process.execPath, [
    cli,
    'inspect',
    onnxModel,
    '--no-stats',
    '--json',
  ]),
};

console.log(`\ncompress --method int8, same model:`);
const out = join(cache, 'out.onnx');
const clean = () => rmSync(out, { force: true });
const [compress, copy] = alternate(
  [
    'model-lens compress --method int8',
    process.execPath,
    [cli, 'compress', onnxModel, '--method', 'int8', '-o', out, '--force', '--json', '--no-verify'],
  ],
  [
    'read + write the same bytes (baseline)',
    process.execPath,
    [join(root, 'bench/copy.mjs'), onnxModel, out],
  ],
  clean,
);
clean();
const fastest = (r) => Math.min(...r.runs.map((x) => x.seconds));
// Medians, and the fastest run of each: slow spells of page writes weigh on the copy (512 MiB of new pages) more than on us.
results.measures.compressInt8 = {
  ours: compress,
  baseline: copy,
  ratio: compress.seconds / copy.seconds,
  ratioFastest: fastest(compress) / fastest(copy),
};

if (args.includes('--huge')) {
  const dir = join(cache, 'onnx-5000-external');
  const huge = ensureModel(dir, 5000, true);
  const bytes = modelBytes(huge);
  console.log(
    `\nONNX with external data, ${(bytes / 2 ** 30).toFixed(1)} GiB (model ${statSync(huge).size} bytes + big.onnx.data), run once:`,
  );
  // Once each: minutes of work, and the point is flat memory, not a median.
  const inspectHuge = repeat(
    'model-lens inspect --json',
    process.execPath,
    [cli, 'inspect', huge, '--json'],
    undefined,
    1,
  );
  const hugeOut = join(dir, 'out.onnx');
  const cleanHuge = () => ['', '.data'].forEach((x) => rmSync(hugeOut + x, { force: true }));
  const compressHuge = repeat(
    'model-lens compress --method int8',
    process.execPath,
    [cli, 'compress', huge, '--method', 'int8', '-o', hugeOut, '--force', '--json', '--no-verify'],
    cleanHuge,
    1,
  );
  cleanHuge();
  results.measures.hugeExternal = {
    fileBytes: bytes,
    inspect: inspectHuge,
    compressInt8: compressHuge,
  };
  if (!args.includes('--keep')) rmSync(dir, { recursive: true, force: true });
}

if (args.includes('--inspector')) {
  console.log('\ninspector in code-server (100 MB model):');
  const r = spawnSync(process.execPath, [join(root, 'bench/inspector-timing.mjs'), '--mb', '100'], {
    encoding: 'utf8',
  });
  if (r.status === 0) {
    results.measures.inspector = JSON.parse(r.stdout.trim().split('\n').at(-1));
    console.log(
      `  first paint ${results.measures.inspector.firstPaintMs} ms, statistics complete ${results.measures.inspector.statsCompleteMs} ms`,
    );
  } else console.log(`  skipped: ${r.stderr.split('\n').slice(-3).join(' ')}`);
}

const m = results.measures;
console.log('\nsummary:');
console.log(
  `  inspect: ${m.inspectOnnx.speedup.toFixed(2)}x faster than onnx+numpy, ${(m.inspectOnnx.memoryFraction * 100).toFixed(0)}% of its peak memory`,
);
console.log(
  `  inspect safetensors: ${m.inspectSafetensors.speedup.toFixed(2)}x faster than numpy, ${(m.inspectSafetensors.memoryFraction * 100).toFixed(0)}% of its peak memory`,
);
console.log(
  `  structure visible in ${m.structureOnnx.ours.seconds.toFixed(2)} s (whole CLI process)`,
);
console.log(
  `  compress int8: ${m.compressInt8.ratio.toFixed(2)}x the time of a plain read + write (medians; ${m.compressInt8.ratioFastest.toFixed(2)}x fastest run to fastest run)`,
);
if (m.hugeExternal) {
  const h = m.hugeExternal;
  console.log(
    `  ${(h.fileBytes / 2 ** 30).toFixed(1)} GiB external-data ONNX: inspect ${h.inspect.seconds.toFixed(1)} s in ${h.inspect.rssMiB.toFixed(0)} MiB, int8 ${h.compressInt8.seconds.toFixed(1)} s in ${h.compressInt8.rssMiB.toFixed(0)} MiB`,
  );
}
writeFileSync(join(root, 'bench/results.json'), JSON.stringify(results, null, 2) + '\n');
console.log(`\nwrote bench/results.json`);
