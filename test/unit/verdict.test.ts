import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { CompressReport, TensorResult } from '../../src/core/compress/report';
import type { LayerSensitivity, SensitivityReport } from '../../src/core/compress/sensitivity';
import {
  formatVerdict,
  headlineFidelity,
  judgeVariant,
  proxySuspects,
  verdictHeadline,
  verifySizeSkipReason,
  type VerifyOutcome,
} from '../../src/core/compress/verdict';
import { measuredOn, type OutputReport, type VerifyReport } from '../../src/core/verify/report';
import { distFile, fixturePath } from './helpers';

function tensor(name: string, sqnrDb: number, bytes = 400, note?: string): TensorResult {
  return {
    name,
    layer: name,
    op: 'Conv',
    method: 'm',
    bytesBefore: bytes,
    bytesAfter: bytes / 4,
    mse: 0,
    sqnrDb,
    maxAbs: 0,
    cosine: 1,
    sparsity: 0,
    histograms: undefined as never,
    ...(note ? { note } : {}),
  };
}

function report(
  methods: CompressReport['methods'],
  options: CompressReport['options'],
  tensors: TensorResult[],
): CompressReport {
  return {
    methods,
    suffix: methods.join('.'),
    options,
    tensors,
    skipped: [],
    totals: {
      fileBytesBefore: 1000,
      fileBytesAfter: 400,
      ratio: 2.5,
      weightBytesBefore: 900,
      weightBytesAfter: 300,
      parameters: 225,
    },
    entropy: { bitsPerWeight: 0, huffmanBytes: 0, huffmanFileBytes: 0 },
    warnings: [],
  };
}

function output(name: string, cosine: number, top1?: number): OutputReport {
  return {
    name,
    dtype: 'float32',
    shape: [1, 10],
    cosine,
    cosineMin: cosine,
    relL2: 0,
    relL2Max: 0,
    maxAbs: 0,
    nonFinite: 0,
    ...(top1 === undefined ? {} : { top1, top1Rows: 8 }),
  };
}

function verified(outputs: OutputReport[]): VerifyOutcome {
  const inputs = [{ name: 'x', dtype: 'float32', shape: [1, 3, 48, 192], source: 'random' }];
  const r: VerifyReport = {
    original: 'a.onnx',
    variant: 'b.onnx',
    samples: 8,
    seed: 0,
    inputs,
    outputs,
    timing: { original: { loadMs: 0, runMs: 0 }, variant: { loadMs: 0, runMs: 0 } },
    elapsedMs: 0,
    runtime: 'rt',
    warnings: [],
    measuredOn: measuredOn(8, 0, inputs),
  };
  return { state: 'done', report: r };
}

