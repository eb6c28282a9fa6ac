/**
 * `npm run fuzz -- --format onnx|safetensors|gguf|pytorch --cases N --seed S [--time-limit-ms T]`
 * Cases run in a worker thread the main thread terminates when one exceeds its time limit, so a
 * hang is caught and reported like any other failure. Failing inputs go to fuzz-failures/<format>/.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { caseHash, caseInput, FORMATS, loadSeeds, runCase, type FuzzFormat } from './harness';

interface Job {
  format: FuzzFormat;
  seed: number;
  start: number;
  end: number;
  /** [0]: index of the case running now (-1 while loading seeds); [1], [2]: cases read whole, cases refused. */
  progress: SharedArrayBuffer;
}

type FromWorker = { type: 'failure'; index: number; message: string } | { type: 'done' };

function workerMain(job: Job): void {
  const progress = new Int32Array(job.progress);
  const seeds = loadSeeds(job.format);
  let ok = 0;
  let invalid = 0;
  for (let i = job.start; i < job.end; i++) {
    Atomics.store(progress, 0, i);
    const input = caseInput(job.format, seeds, job.seed, i);
    const outcome = runCase(input.files, input.seed.main);
    if (outcome.kind === 'ok') Atomics.store(progress, 1, ++ok);
    else if (outcome.kind === 'invalid') Atomics.store(progress, 2, ++invalid);
    else
      parentPort!.postMessage({
        type: 'failure',
        index: i,
        message: outcome.message,
      } satisfies FromWorker);
  }
  parentPort!.postMessage({ type: 'done' } satisfies FromWorker);
}

function parseArgs(argv: string[]): {
  format: FuzzFormat;
  cases: number;
  seed: number;
  timeLimitMs: number;
  out: string;
} {
  const get = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const format = get('--format') as FuzzFormat;
  if (!FORMATS.includes(format)) throw new Error(`--format must be one of ${FORMATS.join(', ')}`);
  const num = (flag: string, fallback: number): number => {
    const v = Number(get(flag) ?? fallback);
    if (!Number.isSafeInteger(v) || v < 0) throw new Error(`${flag} needs a non-negative integer`);
    return v;
  };
  return {
    format,
    cases: num('--cases', 10_000),
    seed: num('--seed', 1),
    timeLimitMs: num('--time-limit-ms', 5000),
    out: get('--out') ?? 'fuzz-failures',
  };
}

/** Runs cases [start, end) in a worker; resolves with the index after the last case it finished or the one that hung. */
function runWorker(
  job: Omit<Job, 'progress'>,
  timeLimitMs: number,
  onFailure: (index: number, message: string) => void,
): Promise<{ ok: number; invalid: number; next: number; hung: boolean }> {
  const progress = new SharedArrayBuffer(12);
  const view = new Int32Array(progress);
  Atomics.store(view, 0, -1);
  const worker = new Worker(__filename, { workerData: { ...job, progress } satisfies Job });
  return new Promise((resolve, reject) => {
    let last = -1;
    let since = performance.now();
    const timer = setInterval(
      () => {
        const now = Atomics.load(view, 0);
        if (now !== last) {
          last = now;
          since = performance.now();
        } else if (now >= 0 && performance.now() - since > timeLimitMs) {
          clearInterval(timer);
          void worker.terminate();
          onFailure(now, `hang: case ran longer than ${timeLimitMs} ms`);
          resolve({ ok: view[1], invalid: view[2], next: now + 1, hung: true });
        }
      },
      Math.min(50, timeLimitMs / 4),
    );
    worker.on('message', (m: FromWorker) => {
      if (m.type === 'failure') onFailure(m.index, m.message);
      else {
        clearInterval(timer);
        resolve({ ok: view[1], invalid: view[2], next: job.end, hung: false });
      }
    });
    worker.on('error', (err) => {
      clearInterval(timer);
      // A worker that dies (stack overflow in a native frame, out of memory) fails the case it was on.
      const at = Atomics.load(view, 0);
      if (at < 0) reject(err);
      else {
        onFailure(at, `worker died: ${err.message}`);
        resolve({ ok: view[1], invalid: view[2], next: at + 1, hung: true });
      }
    });
  });
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const seeds = loadSeeds(args.format);
  const dir = join(args.out, args.format);
  const started = performance.now();
  let failures = 0;
  const onFailure = (index: number, message: string): void => {
    failures++;
    const input = caseInput(args.format, seeds, args.seed, index);
    const hash = caseHash(input.files);
    const [target] = input.what.split(':');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${hash}.bin`), input.files.get(target)!);
    writeFileSync(
      join(dir, `${hash}.txt`),
      `seed ${args.seed} case ${index} of ${input.seed.main} (${input.what})\n${message}\n`,
    );
    console.log(
      `FAIL ${args.format} case ${index} ${input.what} → ${join(dir, hash)}.bin: ${message.split('\n')[0]}`,
    );
  };
  let ok = 0;
  let invalid = 0;
  let hangs = 0;
  // Restart after a hung case; a fresh worker per slice keeps memory from creeping over a long run.
  const slice = 50_000;
  for (let next = 0; next < args.cases;) {
    const r = await runWorker(
      {
        format: args.format,
        seed: args.seed,
        start: next,
        end: Math.min(args.cases, next + slice),
      },
      args.timeLimitMs,
      onFailure,
    );
    ok += r.ok;
    invalid += r.invalid;
    if (r.hung) hangs++;
    next = r.next;
    if (next < args.cases)
      console.log(
        `… ${next} cases, ${failures} failures, ${(next / ((performance.now() - started) / 1000)).toFixed(0)} cases/s`,
      );
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `fuzz ${args.format}: ${args.cases} cases, seed ${args.seed}, ${(args.cases / seconds).toFixed(0)} cases/s, ${seconds.toFixed(1)} s; ` +
      `read whole ${ok}, refused ${invalid}, failures ${failures} (${hangs} hangs or crashes)`,
  );
  return failures ? 1 : 0;
}

if (isMainThread) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      console.error(`fuzz: ${(err as Error).message}`);
      process.exit(2);
    },
  );
} else {
  workerMain(workerData as Job);
}