describe('verdict', () => {
  it('leads with the worst output and the worst top-1 agreement, and says what it was measured on', () => {
    const v = verified([
      output('boxes', 0.999),
      output('scores', 0.95, 0.875),
      output('labels', 0.98, 0.5),
    ]);
    const f = headlineFidelity(v.state === 'done' ? v.report : (undefined as never))!;
    assert.deepEqual(f, {
      cosine: 0.95,
      output: 'scores',
      outputs: 3,
      top1: { agreement: 0.5, rows: 8, output: 'labels' },
      measuredOn: '8 random samples (seed 0): x float32[1,3,48,192]',
    });
  });

  it('is ok at the threshold and poor just below it', () => {
    const r = report(['int8'], { granularity: 'channel' }, [tensor('w', 40)]);
    assert.equal(judgeVariant(r, verified([output('y', 0.99)]), 0.99, 'm.onnx').state, 'ok');
    const poor = judgeVariant(r, verified([output('y', 0.9899)]), 0.99, 'm.onnx');
    assert.equal(poor.state, 'poor');
    assert.match(
      verdictHeadline(poor),
      /^the variant changes the model's outputs substantially: output cosine 0\.9899 \(y\), below 0\.99; measured on 8 random samples/,
    );
  });

  it('is poor when the variant has NaN/Inf the original has not, whatever the cosine of the rest', () => {
    const r = report(['int8'], { granularity: 'channel' }, [tensor('w', 40)]);
    // The cosine leaves those positions out: an all-NaN output would otherwise read as cosine 1.
    const nan = { ...output('logits', 1), nonFinite: 10 };
    const v = judgeVariant(r, verified([output('aux', 0.999), nan]), 0.99, 'm.onnx');
    assert.equal(v.state, 'poor');
    assert.match(
      verdictHeadline(v),
      /^the variant changes the model's outputs substantially: worst of 2 outputs: cosine 0\.999 \(aux\), 10 output values NaN or Inf in one model only \(logits\); measured on /,
    );
    assert.doesNotMatch(verdictHeadline(v), /below 0\.99/);
  });

  it('without a scan, ranks suspects by lowest SQNR, says it is a proxy, leaves exact tensors out and converts SQNR to relative error', () => {
    const r = report(['prune'], { sparsity: 0.5, scope: 'layer' }, [
      tensor('a', 30),
      tensor('exact', Infinity),
      tensor('b', 6.0206),
      tensor('c', 20),
      tensor('d', 20, 4000),
      tensor('e', 25),
    ]);
    const { ranking, suspects: s } = proxySuspects(r);
    assert.match(ranking, /a proxy/);
    assert.deepEqual(
      s.map((x) => x.name),
      ['b', 'd', 'c'],
    );
    // 20 dB is a tenth of the weight's norm; 6.02 dB about a half.
    assert.ok(Math.abs(s[1].relError - 0.1) < 1e-12);
    assert.ok(Math.abs(s[0].relError - 0.5) < 1e-4);
  });

  it('with a scan, names the tensors whose lone compression hurt the outputs most, and says it measured them', () => {
    const layer = (tensor: string, sqnrDb: number, cosine?: number): LayerSensitivity => ({
      tensor,
      layer: tensor,
      op: 'Conv',
      count: 100,
      bytesBefore: 400,
      bytesAfter: 400,
      weight: { sqnrDb, mse: 0, cosine: 1 },
      shape: undefined as never,
      ...(cosine === undefined ? {} : { output: { cosine, relL2: 0 } }),
    });
    // The SQNR proxy would blame 'fc' (5 dB); the runs say the depthwise convs matter.
    const scan = {
      samples: 8,
      layers: [
        layer('fc', 5, 0.998),
        layer('dw12', 10.7, 0.9615),
        layer('dw18', 12.4, 0.9636),
        layer('pw', 11, 0.999),
        layer('unrun', 3),
      ],
    } as SensitivityReport;
    // 'skipped' would hurt most, but the variant left it alone (say, too small to pay off): it cannot be to blame.
    scan.layers.push(layer('skipped', 20, 0.5));
    const r = report(['prune'], { sparsity: 0.5, scope: 'layer' }, [
      tensor('fc', 5),
      tensor('dw12', 10.7),
      tensor('dw18', 12.4),
      tensor('pw', 11),
    ]);
    const v = judgeVariant(r, verified([output('y', 0.96)]), 0.99, 'm.onnx', scan);
    assert.equal(v.state, 'poor');
    if (v.state !== 'poor') return;
    assert.deepEqual(
      v.suspects.map((x) => [x.name, x.aloneCosine]),
      [
        ['dw12', 0.9615],
        ['dw18', 0.9636],
        ['fc', 0.998],
      ],
    );
    assert.equal(
      v.ranking,
      "measured: the model's output cosine with only that tensor compressed, lowest first (8 samples, 5 of 6 tensors run)",
    );
    assert.match(
      formatVerdict(v).join('\n'),
      /\n {4}dw12 \(alone: output cosine 0\.962; weight SQNR 10\.7 dB\)\n/,
    );
    assert.doesNotMatch(v.suggestions.join('\n'), /model-lens sensitivity/);
    assert.equal(v.spread, undefined);
    // The same lone effects against a far larger drop: no tensor explains it.
    const spread = judgeVariant(r, verified([output('y', 0.75)]), 0.99, 'm.onnx', scan);
    assert.equal(
      spread.state === 'poor' && spread.spread,
      'no single tensor explains it: compressed alone, the worst keeps output cosine 0.962; the error builds up across layers',
    );
  });

  it('suggests what fits the method and options', () => {
    const poor = (
      methods: CompressReport['methods'],
      options: CompressReport['options'],
      tensors = [tensor('w', 3)],
    ) => {
      const v = judgeVariant(
        report(methods, options, tensors),
        verified([output('y', 0.5)]),
        0.99,
        'm.onnx',
      );
      assert.equal(v.state, 'poor');
      return v.state === 'poor' ? v.suggestions.join('\n') : '';
    };
    const layer = poor(['prune'], { sparsity: 0.5, scope: 'layer' });
    assert.match(layer, /--scope global/);
    assert.match(layer, /--sparsity 0\.3/);
    assert.doesNotMatch(poor(['prune'], { sparsity: 0.5, scope: 'global' }), /--scope global/);
    const int4 = poor(['int4'], { blockSize: 32 });
    assert.match(int4, /--method int8/);
    assert.match(int4, /--block-size 16/);
    assert.match(
      poor(['fp16'], {}, [
        tensor('bn.var', 1, 40, '24 values beyond the fp16 range clipped'),
        tensor('w', 60),
      ]),
      /leave bn\.var in float/,
    );
    // Every poor verdict points at sensitivity analysis and a fidelity goal.
    assert.match(
      poor(['cluster'], { clusters: 16 }),
      /--clusters 64[\s\S]*model-lens sensitivity m\.onnx --method cluster[\s\S]*--target-cosine 0\.99/,
    );
  });

  it('never makes an unverified variant look verified', () => {
    const r = report(['int8'], {}, [tensor('w', 40)]);
    const failed = judgeVariant(
      r,
      { state: 'failed', reason: "inference failed: Pad 'reflect' needs a larger input" },
      0.99,
      'm.onnx',
    );
    assert.deepEqual(failed, {
      state: 'failed',
      reason: "inference failed: Pad 'reflect' needs a larger input",
    });
    assert.deepEqual(formatVerdict(failed), [
      "fidelity not verified: inference failed: Pad 'reflect' needs a larger input",
    ]);
    assert.equal(judgeVariant(r, verified([]), 0.99, 'm.onnx').state, 'failed');
    assert.deepEqual(
      judgeVariant(
        r,
        { state: 'off', reason: 'verification is off (--no-verify)' },
        0.99,
        'm.onnx',
      ),
      { state: 'unchecked', reason: 'verification is off (--no-verify)' },
    );
    assert.equal(
      verdictHeadline(judgeVariant(r, { state: 'cancelled' }, 0.99, 'm.onnx')),
      'not verified: verification was cancelled',
    );
  });

  it('skips verification past the size limit, counting external weights', () => {
    const totals = {
      fileBytesBefore: 1000,
      fileBytesAfter: 0,
      ratio: 1,
      weightBytesBefore: 3 * 2 ** 20,
      weightBytesAfter: 0,
      parameters: 0,
    };
    assert.equal(verifySizeSkipReason(totals, 3 * 2 ** 20, 's'), undefined);
    assert.match(
      verifySizeSkipReason(
        { ...totals, weightBytesBefore: 3 * 2 ** 20 + 1 },
        3 * 2 ** 20,
        'setting X',
      ) ?? '',
      /over the verification limit of 3\.00 MiB \(setting X\)$/,
    );
  });
});

describe('model-lens compress: verification flags', () => {
  const dir = mkdtempSync(join(tmpdir(), 'model-lens-verdict-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const cli = (...args: string[]) => {
    const r = spawnSync(process.execPath, [distFile('cli.js'), 'compress', ...args], {
      encoding: 'utf8',
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  it('rejects a --min-cosine that is no cosine, or that cannot be checked', () => {
    const cnn = fixturePath('cnn.onnx');
    for (const bad of ['0', '1.5', 'abc', '-0.5']) {
      const r = cli(cnn, '--method', 'int8', '--min-cosine', bad, '-o', join(dir, 'x.onnx'));
      assert.equal(r.code, 2, `--min-cosine ${bad}: ${r.stderr}`);
      assert.match(r.stderr, /--min-cosine must be a number above 0 and at most 1/);
    }
    assert.match(
      cli(cnn, '--method', 'int8', '--min-cosine', '0.9', '--no-verify').stderr,
      /--min-cosine needs verification/,
    );
    assert.match(
      cli(cnn, '--method', 'int8', '--shape', 'input=1x3x8x8', '--no-verify').stderr,
      /do not go with --no-verify/,
    );
    assert.match(
      cli(join(dir, 'model.safetensors'), '--method', 'int8', '--min-cosine', '0.9').stderr,
      /--min-cosine needs an ONNX model/,
    );
    assert.equal(existsSync(join(dir, 'x.onnx')), false);
  });

  it('verifies by default, accepts --verify as a no-op and says when --no-verify skipped it', () => {
    const out = join(dir, 'cnn.int8.onnx');
    const on = JSON.parse(
      cli(fixturePath('cnn.onnx'), '--method', 'int8', '--verify', '--json', '-o', out, '--force')
        .stdout,
    );
    assert.equal(on.verdict.state, 'ok');
    assert.equal(on.verdict.minCosine, 0.99);
    assert.equal(
      on.verdict.fidelity.cosine,
      Math.min(...on.verify.outputs.map((o: OutputReport) => o.cosine)),
    );
    assert.equal(on.verdict.fidelity.measuredOn, on.verify.measuredOn);
    const text = cli(fixturePath('cnn.onnx'), '--method', 'int8', '-o', out, '--force');
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stdout,
      /\nfidelity output cosine 0\.99\d* \(\w+\).*; measured on 8 random samples \(seed 0\): /,
    );
    const off = cli(
      fixturePath('cnn.onnx'),
      '--method',
      'int8',
      '--no-verify',
      '--json',
      '-o',
      out,
      '--force',
    );
    const doc = JSON.parse(off.stdout);
    assert.deepEqual(doc.verdict, {
      state: 'unchecked',
      reason: 'verification is off (--no-verify)',
    });
    assert.equal(doc.verify, undefined);
    assert.equal(off.stderr, '');
    assert.ok(readFileSync(out).length > 0);
  });
});
